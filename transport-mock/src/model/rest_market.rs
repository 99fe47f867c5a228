//! `GET /v2/stocks/trades` and `GET /v2/stocks/bars`: the historical
//! market-data API, answered from the [`Tape`](super::tape::Tape) the
//! stream reads, as sans-I/O answers (query and `now` in, status and JSON
//! body out).

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tickwire_alpaca::{Bar, Trade};
use tickwire_core::{Symbol, Timestamp};

use super::endpoint::Kind;
use super::rest_orders::{RestResponse, percent_decoded};
use super::tape::{TapeKey, bucket_start};
use super::{Endpoint, Exchange};

/// Most records one answer may hold (`limit`'s maximum).
pub const MARKET_PAGE_MAX: usize = 10_000;
/// Records per answer when the request names no `limit`.
const MARKET_PAGE_DEFAULT: usize = 1_000;
/// Ticks of the tape one answer reads at most; past it the answer ends
/// early with a page token, so a long quiet window costs bounded work a page.
pub const TAPE_TICKS_PER_PAGE_MAX: u64 = 1_000_000;
/// Most symbols one request may name.
const SYMBOLS_MAX: usize = 1_000;
/// Longest query accepted, in bytes.
const QUERY_BYTES_MAX: usize = 16 * 1024;

/// What a historical request asks for.
#[derive(Debug)]
struct MarketQuery {
    symbols: Vec<Symbol>,
    endpoint: Endpoint,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    limit: usize,
    page: Option<Position>,
    timeframe: Option<Duration>,
}

/// Where a page starts: the symbol's index in the (sorted) list, then the
/// tick and the trade in it (trades) or the bar's start (bars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    symbol: usize,
    at: i128,
    within: u32,
}

