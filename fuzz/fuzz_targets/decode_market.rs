//! The market data dialect's decoder (fast path and serde fallback) on any
//! frame: never a panic, and no more messages out than bytes in.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::{AlpacaMarketData, Encoding};
use tickwire_core::Frame;
use tickwire_core::protocol::Dialect;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the frame type; the rest is its payload.
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    let frame = if kind % 2 == 0 {
        Frame::Text(payload.to_vec().into())
    } else {
        Frame::Binary(payload.to_vec().into())
    };
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        let mut out = Vec::new();
        AlpacaMarketData::new(encoding).decode(&frame, &mut out);
        assert!(
            out.len() <= payload.len() + 1,
            "{} messages from {} bytes",
            out.len(),
            payload.len()
        );
    }
});
