//! Quotes delivered through the relay and a real nats-server beside the
//! same consumers connected directly to the exchange, in the same run.
//!
//! ```text
//! cargo bench -p tickwire-relay --bench relay            # 1 and 10 consumers, then latency
//! cargo bench -p tickwire-relay --bench relay -- quick   # shorter windows
//! cargo bench -p tickwire-relay --bench relay -- profile # only the relay, 1 consumer, 5 s (for perf)
//! ```
//!
//! The exchange is `tickwire_mock::Firehose`: JSON quote frames to the
//! direct clients, MessagePack (the relay's default upstream encoding) or
//! JSON to the relay, both columns in the same run. **Throughput**: it sends as fast as each connection
//! reads; N consumers are either N WebSocket clients of the exchange, or N
//! NATS clients each holding leases on the exchange's ten symbols and
//! subscribed to `tickwire.iex.quotes.>`, fed by one relay (each NATS
//! message an array of a subject's quotes of one read, counted by its
//! length); the figure is quotes received per second by all consumers
//! together. **Latency**: the
//! exchange sends 50,000 quotes/s in frames of 10, each quote stamped with
//! the wall clock; one consumer decodes every quote's stamp; the figure is
//! p50/p99 of (receipt − stamp) through the relay (reading MessagePack
//! upstream, its default) and directly (JSON), and their difference is
//! what the relay and NATS add. `profile json` profiles the relay reading
//! JSON instead. **CPU per quote** (Linux): the CPU time of this process
//! (exchange, relay, consumers) and nats-server over the window, from
//! `/proc/<pid>/task/*/schedstat`, divided by the quotes received: unlike
//! quotes per second it hardly depends on what else the machine runs.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream;
use futures::StreamExt;
use memchr::memmem;
use tickwire_alpaca::{Encoding, Feed, Quote};
use tickwire_core::{Credentials, Timestamp};
use tickwire_mock::{FIREHOSE_SYMBOLS, Firehose, FirehosePace, firehose_client};
use tickwire_nats_server::NatsServer;
use tickwire_proxy::Upstream;
use tickwire_relay::{DEFAULT_BUCKET, Relay, RelayConfig};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "bench";
const SECRET: &str = "bench-secret";
/// Quotes per frame in throughput mode.
const THROUGHPUT_BATCH: usize = 100;
/// Latency mode: quotes per second and per frame.
const LATENCY_RATE: u64 = 50_000;
const LATENCY_BATCH: usize = 10;

