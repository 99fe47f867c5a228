//! The events a stream delivers to the application.

use std::time::{Duration, Instant};

use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::Symbol;
use tickwire_core::machine::{
    ConnectionEpoch, Event, RequestId, State, StreamError, SubscriptionOutcome,
};

/// One notification from a stream, in the order things happened.
///
/// `T` is the data type: [`MarketData`](tickwire_alpaca::MarketData)
/// on a [`MarketDataStream`](crate::MarketDataStream),
/// [`TradeUpdate`](tickwire_alpaca::TradeUpdate) on a
/// [`TradingStream`](crate::TradingStream).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent<T> {
    /// A data message.
    Data(T),
    /// The connection state changed (also visible through the state watch).
    StateChanged(State),
    /// A subscribe or unsubscribe command was settled (its future resolved
    /// with the same outcome).
    Subscription {
        /// The command.
        request: RequestId,
        /// The channel it named.
        channel: Channel,
        /// The verdict.
        outcome: SubscriptionOutcome,
    },
    /// The server acknowledged a new subscription set (the whole set).
    Confirmed(SubscriptionSet),
    /// The server refused symbols no pending command asked for, typically
    /// re-subscriptions after a reconnect; they left the desired set.
    Refused {
        /// Their channel.
        channel: Channel,
        /// The refused symbols.
        symbols: Vec<Symbol>,
        /// The server's code, if it gave one.
        code: Option<u16>,
        /// The server's message, or an explanation.
        message: String,
    },
    /// The stream stopped being live: data may be missing from `since`.
    Gap {
        /// The connection that was lost.
        epoch: ConnectionEpoch,
        /// When it was lost.
        since: Instant,
    },
    /// The stream is live again after a gap; backfill what was missed.
    Resumed {
        /// The new connection.
        epoch: ConnectionEpoch,
        /// When the gap began.
        gap_since: Instant,
        /// How long the gap lasted.
        lost_for: Duration,
    },
    /// Something went wrong. If `fatal`, the stream stopped (state `Failed`);
    /// otherwise it carries on, reconnecting if needed.
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
    /// The consumer fell behind and data events were dropped by the
    /// slow-consumer policy (see [`SlowConsumerPolicy`](crate::SlowConsumerPolicy)).
    Dropped {
        /// Data events dropped since the last `Dropped` event.
        count: u64,
        /// Data events dropped since the stream was created.
        total: u64,
    },
}

impl<T> StreamEvent<T> {
    /// Whether this is a data message (the only kind a slow-consumer policy drops).
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Data(_))
    }

    /// The data message, if this is one.
    pub fn data(&self) -> Option<&T> {
        match self {
            Self::Data(data) => Some(data),
            _ => None,
        }
    }

    /// Converts a machine event; `None` for kinds this version does not know.
    pub(crate) fn from_machine(event: Event<T, Channel>) -> Option<Self> {
        Some(match event {
            Event::Data(data) => Self::Data(data),
            Event::StateChanged(state) => Self::StateChanged(state),
            Event::Subscription {
                request,
                channel,
                outcome,
            } => Self::Subscription {
                request,
                channel,
                outcome,
            },
            Event::Confirmed(set) => Self::Confirmed(set),
            Event::Refused {
                channel,
                symbols,
                code,
                message,
            } => Self::Refused {
                channel,
                symbols,
                code,
                message,
            },
            Event::Gap { epoch, since } => Self::Gap { epoch, since },
            Event::Resumed {
                epoch,
                gap_since,
                lost_for,
            } => Self::Resumed {
                epoch,
                gap_since,
                lost_for,
            },
            Event::Error { error, fatal } => Self::Error { error, fatal },
            Event::Unknown { tag } => Self::Unknown { tag },
            _ => return None,
        })
    }
}
