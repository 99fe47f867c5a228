//! The exchange model served over real WebSockets on `127.0.0.1`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tickwire_core::Frame;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async_with_config};

use crate::limits::{AcceptBackoff, ServerLimits};
use crate::rest_front::{self, Opening, Rewound, read_opening};
use crate::{ExchangeConfig, Output, SessionId, SharedExchange};

/// How long a closing handshake may take when the server ends a connection.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where and what the loopback server serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoopbackConfig {
    /// Address to bind; port 0 lets the OS choose (see [`LoopbackServer::local_addr`]).
    pub addr: SocketAddr,
    /// The exchange behind it.
    pub exchange: ExchangeConfig,
    /// Timeouts, the connection cap and the message size limit.
    pub limits: ServerLimits,
}

impl LoopbackConfig {
    /// Serves `exchange` on `127.0.0.1` at an OS-assigned port.
    pub fn new(exchange: ExchangeConfig) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            exchange,
            limits: ServerLimits::default(),
        }
    }

    /// Applies these limits instead of the defaults.
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Binds this port instead (0: OS-assigned).
    pub fn with_port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }
}

/// A WebSocket server speaking Alpaca's protocols, backed by an [`Exchange`](crate::Exchange).
///
/// Paths are Alpaca's (`/v2/iex`, `/v2/test`, `/v1beta3/crypto/us`,
/// `/v1beta1/news`, `/stream`…); an upgrade the exchange refuses gets its
/// HTTP status (404, 429, 401). Model time is the tokio clock; a background
/// task ticks the market.
///
/// ```
/// use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let exchange = ExchangeConfig::new(42).with_account(Account::new("PKTEST", "secret"));
/// let server = LoopbackServer::start(LoopbackConfig::new(exchange)).await?;
/// let url = server.url("/v2/iex"); // ws://127.0.0.1:<port>/v2/iex
/// assert!(url.starts_with("ws://127.0.0.1:"));
/// // … point a client at `url` …
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    exchange: SharedExchange,
    stop: watch::Sender<bool>,
    acceptor: JoinHandle<()>,
    clock: JoinHandle<()>,
}

impl LoopbackServer {
    /// Binds and starts serving.
    pub async fn start(config: LoopbackConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let exchange = SharedExchange::new(config.exchange);
        let (stop, stopped) = watch::channel(false);
        let clock = tokio::spawn(exchange.clone().run_clock());
        let acceptor = tokio::spawn(accept_loop(
            listener,
            exchange.clone(),
            config.limits,
            stopped,
        ));
        tracing::info!(%addr, "loopback exchange listening");
        Ok(Self {
            addr,
            exchange,
            stop,
            acceptor,
            clock,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `ws://` URL of a path, e.g. `url("/v2/iex")`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The exchange behind the server (faults, sessions…).
    pub fn exchange(&self) -> &SharedExchange {
        &self.exchange
    }

    /// Stops accepting, closes every connection with 1001 ("going away") and
    /// waits for them to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.acceptor.await {
            tracing::warn!(%error, "loopback acceptor ended abnormally");
        }
        self.clock.abort();
        let _ = self.clock.await;
        tracing::info!(addr = %self.addr, "loopback exchange stopped");
    }
}

async fn accept_loop(
    listener: TcpListener,
    exchange: SharedExchange,
    limits: ServerLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.connections_max));
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    let mut refused: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff.succeeded();
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        refused += 1;
                        refuse_over_cap(&stream, limits.connections_max, refused);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let connection = Connection { exchange: exchange.clone(), limits, _permit: permit };
                    connections.spawn(serve(stream, peer, connection, stopped.clone()));
                }
                Err(error) => {
                    let delay = backoff.failed();
                    tracing::warn!(%error, ?delay, "loopback exchange: accept failed; trying again after a pause");
                    tokio::select! {
                        () = sleep(delay) => {}
                        _ = stopped.changed() => break,
                    }
                }
            },
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Answers a connection over the cap with `503` naming the cap, without
/// waiting for it (what does not fit the socket's buffer is dropped).
fn refuse_over_cap(stream: &TcpStream, connections_max: usize, refused: u64) {
    let body = format!(
        "connection limit reached: this server accepts {connections_max} connections at once\n"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
    // A warning at the first refusal and then at each power of two, so a
    // flood is seen without flooding the log.
    if refused.is_power_of_two() {
        tracing::warn!(
            connections_max,
            refused,
            "loopback exchange: connection cap reached; refusing with 503"
        );
    }
}

/// What a connection's task holds: the exchange, the limits, and its place
/// under the connection cap (given back when the task ends).
struct Connection {
    exchange: SharedExchange,
    limits: ServerLimits,
    _permit: OwnedSemaphorePermit,
}

/// One connection: the upgrade, then frames both ways until either side ends it.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    connection: Connection,
    mut stopped: watch::Receiver<bool>,
) {
    let Connection {
        exchange,
        limits,
        _permit,
    } = &connection;
    let deadline = Instant::now() + limits.handshake_timeout;
    let (opening, read) = match timeout_at(deadline, read_opening(&mut stream)).await {
        Ok(opening) => opening,
        Err(_elapsed) => {
            tracing::debug!(%peer, timeout = ?limits.handshake_timeout, "no request head in time; closing");
            return;
        }
    };
    match opening {
        Opening::Upgrade => {}
        Opening::Rest(request) => return rest_front::answer(&mut stream, &request, exchange).await,
        Opening::Malformed(why) => return rest_front::refuse(&mut stream, why).await,
        Opening::Closed => return,
    }
    let stream = Rewound::new(read, stream);
    let mut opened = None;
    // The signature is tungstenite's `Callback`; the error is its HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        match exchange.open(path, &headers) {
            Ok(session) => {
                opened = Some(session);
                Ok(response)
            }
            Err(refusal) => {
                tracing::debug!(%peer, path, status = refusal.status, "upgrade refused");
                let mut error = ErrorResponse::new(Some(refusal.to_string()));
                *error.status_mut() =
                    StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::FORBIDDEN);
                Err(error)
            }
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.message_bytes_max))
        .max_frame_size(Some(limits.message_bytes_max));
    let handshake = accept_hdr_async_with_config(stream, callback, Some(config));
    let ws = timeout_at(deadline, handshake).await;
    let (id, notify) = match (ws, opened) {
        (Ok(Ok(ws)), Some((id, notify))) => {
            tracing::debug!(%peer, %id, "connection open");
            return run(ws, id, &notify, exchange, limits, &mut stopped).await;
        }
        (Err(_elapsed), opened) => {
            tracing::debug!(%peer, timeout = ?limits.handshake_timeout, "handshake timed out; closing");
            match opened {
                Some(opened) => opened,
                None => return,
            }
        }
        (Ok(Err(error)), Some(opened)) => {
            tracing::debug!(%peer, %error, "handshake failed after the upgrade was accepted");
            opened
        }
        (Ok(_), None) => return,
    };
    exchange.input(|ex, now| ex.handle_lost(now, id));
    exchange.forget(id);
    drop(notify);
}