impl Position {
    /// An opaque token: the position's text, hex-encoded.
    fn token(self) -> String {
        let text = format!("{}:{}:{}", self.symbol, self.at, self.within);
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn parse(token: &str) -> Option<Self> {
        let bytes: Option<Vec<u8>> = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
            .collect();
        let text = String::from_utf8(bytes?).ok()?;
        let mut parts = text.split(':');
        let position = Self {
            symbol: parts.next()?.parse().ok()?,
            at: parts.next()?.parse().ok()?,
            within: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(position)
    }
}

impl Exchange {
    /// Answers `GET /v2/stocks/trades?{query}` at `now` from the tape.
    ///
    /// Parameters, as Alpaca's historical API takes them: `symbols`
    /// (comma-separated, required), `start` and `end` (RFC 3339, both
    /// inclusive; default: the exchange's start and `now`), `limit` (1 to
    /// 10,000, default 1,000; over all symbols), `feed` (`iex`, `sip`,
    /// `delayed_sip`, or this exchange's `test`; default `sip` when the
    /// account may read it, else `iex`), `page_token`, `sort` (`asc`
    /// only). The body is `{"trades": {"AAPL": [{"t","x","p","s","c","i","z"}…]},
    /// "next_page_token": …}`, by symbol then time; symbols without trades
    /// are left out. Trades after `now` have not happened yet. Bad
    /// credentials are 401, a feed the account may not read 403, a bad
    /// parameter 422 naming it (`{"code","message"}`). A page reads at most
    /// [`TAPE_TICKS_PER_PAGE_MAX`] ticks and may hold fewer than `limit`
    /// trades before its token.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tickwire_mock::{Account, Exchange, ExchangeConfig};
    /// let start = Instant::now();
    /// let config = ExchangeConfig::new(7).with_account(Account::new("key", "secret"));
    /// let exchange = Exchange::new(config, start);
    /// let query = "symbols=AAPL&feed=iex&start=2024-01-02T14:30:00Z&end=2024-01-02T14:30:10Z";
    /// let answer = exchange.rest_trades("key", "secret", query, start + Duration::from_secs(60));
    /// assert_eq!(answer.status, 200);
    /// let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    /// assert!(body["trades"]["AAPL"].as_array().is_some_and(|t| !t.is_empty()));
    /// ```
    pub fn rest_trades(
        &self,
        key_id: &str,
        secret: &str,
        query: &str,
        now: Instant,
    ) -> RestResponse {
        let request = match self.market_query(key_id, secret, query, false) {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        let last_tick = self.generator.last_tick(now);
        let tape = self.generator.tape();
        let (mut by_symbol, mut next) = (Map::new(), None);
        let (mut count, mut ticks_read) = (0, 0);
        let first = request.page.unwrap_or(Position {
            symbol: 0,
            at: -1,
            within: 0,
        });
        let mut buffer = Vec::new();
        'symbols: for (index, symbol) in request.symbols.iter().enumerate().skip(first.symbol) {
            let key = TapeKey::new(request.endpoint, symbol);
            let start = request
                .start
                .unwrap_or_else(|| tape.wall(request.endpoint, 0));
            let mut from = tape.first_tick_from(request.endpoint, start);
            let end_tick = request.end.map_or(last_tick, |end| {
                tape.last_tick_until(request.endpoint, end).min(last_tick)
            });
            let mut skip = 0;
            if index == first.symbol && first.at >= 0 {
                from = u64::try_from(first.at).unwrap_or(u64::MAX);
                skip = first.within as usize;
            }
            let mut listed = Vec::new();
            for n in from..=end_tick {
                if ticks_read >= TAPE_TICKS_PER_PAGE_MAX {
                    next = Some(Position {
                        symbol: index,
                        at: i128::from(n),
                        within: 0,
                    });
                    push_symbol(&mut by_symbol, symbol, listed, trade_json);
                    break 'symbols;
                }
                ticks_read += 1;
                buffer.clear();
                tape.trades(&key, n, &mut buffer);
                for (j, trade) in buffer.drain(..).enumerate().skip(std::mem::take(&mut skip)) {
                    let inside = request.start.is_none_or(|s| trade.timestamp >= s)
                        && request.end.is_none_or(|e| trade.timestamp <= e);
                    if !inside {
                        continue;
                    }
                    if count == request.limit {
                        let within = u32::try_from(j).unwrap_or(u32::MAX);
                        next = Some(Position {
                            symbol: index,
                            at: i128::from(n),
                            within,
                        });
                        push_symbol(&mut by_symbol, symbol, listed, trade_json);
                        break 'symbols;
                    }
                    count += 1;
                    listed.push(trade);
                }
            }
            push_symbol(&mut by_symbol, symbol, listed, trade_json);
        }
        page_answer("trades", by_symbol, next)
    }

    /// Answers `GET /v2/stocks/bars?{query}` at `now` from the tape: the
    /// bars of `timeframe` (`{1..59}Min`, `{1..23}Hour`; `T` and `H` as
    /// short forms) that started within `[start, end]` and have ended by
    /// `now`, each the aggregate of the tape's trades in it (so a `1Min`
    /// bar equals the streamed minute bar when [`MarketConfig::bar_interval`](super::MarketConfig::bar_interval)
    /// is a minute). Other parameters and errors as for
    /// [`rest_trades`](Self::rest_trades); the body is `{"bars": {"AAPL":
    /// [{"t","o","h","l","c","v","n","vw"}…]}, "next_page_token": …}`.
    pub fn rest_bars(&self, key_id: &str, secret: &str, query: &str, now: Instant) -> RestResponse {
        let request = match self.market_query(key_id, secret, query, true) {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        let interval = request.timeframe.unwrap_or(Duration::from_secs(60));
        let width = interval.as_nanos() as i128;
        let last_tick = self.generator.last_tick(now);
        let tape = self.generator.tape();
        // A bar is out once a tick at or after its end happened.
        let ended_by = tape.wall(request.endpoint, last_tick).unix_nanos();
        let (mut by_symbol, mut next) = (Map::new(), None);
        let (mut count, mut ticks_read) = (0, 0);
        let first = request.page.unwrap_or(Position {
            symbol: 0,
            at: i128::MIN,
            within: 0,
        });
        'symbols: for (index, symbol) in request.symbols.iter().enumerate().skip(first.symbol) {
            let key = TapeKey::new(request.endpoint, symbol);
            // Nothing trades before the tape begins: a start far before it
            // must not walk its empty buckets.
            let tape_start = tape.wall(request.endpoint, 0);
            let start = request.start.map_or(tape_start, |s| s.max(tape_start));
            let mut at = bucket_start(start, interval).unix_nanos();
            if at < start.unix_nanos() {
                at += width;
            }
            if index == first.symbol {
                at = at.max(first.at);
            }
            let end = request.end.map_or(i128::MAX, |end| end.unix_nanos());
            let mut listed = Vec::new();
            // `at` may come from a page token: checked, it ends the walk.
            while at <= end
                && at
                    .checked_add(width)
                    .is_some_and(|bar_end| bar_end <= ended_by)
            {
                if count == request.limit || ticks_read >= TAPE_TICKS_PER_PAGE_MAX {
                    next = Some(Position {
                        symbol: index,
                        at,
                        within: 0,
                    });
                    push_symbol(&mut by_symbol, symbol, listed, bar_json);
                    break 'symbols;
                }
                let bucket = Timestamp::from_unix_nanos(at as i64);
                if let Some(bar) = tape.bar(&key, bucket, interval, last_tick, &mut ticks_read) {
                    count += 1;
                    listed.push(bar);
                }
                at += width;
            }
            push_symbol(&mut by_symbol, symbol, listed, bar_json);
        }
        page_answer("bars", by_symbol, next)
    }

    /// The trades of `symbol` on `endpoint` stamped within `[from, to]`,
    /// as far as they have happened by `now`: what a subscriber streamed
    /// in that time (less what faults dropped), and what
    /// [`rest_trades`](Self::rest_trades) lists. At most
    /// [`TAPE_TICKS_PER_PAGE_MAX`] ticks are read (from `from` on).
    pub fn tape_trades(
        &self,
        endpoint: Endpoint,
        symbol: &Symbol,
        from: Timestamp,
        to: Timestamp,
        now: Instant,
    ) -> Vec<Trade> {
        let tape = self.generator.tape();
        let key = TapeKey::new(endpoint, symbol);
        let first = tape.first_tick_from(endpoint, from);
        let last = tape
            .last_tick_until(endpoint, to)
            .min(self.generator.last_tick(now))
            .min(first.saturating_add(TAPE_TICKS_PER_PAGE_MAX));
        let mut trades = Vec::new();
        for n in first..=last {
            tape.trades(&key, n, &mut trades);
        }
        trades.retain(|t| t.timestamp >= from && t.timestamp <= to);
        trades
    }

    /// The minute bars (of [`MarketConfig::bar_interval`](super::MarketConfig::bar_interval))
    /// of `symbol` on `endpoint` that started within `[from, to]` and ended by `now`.
    pub fn tape_bars(
        &self,
        endpoint: Endpoint,
        symbol: &Symbol,
        from: Timestamp,
        to: Timestamp,
        now: Instant,
    ) -> Vec<Bar> {
        let interval = self.generator.config().bar_interval;
        let width = interval.as_nanos().max(1) as i128;
        let tape = self.generator.tape();
        let last_tick = self.generator.last_tick(now);
        let ended_by = tape.wall(endpoint, last_tick).unix_nanos();
        let key = TapeKey::new(endpoint, symbol);
        let mut at = bucket_start(from, interval).unix_nanos();
        if at < from.unix_nanos() {
            at += width;
        }
        let mut bars = Vec::new();
        let mut ticks_read = 0;
        while at <= to.unix_nanos()
            && at + width <= ended_by
            && ticks_read < TAPE_TICKS_PER_PAGE_MAX
        {
            let bucket = Timestamp::from_unix_nanos(at as i64);
            bars.extend(tape.bar(&key, bucket, interval, last_tick, &mut ticks_read));
            at += width;
        }
        bars
    }

    /// Checks credentials and parses a historical query; the error answer
    /// when either fails.
    fn market_query(
        &self,
        key_id: &str,
        secret: &str,
        query: &str,
        bars: bool,
    ) -> Result<MarketQuery, RestResponse> {
        let Ok(account) = self.accounts.authenticate(key_id, secret) else {
            return Err(RestResponse::error(
                401,
                40_110_000,
                "request is not authorized",
            ));
        };
        let account = self.accounts.get(account);
        let request = MarketQuery::parse(query, bars, account.is_entitled(Endpoint::Sip))
            .map_err(|message| RestResponse::error(422, 42_210_000, &message))?;
        if !account.is_entitled(request.endpoint) {
            let message = format!(
                "subscription does not permit querying {} data",
                request.endpoint
            );
            return Err(RestResponse::error(403, 40_310_000, &message));
        }
        Ok(request)
    }
}

impl MarketQuery {
    fn parse(query: &str, bars: bool, sip_default: bool) -> Result<Self, String> {
        if query.len() > QUERY_BYTES_MAX {
            return Err(format!("the query is longer than {QUERY_BYTES_MAX} bytes"));
        }
        let mut request = Self {
            symbols: Vec::new(),
            endpoint: if sip_default {
                Endpoint::Sip
            } else {
                Endpoint::Iex
            },
            start: None,
            end: None,
            limit: MARKET_PAGE_DEFAULT,
            page: None,
            timeframe: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decoded(raw).ok_or_else(|| format!("{name}: bad escape"))?;
            let invalid = || format!("invalid {name}: {value:?}");
            match name {
                "symbols" => {
                    for text in value.split(',').filter(|s| !s.is_empty()) {
                        let symbol = Symbol::from_server(text);
                        if symbol.validate().is_err() || symbol.is_wildcard() {
                            return Err(format!("invalid symbol: {text:?}"));
                        }
                        request.symbols.push(symbol);
                    }
                }
                "start" => request.start = Some(value.parse().map_err(|_| invalid())?),
                "end" => request.end = Some(value.parse().map_err(|_| invalid())?),
                "limit" => {
                    request.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MARKET_PAGE_MAX).contains(n))
                        .ok_or_else(invalid)?;
                }
                "feed" => {
                    request.endpoint = match value.as_str() {
                        "iex" => Endpoint::Iex,
                        "sip" => Endpoint::Sip,
                        "delayed_sip" => Endpoint::DelayedSip,
                        "test" => Endpoint::Test,
                        _ => return Err(invalid()),
                    }
                }
                "page_token" if value.is_empty() => {}
                "page_token" => request.page = Some(Position::parse(&value).ok_or_else(invalid)?),
                "sort" if value == "asc" => {}
                "sort" => return Err(format!("{}: only sort=asc is simulated", invalid())),
                "timeframe" if bars => {
                    request.timeframe = Some(timeframe(&value).ok_or_else(invalid)?)
                }
                "asof" | "currency" | "adjustment" => {}
                _ => {}
            }
        }
        if request.symbols.is_empty() {
            return Err("symbols: at least one symbol is required".to_owned());
        }
        if request.symbols.len() > SYMBOLS_MAX {
            return Err(format!("symbols: at most {SYMBOLS_MAX} symbols"));
        }
        if bars && request.timeframe.is_none() {
            return Err("timeframe: required (e.g. 1Min)".to_owned());
        }
        if let (Some(start), Some(end)) = (request.start, request.end)
            && end < start
        {
            return Err("end is before start".to_owned());
        }
        if request.endpoint.kind() != Kind::Stocks && request.endpoint != Endpoint::Test {
            return Err("feed: not a stock feed".to_owned());
        }
        request.symbols.sort();
        request.symbols.dedup();
        if request
            .page
            .is_some_and(|p| p.symbol >= request.symbols.len())
        {
            return Err("invalid page_token: names no symbol of the request".to_owned());
        }
        Ok(request)
    }
}

