//! What the relay tests share: a real nats-server, the simulated exchange,
//! a relay's configuration and waits with a bound.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tickwire_alpaca::{Channel, Feed};
use tickwire_core::Credentials;
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, LoopbackConfig, LoopbackServer, MarketConfig,
};
use tickwire_nats_server::NatsServer;
use tickwire_proxy::Upstream;
use tickwire_relay::{Relay, RelayConfig, RelayEvent, RelayRole, RelayStreams};
use tickwire_ws::{Feed as WsFeed, MarketDataStream};
use tokio::sync::broadcast;

pub const KEY: &str = "PKRELAY";
pub const SECRET: &str = "relay-secret";

/// The most any wait in these tests lasts.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A nats-server with JetStream on a free port; the test fails (saying
/// what to install) without one.
pub async fn nats_server() -> NatsServer {
    tokio::task::spawn_blocking(|| NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .await
        .expect("the thread starting nats-server panicked")
        .unwrap_or_else(|error| panic!("no nats-server for the relay tests: {error}"))
}

/// The relay of `server`'s iex feed through `nats`, leases living `ttl`.
pub fn relay_config(nats: &NatsServer, server: &LoopbackServer, ttl: Duration) -> RelayConfig {
    RelayConfig::new(
        nats.url(),
        Upstream::base(&format!("ws://{}", server.local_addr())),
        Credentials::new(KEY, SECRET),
        Feed::Iex,
    )
    .with_lease_ttl(ttl)
    .with_upstream_idle_linger(Duration::from_millis(100))
}

/// A simulated exchange quoting every stock every 10 ms.
pub async fn exchange() -> LoopbackServer {
    exchange_with(ExchangeConfig::new(11)).await
}

/// `config` with the relay's account, quoting every stock every 10 ms.
pub async fn exchange_with(config: ExchangeConfig) -> LoopbackServer {
    let mut market = MarketConfig::default();
    market.tick = Duration::from_millis(10);
    market.quote_chance = 1.0;
    let config = config
        .with_account(Account::new(KEY, SECRET))
        .with_market(market);
    LoopbackServer::start(LoopbackConfig::new(config))
        .await
        .expect("bind the exchange on 127.0.0.1")
}

/// The quote symbols each open `/v2/iex` session of the exchange holds.
pub fn upstream_quotes(server: &LoopbackServer) -> Vec<BTreeSet<String>> {
    server.exchange().with(|ex, _| {
        let ids: Vec<_> = ex.sessions().collect();
        ids.into_iter()
            .filter(|id| ex.endpoint(*id) == Some(Endpoint::Iex))
            .map(|id| {
                ex.subscriptions(id)
                    .map(|set| {
                        set.symbols(Channel::Quotes)
                            .map(|s| s.as_str().to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect()
    })
}

/// Waits until `check` holds of the exchange, polling every 20 ms.
pub async fn until_upstream(
    server: &LoopbackServer,
    what: &str,
    check: impl Fn(&[BTreeSet<String>]) -> bool,
) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !check(&upstream_quotes(server)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "timed out waiting for {what}; the exchange's iex sessions hold {:?}",
        upstream_quotes(server)
    );
}

/// Waits for a relay event `pick` accepts.
pub async fn event<T>(
    events: &mut broadcast::Receiver<RelayEvent>,
    what: &str,
    pick: impl Fn(&RelayEvent) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the relay's events ended"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A relay with a runtime of its own, so that it can die abruptly: its
/// tasks dropped, its sockets closed without a word, as when the process
/// is killed.
pub struct Doomed {
    runtime: tokio::runtime::Runtime,
    pub relay: Relay,
}

impl Doomed {
    pub async fn start(config: RelayConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the leader");
        let relay = runtime
            .spawn(Relay::start(config))
            .await
            .expect("the relay's start panicked")
            .expect("the relay starts");
        Self { runtime, relay }
    }

    /// Drops the relay, which then stops cleanly on its runtime (returned:
    /// shut it down in the background once done).
    pub fn drop_relay(self) -> tokio::runtime::Runtime {
        drop(self.relay);
        self.runtime
    }

    /// Drops every task of the relay at once: no release, no close frame.
    pub fn kill(self) {
        let Self { runtime, relay } = self;
        runtime.shutdown_background();
        drop(relay);
    }
}

/// A relay of `server` on `nats` with leases of `lease_ttl`, once it leads.
pub async fn leading_relay(
    nats: &NatsServer,
    server: &LoopbackServer,
    lease_ttl: Duration,
) -> Relay {
    let relay = Relay::start(relay_config(nats, server, lease_ttl))
        .await
        .expect("the relay starts");
    leading(&relay).await;
    relay
}

/// Waits until `relay` leads, or fails.
pub async fn leading(relay: &Relay) {
    let mut role = relay.role();
    let waited = tokio::time::timeout(PATIENCE, role.wait_for(|r| *r == RelayRole::Leading)).await;
    assert!(
        matches!(waited, Ok(Ok(_))),
        "the relay did not lead in time"
    );
}

/// A market-data stream of the iex feed over the relay, as consumer `id`.
pub fn consumer(nats: &NatsServer, id: &str) -> MarketDataStream {
    MarketDataStream::builder(WsFeed::Iex)
        .connect_timeout(Duration::from_secs(3))
        .relay(nats.url())
        .consumer_id(id)
        .build()
        .expect("a consumer stream")
}
