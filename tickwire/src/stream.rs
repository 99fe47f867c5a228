//! The async API: streams, their builders and handles, the events they
//! deliver, and their settings.
//!
//! From `tickwire-ws`: one tokio task per stream drives the connection
//! machine over a WebSocket.

pub use tickwire_ws::{
    Backfill, Error, EventStream, Events, Feed, IntoSymbol, MarketDataBuilder, MarketDataEvent,
    MarketDataStream, QUEUE_CAPACITY_DEFAULT, SECRET_PRINTING_LOG_TARGETS,
    SHUTDOWN_TIMEOUT_DEFAULT, SSL_CERT_FILE_ENV, SlowConsumerPolicy, StreamBuilder, StreamEvent,
    StreamHandle, TlsTrust, TradingBuilder, TradingEndpoint, TradingEvent, TradingStream, WsConfig,
    WsTransport,
};
