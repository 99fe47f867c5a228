//! The client's side: the [`Dialect`](tickwire_core::protocol::Dialect)s,
//! their decoders (a fast path over the [wire readers](crate::wire), serde
//! when it gives up) and the requests they send.

pub(crate) mod backfill;
pub(crate) mod credentials;
pub(crate) mod fast_control;
pub(crate) mod fast_field;
pub(crate) mod fast_market;
pub(crate) mod fast_trading;
pub(crate) mod market_backfill;
pub(crate) mod market_decode;
pub(crate) mod market_dialect;
pub(crate) mod market_message;
pub(crate) mod order_reconcile;
pub(crate) mod request;
pub(crate) mod trading_dialect;
