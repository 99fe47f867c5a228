//! One connection as the exchange sees it.

use std::time::Instant;

use tickwire_alpaca::SubscriptionSet;
use tickwire_core::Frame;

use super::accounts::AccountId;
use super::{Encoding, Endpoint, Faults};

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for credentials; 404 at `deadline`.
    AwaitingAuth { deadline: Instant },
    /// Authenticated as `account`, holding a connection slot.
    Authenticated { account: AccountId },
    /// Refused for a plan without the feed (409): open, but serving nothing.
    Unentitled,
}

/// An acknowledgement held back to be sent after the next one.
#[derive(Debug, Clone)]
pub(crate) struct HeldAck {
    pub(crate) frame: Frame,
    pub(crate) release_at: Instant,
}

/// The state of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) endpoint: Endpoint,
    pub(crate) encoding: Encoding,
    pub(crate) phase: Phase,
    /// Market data: the server's current set (without the server-managed channels).
    pub(crate) subscriptions: SubscriptionSet,
    /// Trading: the streams of the last `listen`.
    pub(crate) streams: Vec<String>,
    pub(crate) faults: Faults,
    /// Sends nothing more (fault).
    pub(crate) silent: bool,
    /// Frames that piled up while the client was not reading.
    pub(crate) unread_frames: usize,
    pub(crate) held_ack: Option<HeldAck>,
}

impl Session {
    pub(crate) fn new(
        endpoint: Endpoint,
        encoding: Encoding,
        faults: Faults,
        auth_deadline: Instant,
    ) -> Self {
        Self {
            endpoint,
            encoding,
            phase: Phase::AwaitingAuth {
                deadline: auth_deadline,
            },
            subscriptions: SubscriptionSet::new(),
            streams: Vec::new(),
            faults,
            silent: false,
            unread_frames: 0,
            held_ack: None,
        }
    }

    pub(crate) fn account(&self) -> Option<AccountId> {
        match self.phase {
            Phase::Authenticated { account } => Some(account),
            _ => None,
        }
    }

    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated { .. })
    }

    /// Whether the session wants trade updates.
    pub(crate) fn listens_to_trade_updates(&self) -> bool {
        self.is_authenticated() && self.streams.iter().any(|s| s == "trade_updates")
    }
}
