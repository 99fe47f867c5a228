//! The exchange's decoder of client requests on any frame: an error or a
//! request, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::decode_client_message;
use tickwire_core::Frame;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    let frame = if kind % 2 == 0 {
        Frame::Text(payload.to_vec().into())
    } else {
        Frame::Binary(payload.to_vec().into())
    };
    let _ = decode_client_message(&frame);
});
