//! The trading stream (`/stream`): auth, `listen`, and `trade_updates` from
//! seeded order life cycles.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use tickwire_alpaca::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce,
    TradeEvent, TradeUpdate,
};
use tickwire_core::{Symbol, Timestamp};

use super::accounts::AccountId;
use super::emit::Kind;
use super::endpoint::Kind as EndpointKind;
use super::generator::initial_price;
use super::rng::{self, RngExt};
use super::session::Phase;
use super::wire::{self, ClientRequest};
use super::{Exchange, SessionId};

/// How the simulated account trades.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TradingConfig {
    /// Mean time between new orders while someone listens (each gap is
    /// uniform in half to one and a half of it).
    pub order_interval: Duration,
    /// Longest pause between two steps of one order's life cycle.
    pub step_delay_max: Duration,
    /// Symbols orders are placed on (a `/` makes a crypto order).
    pub symbols: Vec<Symbol>,
}

impl Default for TradingConfig {
    fn default() -> Self {
        Self {
            order_interval: Duration::from_secs(2),
            step_delay_max: Duration::from_millis(500),
            symbols: ["AAPL", "MSFT", "TSLA", "BTC/USD"]
                .iter()
                .map(|s| Symbol::from_server(s))
                .collect(),
        }
    }
}

/// One step of an order's life.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    New,
    PartialFill(f64),
    Fill,
    PendingCancel,
    Canceled,
    Rejected,
    Expired,
    /// Replaced by a new order that then fills.
    Replaced,
}

#[derive(Debug, Clone)]
struct LiveOrder {
    order: Order,
    steps: VecDeque<Step>,
    next_at: Instant,
    filled: f64,
    notional: f64,
}

#[derive(Debug, Clone, Default)]
struct Book {
    next_order_at: Option<Instant>,
    orders: BTreeMap<u64, LiveOrder>,
    positions: BTreeMap<Symbol, f64>,
}

/// Order life cycles per account.
#[derive(Debug)]
pub(crate) struct Desk {
    config: TradingConfig,
    rng: ChaCha8Rng,
    books: BTreeMap<AccountId, Book>,
    order_seq: u64,
    /// The asset id of each symbol ordered so far (see [`asset_id`]).
    asset_ids: BTreeMap<Symbol, String>,
}

impl Desk {
    pub(crate) fn new(seed: u64, config: TradingConfig) -> Self {
        Self {
            config,
            rng: rng::stream(seed, rng::Stream::Orders),
            books: BTreeMap::new(),
            order_seq: 0,
            asset_ids: BTreeMap::new(),
        }
    }

    pub(crate) fn next_event(&self) -> Option<Instant> {
        self.books
            .values()
            .flat_map(|b| {
                b.next_order_at
                    .into_iter()
                    .chain(b.orders.values().map(|o| o.next_at))
            })
            .min()
    }

    /// The asset id of `symbol`, computed once per symbol.
    fn cached_asset_id(&mut self, symbol: &Symbol) -> String {
        self.asset_ids
            .entry(symbol.clone())
            .or_insert_with(|| asset_id(symbol))
            .clone()
    }

    fn gap(&mut self) -> Duration {
        self.config
            .order_interval
            .mul_f64(self.rng.between(0.5, 1.5))
    }

    fn step_delay(&mut self) -> Duration {
        step_delay(&self.config, &mut self.rng)
    }

    /// Advances every account's orders up to `now`. New orders are placed only
    /// for accounts in `listening`. Appends the events to `out`, in time order.
    fn advance(
        &mut self,
        now: Instant,
        listening: &[AccountId],
        wall: &dyn Fn(Instant) -> Timestamp,
        out: &mut Vec<(AccountId, TradeUpdate)>,
    ) {
        for account in listening {
            let book = self.books.entry(*account).or_default();
            if book.next_order_at.is_none() {
                let at = now + self.config.order_interval.mul_f64(0.25);
                self.books.entry(*account).or_default().next_order_at = Some(at);
            }
        }
        // Bounded: each pass handles one due event; time only moves forward.
        for _ in 0..10_000 {
            let Some((account, at, which)) = self.earliest(now) else {
                break;
            };
            match which {
                None => {
                    let gap = self.gap();
                    let active = listening.contains(&account);
                    if let Some(book) = self.books.get_mut(&account) {
                        book.next_order_at = active.then(|| at + gap);
                    }
                    if active {
                        self.place(account, at, wall(at), None, out);
                    }
                }
                Some(seq) => self.step(account, seq, at, wall(at), out),
            }
        }
        self.books
            .retain(|_, b| b.next_order_at.is_some() || !b.orders.is_empty());
    }

