//! tickwire-proxy: one upstream connection per Alpaca feed and one per
//! trading account, shared by many downstream programs that speak Alpaca's
//! own protocol.
//!
//! Alpaca allows one market-data connection per feed and one trading stream
//! per account; a second is refused (406). [`Proxy`] listens for WebSocket
//! clients on Alpaca's paths (`/v2/{feed}`, `/v1beta3/crypto/us`,
//! `/v1beta1/{indicative,opra,news}`, `/stream`), authenticates them with
//! proxy-local key pairs, and serves them from one upstream stream per feed
//! and account, kept connected by tickwire's machine:
//!
//! - subscriptions are reference-counted per (channel, symbol) across
//!   clients by a [`FanoutHub`](tickwire_fanout::FanoutHub); a
//!   symbol leaves upstream only when no client wants it, each client's
//!   acknowledgement lists its own set, and each client receives only what
//!   it subscribed to;
//! - upstream reconnects are invisible downstream; an upstream fatal
//!   verdict reaches every affected client as Alpaca's error, then their
//!   connections close;
//! - a slow client is cut off alone (Alpaca's 407) when its bounded queue
//!   fills; malformed or oversized messages get Alpaca's 400; handshake and
//!   auth timeouts and a connection cap protect the proxy.
//!
//! Each downstream connection is one tokio task; each feed and the account
//! are one task that owns its hub and its upstream stream. Metrics go
//! through the `metrics` facade (names in [`metrics`](mod@crate::metrics));
//! the binary chooses the exporter. Logs and spans go through `tracing`,
//! one `client` span per connection. Upstream credentials never appear in
//! logs, errors or `Debug` output, and are never sent downstream.
//!
//! ```no_run
//! use tickwire_core::Credentials;
//! use tickwire_proxy::{Proxy, ProxyConfig, Upstream};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let config = ProxyConfig::new(
//!     Upstream::alpaca_paper(),
//!     Credentials::new("PK…", "…"),
//!     vec![Credentials::new("strategy", "local-secret")],
//! );
//! let proxy = Proxy::start(config).await?;
//! println!("point clients at {}", proxy.url("/v2/iex"));
//! # proxy.shutdown().await;
//! # Ok(()) }
//! ```

mod account;
mod config;
mod data_batch;
mod downstream;
mod feed;
mod inbox;
pub mod metrics;
mod outbox;
pub mod request_check;
mod route;
mod server;
mod session_market;
mod session_trading;
mod status;
pub mod upstream;
mod upstream_metrics;

pub use config::{Limits, ProxyConfig, Upstream};
pub use server::Proxy;
pub use status::{EndpointStatus, ProxyStatus};
