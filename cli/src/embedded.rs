//! The embedded simulated exchange: tickwire-mock's loopback server, started
//! in-process when no URL and no credentials were given (and by `serve`).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tickwire_core::{Credentials, Timestamp};
use tickwire_mock::{
    Account, ExchangeConfig, LoopbackConfig, LoopbackServer, MarketConfig, SharedExchange,
    TradingConfig,
};

use crate::error::CliError;

/// Key id and secret of the account the embedded exchange accepts by default.
pub(crate) const DEMO_KEY: &str = "tickwire";

/// Time between simulated orders on the trading stream: often enough to watch.
const ORDER_INTERVAL: Duration = Duration::from_millis(700);

/// How to run the embedded exchange.
#[derive(Debug, Clone, Default)]
pub(crate) struct EmbeddedOptions {
    /// TCP port on 127.0.0.1 (0: the system chooses).
    pub(crate) port: u16,
    /// Seed of the market and order flow.
    pub(crate) seed: u64,
    /// Market data messages (quotes and trades) per second per symbol.
    pub(crate) rate: Option<f64>,
    /// Accounts (key id, secret); empty: the demo account.
    pub(crate) accounts: Vec<(String, String)>,
    /// How long a vanished connection's slot stays busy; `None`: the model's default.
    pub(crate) reap_after: Option<Duration>,
}

/// A running embedded exchange.
#[derive(Debug)]
pub(crate) struct Embedded {
    server: LoopbackServer,
    credentials: Credentials,
}

impl Embedded {
    /// Starts the exchange on loopback.
    ///
    /// # Errors
    /// [`CliError::Runtime`] when the port cannot be bound.
    pub(crate) async fn start(options: EmbeddedOptions) -> Result<Self, CliError> {
        let accounts = if options.accounts.is_empty() {
            vec![(DEMO_KEY.to_owned(), DEMO_KEY.to_owned())]
        } else {
            options.accounts
        };
        let credentials = Credentials::new(&accounts[0].0, &accounts[0].1);

        let mut trading = TradingConfig::default();
        trading.order_interval = ORDER_INTERVAL;
        let mut exchange = ExchangeConfig::new(options.seed)
            .with_market(market(options.rate))
            .with_trading(trading);
        // Messages carry today's times, as a live feed's would.
        exchange.wall_clock_start = Timestamp::from(SystemTime::now());
        if let Some(reap_after) = options.reap_after {
            exchange.reap_after = reap_after;
        }
        for (key, secret) in accounts {
            exchange = exchange.with_account(Account::new(key, secret));
        }

        let server = LoopbackServer::start(LoopbackConfig::new(exchange).with_port(options.port))
            .await
            .map_err(|e| {
                CliError::runtime(format!(
                    "cannot start the simulated exchange on 127.0.0.1:{}: {e}",
                    options.port
                ))
            })?;
        Ok(Self {
            server,
            credentials,
        })
    }

    /// The URL of an endpoint path, e.g. `ws://127.0.0.1:PORT/v2/iex`.
    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The exchange behind the server (faults, counters).
    pub(crate) fn exchange(&self) -> SharedExchange {
        self.server.exchange().clone()
    }

    /// The credentials of the first account.
    pub(crate) fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    /// Stops the server, closing its connections.
    pub(crate) async fn stop(self) {
        if tokio::time::timeout(Duration::from_secs(3), self.server.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the simulated exchange did not stop within 3 s");
        }
    }
}

/// Most market ticks per second: past it, a tick carries several messages
/// per symbol, so that high rates cost batches rather than timer wake-ups
/// (a timer fires at most about every millisecond).
const TICKS_PER_SECOND_MAX: f64 = 200.0;

/// The market generator for a rate of quotes and trades per second per
/// symbol (two quotes for each trade); the default when `None`.
fn market(rate: Option<f64>) -> MarketConfig {
    let mut market = MarketConfig::default();
    if let Some(rate) = rate {
        // 1.5 messages per symbol per tick up to the most ticks a second,
        // more per tick past it; at least 10 ticks a second.
        let ticks_per_second = (rate / 1.5).clamp(10.0, TICKS_PER_SECOND_MAX);
        let per_tick = rate / ticks_per_second;
        market.tick = Duration::from_secs_f64(1.0 / ticks_per_second);
        market.quote_chance = per_tick * 2.0 / 3.0;
        market.trade_chance = per_tick / 3.0;
    }
    market
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_become_tick_and_chances() {
        let slow = market(Some(3.0));
        assert_eq!(slow.tick, Duration::from_millis(100));
        assert!((slow.quote_chance - 0.2).abs() < 1e-9);
        assert!((slow.trade_chance - 0.1).abs() < 1e-9);
        let brisk = market(Some(75.0));
        assert_eq!(brisk.tick, Duration::from_millis(20));
        assert!((brisk.quote_chance - 1.0).abs() < 1e-9);
        assert!((brisk.trade_chance - 0.5).abs() < 1e-9);
        // Past 200 ticks a second, several messages a tick: 3000/s is
        // 10 quotes and 5 trades per symbol every 5 ms.
        let fast = market(Some(3000.0));
        assert_eq!(fast.tick, Duration::from_millis(5));
        assert!((fast.quote_chance - 10.0).abs() < 1e-9);
        assert!((fast.trade_chance - 5.0).abs() < 1e-9);
    }
}
