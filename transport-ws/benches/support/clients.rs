//! The clients the benchmarks compare, each reading quotes from a URL until
//! its consumer has seen enough:
//!
//! - tickwire: a `MarketDataStream`, its events read by a consumer task;
//! - naive: a tokio-tungstenite read loop, serde into a plain struct, one
//!   tokio mpsc send per quote to a consumer task;
//! - bare: the ceiling, a tokio-tungstenite read loop that only counts frames.

use std::time::Instant;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use tickwire_alpaca::Channel;
use tickwire_core::Timestamp;
use tickwire_ws::{Encoding, Event, Feed, MarketData, MarketDataStream, StreamEvent};

use super::quotes::NaiveQuote;

/// Which client a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    Tickwire,
    Naive,
    Bare,
}

impl Client {
    /// The name in tables and JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Tickwire => "tickwire",
            Self::Naive => "naive",
            Self::Bare => "bare",
        }
    }
}

/// What reads the quotes a client delivers.
pub(crate) trait Consumer: Send + 'static {
    /// One quote's bid price and timestamp; returns whether it has seen enough.
    fn quote(&mut self, bid_price: f64, timestamp: Timestamp) -> bool;
}

/// A consumer that stops after a number of quotes, summing bid prices so
/// that nothing is optimised away.
#[derive(Debug)]
pub(crate) struct Counter {
    wanted: usize,
    seen: usize,
    checksum: f64,
}

impl Counter {
    /// Stops after `quotes`.
    pub(crate) fn new(quotes: usize) -> Self {
        Self {
            wanted: quotes,
            seen: 0,
            checksum: 0.0,
        }
    }
}

impl Consumer for Counter {
    fn quote(&mut self, bid_price: f64, _: Timestamp) -> bool {
        self.checksum += bid_price;
        self.seen += 1;
        std::hint::black_box(self.checksum);
        self.seen >= self.wanted
    }
}

/// Runs the tickwire or the naive client (the bare one has no consumer).
/// Returns when the consumer had seen enough, and the consumer.
pub(crate) async fn run_consumer<C: Consumer>(
    client: Client,
    url: &str,
    encoding: Encoding,
    consumer: C,
) -> (Instant, C) {
    match client {
        Client::Tickwire => tickwire_client(url, encoding, consumer).await,
        Client::Naive => naive_client(url, encoding, consumer).await,
        Client::Bare => panic!("the bare client counts frames: use bare_client"),
    }
}

/// tickwire: a `MarketDataStream` on the default settings, keep-alive pings off
/// (the other clients send none), its events read by a consumer task.
pub(crate) async fn tickwire_client<C: Consumer>(
    url: &str,
    encoding: Encoding,
    mut consumer: C,
) -> (Instant, C) {
    let mut stream = MarketDataStream::builder(Feed::Custom(url.to_owned()))
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
        while let Some(event) = stream.next().await {
            if let StreamEvent::Machine(Event::Data(MarketData::Quote(q))) = event
                && consumer.quote(q.bid_price, q.timestamp)
            {
                break;
            }
        }
        let done = Instant::now();
        let _ = stream.shutdown().await;
        (done, consumer)
    });
    consumer.await.expect("consumer")
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and does Alpaca's handshake the straightforward way.
async fn handshake(url: &str, encoding: Encoding) -> Socket {
    let mut request = url.into_client_request().expect("request");
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
    ws
}

/// The naive client: read loop, serde into `Vec<NaiveQuote>` per frame, one
/// mpsc send per quote to a consumer task.
pub(crate) async fn naive_client<C: Consumer>(
    url: &str,
    encoding: Encoding,
    mut consumer: C,
) -> (Instant, C) {
    let mut ws = handshake(url, encoding).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<NaiveQuote>(65_536);
    let consumer = tokio::spawn(async move {
        while let Some(q) = rx.recv().await {
            if consumer.quote(q.bp, q.t) {
                break;
            }
        }
        (Instant::now(), consumer)
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

/// The ceiling: a tokio-tungstenite read loop that only counts data frames;
/// returns when `frames` were read.
pub(crate) async fn bare_client(url: &str, encoding: Encoding, frames: usize) -> Instant {
    let mut ws = handshake(url, encoding).await;
    let reader = tokio::spawn(async move {
        let mut seen = 0usize;
        while let Some(Ok(message)) = ws.next().await {
            if matches!(message, Message::Text(_) | Message::Binary(_)) {
                seen += 1;
                if seen == frames {
                    break;
                }
            }
        }
        Instant::now()
    });
    reader.await.expect("reader")
}
