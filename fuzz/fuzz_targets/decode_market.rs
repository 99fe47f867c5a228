//! The market data dialect's decoder (fast path and serde fallback) on any
//! frame: never a panic, and no more messages out than bytes in.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::{AlpacaMarketData, Encoding};
use tickwire_core::protocol::Dialect;

fuzz_target!(|data: &[u8]| {
    let Some((frame, bytes)) = common::frame(data) else {
        return;
    };
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        let mut out = Vec::new();
        AlpacaMarketData::new(encoding).decode(&frame, &mut out);
        assert!(
            out.len() <= bytes + 1,
            "{} messages from {bytes} bytes",
            out.len()
        );
    }
});
