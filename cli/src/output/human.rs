//! The human view: one aligned line per event.
//!
//! Data lines start with the message's own time (UTC, to the millisecond) and
//! symbol; lifecycle lines start with `*` (state, subscriptions, resumes) or
//! `!` (gaps, errors) so they stand out in a scrolling terminal.

use std::fmt::Write as _;
use std::time::Duration;

use tickwire_alpaca::SubscriptionSet;
use tickwire_alpaca::{Decimal, MarketData, OrderbookLevel, TradeUpdate};
use tickwire_core::Timestamp;
use tickwire_core::machine::{ConnectPhase, Event, State, StreamError};
use tickwire_ws::StreamEvent;

use super::{Clock, Rejection};

/// A data message that has a human line.
/// What starts the line of a snapshot: the latest value when a
/// subscription began (over a relay), not a new message.
const SNAPSHOT_LABEL: &str = "(snapshot) ";

pub(crate) trait HumanData {
    /// What starts its line when it was fetched again after a gap.
    const RECOVERED_LABEL: &'static str;

    /// Appends its line to `out`.
    fn human_line(&self, out: &mut String);
}

impl HumanData for MarketData {
    const RECOVERED_LABEL: &'static str = "(backfilled) ";

    fn human_line(&self, out: &mut String) {
        market(self, out);
    }
}

impl HumanData for TradeUpdate {
    const RECOVERED_LABEL: &'static str = "(reconciled) ";

    fn human_line(&self, out: &mut String) {
        trade_update(self, out);
    }
}

/// Appends the human form of `event` to `out` (without the newline); nothing
/// for a subscription verdict other than a rejection (the `subscribed` line
/// that follows shows its effect).
pub(crate) fn format<D: HumanData>(event: &StreamEvent<D>, clock: &Clock, out: &mut String) {
    let event = match event {
        StreamEvent::Machine(event) => event,
        StreamEvent::Recovered(data) => {
            out.push_str(D::RECOVERED_LABEL);
            return data.human_line(out);
        }
        StreamEvent::Snapshot(data) => {
            out.push_str(SNAPSHOT_LABEL);
            return data.human_line(out);
        }
        StreamEvent::Dropped { count, total } => {
            let _ = write!(
                out,
                "! the terminal fell behind: {count} data events dropped ({total} in all)"
            );
            return;
        }
        StreamEvent::RecoveryFailed { reason } => {
            let _ = write!(out, "! {reason}");
            return;
        }
    };
    match event {
        Event::Data(data) => data.human_line(out),
        Event::StateChanged(state) => {
            out.push_str("* state: ");
            state_text(state, clock, out);
        }
        Event::Subscription {
            channel, outcome, ..
        } => {
            if let Some(rejection) = Rejection::of_verdict(*channel, outcome) {
                rejected(&rejection, out);
            }
        }
        Event::Confirmed(set) => {
            out.push_str("* subscribed: ");
            subscription_text(set, out);
        }
        Event::Refused {
            channel,
            symbols,
            code,
            message,
        } => rejected(
            &Rejection {
                channel: *channel,
                code: *code,
                message,
                symbols,
            },
            out,
        ),
        Event::Gap { epoch, .. } => {
            let Some(times) = clock.gap_times(event) else {
                return;
            };
            let _ = write!(
                out,
                "! gap: connection {epoch} lost at {} UTC{}; data may be missing until it resumes",
                time_of_day(times.lost_at),
                last_data(times.last_data_at),
            );
        }
        Event::Resumed {
            epoch, lost_for, ..
        } => {
            let Some(times) = clock.gap_times(event) else {
                return;
            };
            let from = times.last_data_at.unwrap_or(times.lost_at);
            let _ = write!(
                out,
                "* resumed on connection {epoch} after {}; backfill {} to {} UTC",
                seconds(*lost_for),
                time_of_day(from),
                time_of_day(times.resumed_at.unwrap_or(from)),
            );
        }
        Event::Error { error, fatal } => error_text(error, *fatal, out),
        Event::Unknown { tag } => {
            let _ = write!(out, "* unknown message type {tag:?} (passed over)");
        }
    }
}

