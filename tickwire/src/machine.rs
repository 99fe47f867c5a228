//! The connection machine's vocabulary: states, events, errors, identities,
//! and the types every vendor shares.
//!
//! From `tickwire-core`. The streams of [`stream`](crate::stream) drive a
//! [`Machine`] for you; use it directly only for a driver of your own (see
//! its docs for the drain rule).

pub use tickwire_core::machine::{
    Action, CommandError, ConnectPhase, ConnectionEpoch, Event, Machine, MachineConfig, RequestId,
    State, StreamError, StreamKind, SubscriptionOutcome, TimeoutKind,
};
pub use tickwire_core::protocol::{Dialect, Inbound, ServerError, Verdict};
pub use tickwire_core::{
    ChannelKind, CredentialVars, Credentials, CredentialsError, Frame, InvalidSymbol, Symbol,
    Timestamp, Transport, TransportError,
};
