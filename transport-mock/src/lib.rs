//! tickwire-mock: a simulated Alpaca exchange, reachable three ways.
//!
//! - [`Exchange`]: the exchange model, sans-I/O and deterministic for a seed —
//!   market data v2 and the trading stream, server side, with fault knobs.
//! - [`ScriptedTransport`]: tickwire-core's [`Transport`](tickwire_core::Transport)
//!   in memory against a [`SharedExchange`], for tests on paused tokio time;
//!   and [`MockTransport`], a mockall mock of the trait (feature `mock`, on by default).
//! - [`LoopbackServer`]: the same model over real WebSockets on `127.0.0.1`.

#![warn(missing_docs)]

mod loopback;
#[cfg(feature = "mock")]
mod mock;
mod model;
mod scripted;
mod shared;

pub use loopback::{LoopbackConfig, LoopbackServer};
#[cfg(feature = "mock")]
pub use mock::MockTransport;
pub use scripted::ScriptedTransport;
pub use shared::SharedExchange;

pub use model::{
    Account, Encoding, Endpoint, Exchange, ExchangeConfig, FREE_PLAN_SYMBOL_LIMIT, Fault,
    FaultPlan, Faults, MarketConfig, Output, Refusal, SessionId, TEST_SYMBOL, TradingConfig,
};
