//! The events a stream delivers to the application.

use tickwire_alpaca::Channel;
use tickwire_core::machine::Event;

/// One notification from a stream, in the order things happened: the
/// machine's own [`Event`], or what only the driver knows.
///
/// The machine's events are handed on unchanged inside
/// [`StreamEvent::Machine`], so no kind of event can be lost between the
/// machine and the application: neither enum is `#[non_exhaustive]`, and a
/// new variant of either breaks every `match` that does not handle it.
///
/// `D` is the data type: [`MarketData`](tickwire_alpaca::MarketData) on a
/// [`MarketDataStream`](crate::MarketDataStream),
/// [`TradeUpdate`](tickwire_alpaca::TradeUpdate) on a
/// [`TradingStream`](crate::TradingStream). `C` is the dialect's channel.
///
/// ```
/// use tickwire_ws::{Event, MarketData, MarketDataEvent, StreamEvent};
///
/// fn describe(event: &MarketDataEvent) -> String {
///     match event {
///         StreamEvent::Machine(Event::Data(MarketData::Quote(q))) => format!("quote {}", q.symbol),
///         StreamEvent::Machine(Event::Gap { epoch, .. }) => format!("gap after {epoch}"),
///         StreamEvent::Machine(other) => format!("{other:?}"),
///         StreamEvent::Dropped { count, .. } => format!("{count} dropped"),
///         StreamEvent::Recovered(data) => format!("recovered {data:?}"),
///         StreamEvent::Snapshot(data) => format!("snapshot {data:?}"),
///         StreamEvent::RecoveryFailed { reason } => reason.clone(),
///     }
/// }
/// assert_eq!(describe(&StreamEvent::Dropped { count: 2, total: 5 }), "2 dropped");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent<D, C = Channel> {
    /// What the machine reported: data, state changes, subscription
    /// outcomes, gaps, errors… (see [`Event`]).
    Machine(Event<D, C>),
    /// The consumer fell behind and events were dropped by the
    /// slow-consumer policy (see [`SlowConsumerPolicy`](crate::SlowConsumerPolicy)):
    /// data, messages of unknown types and non-fatal errors.
    Dropped {
        /// Data events dropped since the last `Dropped` event.
        count: u64,
        /// Data events dropped since the stream was created.
        total: u64,
    },
    /// Data the stream missed during a gap, fetched again over REST and
    /// delivered once (live data never repeats it). On a
    /// [`TradingStream`](crate::TradingStream): each order state a gap hid,
    /// as an update of the order's latest state (see
    /// [`TradingBuilder::reconcile`](crate::StreamBuilder::reconcile)).
    Recovered(D),
    /// The latest value the stream's source already had when a
    /// subscription began, e.g. a relay's last quote of a symbol (see
    /// [`StreamBuilder::build_with_transport_and_snapshots`](crate::StreamBuilder::build_with_transport_and_snapshots)):
    /// not a new message, but what the market stood at. It comes before
    /// any live data of its symbol delivered after it, or not at all, so it
    /// is never older than live data of its symbol already delivered.
    Snapshot(D),
    /// Fetching what a gap hid failed (after retries, or it could not
    /// start): some of it may be missing.
    RecoveryFailed {
        /// Why, naming the cause.
        reason: String,
    },
}

impl<D, C> StreamEvent<D, C> {
    /// Whether this is a data message, live, recovered or a snapshot.
    pub fn is_data(&self) -> bool {
        self.data().is_some()
    }

    /// The data message, live, recovered or a snapshot, if this is one.
    pub fn data(&self) -> Option<&D> {
        match self {
            Self::Machine(Event::Data(data)) | Self::Recovered(data) | Self::Snapshot(data) => {
                Some(data)
            }
            _ => None,
        }
    }

    /// The machine's event, if this is one.
    pub fn machine(&self) -> Option<&Event<D, C>> {
        match self {
            Self::Machine(event) => Some(event),
            Self::Dropped { .. }
            | Self::Recovered(_)
            | Self::Snapshot(_)
            | Self::RecoveryFailed { .. } => None,
        }
    }
}

impl<D, C> From<Event<D, C>> for StreamEvent<D, C> {
    fn from(event: Event<D, C>) -> Self {
        Self::Machine(event)
    }
}
