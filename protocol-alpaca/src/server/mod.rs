//! The exchange's side, for simulated exchanges (the `server` feature): the
//! frames a server sends and the decoding of what clients send.

pub(crate) mod field_writer;
pub(crate) mod market_data;
pub(crate) mod messages;
pub(crate) mod request_decode;
pub(crate) mod trade_updates;
pub(crate) mod writer;
