//! End to end: a loopback server bursting Alpaca quotes → a `MarketDataStream`
//! → a consumer task, in quotes per second; side by side, in the same run, a
//! naive client (tokio-tungstenite read loop + serde into a plain struct +
//! tokio mpsc to a consumer task), for JSON and MessagePack.
//!
//! `cargo bench -p tickwire-ws --bench end_to_end` prints a table. Optional
//! arguments: the number of quotes per run (default 2 000 000).
//!
//! The server is a minimal tokio-tungstenite one on its own thread: it does
//! the Alpaca handshake (greeting, auth, subscription ack), then writes the
//! burst as pre-framed WebSocket bytes, so that its own cost stays out of the
//! figure. The clock runs from the start of the burst to the consumer's
//! receipt of the last quote.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use tickwire_alpaca::{AlpacaMarketData, ServerMessage, encode_market_frame};
use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::protocol::{Dialect, Inbound};
use tickwire_core::{Frame, Symbol};
use tickwire_ws::{Encoding, Event, Feed, MarketData, MarketDataStream, StreamEvent};

/// A 150-byte quote, as Alpaca sends it.
const QUOTE: &str = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;

/// Frames pre-encoded per chunk written by the server.
const CHUNK_FRAMES: usize = 4096;

// ------------------------------------------------------------------ server

/// The frames of one run: the payload of every data frame, and whether it is text.
#[derive(Clone)]
struct Burst {
    encoding: Encoding,
    frame: Frame,
    frames: usize,
}

/// One data frame of `per_frame` quotes in `encoding`.
fn data_frame(encoding: Encoding, per_frame: usize) -> Frame {
    let json = Frame::text(format!("[{}]", vec![QUOTE; per_frame].join(",")));
    if encoding == Encoding::Json {
        return json;
    }
    let mut decoded = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&json, &mut decoded);
    let messages: Vec<ServerMessage> = decoded
        .into_iter()
        .filter_map(|m| match m {
            Inbound::Data(d) => Some(ServerMessage::Data(d)),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), per_frame, "the benchmark quote must decode");
    encode_market_frame(Encoding::MsgPack, &messages)
}

/// A server-to-client WebSocket frame (unmasked), header and payload.
fn ws_frame_bytes(frame: &Frame, out: &mut Vec<u8>) {
    let opcode = if matches!(frame, Frame::Text(_)) {
        0x81
    } else {
        0x82
    };
    let payload = frame.payload();
    out.push(opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(b) => Message::Text(String::from_utf8_lossy(&b).into_owned().into()),
        other => Message::Binary(other.payload().clone()),
    }
}

/// Serves one connection per burst received on `bursts`; reports on
/// `started` when each burst starts.
async fn serve(
    listener: TcpListener,
    bursts: std_mpsc::Receiver<Burst>,
    started: std_mpsc::Sender<Instant>,
) {
    while let Ok(burst) = bursts.recv() {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        socket.set_nodelay(true).ok();
        let mut ws = tokio_tungstenite::accept_async(socket)
            .await
            .expect("upgrade");
        let control = |m: ServerMessage| to_message(encode_market_frame(burst.encoding, &[m]));
        ws.send(control(ServerMessage::Connected))
            .await
            .expect("greeting");
        // auth, then subscribe: answer each, whatever it says.
        let _auth = ws.next().await;
        ws.send(control(ServerMessage::Authenticated))
            .await
            .expect("auth");
        let _subscribe = ws.next().await;
        let set =
            SubscriptionSet::from_iter([(Channel::Quotes, Symbol::new("AAPL").expect("symbol"))]);
        ws.send(control(ServerMessage::Subscription(set)))
            .await
            .expect("ack");

        let mut chunk = Vec::new();
        for _ in 0..CHUNK_FRAMES {
            ws_frame_bytes(&burst.frame, &mut chunk);
        }
        let mut tail = Vec::new();
        for _ in 0..burst.frames % CHUNK_FRAMES {
            ws_frame_bytes(&burst.frame, &mut tail);
        }
        let mut tcp = ws.into_inner();
        started.send(Instant::now()).expect("report");
        for _ in 0..burst.frames / CHUNK_FRAMES {
            tcp.write_all(&chunk).await.expect("write");
        }
        tcp.write_all(&tail).await.expect("write");
        tcp.flush().await.expect("flush");
        // Keep the socket until the client is done (it closes first).
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read(&mut tcp, &mut sink),
        )
        .await;
    }
}

struct Server {
    addr: SocketAddr,
    bursts: std_mpsc::Sender<Burst>,
    started: std_mpsc::Receiver<Instant>,
}

fn start_server() -> Server {
    let (addr_tx, addr_rx) = std_mpsc::channel();
    let (bursts_tx, bursts_rx) = std_mpsc::channel();
    let (started_tx, started_rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("addr");
            serve(listener, bursts_rx, started_tx).await;
        });
    });
    Server {
        addr: addr_rx.recv().expect("server address"),
        bursts: bursts_tx,
        started: started_rx,
    }
}

// ------------------------------------------------------------------ clients

/// What a straightforward client decodes a JSON quote into.
#[derive(Deserialize)]
#[allow(dead_code)]
struct NaiveQuote {
    #[serde(rename = "T")]
    tag: String,
    #[serde(rename = "S")]
    symbol: String,
    #[serde(default)]
    bx: String,
    bp: f64,
    bs: f64,
    #[serde(default)]
    ax: String,
    ap: f64,
    #[serde(rename = "as")]
    ask_size: f64,
    #[serde(default)]
    c: Vec<String>,
    #[serde(default)]
    z: String,
    t: tickwire_core::Timestamp,
}

