//! WebSocket frames as the machine sees them.

use bytes::Bytes;

/// One WebSocket message, in or out.
///
/// Text payloads are UTF-8 by the WebSocket protocol; decoders do not rely on
/// it and report invalid input as an error instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message (JSON).
    Text(Bytes),
    /// A binary message (MessagePack, or JSON on the trading stream).
    Binary(Bytes),
    /// A ping; the transport answers pings itself.
    Ping(Bytes),
    /// A pong, the answer to our ping.
    Pong(Bytes),
}

impl Frame {
    /// A text frame from a string.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(Bytes::from(text.into()))
    }

    /// A binary frame from bytes.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Self::Binary(bytes.into())
    }

    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        match self {
            Self::Text(b) | Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload().is_empty()
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_message(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }
}
