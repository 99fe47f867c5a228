//! `--json`: one JSON object per line.
//!
//! Every object starts with `"type"`. Data lines (`quote`, `trade`, `bar`,
//! `daily_bar`, `updated_bar`, `status`, `luld`, `correction`,
//! `cancel_error`, `imbalance`, `orderbook`, `news`, `trade_update`) carry
//! `"symbol"` (news: `"symbols"`) and the message's fields under readable
//! names; lifecycle lines are `state`, `subscription`, `gap`, `resumed`,
//! `error` (with `"code"` when the server gave one, and `"message"`) and
//! `unknown`. Timestamps are RFC 3339 strings in UTC.

use serde_json::Value;
use tickwire_alpaca::SubscriptionSet;
use tickwire_alpaca::{Conditions, MarketData, OrderbookLevel, TradeUpdate};
use tickwire_core::Timestamp;
use tickwire_core::machine::{ConnectPhase, State};

use super::{Clock, Line};

/// Appends the JSON form of `line` to `out` (without the newline).
pub(crate) fn format(line: &Line<'_>, clock: &Clock, out: &mut String) {
    let mut object = Object::new(out);
    match line {
        Line::Market(data) => market(data, &mut object),
        Line::TradeUpdate(update) => trade_update(update, &mut object),
        Line::State(state) => state_fields(state, clock, &mut object),
        Line::Subscription(set) => {
            object.field("type", "subscription");
            subscription_fields(set, &mut object);
        }
        Line::Rejected {
            channel,
            code,
            message,
            symbols,
        } => {
            object.field("type", "error");
            object.optional("code", code.as_ref());
            object.field("message", format!("subscription rejected: {message}"));
            object.field("channel", channel.wire_name());
            object.field("symbols", symbols);
            object.field("fatal", false);
        }
        Line::Gap { epoch, since } => {
            object.field("type", "gap");
            object.field("epoch", epoch.get());
            object.field("since", clock.wall_time(*since).to_string());
        }
        Line::Resumed {
            epoch,
            gap_since,
            lost_for,
        } => {
            object.field("type", "resumed");
            object.field("epoch", epoch.get());
            object.field("gap_since", clock.wall_time(*gap_since).to_string());
            object.field(
                "lost_ms",
                u64::try_from(lost_for.as_millis()).unwrap_or(u64::MAX),
            );
        }
        Line::Error { error, fatal } => {
            object.field("type", "error");
            object.optional("code", error.code().as_ref());
            object.field("message", error.to_string());
            object.field("fatal", fatal);
        }
        Line::Unknown { tag } => {
            object.field("type", "unknown");
            object.field("tag", tag);
        }
        Line::Dropped { count, total } => {
            object.field("type", "error");
            object.field(
                "message",
                format!("the consumer fell behind: {count} data events dropped ({total} in all)"),
            );
            object.field("dropped", count);
            object.field("dropped_total", total);
            object.field("fatal", false);
        }
    }
    object.finish();
}

/// A JSON object written field by field, keeping the order fields are added
/// in (so `"type"` comes first).
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    fn field(&mut self, key: &str, value: impl serde::Serialize) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        push_json(self.out, &key);
        self.out.push(':');
        push_json(self.out, &value);
    }

    fn optional<T: serde::Serialize>(&mut self, key: &str, value: Option<T>) {
        if let Some(value) = value {
            self.field(key, value);
        }
    }

    fn finish(self) {
        self.out.push('}');
    }
}

fn push_json(out: &mut String, value: &impl serde::Serialize) {
    match serde_json::to_string(value) {
        Ok(text) => out.push_str(&text),
        // Only non-finite floats fail; JSON has no spelling for them.
        Err(_) => out.push_str("null"),
    }
}

fn time(timestamp: Timestamp) -> String {
    timestamp.to_string()
}

fn conditions(conditions: &Conditions) -> Vec<&str> {
    conditions.iter().collect()
}

