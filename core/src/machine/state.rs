//! The stream's connection state as the application sees it.

use std::time::Instant;

use super::{ConnectionEpoch, StreamError};

/// Where a connection attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectPhase {
    /// Opening the socket and upgrading to WebSocket.
    Dialing,
    /// Waiting for the server's greeting.
    Greeting,
    /// Credentials sent, waiting for the verdict.
    Authenticating,
    /// Authenticated; waiting for the desired subscriptions to be acknowledged.
    Subscribing,
}

/// A stream's state.
///
/// Symbol streams start `Idle` and move to `Subscribed` when the first symbol
/// is subscribed; account streams start `Connecting`. `Live` is reported only
/// after authentication and the acknowledgement of the desired set.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// No symbols wanted, no connection.
    Idle,
    /// Symbols wanted, no connection yet: connecting at `reconnect_at`.
    Subscribed {
        /// When the next attempt starts (the backoff deadline).
        reconnect_at: Instant,
    },
    /// A connection attempt is under way.
    Connecting {
        /// The attempt.
        epoch: ConnectionEpoch,
        /// How far it got.
        phase: ConnectPhase,
        /// When it started.
        since: Instant,
    },
    /// Authenticated with the desired set acknowledged.
    Live {
        /// The connection.
        epoch: ConnectionEpoch,
        /// When it became live.
        since: Instant,
    },
    /// Stopped for good after a fatal error.
    Failed {
        /// The error.
        error: StreamError,
    },
    /// Shut down by the application.
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
