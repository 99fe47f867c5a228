//! `Transport` in memory, against a [`SharedExchange`].

use std::pin::pin;
use std::sync::Arc;

use async_trait::async_trait;
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};
use tokio::sync::Notify;

use crate::shared::sleep_until;
use crate::{Output, SessionId, SharedExchange};

/// tickwire-core's [`Transport`] without sockets: frames go straight into a
/// [`SharedExchange`] and come back from its mailbox.
///
/// Works on paused tokio time: `recv` advances the exchange's timers and
/// sleeps until its next deadline, so `#[tokio::test(start_paused = true)]`
/// jumps straight to the next market tick or timeout.
///
/// - The URL's path picks the endpoint (`ws://anything/v2/iex`); its headers
///   go to the exchange (add credentials with [`with_headers`](Self::with_headers)
///   to test header auth).
/// - A `Ping` sent is answered with a `Pong`, even by a silent exchange.
/// - [`close`](Transport::close) is a clean close (the connection slot is free
///   at once); dropping a connected transport is an unclean one (the slot is
///   held until reaped, as after a crash).
///
/// ```
/// use tickwire_core::{ConnectRequest, Frame, Transport};
/// use tickwire_mock::{Account, ExchangeConfig, ScriptedTransport, SharedExchange};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let exchange = SharedExchange::new(ExchangeConfig::new(7).with_account(Account::new("K", "S")));
/// let mut transport = ScriptedTransport::new(exchange.clone());
/// let request = ConnectRequest { url: "wss://stream.data.alpaca.markets/v2/test".into(), headers: vec![] };
/// transport.connect(&request).await.unwrap();
/// let greeting = transport.recv().await.unwrap();
/// assert_eq!(greeting, Frame::text(r#"[{"T":"success","msg":"connected"}]"#));
/// transport.send(Frame::text(r#"{"action":"auth","key":"K","secret":"S"}"#)).await.unwrap();
/// transport.flush().await.unwrap();
/// assert!(String::from_utf8_lossy(transport.recv().await.unwrap().payload()).contains("authenticated"));
/// transport.close().await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct ScriptedTransport {
    exchange: SharedExchange,
    extra_headers: Vec<(String, String)>,
    connection: Option<Connection>,
    outbox: Vec<Frame>,
}

#[derive(Debug)]
struct Connection {
    id: SessionId,
    notify: Arc<Notify>,
    /// Pongs answering our pings, delivered before anything else.
    pongs: Vec<Frame>,
}

impl ScriptedTransport {
    /// A transport to `exchange`, not yet connected.
    pub fn new(exchange: SharedExchange) -> Self {
        Self {
            exchange,
            extra_headers: Vec::new(),
            connection: None,
            outbox: Vec::new(),
        }
    }

    /// Adds headers to every upgrade (e.g. `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.extra_headers.extend(headers);
        self
    }

    /// The exchange's session of the current connection, to aim faults at it.
    pub fn session(&self) -> Option<SessionId> {
        self.connection.as_ref().map(|c| c.id)
    }

    /// The exchange this transport talks to.
    pub fn exchange(&self) -> &SharedExchange {
        &self.exchange
    }

    fn end(&mut self, clean: bool) {
        if let Some(connection) = self.connection.take() {
            let id = connection.id;
            self.exchange.input(|ex, now| {
                if clean {
                    ex.handle_close(now, id);
                } else {
                    ex.handle_lost(now, id);
                }
            });
            self.exchange.forget(id);
        }
        self.outbox.clear();
    }
}

/// The path of a WebSocket URL (`ws://host:port/v2/iex?x` → `/v2/iex?x`).
pub(crate) fn url_path(url: &str) -> Result<&str, TransportError> {
    if url.starts_with('/') {
        return Ok(url);
    }
    let rest = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .ok_or_else(|| TransportError::InvalidUrl(format!("{url}: expected ws:// or wss://")))?;
    Ok(rest.find('/').map_or("/", |i| &rest[i..]))
}

#[async_trait]
impl Transport for ScriptedTransport {
    async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError> {
        self.end(true);
        let path = url_path(&request.url)?;
        let mut headers = request.headers.clone();
        headers.extend(self.extra_headers.iter().cloned());
        let (id, notify) =
            self.exchange
                .open(path, &headers)
                .map_err(|refusal| TransportError::Refused {
                    status: refusal.status,
                })?;
        self.connection = Some(Connection {
            id,
            notify,
            pongs: Vec::new(),
        });
        Ok(())
    }

    async fn send(&mut self, frame: Frame) -> Result<(), TransportError> {
        if self.connection.is_none() {
            return Err(TransportError::NotConnected);
        }
        self.outbox.push(frame);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(TransportError::NotConnected);
        };
        let id = connection.id;
        let frames = std::mem::take(&mut self.outbox);
        for frame in &frames {
            if let Frame::Ping(payload) = frame {
                connection.pongs.push(Frame::Pong(payload.clone()));
            }
        }
        self.exchange.input(|ex, now| {
            for frame in frames {
                ex.handle_frame(now, id, frame);
            }
        });
        Ok(())
    }

    async fn recv(&mut self) -> Result<Frame, TransportError> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(TransportError::NotConnected);
        };
        if !connection.pongs.is_empty() {
            return Ok(connection.pongs.remove(0));
        }
        let (id, notify) = (connection.id, Arc::clone(&connection.notify));
        loop {
            let mut changed = pin!(self.exchange.changed());
            changed.as_mut().enable();
            let (output, deadline) = self.exchange.poll(Some(id));
            match output {
                Some(Output::Frame(frame)) => return Ok(frame),
                Some(Output::Close { code, reason }) => {
                    self.exchange.forget(id);
                    self.connection = None;
                    return Err(TransportError::Closed {
                        code: Some(code),
                        reason,
                    });
                }
                Some(Output::Reset) => {
                    self.exchange.forget(id);
                    self.connection = None;
                    return Err(TransportError::Io("connection reset by peer".into()));
                }
                None => {}
            }
            tokio::select! {
                () = changed => {}
                () = notify.notified() => {}
                () = sleep_until(deadline) => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.end(true);
        Ok(())
    }
}

impl Drop for ScriptedTransport {
    fn drop(&mut self) {
        self.end(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        assert_eq!(
            url_path("wss://stream.data.alpaca.markets/v2/iex").unwrap(),
            "/v2/iex"
        );
        assert_eq!(
            url_path("ws://127.0.0.1:9/stream?x=1").unwrap(),
            "/stream?x=1"
        );
        assert_eq!(url_path("ws://host").unwrap(), "/");
        assert_eq!(url_path("/v2/test").unwrap(), "/v2/test");
        assert!(matches!(
            url_path("ftp://x/y"),
            Err(TransportError::InvalidUrl(_))
        ));
    }
}