fn main() {
    let quick = std::env::args().any(|a| a == "quick" || a == "--test")
        || !std::env::args().any(|a| a == "--bench");
    let window = if quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(3)
    };
    let nats = NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap_or_else(|error| panic!("no nats-server for the relay benchmark: {error}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let profile = std::env::args().any(|a| a == "profile");
    runtime.block_on(async move {
        if profile {
            // For a profiler: only the relay, one consumer, 5 s.
            let upstream = if std::env::args().any(|a| a == "json") {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            let measured = relay_throughput(&nats, upstream, 1, Duration::from_secs(5)).await;
            println!(
                "1 consumer through the relay ({upstream:?} upstream): {}/s, {} of CPU per quote",
                millions(measured.rate),
                measured.cpu_per_quote()
            );
            return;
        }
        println!(
            "relay benchmark: {THROUGHPUT_BATCH} quotes per upstream frame, window {window:?}; \
             direct clients read JSON, the relay MessagePack (its default) or JSON"
        );
        println!(
            "{:>9} {:>16} {:>16} {:>8} {:>16} {:>8} {:>12}",
            "consumers",
            "direct (JSON)",
            "relay (msgpack)",
            "ratio",
            "relay (JSON)",
            "ratio",
            "CPU/quote"
        );
        for consumers in [1usize, 10] {
            let direct = direct_throughput(&nats, consumers, window).await;
            let msgpack = relay_throughput(&nats, Encoding::MsgPack, consumers, window).await;
            let json = relay_throughput(&nats, Encoding::Json, consumers, window).await;
            println!(
                "{consumers:>9} {:>16} {:>16} {:>8.2} {:>16} {:>8.2} {:>12}",
                millions(direct.rate),
                millions(msgpack.rate),
                msgpack.rate / direct.rate,
                millions(json.rate),
                json.rate / direct.rate,
                msgpack.cpu_per_quote()
            );
        }
        println!(
            "CPU/quote: the relay reading MessagePack, CPU time of every process over the window per quote received"
        );
        println!();
        println!(
            "latency at {LATENCY_RATE} quotes/s ({LATENCY_BATCH} per frame), one consumer, exchange to consumer:"
        );
        let direct = direct_latency(window).await;
        let relayed = relay_latency(&nats, Encoding::MsgPack, window).await;
        let line = |name: &str, (p50, p99, n): (f64, f64, usize)| {
            println!("  {name:<7} p50 {p50:>7.1} µs  p99 {p99:>7.1} µs  ({n} quotes)");
        };
        line("direct", direct);
        line("relay", relayed);
        println!(
            "  added   p50 {:>7.1} µs  p99 {:>7.1} µs",
            relayed.0 - direct.0,
            relayed.1 - direct.1
        );
    });
}

fn millions(rate: f64) -> String {
    format!("{:.2} M", rate / 1e6)
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// A relay of `firehose`'s iex feed through `nats`, reading `upstream`
/// (the relay's default is MessagePack).
async fn relay(nats: &NatsServer, firehose: &Firehose, upstream: Encoding) -> Relay {
    let mut config = RelayConfig::new(
        nats.url(),
        Upstream::base(&format!("ws://{}", firehose.local_addr())),
        Credentials::new(KEY, SECRET),
        Feed::Iex,
    )
    .with_upstream_idle_linger(Duration::from_millis(100));
    config.upstream_encoding = upstream;
    Relay::start(config).await.expect("the relay starts")
}

/// A NATS consumer named `name`, subscribed to every quote subject and
/// leasing the firehose's symbols.
async fn consumer(nats: &NatsServer, name: &str) -> async_nats::Subscriber {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let subscriber = client
        .subscribe("tickwire.iex.quotes.>")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let leases = jetstream::new(client)
        .get_key_value(DEFAULT_BUCKET)
        .await
        .expect("the relay's lease bucket");
    for symbol in FIREHOSE_SYMBOLS {
        leases
            .put(format!("iex.quotes.{symbol}.{name}"), "".into())
            .await
            .expect("lease");
    }
    subscriber
}

/// Quotes received per second, and the CPU time it took.
struct Measured {
    rate: f64,
    /// CPU nanoseconds of this process and nats-server per quote; `None`
    /// where `/proc` does not tell.
    cpu_nanos_per_quote: Option<f64>,
}

impl Measured {
    fn cpu_per_quote(&self) -> String {
        self.cpu_nanos_per_quote
            .map_or_else(|| "?".to_owned(), |ns| format!("{:.2} µs", ns / 1000.0))
    }
}

/// CPU nanoseconds the live threads of `pid` have run, from
/// `/proc/<pid>/task/*/schedstat`; `None` without `/proc`.
fn cpu_nanos(pid: u32) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        // A thread that ended meanwhile is skipped.
        let Ok(entry) = entry else { continue };
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total += text
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// CPU nanoseconds of this process and `nats`.
fn cpu_now(nats: &NatsServer) -> Option<u64> {
    Some(cpu_nanos(std::process::id())? + cpu_nanos(nats.pid())?)
}

/// Counts what arrives over a warm-up of 0.5 s and then `window`, per
/// second, and the CPU time this process and `nats` spent meanwhile.
async fn rate_over(nats: &NatsServer, received: &AtomicU64, window: Duration) -> Measured {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = received.load(Ordering::Relaxed);
    let cpu_start = cpu_now(nats);
    let begun = Instant::now();
    tokio::time::sleep(window).await;
    let quotes = received.load(Ordering::Relaxed) - start;
    let cpu = cpu_start
        .zip(cpu_now(nats))
        .map(|(a, b)| b.saturating_sub(a));
    Measured {
        rate: quotes as f64 / begun.elapsed().as_secs_f64(),
        cpu_nanos_per_quote: cpu
            .filter(|_| quotes > 0)
            .map(|ns| ns as f64 / quotes as f64),
    }
}

/// Quotes per second received by `consumers` WebSocket clients of the exchange.
async fn direct_throughput(nats: &NatsServer, consumers: usize, window: Duration) -> Measured {
    let pace = FirehosePace::Flat {
        quotes_per_frame: THROUGHPUT_BATCH,
    };
    let firehose = Firehose::start(pace).await.expect("bind the exchange");
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..consumers {
        let mut ws = firehose_client(&firehose.url("/v2/iex"), KEY, SECRET)
            .await
            .expect("connect");
        let received = Arc::clone(&received);
        let stop = Arc::clone(&stop);
        readers.push(tokio::spawn(async move {
            let finder = memmem::Finder::new(br#""T":"q""#);
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = &message {
                    let n = finder.find_iter(text.as_bytes()).count() as u64;
                    received.fetch_add(n, Ordering::Relaxed);
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }));
    }
    let rate = rate_over(nats, &received, window).await;
    stop.store(true, Ordering::Relaxed);
    firehose.stop();
    for reader in readers {
        reader.abort();
    }
    rate
}

/// Quotes per second received by `consumers` NATS consumers of one relay.
async fn relay_throughput(
    nats: &NatsServer,
    upstream: Encoding,
    consumers: usize,
    window: Duration,
) -> Measured {
    let pace = FirehosePace::Flat {
        quotes_per_frame: THROUGHPUT_BATCH,
    };
    let firehose = Firehose::start(pace).await.expect("bind the exchange");
    let relay = relay(nats, &firehose, upstream).await;
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for i in 0..consumers {
        let mut subscriber = consumer(nats, &format!("bench-{i}")).await;
        let received = Arc::clone(&received);
        readers.push(tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                received.fetch_add(quotes_in(&message.payload), Ordering::Relaxed);
            }
        }));
    }
    let rate = rate_over(nats, &received, window).await;
    firehose.stop();
    for reader in readers {
        reader.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), relay.shutdown()).await;
    rate
}

/// The quotes in a NATS message: its MessagePack array's length (the
/// relay publishes each subject's messages of one read as one array).
fn quotes_in(payload: &[u8]) -> u64 {
    match payload {
        [b @ 0x90..=0x9f, ..] => u64::from(b & 0x0f),
        [0xdc, hi, lo, ..] => u64::from(u16::from_be_bytes([*hi, *lo])),
        [0xdd, a, b, c, d, ..] => u64::from(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => 0,
    }
}

/// (p50 µs, p99 µs, samples) of `samples`.
fn percentiles(mut samples: Vec<f64>) -> (f64, f64, usize) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (at(0.50), at(0.99), samples.len())
}

fn stamped() -> FirehosePace {
    FirehosePace::Stamped {
        quotes_per_second: LATENCY_RATE,
        quotes_per_frame: LATENCY_BATCH,
    }
}

/// Stamp-to-receipt latency of one WebSocket client of the exchange.
async fn direct_latency(window: Duration) -> (f64, f64, usize) {
    let firehose = Firehose::start(stamped()).await.expect("bind the exchange");
    let mut ws = firehose_client(&firehose.url("/v2/iex"), KEY, SECRET)
        .await
        .expect("connect");
    let warm_until = Instant::now() + Duration::from_millis(500);
    let end = warm_until + window;
    let mut samples = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
    {
        let received = now();
        if Instant::now() > end {
            break;
        }
        let Message::Text(text) = &message else {
            continue;
        };
        if Instant::now() < warm_until {
            continue;
        }
        let Ok(quotes) = serde_json::from_slice::<Vec<Quote>>(text.as_bytes()) else {
            continue;
        };
        for quote in quotes {
            samples.push(micros_between(quote.timestamp, received));
        }
    }
    firehose.stop();
    percentiles(samples)
}

/// Stamp-to-receipt latency of one NATS consumer of the relay.
async fn relay_latency(
    nats: &NatsServer,
    upstream: Encoding,
    window: Duration,
) -> (f64, f64, usize) {
    let firehose = Firehose::start(stamped()).await.expect("bind the exchange");
    let relay = relay(nats, &firehose, upstream).await;
    let mut subscriber = consumer(nats, "bench-latency").await;
    let warm_until = Instant::now() + Duration::from_millis(500);
    let end = warm_until + window;
    let mut samples = Vec::new();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_secs(5), subscriber.next()).await
    {
        let received = now();
        if Instant::now() > end {
            break;
        }
        if Instant::now() < warm_until {
            continue;
        }
        let Ok(quotes) = rmp_serde::from_slice::<Vec<Quote>>(&message.payload) else {
            continue;
        };
        for quote in quotes {
            samples.push(micros_between(quote.timestamp, received));
        }
    }
    firehose.stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), relay.shutdown()).await;
    percentiles(samples)
}

fn micros_between(sent: Timestamp, received: Timestamp) -> f64 {
    (received.unix_nanos() - sent.unix_nanos()) as f64 / 1000.0
}
