//! A transport [`Frame`] as the WebSocket message that carries it.

use tickwire_core::Frame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// The WebSocket message carrying `frame`, for anything that writes frames
/// to a tokio-tungstenite socket (the stream's transport, the proxy).
///
/// A text frame that is not UTF-8 cannot be a text message: it goes out as
/// binary, with a warning.
///
/// ```
/// use tickwire_core::Frame;
/// use tokio_tungstenite::tungstenite::Message;
///
/// let message = tickwire_ws::ws_message(Frame::Text(r#"{"action":"auth"}"#.into()));
/// assert!(matches!(message, Message::Text(_)));
/// ```
pub fn ws_message(frame: Frame) -> Message {
    match frame {
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
    }
}
