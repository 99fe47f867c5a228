//! One downstream connection: the upgrade, a writer task draining the
//! client's queue, and the session that reads the client (market data or
//! account).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tickwire_alpaca::{Encoding, ServerMessage, encode_market_frame};
use tickwire_core::Frame;
use tickwire_ws::ws_message;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async_with_config};
use tracing::Instrument;

use crate::metrics as names;
use crate::outbox::{Farewell, Inbox, Outbox};
use crate::route::{Endpoint, encoding_from_headers};
use crate::server::Shared;
use crate::{session_market, session_trading};

/// Frames written before one flush.
const WRITE_BATCH_FRAMES: usize = 256;

/// Time allowed for the farewell frame and the close.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(1);

/// Incoming messages are refused by the WebSocket layer past this multiple
/// of the proxy's own limit (which answers 400 and carries on).
const WS_LIMIT_FACTOR: usize = 4;

pub(crate) type WsSink = SplitSink<WebSocketStream<TcpStream>, Message>;
pub(crate) type WsSource = SplitStream<WebSocketStream<TcpStream>>;

/// What a session reads from its client.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A text or binary message.
    Frame(Frame),
    /// A message over [`Limits::message_bytes_max`](crate::Limits::message_bytes_max).
    Oversized(usize),
    /// The client closed, the socket failed, or the proxy is ending the connection.
    End,
}

/// Reads the next client message, or `End` (also when the proxy ends the
/// connection through `outbox`).
pub(crate) async fn read(source: &mut WsSource, outbox: &Outbox, bytes_max: usize) -> Incoming {
    tokio::select! {
        incoming = read_socket(source, bytes_max) => incoming,
        _ = outbox.closing() => Incoming::End,
    }
}

async fn read_socket(source: &mut WsSource, bytes_max: usize) -> Incoming {
    loop {
        let frame = match source.next().await {
            Some(Ok(Message::Text(text))) => Frame::Text(text.into()),
            Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Incoming::End,
        };
        let len = frame.payload().len();
        return if len > bytes_max {
            Incoming::Oversized(len)
        } else {
            Incoming::Frame(frame)
        };
    }
}

/// Alpaca's market data error frame, e.g. `[{"T":"error","code":407,"msg":"slow client"}]`.
pub(crate) fn market_error(encoding: Encoding, code: u16, message: &str) -> Frame {
    encode_market_frame(
        encoding,
        &[ServerMessage::Error {
            code,
            message: message.to_owned(),
        }],
    )
}

/// Serves one accepted socket to its end; the permit is released then.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let client = shared.next_client();
    let span = tracing::info_span!("client", id = client.0, %peer);
    async move {
        shared.status.connections.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::CONNECTIONS).increment(1);
        let limits = &shared.config.limits;
        let mut chosen = None;
        // tungstenite's callback signature; the error is its HTTP response.
        #[allow(clippy::result_large_err)]
        let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let Some(endpoint) = Endpoint::from_path(path) else {
                let mut error = ErrorResponse::new(Some(format!("no stream at {path}")));
                *error.status_mut() = StatusCode::NOT_FOUND;
                return Err(error);
            };
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes()));
            chosen = Some((endpoint, encoding_from_headers(headers)));
            Ok(response)
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(limits.message_bytes_max * WS_LIMIT_FACTOR))
            .max_frame_size(Some(limits.message_bytes_max * WS_LIMIT_FACTOR));
        let upgraded = tokio::time::timeout(
            limits.handshake_timeout,
            accept_hdr_async_with_config(stream, callback, Some(ws_config)),
        )
        .await;
        let ws = match upgraded {
            Ok(Ok(ws)) => ws,
            Ok(Err(error)) => {
                tracing::debug!(%error, "upgrade failed");
                return finish(&shared);
            }
            Err(_) => {
                tracing::debug!("upgrade timed out");
                return finish(&shared);
            }
        };
        let Some((endpoint, encoding)) = chosen else {
            return finish(&shared);
        };
        tracing::debug!(path = endpoint.path(), ?encoding, "connected");
        let (outbox, inbox) = Outbox::new(limits.client_queue_frames, encoding);
        let (sink, mut source) = ws.split();
        let writer = tokio::spawn(write_loop(sink, inbox).in_current_span());
        let mut shutdown = shared.shutdown.clone();
        tokio::select! {
            () = async {
                match endpoint {
                    Endpoint::Market(feed) => {
                        session_market::run(&shared, client, feed, &outbox, &mut source).await;
                    }
                    Endpoint::Trading => {
                        session_trading::run(&shared, client, &outbox, &mut source).await;
                    }
                }
            } => {}
            () = crate::server::stopped(&mut shutdown) => {}
        }
        // Ends the writer if the session ended first (a no-op otherwise).
        outbox.close(Farewell {
            frame: None,
            reason: "closed",
        });
        let _ = writer.await;
        finish(&shared);
        drop(permit);
    }
    .instrument(span)
    .await;
}

fn finish(shared: &Shared) {
    shared.status.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Writes queued frames (fed in batches, one flush each) until a farewell:
/// then its frame, a close, and the end.
async fn write_loop(mut sink: WsSink, mut inbox: Inbox) {
    let slot = Arc::clone(&inbox.farewell);
    let farewell = loop {
        let written = tokio::select! {
            biased;
            farewell = slot.wait() => break farewell,
            frame = inbox.frames.recv() => match frame {
                Some(frame) => write_batch(&mut sink, frame, &mut inbox),
                None => break Farewell { frame: None, reason: "closed" },
            },
        };
        let outcome = tokio::select! {
            biased;
            farewell = slot.wait() => break farewell,
            outcome = written => outcome,
        };
        if outcome.is_err() {
            tracing::debug!("write failed; closing");
            break Farewell {
                frame: None,
                reason: "write_failed",
            };
        }
    };
    if farewell.reason != "closed" && farewell.reason != "write_failed" {
        tracing::info!(reason = farewell.reason, "disconnecting the client");
        metrics::counter!(names::CLIENTS_DROPPED, "reason" => farewell.reason).increment(1);
    }
    let goodbye = async {
        // What was queued before the farewell goes first (the greeting, an
        // ack…), except for a slow client, whose queue is the problem.
        if farewell.reason != "slow" {
            while let Ok(frame) = inbox.frames.try_recv() {
                let _ = sink.feed(ws_message(frame)).await;
            }
        }
        if let Some(frame) = farewell.frame {
            let _ = sink.send(ws_message(frame)).await;
        }
        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: Utf8Bytes::from_static(""),
        };
        let _ = sink.send(Message::Close(Some(close))).await;
    };
    let _ = tokio::time::timeout(FAREWELL_TIMEOUT, goodbye).await;
}

/// Feeds `first` and whatever else is queued (up to a batch), then flushes.
fn write_batch<'a>(
    sink: &'a mut WsSink,
    first: Frame,
    inbox: &'a mut Inbox,
) -> impl Future<Output = Result<(), tokio_tungstenite::tungstenite::Error>> + 'a {
    let mut batch = Vec::with_capacity(8);
    batch.push(first);
    while batch.len() < WRITE_BATCH_FRAMES {
        match inbox.frames.try_recv() {
            Ok(frame) => batch.push(frame),
            Err(_) => break,
        }
    }
    async move {
        for frame in batch {
            sink.feed(ws_message(frame)).await?;
        }
        sink.flush().await
    }
}
