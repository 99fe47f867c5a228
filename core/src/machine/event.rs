//! What the machine tells the application.

use std::fmt;
use std::time::{Duration, Instant};

use crate::protocol::EncodeError;
use crate::{SubscriptionSet, Symbol, Timestamp, TransportError};

use super::{MalformedFrame, State};

/// Identifies one connection attempt; events of older attempts are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnectionEpoch(pub(crate) u64);

impl ConnectionEpoch {
    /// The attempt number, counting from 1 (0: none yet).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Identifies a subscribe or unsubscribe command; its outcome carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The request number, counting from 1.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The verdict on one subscribe or unsubscribe command.
///
/// Part of the [`Event`] vocabulary, and like it not `#[non_exhaustive]`: a
/// new verdict must be handled by every `match`, not passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionOutcome {
    /// The server's set now reflects the command.
    Acknowledged,
    /// The server refused some or all of the symbols; they were dropped from
    /// the desired set. The others of the command are in effect. A symbol
    /// asked for again by a later command before this one settled is not
    /// listed: the later command's outcome tells what became of it.
    Rejected {
        /// The server's error code (e.g. 405), or `None` when the server
        /// acknowledged a set that left the symbols out.
        code: Option<u16>,
        /// The server's message, or an explanation.
        message: String,
        /// The refused symbols.
        symbols: Vec<Symbol>,
    },
    /// A later command reversed this one before the server had to act on it.
    Superseded,
    /// The stream shut down or failed before the server answered.
    Abandoned,
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Opening the connection.
    Connect,
    /// The server's greeting.
    Greeting,
    /// The answer to the credentials.
    Auth,
    /// A subscription acknowledgement.
    SubscriptionAck,
    /// Any frame after a ping.
    Pong,
    /// Data messages (the socket was open but silent).
    DataSilence,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "opening the connection",
            Self::Greeting => "the server's greeting",
            Self::Auth => "the answer to the credentials",
            Self::SubscriptionAck => "a subscription acknowledgement",
            Self::Pong => "an answer to a ping",
            Self::DataSilence => "data (the connection is open but silent)",
        })
    }
}

/// Something that went wrong on a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The server sent an error message.
    #[error("server error{}: {message}{}", code.map(|c| format!(" {c}")).unwrap_or_default(), advice(*.code))]
    Server {
        /// The server's code, e.g. 402.
        code: Option<u16>,
        /// The server's message.
        message: String,
    },
    /// The server refused the credentials.
    #[error("authentication refused: {message}; check the key and secret (and paper vs live)")]
    AuthRejected {
        /// The server's explanation, if any.
        message: String,
    },
    /// The server refused the WebSocket upgrade.
    #[error("the server refused the connection with HTTP {status}{}", http_advice(*.status))]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The connection failed or was closed.
    #[error(transparent)]
    Transport(TransportError),
    /// A wait ran out.
    #[error("timed out waiting for {0}")]
    Timeout(TimeoutKind),
    /// Messages of one frame could not be decoded (or were past the cap on
    /// messages per frame): one such error per frame, with the counts. The
    /// stream carries on.
    #[error("{0}")]
    Malformed(MalformedFrame),
    /// A subscription request could not be encoded.
    #[error(transparent)]
    Encode(EncodeError),
    /// The server broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Every connection attempt failed before the stream was ever live, as
    /// many as [`MachineConfig::connect_attempts_max`](crate::machine::MachineConfig::connect_attempts_max) allows.
    #[error("gave up after {attempts} failed connection attempts; the last: {last}")]
    GaveUp {
        /// The attempts made.
        attempts: u32,
        /// Why the last one failed.
        last: Box<Self>,
    },
}

fn advice(code: Option<u16>) -> &'static str {
    match code {
        Some(402) => " (check the API key and secret)",
        Some(406) => " (another connection uses this key; backing off)",
        Some(409) => " (the account's plan does not include this feed)",
        Some(411) => " (the key lacks the scope for this stream)",
        Some(412) => " (this feed needs the MessagePack encoding)",
        _ => "",
    }
}

fn http_advice(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check the credentials and the plan)",
        404 => " (check the endpoint URL)",
        429 => " (too many connection attempts; backing off)",
        _ => "",
    }
}

impl StreamError {
    /// The server's or HTTP code, if any.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Server { code, .. } => *code,
            Self::Refused { status } => Some(*status),
            _ => None,
        }
    }
}

/// A notification for the application, drained with [`Machine::poll_event`](super::Machine::poll_event).
///
/// This is the one event vocabulary from the machine to the user: drivers
/// hand these events on as they are. The enum is deliberately not
/// `#[non_exhaustive]`: a new kind of event is a breaking change, so every
/// consumer's `match` must handle it instead of passing it over.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<D, C> {
    /// A data message.
    Data(D),
    /// The state changed.
    StateChanged(State),
    /// A subscribe or unsubscribe command was settled.
    Subscription {
        /// The command.
        request: RequestId,
        /// The channel it named.
        channel: C,
        /// The verdict.
        outcome: SubscriptionOutcome,
    },
    /// The server acknowledged a new subscription set (the whole set).
    Confirmed(SubscriptionSet<C>),
    /// The server refused symbols that no pending command asked for —
    /// typically re-subscriptions after a reconnect (e.g. 405 once the
    /// account's symbol limit is taken elsewhere). They left the desired set;
    /// subscribe again to retry.
    Refused {
        /// Their channel.
        channel: C,
        /// The refused symbols.
        symbols: Vec<Symbol>,
        /// The server's error code, or `None` when its acknowledgements kept
        /// leaving the symbols out.
        code: Option<u16>,
        /// The server's message, or an explanation.
        message: String,
    },
    /// The stream stopped being live: data may be missing from `since`.
    ///
    /// The gap stays open until the stream is live again, even if every
    /// symbol is unsubscribed meanwhile; only shutdown or failure end it
    /// without a [`Event::Resumed`]. The wall-clock times are `None` when
    /// the machine was given no [`MachineConfig::wall_clock`](super::MachineConfig::wall_clock).
    Gap {
        /// The connection that was lost.
        epoch: ConnectionEpoch,
        /// When it was lost.
        since: Instant,
        /// When it was lost, on the wall clock.
        lost_at: Option<Timestamp>,
        /// The own timestamp of the last data message delivered before the
        /// loss ([`Dialect::data_timestamp`](crate::protocol::Dialect::data_timestamp)):
        /// what the server sent after it may be missing. `None` before the
        /// first such message.
        last_data_at: Option<Timestamp>,
    },
    /// The stream is live again after a gap; backfill what was missed, from
    /// `last_data_at` (or `lost_at`) to `resumed_at`.
    Resumed {
        /// The new connection.
        epoch: ConnectionEpoch,
        /// When the gap began.
        gap_since: Instant,
        /// How long the gap lasted.
        lost_for: Duration,
        /// When the gap began, on the wall clock (the [`Event::Gap`]'s `lost_at`).
        lost_at: Option<Timestamp>,
        /// When the stream was live again, on the wall clock.
        resumed_at: Option<Timestamp>,
        /// The [`Event::Gap`]'s `last_data_at`: the own timestamp of the
        /// last data message delivered before the gap.
        last_data_at: Option<Timestamp>,
    },
    /// Something went wrong. If `fatal`, the stream stopped (state `Failed`);
    /// otherwise it carries on (reconnecting if needed).
    Error {
        /// What happened.
        error: StreamError,
        /// Whether the stream stopped for good.
        fatal: bool,
    },
    /// A message of a type the protocol does not know, passed through.
    Unknown {
        /// Its type tag.
        tag: String,
    },
}
