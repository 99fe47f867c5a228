//! The exchange's decoder of client requests on any frame: an error or a
//! request, never a panic.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::decode_client_message;

fuzz_target!(|data: &[u8]| {
    if let Some((frame, _)) = common::frame(data) {
        let _ = decode_client_message(&frame);
    }
});
