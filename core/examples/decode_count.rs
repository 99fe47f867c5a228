//! Runs one hot loop of the decode and machine benchmarks `N` times, for
//! counting instructions with callgrind, which wall-clock noise does not
//! disturb:
//!
//! ```text
//! cargo build --release -p tickwire-core --example decode_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/decode_count json/1 10000
//! ```
//!
//! Run it twice with different `N` and divide the difference in instructions
//! by the difference in `N` (and by the batch size) to get the cost of one
//! iteration without the set-up. Loops: `json/{1,10}`, `msgpack/{1,10}`,
//! `naive_json/{1,10}` (the serde_json baseline of `benches/decode.rs`),
//! `machine` and `queue` (the two loops of `benches/machine.rs`).

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

use serde::Deserialize;
use tickwire_core::machine::{Action, Event, Machine, MachineConfig};
use tickwire_core::protocol::alpaca::{
    AlpacaMarketData, Encoding, MarketData, ServerMessage, encode_market_frame,
};
use tickwire_core::protocol::{Dialect, Inbound};
use tickwire_core::{Channel, Credentials, Frame, Symbol};

const QUOTE: &str = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;

/// The naive baseline of `benches/decode.rs`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct NaiveQuote {
    #[serde(rename = "T")]
    tag: String,
    #[serde(rename = "S")]
    symbol: String,
    bx: String,
    bp: f64,
    bs: f64,
    ax: String,
    ap: f64,
    #[serde(rename = "as")]
    ask_size: f64,
    c: Vec<String>,
    z: String,
    t: String,
}

fn json_frame(n: usize) -> Frame {
    Frame::text(format!("[{}]", vec![QUOTE; n].join(",")))
}

fn msgpack_frame(n: usize) -> Frame {
    let mut out = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&json_frame(n), &mut out);
    let messages: Vec<ServerMessage> = out
        .into_iter()
        .filter_map(|m| match m {
            Inbound::Data(d) => Some(ServerMessage::Data(d)),
            _ => None,
        })
        .collect();
    encode_market_frame(Encoding::MsgPack, &messages)
}

fn decode_loop(frame: &Frame, n: usize, iterations: u64) {
    let dialect = AlpacaMarketData::new(Encoding::MsgPack);
    let mut out: Vec<Inbound<MarketData>> = Vec::with_capacity(16);
    for _ in 0..iterations {
        out.clear();
        dialect.decode(black_box(frame), &mut out);
        assert_eq!(out.len(), n);
    }
}

fn naive_loop(frame: &Frame, n: usize, iterations: u64) {
    let payload = frame.payload().clone();
    for _ in 0..iterations {
        let quotes: Vec<NaiveQuote> =
            serde_json::from_slice(black_box(&payload)).expect("baseline decodes");
        assert_eq!(quotes.len(), n);
        black_box(quotes);
    }
}

fn quote() -> Inbound<MarketData> {
    let mut out = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&json_frame(1), &mut out);
    out.pop().expect("one message")
}

fn machine_loop(iterations: u64) {
    let now = Instant::now();
    let mut config = MachineConfig::new("ws://127.0.0.1:1/v2/test", Credentials::new("k", "s"));
    config.data_silence_timeout = Some(std::time::Duration::from_secs(30));
    let mut machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json), now);
    machine
        .subscribe(now, Channel::Quotes, [Symbol::new("AAPL").expect("valid")])
        .expect("subscribe");
    let Some(Action::Connect { epoch, .. }) = machine.poll_action() else {
        unreachable!("a subscribed idle stream connects")
    };
    machine.handle_connected(now, epoch);
    for text in [
        r#"[{"T":"success","msg":"connected"}]"#,
        r#"[{"T":"success","msg":"authenticated"}]"#,
        r#"[{"T":"subscription","quotes":["AAPL"]}]"#,
    ] {
        machine.handle_frame(now, epoch, &Frame::text(text));
    }
    assert!(machine.state().is_live());
    while machine.poll_action().is_some() {}
    while machine.poll_event().is_some() {}
    let quote = quote();
    for _ in 0..iterations {
        machine.handle_decoded(now, epoch, std::iter::once(quote.clone()));
        while let Some(event) = machine.poll_event() {
            if let Event::Data(data) = event {
                black_box(data);
            }
        }
    }
}

fn queue_loop(iterations: u64) {
    let quote = quote();
    let mut queue = VecDeque::new();
    for _ in 0..iterations {
        if let Inbound::Data(data) = quote.clone() {
            queue.push_back(data);
        }
        while let Some(data) = queue.pop_front() {
            black_box(data);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let loop_name = args.next().unwrap_or_else(|| "json/1".to_owned());
    let iterations: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    match loop_name.as_str() {
        "json/1" => decode_loop(&json_frame(1), 1, iterations),
        "json/10" => decode_loop(&json_frame(10), 10, iterations),
        "msgpack/1" => decode_loop(&msgpack_frame(1), 1, iterations),
        "msgpack/10" => decode_loop(&msgpack_frame(10), 10, iterations),
        "naive_json/1" => naive_loop(&json_frame(1), 1, iterations),
        "naive_json/10" => naive_loop(&json_frame(10), 10, iterations),
        "machine" => machine_loop(iterations),
        "queue" => queue_loop(iterations),
        other => panic!("unknown loop {other:?}"),
    }
}
