//! The example payloads of PROTOCOL.md, decoded with exact field assertions.

mod codec_support;

use codec_support::documented_ack::{DOCUMENTED_ACK, DOCUMENTED_ACK_PAIRS};
use codec_support::{sym, ts};
use tickwire_alpaca::Channel;
use tickwire_alpaca::{
    AlpacaMarketData, AlpacaTrading, Encoding, MarketData, OrderSide, OrderStatus, OrderType,
    TimeInForce, TradeEvent, TradeUpdate,
};
use tickwire_core::protocol::{Dialect, Inbound, ServerError, Verdict};
use tickwire_core::{Frame, Symbol};

fn market(frame: Frame) -> Vec<Inbound<MarketData, Channel>> {
    let mut out = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&frame, &mut out);
    out
}

fn trading(frame: Frame) -> Vec<Inbound<TradeUpdate, Channel>> {
    let mut out = Vec::new();
    AlpacaTrading::new(Encoding::Json).decode(&frame, &mut out);
    out
}

#[test]
fn quote_example() {
    let out = market(Frame::text(
        r#"[{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#,
    ));
    let [Inbound::Data(MarketData::Quote(q))] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(q.symbol, sym("AAPL"));
    assert_eq!(q.bid_exchange.as_deref(), Some("U"));
    assert_eq!(q.bid_price, 189.1);
    assert_eq!(q.bid_size, 1.0);
    assert_eq!(q.ask_exchange.as_deref(), Some("Q"));
    assert_eq!(q.ask_price, 189.12);
    assert_eq!(q.ask_size, 2.0);
    assert_eq!(q.conditions.iter().collect::<Vec<_>>(), ["R"]);
    assert_eq!(q.tape.as_deref(), Some("C"));
    assert_eq!(q.timestamp, ts("2024-01-02T15:04:05.123456789Z"));
    assert_eq!(q.timestamp.unix_nanos(), 1_704_207_845_123_456_789);
}

