//! What the proxy is doing, for status lines.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tickwire_alpaca::Feed;

/// One endpoint's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStatus {
    /// The path, e.g. `/v2/iex` or `/stream`.
    pub path: &'static str,
    /// Clients connected to it.
    pub clients: usize,
    /// (channel, symbol) pairs held by at least one client (market data).
    pub symbols: usize,
    /// The upstream stream's state (`idle`, `connecting`, `live`…).
    pub upstream: &'static str,
}

/// A snapshot of the proxy, from [`Proxy::status`](crate::Proxy::status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStatus {
    /// Downstream connections open (authenticated or not).
    pub connections: u64,
    /// Clients dropped for being too slow, since the start.
    pub slow_clients_dropped: u64,
    /// Each endpoint that had clients, by path.
    pub endpoints: Vec<EndpointStatus>,
}

/// Shared figures the tasks update on changes (never per message).
#[derive(Debug, Default)]
pub(crate) struct StatusBoard {
    pub(crate) connections: AtomicU64,
    pub(crate) slow_dropped: AtomicU64,
    endpoints: Mutex<BTreeMap<&'static str, EndpointStatus>>,
}

impl StatusBoard {
    pub(crate) fn set_feed(
        &self,
        feed: Feed,
        clients: usize,
        symbols: usize,
        upstream: &'static str,
    ) {
        self.set(EndpointStatus {
            path: feed.path(),
            clients,
            symbols,
            upstream,
        });
    }

    pub(crate) fn set(&self, status: EndpointStatus) {
        self.endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(status.path, status);
    }

    pub(crate) fn snapshot(&self) -> ProxyStatus {
        ProxyStatus {
            connections: self.connections.load(Ordering::Relaxed),
            slow_clients_dropped: self.slow_dropped.load(Ordering::Relaxed),
            endpoints: self
                .endpoints
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect(),
        }
    }
}
