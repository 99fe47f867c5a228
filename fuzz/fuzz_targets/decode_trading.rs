//! The trading dialect's decoder on any frame: never a panic, and no more
//! messages out than bytes in.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::AlpacaTrading;
use tickwire_core::protocol::Dialect;

fuzz_target!(|data: &[u8]| {
    let Some((frame, bytes)) = common::frame(data) else {
        return;
    };
    let mut out = Vec::new();
    AlpacaTrading::default().decode(&frame, &mut out);
    assert!(
        out.len() <= bytes + 1,
        "{} messages from {bytes} bytes",
        out.len()
    );
});
