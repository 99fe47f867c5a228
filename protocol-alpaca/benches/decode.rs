//! Decode benchmarks: Alpaca quotes in JSON and MessagePack, single and in
//! batches of 10, against a naive serde_json baseline (a derived struct with
//! `String` fields) decoded in the same run; and a subscription ack on the
//! fast path beside the same ack left to serde.
//!
//! `cargo bench -p tickwire-alpaca --bench decode -- --warm-up-time 1 --measurement-time 3`
//!
//! Wall-clock on a shared 2-core machine is noisy: compare ratios against the
//! naive baseline, and count instructions with `examples/decode_count.rs`
//! under callgrind, which runs the same loops.

mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixtures::{NaiveQuote, json_frame, msgpack_frame, subscription_ack};
use tickwire_alpaca::{AlpacaMarketData, Channel, Encoding, MarketData};
use tickwire_core::protocol::{Dialect, Inbound};

fn bench_decode(c: &mut Criterion) {
    let dialect = AlpacaMarketData::new(Encoding::MsgPack);
    let mut group = c.benchmark_group("decode");
    for n in [1usize, 10] {
        group.throughput(Throughput::Elements(n as u64));
        let json = json_frame(n);
        let msgpack = msgpack_frame(n);
        let mut out: Vec<Inbound<MarketData, Channel>> = Vec::with_capacity(16);
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
    // The fast path beside serde (a stray key makes the fast path decline).
    group.throughput(Throughput::Elements(1));
    for (name, encoding) in [("json", Encoding::Json), ("msgpack", Encoding::MsgPack)] {
        for (path, stray_key) in [("fast", false), ("serde", true)] {
            let frame = subscription_ack(encoding, stray_key);
            let mut out: Vec<Inbound<MarketData, Channel>> = Vec::with_capacity(1);
            group.bench_function(format!("ack_{name}/{path}"), |b| {
                b.iter(|| {
                    out.clear();
                    dialect.decode(black_box(&frame), &mut out);
                    assert!(matches!(out[..], [Inbound::SubscriptionAck(_)]));
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
