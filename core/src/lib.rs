//! tickwire-core: a sans-I/O connection state machine for market-data and
//! account streams, and the codecs of the protocols it speaks.
//!
//! Nothing here performs I/O, reads a clock or draws randomness of its own:
//! time is an argument, randomness comes from a seeded generator owned by the
//! machine, and bytes move through a [`Transport`] driven by another crate
//! (`tickwire-ws` over WebSockets, `tickwire-mock` in memory).

#![deny(missing_docs)]

mod credentials;
mod frame;
pub mod machine;
pub mod protocol;
mod subscription_set;
mod symbol;
mod timestamp;
mod transport;

pub use credentials::{Credentials, CredentialsError, KEY_ID_ENV, SECRET_KEY_ENV};
pub use frame::Frame;
pub use subscription_set::SubscriptionSet;
pub use symbol::{Channel, InvalidSymbol, SYMBOL_BYTES_MAX, Symbol, UnknownChannel};
pub use timestamp::{InvalidTimestamp, MSGPACK_TIMESTAMP_EXT_TYPE, Timestamp};
pub use transport::{ConnectRequest, Transport, TransportError};
