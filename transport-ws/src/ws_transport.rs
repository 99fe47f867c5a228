//! The WebSocket transport: tokio-tungstenite, with rustls for `wss://`.
//!
//! A small read pump task per connection parses WebSocket frames off the
//! socket and hands them over in batches, so that parsing runs beside the
//! stream's task (on another core when there is one) instead of inside it.
//! Frames the stream's task is done with go back to the pump
//! ([`Transport::reclaim`]) while it has more to hand over: they share the
//! read buffers the pump allocated, so on a busy stream the pump releases
//! them, and the stream's task neither frees those buffers nor touches
//! counts the pump is raising. Once the pump has nothing waiting, the
//! stream's task releases them itself, so that a quiet stream holds none.
//! Writes stay with the transport: fed, then flushed once per batch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};

use crate::endpoint::{is_loopback_host, parse_endpoint};
use crate::tls_roots::{self, TlsTrust};
use crate::ws_message::ws_message;

/// Settings of a [`WsTransport`].
///
/// ```
/// use tickwire_ws::WsConfig;
/// let config = WsConfig::default();
/// assert_eq!(config.max_message_bytes, 16 << 20);
/// assert!(!config.allow_insecure);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsConfig {
    /// Largest message accepted from the server; a larger one fails the
    /// connection (and the stream reconnects). Default 16 MiB.
    pub max_message_bytes: usize,
    /// Bytes read from the socket at a time. Market data frames are small, so
    /// a modest buffer is enough to read a hundred of them per system call;
    /// tungstenite zero-fills the free part of the buffer on every read
    /// attempt, so a larger one costs CPU time on every message of a quiet
    /// stream, and memory on every stream. Default 16 KiB.
    pub read_buffer_bytes: usize,
    /// Bytes of outgoing frames gathered before a write. Default 8 KiB.
    pub write_buffer_bytes: usize,
    /// Allow plain `ws://` to hosts other than this machine. Credentials then
    /// travel unencrypted; only for trusted networks. Default `false`.
    pub allow_insecure: bool,
    /// Time allowed for sending the close frame. Default 1 s.
    pub close_timeout: Duration,
    /// The certificate authorities `wss://` trusts. Default: the bundled web
    /// roots and the bundle `SSL_CERT_FILE` names, if set.
    pub tls_trust: TlsTrust,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 << 20,
            read_buffer_bytes: 16 << 10,
            write_buffer_bytes: 8 << 10,
            allow_insecure: false,
            close_timeout: Duration::from_secs(1),
            tls_trust: TlsTrust::default(),
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the read pump hands over: frames in order, the last one possibly the
/// error that ended the connection.
type Batch = Vec<Result<Frame, TransportError>>;

/// Frames the read pump takes off the socket before handing them over.
const PUMP_BATCH_FRAMES_MAX: usize = 256;

/// Batches in flight between the read pump and the transport; when they are
/// all unread the pump stops reading and TCP pushes back on the server.
const PUMP_BATCHES_MAX: usize = 8;

/// Payload bytes in flight between the read pump and the transport: past
/// them the pump stops reading too, before it reads the next message. A
/// batch counts as at most this many, so a frame of any size passes; then
/// the pump waits until the transport is done with that batch, so the
/// frames held are at most this many bytes or one frame in the pump's hands
/// or the transport's, not a 16 MiB frame read ahead of another.
const PUMP_BYTES_MAX: usize = 4 << 20;

/// Frames the stream's task is done with, on their way back to the read pump.
type Spent = Arc<Mutex<Vec<Frame>>>;

/// The frames handed back; a panic elsewhere cannot leave a list of frames
/// inconsistent, so poison is ignored.
fn lock_spent(spent: &Spent) -> MutexGuard<'_, Vec<Frame>> {
    spent.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One open connection.
struct Connection {
    sink: SplitSink<Socket, Message>,
    inbox: mpsc::Receiver<(Batch, OwnedSemaphorePermit)>,
    /// The batch being read.
    current: VecDeque<Result<Frame, TransportError>>,
    /// Its share of [`PUMP_BYTES_MAX`], given back once it is read.
    current_bytes: Option<OwnedSemaphorePermit>,
    /// Frames read and reclaimed since the last hand-back to the pump.
    spent: Vec<Frame>,
    /// Where the pump picks them up.
    spent_shared: Spent,
    pump: JoinHandle<()>,
}

