//! Encode → decode round trips for every message type in JSON and
//! MessagePack, client requests against the server-side decoder, and
//! request splitting under a frame size.

mod codec_support;

use std::collections::BTreeSet;

use codec_support::{every_market_message, fill, sym, ts};
use tickwire_alpaca::{
    AlpacaMarketData, AlpacaTrading, AuthForm, ClientMessage, Encoding, MarketData, ServerMessage,
    TradingServerMessage, decode_client_message, encode_market_frame, encode_trading_frame,
};
use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::protocol::{
    Dialect, EncodeError, Inbound, ServerError, SubscriptionOp, SubscriptionRequest, Verdict,
};
use tickwire_core::{Credentials, Frame, Symbol};

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::MsgPack];

fn decode_market(frame: &Frame) -> Vec<Inbound<MarketData, Channel>> {
    let mut out = Vec::new();
    AlpacaMarketData::default().decode(frame, &mut out);
    out
}

#[test]
fn every_market_message_round_trips_in_one_frame() {
    let messages = every_market_message();
    for encoding in ENCODINGS {
        let server: Vec<ServerMessage> =
            messages.iter().cloned().map(ServerMessage::Data).collect();
        let frame = encode_market_frame(encoding, &server);
        assert_eq!(matches!(frame, Frame::Text(_)), encoding == Encoding::Json);
        let expected: Vec<Inbound<MarketData, Channel>> =
            messages.iter().cloned().map(Inbound::Data).collect();
        assert_eq!(decode_market(&frame), expected, "{encoding:?}");
    }
}