fn rejected(rejection: &Rejection<'_>, out: &mut String) {
    out.push_str("! rejected");
    if let Some(code) = rejection.code {
        let _ = write!(out, " ({code})");
    }
    let _ = write!(out, " on {}:", rejection.channel);
    for symbol in rejection.symbols {
        let _ = write!(out, " {symbol}");
    }
    let _ = write!(out, ": {}", rejection.message);
}

fn market(data: &MarketData, out: &mut String) {
    let _ = write!(out, "{}  ", time_of_day(data.timestamp()));
    match data {
        MarketData::Quote(q) => {
            let _ = write!(
                out,
                "{:<10} quote    {} x {:<6} | {} x {}",
                q.symbol.as_str(),
                price_column(q.bid_price),
                size(q.bid_size),
                price_column(q.ask_price),
                size(q.ask_size)
            );
        }
        MarketData::Trade(t) => {
            let _ = write!(
                out,
                "{:<10} trade    {} x {}",
                t.symbol.as_str(),
                price_column(t.price),
                size(t.size)
            );
            if let Some(exchange) = &t.exchange {
                let _ = write!(out, "  on {exchange}");
            }
        }
        MarketData::Bar(b) | MarketData::DailyBar(b) | MarketData::UpdatedBar(b) => {
            let label = match data {
                MarketData::DailyBar(_) => "daily",
                MarketData::UpdatedBar(_) => "bar*",
                _ => "bar",
            };
            let _ = write!(
                out,
                "{:<10} {label:<8} O {}  H {}  L {}  C {}  V {}",
                b.symbol.as_str(),
                price_column(b.open),
                price_column(b.high),
                price_column(b.low),
                price_column(b.close),
                size(b.volume)
            );
        }
        MarketData::Correction(c) => {
            let _ = write!(
                out,
                "{:<10} correct  #{} {} x {}  ->  #{} {} x {}",
                c.symbol.as_str(),
                c.original_id,
                price_column(c.original_price),
                size(c.original_size),
                c.corrected_id,
                price_column(c.corrected_price),
                size(c.corrected_size)
            );
        }
        MarketData::CancelError(x) => {
            let what = if x.action == "E" { "error" } else { "cancel" };
            let _ = write!(
                out,
                "{:<10} {what:<8} #{} {} x {}",
                x.symbol.as_str(),
                x.id,
                price_column(x.price),
                size(x.size)
            );
        }
        MarketData::Status(s) => {
            let _ = write!(
                out,
                "{:<10} status   {} {}",
                s.symbol.as_str(),
                s.status_code,
                s.status_message
            );
            if !s.reason_message.is_empty() {
                let _ = write!(out, " ({})", s.reason_message);
            }
        }
        MarketData::Luld(l) => {
            let _ = write!(
                out,
                "{:<10} luld     up {}  down {}",
                l.symbol.as_str(),
                price_column(l.limit_up_price),
                price_column(l.limit_down_price)
            );
        }
        MarketData::Imbalance(i) => {
            let _ = write!(
                out,
                "{:<10} imbal.   {}",
                i.symbol.as_str(),
                price_column(i.price)
            );
        }
        MarketData::Orderbook(o) => {
            let _ = write!(
                out,
                "{:<10} book     {} bids{}  |  {} asks{}",
                o.symbol.as_str(),
                o.bids.len(),
                best(o.bids.iter().map(|l| l.price).fold(None, max), &o.bids),
                o.asks.len(),
                best(o.asks.iter().map(|l| l.price).fold(None, min), &o.asks)
            );
            if o.reset {
                out.push_str("  (snapshot)");
            }
        }
        MarketData::News(n) => {
            let symbols: Vec<&str> = n.symbols.iter().map(|s| s.as_str()).collect();
            let _ = write!(out, "{:<10} news     {}", symbols.join(","), n.headline);
            if !n.source.is_empty() {
                let _ = write!(out, " ({})", n.source);
            }
        }
        // A kind added to core later: show at least its symbol and tag.
        #[allow(unreachable_patterns)]
        other => {
            let symbol = other.symbol().map(|s| s.as_str()).unwrap_or("-");
            let _ = write!(out, "{symbol:<10} {}", other.tag());
        }
    }
}