/// A bar timeframe: `{1..59}Min` (or `T`), `{1..23}Hour` (or `H`).
fn timeframe(text: &str) -> Option<Duration> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (count, unit) = text.split_at(digits);
    let count: u64 = count.parse().ok()?;
    match unit {
        "Min" | "T" if (1..=59).contains(&count) => Some(Duration::from_secs(60 * count)),
        "Hour" | "H" if (1..=23).contains(&count) => Some(Duration::from_secs(3600 * count)),
        _ => None,
    }
}

/// Adds a symbol's records to the answer, unless it has none.
fn push_symbol<R>(
    map: &mut Map<String, Value>,
    symbol: &Symbol,
    records: Vec<R>,
    json: fn(R) -> Value,
) {
    if !records.is_empty() {
        let list = records.into_iter().map(json).collect();
        map.insert(symbol.as_str().to_owned(), Value::Array(list));
    }
}

fn page_answer(name: &str, by_symbol: Map<String, Value>, next: Option<Position>) -> RestResponse {
    let body = json!({ name: by_symbol, "next_page_token": next.map(Position::token) });
    RestResponse {
        status: 200,
        body: body.to_string(),
    }
}

/// A size as the API writes it: a whole number without a fraction.
fn size_json(size: f64) -> Value {
    if size.fract() == 0.0 && (0.0..9e15).contains(&size) {
        json!(size as u64)
    } else {
        json!(size)
    }
}