/// The naive client: read loop, serde into `Vec<NaiveQuote>` per frame, one
/// mpsc send per quote to a consumer task. Returns when `quotes` were consumed.
async fn naive_client(addr: SocketAddr, encoding: Encoding, quotes: usize) -> Instant {
    let url = format!("ws://{addr}/v2/test");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .expect("request");
    if encoding == Encoding::MsgPack {
        request.headers_mut().insert(
            "content-type",
            "application/msgpack".parse().expect("header"),
        );
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let _greeting = ws.next().await;
    ws.send(Message::text(r#"{"action":"auth","key":"k","secret":"s"}"#))
        .await
        .expect("auth");
    let _authenticated = ws.next().await;
    ws.send(Message::text(r#"{"action":"subscribe","quotes":["AAPL"]}"#))
        .await
        .expect("subscribe");
    let _ack = ws.next().await;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<NaiveQuote>(65_536);
    let consumer = tokio::spawn(async move {
        let mut seen = 0usize;
        let mut checksum = 0.0f64;
        while let Some(q) = rx.recv().await {
            checksum += q.bp;
            seen += 1;
            if seen == quotes {
                break;
            }
        }
        std::hint::black_box(checksum);
        Instant::now()
    });
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            let decoded: Vec<NaiveQuote> = match &message {
                Message::Text(text) => serde_json::from_str(text).expect("json"),
                Message::Binary(bytes) => rmp_serde::from_slice(bytes).expect("msgpack"),
                _ => continue,
            };
            for quote in decoded {
                if tx.send(quote).await.is_err() {
                    return;
                }
            }
        }
    });
    let done = consumer.await.expect("consumer");
    reader.abort();
    done
}

/// tickwire: a `MarketDataStream`, its events read by the calling task.
async fn tickwire_client(addr: SocketAddr, encoding: Encoding, quotes: usize) -> Instant {
    let mut stream = MarketDataStream::builder(Feed::Custom(format!("ws://{addr}/v2/test")))
        .key_pair("k", "s")
        .encoding(encoding)
        .ping_interval(None)
        .build()
        .expect("build");
    let consumer = tokio::spawn(async move {
        stream
            .subscribe(Channel::Quotes, ["AAPL"])
            .await
            .expect("subscribe");
        let mut seen = 0usize;
        let mut checksum = 0.0f64;
        while let Some(event) = stream.next().await {
            if let StreamEvent::Machine(Event::Data(MarketData::Quote(q))) = event {
                checksum += q.bid_price;
                seen += 1;
                if seen == quotes {
                    break;
                }
            }
        }
        std::hint::black_box(checksum);
        let done = Instant::now();
        let _ = stream.shutdown().await;
        done
    });
    consumer.await.expect("consumer")
}

// ------------------------------------------------------------------ runs

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Tickwire,
    Naive,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    client: Client,
    encoding: Encoding,
    per_frame: usize,
    quotes: usize,
) -> f64 {
    let frames = quotes / per_frame;
    let quotes = frames * per_frame;
    server
        .bursts
        .send(Burst {
            encoding,
            frame: data_frame(encoding, per_frame),
            frames,
        })
        .expect("server alive");
    let addr = server.addr;
    let done = runtime.block_on(async move {
        match client {
            Client::Tickwire => tickwire_client(addr, encoding, quotes).await,
            Client::Naive => naive_client(addr, encoding, quotes).await,
        }
    });
    let started = server.started.recv().expect("burst started");
    quotes as f64 / done.duration_since(started).as_secs_f64()
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    // Arguments: a number (quotes per run), `rounds=N` (best of N, default 3),
    // and optionally filters such as `json`, `msgpack`, `tickwire`, `naive`,
    // `per-frame=1`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quotes: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let wants = |word: &str, group: &[&str]| {
        !args.iter().any(|a| group.contains(&a.as_str())) || args.iter().any(|a| a == word)
    };
    let per_frame_only: Option<usize> = args
        .iter()
        .find_map(|a| a.strip_prefix("per-frame=").and_then(|n| n.parse().ok()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = start_server();
    let rounds: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("rounds=").and_then(|n| n.parse().ok()))
        .unwrap_or(3);

    println!("end to end, {quotes} quotes per run, best of {rounds}, runs interleaved (quotes/s)");
    println!(
        "{:<9} {:>10} {:>14} {:>14} {:>7}",
        "encoding", "quotes/frm", "tickwire", "naive", "ratio"
    );
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        if !wants(
            &format!("{encoding:?}").to_lowercase(),
            &["json", "msgpack"],
        ) {
            continue;
        }
        for per_frame in [1usize, 10] {
            if per_frame_only.is_some_and(|n| n != per_frame) {
                continue;
            }
            let mut best = [0.0f64; 2];
            for _ in 0..rounds {
                for (i, client) in [Client::Tickwire, Client::Naive].into_iter().enumerate() {
                    let name = if client == Client::Tickwire {
                        "tickwire"
                    } else {
                        "naive"
                    };
                    if wants(name, &["tickwire", "naive"]) {
                        let rate = run(&runtime, &server, client, encoding, per_frame, quotes);
                        best[i] = best[i].max(rate);
                    }
                }
            }
            println!(
                "{:<9} {:>10} {:>12.2} M {:>12.2} M {:>6.2}x",
                format!("{encoding:?}"),
                per_frame,
                best[0] / 1e6,
                best[1] / 1e6,
                best[0] / best[1]
            );
        }
    }
}
