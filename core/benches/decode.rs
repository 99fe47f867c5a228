//! Decode benchmarks: Alpaca quotes in JSON and MessagePack, single and in
//! batches of 10, against a naive serde_json baseline (a derived struct with
//! `String` fields) decoded in the same run.
//!
//! `cargo bench -p tickwire-core --bench decode -- --warm-up-time 1 --measurement-time 3`
//!
//! Wall-clock on a shared 2-core machine is noisy: compare ratios against the
//! naive baseline, and count instructions with `examples/decode_count.rs`
//! under callgrind, which runs the same loops.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use tickwire_core::Frame;
use tickwire_core::protocol::alpaca::{
    AlpacaMarketData, Encoding, MarketData, ServerMessage, encode_market_frame,
};
use tickwire_core::protocol::{Dialect, Inbound};

const QUOTE: &str = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;

/// The naive baseline: what a straightforward client would write.
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
        .map(|m| match m {
            Inbound::Data(d) => ServerMessage::Data(d),
            other => panic!("benchmark input did not decode: {other:?}"),
        })
        .collect();
    encode_market_frame(Encoding::MsgPack, &messages)
}

fn bench_decode(c: &mut Criterion) {
    let dialect = AlpacaMarketData::new(Encoding::MsgPack);
    let mut group = c.benchmark_group("decode");
    for n in [1usize, 10] {
        group.throughput(Throughput::Elements(n as u64));
        let json = json_frame(n);
        let msgpack = msgpack_frame(n);
        let mut out: Vec<Inbound<MarketData>> = Vec::with_capacity(16);
        group.bench_function(format!("json/{n}"), |b| {
            b.iter(|| {
                out.clear();
                dialect.decode(black_box(&json), &mut out);
                assert_eq!(out.len(), n);
            })
        });
        group.bench_function(format!("msgpack/{n}"), |b| {
            b.iter(|| {
                out.clear();
                dialect.decode(black_box(&msgpack), &mut out);
                assert_eq!(out.len(), n);
            })
        });
        let payload = json.payload().clone();
        group.bench_function(format!("naive_json/{n}"), |b| {
            b.iter(|| {
                let quotes: Vec<NaiveQuote> = serde_json::from_slice(black_box(&payload)).unwrap();
                assert_eq!(quotes.len(), n);
                quotes
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
