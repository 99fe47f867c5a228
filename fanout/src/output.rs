//! What the hub asks of the upstream stream and tells its clients.

use tickwire_core::{SubscriptionSet, Symbol};

use super::ClientId;

/// Names one upstream request; its verdict is fed back with the same token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UpstreamToken(pub(super) u64);

/// A change of the upstream stream's desired set, for the driver to command
/// (e.g. `Machine::subscribe`) and to settle with
/// [`FanoutHub::handle_upstream_outcome`](super::FanoutHub::handle_upstream_outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCommand<C> {
    /// Pairs no client held before: subscribe them upstream.
    Subscribe {
        /// The request.
        token: UpstreamToken,
        /// Their channel.
        channel: C,
        /// The symbols, ascending.
        symbols: Vec<Symbol>,
    },
    /// Pairs no client holds any more: unsubscribe them upstream.
    Unsubscribe {
        /// The request.
        token: UpstreamToken,
        /// Their channel.
        channel: C,
        /// The symbols, ascending.
        symbols: Vec<Symbol>,
    },
}

/// What one client is told, in the order of its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput<C> {
    /// A request of the client is settled: its whole current set, as a
    /// server acknowledges a subscription.
    Ack {
        /// The client.
        client: ClientId,
        /// Its whole set now.
        set: SubscriptionSet<C>,
    },
    /// The upstream refused pairs this client asked for (or held across an
    /// upstream reconnect); they left its set.
    Refused {
        /// The client.
        client: ClientId,
        /// The upstream's code (e.g. 405), if it gave one.
        code: Option<u16>,
        /// The upstream's message.
        message: String,
    },
}
