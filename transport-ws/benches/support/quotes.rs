//! The quotes the benchmarks send: one 150-byte Alpaca quote, the frames
//! that carry it (JSON or MessagePack, pre-framed as WebSocket bytes), frames
//! stamped with the time they were meant to be sent, and what a
//! straightforward client decodes a quote into.

use std::sync::OnceLock;
use std::time::Instant;

use serde::Deserialize;
use tickwire_alpaca::{AlpacaMarketData, ServerMessage, encode_market_frame};
use tickwire_core::protocol::{Dialect, Inbound};
use tickwire_core::{Frame, TIMESTAMP_TEXT_BYTES_MAX, Timestamp};
use tickwire_ws::Encoding;

/// A 150-byte quote, as Alpaca sends it.
pub(crate) const QUOTE: &str = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;

/// What a straightforward client decodes a quote into.
#[derive(Deserialize)]
#[allow(dead_code)]
pub(crate) struct NaiveQuote {
    #[serde(rename = "T")]
    pub(crate) tag: String,
    #[serde(rename = "S")]
    pub(crate) symbol: String,
    #[serde(default)]
    pub(crate) bx: String,
    pub(crate) bp: f64,
    pub(crate) bs: f64,
    #[serde(default)]
    pub(crate) ax: String,
    pub(crate) ap: f64,
    #[serde(rename = "as")]
    pub(crate) ask_size: f64,
    #[serde(default)]
    pub(crate) c: Vec<String>,
    #[serde(default)]
    pub(crate) z: String,
    pub(crate) t: Timestamp,
}

/// One data frame of `per_frame` quotes in `encoding`.
pub(crate) fn data_frame(encoding: Encoding, per_frame: usize) -> Frame {
    let json = Frame::text(format!("[{}]", vec![QUOTE; per_frame].join(",")));
    if encoding == Encoding::Json {
        return json;
    }
    let mut decoded = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&json, &mut decoded);
    let messages: Vec<ServerMessage> = decoded
        .into_iter()
        .filter_map(|m| match m {
            Inbound::Data(d) => Some(ServerMessage::Data(d)),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), per_frame, "the benchmark quote must decode");
    encode_market_frame(Encoding::MsgPack, &messages)
}

/// Appends a server-to-client WebSocket frame (unmasked), header and payload.
pub(crate) fn ws_frame_bytes(frame: &Frame, out: &mut Vec<u8>) {
    let opcode = if matches!(frame, Frame::Text(_)) {
        0x81
    } else {
        0x82
    };
    ws_frame_header(opcode, frame.payload().len(), out);
    out.extend_from_slice(frame.payload());
}

fn ws_frame_header(opcode: u8, len: usize, out: &mut Vec<u8>) {
    out.push(opcode);
    match len {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
}

/// The process's one clock for stamps: an `Instant` paired with the wall
/// time it stood for, so that a stamp written by the exchange and read by a
/// consumer converts back to an `Instant` without reading the wall clock twice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StampClock {
    start: Instant,
    wall_nanos: i128,
}

impl StampClock {
    /// The clock of this process.
    pub(crate) fn get() -> Self {
        static CLOCK: OnceLock<StampClock> = OnceLock::new();
        *CLOCK.get_or_init(|| Self {
            start: Instant::now(),
            wall_nanos: Timestamp::from(std::time::SystemTime::now()).unix_nanos(),
        })
    }

    /// The stamp of `at`.
    pub(crate) fn stamp(&self, at: Instant) -> Timestamp {
        let nanos = self.wall_nanos + at.saturating_duration_since(self.start).as_nanos() as i128;
        Timestamp::from_unix_nanos(nanos as i64)
    }

    /// Nanoseconds from `stamp` to now (0 if the stamp is ahead).
    pub(crate) fn nanos_since(&self, stamp: Timestamp) -> u64 {
        let now = self.wall_nanos + self.start.elapsed().as_nanos() as i128;
        u64::try_from(now - stamp.unix_nanos()).unwrap_or(0)
    }
}

/// Writes one-quote JSON frames whose `t` is a given stamp, at a fixed width
/// (nanoseconds always written), so that every frame has the same size.
#[derive(Debug)]
pub(crate) struct StampedQuotes {
    prefix: Vec<u8>,
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`
const STAMP_BYTES: usize = 30;
const SUFFIX: &[u8] = b"\"}]";

impl Default for StampedQuotes {
    fn default() -> Self {
        let at = QUOTE.find(r#""t":""#).expect("the quote has a timestamp") + 5;
        let mut prefix = b"[".to_vec();
        prefix.extend_from_slice(&QUOTE.as_bytes()[..at]);
        Self { prefix }
    }
}

impl StampedQuotes {
    /// Appends one WebSocket text frame of one quote stamped `stamp`.
    pub(crate) fn push(&self, stamp: Timestamp, out: &mut Vec<u8>) {
        ws_frame_header(0x81, self.prefix.len() + STAMP_BYTES + SUFFIX.len(), out);
        out.extend_from_slice(&self.prefix);
        let mut text = [0u8; TIMESTAMP_TEXT_BYTES_MAX];
        let whole = Timestamp {
            seconds: stamp.seconds,
            nanos: 0,
        };
        // "YYYY-MM-DDTHH:MM:SS" then the nanoseconds, all nine digits.
        out.extend_from_slice(&whole.format_bytes(&mut text)[..19]);
        out.push(b'.');
        let mut digits = [b'0'; 9];
        let mut nanos = stamp.nanos;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (nanos % 10) as u8;
            nanos /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'Z');
        out.extend_from_slice(SUFFIX);
    }
}