    /// The earliest due event: `None` for "place an order", `Some(seq)` for an order step.
    fn earliest(&self, now: Instant) -> Option<(AccountId, Instant, Option<u64>)> {
        let mut best: Option<(AccountId, Instant, Option<u64>)> = None;
        for (account, book) in &self.books {
            let candidates = book
                .next_order_at
                .map(|t| (t, None))
                .into_iter()
                .chain(book.orders.iter().map(|(seq, o)| (o.next_at, Some(*seq))));
            for (t, which) in candidates {
                if t <= now && best.is_none_or(|(_, bt, _)| t < bt) {
                    best = Some((*account, t, which));
                }
            }
        }
        best
    }

    fn place(
        &mut self,
        account: AccountId,
        at: Instant,
        wall: Timestamp,
        replaces: Option<&Order>,
        out: &mut Vec<(AccountId, TradeUpdate)>,
    ) {
        if self.config.symbols.is_empty() {
            return;
        }
        let (symbol, side, qty, order_type, limit_price) = match replaces {
            Some(old) => (
                old.symbol
                    .clone()
                    .unwrap_or_else(|| Symbol::from_server("AAPL")),
                old.side.clone().unwrap_or(OrderSide::Buy),
                old.qty.as_ref().and_then(Decimal::to_f64).unwrap_or(1.0),
                old.r#type.clone().unwrap_or(OrderType::Limit),
                old.limit_price
                    .as_ref()
                    .and_then(Decimal::to_f64)
                    .map(|p| p * 1.001),
            ),
            None => {
                let symbol = self.config.symbols
                    [self.rng.below(self.config.symbols.len() as u64) as usize]
                    .clone();
                let side = if self.rng.chance(0.5) {
                    OrderSide::Buy
                } else {
                    OrderSide::Sell
                };
                let qty = (1 + self.rng.below(100)) as f64;
                let limit = self.rng.chance(0.5);
                let price = self.price(&symbol);
                (
                    symbol,
                    side,
                    qty,
                    if limit {
                        OrderType::Limit
                    } else {
                        OrderType::Market
                    },
                    limit.then_some(price),
                )
            }
        };
        let crypto = symbol.as_str().contains('/');
        let scenario = if replaces.is_some() {
            0.0
        } else {
            self.rng.unit()
        };
        let mut steps: VecDeque<Step> = VecDeque::new();
        if scenario < 0.85 {
            steps.push_back(Step::New);
        }
        match scenario {
            s if s < 0.55 => {
                for _ in 0..self.rng.below(3) {
                    steps.push_back(Step::PartialFill(self.rng.between(0.1, 0.4)));
                }
                steps.push_back(Step::Fill);
            }
            s if s < 0.75 => {
                if self.rng.chance(0.5) {
                    steps.push_back(Step::PartialFill(self.rng.between(0.1, 0.4)));
                }
                if self.rng.chance(0.5) {
                    steps.push_back(Step::PendingCancel);
                }
                steps.push_back(Step::Canceled);
            }
            s if s < 0.8 => steps.push_back(Step::Expired),
            s if s < 0.85 => steps.push_back(Step::Replaced),
            _ => steps.push_back(Step::Rejected),
        }
        let order = Order {
            id: self.rng.uuid(),
            client_order_id: self.rng.uuid(),
            created_at: wall,
            updated_at: wall,
            submitted_at: wall,
            filled_at: None,
            expired_at: None,
            expires_at: None,
            canceled_at: None,
            failed_at: None,
            replaced_at: None,
            replaced_by: None,
            replaces: replaces.map(|o| o.id.clone()),
            asset_id: Some(self.cached_asset_id(&symbol)),
            symbol: Some(symbol.clone()),
            asset_class: Some(if crypto {
                AssetClass::Crypto
            } else {
                AssetClass::UsEquity
            }),
            notional: None,
            qty: Some(quantity(qty)),
            filled_qty: Some(Decimal::new("0")),
            filled_avg_price: None,
            order_class: OrderClass::Simple,
            order_type: Some(order_type.clone()),
            r#type: Some(order_type),
            side: Some(side),
            position_intent: None,
            time_in_force: if crypto {
                TimeInForce::Gtc
            } else {
                TimeInForce::Day
            },
            limit_price: limit_price.map(money),
            stop_price: None,
            status: OrderStatus::PendingNew,
            extended_hours: false,
            legs: None,
            trail_percent: None,
            trail_price: None,
            hwm: None,
            ratio_qty: None,
        };
        self.order_seq += 1;
        let delay = self.step_delay();
        let live = LiveOrder {
            order,
            steps,
            next_at: at + delay,
            filled: 0.0,
            notional: 0.0,
        };
        self.books
            .entry(account)
            .or_default()
            .orders
            .insert(self.order_seq, live);
        let _ = out; // placing emits nothing; `New` is the first step
    }