impl Connection {
    /// Makes `batch` the one being read; its bytes are given back once it is.
    fn take(&mut self, batch: Batch, bytes: OwnedSemaphorePermit) {
        self.current.extend(batch);
        self.current_bytes = Some(bytes);
    }

    /// Another batch follows the one just read: that one's frames go back
    /// to the pump, which is reading.
    fn hand_back_spent(&mut self) {
        if self.spent.is_empty() {
            return;
        }
        let mut shared = lock_spent(&self.spent_shared);
        if shared.is_empty() {
            std::mem::swap(&mut *shared, &mut self.spent);
        } else {
            shared.append(&mut self.spent);
        }
    }

    /// No batch follows: the pump may wait a long time for the socket, so
    /// the frames read are released here, those handed back included; a
    /// quiet stream holds none.
    fn release_spent(&mut self) {
        self.spent.clear();
        let handed_back = std::mem::take(&mut *lock_spent(&self.spent_shared));
        drop(handed_back);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// A [`Transport`] over WebSockets: tokio-tungstenite, rustls with the webpki
/// root certificates for `wss://`, writes batched until [`flush`](Transport::flush).
///
/// Refuses plain `ws://` to anything but a loopback address unless
/// [`WsConfig::allow_insecure`] is set: the machine sends credentials on every
/// connection. Must be used within a tokio runtime (each connection runs a
/// read pump task).
pub struct WsTransport {
    config: WsConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    connection: Option<Connection>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("config", &self.config)
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for WsTransport {
    fn default() -> Self {
        Self::new(WsConfig::default())
    }
}

impl WsTransport {
    /// A transport with these settings; it connects when asked to.
    pub fn new(config: WsConfig) -> Self {
        Self {
            config,
            tls: None,
            connection: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    fn websocket_config(&self) -> WebSocketConfig {
        let max = self.config.max_message_bytes.max(1);
        WebSocketConfig::default()
            .read_buffer_size(self.config.read_buffer_bytes.max(1024))
            .write_buffer_size(self.config.write_buffer_bytes)
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
    }

    fn tls_config(&mut self) -> Result<Arc<rustls::ClientConfig>, TransportError> {
        if let Some(tls) = &self.tls {
            return Ok(Arc::clone(tls));
        }
        let tls = tls_roots::client_config(&self.config.tls_trust)?;
        self.tls = Some(Arc::clone(&tls));
        Ok(tls)
    }

    fn connection(&mut self) -> Result<&mut Connection, TransportError> {
        self.connection.as_mut().ok_or(TransportError::NotConnected)
    }

    /// The connection is unusable after an error: drop it and describe why.
    fn failed(&mut self, error: tungstenite::Error) -> TransportError {
        self.connection = None;
        map_error(error)
    }
}

#[async_trait]
impl Transport for WsTransport {
    async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError> {
        // The driver closes first; a leftover connection is dropped, never reused.
        self.connection = None;
        let (secure, host) =
            parse_endpoint(&request.url).map_err(|e| TransportError::InvalidUrl(e.to_string()))?;
        if !secure && !self.config.allow_insecure && !is_loopback_host(&host) {
            return Err(TransportError::InvalidUrl(format!(
                "refusing to send credentials over plain ws:// to {host}; use wss:// or allow insecure endpoints"
            )));
        }
        let mut upgrade = request
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| TransportError::InvalidUrl(e.to_string()))?;
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| TransportError::InvalidUrl(format!("header {name:?}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| TransportError::InvalidUrl(format!("header {name}: {e}")))?;
            upgrade.headers_mut().insert(name, value);
        }
        let connector = if secure {
            Connector::Rustls(self.tls_config()?)
        } else {
            Connector::Plain
        };
        let config = self.websocket_config();
        let (socket, response) = tokio_tungstenite::connect_async_tls_with_config(
            upgrade,
            Some(config),
            true,
            Some(connector),
        )
        .await
        .map_err(map_error)?;
        tracing::debug!(status = response.status().as_u16(), "websocket open");
        let (sink, stream) = socket.split();
        let (batches, inbox) = mpsc::channel(PUMP_BATCHES_MAX);
        let bytes = Arc::new(Semaphore::new(PUMP_BYTES_MAX));
        let spent_shared = Spent::default();
        let pump = tokio::spawn(read_pump(stream, batches, bytes, Arc::clone(&spent_shared)));
        self.connection = Some(Connection {
            sink,
            inbox,
            current: VecDeque::new(),
            current_bytes: None,
            spent: Vec::new(),
            spent_shared,
            pump,
        });
        Ok(())
    }

    async fn send(&mut self, frame: Frame) -> Result<(), TransportError> {
        let result = self.connection()?.sink.feed(ws_message(frame)).await;
        result.map_err(|e| self.failed(e))
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        let result = self.connection()?.sink.flush().await;
        result.map_err(|e| self.failed(e))
    }

    async fn recv(&mut self) -> Result<Frame, TransportError> {
        loop {
            if let Some(next) = self.try_recv() {
                return next;
            }
            let Some(connection) = self.connection.as_mut() else {
                return Err(TransportError::NotConnected);
            };
            match connection.inbox.recv().await {
                Some((batch, bytes)) => connection.take(batch, bytes),
                None => {
                    self.connection = None;
                    return Err(closed(None));
                }
            }
        }
    }

    fn try_recv(&mut self) -> Option<Result<Frame, TransportError>> {
        let Some(connection) = self.connection.as_mut() else {
            return Some(Err(TransportError::NotConnected));
        };
        let next = loop {
            if let Some(next) = connection.current.pop_front() {
                break next;
            }
            // The batch is read: its bytes are the pump's again.
            connection.current_bytes = None;
            // Polled rather than `try_recv`: polling counts against the
            // task's scheduling budget, so a stream whose pump always has a
            // batch waiting still lets other tasks run. The waker is a
            // no-op; the driver polls `recv` again before it waits.
            match connection
                .inbox
                .poll_recv(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(Some((batch, bytes))) => {
                    connection.hand_back_spent();
                    connection.take(batch, bytes);
                }
                Poll::Pending => {
                    connection.release_spent();
                    return None;
                }
                Poll::Ready(None) => break Err(closed(None)),
            }
        };
        if next.is_err() {
            self.connection = None;
        }
        Some(next)
    }

    fn reclaim(&mut self, frame: Frame) {
        if let Some(connection) = self.connection.as_mut() {
            connection.spent.push(frame);
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        let Some(mut connection) = self.connection.take() else {
            return Ok(());
        };
        match tokio::time::timeout(self.config.close_timeout, connection.sink.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "close frame not sent"),
            Err(_) => tracing::debug!("close frame timed out"),
        }
        Ok(())
    }
}

/// Reads frames off the socket and hands them over in batches, until the
/// connection ends (its error is the last item) or the transport lets go.
async fn read_pump(
    mut stream: SplitStream<Socket>,
    batches: mpsc::Sender<(Batch, OwnedSemaphorePermit)>,
    bytes: Arc<Semaphore>,
    spent: Spent,
) {
    let mut released: Vec<Frame> = Vec::new();
    loop {
        // Frames the stream's task is done with are dropped here, where
        // their buffers were allocated.
        std::mem::swap(&mut *lock_spent(&spent), &mut released);
        released.clear();
        // Read nothing while the batches handed over hold every byte.
        if bytes.acquire().await.is_err() {
            return;
        }
        let Some(first) = stream.next().await else {
            if let Ok(permit) = Arc::clone(&bytes).acquire_many_owned(0).await {
                let _ = batches.send((vec![Err(closed(None))], permit)).await;
            }
            return;
        };
        let mut batch = Vec::with_capacity(16);
        let mut ended = push_message(&mut batch, first);
        let mut held = batch.iter().map(item_bytes).sum::<usize>();
        while !ended && batch.len() < PUMP_BATCH_FRAMES_MAX && held < PUMP_BYTES_MAX {
            // Only what is already there: `next` on the stream is cancel-safe.
            match stream.next().now_or_never() {
                Some(Some(message)) => {
                    ended = push_message(&mut batch, message);
                    held += batch.last().map_or(0, item_bytes);
                }
                Some(None) => {
                    batch.push(Err(closed(None)));
                    ended = true;
                }
                None => break,
            }
        }
        let share = held.min(PUMP_BYTES_MAX) as u32;
        let Ok(permit) = Arc::clone(&bytes).acquire_many_owned(share).await else {
            return;
        };
        if batches.send((batch, permit)).await.is_err() || ended {
            return;
        }
    }
}

/// The payload bytes of one item of a batch.
fn item_bytes(item: &Result<Frame, TransportError>) -> usize {
    match item {
        Ok(Frame::Text(bytes) | Frame::Binary(bytes) | Frame::Ping(bytes) | Frame::Pong(bytes)) => {
            bytes.len()
        }
        Err(_) => 0,
    }
}

/// Adds one message to a batch; returns whether it ended the connection.
fn push_message(batch: &mut Batch, message: Result<Message, tungstenite::Error>) -> bool {
    let item = match message {
        Ok(Message::Text(text)) => Ok(Frame::Text(text.into())),
        Ok(Message::Binary(bytes)) => Ok(Frame::Binary(bytes)),
        // tungstenite answers pings itself; the frame still proves the link is alive.
        Ok(Message::Ping(bytes)) => Ok(Frame::Ping(bytes)),
        Ok(Message::Pong(bytes)) => Ok(Frame::Pong(bytes)),
        Ok(Message::Frame(_)) => return false,
        Ok(Message::Close(close)) => Err(TransportError::Closed {
            code: close.as_ref().map(|c| u16::from(c.code)),
            reason: close.map(|c| c.reason.to_string()).unwrap_or_default(),
        }),
        Err(error) => Err(map_error(error)),
    };
    let ended = item.is_err();
    batch.push(item);
    ended
}

fn closed(code: Option<u16>) -> TransportError {
    TransportError::Closed {
        code,
        reason: String::new(),
    }
}

fn map_error(error: tungstenite::Error) -> TransportError {
    use tungstenite::Error as E;
    match error {
        E::Http(response) => TransportError::Refused {
            status: response.status().as_u16(),
        },
        E::ConnectionClosed | E::AlreadyClosed => closed(None),
        E::Url(e) => TransportError::InvalidUrl(e.to_string()),
        // rustls reports through the socket's I/O errors.
        E::Io(e) => match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => TransportError::Io(tls_roots::describe_tls_error(tls)),
            None => TransportError::Io(e.to_string()),
        },
        E::Tls(e) => TransportError::Io(tls_roots::describe_tls_error(&e)),
        E::Capacity(e) => TransportError::Io(format!("message too large: {e}")),
        E::Protocol(e) => TransportError::Io(format!("WebSocket protocol: {e}")),
        other => TransportError::Io(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_ws_to_a_remote_host_is_refused_before_dialing() {
        let mut transport = WsTransport::default();
        let request = ConnectRequest {
            url: "ws://example.com/v2/iex".into(),
            headers: vec![],
        };
        let error = transport.connect(&request).await.unwrap_err();
        assert!(
            matches!(error, TransportError::InvalidUrl(ref m) if m.contains("plain ws://")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn operations_without_a_connection_say_so() {
        let mut transport = WsTransport::default();
        assert_eq!(transport.recv().await, Err(TransportError::NotConnected));
        assert_eq!(
            transport.send(Frame::text("x")).await,
            Err(TransportError::NotConnected)
        );
        assert_eq!(transport.close().await, Ok(()));
    }

    #[tokio::test]
    async fn an_upgrade_refused_with_http_429_is_reported_with_its_status() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 2048];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let mut transport = WsTransport::default();
        let request = ConnectRequest {
            url: format!("ws://127.0.0.1:{port}/v2/test"),
            headers: vec![("User-Agent".into(), "tickwire-test".into())],
        };
        assert_eq!(
            transport.connect(&request).await,
            Err(TransportError::Refused { status: 429 })
        );
        server.await.unwrap();
    }

    #[tokio::test]
    #[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
    async fn frames_arrive_in_order_then_the_close_with_its_code() {
        use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut content_type = None;
            let mut ws = tokio_tungstenite::accept_hdr_async(
                socket,
                |request: &Request, response: Response| {
                    content_type = request
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap().to_owned());
                    Ok(response)
                },
            )
            .await
            .unwrap();
            for i in 0..300 {
                ws.feed(Message::text(format!("[{i}]"))).await.unwrap();
            }
            ws.flush().await.unwrap();
            let received = ws.next().await.unwrap().unwrap();
            ws.close(Some(CloseFrame {
                code: 1001u16.into(),
                reason: "going away".into(),
            }))
            .await
            .unwrap();
            (content_type, received)
        });
        let mut transport = WsTransport::default();
        let request = ConnectRequest {
            url: format!("ws://127.0.0.1:{port}/v2/test"),
            headers: vec![("Content-Type".into(), "application/msgpack".into())],
        };
        transport.connect(&request).await.unwrap();
        for i in 0..300 {
            assert_eq!(transport.recv().await, Ok(Frame::text(format!("[{i}]"))));
        }
        transport
            .send(Frame::text("{\"action\":\"auth\"}"))
            .await
            .unwrap();
        transport.flush().await.unwrap();
        assert_eq!(
            transport.recv().await,
            Err(TransportError::Closed {
                code: Some(1001),
                reason: "going away".into()
            })
        );
        assert!(!transport.is_connected());
        let (content_type, received) = server.await.unwrap();
        assert_eq!(content_type.as_deref(), Some("application/msgpack"));
        assert_eq!(received, Message::text("{\"action\":\"auth\"}"));
    }

    /// Connects to a server that sends `[i]` for each `i` received on the
    /// returned channel, one frame at a time.
    async fn connected_to_a_paced_server() -> (WsTransport, mpsc::UnboundedSender<u32>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (send_tx, mut send_rx) = mpsc::unbounded_channel::<u32>();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
            while let Some(i) = send_rx.recv().await {
                ws.send(Message::text(format!("[{i}]"))).await.unwrap();
            }
        });
        let mut transport = WsTransport::default();
        let request = ConnectRequest {
            url: format!("ws://127.0.0.1:{port}/v2/test"),
            headers: vec![],
        };
        transport.connect(&request).await.unwrap();
        (transport, send_tx)
    }

    fn handed_back(transport: &mut WsTransport) -> usize {
        lock_spent(&transport.connection().unwrap().spent_shared).len()
    }

    async fn until(mut condition: impl FnMut() -> bool, what: &str) {
        let wait = async {
            while !condition() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
    }

    #[tokio::test]
    async fn frames_reclaimed_while_more_follow_go_back_to_the_read_pump_which_releases_them() {
        let (mut transport, server) = connected_to_a_paced_server().await;
        server.send(0).unwrap();
        let first = transport.recv().await.unwrap();
        assert_eq!(first, Frame::text("[0]"));
        transport.reclaim(first);

        server.send(1).unwrap();
        let connection = transport.connection().unwrap();
        until(|| !connection.inbox.is_empty(), "the pump hands over [1]").await;
        assert_eq!(transport.recv().await, Ok(Frame::text("[1]")));
        assert_eq!(handed_back(&mut transport), 1, "[0] went back to the pump");

        // The pump picks it up at the start of its next read cycle (after
        // reading and handing over [2]).
        server.send(2).unwrap();
        let shared = Arc::clone(&transport.connection().unwrap().spent_shared);
        until(
            || shared.lock().unwrap().is_empty(),
            "the pump released [0]",
        )
        .await;
        assert_eq!(transport.recv().await, Ok(Frame::text("[2]")));
    }

    #[tokio::test]
    async fn frames_reclaimed_when_nothing_follows_are_released_by_the_stream_itself() {
        let (mut transport, server) = connected_to_a_paced_server().await;
        server.send(0).unwrap();
        let first = transport.recv().await.unwrap();
        transport.reclaim(first);
        server.send(1).unwrap();
        let connection = transport.connection().unwrap();
        until(|| !connection.inbox.is_empty(), "the pump hands over [1]").await;
        let second = transport.recv().await.unwrap();
        assert_eq!(second, Frame::text("[1]"));
        transport.reclaim(second);
        assert_eq!(handed_back(&mut transport), 1, "[0] went back to the pump");

        assert_eq!(transport.try_recv(), None, "nothing more was sent");
        assert!(
            transport.connection().unwrap().spent.is_empty(),
            "[1] released"
        );
        assert_eq!(
            handed_back(&mut transport),
            0,
            "[0], handed back to a pump now waiting for the socket, released too: a quiet stream holds no frames"
        );
    }
}
