//! What a running relay reports besides its logs.

use crate::LeaseError;

/// Something a relay noticed, for whoever watches it
/// ([`Relay::events`](crate::Relay::events)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// A lease key is malformed (unknown channel, invalid symbol…): it is
    /// ignored.
    LeaseRejected {
        /// The key.
        key: String,
        /// What is wrong with it.
        error: LeaseError,
    },
    /// The live leases changed: how many there are now, of how many consumers.
    Interest {
        /// Live leases.
        leases: usize,
        /// Consumers holding them.
        consumers: usize,
    },
    /// The upstream refused pairs a consumer leased (e.g. an unknown symbol).
    Refused {
        /// The consumer.
        consumer: String,
        /// The upstream's code, if any.
        code: Option<u16>,
        /// The upstream's message.
        message: String,
    },
    /// The upstream stream's state changed (`connecting`, `live`, …).
    UpstreamState(&'static str),
    /// Reconciling the account after a gap failed: order states may be
    /// missing from the trade updates published.
    RecoveryFailed {
        /// Why, naming the cause.
        reason: String,
    },
    /// Publishing a trade update to JetStream failed; it is tried again
    /// (nothing is skipped).
    PublishFailed {
        /// The client's or server's error.
        message: String,
        /// When it is tried again.
        retry_in: std::time::Duration,
    },
    /// Too many trade updates waited for NATS: new ones were refused, and
    /// consumers will not see them. The total refused so far.
    TradeUpdatesRefused {
        /// Updates refused since the relay started.
        total: u64,
    },
    /// This relay won the leadership key: its upstream connects and
    /// subscribes every leased pair.
    Leading,
    /// Another relay leads; this one stands by, keeping the leases in view.
    StandingBy {
        /// The leader's id.
        leader: String,
    },
    /// This relay could not renew the leadership key in time, or saw
    /// another relay hold it: its upstream is closed.
    LeadershipLost,
}

/// Where a relay stands among the relays of its feed
/// ([`Relay::role`](crate::Relay::role)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayRole {
    /// It leads: it holds the upstream connection.
    Leading,
    /// It stands by, with no upstream connection.
    StandingBy {
        /// The leader's id, once seen.
        leader: Option<String>,
    },
}