fn max(acc: Option<f64>, p: f64) -> Option<f64> {
    Some(acc.map_or(p, |a| a.max(p)))
}

fn min(acc: Option<f64>, p: f64) -> Option<f64> {
    Some(acc.map_or(p, |a| a.min(p)))
}

fn best(best_price: Option<f64>, levels: &[OrderbookLevel]) -> String {
    let Some(best_price) = best_price else {
        return String::new();
    };
    let at: f64 = levels
        .iter()
        .filter(|l| l.price == best_price)
        .map(|l| l.size)
        .sum();
    format!(", best {} x {}", price_column(best_price), size(at))
}

fn trade_update(update: &TradeUpdate, out: &mut String) {
    let order = &update.order;
    if let Some(timestamp) = update.timestamp {
        let _ = write!(out, "{}  ", time_of_day(timestamp));
    }
    let symbol = order.symbol.as_ref().map_or("-", |s| s.as_str());
    let _ = write!(out, "{symbol:<10} {:<16}", update.event.as_str());
    if let Some(side) = &order.side {
        let _ = write!(out, " {side}");
    }
    if let Some(qty) = &order.qty {
        let _ = write!(out, " {qty}");
    } else if let Some(notional) = &order.notional {
        let _ = write!(out, " ${notional}");
    }
    if let Some(kind) = order.r#type.as_ref().or(order.order_type.as_ref()) {
        let _ = write!(out, " {kind}");
    }
    if let Some(limit) = &order.limit_price {
        let _ = write!(out, " limit {limit}");
    }
    if let (Some(qty), Some(fill_price)) = (&update.qty, &update.price) {
        let _ = write!(out, "  filled {qty} @ {fill_price}");
    }
    if let Some(filled) = &order.filled_qty
        && filled.to_f64().is_some_and(|f| f > 0.0)
    {
        let _ = write!(out, "  (total {filled}");
        if let Some(total) = &order.qty {
            let _ = write!(out, "/{total}");
        }
        out.push(')');
    }
    if let Some(position) = update.position_qty.as_ref().map(Decimal::as_str) {
        let _ = write!(out, "  position {position}");
    }
    let short_id: String = order.id.chars().take(8).collect();
    let _ = write!(out, "  [{} order {short_id}]", order.status);
}

fn state_text(state: &State, clock: &Clock, out: &mut String) {
    out.push_str(state.name());
    match state {
        State::Subscribed { reconnect_at } => {
            let wait = reconnect_at.saturating_duration_since(clock.now);
            if wait >= Duration::from_millis(1) {
                let _ = write!(out, " (connecting in {})", seconds(wait));
            }
        }
        State::Connecting { epoch, phase, .. } => {
            let phase = match phase {
                ConnectPhase::Dialing => "dialing",
                ConnectPhase::Greeting => "waiting for the greeting",
                ConnectPhase::Authenticating => "authenticating",
                ConnectPhase::Subscribing => "subscribing",
            };
            let _ = write!(out, " (connection {epoch}, {phase})");
        }
        State::Live { epoch, .. } => {
            let _ = write!(out, " (connection {epoch})");
        }
        State::Failed { error } => {
            let _ = write!(out, ": {error}");
        }
        State::Idle | State::Closed => {}
    }
}

fn subscription_text(set: &SubscriptionSet, out: &mut String) {
    if set.is_empty() {
        out.push_str("nothing");
        return;
    }
    for (i, channel) in set.channels().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(channel.wire_name());
        for symbol in set.symbols(channel) {
            let _ = write!(out, " {symbol}");
        }
    }
}

fn error_text(error: &StreamError, fatal: bool, out: &mut String) {
    out.push_str(if fatal { "! fatal" } else { "! error" });
    if let Some(code) = error.code() {
        let _ = write!(out, " {code}");
    }
    let _ = write!(out, ": {error}");
    if !fatal {
        out.push_str(" (retrying)");
    }
}

