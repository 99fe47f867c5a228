//! `--json`: one JSON object per line, from the `#[derive(Serialize)]` types
//! below: schema version 1, documented key by key in the crate docs
//! (`main.rs`). A change to these types is a change to that schema: keep
//! the table there, and the README's, in step.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use serde::{Serialize, Serializer};
use tickwire_alpaca::{Channel, Conditions, Decimal, MarketData, OrderbookLevel, SubscriptionSet};
use tickwire_alpaca::{Order, TradeUpdate};
use tickwire_core::machine::{ConnectPhase, Event, State, StreamError};
use tickwire_core::{Symbol, Timestamp};
use tickwire_ws::StreamEvent;

use super::{Clock, Rejection};

/// A data message that has a JSON line.
pub(crate) trait JsonData {
    /// The `source` of its line when it was fetched again after a gap.
    const RECOVERED_SOURCE: &'static str;

    /// Its line.
    fn json_line(&self) -> Line<'_>;
}

impl JsonData for MarketData {
    const RECOVERED_SOURCE: &'static str = "backfilled";

    fn json_line(&self) -> Line<'_> {
        market(self)
    }
}

impl JsonData for TradeUpdate {
    const RECOVERED_SOURCE: &'static str = "reconciled";

    fn json_line(&self) -> Line<'_> {
        Line::TradeUpdate(TradeUpdateLine::new(self))
    }
}

/// Appends the JSON form of `event` to `out` (without the newline); nothing
/// for events that have no line.
pub(crate) fn format<D: JsonData>(event: &StreamEvent<D>, clock: &Clock, out: &mut String) {
    let Some(line) = line(event, clock) else {
        return;
    };
    if let Some(source) = source::<D>(event) {
        return recovered(&line, source, out);
    }
    match serde_json::to_string(&line) {
        Ok(text) => out.push_str(&text),
        Err(error) => out.push_str(&unserializable(&error)),
    }
}

/// Writes the JSON form of `event` to `out` as it is serialized (without
/// the newline), never holding it whole; returns whether `event` has a line.
///
/// # Errors
/// When `out` fails.
pub(crate) fn write<D: JsonData, W: io::Write>(
    event: &StreamEvent<D>,
    clock: &Clock,
    out: &mut W,
) -> io::Result<bool> {
    let Some(line) = line(event, clock) else {
        return Ok(false);
    };
    if let Some(source) = source::<D>(event) {
        // Rare (after gaps and subscribes only): built whole, to add its `source`.
        let mut text = String::new();
        recovered(&line, source, &mut text);
        out.write_all(text.as_bytes())?;
        return Ok(true);
    }
    match serde_json::to_writer(&mut *out, &line) {
        Ok(()) => {}
        Err(error) if error.is_io() => return Err(error.into()),
        // Part of the line may be written already: the error line follows
        // it on the same line, which a reader sees as malformed either way.
        Err(error) => out.write_all(unserializable(&error).as_bytes())?,
    }
    Ok(true)
}

/// The line that stands for one that cannot be serialized: unreachable with
/// these types (string keys only), but never a panic.
fn unserializable(error: &serde_json::Error) -> String {
    serde_json::json!({"type": "error", "message": error.to_string(), "fatal": false}).to_string()
}

/// The line of `event`: `None` for a subscription verdict other than a
/// rejection (the `subscription` line that follows shows its effect).
pub(crate) fn line<'a, D: JsonData>(event: &'a StreamEvent<D>, clock: &Clock) -> Option<Line<'a>> {
    let event = match event {
        StreamEvent::Machine(event) => event,
        StreamEvent::Recovered(data) | StreamEvent::Snapshot(data) => {
            return Some(data.json_line());
        }
        StreamEvent::Dropped { count, total } => {
            return Some(Line::Dropped {
                count: *count,
                total: *total,
            });
        }
        StreamEvent::RecoveryFailed { reason } => {
            return Some(Line::Error(ErrorLine::recovery_failed(reason)));
        }
    };
    Some(match event {
        Event::Data(data) => data.json_line(),
        Event::StateChanged(state) => Line::State(StateLine::new(state, clock)),
        Event::Subscription {
            channel, outcome, ..
        } => Line::Error(ErrorLine::rejected(&Rejection::of_verdict(
            *channel, outcome,
        )?)),
        Event::Confirmed(set) => Line::Subscription {
            channels: channels(set),
        },
        Event::Refused {
            channel,
            symbols,
            code,
            message,
        } => Line::Error(ErrorLine::rejected(&Rejection {
            channel: *channel,
            code: *code,
            message,
            symbols,
        })),
        Event::Gap { epoch, .. } => {
            let times = clock.gap_times(event)?;
            Line::Gap {
                epoch: epoch.get(),
                since: times.lost_at,
                last_data_at: times.last_data_at,
            }
        }
        Event::Resumed {
            epoch, lost_for, ..
        } => {
            let times = clock.gap_times(event)?;
            Line::Resumed {
                epoch: epoch.get(),
                gap_since: times.lost_at,
                resumed_at: times.resumed_at?,
                lost_ms: millis(*lost_for),
                last_data_at: times.last_data_at,
            }
        }
        Event::Error { error, fatal } => Line::Error(ErrorLine::new(error, *fatal)),
        Event::Unknown { tag } => Line::Unknown { tag, symbol: None },
    })
}

