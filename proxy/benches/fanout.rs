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
//! The exchange here is a bare Alpaca-speaking WebSocket server (greeting,
//! auth, subscription ack, then JSON quote frames of 100 quotes) so that it
//! costs little beside the proxy. **Throughput**: it sends as fast as each
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

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use memchr::memmem;
use tickwire_alpaca::{Conditions, Encoding, MarketData, Quote, ServerMessage};
use tickwire_core::{Credentials, Symbol, Timestamp};
use tickwire_proxy::{Limits, Proxy, ProxyConfig, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "bench";
const SECRET: &str = "bench-secret";
const SYMBOLS: [&str; 10] = [
    "AAPL", "MSFT", "SPY", "TSLA", "AMD", "NVDA", "AMZN", "GOOG", "META", "QQQ",
];
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

/// How the exchange sends.
#[derive(Clone, Copy)]
enum Pace {
    /// The same pre-encoded frame, as fast as the connection takes it.
    Flat,
    /// Fresh frames stamped now, at `LATENCY_RATE`.
    Stamped,
}

/// Starts the bare exchange; returns its address.
async fn exchange(pace: Pace, stop: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_exchange(stream, pace, Arc::clone(&stop)));
        }
    });
    addr
}

fn quote(symbol: &str, timestamp: Timestamp) -> MarketData {
    MarketData::Quote(Quote {
        symbol: Symbol::new(symbol).expect("valid"),
        bid_exchange: Some("V".into()),
        bid_price: 189.1,
        bid_size: 1.0,
        ask_exchange: Some("Q".into()),
        ask_price: 189.12,
        ask_size: 2.0,
        conditions: ["R"].into_iter().collect::<Conditions>(),
        timestamp,
        tape: Some("C".into()),
    })
}

fn frame_of(count: usize, timestamp: Timestamp) -> Bytes {
    let quotes: Vec<MarketData> = (0..count)
        .map(|i| quote(SYMBOLS[i % SYMBOLS.len()], timestamp))
        .collect();
    let refs: Vec<&MarketData> = quotes.iter().collect();
    ServerMessage::data_frame(Encoding::Json, &refs)
        .payload()
        .clone()
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

async fn serve_exchange(stream: TcpStream, pace: Pace, stop: Arc<AtomicBool>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let text = |s: &str| Message::text(s.to_owned());
    let greeting = r#"[{"T":"success","msg":"connected"}]"#;
    let authenticated = r#"[{"T":"success","msg":"authenticated"}]"#;
    let ack = r#"[{"T":"subscription","trades":[],"quotes":["*"],"bars":[],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":[],"cancelErrors":[]}]"#;
    if ws.send(text(greeting)).await.is_err() {
        return;
    }
    // Auth, then the subscription: answered without looking closely.
    for answer in [authenticated, ack] {
        let _request = ws.next().await;
        if ws.send(text(answer)).await.is_err() {
            return;
        }
    }
    let (mut sink, mut source) = ws.split();
    // Answer pings and notice the close.
    tokio::spawn(async move { while let Some(Ok(_)) = source.next().await {} });
    match pace {
        Pace::Flat => {
            let frame = Message::Text(frame_of(THROUGHPUT_BATCH, now()).try_into().expect("UTF-8"));
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..16 {
                    if sink.feed(frame.clone()).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
        Pace::Stamped => {
            let frames_per_second = LATENCY_RATE / LATENCY_BATCH as u64;
            let mut tick =
                tokio::time::interval(Duration::from_nanos(1_000_000_000 / frames_per_second));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let frame =
                    Message::Text(frame_of(LATENCY_BATCH, now()).try_into().expect("UTF-8"));
                if sink.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// An exchange sending at `pace` until `stop`, with a proxy in front of it
/// when `through_proxy`; the proxy, and the URL clients connect to.
async fn endpoint(
    pace: Pace,
    through_proxy: bool,
    stop: &Arc<AtomicBool>,
) -> (Option<Proxy>, String) {
    let upstream = exchange(pace, Arc::clone(stop)).await;
    if through_proxy {
        let proxy = proxy(upstream).await;
        let url = proxy.url("/v2/iex");
        (Some(proxy), url)
    } else {
        (None, format!("ws://{upstream}/v2/iex"))
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
async fn client(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let _greeting = ws.next().await;
    let auth = format!(r#"{{"action":"auth","key":"{KEY}","secret":"{SECRET}"}}"#);
    ws.send(Message::text(auth)).await.expect("auth");
    let _authenticated = ws.next().await;
    ws.send(Message::text(r#"{"action":"subscribe","quotes":["*"]}"#))
        .await
        .expect("subscribe");
    ws
}

/// Quotes per second received by `clients` clients together.
async fn throughput(clients: usize, through_proxy: bool, window: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let (proxy, url) = endpoint(Pace::Flat, through_proxy, &stop).await;
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
    for reader in readers {
        reader.abort();
    }
    shut_down(proxy).await;
    rate
}

/// (p50 µs, p99 µs, quotes) of stamp-to-receipt latency for one client.
async fn latency(through_proxy: bool, window: Duration) -> (f64, f64, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let (proxy, url) = endpoint(Pace::Stamped, through_proxy, &stop).await;
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
    stop.store(true, Ordering::Relaxed);
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