#[test]
fn every_market_message_round_trips_alone() {
    for message in every_market_message() {
        for encoding in ENCODINGS {
            let frame = encode_market_frame(encoding, &[ServerMessage::Data(message.clone())]);
            assert_eq!(
                decode_market(&frame),
                vec![Inbound::Data(message.clone())],
                "{encoding:?}"
            );
        }
        // Also through MarketData's own serde impls.
        let json = serde_json::to_string(&message).unwrap();
        assert!(
            json.starts_with(&format!(r#"{{"T":"{}""#, message.tag())),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<MarketData>(&json).unwrap(), message);
        let packed = rmp_serde::to_vec_named(&message).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<MarketData>(&packed).unwrap(),
            message
        );
    }
}

#[test]
fn control_messages_round_trip() {
    let set = mixed_set();
    for encoding in ENCODINGS {
        let frame = encode_market_frame(
            encoding,
            &[
                ServerMessage::Connected,
                ServerMessage::Authenticated,
                ServerMessage::Error {
                    code: 405,
                    message: "symbol limit exceeded".into(),
                },
                ServerMessage::Subscription(set.clone()),
            ],
        );
        assert_eq!(
            decode_market(&frame),
            vec![
                Inbound::Greeting,
                Inbound::Authenticated,
                Inbound::Error(ServerError {
                    code: Some(405),
                    message: "symbol limit exceeded".into(),
                    verdict: Verdict::RejectRequest,
                }),
                Inbound::SubscriptionAck(set.clone()),
            ],
            "{encoding:?}"
        );
    }
}

#[test]
fn msgpack_quote_timestamp_is_extension_minus_one() {
    let quote = every_market_message()
        .into_iter()
        .find(|m| matches!(m, MarketData::Quote(_)))
        .unwrap();
    let frame = encode_market_frame(Encoding::MsgPack, &[ServerMessage::Data(quote)]);
    let bytes = frame.payload();
    assert_eq!(bytes[0], 0x91, "a one-element array");
    // The map's first key is "T" (fixstr 1) with value "q".
    assert_eq!(&bytes[2..6], &[0xa1, b'T', 0xa1, b'q']);
    // Key "t" then fixext 8 of type -1: 2024-01-02T15:04:05.123456789Z.
    let ts = ts("2024-01-02T15:04:05.123456789Z");
    let packed = (u64::from(ts.nanos) << 34) | ts.seconds as u64;
    let mut expected = vec![0xa1, b't', 0xd7, 0xff];
    expected.extend_from_slice(&packed.to_be_bytes());
    assert!(
        bytes.windows(expected.len()).any(|w| w == expected),
        "no ext -1 timestamp in {bytes:02x?}"
    );
}

#[test]
fn msgpack_timestamps_use_every_layout() {
    for (text, head) in [
        ("2024-01-02T15:04:05Z", &[0xd6, 0xff][..]),
        ("2024-01-02T15:04:05.5Z", &[0xd7, 0xff][..]),
        ("2600-01-01T00:00:00.5Z", &[0xc7, 0x0c, 0xff][..]),
    ] {
        let bytes = rmp_serde::to_vec_named(&ts(text)).unwrap();
        assert_eq!(&bytes[..head.len()], head, "{text}");
        assert_eq!(
            rmp_serde::from_slice::<tickwire_core::Timestamp>(&bytes).unwrap(),
            ts(text)
        );
    }
}

#[test]
fn trading_server_messages_round_trip() {
    let cases = [
        (TradingServerMessage::Authorized, Inbound::Authenticated),
        (
            TradingServerMessage::Unauthorized {
                message: Some("access key verification failed".into()),
            },
            Inbound::AuthRejected {
                message: "access key verification failed".into(),
            },
        ),
        (
            TradingServerMessage::Listening(vec!["trade_updates".into()]),
            Inbound::SubscriptionAck(
                [(Channel::TradeUpdates, Symbol::WILDCARD)]
                    .into_iter()
                    .collect(),
            ),
        ),
        (
            TradingServerMessage::Listening(vec![]),
            Inbound::SubscriptionAck(SubscriptionSet::new()),
        ),
        (
            TradingServerMessage::TradeUpdate(Box::new(fill())),
            Inbound::Data(fill()),
        ),
        (
            TradingServerMessage::Error {
                message: "internal error".into(),
            },
            Inbound::Error(ServerError {
                code: None,
                message: "internal error".into(),
                verdict: Verdict::Reconnect,
            }),
        ),
    ];
    for (message, expected) in cases {
        for encoding in ENCODINGS {
            let frame = encode_trading_frame(encoding, &message);
            assert!(
                matches!(frame, Frame::Binary(_)),
                "trading frames are binary"
            );
            let mut out = Vec::new();
            AlpacaTrading::new(encoding).decode(&frame, &mut out);
            assert_eq!(out, vec![expected.clone()], "{encoding:?} {message:?}");
        }
    }
}

#[test]
fn trade_update_json_has_what_alpaca_py_requires() {
    let frame = encode_trading_frame(
        Encoding::Json,
        &TradingServerMessage::TradeUpdate(Box::new(fill())),
    );
    let value: serde_json::Value = serde_json::from_slice(frame.payload()).unwrap();
    assert_eq!(value["stream"], "trade_updates");
    let data = &value["data"];
    assert_eq!(data["event"], "fill");
    assert_eq!(data["timestamp"], "2021-03-16T18:38:02.000001Z");
    assert_eq!(data["price"], "189.12");
    let order = &data["order"];
    for required in [
        "id",
        "client_order_id",
        "created_at",
        "updated_at",
        "submitted_at",
        "order_class",
        "time_in_force",
        "status",
        "extended_hours",
    ] {
        assert!(
            !order[required].is_null(),
            "order.{required} is missing: {order}"
        );
    }
    assert_eq!(order["created_at"], "2021-03-16T18:38:01.942282Z");
    assert_eq!(order["qty"], "1");
    assert_eq!(order["type"], "market");
    assert!(order["canceled_at"].is_null());
}

#[test]
fn auth_requests_round_trip_in_both_forms_and_encodings() {
    let credentials = Credentials::new("PKTEST", "s3cret");
    for encoding in ENCODINGS {
        let frames = [
            AlpacaMarketData::new(encoding).encode_auth(&credentials),
            AlpacaTrading::new(encoding).encode_auth(&credentials),
            AlpacaTrading::new(encoding)
                .with_auth_form(AuthForm::Legacy)
                .encode_auth(&credentials),
        ];
        for frame in frames {
            assert_eq!(matches!(frame, Frame::Text(_)), encoding == Encoding::Json);
            assert_eq!(
                decode_client_message(&frame),
                Ok(ClientMessage::Auth {
                    credentials: credentials.clone()
                })
            );
        }
    }
    let legacy = AlpacaTrading::new(Encoding::Json)
        .with_auth_form(AuthForm::Legacy)
        .encode_auth(&credentials);
    assert_eq!(
        legacy,
        Frame::text(
            r#"{"action":"authenticate","data":{"key_id":"PKTEST","secret_key":"s3cret"}}"#
        )
    );
    let dialect = format!("{:?}", AlpacaMarketData::new(Encoding::Json));
    assert!(!dialect.contains("s3cret"));
}

#[test]
fn connect_headers() {
    let json = AlpacaMarketData::new(Encoding::Json).connect_headers();
    assert!(
        json.iter()
            .any(|(k, v)| k == "User-Agent" && v.starts_with("tickwire/"))
    );
    assert!(!json.iter().any(|(k, _)| k == "Content-Type"));
    let msgpack = AlpacaTrading::new(Encoding::MsgPack).connect_headers();
    assert!(msgpack.contains(&("Content-Type".to_owned(), "application/msgpack".to_owned())));
    assert!(AlpacaMarketData::new(Encoding::Json).expects_greeting());
    assert!(!AlpacaTrading::new(Encoding::Json).expects_greeting());
}

/// Stock and crypto channels, two symbols on one channel, and a wildcard.
fn mixed_set() -> SubscriptionSet {
    let mut set = SubscriptionSet::new();
    set.insert(Channel::Trades, sym("AAPL"));
    set.insert(Channel::Quotes, sym("AMD"));
    set.insert(Channel::Quotes, sym("CLDR"));
    set.insert(Channel::Bars, Symbol::WILDCARD);
    set.insert(Channel::UpdatedBars, sym("BTC/USD"));
    set.insert(Channel::Orderbooks, sym("BTC/USD"));
    set
}

/// A subscribe request for `items`, towards `target`.
fn subscribing<'a>(
    items: &'a [(Channel, Symbol)],
    target: &'a SubscriptionSet,
) -> SubscriptionRequest<'a, Channel> {
    SubscriptionRequest {
        op: SubscriptionOp::Subscribe,
        items,
        target,
    }
}

