//! The exchange model: the server side of Alpaca's streams, without I/O.

mod accounts;
mod emit;
mod endpoint;
mod faults;
mod generator;
mod journal;
mod market_data;
mod order_history;
mod plan;
mod rest_market;
mod rest_orders;
mod rng;
mod routing;
mod session;
mod stats;
mod tape;
mod trading;
mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use rng::RngExt;
pub use tickwire_alpaca::Encoding;
use tickwire_alpaca::SubscriptionSet;
use tickwire_alpaca::{ClientMessage, TradeUpdate, decode_client_message};
use tickwire_core::protocol::DecodeError;
use tickwire_core::{Frame, Timestamp};

pub use accounts::{Account, FREE_PLAN_SYMBOL_LIMIT};
pub use endpoint::Endpoint;
pub use faults::{Fault, FaultPlan, Faults};
pub use generator::{MarketConfig, TEST_SYMBOL};
pub use journal::OrderChange;
pub use rest_market::{MARKET_PAGE_MAX, TAPE_TICKS_PER_PAGE_MAX};
pub use rest_orders::{ORDERS_PAGE_MAX, RestResponse};
pub use stats::ExchangeStats;
pub use trading::TradingConfig;

use accounts::{AccountId, Accounts, Slots};
use generator::{Event, Generator};
use journal::Journal;
use order_history::OrderHistory;
use routing::Routing;
use session::{Phase, Session};
use trading::Desk;

/// Identifies one connection to the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
    }
}

/// Something the exchange does to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this frame.
    Frame(Frame),
    /// Close the connection with a close frame; the session is over.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Drop the connection without a close frame; the session is over.
    Reset,
}

/// An upgrade request the exchange refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upgrade refused with HTTP {status}")]
pub struct Refusal {
    /// The HTTP status: 404 for an unknown path, 429 or 401 from faults.
    pub status: u16,
}

/// Configuration of an [`Exchange`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExchangeConfig {
    /// Seed of every random draw (market, orders, faults, ids).
    pub seed: u64,
    /// The accounts that can authenticate.
    pub accounts: Vec<Account>,
    /// Fault rates.
    pub faults: FaultPlan,
    /// Time a client has to authenticate before error 404.
    pub auth_timeout: Duration,
    /// How long a connection that vanished without a close keeps its slot.
    pub reap_after: Duration,
    /// Frames that may pile up for a client that does not read before 407.
    pub slow_client_frames_max: usize,
    /// Largest client frame accepted; larger ones are closed with 1009.
    pub client_frame_bytes_max: usize,
    /// Size of the frame sent by the oversized-frame fault.
    pub oversized_frame_bytes: usize,
    /// Wall-clock time of the `now` given to [`Exchange::new`]; message
    /// timestamps count from it.
    pub wall_clock_start: Timestamp,
    /// The market generator.
    pub market: MarketConfig,
    /// Order life cycles of the trading stream.
    pub trading: TradingConfig,
}

impl ExchangeConfig {
    /// Defaults with this seed and no accounts.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            accounts: Vec::new(),
            faults: FaultPlan::default(),
            auth_timeout: Duration::from_secs(10),
            reap_after: Duration::from_secs(90),
            slow_client_frames_max: 1_000,
            client_frame_bytes_max: 64 * 1024,
            oversized_frame_bytes: 16 * 1024 * 1024 + 1,
            // 2024-01-02T14:30:00Z, the opening bell of a trading day.
            wall_clock_start: Timestamp {
                seconds: 1_704_205_800,
                nanos: 0,
            },
            market: MarketConfig::default(),
            trading: TradingConfig::default(),
        }
    }

    /// Adds an account.
    pub fn with_account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// Sets the fault rates.
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the market generator.
    pub fn with_market(mut self, market: MarketConfig) -> Self {
        self.market = market;
        self
    }

    /// Sets the order life cycles.
    pub fn with_trading(mut self, trading: TradingConfig) -> Self {
        self.trading = trading;
        self
    }
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self::new(0)
    }
}

