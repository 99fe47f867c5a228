//! The `Transport` trait: what a driver needs from a connection.

use std::task::{Context, Poll, Waker};

use async_trait::async_trait;

use crate::Frame;

/// Everything needed to open one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The endpoint, e.g. `wss://stream.example.com/v2/iex`.
    pub url: String,
    /// Extra headers for the upgrade request (never credentials).
    pub headers: Vec<(String, String)>,
}

/// Why a connection could not be opened or was lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The server refused the WebSocket upgrade with this HTTP status.
    #[error("the server refused the connection with HTTP {status}")]
    Refused {
        /// The HTTP status, e.g. 429 or 401.
        status: u16,
    },
    /// The peer closed the connection.
    #[error("connection closed by the server{}", close_detail(*.code, .reason))]
    Closed {
        /// The WebSocket close code, if one was sent.
        code: Option<u16>,
        /// The close reason, if one was sent.
        reason: String,
    },
    /// The connection failed (reset, unreachable, TLS…).
    #[error("connection failed: {0}")]
    Io(String),
    /// The URL cannot be used.
    #[error("invalid endpoint URL: {0}")]
    InvalidUrl(String),
    /// An operation needed an open connection and there was none.
    #[error("not connected")]
    NotConnected,
}

fn close_detail(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (None, _) => String::new(),
        (Some(c), true) => format!(" (code {c})"),
        (Some(c), false) => format!(" (code {c}: {reason})"),
    }
}

/// A connection that carries frames: a WebSocket, or an in-memory peer.
///
/// A transport holds at most one connection. Drivers call [`connect`](Self::connect)
/// only after [`close`](Self::close) of the previous one.
///
/// [`recv`](Self::recv) must be cancel-safe: a driver waits on it in a
/// `select!` and may drop the future when a command or timer fires first.
#[async_trait]
pub trait Transport: Send {
    /// Opens a connection (including the WebSocket upgrade).
    async fn connect(&mut self, request: &ConnectRequest) -> Result<(), TransportError>;

    /// Queues a frame for sending; it goes out at the latest at [`flush`](Self::flush).
    async fn send(&mut self, frame: Frame) -> Result<(), TransportError>;

    /// Sends everything queued.
    async fn flush(&mut self) -> Result<(), TransportError>;

    /// Waits for the next frame. Returns [`TransportError::Closed`] when the peer
    /// closes and other errors when the connection fails.
    async fn recv(&mut self) -> Result<Frame, TransportError>;

    /// The next frame if one is already waiting, without waiting: `None`
    /// when none is (then [`recv`](Self::recv) waits for it). Drivers read
    /// the frames behind a received one with it, so a transport that holds
    /// received frames should answer without allocating; the default polls
    /// `recv` once.
    fn try_recv(&mut self) -> Option<Result<Frame, TransportError>> {
        match self
            .recv()
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(received) => Some(received),
            Poll::Pending => None,
        }
    }

    /// Takes back a received frame the driver is done with. A transport
    /// whose frames share buffers with its reader can release them there,
    /// on the reader's side (one thread allocating and freeing, no
    /// contended counts); the default drops the frame.
    fn reclaim(&mut self, frame: Frame) {
        drop(frame);
    }

    /// Closes the connection, if any. Closing twice is harmless.
    async fn close(&mut self) -> Result<(), TransportError>;
}
