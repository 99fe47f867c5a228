//! A seeded market: prices that wander, and the messages they produce.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use tickwire_alpaca::{
    CancelError, Conditions, Correction, Imbalance, Luld, MarketData, News, Orderbook,
    OrderbookLevel, Quote, Trade, TradingStatus,
};
use tickwire_core::{Symbol, Timestamp};

use super::Endpoint;
use super::endpoint::Kind;
use super::plan::{ChannelBits, InstrumentId, Plan, PlanSymbol};
use super::rng::{self, RngExt};
use super::tape::{BarAcc, Tape, TapeKey, bucket_start, cents};

/// The symbol of the test stream (`/v2/test`).
pub const TEST_SYMBOL: &str = "FAKEPACA";

/// How busy the simulated market is. Chances are per subscribed symbol per tick.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MarketConfig {
    /// Time between market ticks; each tick's messages go out batched, one
    /// frame per session (split at [`batch_messages_max`](Self::batch_messages_max)).
    pub tick: Duration,
    /// Chance of a quote; above 1, the number of quotes expected per tick
    /// (2.5: two, and a third half the time).
    pub quote_chance: f64,
    /// Chance of a trade; above 1, the number expected per tick, as for quotes.
    pub trade_chance: f64,
    /// Chance that a trade is later corrected (`corrections`).
    pub correction_chance: f64,
    /// Chance that a trade is cancelled (`cancelErrors`).
    pub cancel_error_chance: f64,
    /// Chance of a crypto order book update.
    pub orderbook_chance: f64,
    /// Chance of a trading status message (halt or resume).
    pub status_chance: f64,
    /// Chance of new LULD bands.
    pub luld_chance: f64,
    /// Chance of an order imbalance.
    pub imbalance_chance: f64,
    /// Chance per tick of a news article on the news stream.
    pub news_chance: f64,
    /// Time between minute bars (and daily bar updates).
    pub bar_interval: Duration,
    /// Chance that a bar is followed by an updated bar.
    pub updated_bar_chance: f64,
    /// Most messages in one frame.
    pub batch_messages_max: usize,
    /// Stocks served for `*` subscriptions (and named in news).
    pub stocks: Vec<Symbol>,
    /// Crypto pairs served for `*`.
    pub crypto: Vec<Symbol>,
    /// Option contracts served for `*` (trades only: `*` quotes are refused).
    pub options: Vec<Symbol>,
}

impl Default for MarketConfig {
    fn default() -> Self {
        let symbols = |list: &[&str]| list.iter().map(|s| Symbol::from_server(s)).collect();
        Self {
            tick: Duration::from_millis(100),
            quote_chance: 0.8,
            trade_chance: 0.4,
            correction_chance: 0.005,
            cancel_error_chance: 0.005,
            orderbook_chance: 0.5,
            status_chance: 0.0005,
            luld_chance: 0.002,
            imbalance_chance: 0.002,
            news_chance: 0.02,
            bar_interval: Duration::from_secs(60),
            updated_bar_chance: 0.2,
            batch_messages_max: 200,
            stocks: symbols(&["AAPL", "AMD", "AMZN", "MSFT", "NVDA", "SPY", "TSLA"]),
            crypto: symbols(&["BTC/USD", "ETH/USD", "SOL/USD"]),
            options: symbols(&["AAPL250620C00200000", "SPY250620P00500000"]),
        }
    }
}

/// A generated message and what it is routed by.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// Index of the [`Plan`] (endpoint) it was generated for.
    pub(crate) plan: usize,
    pub(crate) route: Route,
    pub(crate) message: MarketData,
}

/// Who may receive an [`Event`].
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// Subscribers of [`Plan::symbols`]`[symbol]` holding channel bit `bit`
    /// (`corrections` and `cancelErrors` travel on the `trades` bit).
    Instrument { symbol: usize, bit: u32 },
    /// Subscribers of `news` for one of these [`Plan::symbols`] (or
    /// `*`); nobody when the article's symbols were not wanted.
    News(Vec<usize>),
}

