//! What one frame held that could not be delivered, gathered while its
//! messages are handled and reported as one event, however many there were.

use std::fmt;

use crate::protocol::{DecodeError, MESSAGES_PER_FRAME_MAX};

/// The messages of one frame that were not delivered: undecodable ones, and
/// those past [`MESSAGES_PER_FRAME_MAX`]. One per frame, carried by
/// [`StreamError::Malformed`](super::StreamError::Malformed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedFrame {
    /// The first undecodable message's error; `None` when every message the
    /// frame was decoded for was fine and only the cap was passed.
    pub first: Option<DecodeError>,
    /// Messages that could not be decoded.
    pub malformed: u64,
    /// Messages past [`MESSAGES_PER_FRAME_MAX`], counted but not decoded.
    pub skipped: u64,
}

impl fmt::Display for MalformedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.first, self.malformed) {
            (Some(first), 1) => write!(f, "{first}")?,
            (Some(first), n) => write!(
                f,
                "{n} messages of one frame could not be decoded; the first: {first}"
            )?,
            (None, _) => f.write_str("a frame held too many messages")?,
        }
        if self.skipped > 0 {
            write!(
                f,
                "; {} messages past the cap of {MESSAGES_PER_FRAME_MAX} per frame were skipped",
                self.skipped
            )?;
        }
        Ok(())
    }
}

/// Counts a frame's undecodable and skipped messages, keeping only the first error.
#[derive(Debug, Default)]
pub(crate) struct FrameErrors {
    first: Option<DecodeError>,
    malformed: u64,
    skipped: u64,
}

impl FrameErrors {
    pub(crate) fn malformed(&mut self, error: DecodeError) {
        self.malformed = self.malformed.saturating_add(1);
        self.first.get_or_insert(error);
    }

    pub(crate) fn skipped(&mut self, messages: u64) {
        self.skipped = self.skipped.saturating_add(messages);
    }

    /// The frame's report, if anything went undelivered.
    pub(crate) fn finish(self) -> Option<MalformedFrame> {
        (self.malformed > 0 || self.skipped > 0).then_some(MalformedFrame {
            first: self.first,
            malformed: self.malformed,
            skipped: self.skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(detail: &str) -> DecodeError {
        DecodeError {
            what: "quote",
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn one_bad_message_reads_as_its_own_error() {
        let mut errors = FrameErrors::default();
        errors.malformed(error("bad price"));
        let frame = errors.finish().unwrap();
        assert_eq!(frame.to_string(), "could not decode quote: bad price");
    }

    #[test]
    fn many_keep_the_first_error_and_the_counts() {
        let mut errors = FrameErrors::default();
        for n in 0..10_000 {
            errors.malformed(error(&format!("bad {n}")));
        }
        errors.skipped(7);
        let frame = errors.finish().unwrap();
        assert_eq!(frame.malformed, 10_000);
        assert_eq!(frame.skipped, 7);
        assert_eq!(
            frame.to_string(),
            "10000 messages of one frame could not be decoded; the first: could not decode \
             quote: bad 0; 7 messages past the cap of 16384 per frame were skipped"
        );
    }

    #[test]
    fn a_clean_frame_reports_nothing() {
        assert_eq!(FrameErrors::default().finish(), None);
        let mut errors = FrameErrors::default();
        errors.skipped(1);
        assert_eq!(
            errors.finish().unwrap().to_string(),
            "a frame held too many messages; 1 messages past the cap of 16384 per frame were skipped"
        );
    }
}