/// `15:04:05.123` from a UTC timestamp.
pub(crate) fn time_of_day(timestamp: Timestamp) -> String {
    let text = timestamp.to_string();
    let time = text.split_once('T').map_or(text.as_str(), |(_, time)| time);
    let time = time.trim_end_matches('Z');
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    let millis: String = fraction
        .chars()
        .chain(std::iter::repeat('0'))
        .take(3)
        .collect();
    format!("{whole}.{millis}")
}

/// Two decimals, or six for prices under 1 (crypto).
pub(crate) fn price(value: f64) -> String {
    if value.abs() >= 1.0 || value == 0.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.6}")
    }
}

/// A [`price`] right-aligned in a column of 9.
fn price_column(value: f64) -> String {
    format!("{:>9}", price(value))
}

/// A size without a fraction when it is whole.
pub(crate) fn size(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// ` (last data at …)`, or nothing when no data message came before.
fn last_data(at: Option<Timestamp>) -> String {
    at.map(|at| format!(" (last data at {})", time_of_day(at)))
        .unwrap_or_default()
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use tickwire_alpaca::Channel;
    use tickwire_core::Symbol;
    use tickwire_core::machine::SubscriptionOutcome;

    use super::*;
    use crate::output::fixtures::{self, clock, data, machine};

    fn render<D: HumanData>(event: &StreamEvent<D>) -> String {
        let mut out = String::new();
        format(event, &clock(), &mut out);
        out
    }

    #[test]
    fn quotes_show_bid_and_ask() {
        let quote = fixtures::market(fixtures::QUOTE);
        assert_eq!(
            render(&data(quote)),
            "15:04:05.123  AAPL       quote       189.10 x 1      |    189.12 x 2"
        );
    }

    #[test]
    fn snapshots_are_marked() {
        let live = render(&data(fixtures::market(fixtures::QUOTE)));
        let snapshot = render(&StreamEvent::Snapshot(fixtures::market(fixtures::QUOTE)));
        assert_eq!(snapshot, format!("(snapshot) {live}"));
    }

    #[test]
    fn backfilled_trades_and_bars_are_marked() {
        for wire in [fixtures::TRADE, fixtures::BAR] {
            let live = render(&data(fixtures::market(wire)));
            let backfilled = render(&StreamEvent::Recovered(fixtures::market(wire)));
            assert_eq!(backfilled, format!("(backfilled) {live}"));
        }
    }

    #[test]
    fn trades_show_price_size_and_exchange() {
        let trade = fixtures::market(fixtures::TRADE);
        assert_eq!(
            render(&data(trade)),
            "15:04:05.500  SPY        trade       470.50 x 100  on V"
        );
    }

    #[test]
    fn every_kind_renders_on_one_line_with_its_symbol() {
        for (json, kind) in fixtures::ALL {
            let message = fixtures::market(json);
            let symbol = if kind == "news" {
                "AAPL,MSFT".to_owned()
            } else {
                message.symbol().unwrap().to_string()
            };
            let text = render(&data(message));
            assert!(!text.contains('\n'), "{kind}: {text}");
            assert!(text.contains(&symbol), "{kind}: {text}");
        }
        let book = fixtures::market(fixtures::ORDERBOOK);
        let text = render(&data(book));
        assert!(text.contains("best  42000.50 x 0.25"), "{text}");
        assert!(text.contains("best  42001.00 x 0.5"), "{text}");
    }

    #[test]
    fn fills_show_the_order() {
        let fill = fixtures::fill();
        let text = render(&data(fill));
        assert!(text.starts_with("15:04:05.000  AAPL       fill"), "{text}");
        assert!(text.contains("buy 10 market"), "{text}");
        assert!(text.contains("filled 10 @ 189.1"), "{text}");
        assert!(text.contains("position 10"), "{text}");
        assert!(text.contains("[filled order 61e69015]"), "{text}");
    }

    #[test]
    fn lifecycle_lines_stand_out() {
        let clock = clock();
        let mut out = String::new();
        format(
            &machine::<MarketData>(Event::StateChanged(State::Subscribed {
                reconnect_at: clock.now + Duration::from_millis(1500),
            })),
            &clock,
            &mut out,
        );
        assert_eq!(out, "* state: subscribed (connecting in 1.5 s)");

        assert_eq!(
            render(&fixtures::confirmed(&[
                (Channel::Quotes, "SPY"),
                (Channel::Quotes, "AAPL"),
                (Channel::Trades, "SPY"),
            ])),
            "* subscribed: trades SPY; quotes AAPL SPY"
        );

        let error = StreamError::Server {
            code: Some(406),
            message: "connection limit exceeded".into(),
        };
        let text = render(&machine::<MarketData>(Event::Error {
            error,
            fatal: false,
        }));
        assert!(text.starts_with("! error 406: "), "{text}");
        assert!(text.ends_with("(retrying)"), "{text}");

        let rejected = SubscriptionOutcome::Rejected {
            code: Some(405),
            message: "symbol limit exceeded".into(),
            symbols: vec![Symbol::new("TSLA").unwrap()],
        };
        let text = render(&machine::<MarketData>(Event::Subscription {
            request: fixtures::request_id(),
            channel: Channel::Quotes,
            outcome: rejected,
        }));
        assert_eq!(
            text,
            "! rejected (405) on quotes: TSLA: symbol limit exceeded"
        );
        let refused = render(&machine::<MarketData>(Event::Refused {
            channel: Channel::Quotes,
            symbols: vec![Symbol::new("TSLA").unwrap()],
            code: Some(405),
            message: "symbol limit exceeded".into(),
        }));
        assert_eq!(refused, text);
        let acknowledged = render(&machine::<MarketData>(Event::Subscription {
            request: fixtures::request_id(),
            channel: Channel::Quotes,
            outcome: SubscriptionOutcome::Acknowledged,
        }));
        assert_eq!(acknowledged, "", "the confirmed set has its own line");
        let dropped = render(&StreamEvent::<MarketData>::Dropped { count: 3, total: 7 });
        assert_eq!(
            dropped,
            "! the terminal fell behind: 3 data events dropped (7 in all)"
        );

        let text = render(&machine::<MarketData>(Event::Resumed {
            epoch: Default::default(),
            gap_since: clock.now,
            lost_for: Duration::from_millis(2300),
            lost_at: None,
            resumed_at: None,
            last_data_at: None,
        }));
        assert!(text.contains("after 2.3 s"), "{text}");
        // Without the machine's wall times, the printer's clock stands in.
        assert!(text.contains("; backfill 15:04:0"), "{text}");

        let at = |text: &str| Some(text.parse::<Timestamp>().unwrap());
        let text = render(&machine::<MarketData>(Event::Gap {
            epoch: Default::default(),
            since: clock.now,
            lost_at: at("2024-01-02T15:04:05.25Z"),
            last_data_at: at("2024-01-02T15:04:04.9Z"),
        }));
        assert!(
            text.contains("lost at 15:04:05.250 UTC (last data at 15:04:04.900)"),
            "{text}"
        );
        let text = render(&machine::<MarketData>(Event::Resumed {
            epoch: Default::default(),
            gap_since: clock.now,
            lost_for: Duration::from_millis(2300),
            lost_at: at("2024-01-02T15:04:05.25Z"),
            resumed_at: at("2024-01-02T15:04:07.55Z"),
            last_data_at: at("2024-01-02T15:04:04.9Z"),
        }));
        assert!(
            text.contains("backfill 15:04:04.900 to 15:04:07.550 UTC"),
            "{text}"
        );
    }

    #[test]
    fn times_are_cut_to_milliseconds() {
        for (time, shown) in [
            ("2024-01-02T15:04:05Z", "15:04:05.000"),
            ("2024-01-02T15:04:05.1Z", "15:04:05.100"),
        ] {
            assert_eq!(time_of_day(time.parse().unwrap()), shown);
        }
        assert_eq!(price_column(0.000123), " 0.000123");
        assert_eq!(size(2.5), "2.5");
    }
}