    fn price(&mut self, symbol: &Symbol) -> f64 {
        let kind = if symbol.as_str().contains('/') {
            EndpointKind::Crypto
        } else {
            EndpointKind::Stocks
        };
        initial_price(kind, symbol) * (1.0 + self.rng.between(-0.01, 0.01))
    }

    /// The end of a `replaced` step of order `seq` (`old`, as replaced):
    /// places the new order, which exists before the old one reports
    /// `replaced`, then hands the old order over if `finished`, else keeps
    /// it with its next step drawn. The order for the update, naming its
    /// replacement.
    #[allow(clippy::too_many_arguments)]
    fn replace(
        &mut self,
        account: AccountId,
        seq: u64,
        at: Instant,
        wall: Timestamp,
        old: &Order,
        finished: bool,
        out: &mut Vec<(AccountId, TradeUpdate)>,
    ) -> Option<Order> {
        self.place(account, at, wall, Some(old), out);
        let orders = &mut self.books.get_mut(&account)?.orders;
        // The newest order, unless placing made none (then the newest is
        // at most the old one itself, which does not replace itself).
        let replaced_by = orders
            .get(&self.order_seq)
            .filter(|_| self.order_seq != seq)
            .map(|new| new.order.id.clone());
        let mut order = if finished {
            orders.remove(&seq)?.order
        } else {
            let live = orders.get_mut(&seq)?;
            live.next_at = at + step_delay(&self.config, &mut self.rng);
            live.order.clone()
        };
        if replaced_by.is_some() {
            order.replaced_by = replaced_by;
        }
        Some(order)
    }

