//! Backfilling a market-data stream after a gap: the trades and minute bars
//! of the subscribed symbols, fetched from the historical REST API
//! (sans-I/O), merged with live data through the recovery planner.
//!
//! After each `Resumed`, one window per kind (and per 200 symbols) asks
//! `GET /v2/stocks/trades` or `GET /v2/stocks/bars?timeframe=1Min` for the
//! symbols subscribed on that channel (a `*` stands for the symbols seen
//! live on it), from the last record of that kind delivered before the gap
//! to the resume, each widened by the planner's margin; pages follow the
//! server's `next_page_token`. Trades are deduplicated by (symbol,
//! exchange, trade id), bars by (symbol, start time): a record delivered live is never
//! delivered again, and a fetched one is delivered once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::{Bar, Channel, MarketData, SubscriptionSet, Trade};
use compact_str::CompactString;
use serde_json::Value;
use tickwire_core::machine::Event;
use tickwire_core::{Symbol, Timestamp};
use tickwire_recovery::{
    Fetch, Page, Recoverable, Recovery, RecoveryConfig, RecoveryOutput, Source, WindowId,
};

use crate::{Backfill, query_escaped};

/// Records asked for per REST page (the API's maximum).
pub const MARKET_PAGE_LIMIT: usize = 10_000;
/// Symbols named in one request; more open one window per this many.
pub const BACKFILL_SYMBOLS_PER_REQUEST: usize = 200;
/// Symbols remembered per channel to stand for a `*` subscription.
const SEEN_SYMBOLS_MAX: usize = 10_000;
/// The bars fetched: one minute.
const BAR_NANOS: i128 = 60_000_000_000;

/// What identifies one trade: (symbol, exchange, trade id, and the time
/// for a trade without an id), the key live and fetched trades are
/// deduplicated by (a consolidated feed's trade ids are unique per symbol
/// and reporting exchange only).
pub type TradeKey = (Symbol, Option<CompactString>, u64, i128);

/// The [`TradeKey`] of `trade`.
pub fn trade_key(trade: &Trade) -> TradeKey {
    let (symbol, exchange) = (trade.symbol.clone(), trade.exchange.clone());
    match trade.id {
        Some(id) => (symbol, exchange, id, 0),
        None => (symbol, exchange, 0, trade.timestamp.unix_nanos()),
    }
}

/// A trade as the planner compares it: by its [`TradeKey`].
#[derive(Debug, Clone, PartialEq)]
struct TradeRecord(Trade);

impl Recoverable for TradeRecord {
    type Key = TradeKey;

    fn key(&self) -> Self::Key {
        trade_key(&self.0)
    }

    fn timestamp(&self) -> Timestamp {
        self.0.timestamp
    }
}

/// A minute bar as the planner compares it: by symbol and start time.
#[derive(Debug, Clone, PartialEq)]
struct BarRecord(Bar);

impl Recoverable for BarRecord {
    type Key = (Symbol, Timestamp);

    fn key(&self) -> Self::Key {
        (self.0.symbol.clone(), self.0.timestamp)
    }

    fn timestamp(&self) -> Timestamp {
        self.0.timestamp
    }
}

/// Which planner a fetch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Trades,
    Bars,
}

/// What the backfill hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum BackfillOutput {
    /// Data for the application; `backfilled` when it was fetched.
    Deliver {
        /// The message.
        data: MarketData,
        /// Whether it came from the REST API rather than the stream.
        backfilled: bool,
    },
    /// A REST request to make (`GET` this path and query on the data API);
    /// answer with [`MarketBackfill::handle_page`] or
    /// [`MarketBackfill::handle_fetch_failed`].
    Fetch(DataFetch),
    /// A window was given up: what it would have recovered may be missing.
    Abandoned(String),
}

/// A REST page to fetch, and what the backfill needs to read its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFetch {
    /// `/v2/stocks/trades?…` or `/v2/stocks/bars?…`, to append to the data
    /// API's base URL.
    pub path_and_query: String,
    kind: Kind,
    fetch: Fetch,
}

