//! The trading dialect's decoder on any frame: never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::AlpacaTrading;
use tickwire_core::Frame;
use tickwire_core::protocol::Dialect;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    let frame = if kind % 2 == 0 {
        Frame::Text(payload.to_vec().into())
    } else {
        Frame::Binary(payload.to_vec().into())
    };
    let mut out = Vec::new();
    AlpacaTrading::default().decode(&frame, &mut out);
    assert!(out.len() <= payload.len() + 1);
});