/// A simulated Alpaca exchange: market data v2 and the trading stream, server side.
///
/// It is a sans-I/O server in the style of quinn-proto: it never
/// reads a clock (every input takes `now`), draws randomness only from
/// generators seeded by [`ExchangeConfig::seed`], and performs no I/O.
///
/// # Driving it
/// - **inputs**: [`open`](Exchange::open) for each upgrade request,
///   [`handle_frame`](Exchange::handle_frame) for each client frame,
///   [`handle_close`](Exchange::handle_close) / [`handle_lost`](Exchange::handle_lost)
///   when a connection ends, [`handle_backlog`](Exchange::handle_backlog) when
///   a client stops reading, and [`handle_timeout`](Exchange::handle_timeout)
///   (early or repeated calls are harmless);
/// - **commands**: fault knobs ([`set_fault_plan`](Exchange::set_fault_plan),
///   [`set_session_faults`](Exchange::set_session_faults), [`inject`](Exchange::inject),
///   [`refuse_next`](Exchange::refuse_next), [`restart`](Exchange::restart));
/// - **outputs**: after every input, drain [`poll_output`](Exchange::poll_output)
///   until it returns `None`, then wait until [`poll_timeout`](Exchange::poll_timeout)
///   (or the next input) and call `handle_timeout`.
///
/// Same seed + same inputs ⇒ same outputs, byte for byte.
///
/// ```
/// use std::time::Instant;
/// use tickwire_core::Frame;
/// use tickwire_mock::{Account, Exchange, ExchangeConfig, Output};
///
/// let now = Instant::now();
/// let config = ExchangeConfig::new(7).with_account(Account::new("KEY", "SECRET"));
/// let mut exchange = Exchange::new(config, now);
/// let session = exchange.open(now, "/v2/test", &[]).expect("known path");
/// exchange.handle_frame(now, session, Frame::text(r#"{"action":"auth","key":"KEY","secret":"SECRET"}"#));
/// let mut texts = Vec::new();
/// while let Some((_, Output::Frame(frame))) = exchange.poll_output() {
///     texts.push(String::from_utf8_lossy(frame.payload()).into_owned());
/// }
/// assert!(texts[0].contains("connected"));
/// assert!(texts[1].contains("authenticated"));
/// ```
#[derive(Debug)]
pub struct Exchange {
    pub(crate) config: ExchangeConfig,
    pub(crate) accounts: Accounts,
    pub(crate) started_at: Instant,
    pub(crate) sessions: BTreeMap<SessionId, Session>,
    next_session: u64,
    pub(crate) slots: Slots,
    pub(crate) outputs: VecDeque<(SessionId, Output)>,
    /// Frames held back by the ack-delay fault, by release time.
    pub(crate) delayed: BTreeMap<(Instant, u64), (SessionId, Frame)>,
    pub(crate) delayed_seq: u64,
    pub(crate) fault_rng: ChaCha8Rng,
    pub(crate) generator: Generator,
    /// Who wants what, kept between ticks.
    pub(crate) routing: Routing,
    /// The events of the current tick (a buffer kept for its capacity).
    pub(crate) tick_events: Vec<Event>,
    /// The order updates of the current trading tick (a buffer kept for its capacity).
    pub(crate) trade_updates: Vec<(AccountId, TradeUpdate)>,
    /// The accounts listening to trade updates at the current trading tick
    /// (a buffer kept for its capacity).
    pub(crate) listening_accounts: Vec<AccountId>,
    pub(crate) desk: Desk,
    /// Every order's latest state, for the REST order list.
    pub(crate) order_history: OrderHistory,
    /// What was produced, for a checker (off by default).
    pub(crate) journal: Journal,
    refusals: VecDeque<u16>,
    restarts: u64,
    pub(crate) stats: ExchangeStats,
}