/// The backfill of one market-data stream, sans-I/O: stream events in,
/// data to deliver and REST requests to make out (see the module docs).
/// Drive it with any HTTP client (tickwire-ws's `RestClient` does, in
/// its market-data stream's backfill stage):
///
/// ```
/// use tickwire_alpaca::{Backfill, BackfillOutput, Channel, MarketBackfill, MarketData};
/// use tickwire_core::machine::Event;
/// use tickwire_recovery::RecoveryConfig;
///
/// /// Hands the backfill's outputs on; `get` answers a REST request.
/// fn drive(
///     backfill: &mut MarketBackfill,
///     events: &[Event<MarketData, Channel>],
///     get: impl Fn(&str) -> Result<Vec<u8>, String>,
/// ) -> Vec<(MarketData, bool)> {
///     let mut delivered = Vec::new();
///     for event in events {
///         backfill.handle_event(event);
///         while let Some(output) = backfill.poll_output() {
///             match output {
///                 BackfillOutput::Deliver { data, backfilled } => delivered.push((data, backfilled)),
///                 BackfillOutput::Fetch(fetch) => match get(&fetch.path_and_query) {
///                     Ok(body) => backfill.handle_page(&fetch, &body),
///                     Err(error) => backfill.handle_fetch_failed(&fetch, &error),
///                 },
///                 BackfillOutput::Abandoned(why) => tracing::warn!("{why}"),
///             }
///         }
///     }
///     delivered
/// }
///
/// let mut backfill = MarketBackfill::new(Backfill::TRADES, "iex", RecoveryConfig::default());
/// assert!(drive(&mut backfill, &[], |_| Err("offline".into())).is_empty());
/// ```
#[derive(Debug)]
pub struct MarketBackfill {
    kinds: Backfill,
    /// The `feed` parameter of the requests.
    feed: String,
    /// Records asked for per page.
    page_limit: usize,
    trades: Recovery<TradeRecord>,
    bars: Recovery<BarRecord>,
    /// The subscriptions the server last confirmed.
    subscribed: SubscriptionSet,
    /// Symbols seen live per channel, for a `*` subscription.
    seen: BTreeMap<Kind, BTreeSet<Symbol>>,
    /// The newest record of each kind delivered live.
    newest_live: BTreeMap<Kind, Timestamp>,
    /// When the stream last went live or resumed (wall clock): a gap with
    /// no data since reaches back to here, not only to its loss (a link
    /// that hangs is lost only when a ping or an acknowledgement times out).
    caught_up: Option<Timestamp>,
    /// Where each kind's window will start, fixed when the gap began: data
    /// delivered before the resume (acknowledged chunks of a subscription)
    /// must not move it past what the gap hid.
    gap_start: BTreeMap<Kind, Timestamp>,
    /// The symbols of each kind subscribed when the gap began or since:
    /// the window covers them too, though unsubscribed (or refused) by the
    /// resume.
    gap_symbols: BTreeMap<Kind, BTreeSet<Symbol>>,
    /// Symbols that left each kind's subscription since its last record
    /// delivered live (and since the stream went live): a gap's window
    /// covers them too, since what it hid may begin before they left (a
    /// server that withholds data still acknowledges).
    left: BTreeMap<Kind, BTreeSet<Symbol>>,
    /// The symbols of each open window.
    symbols: BTreeMap<(Kind, WindowId), String>,
    /// Symbol lists of windows asked for, not yet seen opened, in order.
    opening: BTreeMap<Kind, VecDeque<String>>,
    /// Deliveries of records the planners do not handle, in order.
    outputs: VecDeque<BackfillOutput>,
}

