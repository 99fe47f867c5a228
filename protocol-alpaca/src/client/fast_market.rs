//! The fast path for the hottest market data messages: quotes, trades and
//! bars, assembled field by field from a hand-written wire reader
//! ([`JsonReader`], [`MsgPackReader`]), and the control messages beside them
//! ([`fast_control`]); trade updates use the same readers
//! ([`fast_trading`](super::fast_trading)).
//!
//! The contract is [`FieldReader`]'s: **whenever the fast path returns a
//! value, the serde path would have returned the same value.** Anything it
//! is not sure about — another message type, an unknown or duplicate key, a
//! missing field, an escape in a string, a number it cannot convert exactly
//! as the serde path does, any syntax error — makes it give up (`None`), and
//! the caller decodes the whole frame again with serde, which then decides
//! what is data, what is `Malformed` and what is `Unknown`. Giving up is
//! always correct; only accepting needs care.

use compact_str::CompactString;

use crate::client::fast_control;
use crate::client::fast_field::{FastStruct, fast_struct};
use crate::model::market::{Bar, MarketData, Quote, Trade, market_fields, tags};
use crate::wire::field_reader::FieldReader;
use crate::wire::frame::Wire;
use crate::wire::json_reader::JsonReader;
use crate::wire::msgpack_reader::MsgPackReader;
use crate::{Channel, Conditions, SubscriptionSet, Symbol, Timestamp};
use tickwire_core::protocol::{Inbound, MESSAGES_PER_FRAME_MAX};

/// Decodes a whole frame of fast-path messages into `out`. Returns `false`
/// (having perhaps pushed some messages) if the frame needs the serde path
/// (or holds more than [`MESSAGES_PER_FRAME_MAX`] messages); the caller
/// then truncates `out` and decodes it again.
#[cfg(test)]
pub(crate) fn decode_frame(
    wire: Wire,
    bytes: &[u8],
    out: &mut Vec<Inbound<MarketData, Channel>>,
) -> bool {
    decode_frame_expecting(wire, bytes, None, out)
}

/// Decodes a frame as `decode_frame` does, with the set a subscription acknowledgement is
/// expected to list (see `Dialect::decode_expecting`).
pub(crate) fn decode_frame_expecting(
    wire: Wire,
    bytes: &[u8],
    expected: Option<&SubscriptionSet>,
    out: &mut Vec<Inbound<MarketData, Channel>>,
) -> bool {
    let full = out.len() + MESSAGES_PER_FRAME_MAX;
    match wire {
        Wire::Json => JsonReader::new(bytes)
            .and_then(|mut r| r.messages(|r, tag| message(r, tag, expected, out, full))),
        Wire::MsgPack => {
            MsgPackReader::new(bytes).messages(|r, tag| message(r, tag, expected, out, full))
        }
    }
    .is_some()
}

/// Decodes the rest of a message whose `T` was `tag` into `out`, if it is
/// one of the types the fast path knows and `out` is shorter than `full`.
#[inline(always)]
fn message<'a, R: FieldReader<'a>>(
    reader: &mut R,
    tag: &[u8],
    expected: Option<&SubscriptionSet>,
    out: &mut Vec<Inbound<MarketData, Channel>>,
    full: usize,
) -> Option<()> {
    if out.len() >= full {
        return None;
    }
    // Data tags are one byte long, control tags longer: the data path stays
    // as short as it was before control messages joined.
    out.push(if tag.len() == 1 {
        Inbound::Data(data(reader, tag)?)
    } else {
        fast_control::message(reader, tag, expected)?
    });
    Some(())
}

#[inline(always)]
fn data<'a, R: FieldReader<'a>>(reader: &mut R, tag: &[u8]) -> Option<MarketData> {
    Some(match tag {
        tags::Quote => MarketData::Quote(Quote::read_fields(reader, 0, true)?),
        tags::Trade => MarketData::Trade(Trade::read_fields(reader, 0, true)?),
        tags::Bar => MarketData::Bar(Bar::read_fields(reader, 0, true)?),
        tags::DailyBar => MarketData::DailyBar(Bar::read_fields(reader, 0, true)?),
        tags::UpdatedBar => MarketData::UpdatedBar(Bar::read_fields(reader, 0, true)?),
        _ => return None,
    })
}

