//! tickwire-core: a sans-I/O connection state machine for market-data and
//! account streams, and the boundary a vendor's protocol plugs into.
//!
//! Nothing here performs I/O, reads a clock or draws randomness of its own:
//! time is an argument, randomness comes from a seeded generator owned by the
//! machine, and bytes move through a [`Transport`] driven by another crate
//! (`tickwire-ws` over WebSockets, `tickwire-mock` in memory).

#![deny(missing_docs)]

mod channel;
mod credentials;
mod frame;
pub mod machine;
pub mod protocol;
mod subscription_set;
mod symbol;
#[cfg(test)]
mod test_channel;
mod timestamp;
mod transport;
mod wall_clock;

pub use channel::ChannelKind;
pub use credentials::{CredentialVars, Credentials, CredentialsError};
pub use frame::Frame;
pub use subscription_set::SubscriptionSet;
pub use symbol::{InvalidSymbol, SYMBOL_BYTES_MAX, Symbol};
pub use timestamp::{
    InvalidTimestamp, MSGPACK_TIMESTAMP_EXT_TYPE, TIMESTAMP_TEXT_BYTES_MAX, Timestamp,
};
pub use transport::{ConnectRequest, Transport, TransportError};
pub use wall_clock::WallClock;