#[test]
fn handshake_messages() {
    assert_eq!(
        market(Frame::text(r#"[{"T":"success","msg":"connected"}]"#)),
        vec![Inbound::Greeting]
    );
    assert_eq!(
        market(Frame::text(r#"[{"T":"success","msg":"authenticated"}]"#)),
        vec![Inbound::Authenticated]
    );
}

#[test]
fn subscription_ack_example() {
    let out = market(Frame::text(DOCUMENTED_ACK));
    let [Inbound::SubscriptionAck(set)] = &out[..] else {
        panic!("{out:?}")
    };
    let pairs: Vec<(Channel, &str)> = set.iter().map(|(c, s)| (c, s.as_str())).collect();
    assert_eq!(pairs, DOCUMENTED_ACK_PAIRS);
    assert!(set.contains(Channel::Bars, &Symbol::WILDCARD));
}

#[test]
fn error_example() {
    let out = market(Frame::text(
        r#"[{"T":"error","code":406,"msg":"connection limit exceeded"}]"#,
    ));
    assert_eq!(
        out,
        vec![Inbound::Error(ServerError {
            code: Some(406),
            message: "connection limit exceeded".into(),
            verdict: Verdict::ReconnectSlowly,
        })]
    );
    let out = market(Frame::text(
        r#"[{"T":"error","code":409,"msg":"insufficient subscription"}]"#,
    ));
    assert!(matches!(
        &out[..],
        [Inbound::Error(ServerError {
            code: Some(409),
            verdict: Verdict::Fatal,
            ..
        })]
    ));
}

#[test]
fn trading_handshake_examples() {
    assert_eq!(
        trading(Frame::binary(
            &br#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#[..]
        )),
        vec![Inbound::Authenticated]
    );
    assert_eq!(
        trading(Frame::binary(
            &br#"{"stream":"authorization","data":{"status":"unauthorized","action":"authenticate"}}"#[..]
        )),
        vec![Inbound::AuthRejected {
            message: "unauthorized".into()
        }]
    );
    let out = trading(Frame::binary(
        &br#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#[..],
    ));
    let [Inbound::SubscriptionAck(set)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [(Channel::TradeUpdates, &Symbol::WILDCARD)]
    );
    let out = trading(Frame::binary(
        &br#"{"stream":"listening","data":{"streams":[]}}"#[..],
    ));
    assert!(matches!(&out[..], [Inbound::SubscriptionAck(set)] if set.is_empty()));
}

#[test]
fn trading_error_example() {
    let out = trading(Frame::binary(
        &br#"{"action":"error","data":{"error_message":"auth failed"}}"#[..],
    ));
    assert_eq!(
        out,
        vec![Inbound::Error(ServerError {
            code: None,
            message: "auth failed".into(),
            verdict: Verdict::Fatal,
        })]
    );
}

#[test]
fn trade_update_example() {
    let out = trading(Frame::binary(
        &br#"{"stream":"trade_updates","data":{"event":"fill","execution_id":"2f63ea93-423d-4169-b3f6-3fdafc10c418","order":{"id":"7b7653c4-7468-494a-aeb3-d5f255789473","client_order_id":"7d5ee2e1","created_at":"2021-03-16T18:38:01.942282Z","updated_at":"2021-03-16T18:38:01.942282Z","submitted_at":"2021-03-16T18:38:01.937734Z","filled_at":"2021-03-16T18:38:02Z","expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","asset_class":"us_equity","notional":null,"qty":"1","filled_qty":"1","filled_avg_price":"189.12","order_class":"","order_type":"market","type":"market","side":"buy","time_in_force":"day","limit_price":null,"stop_price":null,"status":"filled","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null},"timestamp":"2021-03-16T18:38:02.000001Z","price":"189.12","qty":"1","position_qty":"1"}}"#[..],
    ));
    let [Inbound::Data(update)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(update.event, TradeEvent::Fill);
    assert_eq!(
        update.execution_id.as_deref(),
        Some("2f63ea93-423d-4169-b3f6-3fdafc10c418")
    );
    assert_eq!(update.timestamp, Some(ts("2021-03-16T18:38:02.000001Z")));
    assert_eq!(update.price.as_ref().map(|p| p.as_str()), Some("189.12"));
    assert_eq!(update.qty.as_ref().and_then(|q| q.to_f64()), Some(1.0));
    assert_eq!(update.position_qty.as_ref().map(|p| p.as_str()), Some("1"));
    let order = &update.order;
    assert_eq!(order.id, "7b7653c4-7468-494a-aeb3-d5f255789473");
    assert_eq!(order.symbol, Some(sym("AAPL")));
    assert_eq!(order.side, Some(OrderSide::Buy));
    assert_eq!(order.r#type, Some(OrderType::Market));
    assert_eq!(order.time_in_force, TimeInForce::Day);
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(order.filled_at, Some(ts("2021-03-16T18:38:02Z")));
    assert_eq!(order.canceled_at, None);
    assert_eq!(
        order.filled_avg_price.as_ref().map(|p| p.as_str()),
        Some("189.12")
    );
}

#[test]
fn every_event_name_decodes_and_unknown_ones_pass_through() {
    for name in [
        "new",
        "fill",
        "partial_fill",
        "canceled",
        "expired",
        "done_for_day",
        "replaced",
        "accepted",
        "rejected",
        "pending_new",
        "stopped",
        "pending_cancel",
        "pending_replace",
        "calculated",
        "suspended",
        "order_replace_rejected",
        "order_cancel_rejected",
        "restated",
    ] {
        let event = TradeEvent::from(name);
        assert!(
            !matches!(event, TradeEvent::Other(_)),
            "{name} is not a known event"
        );
        assert_eq!(event.as_str(), name);
    }
    assert_eq!(
        TradeEvent::from("margin_call"),
        TradeEvent::Other("margin_call".into())
    );
}