impl MarketBackfill {
    /// A backfill of `kinds` from the data API's `feed` (`iex`, `sip`…);
    /// `config` bounds its windows, pages and memory.
    pub fn new(kinds: Backfill, feed: impl Into<String>, config: RecoveryConfig) -> Self {
        Self {
            kinds,
            feed: feed.into(),
            page_limit: MARKET_PAGE_LIMIT,
            trades: Recovery::new(config.clone()),
            bars: Recovery::new(config),
            subscribed: SubscriptionSet::new(),
            seen: BTreeMap::new(),
            newest_live: BTreeMap::new(),
            caught_up: None,
            gap_start: BTreeMap::new(),
            gap_symbols: BTreeMap::new(),
            left: BTreeMap::new(),
            symbols: BTreeMap::new(),
            opening: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Asks for `limit` records a page (clamped to 1..=[`MARKET_PAGE_LIMIT`]),
    /// for servers that serve small pages or tests that want many.
    #[must_use]
    pub fn with_page_limit(mut self, limit: usize) -> Self {
        self.page_limit = limit.clamp(1, MARKET_PAGE_LIMIT);
        self
    }

    /// A stream event: data goes through the deduplication, `Confirmed`
    /// sets say what is subscribed, each `Gap` fixes where its windows will
    /// start, each `Resumed` opens them.
    pub fn handle_event(&mut self, event: &Event<MarketData, Channel>) {
        match event {
            Event::Data(data) => self.handle_live(data.clone()),
            Event::Confirmed(set) => self.handle_confirmed(set),
            Event::Gap {
                lost_at,
                last_data_at,
                ..
            } => self.handle_gap(*lost_at, *last_data_at),
            Event::Resumed {
                lost_at,
                resumed_at,
                last_data_at,
                ..
            } => self.handle_resumed(*lost_at, *resumed_at, *last_data_at),
            _ => {}
        }
    }

    /// The stream went live at `now` (wall clock): what a later gap hides
    /// starts no earlier than this when no record came since. The stage
    /// that drives the backfill calls it on each `StateChanged(Live)`.
    pub fn handle_went_live(&mut self, now: Timestamp) {
        self.caught_up = Some(now);
        self.left.clear();
    }

    /// The subscriptions the server confirmed; while a gap is open, its
    /// windows will cover their symbols too.
    pub fn handle_confirmed(&mut self, set: &SubscriptionSet) {
        let before: Vec<(Kind, BTreeSet<Symbol>)> = [Kind::Trades, Kind::Bars]
            .into_iter()
            .map(|kind| (kind, self.symbols_of(kind, channel_of(kind))))
            .collect();
        self.subscribed = set.clone();
        for (kind, before) in before {
            let now = self.symbols_of(kind, channel_of(kind));
            let left = self.left.entry(kind).or_default();
            for symbol in before.difference(&now) {
                if left.len() < SEEN_SYMBOLS_MAX {
                    left.insert(symbol.clone());
                }
            }
        }
        for kind in [Kind::Trades, Kind::Bars] {
            if self.gap_symbols.contains_key(&kind) {
                let symbols = self.symbols_of(kind, channel_of(kind));
                self.gap_symbols.entry(kind).or_default().extend(symbols);
            }
        }
    }

    /// A live data message: trades and minute bars of a kind backfilled
    /// pass the deduplication; anything else is delivered as it is.
    pub fn handle_live(&mut self, data: MarketData) {
        match data {
            MarketData::Trade(trade) if self.kinds.trades() => {
                self.note_live(Kind::Trades, &trade.symbol, trade.timestamp);
                self.trades.handle_live(TradeRecord(trade));
            }
            MarketData::Bar(bar) if self.kinds.bars() => {
                self.note_live(Kind::Bars, &bar.symbol, bar.timestamp);
                self.bars.handle_live(BarRecord(bar));
            }
            other => self.outputs.push_back(BackfillOutput::Deliver {
                data: other,
                backfilled: false,
            }),
        }
    }

    /// The stream was lost: each kind's window will start from its last
    /// record delivered so far (the earliest such start while the gap lasts),
    /// and the keys the window reaches back to are kept until it opens.
    pub fn handle_gap(&mut self, lost_at: Option<Timestamp>, last_data_at: Option<Timestamp>) {
        for kind in [Kind::Trades, Kind::Bars] {
            let enabled = match kind {
                Kind::Trades => self.kinds.trades(),
                Kind::Bars => self.kinds.bars(),
            };
            if !enabled {
                continue;
            }
            if !self.gap_symbols.contains_key(&kind) {
                let mut symbols = self.symbols_of(kind, channel_of(kind));
                symbols.extend(self.left.remove(&kind).unwrap_or_default());
                self.gap_symbols.insert(kind, symbols);
            }
            let Some(start) = self.start_of(kind, lost_at, last_data_at) else {
                continue;
            };
            let start = *self.gap_start.entry(kind).or_insert(start);
            match kind {
                Kind::Trades => self.trades.handle_gap(lost_at, Some(start)),
                Kind::Bars => self.bars.handle_gap(lost_at, Some(start)),
            }
        }
    }

    /// Where a window of `kind` starts: its last record delivered live;
    /// else the machine's last data message, else when the stream last went
    /// live (if before the loss), else the loss. The machine's last message
    /// may be of another kind, older (a bar is stamped with its minute's
    /// start) or newer.
    fn start_of(
        &self,
        kind: Kind,
        lost_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) -> Option<Timestamp> {
        let quiet_since = match (self.caught_up, lost_at) {
            (Some(caught_up), Some(lost)) => Some(caught_up.min(lost)),
            (caught_up, lost) => caught_up.or(lost),
        };
        match (kind, self.newest_live.get(&kind)) {
            (_, Some(newest)) => Some(*newest),
            (Kind::Trades, None) => last_data_at.or(quiet_since),
            // The bar being built when the stream was lost, and the one
            // before it (sent at that minute's end).
            (Kind::Bars, None) => last_data_at
                .or(quiet_since)
                .map(|t| floor_to_minute(t).saturating_add_nanos(-BAR_NANOS)),
        }
    }

    /// The stream is live again: opens the windows of each kind
    /// backfilled, for the symbols subscribed on its channel at any time
    /// since the gap began (a symbol unsubscribed during the gap, or
    /// refused on resubscribing, was wanted until then: its window runs to
    /// the resume).
    pub fn handle_resumed(
        &mut self,
        lost_at: Option<Timestamp>,
        resumed_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) {
        for (kind, enabled) in [
            (Kind::Trades, self.kinds.trades()),
            (Kind::Bars, self.kinds.bars()),
        ] {
            if !enabled {
                continue;
            }
            let mut symbols = self.symbols_of(kind, channel_of(kind));
            symbols.extend(self.gap_symbols.remove(&kind).unwrap_or_default());
            symbols.extend(self.left.remove(&kind).unwrap_or_default());
            let symbols: Vec<Symbol> = symbols.into_iter().collect();
            // From the last record of this kind before the gap (fixed when
            // it began, if this backfill saw the `Gap`).
            let start = self
                .gap_start
                .remove(&kind)
                .or_else(|| self.start_of(kind, lost_at, last_data_at));
            for chunk in symbols.chunks(BACKFILL_SYMBOLS_PER_REQUEST) {
                let list: Vec<&str> = chunk.iter().map(Symbol::as_str).collect();
                self.opening
                    .entry(kind)
                    .or_default()
                    .push_back(list.join(","));
                match kind {
                    Kind::Trades => self.trades.handle_resumed(lost_at, resumed_at, start),
                    Kind::Bars => self.bars.handle_resumed(lost_at, resumed_at, start),
                }
            }
        }
        self.caught_up = resumed_at.or(self.caught_up);
    }

    /// The answer to `fetch`: a page of the historical API,
    /// `{"trades" | "bars": {symbol: [records]}, "next_page_token": …}`.
    /// A body that is not one abandons the window, naming why.
    pub fn handle_page(&mut self, fetch: &DataFetch, body: &[u8]) {
        match fetch.kind {
            Kind::Trades => match page_of(body, "trades") {
                Ok(page) => self
                    .trades
                    .handle_page(&fetch.fetch, map_page(page, TradeRecord)),
                Err(why) => self.trades.handle_fetch_failed(&fetch.fetch, why),
            },
            Kind::Bars => match page_of(body, "bars") {
                Ok(page) => self
                    .bars
                    .handle_page(&fetch.fetch, map_page(page, BarRecord)),
                Err(why) => self.bars.handle_fetch_failed(&fetch.fetch, why),
            },
        }
    }

    /// Fetching `fetch` failed for good (after retries): its window is abandoned.
    pub fn handle_fetch_failed(&mut self, fetch: &DataFetch, reason: &str) {
        match fetch.kind {
            Kind::Trades => self.trades.handle_fetch_failed(&fetch.fetch, reason),
            Kind::Bars => self.bars.handle_fetch_failed(&fetch.fetch, reason),
        }
    }

    /// The next thing to do or deliver.
    pub fn poll_output(&mut self) -> Option<BackfillOutput> {
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        loop {
            let (kind, output) = if let Some(output) = self.trades.poll_output() {
                (Kind::Trades, output.map_record(|r| MarketData::Trade(r.0)))
            } else {
                let output = self.bars.poll_output()?;
                (Kind::Bars, output.map_record(|r| MarketData::Bar(r.0)))
            };
            if let Some(output) = self.translate(kind, output) {
                return Some(output);
            }
        }
    }

    /// A planner's output as the application or the driver sees it;
    /// `None` when there is nothing to hand out (a window done).
    fn translate(&mut self, kind: Kind, output: PlannerOutput) -> Option<BackfillOutput> {
        match output {
            PlannerOutput::Deliver(data, source) => Some(BackfillOutput::Deliver {
                data,
                backfilled: matches!(source, Source::Recovered(_)),
            }),
            PlannerOutput::Fetch(fetch) => {
                let symbols = match self.symbols.get(&(kind, fetch.window)) {
                    Some(symbols) => symbols.clone(),
                    None => {
                        let symbols = self.next_opening(kind);
                        self.symbols.insert((kind, fetch.window), symbols.clone());
                        symbols
                    }
                };
                Some(BackfillOutput::Fetch(self.request(kind, &symbols, fetch)))
            }
            PlannerOutput::Done(window) => {
                self.symbols.remove(&(kind, window));
                None
            }
            PlannerOutput::Abandoned(window, error) => {
                match window {
                    Some(window) => self.symbols.remove(&(kind, window)),
                    None => Some(self.next_opening(kind)),
                };
                let what = match kind {
                    Kind::Trades => "trades",
                    Kind::Bars => "bars",
                };
                Some(BackfillOutput::Abandoned(format!(
                    "backfilling {what} gave up: {error}"
                )))
            }
        }
    }

    /// The request of one page.
    fn request(&self, kind: Kind, symbols: &str, fetch: Fetch) -> DataFetch {
        let path = match kind {
            Kind::Trades => "/v2/stocks/trades?",
            Kind::Bars => "/v2/stocks/bars?timeframe=1Min&",
        };
        let mut path_and_query = format!(
            "{path}symbols={}&start={}&end={}&limit={}&feed={}&sort=asc",
            query_escaped(symbols),
            query_escaped(&fetch.from.to_string()),
            query_escaped(&fetch.to.to_string()),
            self.page_limit,
            query_escaped(&self.feed),
        );
        if let Some(token) = &fetch.page_token {
            path_and_query.push_str("&page_token=");
            path_and_query.push_str(&query_escaped(token));
        }
        DataFetch {
            path_and_query,
            kind,
            fetch,
        }
    }

    fn next_opening(&mut self, kind: Kind) -> String {
        self.opening
            .get_mut(&kind)
            .and_then(VecDeque::pop_front)
            .unwrap_or_default()
    }

    fn note_live(&mut self, kind: Kind, symbol: &Symbol, at: Timestamp) {
        let newest = self.newest_live.entry(kind).or_insert(at);
        *newest = (*newest).max(at);
        self.left.remove(&kind);
        let seen = self.seen.entry(kind).or_default();
        if seen.len() < SEEN_SYMBOLS_MAX && !seen.contains(symbol) {
            seen.insert(symbol.clone());
        }
    }

    /// The symbols subscribed on `channel`; a `*` stands for those seen live.
    fn symbols_of(&self, kind: Kind, channel: Channel) -> BTreeSet<Symbol> {
        let mut symbols: BTreeSet<Symbol> = BTreeSet::new();
        for symbol in self.subscribed.symbols(channel) {
            if symbol.is_wildcard() {
                symbols.extend(self.seen.get(&kind).into_iter().flatten().cloned());
            } else {
                symbols.insert(symbol.clone());
            }
        }
        symbols
    }
}

/// The channel a kind is streamed on.
fn channel_of(kind: Kind) -> Channel {
    match kind {
        Kind::Trades => Channel::Trades,
        Kind::Bars => Channel::Bars,
    }
}

/// A planner's output with its record made market data.
enum PlannerOutput {
    Deliver(MarketData, Source),
    Fetch(Fetch),
    Done(WindowId),
    Abandoned(Option<WindowId>, tickwire_recovery::RecoveryError),
}

/// Turns a planner's output into a [`PlannerOutput`].
trait MapRecord<R> {
    fn map_record(self, f: impl FnOnce(R) -> MarketData) -> PlannerOutput;
}

impl<R> MapRecord<R> for RecoveryOutput<R> {
    fn map_record(self, f: impl FnOnce(R) -> MarketData) -> PlannerOutput {
        match self {
            Self::Deliver(delivery) => PlannerOutput::Deliver(f(delivery.record), delivery.source),
            Self::Fetch(fetch) => PlannerOutput::Fetch(fetch),
            Self::Done { window, .. } => PlannerOutput::Done(window),
            Self::Abandoned { window, error } => PlannerOutput::Abandoned(window, error),
        }
    }
}

fn map_page<T, R>(page: Page<T>, f: impl Fn(T) -> R) -> Page<R> {
    Page {
        records: page.records.into_iter().map(f).collect(),
        next_page_token: page.next_page_token,
    }
}

/// A page of the historical API: each record of `name` with its symbol
/// (the map's key) put back in, read as a stream message of that type.
fn page_of<T: serde::de::DeserializeOwned>(body: &[u8], name: &str) -> Result<Page<T>, String> {
    let malformed = |why: String| format!("the answer is not a page of {name}: {why}");
    let mut page: Value = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let next_page_token = match page.get("next_page_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) => Some(token.clone()),
        Some(other) => return Err(malformed(format!("next_page_token is {other}"))),
    };
    let by_symbol = match page.get_mut(name).map(Value::take) {
        Some(Value::Object(by_symbol)) => by_symbol,
        // A window without records may come as null.
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(other) => return Err(malformed(format!("{name} is {other}"))),
    };
    let mut records = Vec::new();
    for (symbol, list) in by_symbol {
        let Value::Array(list) = list else {
            return Err(malformed(format!("the {name} of {symbol} are not a list")));
        };
        for mut record in list {
            let Some(object) = record.as_object_mut() else {
                return Err(malformed(format!("a record of {symbol} is not an object")));
            };
            object.insert("S".to_owned(), Value::String(symbol.clone()));
            let record =
                serde_json::from_value(record).map_err(|e| malformed(format!("{symbol}: {e}")))?;
            records.push(record);
        }
    }
    Ok(Page {
        records,
        next_page_token,
    })
}

/// The start of the minute holding `at`.
fn floor_to_minute(at: Timestamp) -> Timestamp {
    let nanos = at.unix_nanos();
    at.saturating_add_nanos(-nanos.rem_euclid(BAR_NANOS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_page_abandons_the_window_naming_why() {
        for (body, why) in [
            (&b"not json"[..], "not a page of trades"),
            (br#"{"trades": [1, 2]}"#, "trades is [1,2]"),
            (br#"{"trades": {"AAPL": [{"t": "yesterday"}]}}"#, "AAPL:"),
            (
                br#"{"trades": {}, "next_page_token": 7}"#,
                "next_page_token is 7",
            ),
        ] {
            let mut backfill =
                MarketBackfill::new(Backfill::TRADES, "sip", RecoveryConfig::default());
            let mut set = SubscriptionSet::new();
            set.insert(Channel::Trades, Symbol::from_server("AAPL"));
            backfill.handle_event(&Event::Confirmed(set));
            let at: Timestamp = "2026-12-06T15:00:00Z".parse().expect("time");
            backfill.handle_resumed(Some(at), Some(at.saturating_add_nanos(5_000_000_000)), None);
            let Some(BackfillOutput::Fetch(fetch)) = backfill.poll_output() else {
                panic!("a fetch first")
            };
            assert!(
                fetch.path_and_query.starts_with(
                    "/v2/stocks/trades?symbols=AAPL&start=2026-12-06T14%3A59%3A58Z&end=2026-12-06T15%3A00%3A07Z&limit=10000&feed=sip"
                ),
                "{}",
                fetch.path_and_query
            );
            backfill.handle_page(&fetch, body);
            let Some(BackfillOutput::Abandoned(reason)) = backfill.poll_output() else {
                panic!("abandoned")
            };
            assert!(
                reason.contains("backfilling trades gave up") && reason.contains(why),
                "{reason}"
            );
        }
    }

    /// Rule 14 of the simulation found trades of a symbol unsubscribed
    /// during a gap (or refused on resubscribing) missing: the window named
    /// only the symbols subscribed at the resume. It names every symbol
    /// subscribed since the gap began (a reconnection that confirmed TSLA
    /// and was lost before going live delivered some of its trades).
    #[test]
    fn a_symbol_unsubscribed_during_the_gap_is_backfilled_up_to_the_resume() {
        let mut backfill = MarketBackfill::new(Backfill::TRADES, "iex", RecoveryConfig::default());
        let set = |symbols: &[&str]| {
            let mut set = SubscriptionSet::new();
            for symbol in symbols {
                set.insert(Channel::Trades, Symbol::from_server(symbol));
            }
            Event::Confirmed(set)
        };
        backfill.handle_event(&set(&["AAPL", "MSFT"]));
        let at: Timestamp = "2026-12-06T15:00:00Z".parse().expect("time");
        backfill.handle_gap(Some(at), Some(at));
        backfill.handle_event(&set(&["AAPL", "TSLA"]));
        backfill.handle_event(&set(&["AAPL"]));
        backfill.handle_resumed(
            Some(at),
            Some(at.saturating_add_nanos(5_000_000_000)),
            Some(at),
        );
        let Some(BackfillOutput::Fetch(fetch)) = backfill.poll_output() else {
            panic!("a fetch")
        };
        assert!(
            fetch.path_and_query.contains("symbols=AAPL%2CMSFT%2CTSLA&"),
            "{}",
            fetch.path_and_query
        );
        // The next gap names what is subscribed then.
        backfill.handle_gap(Some(at), Some(at));
        backfill.handle_resumed(Some(at), Some(at.saturating_add_nanos(1)), Some(at));
        let fetches: Vec<String> = std::iter::from_fn(|| backfill.poll_output())
            .filter_map(|output| match output {
                BackfillOutput::Fetch(fetch) => Some(fetch.path_and_query),
                _ => None,
            })
            .collect();
        assert!(
            fetches.iter().any(|f| f.contains("symbols=AAPL&")),
            "{fetches:?}"
        );
    }

    /// Rule 14 of the simulation found trades lost to a link that hung
    /// after a resume, before any data came: the window started at the
    /// loss (the ping's timeout, seconds later), not where the stream was
    /// last caught up.
    #[test]
    fn a_gap_without_data_since_going_live_reaches_back_to_going_live() {
        let at: Timestamp = "2026-12-06T15:00:00Z".parse().expect("time");
        let secs = |s: i128| at.saturating_add_nanos(s * 1_000_000_000);
        let first_start = |went_live: Option<Timestamp>, resumed: bool| {
            let mut backfill =
                MarketBackfill::new(Backfill::TRADES, "iex", RecoveryConfig::default());
            let mut set = SubscriptionSet::new();
            set.insert(Channel::Trades, Symbol::from_server("AAPL"));
            backfill.handle_event(&Event::Confirmed(set));
            if let Some(now) = went_live {
                backfill.handle_went_live(now);
            }
            if resumed {
                backfill.handle_gap(Some(secs(5)), None);
                backfill.handle_resumed(Some(secs(5)), Some(secs(10)), None);
                std::iter::from_fn(|| backfill.poll_output()).for_each(drop);
            }
            backfill.handle_gap(Some(secs(30)), None);
            backfill.handle_resumed(Some(secs(30)), Some(secs(40)), None);
            std::iter::from_fn(|| backfill.poll_output())
                .find_map(|output| match output {
                    BackfillOutput::Fetch(fetch) => Some(fetch.path_and_query),
                    _ => None,
                })
                .expect("a fetch")
        };
        // Live at 15:00:01, lost at 15:00:30: from 15:00:01 (less the margin).
        let fetch = first_start(Some(secs(1)), false);
        assert!(fetch.contains("start=2026-12-06T14%3A59%3A59Z&"), "{fetch}");
        // Resumed at 15:00:10, lost at 15:00:30: from 15:00:10.
        let fetch = first_start(None, true);
        assert!(fetch.contains("start=2026-12-06T15%3A00%3A08Z&"), "{fetch}");
        // Never told when it went live: from the loss.
        let fetch = first_start(None, false);
        assert!(fetch.contains("start=2026-12-06T15%3A00%3A28Z&"), "{fetch}");
    }

    /// Rule 14 of the simulation found trades of a symbol unsubscribed
    /// after the last live trade and before the loss was noticed missing:
    /// a server that withholds data (its client taken for not reading)
    /// still acknowledges, so what the gap hid began before the symbol left.
    #[test]
    fn a_symbol_that_left_after_the_last_live_trade_is_in_the_window() {
        let at: Timestamp = "2026-12-06T15:00:00Z".parse().expect("time");
        let set = |symbols: &[&str]| {
            let mut set = SubscriptionSet::new();
            for symbol in symbols {
                set.insert(Channel::Trades, Symbol::from_server(symbol));
            }
            Event::Confirmed(set)
        };
        let trade = |symbol: &str, id: u64| {
            Event::Data(MarketData::Trade(Trade {
                symbol: Symbol::from_server(symbol),
                id: Some(id),
                exchange: None,
                price: 1.0,
                size: 1.0,
                conditions: crate::Conditions::new(),
                timestamp: at,
                tape: None,
                taker_side: None,
            }))
        };
        let mut backfill = MarketBackfill::new(Backfill::TRADES, "iex", RecoveryConfig::default());
        backfill.handle_went_live(at);
        backfill.handle_event(&set(&["AAPL", "IBM", "MSFT"]));
        // IBM leaves before a live trade: nothing of it can be missing.
        backfill.handle_event(&set(&["AAPL", "MSFT"]));
        backfill.handle_event(&trade("AAPL", 1));
        // MSFT leaves after the last live trade: it may be.
        backfill.handle_event(&set(&["AAPL"]));
        backfill.handle_gap(Some(at), Some(at));
        backfill.handle_resumed(
            Some(at),
            Some(at.saturating_add_nanos(5_000_000_000)),
            Some(at),
        );
        let fetch = std::iter::from_fn(|| backfill.poll_output())
            .find_map(|output| match output {
                BackfillOutput::Fetch(fetch) => Some(fetch.path_and_query),
                _ => None,
            })
            .expect("a fetch");
        assert!(fetch.contains("symbols=AAPL%2CMSFT&"), "{fetch}");
    }

    #[test]
    fn quotes_and_kinds_not_backfilled_pass_at_once_and_no_window_opens_for_them() {
        let mut backfill = MarketBackfill::new(Backfill::BARS, "iex", RecoveryConfig::default());
        let mut set = SubscriptionSet::new();
        set.insert(Channel::Trades, Symbol::from_server("AAPL"));
        set.insert(Channel::Quotes, Symbol::from_server("AAPL"));
        backfill.handle_event(&Event::Confirmed(set));
        let at: Timestamp = "2026-12-06T15:00:00Z".parse().expect("time");
        backfill.handle_resumed(Some(at), Some(at), None);
        assert_eq!(
            backfill.poll_output(),
            None,
            "no bars subscribed, no trades wanted"
        );
        let trade = Trade {
            symbol: Symbol::from_server("AAPL"),
            id: Some(1),
            exchange: None,
            price: 1.0,
            size: 1.0,
            conditions: crate::Conditions::new(),
            timestamp: at,
            tape: None,
            taker_side: None,
        };
        for _ in 0..2 {
            backfill.handle_live(MarketData::Trade(trade.clone()));
            assert_eq!(
                backfill.poll_output(),
                Some(BackfillOutput::Deliver {
                    data: MarketData::Trade(trade.clone()),
                    backfilled: false
                }),
                "trades are not backfilled, so not deduplicated either"
            );
        }
    }
}
