//! What the frame targets share: turning fuzz input into a frame.

use tickwire_core::Frame;

/// The input as a frame: its first byte picks text (even) or binary (odd),
/// the rest is the payload. `None` for an empty input.
pub fn frame(data: &[u8]) -> Option<(Frame, usize)> {
    let (&kind, payload) = data.split_first()?;
    let frame = if kind % 2 == 0 {
        Frame::Text(payload.to_vec().into())
    } else {
        Frame::Binary(payload.to_vec().into())
    };
    Some((frame, payload.len()))
}
