//! tickwire-ws: Alpaca market data and account streams over WebSockets, kept
//! connected correctly.
//!
//! - [`MarketDataStream`]: a feed's quotes, trades, bars, news… Creating one
//!   connects nothing; the first [`subscribe`](MarketDataStream::subscribe)
//!   connects and resolves with the server's verdict; after the last
//!   unsubscribe the connection is let go.
//! - [`TradingStream`]: an account's order updates; connects at once.
//!
//! Both reconnect by themselves (exponential backoff with jitter, a long floor
//! after connection-limit errors), resubscribe, and report what was missed as
//! [`Event::Gap`] / [`Event::Resumed`]. Events arrive as a
//! [`futures::Stream`] through a bounded queue with an explicit
//! [`SlowConsumerPolicy`]; the state is a [`tokio::sync::watch`].
//!
//! Both are faces of one type, [`EventStream`], generic over a
//! [`StreamProfile`] ([`MarketDataProfile`], [`TradingProfile`]). What a
//! stream yields is a [`StreamEvent`]: the machine's own [`Event`], unchanged,
//! or [`StreamEvent::Dropped`] when the slow-consumer policy dropped data.
//!
//! Inside, one tokio task per stream drives a sans-I/O
//! [`Machine`](tickwire_core::machine::Machine) over a
//! [`Transport`](tickwire_core::Transport): [`WsTransport`] in production, an
//! in-memory peer in tests (see `build_with_transport` on [`StreamBuilder`]).
//! The task makes no protocol decision of its own.
//!
//! Logs and spans go through `tracing`: a `tickwire` span per stream (field
//! `stream`) with a `connection` span per attempt (field `epoch`). Credentials
//! never appear in them.

#![warn(missing_docs)]

mod backfill_stage;
mod builder;
mod command;
mod driver;
mod endpoint;
mod error;
mod event;
mod event_queue;
mod event_stage;
mod handle;
mod into_symbol;
mod log_safety;
mod market_backfill;
mod market_data_stream;
mod order_reconcile;
mod profile;
mod reconcile_stage;
mod recovery_stage;
mod rest_client;
mod snapshot_gate;
mod snapshot_stage;
mod spawn;
mod stream;
mod tls_roots;
mod trading_stream;
mod ws_message;
mod ws_transport;

pub use builder::{
    QUEUE_BYTES_DEFAULT, QUEUE_CAPACITY_DEFAULT, SHUTDOWN_TIMEOUT_DEFAULT, StreamBuilder,
};
pub use endpoint::{DATA_REST_URL, Feed, TradingEndpoint};
pub use error::Error;
pub use event::StreamEvent;
pub use event_queue::{Events, SlowConsumerPolicy};
pub use event_stage::{EventStage, StageSetup};
pub use handle::StreamHandle;
pub use into_symbol::IntoSymbol;
pub use log_safety::SECRET_PRINTING_LOG_TARGETS;
pub use market_backfill::{
    BACKFILL_SYMBOLS_PER_REQUEST, Backfill, BackfillOutput, DataFetch, MARKET_PAGE_LIMIT,
    MarketBackfill, UnknownBackfill,
};
pub use market_data_stream::{MarketDataBuilder, MarketDataEvent, MarketDataStream};
pub use order_reconcile::{ORDERS_PAGE_LIMIT, OrderFetch, OrderReconciler, ReconcileOutput};
pub use profile::{
    ChannelOf, DataOf, EventsOf, HandleOf, MarketDataProfile, StageOf, StreamProfile,
    TradingProfile,
};
pub use rest_client::{REST_ATTEMPT_TIMEOUT_DEFAULT, RestClient, RestError};
pub use snapshot_stage::{SnapshotAsk, SnapshotSource, Snapshots, snapshot_channel};
pub use stream::EventStream;
pub use tls_roots::{SSL_CERT_FILE_ENV, TlsTrust};
pub use trading_stream::{TradingBuilder, TradingEvent, TradingStream};
pub use ws_message::ws_message;
pub use ws_transport::{WsConfig, WsTransport};

// The vocabulary users need alongside the streams.
pub use tickwire_alpaca::Channel;
pub use tickwire_alpaca::{Encoding, MarketData, TradeUpdate};
pub use tickwire_core::machine::{
    ConnectionEpoch, Event, RequestId, State, StreamError, SubscriptionOutcome,
};
pub use tickwire_core::{Credentials, Symbol};