#[derive(Debug, Clone)]
struct Instrument {
    /// Where its trades are on the tape.
    key: TapeKey,
    /// Exchange and tape codes of its messages.
    venue: Venue,
    /// Today's bars so far, for the daily bar.
    day: BarAcc,
    halted: bool,
    book_sent: bool,
}

/// The tick being made: its index on the grid, its wall-clock time on the
/// endpoint, and whether a bar interval ended with the previous tick.
#[derive(Debug, Clone, Copy)]
struct Tick {
    n: u64,
    wall: Timestamp,
    bars_due: bool,
}

/// Where an instrument sits: its endpoint's kind, and its indices in the tick's plans.
#[derive(Debug, Clone, Copy)]
struct At {
    plan: usize,
    kind: Kind,
    bits: ChannelBits,
    symbol: usize,
    instrument: InstrumentId,
}

/// The market: the tape of trades, what else each tick says about the
/// instruments subscribers want, and the clock of ticks.
///
/// Ticks sit on a grid from `origin` (the exchange's start): tick `n` is due
/// at `origin + n * tick`. Trades and minute bars come from the [`Tape`];
/// quotes, books, statuses and the rest from one shared generator, so they
/// depend on who subscribes.
#[derive(Debug)]
pub(crate) struct Generator {
    config: MarketConfig,
    tape: Tape,
    origin: Instant,
    rng: ChaCha8Rng,
    next_tick: Option<Instant>,
    /// The tick's trades of one instrument (a buffer kept for its capacity).
    trades: Vec<Trade>,
    /// Every instrument registered so far, never removed.
    instruments: Vec<Instrument>,
    /// Where each (endpoint, symbol) sits in `instruments`, sorted by
    /// (endpoint, symbol): looked up by binary search.
    instrument_ids: Vec<((Endpoint, Symbol), InstrumentId)>,
    /// The universe of the test stream.
    test_universe: [Symbol; 1],
    news_id: u64,
    sequence: u32,
}

impl Generator {
    /// A market whose tick 0 is at `origin`, `wall_start` on the wall clock.
    pub(crate) fn new(
        seed: u64,
        config: MarketConfig,
        origin: Instant,
        wall_start: Timestamp,
    ) -> Self {
        Self {
            tape: Tape::new(seed, config.tick, wall_start, config.trade_chance),
            config,
            origin,
            rng: rng::stream(seed, rng::Stream::Market),
            next_tick: None,
            trades: Vec::new(),
            instruments: Vec::new(),
            instrument_ids: Vec::new(),
            test_universe: [Symbol::from_server(TEST_SYMBOL)],
            news_id: 0,
            sequence: 0,
        }
    }

    pub(crate) fn batch_messages_max(&self) -> usize {
        self.config.batch_messages_max.max(1)
    }

    /// The tape every trade is on.
    pub(crate) fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The market's settings.
    pub(crate) fn config(&self) -> &MarketConfig {
        &self.config
    }

    /// Starts ticking (a subscription was made) at the next tick of the
    /// grid; harmless when already ticking.
    pub(crate) fn wake(&mut self, now: Instant) {
        if self.next_tick.is_none() {
            self.next_tick = Some(self.grid_after(now).1);
        }
    }

    /// The index of the last tick of the grid at or before `now`: the
    /// tape has happened up to it.
    pub(crate) fn last_tick(&self, now: Instant) -> u64 {
        self.grid_after(now).0
    }

    /// The index of the last tick of the grid at or before `now`, and the
    /// instant of the next one.
    fn grid_after(&self, now: Instant) -> (u64, Instant) {
        let tick = self.config.tick.max(Duration::from_nanos(1));
        let since = now.saturating_duration_since(self.origin);
        let n = (since.as_nanos() / tick.as_nanos()) as u64;
        let next = self.origin + tick * u32::try_from(n + 1).unwrap_or(u32::MAX);
        (n, next)
    }