/// The line of data fetched again after a gap: `line` with a `source` key.
/// The `source` of data that is not live: backfilled or reconciled after a
/// gap, or a snapshot when a subscription began; `None` for live data
/// and other events.
fn source<D: JsonData>(event: &StreamEvent<D>) -> Option<&'static str> {
    match event {
        StreamEvent::Recovered(_) => Some(D::RECOVERED_SOURCE),
        StreamEvent::Snapshot(_) => Some("snapshot"),
        _ => None,
    }
}

fn recovered(line: &Line<'_>, source: &str, out: &mut String) {
    match serde_json::to_value(line) {
        Ok(mut value) => {
            if let serde_json::Value::Object(keys) = &mut value {
                keys.insert("source".to_owned(), source.into());
            }
            out.push_str(&value.to_string());
        }
        Err(error) => out.push_str(
            &serde_json::json!({"type": "error", "message": error.to_string(), "fatal": false})
                .to_string(),
        ),
    }
}

/// One line of `--json` output.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Line<'a> {
    /// A quote.
    Quote(QuoteLine<'a>),
    /// A trade.
    Trade(TradeLine<'a>),
    /// A minute bar.
    Bar(BarLine<'a>),
    /// A daily bar.
    DailyBar(BarLine<'a>),
    /// A minute bar corrected after late trades.
    UpdatedBar(BarLine<'a>),
    /// A trade correction.
    Correction(CorrectionLine<'a>),
    /// A trade cancel or error.
    CancelError(CancelErrorLine<'a>),
    /// A trading status (halt, resume).
    Status(StatusLine<'a>),
    /// Limit up / limit down bands.
    Luld(LuldLine<'a>),
    /// An order imbalance.
    Imbalance(ImbalanceLine<'a>),
    /// A crypto order book update.
    Orderbook(OrderbookLine<'a>),
    /// A news article.
    News(NewsLine<'a>),
    /// An account update.
    TradeUpdate(TradeUpdateLine<'a>),
    /// The stream's state changed.
    State(StateLine),
    /// The server confirmed this (whole) subscription set.
    Subscription {
        /// Each channel's symbols, channels by snake_case name.
        channels: BTreeMap<Cow<'static, str>, Vec<&'a Symbol>>,
    },
    /// The stream stopped being live; data may be missing from `since`.
    Gap {
        /// The connection that was lost.
        epoch: u64,
        /// When it was lost.
        since: Timestamp,
        /// The own timestamp of the last data message before the loss.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_data_at: Option<Timestamp>,
    },
    /// The stream is live again: what was missed lies between
    /// `last_data_at` (or `gap_since`) and `resumed_at`.
    Resumed {
        /// The new connection.
        epoch: u64,
        /// When the gap began.
        gap_since: Timestamp,
        /// When the stream was live again.
        resumed_at: Timestamp,
        /// How long it lasted.
        lost_ms: u64,
        /// The own timestamp of the last data message before the gap.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_data_at: Option<Timestamp>,
    },
    /// Something went wrong.
    Error(ErrorLine<'a>),
    /// Data events dropped because the output could not keep up.
    Dropped {
        /// Since the last `dropped` line.
        count: u64,
        /// Since the start.
        total: u64,
    },
    /// A message type this version does not know.
    Unknown {
        /// Its type tag.
        tag: &'a str,
        /// Its symbol, when it has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        symbol: Option<&'a Symbol>,
    },
}

/// A `quote` line.
#[derive(Debug, Serialize)]
pub(crate) struct QuoteLine<'a> {
    symbol: &'a Symbol,
    bid_price: f64,
    bid_size: Size,
    #[serde(skip_serializing_if = "Option::is_none")]
    bid_exchange: Option<&'a str>,
    ask_price: f64,
    ask_size: Size,
    #[serde(skip_serializing_if = "Option::is_none")]
    ask_exchange: Option<&'a str>,
    #[serde(serialize_with = "conditions")]
    conditions: &'a Conditions,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// A `trade` line.
#[derive(Debug, Serialize)]
pub(crate) struct TradeLine<'a> {
    symbol: &'a Symbol,
    price: f64,
    size: Size,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<&'a str>,
    #[serde(serialize_with = "conditions")]
    conditions: &'a Conditions,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    taker_side: Option<&'a str>,
    timestamp: Timestamp,
}

/// A `bar`, `daily_bar` or `updated_bar` line.
#[derive(Debug, Serialize)]
pub(crate) struct BarLine<'a> {
    symbol: &'a Symbol,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: Size,
    #[serde(skip_serializing_if = "Option::is_none")]
    vwap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trade_count: Option<u64>,
    timestamp: Timestamp,
}

/// A `correction` line.
#[derive(Debug, Serialize)]
pub(crate) struct CorrectionLine<'a> {
    symbol: &'a Symbol,
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<&'a str>,
    original_id: u64,
    original_price: f64,
    original_size: Size,
    #[serde(serialize_with = "conditions")]
    original_conditions: &'a Conditions,
    corrected_id: u64,
    corrected_price: f64,
    corrected_size: Size,
    #[serde(serialize_with = "conditions")]
    corrected_conditions: &'a Conditions,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// A `cancel_error` line.
#[derive(Debug, Serialize)]
pub(crate) struct CancelErrorLine<'a> {
    symbol: &'a Symbol,
    id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exchange: Option<&'a str>,
    price: f64,
    size: Size,
    /// `cancel` or `error`.
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// A `status` line.
#[derive(Debug, Serialize)]
pub(crate) struct StatusLine<'a> {
    symbol: &'a Symbol,
    status_code: &'a str,
    status_message: &'a str,
    reason_code: &'a str,
    reason_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// A `luld` line.
#[derive(Debug, Serialize)]
pub(crate) struct LuldLine<'a> {
    symbol: &'a Symbol,
    limit_up_price: f64,
    limit_down_price: f64,
    indicator: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// An `imbalance` line.
#[derive(Debug, Serialize)]
pub(crate) struct ImbalanceLine<'a> {
    symbol: &'a Symbol,
    price: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tape: Option<&'a str>,
    timestamp: Timestamp,
}

/// An `orderbook` line.
#[derive(Debug, Serialize)]
pub(crate) struct OrderbookLine<'a> {
    symbol: &'a Symbol,
    #[serde(serialize_with = "levels")]
    bids: &'a [OrderbookLevel],
    #[serde(serialize_with = "levels")]
    asks: &'a [OrderbookLevel],
    /// Whether this is a whole snapshot rather than an update.
    reset: bool,
    timestamp: Timestamp,
}

/// One price level of an order book.
#[derive(Debug, Serialize)]
struct LevelLine {
    price: f64,
    size: Size,
}

/// A `news` line.
#[derive(Debug, Serialize)]
pub(crate) struct NewsLine<'a> {
    symbols: &'a [Symbol],
    id: u64,
    headline: &'a str,
    summary: &'a str,
    author: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    content: &'a str,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The same as `updated_at`, so that every data line has a timestamp.
    timestamp: Timestamp,
}

/// A `trade_update` line.
#[derive(Debug, Serialize)]
pub(crate) struct TradeUpdateLine<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    symbol: Option<&'a Symbol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<&'a Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qty: Option<&'a Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position_qty: Option<&'a Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_id: Option<&'a str>,
    /// The order as Alpaca describes it (snake_case keys).
    order: &'a Order,
}

impl<'a> TradeUpdateLine<'a> {
    fn new(update: &'a TradeUpdate) -> Self {
        Self {
            event: update.event.as_str(),
            symbol: update.order.symbol.as_ref(),
            timestamp: update.timestamp,
            price: update.price.as_ref(),
            qty: update.qty.as_ref(),
            position_qty: update.position_qty.as_ref(),
            execution_id: update.execution_id.as_deref(),
            order: &update.order,
        }
    }
}

/// A `state` line: the state's name and what it carries.
#[derive(Debug, Serialize)]
pub(crate) struct StateLine {
    state: &'static str,
    /// `subscribed`: the wait before the next connection attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    reconnect_in_ms: Option<u64>,
    /// `connecting`, `live`: the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    /// `connecting`: `dialing`, `greeting`, `authenticating` or `subscribing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'static str>,
    /// `failed`: the server's or HTTP code.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    /// `failed`: what happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl StateLine {
    fn new(state: &State, clock: &Clock) -> Self {
        let mut line = Self {
            state: state.name(),
            reconnect_in_ms: None,
            epoch: None,
            phase: None,
            code: None,
            message: None,
        };
        match state {
            State::Subscribed { reconnect_at } => {
                line.reconnect_in_ms =
                    Some(millis(reconnect_at.saturating_duration_since(clock.now)));
            }
            State::Connecting { epoch, phase, .. } => {
                line.epoch = Some(epoch.get());
                line.phase = Some(match phase {
                    ConnectPhase::Dialing => "dialing",
                    ConnectPhase::Greeting => "greeting",
                    ConnectPhase::Authenticating => "authenticating",
                    ConnectPhase::Subscribing => "subscribing",
                });
            }
            State::Live { epoch, .. } => line.epoch = Some(epoch.get()),
            State::Failed { error } => {
                line.code = error.code();
                line.message = Some(error.to_string());
            }
            State::Idle | State::Closed => {}
        }
        line
    }
}

/// An `error` line.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    message: String,
    fatal: bool,
    /// A refused subscription's channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<Cow<'static, str>>,
    /// A refused subscription's symbols.
    #[serde(skip_serializing_if = "Option::is_none")]
    symbols: Option<&'a [Symbol]>,
}

impl<'a> ErrorLine<'a> {
    fn new(error: &StreamError, fatal: bool) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
            fatal,
            channel: None,
            symbols: None,
        }
    }

    fn recovery_failed(reason: &str) -> Self {
        Self {
            code: None,
            message: reason.to_owned(),
            fatal: false,
            channel: None,
            symbols: None,
        }
    }

    fn rejected(rejection: &Rejection<'a>) -> Self {
        Self {
            code: rejection.code,
            message: format!("subscription rejected: {}", rejection.message),
            fatal: false,
            channel: Some(channel_name(rejection.channel)),
            symbols: Some(rejection.symbols),
        }
    }
}

/// A size: an integer when whole, so that share counts read as integers.
#[derive(Debug, Clone, Copy)]
struct Size(f64);

/// The largest whole number an `f64` holds exactly.
const EXACT_INTEGER_MAX: f64 = 9_007_199_254_740_992.0;

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self(value) = *self;
        if value.fract() == 0.0 && (0.0..=EXACT_INTEGER_MAX).contains(&value) {
            // Whole and in range: the conversion is exact.
            serializer.serialize_u64(value as u64)
        } else {
            serializer.serialize_f64(value)
        }
    }
}

fn conditions<S: Serializer>(conditions: &&Conditions, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(conditions.iter())
}

fn levels<S: Serializer>(levels: &&[OrderbookLevel], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(levels.iter().map(|level| LevelLine {
        price: level.price,
        size: Size(level.size),
    }))
}

/// A channel's name in snake_case (`updatedBars` becomes `updated_bars`).
fn channel_name(channel: Channel) -> Cow<'static, str> {
    let wire = channel.wire_name();
    if !wire.contains(|c: char| c.is_ascii_uppercase()) {
        return Cow::Borrowed(wire);
    }
    let mut name = String::with_capacity(wire.len() + 2);
    for c in wire.chars() {
        if c.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    Cow::Owned(name)
}

fn channels(set: &SubscriptionSet) -> BTreeMap<Cow<'static, str>, Vec<&Symbol>> {
    set.channels()
        .map(|channel| (channel_name(channel), set.symbols(channel).collect()))
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn market(data: &MarketData) -> Line<'_> {
    match data {
        MarketData::Quote(q) => Line::Quote(QuoteLine {
            symbol: &q.symbol,
            bid_price: q.bid_price,
            bid_size: Size(q.bid_size),
            bid_exchange: q.bid_exchange.as_deref(),
            ask_price: q.ask_price,
            ask_size: Size(q.ask_size),
            ask_exchange: q.ask_exchange.as_deref(),
            conditions: &q.conditions,
            tape: q.tape.as_deref(),
            timestamp: q.timestamp,
        }),
        MarketData::Trade(t) => Line::Trade(TradeLine {
            symbol: &t.symbol,
            price: t.price,
            size: Size(t.size),
            id: t.id,
            exchange: t.exchange.as_deref(),
            conditions: &t.conditions,
            tape: t.tape.as_deref(),
            taker_side: t.taker_side.as_deref(),
            timestamp: t.timestamp,
        }),
        MarketData::Bar(b) | MarketData::DailyBar(b) | MarketData::UpdatedBar(b) => {
            let line = BarLine {
                symbol: &b.symbol,
                open: b.open,
                high: b.high,
                low: b.low,
                close: b.close,
                volume: Size(b.volume),
                vwap: b.vwap,
                trade_count: b.trade_count,
                timestamp: b.timestamp,
            };
            match data {
                MarketData::DailyBar(_) => Line::DailyBar(line),
                MarketData::UpdatedBar(_) => Line::UpdatedBar(line),
                _ => Line::Bar(line),
            }
        }
        MarketData::Correction(c) => Line::Correction(CorrectionLine {
            symbol: &c.symbol,
            exchange: c.exchange.as_deref(),
            original_id: c.original_id,
            original_price: c.original_price,
            original_size: Size(c.original_size),
            original_conditions: &c.original_conditions,
            corrected_id: c.corrected_id,
            corrected_price: c.corrected_price,
            corrected_size: Size(c.corrected_size),
            corrected_conditions: &c.corrected_conditions,
            tape: c.tape.as_deref(),
            timestamp: c.timestamp,
        }),
        MarketData::CancelError(x) => Line::CancelError(CancelErrorLine {
            symbol: &x.symbol,
            id: x.id,
            exchange: x.exchange.as_deref(),
            price: x.price,
            size: Size(x.size),
            action: if x.action == "E" { "error" } else { "cancel" },
            tape: x.tape.as_deref(),
            timestamp: x.timestamp,
        }),
        MarketData::Status(s) => Line::Status(StatusLine {
            symbol: &s.symbol,
            status_code: &s.status_code,
            status_message: &s.status_message,
            reason_code: &s.reason_code,
            reason_message: &s.reason_message,
            tape: s.tape.as_deref(),
            timestamp: s.timestamp,
        }),
        MarketData::Luld(l) => Line::Luld(LuldLine {
            symbol: &l.symbol,
            limit_up_price: l.limit_up_price,
            limit_down_price: l.limit_down_price,
            indicator: &l.indicator,
            tape: l.tape.as_deref(),
            timestamp: l.timestamp,
        }),
        MarketData::Imbalance(i) => Line::Imbalance(ImbalanceLine {
            symbol: &i.symbol,
            price: i.price,
            tape: i.tape.as_deref(),
            timestamp: i.timestamp,
        }),
        MarketData::Orderbook(b) => Line::Orderbook(OrderbookLine {
            symbol: &b.symbol,
            bids: &b.bids,
            asks: &b.asks,
            reset: b.reset,
            timestamp: b.timestamp,
        }),
        MarketData::News(n) => Line::News(NewsLine {
            symbols: &n.symbols,
            id: n.id,
            headline: &n.headline,
            summary: &n.summary,
            author: &n.author,
            source: &n.source,
            url: n.url.as_deref(),
            content: &n.content,
            created_at: n.created_at,
            updated_at: n.updated_at,
            timestamp: n.updated_at,
        }),
        // A kind the protocol crate added later (`MarketData` is
        // `#[non_exhaustive]`): an `unknown` line with its tag and symbol.
        #[allow(unreachable_patterns)]
        other => Line::Unknown {
            tag: other.tag(),
            symbol: other.symbol(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};

    use tickwire_alpaca::Channel;
    use tickwire_core::Symbol;
    use tickwire_core::machine::SubscriptionOutcome;

    use super::*;
    use crate::output::fixtures::{self, clock, data, machine};

    fn render<D: JsonData>(event: &StreamEvent<D>) -> Value {
        let mut out = String::new();
        format(event, &clock(), &mut out);
        assert!(out.starts_with(r#"{"type":"#), "{out}");
        assert!(!out.contains('\n'));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    #[test]
    fn every_data_kind_has_its_type_and_symbol() {
        for (wire, kind) in fixtures::ALL {
            let message = fixtures::market(wire);
            let symbol = message.symbol().map(ToString::to_string);
            let line = render(&data(message));
            assert_eq!(line["type"], kind, "{line}");
            if kind == "news" {
                assert_eq!(line["symbols"], json!(["AAPL", "MSFT"]));
            } else {
                assert_eq!(line["symbol"], symbol.unwrap(), "{line}");
            }
            assert!(line["timestamp"].is_string(), "{line}");
        }
    }

    #[test]
    fn snapshots_say_so_in_their_source() {
        let mut live = render(&data(fixtures::market(fixtures::QUOTE)));
        let event = StreamEvent::Snapshot(fixtures::market(fixtures::QUOTE));
        let mut out = String::new();
        format(&event, &clock(), &mut out);
        let snapshot: Value = serde_json::from_str(&out).expect("a JSON line");
        assert!(live.get("source").is_none(), "{live}");
        live["source"] = json!("snapshot");
        assert_eq!(snapshot, live);
        let mut written = Vec::new();
        assert!(write(&event, &clock(), &mut written).expect("writes"));
        let written: Value = serde_json::from_slice(&written).expect("a JSON line");
        assert_eq!(written, live);
    }

    #[test]
    fn backfilled_trades_and_bars_say_so_in_their_source() {
        for wire in [fixtures::TRADE, fixtures::BAR] {
            let mut live = render(&data(fixtures::market(wire)));
            let mut out = String::new();
            format(
                &StreamEvent::Recovered(fixtures::market(wire)),
                &clock(),
                &mut out,
            );
            let backfilled: Value = serde_json::from_str(&out).expect("a JSON line");
            assert_eq!(backfilled["source"], "backfilled", "{backfilled}");
            assert!(live.get("source").is_none(), "{live}");
            live["source"] = json!("backfilled");
            assert_eq!(backfilled, live);
            // The printer's streaming writer says so too.
            let mut written = Vec::new();
            let event = StreamEvent::Recovered(fixtures::market(wire));
            assert!(write(&event, &clock(), &mut written).expect("writes"));
            let written: Value = serde_json::from_slice(&written).expect("a JSON line");
            assert_eq!(written, live);
        }
    }

    #[test]
    fn quotes_have_readable_field_names() {
        let quote = fixtures::market(fixtures::QUOTE);
        assert_eq!(
            render(&data(quote)),
            json!({
                "type": "quote", "symbol": "AAPL",
                "bid_price": 189.1, "bid_size": 1, "bid_exchange": "U",
                "ask_price": 189.12, "ask_size": 2, "ask_exchange": "Q",
                "conditions": ["R"], "tape": "C",
                "timestamp": "2024-01-02T15:04:05.123456789Z"
            })
        );
    }

    #[test]
    fn sizes_are_integers_when_whole() {
        let trade = render(&data(fixtures::market(fixtures::TRADE)));
        assert!(trade["size"].is_u64(), "{trade}");
        let bar = render(&data(fixtures::market(fixtures::BAR)));
        assert_eq!(bar["volume"], json!(12345));
        let book = render(&data(fixtures::market(fixtures::ORDERBOOK)));
        assert_eq!(
            book["bids"],
            json!([{"price": 42000.5, "size": 0.25}, {"price": 42000.0, "size": 1}])
        );
    }

    #[test]
    fn every_key_is_snake_case() {
        fn check(value: &Value) {
            match value {
                Value::Object(map) => {
                    for (key, value) in map {
                        assert!(
                            key.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                            "{key}"
                        );
                        check(value);
                    }
                }
                Value::Array(items) => items.iter().for_each(check),
                _ => {}
            }
        }
        for (wire, _) in fixtures::ALL {
            check(&render(&data(fixtures::market(wire))));
        }
        check(&render(&data(fixtures::fill())));
    }

    #[test]
    fn trade_updates_carry_event_symbol_and_order() {
        let fill = fixtures::fill();
        let line = render(&data(fill));
        assert_eq!(line["type"], "trade_update");
        assert_eq!(line["event"], "fill");
        assert_eq!(line["symbol"], "AAPL");
        assert_eq!(line["price"], "189.1");
        assert_eq!(line["order"]["side"], "buy");
        assert_eq!(line["order"]["status"], "filled");
    }

    #[test]
    fn lifecycle_lines() {
        let state = |state| machine::<MarketData>(Event::StateChanged(state));
        let line = render(&state(State::Closed));
        assert_eq!(line, json!({"type": "state", "state": "closed"}));

        let error = StreamError::Server {
            code: Some(402),
            message: "auth failed".into(),
        };
        let line = render(&state(State::Failed {
            error: error.clone(),
        }));
        assert_eq!(line["state"], "failed");
        assert_eq!(line["code"], 402);

        let line = render(&machine::<MarketData>(Event::Error { error, fatal: true }));
        assert_eq!(line["type"], "error");
        assert_eq!(line["code"], 402);
        assert!(line["message"].as_str().unwrap().contains("auth failed"));
        assert_eq!(line["fatal"], true);

        let timeout = StreamError::Timeout(tickwire_core::machine::TimeoutKind::DataSilence);
        let line = render(&machine::<MarketData>(Event::Error {
            error: timeout,
            fatal: false,
        }));
        assert!(line.get("code").is_none(), "{line}");

        assert_eq!(
            render(&fixtures::confirmed(&[
                (Channel::Quotes, "SPY"),
                (Channel::Trades, "SPY"),
                (Channel::DailyBars, "SPY"),
            ])),
            json!({"type": "subscription", "channels": {
                "trades": ["SPY"], "quotes": ["SPY"], "daily_bars": ["SPY"]
            }})
        );

        let clock = clock();
        let mut out = String::new();
        format(
            &machine::<MarketData>(Event::Gap {
                epoch: Default::default(),
                since: clock.now - Duration::from_millis(500),
                lost_at: None,
                last_data_at: None,
            }),
            &clock,
            &mut out,
        );
        let line: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            line,
            json!({"type": "gap", "epoch": 0, "since": "2024-01-02T15:04:04.5Z"})
        );

        let line = render(&machine::<MarketData>(Event::Resumed {
            epoch: Default::default(),
            gap_since: Instant::now(),
            lost_for: Duration::from_millis(1250),
            lost_at: None,
            resumed_at: None,
            last_data_at: None,
        }));
        assert_eq!(line["type"], "resumed");
        assert_eq!(line["lost_ms"], 1250);
        assert!(line.get("last_data_at").is_none(), "{line}");

        let at = |text: &str| Some(text.parse::<Timestamp>().unwrap());
        let line = render(&machine::<MarketData>(Event::Gap {
            epoch: Default::default(),
            since: Instant::now(),
            lost_at: at("2024-01-02T15:04:05.25Z"),
            last_data_at: at("2024-01-02T15:04:04.9Z"),
        }));
        assert_eq!(
            line,
            json!({"type": "gap", "epoch": 0, "since": "2024-01-02T15:04:05.25Z",
                   "last_data_at": "2024-01-02T15:04:04.9Z"})
        );
        let line = render(&machine::<MarketData>(Event::Resumed {
            epoch: Default::default(),
            gap_since: Instant::now(),
            lost_for: Duration::from_millis(2300),
            lost_at: at("2024-01-02T15:04:05.25Z"),
            resumed_at: at("2024-01-02T15:04:07.55Z"),
            last_data_at: at("2024-01-02T15:04:04.9Z"),
        }));
        assert_eq!(
            line,
            json!({"type": "resumed", "epoch": 0, "gap_since": "2024-01-02T15:04:05.25Z",
                   "resumed_at": "2024-01-02T15:04:07.55Z", "lost_ms": 2300,
                   "last_data_at": "2024-01-02T15:04:04.9Z"})
        );

        let line = render(&machine::<MarketData>(Event::Refused {
            channel: Channel::UpdatedBars,
            symbols: vec![Symbol::new("TSLA").unwrap()],
            code: Some(405),
            message: "symbol limit exceeded".into(),
        }));
        assert_eq!(line["type"], "error");
        assert_eq!(line["code"], 405);
        assert_eq!(line["symbols"], json!(["TSLA"]));
        assert_eq!(line["channel"], "updated_bars");
        assert_eq!(line["fatal"], false);

        let line = render(&StreamEvent::<MarketData>::Dropped { count: 3, total: 7 });
        assert_eq!(line, json!({"type": "dropped", "count": 3, "total": 7}));

        let mut out = String::new();
        let acknowledged = machine::<MarketData>(Event::Subscription {
            request: fixtures::request_id(),
            channel: Channel::Quotes,
            outcome: SubscriptionOutcome::Acknowledged,
        });
        format(&acknowledged, &clock, &mut out);
        assert_eq!(out, "", "the confirmed set has its own line");
    }
}
