//! A bare Alpaca-speaking quote server for benchmarks: greeting, auth and
//! subscription answered without looking closely, then quote frames (JSON,
//! or MessagePack for a client that asks for it with `Content-Type:
//! application/msgpack`, as Alpaca's servers do),
//! either one pre-encoded frame as fast as each connection reads, or fresh
//! frames stamped with the wall clock at a fixed rate. It costs little
//! beside what a benchmark measures (a proxy, a relay, a client); the
//! simulated exchange ([`LoopbackServer`](crate::LoopbackServer)) is the one
//! that behaves like Alpaca.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tickwire_alpaca::{
    Channel, Conditions, Encoding, MarketData, Quote, ServerMessage, SubscriptionSet,
    encode_market_frame,
};
use tickwire_core::{Frame, Symbol, Timestamp};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The symbols quoted, in turn.
pub const FIREHOSE_SYMBOLS: [&str; 10] = [
    "AAPL", "MSFT", "SPY", "TSLA", "AMD", "NVDA", "AMZN", "GOOG", "META", "QQQ",
];

/// How a [`Firehose`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirehosePace {
    /// The same pre-encoded frame of `quotes_per_frame` quotes, as fast as
    /// each connection takes it.
    Flat {
        /// Quotes in each frame.
        quotes_per_frame: usize,
    },
    /// Fresh frames, each quote stamped with the wall clock when the frame
    /// is made, at `quotes_per_second`.
    Stamped {
        /// Quotes sent per second on each connection.
        quotes_per_second: u64,
        /// Quotes in each frame.
        quotes_per_frame: usize,
    },
}

/// A running firehose; it stops sending when dropped or [`stop`](Self::stop)ped.
///
/// ```
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// use tickwire_mock::{Firehose, FirehosePace};
/// let firehose = Firehose::start(FirehosePace::Flat { quotes_per_frame: 100 }).await?;
/// assert!(firehose.url("/v2/iex").starts_with("ws://127.0.0.1:"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Firehose {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Firehose {
    /// Listens on a free port of 127.0.0.1 and serves every connection at `pace`.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(pace: FirehosePace) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let serving = Arc::clone(&stop);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if serving.load(Ordering::Relaxed) {
                    return;
                }
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, pace, Arc::clone(&serving)));
            }
        });
        Ok(Self { addr, stop })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT` followed by `path` (any path is served alike).
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Stops sending on every connection.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Firehose {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client's socket to a firehose (or to what stands in front of one).
pub type FirehoseSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` the way an Alpaca client does: waits for the greeting,
/// authenticates as `key`/`secret` and subscribes to every quote; returns
/// the socket, its next frames the quotes.
///
/// # Errors
/// The connection or a handshake step failed.
pub async fn firehose_client(
    url: &str,
    key: &str,
    secret: &str,
) -> Result<FirehoseSocket, tokio_tungstenite::tungstenite::Error> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let _greeting = ws.next().await;
    let auth = serde_json::json!({ "action": "auth", "key": key, "secret": secret });
    ws.send(Message::text(auth.to_string())).await?;
    let _authenticated = ws.next().await;
    ws.send(Message::text(r#"{"action":"subscribe","quotes":["*"]}"#))
        .await?;
    Ok(ws)
}

/// One quote of `symbol` at `timestamp`.
fn quote(symbol: &str, timestamp: Timestamp) -> MarketData {
    MarketData::Quote(Quote {
        symbol: Symbol::from_server(symbol),
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

/// A JSON frame of `count` quotes, the symbols in turn, stamped `timestamp`.
pub fn firehose_frame(count: usize, timestamp: Timestamp) -> Bytes {
    quotes_frame(Encoding::Json, count, timestamp)
        .payload()
        .clone()
}

/// A frame of `count` quotes in `encoding`, the symbols in turn, stamped
/// `timestamp`.
fn quotes_frame(encoding: Encoding, count: usize, timestamp: Timestamp) -> Frame {
    let quotes: Vec<MarketData> = (0..count)
        .map(|i| quote(FIREHOSE_SYMBOLS[i % FIREHOSE_SYMBOLS.len()], timestamp))
        .collect();
    let refs: Vec<&MarketData> = quotes.iter().collect();
    ServerMessage::data_frame(encoding, &refs)
}

fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// `frame` as a WebSocket message: text for JSON, binary for MessagePack.
fn message(encoding: Encoding, frame: &Frame) -> Option<Message> {
    let bytes = frame.payload().clone();
    Some(match encoding {
        Encoding::Json => Message::Text(bytes.try_into().ok()?),
        _ => Message::Binary(bytes),
    })
}

async fn serve(stream: TcpStream, pace: FirehosePace, stop: Arc<AtomicBool>) {
    let mut encoding = Encoding::Json;
    // The callback's error type is tungstenite's.
    #[allow(clippy::result_large_err)]
    let asked = |request: &Request, response: Response| {
        let msgpack = request
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"application/msgpack"));
        if msgpack {
            encoding = Encoding::MsgPack;
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, asked).await else {
        return;
    };
    let every_quote: SubscriptionSet = [(Channel::Quotes, Symbol::from_server("*"))]
        .into_iter()
        .collect();
    let greeting = encode_market_frame(encoding, &[ServerMessage::Connected]);
    let authenticated = encode_market_frame(encoding, &[ServerMessage::Authenticated]);
    let ack = encode_market_frame(encoding, &[ServerMessage::Subscription(every_quote)]);
    let send = |frame: &Frame| message(encoding, frame);
    let Some(greeting) = send(&greeting) else {
        return;
    };
    if ws.send(greeting).await.is_err() {
        return;
    }
    // Auth, then the subscription: answered without looking closely.
    for answer in [authenticated, ack] {
        let _request = ws.next().await;
        let Some(answer) = send(&answer) else {
            return;
        };
        if ws.send(answer).await.is_err() {
            return;
        }
    }
    let (mut sink, mut source) = ws.split();
    // Answer pings and notice the close.
    tokio::spawn(async move { while let Some(Ok(_)) = source.next().await {} });
    match pace {
        FirehosePace::Flat { quotes_per_frame } => {
            let frame = quotes_frame(encoding, quotes_per_frame.max(1), now());
            let Some(frame) = send(&frame) else {
                return;
            };
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
        FirehosePace::Stamped {
            quotes_per_second,
            quotes_per_frame,
        } => {
            let per_frame = quotes_per_frame.max(1);
            let frames_per_second = (quotes_per_second / per_frame as u64).max(1);
            let mut tick =
                tokio::time::interval(Duration::from_nanos(1_000_000_000 / frames_per_second));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let Some(frame) = send(&quotes_frame(encoding, per_frame, now())) else {
                    return;
                };
                if sink.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}