fn market(data: &MarketData, o: &mut Object<'_>) {
    match data {
        MarketData::Quote(q) => {
            o.field("type", "quote");
            o.field("symbol", &q.symbol);
            o.field("bid_price", q.bid_price);
            o.field("bid_size", q.bid_size);
            o.optional("bid_exchange", q.bid_exchange.as_deref());
            o.field("ask_price", q.ask_price);
            o.field("ask_size", q.ask_size);
            o.optional("ask_exchange", q.ask_exchange.as_deref());
            o.field("conditions", conditions(&q.conditions));
            o.optional("tape", q.tape.as_deref());
            o.field("timestamp", time(q.timestamp));
        }
        MarketData::Trade(t) => {
            o.field("type", "trade");
            o.field("symbol", &t.symbol);
            o.field("price", t.price);
            o.field("size", t.size);
            o.optional("id", t.id);
            o.optional("exchange", t.exchange.as_deref());
            o.field("conditions", conditions(&t.conditions));
            o.optional("tape", t.tape.as_deref());
            o.optional("taker_side", t.taker_side.as_deref());
            o.field("timestamp", time(t.timestamp));
        }
        MarketData::Bar(b) | MarketData::DailyBar(b) | MarketData::UpdatedBar(b) => {
            let kind = match data {
                MarketData::DailyBar(_) => "daily_bar",
                MarketData::UpdatedBar(_) => "updated_bar",
                _ => "bar",
            };
            o.field("type", kind);
            o.field("symbol", &b.symbol);
            o.field("open", b.open);
            o.field("high", b.high);
            o.field("low", b.low);
            o.field("close", b.close);
            o.field("volume", b.volume);
            o.optional("vwap", b.vwap);
            o.optional("trade_count", b.trade_count);
            o.field("timestamp", time(b.timestamp));
        }
        MarketData::Correction(c) => {
            o.field("type", "correction");
            o.field("symbol", &c.symbol);
            o.optional("exchange", c.exchange.as_deref());
            o.field("original_id", c.original_id);
            o.field("original_price", c.original_price);
            o.field("original_size", c.original_size);
            o.field("original_conditions", conditions(&c.original_conditions));
            o.field("corrected_id", c.corrected_id);
            o.field("corrected_price", c.corrected_price);
            o.field("corrected_size", c.corrected_size);
            o.field("corrected_conditions", conditions(&c.corrected_conditions));
            o.optional("tape", c.tape.as_deref());
            o.field("timestamp", time(c.timestamp));
        }
        MarketData::CancelError(x) => {
            o.field("type", "cancel_error");
            o.field("symbol", &x.symbol);
            o.field("id", x.id);
            o.optional("exchange", x.exchange.as_deref());
            o.field("price", x.price);
            o.field("size", x.size);
            o.field("action", if x.action == "E" { "error" } else { "cancel" });
            o.optional("tape", x.tape.as_deref());
            o.field("timestamp", time(x.timestamp));
        }
        MarketData::Status(s) => {
            o.field("type", "status");
            o.field("symbol", &s.symbol);
            o.field("status_code", s.status_code.as_str());
            o.field("status_message", &s.status_message);
            o.field("reason_code", s.reason_code.as_str());
            o.field("reason_message", &s.reason_message);
            o.optional("tape", s.tape.as_deref());
            o.field("timestamp", time(s.timestamp));
        }
        MarketData::Luld(l) => {
            o.field("type", "luld");
            o.field("symbol", &l.symbol);
            o.field("limit_up_price", l.limit_up_price);
            o.field("limit_down_price", l.limit_down_price);
            o.field("indicator", l.indicator.as_str());
            o.optional("tape", l.tape.as_deref());
            o.field("timestamp", time(l.timestamp));
        }
        MarketData::Imbalance(i) => {
            o.field("type", "imbalance");
            o.field("symbol", &i.symbol);
            o.field("price", i.price);
            o.optional("tape", i.tape.as_deref());
            o.field("timestamp", time(i.timestamp));
        }
        MarketData::Orderbook(b) => {
            let levels = |levels: &[OrderbookLevel]| -> Vec<Value> {
                levels
                    .iter()
                    .map(|l| serde_json::json!({"price": l.price, "size": l.size}))
                    .collect()
            };
            o.field("type", "orderbook");
            o.field("symbol", &b.symbol);
            o.field("bids", levels(&b.bids));
            o.field("asks", levels(&b.asks));
            o.field("reset", b.reset);
            o.field("timestamp", time(b.timestamp));
        }
        MarketData::News(n) => {
            o.field("type", "news");
            o.field("symbols", &n.symbols);
            o.field("id", n.id);
            o.field("headline", &n.headline);
            o.field("summary", &n.summary);
            o.field("author", &n.author);
            o.field("source", n.source.as_str());
            o.optional("url", n.url.as_deref());
            o.field("content", &n.content);
            o.field("created_at", time(n.created_at));
            o.field("updated_at", time(n.updated_at));
            o.field("timestamp", time(n.updated_at));
        }
        // A kind added to core later: its tag, symbol and wire form.
        #[allow(unreachable_patterns)]
        other => {
            o.field("type", other.tag());
            o.optional("symbol", other.symbol());
            o.field("message", other);
        }
    }
}

fn trade_update(update: &TradeUpdate, o: &mut Object<'_>) {
    o.field("type", "trade_update");
    o.field("event", update.event.as_str());
    o.optional("symbol", update.order.symbol.as_ref());
    o.optional("timestamp", update.timestamp.map(time));
    o.optional("price", update.price.as_ref());
    o.optional("qty", update.qty.as_ref());
    o.optional("position_qty", update.position_qty.as_ref());
    o.optional("execution_id", update.execution_id.as_deref());
    o.field("order", &update.order);
}

fn state_fields(state: &State, clock: &Clock, o: &mut Object<'_>) {
    o.field("type", "state");
    o.field("state", state.name());
    match state {
        State::Subscribed { reconnect_at } => {
            let wait = reconnect_at.saturating_duration_since(clock.now);
            o.field(
                "reconnect_in_ms",
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            );
        }
        State::Connecting { epoch, phase, .. } => {
            o.field("epoch", epoch.get());
            o.field(
                "phase",
                match phase {
                    ConnectPhase::Dialing => "dialing",
                    ConnectPhase::Greeting => "greeting",
                    ConnectPhase::Authenticating => "authenticating",
                    ConnectPhase::Subscribing => "subscribing",
                },
            );
        }
        State::Live { epoch, .. } => o.field("epoch", epoch.get()),
        State::Failed { error } => {
            o.optional("code", error.code().as_ref());
            o.field("message", error.to_string());
        }
        _ => {}
    }
}

