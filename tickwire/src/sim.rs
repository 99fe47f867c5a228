//! A simulated Alpaca exchange on `127.0.0.1`, started with one call, for
//! programs and tests that must run offline.
//!
//! [`Exchange::start`] serves tickwire-mock's exchange model over real
//! WebSockets: the market-data feeds at Alpaca's paths (`/v2/iex`,
//! `/v2/sip`, `/v2/test`, `/v1beta3/crypto/us`, `/v1beta1/news`…) with a
//! seeded market, and the trading stream at `/stream` with seeded order
//! life cycles. It accepts one key pair ([`Exchange::key_pair`]).
//!
//! ```
//! use tickwire::sim::Exchange;
//! use tickwire::{Channel, Feed, MarketDataStream, SubscriptionOutcome};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let exchange = Exchange::start().await?;
//! let (key_id, secret) = exchange.key_pair();
//! let stream = MarketDataStream::builder(exchange.feed(&Feed::Iex))
//!     .key_pair(key_id, secret)
//!     .build()?;
//! let verdict = stream.subscribe(Channel::Quotes, ["AAPL"]).await?;
//! assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
//! stream.shutdown().await?;
//! exchange.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! For faults, reach the model through [`Exchange::model`]: fault rates
//! ([`Faults`], [`FaultPlan`]), one-shot faults on a session ([`Fault`]),
//! refused upgrades, restarts.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tickwire_core::{Credentials, Timestamp};
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, TradingConfig};
use tickwire_ws::{Feed, TradingEndpoint};

pub use tickwire_mock::{Fault, FaultPlan, Faults, SessionId, SharedExchange};

/// Key id the simulated exchange accepts unless told otherwise.
pub const KEY_ID_DEFAULT: &str = "PKSIMULATED";

/// Secret the simulated exchange accepts unless told otherwise.
pub const SECRET_DEFAULT: &str = "simulated-secret";

/// Time between simulated orders on the trading stream, by default: often
/// enough that a program sees updates within a second.
pub const ORDER_INTERVAL_DEFAULT: Duration = Duration::from_millis(300);

/// How long [`Exchange::shutdown`] waits for connections to close.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// How to start an [`Exchange`]; [`Default`] is what [`Exchange::start`] uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExchangeOptions {
    /// Seed of the market, the order flow and the faults: 1 by default.
    pub seed: u64,
    /// TCP port on `127.0.0.1`; 0 (the default) lets the system choose.
    pub port: u16,
    /// Key id and secret of the one account: [`KEY_ID_DEFAULT`] and [`SECRET_DEFAULT`].
    pub key_pair: (String, String),
    /// Time between simulated orders: [`ORDER_INTERVAL_DEFAULT`].
    pub order_interval: Duration,
    /// Fault rates: none by default.
    pub faults: FaultPlan,
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            port: 0,
            key_pair: (KEY_ID_DEFAULT.to_owned(), SECRET_DEFAULT.to_owned()),
            order_interval: ORDER_INTERVAL_DEFAULT,
            faults: FaultPlan::default(),
        }
    }
}

impl ExchangeOptions {
    /// Draws the market, orders and faults from this seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Binds this port on `127.0.0.1` (0: the system chooses).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accepts this key pair instead of the default one.
    #[must_use]
    pub fn with_key_pair(mut self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.key_pair = (key_id.into(), secret.into());
        self
    }

    /// Injects faults at these rates.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }
}

/// A running simulated exchange: its URLs, the key pair it accepts, and its
/// model for faults.
///
/// Message timestamps are today's, as a live feed's would be. Dropping it
/// without [`shutdown`](Self::shutdown) leaves its tasks serving until the
/// tokio runtime ends.
#[derive(Debug)]
pub struct Exchange {
    server: LoopbackServer,
    key_id: String,
    secret: String,
}

impl Exchange {
    /// Starts an exchange with the [default options](ExchangeOptions::default).
    ///
    /// # Errors
    /// When no port on `127.0.0.1` can be bound.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(ExchangeOptions::default()).await
    }

    /// Starts an exchange with these options.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start_with(options: ExchangeOptions) -> io::Result<Self> {
        let (key_id, secret) = options.key_pair;
        let mut trading = TradingConfig::default();
        trading.order_interval = options.order_interval;
        let mut config = ExchangeConfig::new(options.seed)
            .with_account(Account::new(key_id.clone(), secret.clone()))
            .with_trading(trading)
            .with_faults(options.faults);
        config.wall_clock_start = Timestamp::from(SystemTime::now());
        let loopback = LoopbackConfig::new(config).with_port(options.port);
        let server = LoopbackServer::start(loopback).await?;
        Ok(Self {
            server,
            key_id,
            secret,
        })
    }

    /// The same feed served here: `Feed::Custom` with this exchange's URL
    /// for the feed's path (`Feed::Iex` → `ws://127.0.0.1:PORT/v2/iex`).
    ///
    /// The exchange serves Alpaca's stock (`Iex`, `Sip`, `DelayedSip`,
    /// `Test`), crypto, options and news feeds; other paths are refused
    /// with HTTP 404 when a stream connects.
    pub fn feed(&self, feed: &Feed) -> Feed {
        Feed::Custom(self.market_data_url(feed))
    }

    /// The URL of a feed served here, e.g. `ws://127.0.0.1:PORT/v2/iex`.
    pub fn market_data_url(&self, feed: &Feed) -> String {
        self.server.url(url_path(&feed.url()))
    }

    /// The trading stream served here, as an endpoint for
    /// [`TradingStream::builder`](crate::TradingStream::builder).
    pub fn trading_endpoint(&self) -> TradingEndpoint {
        TradingEndpoint::Custom(self.trading_url())
    }

    /// The URL of the trading stream: `ws://127.0.0.1:PORT/stream`.
    pub fn trading_url(&self) -> String {
        self.server.url("/stream")
    }

    /// The key id and secret the exchange accepts.
    pub fn key_pair(&self) -> (&str, &str) {
        (&self.key_id, &self.secret)
    }

    /// The key pair as [`Credentials`].
    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.key_id, &self.secret)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Restarts the exchange: every connection is dropped without a close
    /// frame, as when a server goes down; accounts, the market and orders
    /// survive, and new connections are accepted at once.
    pub fn restart(&self) {
        self.server.exchange().with(|model, now| model.restart(now));
    }

    /// The exchange model behind the server, for faults and inspection
    /// (`model().with(|exchange, now| …)`).
    pub fn model(&self) -> &SharedExchange {
        self.server.exchange()
    }

    /// Stops serving: closes every connection with 1001 ("going away") and
    /// waits up to 3 s for them to end.
    pub async fn shutdown(self) {
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, self.server.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the simulated exchange did not stop within 3 s");
        }
    }
}

/// The path of a URL: `wss://host/v2/iex` → `/v2/iex`.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |at| &after_scheme[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_keeps_its_path_on_the_simulated_exchange() {
        assert_eq!(url_path(&Feed::Iex.url()), "/v2/iex");
        assert_eq!(url_path(&Feed::Crypto.url()), "/v1beta3/crypto/us");
        assert_eq!(url_path("ws://127.0.0.1:9000/v2/test"), "/v2/test");
        assert_eq!(url_path("ws://127.0.0.1:9000"), "/");
    }
}