market_fields!(Quote => fast_struct give_up);
market_fields!(Trade => fast_struct give_up);
market_fields!(Bar => fast_struct give_up);

#[cfg(test)]
pub(super) mod tests {
    //! Differential tests: whenever a fast reader accepts a frame, its output
    //! must equal the serde path's, byte for byte of `Debug` (which also
    //! compares NaNs and the sign of zero).

    use proptest::prelude::*;

    use super::*;
    use crate::client::market_decode::decode_with_serde;
    pub(crate) use crate::mutation::{Mutation, mutate, mutation};

    use crate::wire::frame::Wire;
    use crate::{Conditions, Timestamp};
    use tickwire_core::protocol::Inbound;

    /// Decodes with the fast reader of `wire`; if it accepts, checks the
    /// serde path agrees. Returns whether the fast path accepted.
    pub(crate) fn agree(wire: Wire, bytes: &[u8]) -> bool {
        let mut fast = Vec::new();
        let accepted = decode_frame(wire, bytes, &mut fast);
        if accepted {
            let mut slow = Vec::new();
            decode_with_serde(wire, bytes, &mut slow);
            assert_eq!(
                format!("{fast:?}"),
                format!("{slow:?}"),
                "fast and serde paths disagree on {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        accepted
    }

    fn json(messages: &[MarketData]) -> Vec<u8> {
        serde_json::to_vec(messages).unwrap()
    }

    fn msgpack(messages: &[MarketData]) -> Vec<u8> {
        rmp_serde::to_vec_named(messages).unwrap()
    }

    /// `value` in JSON and in MessagePack (named fields), each with its wire.
    pub(crate) fn both_wires<T: serde::Serialize + ?Sized>(value: &T) -> [(Wire, Vec<u8>); 2] {
        [
            (Wire::Json, serde_json::to_vec(value).unwrap()),
            (Wire::MsgPack, rmp_serde::to_vec_named(value).unwrap()),
        ]
    }

    fn price() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0u64..10_000_000_000, 0u32..10).prop_map(|(n, k)| n as f64 / 10f64.powi(k as i32)),
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(9_007_199_254_740_993.0),
            Just(1e300),
            Just(5e-324),
        ]
    }

    pub(crate) fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z]{1,5}",
            "[A-Z]{3}/USD",
            Just(String::new()),
            Just("é\"\\\n\u{1}".to_owned()),
            "\\PC{0,30}",
        ]
    }

    fn opt_text() -> impl Strategy<Value = Option<CompactString>> {
        proptest::option::of(text().prop_map(CompactString::from))
    }

    fn timestamp() -> impl Strategy<Value = Timestamp> {
        prop_oneof![
            (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(s, n)| Timestamp {
                seconds: s,
                nanos: n
            }),
            (any::<i64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Timestamp {
                seconds: s,
                nanos: n
            }),
        ]
    }

    /// An exchange code, a price and a size: one side of a quote, or a trade.
    fn exchange_price_size() -> impl Strategy<Value = (Option<CompactString>, f64, f64)> {
        (opt_text(), price(), price())
    }

    fn conditions() -> impl Strategy<Value = Conditions> {
        proptest::collection::vec(text(), 0..4).prop_map(|codes| codes.into_iter().collect())
    }

    pub(crate) fn message() -> impl Strategy<Value = MarketData> {
        let quote = (
            text(),
            exchange_price_size(),
            exchange_price_size(),
            conditions(),
            timestamp(),
            opt_text(),
        )
            .prop_map(|(s, (bx, bp, bs), (ax, ap, as_), c, t, z)| {
                MarketData::Quote(Quote {
                    symbol: Symbol::from_server(&s),
                    bid_exchange: bx,
                    bid_price: bp,
                    bid_size: bs,
                    ask_exchange: ax,
                    ask_price: ap,
                    ask_size: as_,
                    conditions: c,
                    timestamp: t,
                    tape: z,
                })
            });
        let trade = (
            text(),
            proptest::option::of(any::<u64>()),
            exchange_price_size(),
            conditions(),
            timestamp(),
            opt_text(),
            opt_text(),
        )
            .prop_map(|(s, i, (x, p, sz), c, t, z, tks)| {
                MarketData::Trade(Trade {
                    symbol: Symbol::from_server(&s),
                    id: i,
                    exchange: x,
                    price: p,
                    size: sz,
                    conditions: c,
                    timestamp: t,
                    tape: z,
                    taker_side: tks,
                })
            });
        let bar = (
            0usize..3,
            text(),
            (price(), price(), price(), price(), price()),
            proptest::option::of(price()),
            proptest::option::of(any::<u64>()),
            timestamp(),
        )
            .prop_map(|(kind, s, (o, h, l, c, v), vw, n, t)| {
                let bar = Bar {
                    symbol: Symbol::from_server(&s),
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                    volume: v,
                    vwap: vw,
                    trade_count: n,
                    timestamp: t,
                };
                match kind {
                    0 => MarketData::Bar(bar),
                    1 => MarketData::DailyBar(bar),
                    _ => MarketData::UpdatedBar(bar),
                }
            });
        prop_oneof![quote, trade, bar]
    }

    /// Fragments that the fast readers must either handle exactly or refuse.
    pub(crate) const JSON_SNIPPETS: &[&str] = &[
        " ",
        "\n",
        "null",
        "\\u0041",
        "\\\"",
        "1e5",
        "1E-3",
        "-",
        "-0",
        "0",
        "01",
        ".5",
        "1.",
        "99999999999999999999",
        "9007199254740993",
        "0.0000000000000000000000001",
        ",\"bp\":1",
        ",\"zz\":1",
        ",\"T\":\"q\"",
        "\"",
        "\"\"",
        "\"\":",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "é",
        "\u{1}",
        "true",
        "[\"A\"]",
        "\"A\"",
    ];

    pub(crate) const MSGPACK_SNIPPETS: &[&[u8]] = &[
        &[0xc0],
        &[0xa1, b'A'],
        &[0xa2, b'b', b'p'],
        &[0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18],
        &[0xca, 0x3f, 0xc0, 0x00, 0x00],
        &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
        &[0xff],
        &[0xd6, 0xff, 0, 0, 0, 1],
        &[0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1],
        &[0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xd6, 0x05, 0, 0, 0, 1],
        &[0xc4, 0x01, b'A'],
        &[0xa1, 0xff],
        &[0x91],
        &[0xdc, 0xff, 0xff],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
    ];

    /// Applies every mutation to a frame of `wire`, inserting snippets of that wire.
    pub(crate) fn mutate_all(wire: Wire, bytes: &mut Vec<u8>, mutations: &[Mutation]) {
        for m in mutations {
            match wire {
                Wire::Json => mutate(bytes, m, JSON_SNIPPETS),
                Wire::MsgPack => mutate(bytes, m, MSGPACK_SNIPPETS),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn valid_frames_agree_and_msgpack_ones_take_the_fast_path(
            messages in proptest::collection::vec(message(), 0..5),
        ) {
            agree(Wire::Json, &json(&messages));
            prop_assert!(agree(Wire::MsgPack, &msgpack(&messages)));
        }

        #[test]
        fn exchange_like_json_frames_take_the_fast_path(
            messages in proptest::collection::vec(message(), 0..5),
            cents in proptest::collection::vec((0u64..100_000_000, 0i32..5), 13),
        ) {
            // Prices and sizes as exchanges send them: few decimals, no
            // exponent; ids and counts of at most 18 digits.
            const ID_LIMIT: u64 = 1_000_000_000_000_000_000;
            let mut values = cents.iter().map(|&(n, k)| n as f64 / 10f64.powi(k));
            let mut next = || values.next().unwrap_or(1.0);
            let messages: Vec<MarketData> = messages.into_iter().map(|mut m| {
                match &mut m {
                    MarketData::Quote(q) => {
                        (q.bid_price, q.bid_size, q.ask_price, q.ask_size) = (next(), next(), next(), next());
                    }
                    MarketData::Trade(t) => {
                        (t.price, t.size) = (next(), next());
                        t.id = t.id.map(|id| id % ID_LIMIT);
                    }
                    MarketData::Bar(b) | MarketData::DailyBar(b) | MarketData::UpdatedBar(b) => {
                        (b.open, b.high, b.low, b.close, b.volume) = (next(), next(), next(), next(), next());
                        b.vwap = b.vwap.map(|_| next());
                        b.trade_count = b.trade_count.map(|n| n % ID_LIMIT);
                    }
                    _ => {}
                }
                m
            }).collect();
            let bytes = json(&messages);
            let text = String::from_utf8_lossy(&bytes);
            let accepted = agree(Wire::Json, &bytes);
            let exponent = bytes.windows(2).any(|w| w[0].is_ascii_digit() && matches!(w[1], b'e' | b'E'));
            let in_rfc3339_range = messages.iter().all(|m| (0..253_402_300_800).contains(&m.timestamp().seconds));
            if !text.contains('\\') && !exponent && in_rfc3339_range {
                prop_assert!(accepted, "{}", text);
            }
        }

        #[test]
        fn mutated_frames_agree_or_fall_back(
            messages in proptest::collection::vec(message(), 1..4),
            mutations in proptest::collection::vec(mutation(), 1..6),
        ) {
            for (wire, mut bytes) in both_wires(&messages[..]) {
                mutate_all(wire, &mut bytes, &mutations);
                agree(wire, &bytes);
            }
        }

        #[test]
        fn arbitrary_bytes_agree_or_fall_back(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            agree(Wire::Json, &bytes);
            agree(Wire::MsgPack, &bytes);
        }
    }

    #[test]
    fn the_benchmark_quote_takes_the_fast_path_in_both_wires() {
        let quote = br#"[{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#;
        assert!(agree(Wire::Json, quote));
        let mut out = Vec::new();
        decode_frame(Wire::Json, quote, &mut out);
        let [Inbound::Data(data)] = &out[..] else {
            panic!("{out:?}")
        };
        assert!(agree(Wire::MsgPack, &msgpack(std::slice::from_ref(data))));
    }

    #[test]
    fn doubtful_json_is_left_to_serde() {
        let base = r#"{"T":"q","S":"AAPL","bp":1,"bs":1,"ap":1,"as":1,"t":"2024-01-02T15:04:05Z"}"#;
        assert!(agree(Wire::Json, base.as_bytes()));
        for refused in [
            // An escape, an exponent, a long significand, a duplicate, an unknown key.
            base.replace("AAPL", "AA\\u0050L"),
            base.replace("\"bp\"", "\"b\\u0070\""),
            base.replace("\"q\"", "\"\\u0071\""),
            base.replace("\"bs\"", "\"b\\\"\""),
            base.replace("\"bp\":1", "\"bp\":1e0"),
            base.replace("\"bp\":1", "\"bp\":9007199254740993"),
            base.replace("\"bp\":1", "\"bp\":1,\"bp\":2"),
            base.replace("\"bp\":1", "\"bp\":1,\"zz\":2"),
            base.replace("\"bp\":1", "\"bp\":01"),
            base.replace("\"bp\":1", "\"bp\":1."),
            base.replace("{\"T\":\"q\",", "{")
                .replace('}', ",\"T\":\"q\"}"),
            base.replace("\"q\"", "\"n\""),
            format!("[{base},]"),
            format!("[{base}] x"),
        ] {
            assert!(!agree(Wire::Json, refused.as_bytes()), "{refused}");
        }
        // Whitespace, nulls and a lone condition string are fine.
        let spaced = base
            .replace(',', " ,\n\t")
            .replace("\":", "\" : ")
            .replace("\"t\"", "\"bx\" : null , \"c\" : \"I\" , \"t\"");
        assert!(agree(Wire::Json, format!(" [ {spaced} ] ").as_bytes()));
    }
}