fn trade_json(trade: Trade) -> Value {
    let conditions: Vec<&str> = trade.conditions.iter().collect();
    let mut value = json!({
        "t": trade.timestamp.to_string(),
        "p": trade.price,
        "s": size_json(trade.size),
        "c": conditions,
        "i": trade.id,
    });
    for (name, field) in [("x", trade.exchange), ("z", trade.tape)] {
        if let Some(field) = field {
            value[name] = json!(field.as_str());
        }
    }
    value
}

fn bar_json(bar: Bar) -> Value {
    json!({
        "t": bar.timestamp.to_string(),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": size_json(bar.volume),
        "n": bar.trade_count,
        "vw": bar.vwap,
    })
}

#[cfg(test)]
mod tests {
    use tickwire_core::Frame;

    use super::super::{Account, ExchangeConfig, MarketConfig, Output};
    use super::*;

    const KEY: &str = "PKHISTORY";
    const SECRET: &str = "history-secret";
    const START: &str = "2024-01-02T14:30:00Z";

    /// A trade or bar as compared: symbol and its JSON without the symbol.
    type Record = (String, Value);

    fn config(seed: u64) -> ExchangeConfig {
        ExchangeConfig::new(seed)
            .with_account(Account::new(KEY, SECRET))
            .with_account(Account::new("FREE", "free").with_endpoints([Endpoint::Iex]))
    }