impl Exchange {
    /// A new exchange; `now` is the instant of [`ExchangeConfig::wall_clock_start`].
    pub fn new(config: ExchangeConfig, now: Instant) -> Self {
        let seed = config.seed;
        Self {
            accounts: Accounts::new(config.accounts.clone()),
            generator: Generator::new(seed, config.market.clone(), now, config.wall_clock_start),
            routing: Routing::new(),
            tick_events: Vec::new(),
            trade_updates: Vec::new(),
            listening_accounts: Vec::new(),
            desk: Desk::new(seed, config.trading.clone()),
            order_history: OrderHistory::default(),
            journal: Journal::default(),
            config,
            started_at: now,
            sessions: BTreeMap::new(),
            next_session: 1,
            slots: Slots::default(),
            outputs: VecDeque::new(),
            delayed: BTreeMap::new(),
            delayed_seq: 0,
            fault_rng: rng::stream(seed, rng::Stream::Faults),
            refusals: VecDeque::new(),
            restarts: 0,
            stats: ExchangeStats::default(),
        }
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Open sessions, in order of creation.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// The endpoint of an open session.
    pub fn endpoint(&self, session: SessionId) -> Option<Endpoint> {
        self.sessions.get(&session).map(|s| s.endpoint)
    }

    /// The encoding of an open session.
    pub fn encoding(&self, session: SessionId) -> Option<Encoding> {
        self.sessions.get(&session).map(|s| s.encoding)
    }

    /// Whether an open session's data is withheld while its socket stays
    /// open: silenced (a [`Fault::Silence`] or the `silence` rate), or its
    /// client treated as not reading (data discarded until the 407).
    pub fn withholds_data(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.silent || s.faults.not_reading)
    }

    /// Whether an open session has authenticated.
    pub fn is_authenticated(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(Session::is_authenticated)
    }

    /// The server's subscription set of an open market data session
    /// (without `corrections`/`cancelErrors`).
    pub fn subscriptions(&self, session: SessionId) -> Option<&SubscriptionSet> {
        self.sessions.get(&session).map(|s| &s.subscriptions)
    }

    /// How many times the exchange restarted.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Connections and errors counted since the start.
    pub fn stats(&self) -> &ExchangeStats {
        &self.stats
    }

    /// Sessions open on `endpoint` now.
    pub fn open_sessions(&self, endpoint: Endpoint) -> usize {
        self.sessions
            .values()
            .filter(|s| s.endpoint == endpoint)
            .count()
    }

    /// The wall-clock time of `now`.
    pub fn wall_clock(&self, now: Instant) -> Timestamp {
        trading::wall_at(self.started_at, self.config.wall_clock_start, now)
    }

    // ----- inputs -----

