//! tickwire-mock: a simulated Alpaca exchange, reachable three ways.
//!
//! - [`Exchange`]: the exchange model, sans-I/O and deterministic for a seed —
//!   market data v2 (greeting, both auth forms, acks with the whole set, every
//!   error code it can produce, connection and symbol limits, a seeded market
//!   generator) and the trading stream (`trade_updates` from seeded order life
//!   cycles), with fault knobs ([`Faults`], [`FaultPlan`], [`Fault`]).
//! - [`ScriptedTransport`]: tickwire-core's [`Transport`](tickwire_core::Transport)
//!   in memory against a [`SharedExchange`], for tests on paused tokio time;
//!   and [`MockTransport`], a mockall mock of the trait (feature `mock`, on by
//!   default; turn default features off to drop the mockall dependency).
//! - [`LoopbackServer`]: the same model over real WebSockets on `127.0.0.1`,
//!   good enough for alpaca-py's own `StockDataStream` and `TradingStream`
//!   (`python3 transport-mock/tests/alpaca_py/check.py` checks that).
//!
//! ```
//! use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let exchange = ExchangeConfig::new(42).with_account(Account::new("PKTEST", "secret"));
//! let server = LoopbackServer::start(LoopbackConfig::new(exchange)).await?;
//! println!("market data at {}", server.url("/v2/iex"));
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod firehose;
mod limits;
mod loopback;
#[cfg(feature = "mock")]
mod mock;
mod model;
mod rest_front;
mod scripted;
mod shared;
#[cfg(feature = "tls")]
mod tls_front;

pub use firehose::{
    FIREHOSE_SYMBOLS, Firehose, FirehosePace, FirehoseSocket, firehose_client, firehose_frame,
};
pub use limits::ServerLimits;
pub use loopback::{LoopbackConfig, LoopbackServer};
#[cfg(feature = "mock")]
pub use mock::MockTransport;
pub use model::{
    Account, Encoding, Endpoint, Exchange, ExchangeConfig, ExchangeStats, FREE_PLAN_SYMBOL_LIMIT,
    Fault, FaultPlan, Faults, MARKET_PAGE_MAX, MarketConfig, ORDERS_PAGE_MAX, OrderChange, Output,
    Refusal, RestResponse, SessionId, TAPE_TICKS_PER_PAGE_MAX, TEST_SYMBOL, TradingConfig,
};
pub use scripted::ScriptedTransport;
pub use shared::SharedExchange;
#[cfg(feature = "tls")]
pub use tls_front::TlsFront;
