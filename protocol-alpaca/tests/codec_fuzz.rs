//! Property tests: no input panics a decoder, and a bad message costs only itself.

mod codec_support;

use codec_support::inbound_kinds::kinds;
use codec_support::mutation::{mutate, mutation};
use codec_support::{every_market_message, fill};
use proptest::prelude::*;
use tickwire_alpaca::{
    AlpacaMarketData, AlpacaTrading, Encoding, MarketData, ServerMessage, TradingServerMessage,
    decode_client_message, encode_market_frame, encode_trading_frame,
};
use tickwire_core::Frame;
use tickwire_core::protocol::{Dialect, Inbound};

fn decode_everything(frame: &Frame) -> usize {
    let mut market = Vec::new();
    AlpacaMarketData::default().decode(frame, &mut market);
    let mut trading = Vec::new();
    AlpacaTrading::default().decode(frame, &mut trading);
    let _ = decode_client_message(frame);
    market.len() + trading.len()
}

/// Frames of quotes, trades and bars only: what the decoders' hand-written
/// fast path takes (so mutating them exercises its every refusal).
fn fast_path_seeds() -> Vec<Vec<u8>> {
    let data: Vec<ServerMessage> = every_market_message()
        .into_iter()
        .filter(|m| matches!(m.tag(), "q" | "t" | "b" | "d" | "u"))
        .map(ServerMessage::Data)
        .collect();
    [Encoding::Json, Encoding::MsgPack]
        .into_iter()
        .map(|encoding| encode_market_frame(encoding, &data).payload().to_vec())
        .collect()
}

/// JSON fragments the fast path must refuse or handle exactly as serde does.
const JSON_SNIPPETS: [&str; 16] = [
    " ",
    "null",
    "\\u0041",
    "\\\"",
    "1e5",
    "-",
    "01",
    ".5",
    "1.",
    "99999999999999999999",
    "9007199254740993",
    ",\"bp\":1",
    ",\"zz\":1",
    "\"",
    "é",
    "\u{1}",
];

/// Valid frames of every kind, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let data: Vec<ServerMessage> = every_market_message()
        .into_iter()
        .map(ServerMessage::Data)
        .collect();
    let mut seeds = Vec::new();
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        seeds.push(encode_market_frame(encoding, &data).payload().to_vec());
        seeds.push(
            encode_trading_frame(
                encoding,
                &TradingServerMessage::TradeUpdate(Box::new(fill())),
            )
            .payload()
            .to_vec(),
        );
        seeds.push(
            AlpacaMarketData::new(encoding)
                .encode_auth(&tickwire_core::Credentials::new("K", "S"))
                .payload()
                .to_vec(),
        );
    }
    seeds
}

/// Every byte, as one-byte snippets: a mutation may insert any of them.
const EVERY_BYTE: [[u8; 1]; 256] = {
    let mut all = [[0; 1]; 256];
    let mut b = 0;
    while b < 256 {
        all[b] = [b as u8];
        b += 1;
    }
    all
};

/// Messages that must decode as `Malformed` (or at worst `Unknown`) without
/// disturbing their neighbours.
const BAD_JSON: [&str; 6] = [
    r#"{"T":"q","S":"AAPL","bp":"not a number"}"#,
    r#"{"T":"t"}"#,
    r#"{"S":"AAPL"}"#,
    r#"[1,2,3]"#,
    r#""just a string""#,
    r#"{"T":"b","S":"X","o":1,"h":1,"l":1,"c":1,"v":1,"t":"yesterday"}"#,
];

