//! Quotes delivered through the proxy beside the same clients connected
//! directly to the exchange, in the same run.
//!
//! ```text
//! cargo bench -p tickwire-proxy --bench fanout            # 1, 10 and 100 clients, then latency
//! cargo bench -p tickwire-proxy --bench fanout -- quick   # shorter windows
//! cargo bench -p tickwire-proxy --bench fanout -- latency      # only the latency
//! cargo bench -p tickwire-proxy --bench fanout -- profile=10   # only the proxy, 10 clients, 5 s (for perf)
//! ```
//!
//! The exchange here is `tickwire_mock::Firehose`, a bare Alpaca-speaking
//! WebSocket server (greeting, auth, subscription ack, then JSON quote
//! frames of 100 quotes) that costs little beside the proxy. **Throughput**: it sends as fast as each
//! connection reads; N clients read either N direct connections or one
//! proxy whose single upstream connection feeds them all; the figure is
//! quotes received per second by all clients together. **Latency**: the
//! exchange sends 50,000 quotes/s in frames of 10, each quote stamped with
//! the wall clock; a client reads every quote's stamp; the figure is p50/p99
//! of (receipt − stamp) through the proxy and directly, and their
//! difference is what the proxy adds.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use memchr::memmem;
use tickwire_alpaca::Encoding;
use tickwire_core::{Credentials, Timestamp};
use tickwire_mock::{Firehose, FirehosePace, FirehoseSocket, firehose_client};
use tickwire_proxy::{Limits, Proxy, ProxyConfig, Upstream};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "bench";
const SECRET: &str = "bench-secret";
/// Quotes per frame in throughput mode.
const THROUGHPUT_BATCH: usize = 100;
/// Latency mode: quotes per second and per frame.
const LATENCY_RATE: u64 = 50_000;
const LATENCY_BATCH: usize = 10;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let window = if quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(3)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let profile: Option<usize> =
        std::env::args().find_map(|a| a.strip_prefix("profile=")?.parse().ok());
    runtime.block_on(async move {
        if let Some(clients) = profile {
            // For a profiler: only the proxied run with this many clients.
            let rate = throughput(clients, true, Duration::from_secs(5)).await;
            println!("{clients} clients through the proxy: {}/s", millions(rate));
            return;
        }
        let latency_only = std::env::args().any(|a| a == "latency");
        if !latency_only {
        println!("proxy fan-out benchmark: JSON quotes, {THROUGHPUT_BATCH} per upstream frame, window {window:?}");
        println!("{:>8} {:>16} {:>16} {:>8}", "clients", "direct quotes/s", "proxy quotes/s", "ratio");
        for clients in [1usize, 10, 100] {
            let direct = throughput(clients, false, window).await;
            let proxied = throughput(clients, true, window).await;
            println!(
                "{clients:>8} {:>16} {:>16} {:>8.2}",
                millions(direct),
                millions(proxied),
                proxied / direct
            );
        }
        println!();
        }
        println!("latency at {LATENCY_RATE} quotes/s ({LATENCY_BATCH} per frame), one client, socket to client:");
        let direct = latency(false, window).await;
        let proxied = latency(true, window).await;
        println!("  direct  p50 {:>7.1} µs  p99 {:>7.1} µs  ({} quotes)", direct.0, direct.1, direct.2);
        println!("  proxy   p50 {:>7.1} µs  p99 {:>7.1} µs  ({} quotes)", proxied.0, proxied.1, proxied.2);
        println!("  added   p50 {:>7.1} µs  p99 {:>7.1} µs", proxied.0 - direct.0, proxied.1 - direct.1);
    });
}

fn millions(rate: f64) -> String {
    format!("{:.2} M", rate / 1e6)
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// An exchange sending at `pace`, with a proxy in front of it when
/// `through_proxy`; the exchange, the proxy, and the URL clients connect to.
async fn endpoint(pace: FirehosePace, through_proxy: bool) -> (Firehose, Option<Proxy>, String) {
    let firehose = Firehose::start(pace).await.expect("bind the exchange");
    if through_proxy {
        let proxy = proxy(firehose.local_addr()).await;
        let url = proxy.url("/v2/iex");
        (firehose, Some(proxy), url)
    } else {
        let url = firehose.url("/v2/iex");
        (firehose, None, url)
    }
}

/// Stops the proxy, if any, giving it 5 s.
async fn shut_down(proxy: Option<Proxy>) {
    if let Some(proxy) = proxy {
        let _ = tokio::time::timeout(Duration::from_secs(5), proxy.shutdown()).await;
    }
}

/// A proxy in front of `upstream`.
async fn proxy(upstream: SocketAddr) -> Proxy {
    let mut limits = Limits::default();
    limits.connections_max = 1024;
    let mut config = ProxyConfig::new(
        Upstream::base(&format!("ws://{upstream}")),
        Credentials::new(KEY, SECRET),
        vec![Credentials::new(KEY, SECRET)],
    )
    .with_limits(limits);
    config.upstream_encoding = Encoding::Json;
    Proxy::start(config).await.expect("bind the proxy")
}

/// Connects, authenticates and subscribes to every quote.
async fn client(url: &str) -> FirehoseSocket {
    firehose_client(url, KEY, SECRET).await.expect("connect")
}

/// Quotes per second received by `clients` clients together.
async fn throughput(clients: usize, through_proxy: bool, window: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let pace = FirehosePace::Flat {
        quotes_per_frame: THROUGHPUT_BATCH,
    };
    let (firehose, proxy, url) = endpoint(pace, through_proxy).await;
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..clients {
        let mut ws = client(&url).await;
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
    // Warm up, then count over the window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = received.load(Ordering::Relaxed);
    let begun = Instant::now();
    tokio::time::sleep(window).await;
    let counted = received.load(Ordering::Relaxed) - start;
    let rate = counted as f64 / begun.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    firehose.stop();
    for reader in readers {
        reader.abort();
    }
    shut_down(proxy).await;
    rate
}

/// (p50 µs, p99 µs, quotes) of stamp-to-receipt latency for one client.
async fn latency(through_proxy: bool, window: Duration) -> (f64, f64, usize) {
    let pace = FirehosePace::Stamped {
        quotes_per_second: LATENCY_RATE,
        quotes_per_frame: LATENCY_BATCH,
    };
    let (firehose, proxy, url) = endpoint(pace, through_proxy).await;
    let mut ws = client(&url).await;
    let finder = memmem::Finder::new(br#""t":""#);
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
        // Every quote of the frame: the proxy may carry several upstream
        // frames in one, and the oldest quote waited longest.
        let bytes = text.as_bytes();
        for at in finder.find_iter(bytes) {
            let stamp = &bytes[at + 5..];
            let Some(close) = stamp.iter().position(|b| *b == b'"') else {
                continue;
            };
            let Some(sent) = Timestamp::from_rfc3339_bytes(&stamp[..close]) else {
                continue;
            };
            samples.push((received.unix_nanos() - sent.unix_nanos()) as f64 / 1000.0);
        }
    }
    firehose.stop();
    shut_down(proxy).await;
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (at(0.50), at(0.99), samples.len())
}