    /// The instrument of `symbol` on `endpoint`, registered at its starting
    /// price when new. Registering draws nothing: an instrument is the same
    /// whether it is registered before its first tick or at it.
    pub(crate) fn instrument(&mut self, endpoint: Endpoint, symbol: &Symbol) -> InstrumentId {
        let slot = self
            .instrument_ids
            .binary_search_by(|((e, s), _)| e.cmp(&endpoint).then_with(|| s.cmp(symbol)));
        let slot = match slot {
            Ok(found) => return self.instrument_ids[found].1,
            Err(slot) => slot,
        };
        let id = self.instruments.len();
        self.instruments.push(Instrument {
            key: TapeKey::new(endpoint, symbol),
            venue: venue(endpoint, symbol),
            day: BarAcc::default(),
            halted: false,
            book_sent: false,
        });
        self.instrument_ids
            .insert(slot, ((endpoint, symbol.clone()), id));
        id
    }

    pub(crate) fn next_tick(&self) -> Option<Instant> {
        self.next_tick
    }

    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.next_tick.is_some_and(|t| t <= now)
    }

    /// The last tick of the grid at or before `now`: the messages the plans
    /// ask for, appended to `out`. Stops ticking when nobody subscribes.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        plans: &[Plan],
        any_demand: bool,
        out: &mut Vec<Event>,
    ) {
        if !any_demand {
            self.next_tick = None;
            return;
        }
        // The next tick is the next one of the grid, so a late timer (it
        // rounds up to the millisecond) does not slow the market; past a
        // whole tick late, the market skips rather than bursts (the skipped
        // ticks' trades are on the tape, streamed to nobody).
        let (n, next) = self.grid_after(now);
        self.next_tick = Some(next);
        self.sequence = 0;
        for (index, plan) in plans.iter().enumerate() {
            let endpoint = plan.endpoint();
            let wall = self.tape.wall(endpoint, n);
            let previous = self.tape.wall(endpoint, n.saturating_sub(1));
            let interval = self.config.bar_interval;
            let bars_due =
                n > 1 && bucket_start(wall, interval) != bucket_start(previous, interval);
            let kind = endpoint.kind();
            if kind == Kind::News {
                self.news(index, plan.symbols(), wall, out);
                continue;
            }
            let mut at = At {
                plan: index,
                kind,
                bits: plan.channel_bits(),
                symbol: 0,
                instrument: 0,
            };
            for (symbol_index, wanted) in plan.symbols().iter().enumerate() {
                at.symbol = symbol_index;
                at.instrument = wanted
                    .instrument()
                    .expect("every symbol of an instrument endpoint's plan has an instrument");
                let tick = Tick { n, wall, bars_due };
                self.instrument_tick(&at, wanted.symbol(), wanted.channels(), &tick, out);
            }
        }
    }

    /// The symbols served for `*` on an endpoint.
    pub(crate) fn universe(&self, endpoint: Endpoint) -> &[Symbol] {
        match endpoint.kind() {
            _ if endpoint == Endpoint::Test => &self.test_universe,
            Kind::Stocks | Kind::News => &self.config.stocks,
            Kind::Crypto => &self.config.crypto,
            Kind::Options => &self.config.options,
            Kind::Trading => &[],
        }
    }

    /// A timestamp a few nanoseconds apart from the previous message of the tick.
    fn stamp(&mut self, wall: Timestamp) -> Timestamp {
        self.sequence += 1;
        Timestamp::from_unix_nanos((wall.unix_nanos() + i128::from(self.sequence) * 1_000) as i64)
    }

    #[allow(clippy::too_many_lines)]
    fn instrument_tick(
        &mut self,
        at: &At,
        symbol: &Symbol,
        wanted: u32,
        tick: &Tick,
        out: &mut Vec<Event>,
    ) {
        let (kind, bits) = (at.kind, &at.bits);
        let Tick { n, wall, bars_due } = *tick;
        let wants = |bit: u32| wanted & bit != 0;
        let inst = &self.instruments[at.instrument];
        let mid = self.tape.mid(&inst.key, n);
        let Venue { exchange, tape } = inst.venue;
        // `corrections` and `cancelErrors` travel on the `trades` bit.
        let mut emit = |bit: u32, message: MarketData| {
            out.push(Event {
                plan: at.plan,
                route: Route::Instrument {
                    symbol: at.symbol,
                    bit,
                },
                message,
            });
        };
        let stock = kind == Kind::Stocks;

        let quotes = if wants(bits.quotes) {
            self.rng.times(self.config.quote_chance)
        } else {
            0
        };
        for _ in 0..quotes {
            let half_spread = (mid * 0.0002).max(0.005);
            let t = self.stamp(wall);
            let quote = Quote {
                symbol: symbol.clone(),
                bid_exchange: exchange.map(Into::into),
                bid_price: cents(mid - half_spread),
                bid_size: (1 + self.rng.below(10)) as f64,
                ask_exchange: exchange.map(Into::into),
                ask_price: cents(mid + half_spread),
                ask_size: (1 + self.rng.below(10)) as f64,
                conditions: if stock {
                    ["R"].into_iter().collect()
                } else {
                    Conditions::new()
                },
                timestamp: t,
                tape: tape.map(Into::into),
            };
            emit(bits.quotes, MarketData::Quote(quote));
        }

        let wants_trades = wants(bits.trades);
        let wants_bars = wants(bits.bars | bits.daily_bars | bits.updated_bars);
        let mut trades = std::mem::take(&mut self.trades);
        trades.clear();
        if wants_trades {
            self.tape
                .trades(&self.instruments[at.instrument].key, n, &mut trades);
        }
        for trade in trades.drain(..) {
            let (id, price, size) = (trade.id.unwrap_or_default(), trade.price, trade.size);
            emit(bits.trades, MarketData::Trade(trade));
            if stock && self.rng.chance(self.config.correction_chance) {
                let correction = Correction {
                    symbol: symbol.clone(),
                    exchange: exchange.map(Into::into),
                    original_id: id,
                    original_price: price,
                    original_size: size,
                    original_conditions: ["@"].into_iter().collect(),
                    corrected_id: Tape::corrected_id(id),
                    corrected_price: cents(price * 1.001),
                    corrected_size: size,
                    corrected_conditions: ["@"].into_iter().collect(),
                    timestamp: self.stamp(wall),
                    tape: tape.map(Into::into),
                };
                emit(bits.trades, MarketData::Correction(correction));
            }
            if stock && self.rng.chance(self.config.cancel_error_chance) {
                let cancel = CancelError {
                    symbol: symbol.clone(),
                    id,
                    exchange: exchange.map(Into::into),
                    price,
                    size,
                    action: if self.rng.chance(0.5) { "C" } else { "E" }.into(),
                    timestamp: self.stamp(wall),
                    tape: tape.map(Into::into),
                };
                emit(bits.trades, MarketData::CancelError(cancel));
            }
        }
        self.trades = trades;

        if wants(bits.orderbooks) && self.rng.chance(self.config.orderbook_chance) {
            let reset = !self.instruments[at.instrument].book_sent;
            let levels = if reset { 5 } else { 1 + self.rng.below(2) };
            let mut bids = Vec::new();
            let mut asks = Vec::new();
            for level in 0..levels {
                let offset = mid * 0.0001 * (level + 1) as f64;
                bids.push(OrderbookLevel {
                    price: cents(mid - offset),
                    size: (self.rng.between(0.0, 3.0) * 1e4).round() / 1e4,
                });
                asks.push(OrderbookLevel {
                    price: cents(mid + offset),
                    size: (self.rng.between(0.0, 3.0) * 1e4).round() / 1e4,
                });
            }
            self.instruments[at.instrument].book_sent = true;
            let book = Orderbook {
                symbol: symbol.clone(),
                bids,
                asks,
                reset,
                timestamp: self.stamp(wall),
            };
            emit(bits.orderbooks, MarketData::Orderbook(book));
        }

        if wants(bits.statuses) && self.rng.chance(self.config.status_chance) {
            let inst = &mut self.instruments[at.instrument];
            inst.halted = !inst.halted;
            let (sc, sm, rc, rm) = if inst.halted {
                ("H", "Trading Halt", "T1", "Halt News Pending")
            } else {
                ("T", "Trading Resumption", "", "")
            };
            let status = TradingStatus {
                symbol: symbol.clone(),
                status_code: sc.into(),
                status_message: sm.into(),
                reason_code: rc.into(),
                reason_message: rm.into(),
                timestamp: self.stamp(wall),
                tape: tape.map(Into::into),
            };
            emit(bits.statuses, MarketData::Status(status));
        }

        if wants(bits.lulds) && self.rng.chance(self.config.luld_chance) {
            let luld = Luld {
                symbol: symbol.clone(),
                limit_up_price: cents(mid * 1.05),
                limit_down_price: cents(mid * 0.95),
                indicator: "B".into(),
                timestamp: self.stamp(wall),
                tape: tape.map(Into::into),
            };
            emit(bits.lulds, MarketData::Luld(luld));
        }

        if wants(bits.imbalances) && self.rng.chance(self.config.imbalance_chance) {
            let imbalance = Imbalance {
                symbol: symbol.clone(),
                price: cents(mid),
                timestamp: self.stamp(wall),
                tape: tape.map(Into::into),
            };
            emit(bits.imbalances, MarketData::Imbalance(imbalance));
        }

        if bars_due && wants_bars {
            let interval = self.config.bar_interval;
            let previous = wall.saturating_add_nanos(-self.tape.tick_nanos());
            let start = bucket_start(previous, interval);
            let inst = &mut self.instruments[at.instrument];
            let bar = self.tape.bar(&inst.key, start, interval, n, &mut 0);
            if let Some(bar) = &bar {
                inst.day.merge(bar);
            }
            let day_start = bucket_start(wall, Duration::from_secs(86_400));
            let day = inst.day.bar(symbol, day_start);
            if let (true, Some(bar)) = (wants(bits.bars), &bar) {
                emit(bits.bars, MarketData::Bar(bar.clone()));
            }
            if let (true, Some(day)) = (wants(bits.daily_bars), day) {
                emit(bits.daily_bars, MarketData::DailyBar(day));
            }
            if let (true, Some(mut updated)) = (wants(bits.updated_bars), bar)
                && self.rng.chance(self.config.updated_bar_chance)
            {
                updated.volume += 1.0;
                updated.trade_count = updated.trade_count.map(|n| n + 1);
                emit(bits.updated_bars, MarketData::UpdatedBar(updated));
            }
        }
    }

    /// Maybe a news article on symbols of `wanted` (any stock if none).
    fn news(&mut self, plan: usize, wanted: &[PlanSymbol], wall: Timestamp, out: &mut Vec<Event>) {
        if !self.rng.chance(self.config.news_chance) {
            return;
        }
        let stocks = &self.config.stocks;
        let pick = |i: u64| {
            let i = i as usize;
            if wanted.is_empty() {
                stocks[i].clone()
            } else {
                wanted[i].symbol().clone()
            }
        };
        let pool_len = if wanted.is_empty() {
            stocks.len()
        } else {
            wanted.len()
        };
        if pool_len == 0 {
            return;
        }
        let first_index = self.rng.below(pool_len as u64);
        let second_index = self.rng.below(pool_len as u64);
        let route = if wanted.is_empty() {
            Vec::new()
        } else {
            vec![first_index as usize, second_index as usize]
        };
        let first = pick(first_index);
        let second = pick(second_index);
        let symbols: Vec<Symbol> = if first == second {
            vec![first]
        } else {
            vec![first, second]
        };
        self.news_id += 1;
        let t = self.stamp(wall);
        let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
        let article = News {
            id: 24_000_000 + self.news_id,
            headline: format!(
                "{} shares move on simulated news #{}",
                names.join(", "),
                self.news_id
            ),
            summary: "Generated by the tickwire exchange model.".into(),
            author: "tickwire".into(),
            created_at: t,
            updated_at: t,
            content: String::new(),
            url: Some(format!("https://example.invalid/news/{}", self.news_id)),
            symbols: symbols.clone(),
            source: "tickwire".into(),
        };
        out.push(Event {
            plan,
            route: Route::News(route),
            message: MarketData::News(article),
        });
    }
}

