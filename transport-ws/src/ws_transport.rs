//! The WebSocket transport: tokio-tungstenite, with rustls for `wss://`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};

use crate::endpoint::{is_loopback_host, parse_endpoint};

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
    /// a modest buffer is enough to read many of them per system call. Default 64 KiB.
    pub read_buffer_bytes: usize,
    /// Bytes of outgoing frames gathered before a write. Default 8 KiB.
    pub write_buffer_bytes: usize,
    /// Allow plain `ws://` to hosts other than this machine. Credentials then
    /// travel unencrypted; only for trusted networks. Default `false`.
    pub allow_insecure: bool,
    /// Time allowed for sending the close frame. Default 1 s.
    pub close_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 << 20,
            read_buffer_bytes: 64 << 10,
            write_buffer_bytes: 8 << 10,
            allow_insecure: false,
            close_timeout: Duration::from_secs(1),
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A [`Transport`] over WebSockets: tokio-tungstenite, rustls with the webpki
/// root certificates for `wss://`, writes batched until [`flush`](Transport::flush).
///
/// Refuses plain `ws://` to anything but a loopback address unless
/// [`WsConfig::allow_insecure`] is set: the machine sends credentials on every
/// connection.
pub struct WsTransport {
    config: WsConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    socket: Option<Socket>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("config", &self.config)
            .field("connected", &self.socket.is_some())
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
            socket: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &WsConfig {
        &self.config
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
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
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Io(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = Arc::new(tls);
        self.tls = Some(Arc::clone(&tls));
        Ok(tls)
    }

    fn socket(&mut self) -> Result<&mut Socket, TransportError> {
        self.socket.as_mut().ok_or(TransportError::NotConnected)
    }
}

#[async_trait]
impl Transport for WsTransport {
    async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError> {
        // The driver closes first; a leftover socket is dropped, never reused.
        self.socket = None;
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
        self.socket = Some(socket);
        Ok(())
    }

    async fn send(&mut self, frame: Frame) -> Result<(), TransportError> {
        let message = match frame {
            Frame::Text(bytes) => match Utf8Bytes::try_from(bytes.clone()) {
                Ok(text) => Message::Text(text),
                Err(_) => {
                    tracing::warn!("text frame is not UTF-8; sent as binary");
                    Message::Binary(bytes)
                }
            },
            Frame::Binary(bytes) => Message::Binary(bytes),
            Frame::Ping(bytes) => Message::Ping(bytes),
            Frame::Pong(bytes) => Message::Pong(bytes),
        };
        let result = self.socket()?.feed(message).await;
        result.map_err(|e| self.failed(e))
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        let result = self.socket()?.flush().await;
        result.map_err(|e| self.failed(e))
    }

    async fn recv(&mut self) -> Result<Frame, TransportError> {
        loop {
            let next = self.socket()?.next().await;
            return match next {
                Some(Ok(Message::Text(text))) => Ok(Frame::Text(text.into())),
                Some(Ok(Message::Binary(bytes))) => Ok(Frame::Binary(bytes)),
                // tungstenite answers pings itself; the frame still proves the link is alive.
                Some(Ok(Message::Ping(bytes))) => Ok(Frame::Ping(bytes)),
                Some(Ok(Message::Pong(bytes))) => Ok(Frame::Pong(bytes)),
                Some(Ok(Message::Frame(_))) => continue,
                Some(Ok(Message::Close(close))) => {
                    self.socket = None;
                    Err(TransportError::Closed {
                        code: close.as_ref().map(|c| u16::from(c.code)),
                        reason: close.map(|c| c.reason.to_string()).unwrap_or_default(),
                    })
                }
                Some(Err(error)) => Err(self.failed(error)),
                None => {
                    self.socket = None;
                    Err(TransportError::Closed {
                        code: None,
                        reason: String::new(),
                    })
                }
            };
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        let Some(mut socket) = self.socket.take() else {
            return Ok(());
        };
        match tokio::time::timeout(self.config.close_timeout, socket.close(None)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "close frame not sent"),
            Err(_) => tracing::debug!("close frame timed out"),
        }
        Ok(())
    }
}

impl WsTransport {
    /// The connection is unusable after an error: drop it and describe why.
    fn failed(&mut self, error: tungstenite::Error) -> TransportError {
        self.socket = None;
        map_error(error)
    }
}

fn map_error(error: tungstenite::Error) -> TransportError {
    use tungstenite::Error as E;
    match error {
        E::Http(response) => TransportError::Refused {
            status: response.status().as_u16(),
        },
        E::ConnectionClosed | E::AlreadyClosed => TransportError::Closed {
            code: None,
            reason: String::new(),
        },
        E::Url(e) => TransportError::InvalidUrl(e.to_string()),
        E::Io(e) => TransportError::Io(e.to_string()),
        E::Tls(e) => TransportError::Io(format!("TLS: {e}")),
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
}
