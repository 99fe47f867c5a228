//! The stream's connection state as the application sees it.

use std::time::Instant;

use super::{ConnectionEpoch, StreamError};

/// Where a connection attempt is, in the order the phases are passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectPhase {
    /// The transport is opening the socket (TCP, TLS, WebSocket upgrade);
    /// bounded by `connect_timeout`.
    Dialing,
    /// The socket is open; waiting for the server's greeting (dialects whose
    /// servers greet first); bounded by `greeting_timeout`.
    Greeting,
    /// Credentials sent (once per connection); waiting for the verdict;
    /// bounded by `auth_timeout`.
    Authenticating,
    /// Authenticated; subscription requests go out one at a time until the
    /// server's acknowledged set matches the desired set; bounded by
    /// `ack_timeout` per request.
    Subscribing,
}

/// A stream's state.
///
/// ```text
/// Idle ──desired set becomes non-empty──▶ Subscribed ──backoff deadline──▶ Connecting
/// Connecting (Dialing → Greeting → Authenticating → Subscribing) ──ack of the desired set──▶ Live
/// Connecting / Live ──transport lost, timeout, retryable server error──▶ Subscribed (backoff)
/// any ──desired set becomes empty──▶ Idle (a live connection lingers first)
/// any ──fatal server verdict──▶ Failed        any ──shutdown──▶ Closed
/// ```
///
/// Symbol streams start `Idle`: no symbols, no connection. Account streams
/// start `Connecting` (the account is their subscription) and never go
/// `Idle`. `Live` is reported only after authentication and the server's
/// acknowledgement of the desired set (rule 10 of `docs/ARCHITECTURE.md`).
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// A symbol stream with nothing wanted and no connection, timer or
    /// request outstanding. It stays here, however long, until a subscribe.
    Idle,
    /// Something is wanted but no connection exists: the first attempt is
    /// about to start (`reconnect_at` = now) or the stream is backing off
    /// after a lost or refused connection. The attempt starts at
    /// `reconnect_at`; the desired set may still change meanwhile.
    Subscribed {
        /// When the next attempt starts (the backoff deadline).
        reconnect_at: Instant,
    },
    /// One connection attempt is under way (never more than one per stream);
    /// data that arrives is delivered, but the stream is not live yet.
    Connecting {
        /// The attempt; events of other attempts are ignored.
        epoch: ConnectionEpoch,
        /// How far it got.
        phase: ConnectPhase,
        /// When the attempt started.
        since: Instant,
    },
    /// Authenticated, and the server acknowledged the desired set (minus the
    /// symbols it refused, which were reported). Later subscription changes
    /// are sent as minimal diffs without leaving `Live`; when the desired set
    /// empties, the connection lingers for `idle_linger` and then closes to
    /// `Idle`.
    Live {
        /// The connection.
        epoch: ConnectionEpoch,
        /// When it became live.
        since: Instant,
    },
    /// Stopped for good after a fatal server verdict (bad credentials, a
    /// feed not in the plan…): no more attempts; create a new stream after
    /// fixing the cause.
    Failed {
        /// The error.
        error: StreamError,
    },
    /// Shut down by the application; only the final close follows.
    Closed,
}

impl State {
    /// A short lowercase name: `idle`, `subscribed`, `connecting`, `live`, `failed`, `closed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Subscribed { .. } => "subscribed",
            Self::Connecting { .. } => "connecting",
            Self::Live { .. } => "live",
            Self::Failed { .. } => "failed",
            Self::Closed => "closed",
        }
    }

    /// Whether the stream is live.
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Live { .. })
    }

    /// Whether the stream has stopped for good (failed or closed).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::Closed)
    }

    /// The connection epoch, while connecting or live.
    pub fn epoch(&self) -> Option<ConnectionEpoch> {
        match self {
            Self::Connecting { epoch, .. } | Self::Live { epoch, .. } => Some(*epoch),
            _ => None,
        }
    }
}
