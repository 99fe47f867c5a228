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

use compact_str::CompactString;
use serde_json::Value;
use tickwire_alpaca::{Bar, Channel, MarketData, SubscriptionSet, Trade};
use tickwire_core::machine::Event;
use tickwire_core::{Symbol, Timestamp};
use tickwire_recovery::{
    Fetch, Page, Recoverable, Recovery, RecoveryConfig, RecoveryOutput, Source, WindowId,
};

use crate::Backfill;
use tickwire_alpaca::query_escaped;

/// Records asked for per REST page (the API's maximum).
pub const MARKET_PAGE_LIMIT: usize = 10_000;
/// Symbols named in one request; more open one window per this many.
pub const BACKFILL_SYMBOLS_PER_REQUEST: usize = 200;
/// Symbols remembered per channel to stand for a `*` subscription.
const SEEN_SYMBOLS_MAX: usize = 10_000;
/// The bars fetched: one minute.
const BAR_NANOS: i128 = 60_000_000_000;

/// A trade as the planner compares it: by symbol and trade id.
#[derive(Debug, Clone, PartialEq)]
struct TradeRecord(Trade);

impl Recoverable for TradeRecord {
    /// (symbol, exchange, trade id, and the time for a trade without an
    /// id): a consolidated feed's trade ids are unique per symbol and
    /// reporting exchange only.
    type Key = (Symbol, Option<CompactString>, u64, i128);