/// A stable hash of a symbol's name (FNV-1a).
pub(crate) fn symbol_hash(symbol: &Symbol) -> u64 {
    symbol
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// A stable starting price from the symbol's name.
pub(crate) fn initial_price(kind: Kind, symbol: &Symbol) -> f64 {
    let hash = symbol_hash(symbol);
    match (kind, symbol.as_bytes()) {
        (Kind::Crypto, s) if s.starts_with(b"BTC") => 42_000.0,
        (Kind::Crypto, s) if s.starts_with(b"ETH") => 2_300.0,
        (Kind::Crypto, _) => 10.0 + (hash % 200) as f64,
        (Kind::Options, _) => 1.0 + (hash % 2_000) as f64 / 100.0,
        _ => 20.0 + (hash % 48_000) as f64 / 100.0,
    }
}

/// Exchange and tape codes of an instrument's messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Venue {
    pub(crate) exchange: Option<&'static str>,
    pub(crate) tape: Option<&'static str>,
}

/// The venue of a symbol's messages on an endpoint.
pub(crate) fn venue(endpoint: Endpoint, symbol: &Symbol) -> Venue {
    let (exchange, tape) = match endpoint.kind() {
        Kind::Crypto | Kind::News | Kind::Trading => (None, None),
        Kind::Options => (Some("C"), None),
        Kind::Stocks => {
            let exchange = if endpoint == Endpoint::Iex {
                "V"
            } else {
                ["Q", "N", "P", "V", "Z"][symbol.as_bytes().len() % 5]
            };
            let tape = ["A", "B", "C"][symbol
                .as_bytes()
                .iter()
                .map(|b| usize::from(*b))
                .sum::<usize>()
                % 3];
            (Some(exchange), Some(tape))
        }
    };
    Venue { exchange, tape }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use serde_json::Value;
    use tickwire_core::Frame;

    use super::*;
    use crate::model::{Account, Exchange, ExchangeConfig, Output};

    /// Quotes per symbol over `ticks` ticks at `quote_chance`.
    fn quotes_per_symbol(quote_chance: f64, ticks: u32) -> BTreeMap<String, u32> {
        let market = MarketConfig {
            quote_chance,
            trade_chance: 0.0,
            batch_messages_max: 10_000,
            ..MarketConfig::default()
        };
        let tick = market.tick;
        let config = ExchangeConfig::new(3)
            .with_account(Account::new("K", "S"))
            .with_market(market);
        let start = Instant::now();
        let mut ex = Exchange::new(config, start);
        let id = ex.open(start, "/v2/iex", &[]).expect("open");
        for request in [
            r#"{"action":"auth","key":"K","secret":"S"}"#,
            r#"{"action":"subscribe","quotes":["AAPL","MSFT"]}"#,
        ] {
            ex.handle_frame(start, id, Frame::text(request));
        }
        while ex.poll_output().is_some() {}
        let mut counts = BTreeMap::new();
        for n in 1..=ticks {
            ex.handle_timeout(start + tick * n);
            while let Some((_, output)) = ex.poll_output() {
                let Output::Frame(frame) = output else {
                    continue;
                };
                let messages: Vec<Value> = serde_json::from_slice(frame.payload()).expect("JSON");
                for m in messages.iter().filter(|m| m["T"] == "q") {
                    *counts
                        .entry(m["S"].as_str().expect("S").to_owned())
                        .or_default() += 1;
                }
            }
        }
        counts
    }

    #[test]
    fn a_late_tick_does_not_delay_the_next_and_a_lost_one_is_skipped() {
        let config = MarketConfig::default();
        let tick = config.tick;
        let start = Instant::now();
        let wall = Timestamp::from_unix_nanos(0);
        let mut generator = Generator::new(1, config, start, wall);
        generator.wake(start);
        let late = Duration::from_millis(1);
        generator.tick(start + tick + late, &[], true, &mut Vec::new());
        assert_eq!(generator.next_tick(), Some(start + tick * 2));
        let much_later = start + tick * 5;
        generator.tick(much_later, &[], true, &mut Vec::new());
        assert_eq!(generator.next_tick(), Some(much_later + tick));
    }

    #[test]
    fn a_quote_chance_above_one_sends_several_quotes_a_tick() {
        let three = quotes_per_symbol(3.0, 10);
        assert_eq!(
            three,
            BTreeMap::from([("AAPL".into(), 30), ("MSFT".into(), 30)])
        );
        let two_and_a_half = quotes_per_symbol(2.5, 400);
        for (symbol, n) in two_and_a_half {
            assert!(
                (900..=1100).contains(&n),
                "{symbol}: {n} quotes in 400 ticks"
            );
        }
    }
}
