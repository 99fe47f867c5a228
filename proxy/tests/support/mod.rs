//! An exchange, a proxy in front of it, and clients of the proxy.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use tickwire_core::Credentials;
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, LoopbackConfig, LoopbackServer, MarketConfig, SessionId,
    TradingConfig,
};
use tickwire_proxy::{Limits, Proxy, ProxyConfig, Upstream};
use tickwire_ws::{
    Encoding, Event, Feed, MarketData, MarketDataStream, StreamEvent, TradeUpdate, TradingEndpoint,
    TradingStream,
};

/// The exchange's account.
pub const UPSTREAM_KEY: &str = "PKUPSTREAM";
pub const UPSTREAM_SECRET: &str = "upstream-secret-never-downstream";
/// A client key pair of the proxy.
pub const CLIENT_KEY: &str = "strategy";
pub const CLIENT_SECRET: &str = "local-secret";

/// The most any wait in these tests lasts.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A fast simulated exchange: a quote for every stock every 10 ms.
pub async fn exchange() -> LoopbackServer {
    exchange_ticking(Duration::from_millis(10)).await
}

/// A simulated exchange with a quote for every stock every `tick`.
pub async fn exchange_ticking(tick: Duration) -> LoopbackServer {
    let mut market = MarketConfig::default();
    market.tick = tick;
    market.quote_chance = 1.0;
    let mut trading = TradingConfig::default();
    trading.order_interval = Duration::from_millis(100);
    let config = ExchangeConfig::new(5)
        .with_account(Account::new(UPSTREAM_KEY, UPSTREAM_SECRET))
        .with_market(market)
        .with_trading(trading);
    LoopbackServer::start(LoopbackConfig::new(config))
        .await
        .expect("bind the exchange on 127.0.0.1")
}

/// A proxy in front of `server` with `limits`.
pub async fn proxy(server: &LoopbackServer, limits: Limits) -> Proxy {
    proxy_as(server, limits, UPSTREAM_KEY, UPSTREAM_SECRET).await
}

/// A proxy in front of `server` authenticating upstream with `key`/`secret`.
pub async fn proxy_as(server: &LoopbackServer, limits: Limits, key: &str, secret: &str) -> Proxy {
    let config = ProxyConfig::new(
        Upstream::base(&format!("ws://{}", server.local_addr())),
        Credentials::new(key, secret),
        vec![Credentials::new(CLIENT_KEY, CLIENT_SECRET)],
    )
    .with_limits(limits);
    Proxy::start(config).await.expect("bind the proxy")
}

/// An [`exchange`] and a [`proxy`] in front of it, with [`quick_limits`]
/// adjusted by `adjust`.
pub async fn exchange_and_proxy(adjust: impl FnOnce(&mut Limits)) -> (LoopbackServer, Proxy) {
    let server = exchange().await;
    let mut limits = quick_limits();
    adjust(&mut limits);
    let proxy = proxy(&server, limits).await;
    (server, proxy)
}

/// Stops the proxy, then the exchange.
pub async fn shut_down(proxy: Proxy, server: LoopbackServer) {
    proxy.shutdown().await;
    server.shutdown().await;
}

/// Limits with a short upstream linger, so that idling shows quickly.
pub fn quick_limits() -> Limits {
    let mut limits = Limits::default();
    limits.upstream_idle_linger = Duration::from_millis(100);
    limits
}

/// A tickwire market data client of the proxy's `/v2/iex`.
pub fn market_client(proxy: &Proxy, encoding: Encoding) -> MarketDataStream {
    MarketDataStream::builder(Feed::Custom(proxy.url("/v2/iex")))
        .key_pair(CLIENT_KEY, CLIENT_SECRET)
        .encoding(encoding)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .expect("a client of the proxy")
}

/// A tickwire trading client of the proxy's `/stream`.
pub fn trading_client(proxy: &Proxy, encoding: Encoding) -> TradingStream {
    TradingStream::builder(TradingEndpoint::Custom(proxy.url("/stream")))
        .key_pair(CLIENT_KEY, CLIENT_SECRET)
        .encoding(encoding)
        .build()
        .expect("a trading client of the proxy")
}

/// Sessions the exchange has open, by endpoint.
pub fn sessions(server: &LoopbackServer) -> BTreeMap<String, Vec<SessionId>> {
    server.exchange().with(|ex, _| {
        let mut by_endpoint: BTreeMap<String, Vec<SessionId>> = BTreeMap::new();
        let ids: Vec<SessionId> = ex.sessions().collect();
        for id in ids {
            let endpoint = ex
                .endpoint(id)
                .map_or("?".to_owned(), |e: Endpoint| format!("{e:?}"));
            by_endpoint.entry(endpoint).or_default().push(id);
        }
        by_endpoint
    })
}

/// What a client saw while reading.
#[derive(Debug, Default)]
pub struct Seen {
    /// Quotes per symbol.
    pub quotes: BTreeMap<String, usize>,
    /// Gaps (connection lost) seen by the client.
    pub gaps: usize,
    /// Errors (code, fatal).
    pub errors: Vec<(Option<u16>, bool)>,
    /// Whether the stream ended.
    pub ended: bool,
}

/// Reads `stream` until `done(seen)` or `PATIENCE`; panics on timeout.
pub async fn read_until(
    stream: &mut MarketDataStream,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !done(seen) {
            let Some(event) = stream.next().await else {
                seen.ended = true;
                return;
            };
            note(seen, event);
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}; saw {seen:?}");
}

/// Reads whatever arrives for `period`.
pub async fn read_for(stream: &mut MarketDataStream, seen: &mut Seen, period: Duration) {
    let _ = tokio::time::timeout(period, async {
        while let Some(event) = stream.next().await {
            note(seen, event);
        }
        seen.ended = true;
    })
    .await;
}

fn note(seen: &mut Seen, event: StreamEvent<MarketData>) {
    match event {
        StreamEvent::Machine(Event::Data(MarketData::Quote(q))) => {
            *seen.quotes.entry(q.symbol.as_str().to_owned()).or_default() += 1;
        }
        StreamEvent::Machine(Event::Gap { .. }) => seen.gaps += 1,
        StreamEvent::Machine(Event::Error { error, fatal }) => {
            seen.errors.push((error.code(), fatal))
        }
        _ => {}
    }
}

/// Reads `count` trade updates from `stream`: (order id, event) in order.
pub async fn trade_updates(stream: &mut TradingStream, count: usize) -> Vec<(String, String)> {
    let mut updates = Vec::new();
    let waited = tokio::time::timeout(PATIENCE, async {
        while updates.len() < count {
            match stream.next().await {
                Some(StreamEvent::Machine(Event::Data(update))) => {
                    let update: TradeUpdate = update;
                    updates.push((update.order.id.to_string(), format!("{:?}", update.event)));
                }
                Some(_) => {}
                None => return,
            }
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "timed out after {} of {count} trade updates",
        updates.len()
    );
    updates
}