    /// An upgrade request for `path` with these headers.
    ///
    /// Returns the new session, or the HTTP status to refuse with: 404 for
    /// an unknown path, 429/401 when a fault or [`refuse_next`](Self::refuse_next)
    /// says so. Market data sessions are greeted at once; credentials in the
    /// `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers authenticate right away.
    pub fn open(
        &mut self,
        now: Instant,
        path: &str,
        headers: &[(String, String)],
    ) -> Result<SessionId, Refusal> {
        let Some(endpoint) = Endpoint::from_path(path) else {
            tracing::debug!(path, "refusing unknown path");
            return Err(Refusal { status: 404 });
        };
        if let Some(status) = self.refusals.pop_front() {
            return Err(Refusal { status });
        }
        let faults = self.config.faults.for_endpoint(endpoint);
        if self.fault_rng.chance(faults.refuse_429) {
            return Err(Refusal { status: 429 });
        }
        if self.fault_rng.chance(faults.refuse_401) {
            return Err(Refusal { status: 401 });
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let encoding = match header("content-type") {
            Some(ct) if ct.to_ascii_lowercase().contains("msgpack") => Encoding::MsgPack,
            _ => Encoding::Json,
        };
        let id = SessionId(self.next_session);
        self.next_session += 1;
        let session = Session::new(endpoint, encoding, faults, now + self.config.auth_timeout);
        // Not served before it authenticates: the demand index is unchanged.
        self.sessions.insert(id, session);
        self.stats.opened(endpoint, self.open_sessions(endpoint));
        tracing::debug!(%id, %endpoint, ?encoding, "session opened");

        if !endpoint.is_trading() {
            self.send_control(now, id, wire::Control::Connected);
        }
        if let (Some(key), Some(secret)) =
            (header("apca-api-key-id"), header("apca-api-secret-key"))
        {
            let (key, secret) = (key.to_owned(), secret.to_owned());
            self.authenticate(now, id, &key, &secret);
        }
        Ok(id)
    }

    /// Opens `/stream` as an account's client does: authenticated by the
    /// key pair in the upgrade's headers, listening to `trade_updates`.
    pub fn open_trading_listener(
        &mut self,
        now: Instant,
        key_id: &str,
        secret: &str,
    ) -> Result<SessionId, Refusal> {
        let headers = [
            ("apca-api-key-id".to_owned(), key_id.to_owned()),
            ("apca-api-secret-key".to_owned(), secret.to_owned()),
        ];
        let id = self.open(now, "/stream", &headers)?;
        let listen = r#"{"action":"listen","data":{"streams":["trade_updates"]}}"#;
        self.handle_frame(now, id, Frame::text(listen));
        Ok(id)
    }

    /// A frame from the client of `session`. Unknown sessions are ignored.
    pub fn handle_frame(&mut self, now: Instant, session: SessionId, frame: Frame) {
        self.handle_decoded_frame(now, session, &frame, decode_client_message);
    }

    /// [`handle_frame`](Self::handle_frame) for a caller that has decoded
    /// the frame already: `decode` is called at most once, in place of
    /// [`decode_client_message`], and must give what that would.
    pub fn handle_decoded_frame(
        &mut self,
        now: Instant,
        session: SessionId,
        frame: &Frame,
        decode: impl FnOnce(&Frame) -> Result<ClientMessage, DecodeError>,
    ) {
        let Some(s) = self.sessions.get(&session) else {
            return;
        };
        if !frame.is_message() {
            return; // pings and pongs are the transport's business
        }
        if frame.len() > self.config.client_frame_bytes_max {
            self.close(now, session, 1009, "message too big");
            return;
        }
        let message = decode(frame);
        debug_assert_eq!(
            message,
            decode_client_message(frame),
            "a decode that differs from the exchange's own"
        );
        let request = wire::client_request(message);
        if s.endpoint.is_trading() {
            self.trading_request(now, session, request);
        } else {
            self.market_request(now, session, request);
        }
    }

    /// The client closed `session` cleanly: its connection slot is free at once.
    pub fn handle_close(&mut self, _now: Instant, session: SessionId) {
        if self.sessions.remove(&session).is_some() {
            self.routing.session_removed(session, &self.sessions);
            tracing::debug!(%session, "closed by the client");
        }
        self.slots.release(session);
    }

    /// The connection of `session` vanished without a close: its slot stays
    /// busy until [`ExchangeConfig::reap_after`] has passed (406 meanwhile).
    pub fn handle_lost(&mut self, now: Instant, session: SessionId) {
        if self.sessions.remove(&session).is_some() {
            self.routing.session_removed(session, &self.sessions);
            tracing::debug!(%session, "connection lost");
            self.slots.orphan(session, now, self.config.reap_after);
        }
    }

    /// `frames_queued` frames wait unsent to the client of `session` (the
    /// driver's send queue). Past [`ExchangeConfig::slow_client_frames_max`]
    /// the exchange sends 407 and closes.
    pub fn handle_backlog(&mut self, now: Instant, session: SessionId, frames_queued: usize) {
        if frames_queued > self.config.slow_client_frames_max
            && self.sessions.contains_key(&session)
        {
            self.slow_client(now, session);
        }
    }

    /// Advances timers: auth timeouts, slot reaping, delayed frames, the
    /// market and order life cycles. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let auth_expired =
            |s: &Session| matches!(s.phase, Phase::AwaitingAuth { deadline } if deadline <= now);
        // Most calls find none: the list is only made when one is due.
        if self.sessions.values().any(auth_expired) {
            let expired: Vec<SessionId> = self
                .sessions
                .iter()
                .filter(|(_, s)| auth_expired(s))
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                self.send_error(now, id, 404);
                self.close(now, id, 1008, "auth timeout");
            }
        }
        self.slots.reap(now);
        self.release_delayed(now);
        if self.generator.is_due(now) {
            if self.fault_rng.chance(self.config.faults.default.restart) {
                self.restart(now);
            }
            self.market_tick(now);
        }
        self.trading_tick(now);
    }

    // ----- commands -----

    /// Replaces the fault rates; sessions opened from now on use them.
    pub fn set_fault_plan(&mut self, plan: FaultPlan) {
        self.config.faults = plan;
    }

    /// Sets the fault rates of one open session.
    pub fn set_session_faults(&mut self, session: SessionId, faults: Faults) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.faults = faults;
        }
    }

    /// Refuses the next upgrade with this HTTP status (e.g. 429 or 401).
    /// Several calls queue several refusals.
    pub fn refuse_next(&mut self, status: u16) {
        self.refusals.push_back(status);
    }

    /// Applies a one-shot fault to an open session.
    pub fn inject(&mut self, now: Instant, session: SessionId, fault: Fault) {
        if !self.sessions.contains_key(&session) {
            return;
        }
        match fault {
            Fault::Close { code, reason } => self.close(now, session, code, &reason),
            Fault::Reset => self.reset(now, session),
            Fault::Silence => self.set_silent(session, true),
            Fault::Resume => self.set_silent(session, false),
            Fault::Garbage => self.send_garbage(session),
            Fault::Frame(frame) => self.outputs.push_back((session, Output::Frame(frame))),
            Fault::Oversized => self.send_oversized(session),
            Fault::StopReading => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.faults.not_reading = true;
                }
            }
        }
    }

    /// Restarts the exchange: every connection is reset and forgotten, with
    /// its slot. Accounts, the market and orders survive.
    pub fn restart(&mut self, _now: Instant) {
        tracing::info!(sessions = self.sessions.len(), "exchange restart");
        self.routing.invalidate();
        for id in std::mem::take(&mut self.sessions).into_keys() {
            self.outputs.push_back((id, Output::Reset));
        }
        self.slots.clear();
        self.delayed.clear();
        self.restarts += 1;
    }

    // ----- outputs -----

    /// The next thing to do to a connection.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<(SessionId, Output)> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        // One pass over the sessions: auth deadlines and held acks.
        for s in self.sessions.values() {
            if let Phase::AwaitingAuth { deadline } = s.phase {
                consider(Some(deadline));
            }
            consider(s.held_ack.as_ref().map(|h| h.release_at));
        }
        consider(self.slots.next_reap());
        consider(self.delayed.keys().next().map(|(t, _)| *t));
        consider(self.generator.next_tick());
        consider(self.desk.next_event());
        next
    }

    // ----- shared helpers -----

    fn authenticate(&mut self, now: Instant, id: SessionId, key_id: &str, secret: &str) {
        match self.sessions.get(&id).map(|s| s.endpoint.is_trading()) {
            Some(true) => self.trading_auth(now, id, key_id, secret),
            Some(false) => self.market_auth(now, id, key_id, secret),
            None => {}
        }
    }

    fn set_silent(&mut self, session: SessionId, silent: bool) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.silent = silent;
        }
    }
}

#[cfg(test)]
mod tests;
