//! What both sides of Alpaca's streams talk about: the typed messages, the
//! channels and feeds, and what an error code means. Nothing here reads or
//! writes bytes.

pub(crate) mod channel;
pub(crate) mod conditions;
pub(crate) mod cow_str;
pub(crate) mod feed;
pub(crate) mod fields;
pub(crate) mod market;
pub(crate) mod trading;
pub(crate) mod verdicts;
pub(crate) mod wire_enum;