/// One field per channel with its symbols, like the server's own `subscription` message.
fn subscription_fields(set: &SubscriptionSet, o: &mut Object<'_>) {
    for channel in set.channels() {
        let symbols: Vec<&str> = set.symbols(channel).map(|s| s.as_str()).collect();
        o.field(channel.wire_name(), symbols);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use serde_json::json;
    use tickwire_alpaca::Channel;
    use tickwire_core::Symbol;
    use tickwire_core::machine::StreamError;

    use super::*;
    use crate::output::fixtures;

    fn clock() -> Clock {
        Clock {
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_207_845),
        }
    }

    fn render(line: &Line<'_>) -> Value {
        let mut out = String::new();
        format(line, &clock(), &mut out);
        assert!(out.starts_with(r#"{"type":"#), "{out}");
        assert!(!out.contains('\n'));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    #[test]
    fn every_data_kind_has_its_type_and_symbol() {
        for (wire, kind) in fixtures::ALL {
            let data = fixtures::market(wire);
            let line = render(&Line::Market(&data));
            assert_eq!(line["type"], kind, "{line}");
            if kind == "news" {
                assert_eq!(line["symbols"], json!(["AAPL", "MSFT"]));
            } else {
                assert_eq!(line["symbol"], data.symbol().unwrap().as_str(), "{line}");
            }
            assert!(line["timestamp"].is_string(), "{line}");
        }
    }

    #[test]
    fn quotes_have_readable_field_names() {
        let quote = fixtures::market(fixtures::QUOTE);
        assert_eq!(
            render(&Line::Market(&quote)),
            json!({
                "type": "quote", "symbol": "AAPL",
                "bid_price": 189.1, "bid_size": 1.0, "bid_exchange": "U",
                "ask_price": 189.12, "ask_size": 2.0, "ask_exchange": "Q",
                "conditions": ["R"], "tape": "C",
                "timestamp": "2024-01-02T15:04:05.123456789Z"
            })
        );
    }

    #[test]
    fn trade_updates_carry_event_symbol_and_order() {
        let fill = fixtures::fill();
        let line = render(&Line::TradeUpdate(&fill));
        assert_eq!(line["type"], "trade_update");
        assert_eq!(line["event"], "fill");
        assert_eq!(line["symbol"], "AAPL");
        assert_eq!(line["price"], "189.1");
        assert_eq!(line["order"]["side"], "buy");
        assert_eq!(line["order"]["status"], "filled");
    }

    #[test]
    fn lifecycle_lines() {
        let line = render(&Line::State(&State::Closed));
        assert_eq!(line, json!({"type": "state", "state": "closed"}));

        let error = StreamError::Server {
            code: Some(402),
            message: "auth failed".into(),
        };
        let line = render(&Line::State(&State::Failed {
            error: error.clone(),
        }));
        assert_eq!(line["state"], "failed");
        assert_eq!(line["code"], 402);

        let line = render(&Line::Error {
            error: &error,
            fatal: true,
        });
        assert_eq!(line["type"], "error");
        assert_eq!(line["code"], 402);
        assert!(line["message"].as_str().unwrap().contains("auth failed"));
        assert_eq!(line["fatal"], true);

        let timeout = StreamError::Timeout(tickwire_core::machine::TimeoutKind::DataSilence);
        let line = render(&Line::Error {
            error: &timeout,
            fatal: false,
        });
        assert!(line.get("code").is_none(), "{line}");

        let mut set = SubscriptionSet::new();
        set.insert(Channel::Quotes, Symbol::new("SPY").unwrap());
        set.insert(Channel::Trades, Symbol::new("SPY").unwrap());
        assert_eq!(
            render(&Line::Subscription(&set)),
            json!({"type": "subscription", "trades": ["SPY"], "quotes": ["SPY"]})
        );

        let clock = clock();
        let mut out = String::new();
        format(
            &Line::Gap {
                epoch: Default::default(),
                since: clock.now - Duration::from_millis(500),
            },
            &clock,
            &mut out,
        );
        let line: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            line,
            json!({"type": "gap", "epoch": 0, "since": "2024-01-02T15:04:04.5Z"})
        );

        let line = render(&Line::Resumed {
            epoch: Default::default(),
            gap_since: Instant::now(),
            lost_for: Duration::from_millis(1250),
        });
        assert_eq!(line["type"], "resumed");
        assert_eq!(line["lost_ms"], 1250);

        let symbols = [Symbol::new("TSLA").unwrap()];
        let line = render(&Line::Rejected {
            channel: Channel::Quotes,
            code: Some(405),
            message: "symbol limit exceeded",
            symbols: &symbols,
        });
        assert_eq!(line["type"], "error");
        assert_eq!(line["code"], 405);
        assert_eq!(line["symbols"], json!(["TSLA"]));
    }
}