async fn run(
    mut ws: WebSocketStream<Rewound<TcpStream>>,
    id: SessionId,
    notify: &tokio::sync::Notify,
    exchange: &SharedExchange,
    limits: &ServerLimits,
    stopped: &mut watch::Receiver<bool>,
) {
    let mut heard = Instant::now();
    let mut pinged = heard;
    let end = loop {
        // Send everything the exchange has for us, then flush once.
        let mut wrote = false;
        let mut finished = None;
        while let Some(output) = exchange.pop(id) {
            match output {
                Output::Frame(frame) => {
                    wrote = true;
                    if ws.feed(to_message(frame)).await.is_err() {
                        finished = Some(End::Lost);
                        break;
                    }
                }
                Output::Close { code, reason } => {
                    let close = CloseFrame {
                        code: CloseCode::from(code),
                        reason: Utf8Bytes::from(reason),
                    };
                    let _ = ws.close(Some(close)).await;
                    finished = Some(End::ByExchange);
                    break;
                }
                Output::Reset => {
                    // Zero linger: dropping the socket sends RST, not FIN.
                    let _ = ws.get_ref().get_ref().set_zero_linger();
                    finished = Some(End::ByExchange);
                    break;
                }
            }
        }
        if let Some(end) = finished {
            break end;
        }
        if wrote && ws.flush().await.is_err() {
            break End::Lost;
        }
        let notified = pin!(notify.notified());
        let ping_at = heard.max(pinged) + limits.ping_interval;
        tokio::select! {
            () = notified => {}
            () = sleep_until(ping_at) => {
                pinged = Instant::now();
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    break End::Lost;
                }
            }
            () = sleep_until(heard + limits.idle_timeout) => {
                tracing::debug!(%id, timeout = ?limits.idle_timeout, "silent connection; closing");
                let close = CloseFrame { code: CloseCode::Away, reason: Utf8Bytes::from_static("idle timeout") };
                let _ = timeout(CLOSE_TIMEOUT, ws.close(Some(close))).await;
                break End::Idle;
            }
            message = ws.next() => {
                if matches!(message, Some(Ok(_))) {
                    heard = Instant::now();
                }
                match message {
                    Some(Ok(Message::Text(text))) => {
                        let frame = Frame::Text(text.into());
                        exchange.input(|ex, now| ex.handle_frame(now, id, frame));
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        exchange.input(|ex, now| ex.handle_frame(now, id, Frame::Binary(bytes)));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Close(_))) => break End::ByClient,
                    Some(Err(Error::Capacity(error))) => {
                        tracing::debug!(%id, %error, "message over the size limit; closing");
                        let close = CloseFrame { code: CloseCode::Size, reason: Utf8Bytes::from_static("message too big") };
                        let _ = timeout(CLOSE_TIMEOUT, ws.close(Some(close))).await;
                        break End::Lost;
                    }
                    Some(Err(error)) => {
                        tracing::debug!(%id, %error, "read failed");
                        break End::Lost;
                    }
                    None => break End::Lost,
                }
            }
            _ = stopped.changed() => {
                let close = CloseFrame { code: CloseCode::Away, reason: Utf8Bytes::from_static("server shutdown") };
                let _ = ws.close(Some(close)).await;
                break End::ByClient;
            }
        }
    };
    match end {
        End::ByClient => {
            // Finish the closing handshake (tungstenite answers the close).
            let _ = ws.flush().await;
            exchange.input(|ex, now| ex.handle_close(now, id));
        }
        End::Idle => exchange.input(|ex, now| ex.handle_close(now, id)),
        End::Lost => exchange.input(|ex, now| ex.handle_lost(now, id)),
        End::ByExchange => {}
    }
    exchange.forget(id);
    tracing::debug!(%id, ?end, "connection ended");
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed (or the server shut down): the slot is free.
    ByClient,
    /// The socket failed: the slot is held until reaped.
    Lost,
    /// The exchange closed or reset it (it already knows).
    ByExchange,
    /// The client sent nothing for the idle timeout: closed, slot freed.
    Idle,
}

fn to_message(frame: Frame) -> Message {
    match frame {
        // The model only writes UTF-8 text; anything else goes out as binary.
        Frame::Text(bytes) => match Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
        },
        Frame::Binary(bytes) => Message::Binary(bytes),
        Frame::Ping(bytes) => Message::Ping(bytes),
        Frame::Pong(bytes) => Message::Pong(bytes),
    }
}