    fn step(
        &mut self,
        account: AccountId,
        seq: u64,
        at: Instant,
        wall: Timestamp,
        out: &mut Vec<(AccountId, TradeUpdate)>,
    ) {
        // The order is stepped where it sits in its book.
        let Some(Book {
            orders, positions, ..
        }) = self.books.get_mut(&account)
        else {
            return;
        };
        let Some(live) = orders.get_mut(&seq) else {
            return;
        };
        let Some(step) = live.steps.pop_front() else {
            orders.remove(&seq);
            return;
        };
        let symbol = live
            .order
            .symbol
            .clone()
            .unwrap_or_else(|| Symbol::from_server("AAPL"));
        let qty = live
            .order
            .qty
            .as_ref()
            .and_then(Decimal::to_f64)
            .unwrap_or(1.0);
        // The update's order is the order after the step.
        let mut update = Update {
            event: TradeEvent::New,
            execution_id: None,
            price: None,
            qty: None,
            position_qty: None,
        };
        let o = &mut live.order;
        o.updated_at = wall;
        let mut replacement = None;
        match step {
            Step::New => {
                o.status = OrderStatus::New;
            }
            Step::PartialFill(_) | Step::Fill => {
                let remaining = qty - live.filled;
                let fill_qty = match step {
                    Step::PartialFill(share) => {
                        (qty * share).floor().clamp(1.0, (remaining - 1.0).max(1.0))
                    }
                    _ => remaining,
                };
                let price = o
                    .limit_price
                    .as_ref()
                    .and_then(Decimal::to_f64)
                    .unwrap_or_else(|| {
                        let kind = if symbol.as_str().contains('/') {
                            EndpointKind::Crypto
                        } else {
                            EndpointKind::Stocks
                        };
                        initial_price(kind, &symbol) * (1.0 + self.rng.between(-0.01, 0.01))
                    });
                live.filled += fill_qty;
                live.notional += fill_qty * price;
                let sign = if o.side == Some(OrderSide::Sell) {
                    -1.0
                } else {
                    1.0
                };
                let position = positions.entry(symbol.clone()).or_insert(0.0);
                *position += sign * fill_qty;
                let done = live.filled >= qty || step == Step::Fill;
                o.status = if done {
                    OrderStatus::Filled
                } else {
                    OrderStatus::PartiallyFilled
                };
                o.filled_qty = Some(quantity(live.filled));
                o.filled_avg_price = Some(money(live.notional / live.filled));
                if done {
                    o.filled_at = Some(wall);
                }
                update.event = if done {
                    TradeEvent::Fill
                } else {
                    TradeEvent::PartialFill
                };
                update.execution_id = Some(self.rng.uuid());
                update.price = Some(money(price));
                update.qty = Some(quantity(fill_qty));
                update.position_qty = Some(quantity(*position));
                if done {
                    live.steps.clear();
                }
            }
            Step::PendingCancel => {
                o.status = OrderStatus::PendingCancel;
                update.event = TradeEvent::PendingCancel;
            }
            Step::Canceled | Step::Expired | Step::Rejected | Step::Replaced => {
                // The order's end: its status, the event saying so, and the
                // time field it stamps.
                let (status, event, stamped) = match step {
                    Step::Canceled => (
                        OrderStatus::Canceled,
                        TradeEvent::Canceled,
                        &mut o.canceled_at,
                    ),
                    Step::Expired => (OrderStatus::Expired, TradeEvent::Expired, &mut o.expired_at),
                    Step::Rejected => (
                        OrderStatus::Rejected,
                        TradeEvent::Rejected,
                        &mut o.failed_at,
                    ),
                    _ => (
                        OrderStatus::Replaced,
                        TradeEvent::Replaced,
                        &mut o.replaced_at,
                    ),
                };
                *stamped = Some(wall);
                o.status = status;
                update.event = event;
                if step == Step::Replaced {
                    replacement = Some(o.clone());
                }
            }
        }
        // The last step hands the order over; an order with steps left stays
        // in the book and the update gets a copy.
        let finished = live.steps.is_empty();
        let order = match replacement {
            None if finished => orders.remove(&seq).map(|l| l.order),
            None => {
                live.next_at = at + step_delay(&self.config, &mut self.rng);
                Some(live.order.clone())
            }
            Some(old) => self.replace(account, seq, at, wall, &old, finished, out),
        };
        let Some(order) = order else {
            return;
        };
        let update = TradeUpdate {
            event: update.event,
            execution_id: update.execution_id,
            order,
            timestamp: Some(wall),
            price: update.price,
            qty: update.qty,
            position_qty: update.position_qty,
        };
        out.push((account, update));
    }
}

/// A random delay before an order's next step.
fn step_delay(config: &TradingConfig, rng: &mut ChaCha8Rng) -> Duration {
    config.step_delay_max.mul_f64(rng.unit())
}

/// What a step reports besides the order: the fields of its [`TradeUpdate`].
struct Update {
    event: TradeEvent,
    execution_id: Option<String>,
    price: Option<Decimal>,
    qty: Option<Decimal>,
    position_qty: Option<Decimal>,
}

