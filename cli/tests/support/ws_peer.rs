//! A WebSocket server speaking just enough of Alpaca's two protocols for one
//! `tickwire` client at a time, for what the simulated exchange cannot do:
//! send frames a test builds itself, and say whether the client closed with
//! a Close frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The upgrade path of the trading stream; every other path is market data.
const TRADING_PATH: &str = "/stream";

/// The server: any credentials pass, any subscription is acknowledged as
/// `quotes` on `SPY` (market data) or `trade_updates` (trading); then the
/// `feed` frames are sent in turn, `pause` apart, over and over, until the
/// client leaves.
#[derive(Debug)]
pub(crate) struct WsPeer {
    addr: SocketAddr,
    closes_received: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl WsPeer {
    /// Binds 127.0.0.1 and serves every connection the same way.
    pub(crate) async fn start(feed: Vec<Message>, pause: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("bound");
        let closes_received = Arc::new(AtomicUsize::new(0));
        let feed = Arc::new(feed);
        let closes = Arc::clone(&closes_received);
        let acceptor = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let feed = Arc::clone(&feed);
                tokio::spawn(serve(stream, feed, pause, Arc::clone(&closes)));
            }
        });
        Self {
            addr,
            closes_received,
            acceptor,
        }
    }

    /// The `ws://` URL of `path`, e.g. `/v2/iex` or `/stream`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// How many clients ended their connection with a Close frame.
    pub(crate) fn closes_received(&self) -> usize {
        self.closes_received.load(Ordering::SeqCst)
    }
}

impl Drop for WsPeer {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn serve(
    stream: TcpStream,
    feed: Arc<Vec<Message>>,
    pause: Duration,
    closes: Arc<AtomicUsize>,
) {
    let mut path = String::new();
    // tungstenite's callback type: its error is an HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                    response| {
        path = request.uri().path().to_owned();
        Ok(response)
    };
    // The client's frames are small; the server's may be as large as a test makes them.
    let config = WebSocketConfig::default().max_message_size(None);
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let trading = path == TRADING_PATH;
    if !trading
        && ws
            .send(Message::text(r#"[{"T":"success","msg":"connected"}]"#))
            .await
            .is_err()
    {
        return;
    }
    // The first request is the auth, the second the subscription.
    let answers = if trading {
        [
            r#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#,
            r#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#,
        ]
    } else {
        [
            r#"[{"T":"success","msg":"authenticated"}]"#,
            r#"[{"T":"subscription","trades":[],"quotes":["SPY"],"bars":[]}]"#,
        ]
    };
    for answer in answers {
        match ws.next().await {
            Some(Ok(Message::Text(_) | Message::Binary(_))) => {}
            Some(Ok(Message::Close(_))) => {
                closes.fetch_add(1, Ordering::SeqCst);
                return;
            }
            _ => return,
        }
        if ws.send(Message::text(answer)).await.is_err() {
            return;
        }
    }
    let (mut sink, mut source) = ws.split();
    let sender = tokio::spawn(async move {
        for message in feed.iter().cycle() {
            if sink.send(message.clone()).await.is_err() {
                break;
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    });
    while let Some(message) = source.next().await {
        match message {
            Ok(Message::Close(_)) => {
                closes.fetch_add(1, Ordering::SeqCst);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    sender.abort();
}