    /// Streams `subscribe` on `/v2/iex` from `after` to `until` (both from
    /// the exchange's start): the trades and minute bars a subscriber got.
    fn streamed(
        seed: u64,
        subscribe: &str,
        after: Duration,
        until: Duration,
    ) -> (Exchange, Instant, Vec<Record>, Vec<Record>) {
        let start = Instant::now();
        let mut ex = Exchange::new(config(seed), start);
        let mut now = start;
        while let Some(t) = ex.poll_timeout().filter(|t| *t <= start + after) {
            ex.handle_timeout(t);
            now = t;
        }
        now = now.max(start + after);
        let id = ex.open(now, "/v2/iex", &[]).expect("opens");
        let auth = format!(r#"{{"action":"auth","key":"{KEY}","secret":"{SECRET}"}}"#);
        ex.handle_frame(now, id, Frame::text(auth));
        ex.handle_frame(now, id, Frame::text(subscribe.to_owned()));
        let (mut trades, mut bars) = (Vec::new(), Vec::new());
        loop {
            while let Some((_, output)) = ex.poll_output() {
                let Output::Frame(frame) = output else {
                    continue;
                };
                let messages: Vec<Value> = serde_json::from_slice(frame.payload()).expect("JSON");
                for mut m in messages {
                    let kind = m["T"].as_str().unwrap_or_default().to_owned();
                    let symbol = m["S"].as_str().unwrap_or_default().to_owned();
                    let object = m.as_object_mut().expect("an object");
                    object.remove("T");
                    object.remove("S");
                    match kind.as_str() {
                        "t" => trades.push((symbol, numbers_as_floats(m))),
                        "b" => bars.push((symbol, numbers_as_floats(m))),
                        _ => {}
                    }
                }
            }
            match ex.poll_timeout().filter(|t| *t <= start + until) {
                Some(t) => ex.handle_timeout(t),
                None => break,
            }
        }
        (ex, start + until, trades, bars)
    }

    /// Every record `path` lists for `query`, following the page tokens;
    /// and how many pages it took.
    fn all_pages(ex: &Exchange, name: &str, query: &str, now: Instant) -> (Vec<Record>, usize) {
        let (mut records, mut pages, mut token) = (Vec::new(), 0, None::<String>);
        loop {
            let mut paged = query.to_owned();
            if let Some(token) = &token {
                paged.push_str(&format!("&page_token={token}"));
            }
            let answer = match name {
                "trades" => ex.rest_trades(KEY, SECRET, &paged, now),
                _ => ex.rest_bars(KEY, SECRET, &paged, now),
            };
            assert_eq!(answer.status, 200, "{paged}: {}", answer.body);
            let body: Value = serde_json::from_str(&answer.body).expect("JSON");
            pages += 1;
            for (symbol, list) in body[name].as_object().expect("by symbol") {
                for record in list.as_array().expect("a list") {
                    records.push((symbol.clone(), numbers_as_floats(record.clone())));
                }
            }
            match body["next_page_token"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return (records, pages),
            }
            assert!(pages < 10_000, "the pages end");
        }
    }

    /// The record with every number as a float (`100` and `100.0` are one size).
    fn numbers_as_floats(mut record: Value) -> Value {
        for (name, value) in record.as_object_mut().expect("an object") {
            if let (false, Some(number)) = (name == "i" || name == "n", value.as_f64()) {
                *value = json!(number);
            }
        }
        record
    }

    /// The streamed records in the order REST lists them: by symbol, then time.
    fn by_symbol(mut records: Vec<Record>) -> Vec<Record> {
        records.sort_by(|a, b| a.0.cmp(&b.0));
        records
    }

    #[test]
    fn the_rest_window_lists_exactly_the_trades_and_bars_the_stream_sent() {
        let subscribe = r#"{"action":"subscribe","trades":["AAPL","MSFT"],"bars":["AAPL","MSFT"]}"#;
        let (ex, end, trades, bars) =
            streamed(4, subscribe, Duration::ZERO, Duration::from_secs(150));
        assert!(trades.len() > 500, "{} trades", trades.len());
        assert_eq!(bars.len(), 4, "two minutes of two symbols: {bars:?}");
        let query = format!("symbols=MSFT,AAPL&feed=iex&start={START}&limit=97");
        let (listed, pages) = all_pages(&ex, "trades", &query, end);
        assert!(pages > 5, "{pages} pages");
        assert_eq!(listed, by_symbol(trades), "REST lists what was streamed");
        let (listed, _) = all_pages(&ex, "bars", &format!("{query}&timeframe=1Min"), end);
        assert_eq!(listed, by_symbol(bars), "REST bars are the streamed bars");
    }

    #[test]
    fn the_tape_does_not_depend_on_who_subscribed_or_when() {
        let window = "symbols=AAPL&feed=iex&start=2024-01-02T14:30:20Z&end=2024-01-02T14:30:40Z";
        let late = r#"{"action":"subscribe","quotes":["AAPL","AMD"],"trades":["AMD"]}"#;
        let (ex_late, end, _, _) =
            streamed(9, late, Duration::from_secs(50), Duration::from_secs(60));
        let early = r#"{"action":"subscribe","trades":["AAPL"]}"#;
        let (ex_early, _, streamed_early, _) =
            streamed(9, early, Duration::ZERO, Duration::from_secs(60));
        let (listed, _) = all_pages(&ex_late, "trades", window, end);
        assert!(!listed.is_empty());
        let from: Timestamp = "2024-01-02T14:30:20Z".parse().expect("time");
        let to: Timestamp = "2024-01-02T14:30:40Z".parse().expect("time");
        let in_window: Vec<Record> = streamed_early
            .into_iter()
            .filter(|(_, t)| {
                let at: Timestamp = t["t"].as_str().expect("t").parse().expect("time");
                at >= from && at <= to
            })
            .collect();
        assert_eq!(
            listed, in_window,
            "nobody streamed AAPL trades on the first exchange"
        );
        let typed =
            ex_early.tape_trades(Endpoint::Iex, &Symbol::from_server("AAPL"), from, to, end);
        let ids: Vec<u64> = typed.iter().filter_map(|t| t.id).collect();
        let listed_ids: Vec<u64> = listed.iter().filter_map(|(_, t)| t["i"].as_u64()).collect();
        assert_eq!(ids, listed_ids);
        let (other_seed, ..) = streamed(10, early, Duration::ZERO, Duration::from_secs(60));
        let (listed_other, _) = all_pages(&other_seed, "trades", window, end);
        assert_ne!(listed, listed_other, "another seed, another tape");
    }

    #[test]
    fn trades_of_the_future_are_not_listed_and_bars_only_once_ended() {
        let start = Instant::now();
        let ex = Exchange::new(config(2), start);
        let query = format!("symbols=AAPL&feed=iex&start={START}&timeframe=1Min");
        let count = |now: Instant, name: &str| {
            let (records, _) = all_pages(&ex, name, &query, now);
            records.len()
        };
        let at_30s = count(start + Duration::from_secs(30), "trades");
        assert!(at_30s > 0 && at_30s < count(start + Duration::from_secs(60), "trades"));
        assert_eq!(count(start + Duration::from_millis(59_900), "bars"), 0);
        assert_eq!(count(start + Duration::from_secs(60), "bars"), 1);
        assert_eq!(count(start + Duration::from_secs(179), "bars"), 2);
    }

    #[test]
    fn a_quiet_window_costs_bounded_work_a_page_and_ends() {
        let market = MarketConfig {
            trade_chance: 0.0,
            ..MarketConfig::default()
        };
        let start = Instant::now();
        let ex = Exchange::new(config(3).with_market(market), start);
        let two_days = start + Duration::from_secs(2 * 86_400);
        let (listed, pages) = all_pages(&ex, "trades", "symbols=AAPL&feed=iex", two_days);
        assert!(listed.is_empty());
        let ticks = 2 * 86_400 * 10;
        assert_eq!(
            pages as u64,
            ticks / TAPE_TICKS_PER_PAGE_MAX + 1,
            "{pages} pages"
        );
    }

    #[test]
    fn a_crafted_page_token_or_a_start_long_before_the_tape_costs_little() {
        let start = Instant::now();
        let ex = Exchange::new(config(5), start);
        let now = start + Duration::from_secs(300);
        let token = |text: &str| -> String { text.bytes().map(|b| format!("{b:02x}")).collect() };
        for query in [
            format!(
                "symbols=AAPL&timeframe=1Min&page_token={}",
                token(&format!("0:{}:0", i128::MAX))
            ),
            format!(
                "symbols=AAPL&timeframe=1Min&page_token={}",
                token(&format!("0:{}:0", i128::MIN))
            ),
            "symbols=AAPL&timeframe=1Min&start=1700-01-01T00:00:00Z".to_owned(),
        ] {
            let answer = ex.rest_bars(KEY, SECRET, &query, now);
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
        }
        let (far, _) = all_pages(
            &ex,
            "bars",
            "symbols=AAPL&timeframe=1Min&start=1700-01-01T00:00:00Z",
            now,
        );
        let (tape, _) = all_pages(&ex, "bars", "symbols=AAPL&timeframe=1Min", now);
        assert_eq!(far, tape, "the same bars, from the tape's start");
        assert!(!tape.is_empty());
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let start = Instant::now();
        let ex = Exchange::new(config(1), start);
        let now = start + Duration::from_secs(10);
        let ok = "symbols=AAPL&feed=iex";
        assert_eq!(ex.rest_trades(KEY, "wrong", ok, now).status, 401);
        let sip = ex.rest_trades("FREE", "free", "symbols=AAPL&feed=sip", now);
        assert_eq!(sip.status, 403, "{}", sip.body);
        assert_eq!(
            ex.rest_trades("FREE", "free", "symbols=AAPL", now).status,
            200,
            "iex by default"
        );
        for query in [
            "feed=iex",
            "symbols=*",
            "symbols=AAPL&start=yesterday",
            "symbols=AAPL&end=2024-01-02T14:00:00Z&start=2024-01-02T15:00:00Z",
            "symbols=AAPL&limit=0",
            "symbols=AAPL&limit=10001",
            "symbols=AAPL&feed=otc",
            "symbols=AAPL&feed=crypto",
            "symbols=AAPL&sort=desc",
            "symbols=AAPL&page_token=zz",
            "symbols=AAPL&page_token=393a303a30",
        ] {
            let answer = ex.rest_trades(KEY, SECRET, query, now);
            assert_eq!(answer.status, 422, "{query}: {}", answer.body);
            let body: Value = serde_json::from_str(&answer.body).expect("JSON");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
        }
        for timeframe in [
            "",
            "&timeframe=1Day",
            "&timeframe=60Min",
            "&timeframe=0Min",
            "&timeframe=Min",
        ] {
            let answer = ex.rest_bars(KEY, SECRET, &format!("{ok}{timeframe}"), now);
            assert_eq!(answer.status, 422, "{timeframe}: {}", answer.body);
        }
        let hourly = ex.rest_bars(KEY, SECRET, &format!("{ok}&timeframe=1Hour"), now);
        assert_eq!(hourly.status, 200, "{}", hourly.body);
    }
}