fn items(set: &SubscriptionSet) -> Vec<(Channel, Symbol)> {
    set.iter().map(|(c, s)| (c, s.clone())).collect()
}

#[test]
fn subscription_requests_round_trip() {
    let set = mixed_set();
    let items = items(&set);
    for encoding in ENCODINGS {
        for op in [SubscriptionOp::Subscribe, SubscriptionOp::Unsubscribe] {
            let request = SubscriptionRequest {
                op,
                items: &items,
                target: &set,
            };
            let encoded = AlpacaMarketData::new(encoding)
                .encode_subscription(request, 16 * 1024)
                .unwrap();
            assert_eq!(encoded.items_included, items.len());
            let expected = match op {
                SubscriptionOp::Subscribe => ClientMessage::Subscribe(set.clone()),
                SubscriptionOp::Unsubscribe => ClientMessage::Unsubscribe(set.clone()),
            };
            assert_eq!(decode_client_message(&encoded.frame), Ok(expected));
        }
    }
    let request = subscribing(&items[..1], &set);
    let encoded = AlpacaMarketData::new(Encoding::Json)
        .encode_subscription(request, 1024)
        .unwrap();
    assert_eq!(
        encoded.frame,
        Frame::text(r#"{"action":"subscribe","trades":["AAPL"]}"#)
    );
}

#[test]
fn large_requests_split_under_the_frame_size() {
    const FRAME_BYTES_MAX: usize = 16 * 1024;
    let set: SubscriptionSet = (0..5_000)
        .map(|i| {
            let channel = if i % 3 == 0 {
                Channel::Trades
            } else {
                Channel::Quotes
            };
            (channel, sym(&format!("S{i:05}")))
        })
        .collect();
    let all = items(&set);
    for encoding in ENCODINGS {
        let dialect = AlpacaMarketData::new(encoding);
        let mut rest = &all[..];
        let mut seen = BTreeSet::new();
        let mut frames = 0;
        while !rest.is_empty() {
            let request = subscribing(rest, &set);
            let encoded = dialect
                .encode_subscription(request, FRAME_BYTES_MAX)
                .unwrap();
            assert!(
                encoded.frame.len() <= FRAME_BYTES_MAX,
                "{} bytes",
                encoded.frame.len()
            );
            assert!(encoded.items_included > 0);
            let Ok(ClientMessage::Subscribe(carried)) = decode_client_message(&encoded.frame)
            else {
                panic!("request did not decode")
            };
            assert_eq!(
                carried,
                rest[..encoded.items_included].iter().cloned().collect()
            );
            for (c, s) in carried.iter() {
                assert!(seen.insert((c, s.clone())), "{c} {s} sent twice");
            }
            rest = &rest[encoded.items_included..];
            frames += 1;
        }
        assert_eq!(seen.len(), 5_000, "{encoding:?}");
        assert!(frames >= 3, "{encoding:?}: {frames} frames");
    }
}

#[test]
fn requests_that_cannot_fit_or_are_empty() {
    let set: SubscriptionSet = [(Channel::Quotes, sym("AAPL"))].into_iter().collect();
    let all = items(&set);
    for encoding in ENCODINGS {
        let dialect = AlpacaMarketData::new(encoding);
        let request = subscribing(&all, &set);
        assert!(matches!(
            dialect.encode_subscription(request, 10),
            Err(EncodeError::FrameTooSmall {
                frame_bytes_max: 10,
                ..
            })
        ));
        let empty = subscribing(&[], &set);
        assert_eq!(
            dialect.encode_subscription(empty, 1024),
            Err(EncodeError::Empty)
        );
    }
}

#[test]
fn listen_names_the_target_streams() {
    let target: SubscriptionSet = [(Channel::TradeUpdates, Symbol::WILDCARD)]
        .into_iter()
        .collect();
    let items = items(&target);
    for encoding in ENCODINGS {
        let dialect = AlpacaTrading::new(encoding);
        let request = subscribing(&items, &target);
        let encoded = dialect.encode_subscription(request, 1024).unwrap();
        assert_eq!(encoded.items_included, 1);
        assert_eq!(
            decode_client_message(&encoded.frame),
            Ok(ClientMessage::Listen(vec!["trade_updates".into()]))
        );
        let stop = SubscriptionRequest {
            op: SubscriptionOp::Unsubscribe,
            items: &items,
            target: &SubscriptionSet::new(),
        };
        let encoded = dialect.encode_subscription(stop, 1024).unwrap();
        assert_eq!(
            decode_client_message(&encoded.frame),
            Ok(ClientMessage::Listen(vec![]))
        );
    }
    let request = subscribing(&items, &target);
    let encoded = AlpacaTrading::new(Encoding::Json)
        .encode_subscription(request, 1024)
        .unwrap();
    assert_eq!(
        encoded.frame,
        Frame::text(r#"{"action":"listen","data":{"streams":["trade_updates"]}}"#)
    );
}