/// A stable asset id per symbol.
fn asset_id(symbol: &Symbol) -> String {
    let hash = symbol
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let h = format!(
        "{hash:016x}{:016x}",
        hash.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15
    );
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A quantity as the trading API writes it: as `f64`'s `Display` does.
///
/// Quantities are nearly always whole: those are written as the integer
/// they are, without the float formatter or a heap string. Below 2^53 a
/// whole `f64`'s shortest round-trip digits are its integer's; zero is left
/// to `Display` for its sign.
fn quantity(qty: f64) -> Decimal {
    const EXACT_MAX: f64 = 9_007_199_254_740_992.0; // 2^53
    if qty.fract() != 0.0 || qty == 0.0 || qty.abs() >= EXACT_MAX {
        return Decimal::new(qty.to_string());
    }
    Decimal::new(itoa::Buffer::new().format(qty as i64))
}

/// A price as the trading API writes it: as `format!("{price:.2}")` does,
/// which rounds the price's exact binary value to cents.
///
/// Below 2^33 cents, `price * 100.0` is within 10^-6 of that exact value:
/// when it is farther than 10^-5 from a half cent, its nearest whole number
/// is the rounding, written without the float formatter or a heap string.
/// The rest (near ties, huge, negative or not finite) is left to `format!`.
fn money(price: f64) -> Decimal {
    const CENTS_MAX: f64 = 8_589_934_592.0; // 2^33
    let cents = price * 100.0;
    let near_tie = (cents - cents.floor() - 0.5).abs() <= 1e-5;
    if !(price > 0.0 && cents < CENTS_MAX) || near_tie {
        return Decimal::new(format!("{price:.2}"));
    }
    let whole = cents.round() as u64;
    let mut digits = itoa::Buffer::new();
    let dollars = digits.format(whole / 100).as_bytes();
    let hundredths = (whole % 100) as u8;
    let mut text = [0u8; 24];
    text[..dollars.len()].copy_from_slice(dollars);
    text[dollars.len()..dollars.len() + 3].copy_from_slice(&[
        b'.',
        b'0' + hundredths / 10,
        b'0' + hundredths % 10,
    ]);
    Decimal::new(std::str::from_utf8(&text[..dollars.len() + 3]).expect("ASCII digits"))
}

impl Exchange {
    /// A decoded (or undecodable) request on a trading session.
    pub(crate) fn trading_request(
        &mut self,
        now: Instant,
        id: SessionId,
        request: Result<ClientRequest, wire::Undecodable>,
    ) {
        match request {
            Ok(ClientRequest::Auth { key_id, secret }) => {
                self.trading_auth(now, id, &key_id, &secret)
            }
            Ok(ClientRequest::Listen(streams)) => self.listen(now, id, streams),
            Ok(ClientRequest::Subscribe(_) | ClientRequest::Unsubscribe(_)) | Err(_) => {
                self.trading_fail(now, id, "invalid syntax");
            }
        }
    }

    /// Auth on the trading stream: `authorization` reply; one connection per account.
    pub(crate) fn trading_auth(&mut self, now: Instant, id: SessionId, key_id: &str, secret: &str) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let encoding = s.encoding;
        if let Phase::Authenticated { .. } = s.phase {
            // Re-authenticating is answered like the first time.
            self.emit(
                now,
                id,
                wire::trading_authorization(encoding, true),
                Kind::Control,
            );
            return;
        }
        let Ok(account) = self.accounts.authenticate(key_id, secret) else {
            tracing::debug!(%id, "trading auth failed");
            self.emit(
                now,
                id,
                wire::trading_authorization(encoding, false),
                Kind::Control,
            );
            self.close(now, id, 1008, "unauthorized");
            return;
        };
        let max = self.accounts.get(account).connections_max;
        if !self
            .slots
            .try_take(account, super::Endpoint::Trading, max, id)
        {
            self.trading_fail(now, id, "connection limit exceeded");
            return;
        }
        if let Some(s) = self.sessions.get_mut(&id) {
            // Trading sessions are not in the market demand index.
            s.phase = Phase::Authenticated { account };
        }
        self.emit(
            now,
            id,
            wire::trading_authorization(encoding, true),
            Kind::Control,
        );
    }

    fn listen(&mut self, now: Instant, id: SessionId, streams: Vec<String>) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if !s.is_authenticated() {
            self.trading_fail(now, id, "not authenticated");
            return;
        }
        let mut known: Vec<String> = streams
            .into_iter()
            .filter(|s| s == "trade_updates")
            .collect();
        known.dedup();
        s.streams = known;
        let frame = wire::trading_listening(s.encoding, &s.streams);
        self.emit(now, id, frame, Kind::Ack);
        self.trading_tick(now);
    }

    /// Error message, then close (as the trading stream does).
    fn trading_fail(&mut self, now: Instant, id: SessionId, message: &str) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        let frame = wire::trading_error(s.encoding, message);
        self.emit(now, id, frame, Kind::Control);
        self.close(now, id, 1008, message);
    }

    /// Advances order life cycles and sends the events to listening sessions.
    pub(crate) fn trading_tick(&mut self, now: Instant) {
        let mut listening = std::mem::take(&mut self.listening_accounts);
        listening.clear();
        listening.extend(
            self.sessions
                .values()
                .filter(|s| s.listens_to_trade_updates())
                .filter_map(|s| s.account()),
        );
        listening.sort_unstable();
        listening.dedup();
        let (started_at, wall_start) = (self.started_at, self.config.wall_clock_start);
        let wall = move |t: Instant| wall_at(started_at, wall_start, t);
        let mut updates = std::mem::take(&mut self.trade_updates);
        updates.clear();
        self.desk.advance(now, &listening, &wall, &mut updates);
        for (account, update) in &updates {
            self.order_history.record(*account, &update.order);
            self.journal_order(*account, update);
        }
        for (account, update) in updates.drain(..) {
            let targets: Vec<(SessionId, super::Encoding)> = self
                .sessions
                .iter()
                .filter(|(_, s)| s.listens_to_trade_updates() && s.account() == Some(account))
                .map(|(id, s)| (*id, s.encoding))
                .collect();
            for (id, encoding) in targets {
                self.emit(now, id, wire::trading_update(encoding, &update), Kind::Data);
            }
        }
        self.trade_updates = updates;
        self.listening_accounts = listening;
    }
}