    fn key(&self) -> Self::Key {
        let trade = &self.0;
        let (symbol, exchange) = (trade.symbol.clone(), trade.exchange.clone());
        match trade.id {
            Some(id) => (symbol, exchange, id, 0),
            None => (symbol, exchange, 0, trade.timestamp.unix_nanos()),
        }
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
/// Drive it with any HTTP client, e.g. [`RestClient`](crate::RestClient):
///
/// ```no_run
/// # async fn run(rest: tickwire_ws::RestClient, events: Vec<tickwire_ws::Event<tickwire_ws::MarketData, tickwire_ws::Channel>>) {
/// use tickwire_recovery::RecoveryConfig;
/// use tickwire_ws::{Backfill, BackfillOutput, MarketBackfill};
///
/// let mut backfill = MarketBackfill::new(Backfill::TRADES, "iex", RecoveryConfig::default());
/// for event in &events {
///     backfill.handle_event(event);
///     while let Some(output) = backfill.poll_output() {
///         match output {
///             BackfillOutput::Deliver { data, backfilled } => println!("{backfilled} {data:?}"),
///             BackfillOutput::Fetch(fetch) => match rest.get(&fetch.path_and_query).await {
///                 Ok(body) => backfill.handle_page(&fetch, &body),
///                 Err(error) => backfill.handle_fetch_failed(&fetch, &error.to_string()),
///             },
///             BackfillOutput::Abandoned(why) => eprintln!("{why}"),
///         }
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct MarketBackfill {
    kinds: Backfill,
    /// The `feed` parameter of the requests.
    feed: String,
    trades: Recovery<TradeRecord>,
    bars: Recovery<BarRecord>,
    /// The subscriptions the server last confirmed.
    subscribed: SubscriptionSet,
    /// Symbols seen live per channel, for a `*` subscription.
    seen: BTreeMap<Kind, BTreeSet<Symbol>>,
    /// The newest record of each kind delivered live.
    newest_live: BTreeMap<Kind, Timestamp>,
    /// Where each kind's window will start, fixed when the gap began: data
    /// delivered before the resume (acknowledged chunks of a subscription)
    /// must not move it past what the gap hid.
    gap_start: BTreeMap<Kind, Timestamp>,
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
            trades: Recovery::new(config.clone()),
            bars: Recovery::new(config),
            subscribed: SubscriptionSet::new(),
            seen: BTreeMap::new(),
            newest_live: BTreeMap::new(),
            gap_start: BTreeMap::new(),
            symbols: BTreeMap::new(),
            opening: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// A stream event: data goes through the deduplication, `Confirmed`
    /// sets say what is subscribed, each `Gap` fixes where its windows will
    /// start, each `Resumed` opens them.
    pub fn handle_event(&mut self, event: &Event<MarketData, Channel>) {
        match event {
            Event::Data(data) => self.handle_live(data.clone()),
            Event::Confirmed(set) => self.subscribed = set.clone(),
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
            let Some(start) = enabled
                .then(|| self.start_of(kind, lost_at, last_data_at))
                .flatten()
            else {
                continue;
            };
            let start = *self.gap_start.entry(kind).or_insert(start);
            match kind {
                Kind::Trades => self.trades.handle_gap(lost_at, Some(start)),
                Kind::Bars => self.bars.handle_gap(lost_at, Some(start)),
            }
        }
    }

    /// Where a window of `kind` starts: its last record delivered live.
    /// The machine's last message may be of another kind, older (a bar is
    /// stamped with its minute's start) or newer.
    fn start_of(
        &self,
        kind: Kind,
        lost_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) -> Option<Timestamp> {
        match (kind, self.newest_live.get(&kind)) {
            (_, Some(newest)) => Some(*newest),
            (Kind::Trades, None) => last_data_at.or(lost_at),
            // The bar being built when the stream was lost, and the one
            // before it (sent at that minute's end).
            (Kind::Bars, None) => last_data_at
                .or(lost_at)
                .map(|t| floor_to_minute(t).saturating_add_nanos(-BAR_NANOS)),
        }
    }

    /// The stream is live again: opens the windows of each kind
    /// backfilled, for the symbols subscribed on its channel.
    pub fn handle_resumed(
        &mut self,
        lost_at: Option<Timestamp>,
        resumed_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) {
        for (kind, enabled, channel) in [
            (Kind::Trades, self.kinds.trades(), Channel::Trades),
            (Kind::Bars, self.kinds.bars(), Channel::Bars),
        ] {
            if !enabled {
                continue;
            }
            let symbols = self.symbols_of(kind, channel);
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
            "{path}symbols={}&start={}&end={}&limit={MARKET_PAGE_LIMIT}&feed={}&sort=asc",
            query_escaped(symbols),
            query_escaped(&fetch.from.to_string()),
            query_escaped(&fetch.to.to_string()),
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
        let seen = self.seen.entry(kind).or_default();
        if seen.len() < SEEN_SYMBOLS_MAX && !seen.contains(symbol) {
            seen.insert(symbol.clone());
        }
    }

    /// The symbols subscribed on `channel`; a `*` stands for those seen live.
    fn symbols_of(&self, kind: Kind, channel: Channel) -> Vec<Symbol> {
        let mut symbols: BTreeSet<Symbol> = BTreeSet::new();
        for symbol in self.subscribed.symbols(channel) {
            if symbol.is_wildcard() {
                symbols.extend(self.seen.get(&kind).into_iter().flatten().cloned());
            } else {
                symbols.insert(symbol.clone());
            }
        }
        symbols.into_iter().collect()
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
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    use tickwire_core::Frame;
    use tickwire_core::machine::ConnectionEpoch;
    use tickwire_mock::{Account, Endpoint, Exchange, ExchangeConfig, Output};

    use super::*;

    const KEY: &str = "PKBACKFILL";
    const SECRET: &str = "backfill-secret";
    const SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

    /// What the application saw: each message with whether it was backfilled.
    type Seen = Vec<(MarketData, bool)>;

    /// Hands the backfill's outputs on, answering fetches from `exchange`
    /// at `now`; the number of fetches.
    fn drain(
        backfill: &mut MarketBackfill,
        exchange: &Exchange,
        now: Instant,
        seen: &mut Seen,
    ) -> usize {
        let mut fetches = 0;
        while let Some(output) = backfill.poll_output() {
            match output {
                BackfillOutput::Deliver { data, backfilled } => seen.push((data, backfilled)),
                BackfillOutput::Fetch(fetch) => {
                    fetches += 1;
                    let (path, query) = fetch.path_and_query.split_once('?').expect("a query");
                    let answer = match path {
                        "/v2/stocks/trades" => exchange.rest_trades(KEY, SECRET, query, now),
                        _ => exchange.rest_bars(KEY, SECRET, query, now),
                    };
                    assert_eq!(
                        answer.status, 200,
                        "{}: {}",
                        fetch.path_and_query, answer.body
                    );
                    backfill.handle_page(&fetch, answer.body.as_bytes());
                }
                BackfillOutput::Abandoned(why) => panic!("{why}"),
            }
        }
        fetches
    }

    /// A subscriber of AAPL and MSFT trades and bars for `span`, its
    /// stream down during `gap`: what the application saw, the exchange
    /// and the end.
    fn run(
        seed: u64,
        span: Duration,
        gap: (Duration, Duration),
    ) -> (Seen, Exchange, Instant, usize) {
        run_with_early_data(seed, span, gap, Duration::ZERO)
    }

    /// As [`run`], data flowing again `early` before the `Resumed` (as the
    /// first acknowledged chunks of a large subscription do).
    fn run_with_early_data(
        seed: u64,
        span: Duration,
        gap: (Duration, Duration),
        early: Duration,
    ) -> (Seen, Exchange, Instant, usize) {
        let start = Instant::now();
        let mut exchange = Exchange::new(
            ExchangeConfig::new(seed).with_account(Account::new(KEY, SECRET)),
            start,
        );
        let session = exchange.open(start, "/v2/iex", &[]).expect("opens");
        let auth = format!(r#"{{"action":"auth","key":"{KEY}","secret":"{SECRET}"}}"#);
        let subscribe = r#"{"action":"subscribe","trades":["AAPL","MSFT"],"bars":["AAPL","MSFT"]}"#;
        for frame in [auth.as_str(), subscribe] {
            exchange.handle_frame(start, session, Frame::text(frame.to_owned()));
        }
        let mut backfill = MarketBackfill::new(
            Backfill::TRADES | Backfill::BARS,
            "iex",
            RecoveryConfig::default(),
        );
        let mut confirmed = SubscriptionSet::new();
        for symbol in SYMBOLS {
            confirmed.insert(Channel::Trades, Symbol::from_server(symbol));
            confirmed.insert(Channel::Bars, Symbol::from_server(symbol));
        }
        backfill.handle_event(&Event::Confirmed(confirmed));
        let (mut seen, mut fetches, mut resumed, mut last_data_at) = (Vec::new(), 0, false, None);
        let mut lost = false;
        let mut now = start;
        loop {
            while let Some((_, output)) = exchange.poll_output() {
                let Output::Frame(frame) = output else {
                    continue;
                };
                let in_gap = now >= start + gap.0 && now < start + gap.1 - early;
                let Ok(messages) = serde_json::from_slice::<Vec<MarketData>>(frame.payload())
                else {
                    continue; // control messages
                };
                for data in messages.into_iter().filter(|_| !in_gap) {
                    last_data_at = match &data {
                        MarketData::Trade(t) => Some(t.timestamp),
                        MarketData::Bar(b) => Some(b.timestamp),
                        _ => last_data_at,
                    };
                    backfill.handle_event(&Event::Data(data));
                    fetches += drain(&mut backfill, &exchange, now, &mut seen);
                }
            }
            let Some(t) = exchange.poll_timeout().filter(|t| *t <= start + span) else {
                break;
            };
            if !lost && t >= start + gap.0 {
                lost = true;
                let loss: Event<MarketData, Channel> = Event::Gap {
                    epoch: ConnectionEpoch::default(),
                    since: start + gap.0,
                    lost_at: Some(exchange.wall_clock(start + gap.0)),
                    last_data_at,
                };
                backfill.handle_event(&loss);
            }
            if !resumed && t >= start + gap.1 {
                resumed = true;
                let resume: Event<MarketData, Channel> = Event::Resumed {
                    epoch: ConnectionEpoch::default(),
                    gap_since: start + gap.0,
                    lost_for: gap.1 - gap.0,
                    lost_at: Some(exchange.wall_clock(start + gap.0)),
                    resumed_at: Some(exchange.wall_clock(t)),
                    last_data_at,
                };
                backfill.handle_event(&resume);
                fetches += drain(&mut backfill, &exchange, t, &mut seen);
            }
            exchange.handle_timeout(t);
            now = t;
        }
        (seen, exchange, now, fetches)
    }

    /// Checks that every trade and minute bar of the tape up to `end`
    /// was seen once; how many of each were backfilled.
    fn check_once_each(
        seen: &Seen,
        exchange: &Exchange,
        end: Instant,
    ) -> Result<(usize, usize), String> {
        let (mut trades, mut bars) = (BTreeSet::new(), BTreeSet::new());
        let mut backfilled = (0, 0);
        for (data, from_rest) in seen {
            match data {
                MarketData::Trade(t) => {
                    if !trades.insert((t.symbol.clone(), t.id)) {
                        return Err(format!("twice: {t:?}"));
                    }
                    backfilled.0 += usize::from(*from_rest);
                }
                MarketData::Bar(b) => {
                    if !bars.insert((b.symbol.clone(), b.timestamp)) {
                        return Err(format!("twice: {b:?}"));
                    }
                    backfilled.1 += usize::from(*from_rest);
                }
                _ => {}
            }
        }
        // The whole tape up to the end (later ticks have not happened).
        let from = exchange.config().wall_clock_start;
        let to = exchange.wall_clock(end).saturating_add_nanos(1_000_000_000);
        for symbol in SYMBOLS.map(Symbol::from_server) {
            for trade in exchange.tape_trades(Endpoint::Iex, &symbol, from, to, end) {
                if !trades.remove(&(symbol.clone(), trade.id)) {
                    return Err(format!("missing {trade:?}"));
                }
            }
            for bar in exchange.tape_bars(Endpoint::Iex, &symbol, from, to, end) {
                if !bars.remove(&(symbol.clone(), bar.timestamp)) {
                    return Err(format!("missing {bar:?}"));
                }
            }
        }
        if !(trades.is_empty() && bars.is_empty()) {
            return Err(format!("not on the tape: {trades:?} {bars:?}"));
        }
        Ok(backfilled)
    }

    #[test]
    fn after_a_gap_over_a_minute_boundary_trades_and_bars_are_backfilled() {
        let (seen, exchange, end, fetches) = run(
            4,
            Duration::from_secs(200),
            (Duration::from_secs(50), Duration::from_secs(130)),
        );
        assert_eq!(fetches, 2, "one page of trades, one of bars");
        let (trades, bars) =
            check_once_each(&seen, &exchange, end).unwrap_or_else(|why| panic!("{why}"));
        assert!(
            trades > 300 && bars >= 2,
            "the gap hid data that was backfilled: {trades} trades, {bars} bars"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Wherever a gap falls and however long it lasts, every trade
        /// and bar of the tape arrives once, live or backfilled.
        #[test]
        fn every_trade_and_bar_of_the_tape_arrives_once(
            seed in 0..1_000_u64,
            start_ms in 1_000..150_000_u64,
            length_ms in 5_000..100_000_u64,
        ) {
            let gap = (Duration::from_millis(start_ms), Duration::from_millis(start_ms + length_ms));
            let (seen, exchange, end, _) = run(seed, gap.1 + Duration::from_secs(70), gap);
            let (trades, _) = check_once_each(&seen, &exchange, end).map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert!(trades > 0, "a gap of {length_ms} ms hid trades");
        }

        /// Data that flows again before the `Resumed` (the first chunks of
        /// a large subscription acknowledged) does not move the window
        /// past what the gap hid.
        #[test]
        fn data_before_the_resume_does_not_shorten_the_window(
            seed in 0..1_000_u64,
            start_ms in 1_000..150_000_u64,
            length_ms in 5_000..100_000_u64,
            early_ms in 100..4_000_u64,
        ) {
            let gap = (Duration::from_millis(start_ms), Duration::from_millis(start_ms + length_ms));
            let early = Duration::from_millis(early_ms.min(length_ms - 1_000));
            let (seen, exchange, end, _) =
                run_with_early_data(seed, gap.1 + Duration::from_secs(70), gap, early);
            let (trades, _) = check_once_each(&seen, &exchange, end).map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert!(trades > 0, "a gap of {length_ms} ms hid trades");
        }
    }

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
            conditions: tickwire_alpaca::Conditions::new(),
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
