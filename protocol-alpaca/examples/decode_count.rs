//! Runs one hot loop of the decode and machine benchmarks `N` times, for
//! counting instructions with callgrind, which wall-clock noise does not
//! disturb:
//!
//! ```text
//! cargo build --release -p tickwire-alpaca --example decode_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/decode_count json/1 10000
//! ```
//!
//! Run it twice with different `N` and divide the difference in instructions
//! by the difference in `N` (and by the batch size) to get the cost of one
//! iteration without the set-up. Loops: `json/{1,10}`, `msgpack/{1,10}`,
//! `naive_json/{1,10}` (the serde_json baseline of `benches/decode.rs`),
//! `machine` and `queue` (the two loops of `benches/machine.rs`).

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

use std::collections::VecDeque;
use std::hint::black_box;

use fixtures::{NaiveQuote, decoded_quote, json_frame, live_machine, msgpack_frame};
use tickwire_alpaca::{AlpacaMarketData, Channel, Encoding, MarketData};
use tickwire_core::Frame;
use tickwire_core::machine::Event;
use tickwire_core::protocol::{Dialect, Inbound};

fn decode_loop(frame: &Frame, n: usize, iterations: u64) {
    let dialect = AlpacaMarketData::new(Encoding::MsgPack);
    let mut out: Vec<Inbound<MarketData, Channel>> = Vec::with_capacity(16);
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

fn machine_loop(iterations: u64) {
    let (mut machine, epoch, now) = live_machine();
    let quote = decoded_quote();
    let frame = Frame::text("");
    for _ in 0..iterations {
        machine.dialect().preload([quote.clone()]);
        machine.handle_frame(now, epoch, &frame);
        while let Some(event) = machine.poll_event() {
            if let Event::Data(data) = event {
                black_box(data);
            }
        }
    }
}

fn queue_loop(iterations: u64) {
    let quote = decoded_quote();
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