/// Wall-clock time of `t`, given the instant and wall time of the start.
pub(crate) fn wall_at(started_at: Instant, wall_start: Timestamp, t: Instant) -> Timestamp {
    let elapsed = t.saturating_duration_since(started_at);
    Timestamp::from_unix_nanos((wall_start.unix_nanos() + elapsed.as_nanos() as i128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_written_as_display_writes_them() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            -12.25,
            0.1 + 0.2,
            1e15,
            -1e15,
            9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e20,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NAN,
        ];
        let whole = (-1_000..=1_000).map(f64::from);
        for qty in edges.into_iter().chain(whole) {
            assert_eq!(quantity(qty), Decimal::new(qty.to_string()), "{qty}");
        }
    }

    #[test]
    fn prices_are_written_as_the_formatter_writes_them() {
        let formatted = |price: f64| Decimal::new(format!("{price:.2}"));
        let neighbours = |price: f64| {
            let bits = price.to_bits();
            [
                f64::from_bits(bits.saturating_sub(1)),
                price,
                f64::from_bits(bits + 1),
            ]
        };
        let edges = [
            0.0,
            -0.0,
            -1.25,
            1e-300,
            f64::MIN_POSITIVE,
            85_899_345.915,
            85_899_345.92,
            1e20,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        // Half cents (ties and their neighbours either side), then prices
        // as the desk makes them: cents of random mids, and averages.
        let halves = (1..200_000).map(|k| f64::from(k) / 200.0 + 1.0);
        let mut rng = rng::stream(11, rng::Stream::Orders);
        let drawn: Vec<f64> = (0..200_000)
            .map(|i| {
                let mid = rng.between(0.01, 50_000.0);
                match i % 3 {
                    0 => mid,
                    1 => (mid * 100.0).round() / 100.0 * 1.001,
                    _ => mid * rng.below(300) as f64 / (1 + rng.below(300)) as f64,
                }
            })
            .collect();
        for price in edges
            .into_iter()
            .chain(halves.chain(drawn).flat_map(neighbours))
        {
            assert_eq!(money(price), formatted(price), "{price:e}");
        }
    }
}