/// Decodes `frame`, the `good` messages with a bad one inserted at
/// `position`: the bad one is `Malformed` and every good one is data, in order.
fn costs_only_itself(
    frame: &Frame,
    good: &[MarketData],
    position: usize,
) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    AlpacaMarketData::default().decode(frame, &mut out);
    prop_assert_eq!(out.len(), good.len() + 1);
    prop_assert!(
        matches!(out[position], Inbound::Malformed(_)),
        "{:?}",
        out[position]
    );
    let data: Vec<&MarketData> = out
        .iter()
        .filter_map(|m| match m {
            Inbound::Data(d) => Some(d),
            _ => None,
        })
        .collect();
    prop_assert_eq!(data, good.iter().collect::<Vec<_>>());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_everything(&Frame::binary(bytes.clone()));
        decode_everything(&Frame::Text(bytes.into()));
    }

    #[test]
    fn arbitrary_json_like_text_never_panics(text in r#"[\[\]{}",:0-9a-zA-Z\\ .TSqtx-]{0,200}"#) {
        decode_everything(&Frame::text(text));
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        seed in 0usize..6,
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = seeds()[seed].clone();
        for m in &mutations {
            mutate(&mut bytes, m, &EVERY_BYTE);
        }
        decode_everything(&Frame::binary(bytes.clone()));
        decode_everything(&Frame::Text(bytes.into()));
    }

    #[test]
    fn mutated_fast_path_frames_never_panic(
        seed in 0usize..2,
        mutations in proptest::collection::vec(mutation(), 1..8),
        snippets in proptest::collection::vec((any::<usize>(), 0..JSON_SNIPPETS.len()), 0..3),
    ) {
        let mut bytes = fast_path_seeds()[seed].clone();
        for (at, snippet) in snippets {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, JSON_SNIPPETS[snippet].bytes());
        }
        for m in &mutations {
            mutate(&mut bytes, m, &EVERY_BYTE);
        }
        decode_everything(&Frame::binary(bytes.clone()));
        decode_everything(&Frame::Text(bytes.into()));
    }

    #[test]
    fn truncated_fast_path_frames_never_panic_and_keep_what_precedes(seed in 0usize..2, cut in any::<usize>()) {
        let bytes = fast_path_seeds()[seed].clone();
        let cut = cut % bytes.len();
        let frame = Frame::binary(bytes[..cut].to_vec());
        let mut out = Vec::new();
        AlpacaMarketData::default().decode(&frame, &mut out);
        // Whatever decoded is real data or a report, never a panic or a loss of order.
        prop_assert!(out.iter().all(|m| matches!(m, Inbound::Data(_) | Inbound::Malformed(_))));
    }

    #[test]
    fn one_bad_json_message_costs_only_itself(
        position in 0usize..15,
        bad in 0usize..BAD_JSON.len(),
        trailing_t in any::<bool>(),
    ) {
        let good = every_market_message();
        let position = position % (good.len() + 1);
        let mut elements: Vec<String> = good.iter().map(|m| serde_json::to_string(m).unwrap()).collect();
        if trailing_t {
            // Move `T` to the end of one good message: still decodes.
            let first = &elements[0];
            let tag_field = format!(r#""T":"{}","#, good[0].tag());
            elements[0] = format!("{{{},\"T\":\"{}\"}}", &first[1 + tag_field.len()..first.len() - 1], good[0].tag());
        }
        elements.insert(position, BAD_JSON[bad].to_owned());
        let frame = Frame::text(format!("[{}]", elements.join(",")));
        costs_only_itself(&frame, &good, position)?;
    }

    #[test]
    fn one_bad_msgpack_message_costs_only_itself(position in 0usize..15, bad in 0usize..4) {
        let good = every_market_message();
        let position = position % (good.len() + 1);
        let bad_element: Vec<u8> = match bad {
            0 => rmp_serde::to_vec_named(&serde_json::json!({"T": "q", "S": "AAPL", "bp": "x"})).unwrap(),
            1 => rmp_serde::to_vec_named(&serde_json::json!({"T": 7})).unwrap(),
            2 => rmp_serde::to_vec_named(&serde_json::json!([1, 2])).unwrap(),
            // A quote whose timestamp is an extension of another type.
            _ => {
                let mut q = rmp_serde::to_vec_named(&serde_json::json!({"T":"q","S":"A","bp":1,"bs":1,"ap":1,"as":1})).unwrap();
                q[0] += 1; // one more map entry
                q.extend_from_slice(&[0xa1, b't', 0xd6, 0x05, 0, 0, 0, 1]);
                q
            }
        };
        let mut elements: Vec<Vec<u8>> = good.iter().map(|m| rmp_serde::to_vec_named(m).unwrap()).collect();
        elements.insert(position, bad_element);
        let mut bytes = vec![0x90 + elements.len() as u8];
        for e in &elements {
            bytes.extend_from_slice(e);
        }
        costs_only_itself(&Frame::binary(bytes), &good, position)?;
    }
}

#[test]
fn a_syntax_error_keeps_the_messages_before_it() {
    let good = serde_json::to_string(&every_market_message()[0]).unwrap();
    let frame = Frame::text(format!("[{good},{good},{{\"T\":\"q\",\"S\":"));
    let mut out = Vec::new();
    AlpacaMarketData::default().decode(&frame, &mut out);
    assert_eq!(kinds(&out), ["Data", "Data", "Malformed"], "{out:?}");
}

/// Cases the hand-written fast path refuses, left to serde: their result is
/// serde's (data, `Malformed` or `Unknown`), and their neighbours still decode.
#[test]
fn the_fast_path_leaves_doubtful_messages_to_serde() {
    let quote = r#"{"T":"q","S":"AAPL","bp":1.5,"bs":1,"ap":2,"as":1,"t":"2024-01-02T15:04:05Z"}"#;
    let decode = |text: String| {
        let mut out = Vec::new();
        AlpacaMarketData::default().decode(&Frame::text(text), &mut out);
        out
    };
    let quote_of = |out: &[Inbound<MarketData, tickwire_alpaca::Channel>], i: usize| match &out[i] {
        Inbound::Data(MarketData::Quote(q)) => q.clone(),
        other => panic!("{other:?}"),
    };
    // An escaped symbol, an exponent and a long integer still decode as data.
    let out = decode(format!(
        "[{quote},{},{},{}]",
        quote.replace("AAPL", "AA\\u0050L"),
        quote.replace("1.5", "15e-1"),
        quote.replace("1.5", "12345678901234567890"),
    ));
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(quote_of(&out, 1).symbol.as_str(), "AAPL");
    assert_eq!(quote_of(&out, 2).bid_price, 1.5);
    assert_eq!(quote_of(&out, 3).bid_price, 12_345_678_901_234_567_890.0);
    // A duplicate key and a huge number are serde's errors; neighbours survive.
    let out = decode(format!(
        "[{quote},{},{},{quote}]",
        quote.replace("\"bs\":1", "\"bs\":1,\"bs\":2"),
        quote.replace("1.5", "1e999"),
    ));
    assert_eq!(
        kinds(&out),
        ["Data", "Malformed", "Malformed", "Data"],
        "{out:?}"
    );
    // Unknown types and `T` not first, amid fast-path messages.
    let out = decode(format!(
        "[{quote},{{\"T\":\"zz\"}},{}]",
        quote
            .replace("{\"T\":\"q\",", "{")
            .replace('}', ",\"T\":\"q\"}")
    ));
    assert_eq!(quote_of(&out, 0), quote_of(&out, 2));
    assert_eq!(out[1], Inbound::Unknown { tag: "zz".into() });
}
