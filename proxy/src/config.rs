//! What the proxy serves, where it connects and as whom.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tickwire_alpaca::{DATA_HOST, Encoding, Feed, LIVE_TRADING_URL, PAPER_TRADING_URL};
use tickwire_core::Credentials;

/// Where the upstream streams connect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upstream {
    /// Base of the market data URLs; a feed's path is appended
    /// (e.g. `wss://stream.data.alpaca.markets`).
    pub data_base: String,
    /// The trading stream's URL (e.g. `wss://paper-api.alpaca.markets/stream`).
    pub trading_url: String,
}

impl Upstream {
    /// One base URL for both sides, paths kept (e.g. `tickwire serve`'s
    /// `ws://127.0.0.1:PORT`): `/v2/iex` → `BASE/v2/iex`, trading → `BASE/stream`.
    pub fn base(url: &str) -> Self {
        let base = url.trim_end_matches('/');
        Self {
            data_base: base.to_owned(),
            trading_url: format!("{base}{}", tickwire_alpaca::TRADING_PATH),
        }
    }

    /// Alpaca's market data host and paper trading stream.
    pub fn alpaca_paper() -> Self {
        Self {
            data_base: DATA_HOST.to_owned(),
            trading_url: PAPER_TRADING_URL.to_owned(),
        }
    }

    /// Alpaca's market data host and live trading stream.
    pub fn alpaca_live() -> Self {
        Self {
            data_base: DATA_HOST.to_owned(),
            trading_url: LIVE_TRADING_URL.to_owned(),
        }
    }

    /// The upstream URL of a feed.
    pub fn feed_url(&self, feed: Feed) -> String {
        format!("{}{}", self.data_base.trim_end_matches('/'), feed.path())
    }
}

/// Bounds that protect the proxy from its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most downstream connections at once; further ones wait to be accepted.
    pub connections_max: usize,
    /// Frames queued for one client; past it the client gets 407 and is dropped.
    pub client_queue_frames: usize,
    /// Time allowed for a client's WebSocket upgrade.
    pub handshake_timeout: Duration,
    /// Time allowed for a client's credentials after the upgrade.
    pub auth_timeout: Duration,
    /// Largest client message; a larger one is answered with 400.
    pub message_bytes_max: usize,
    /// How long an upstream stream keeps its connection after its last
    /// client let go, in case another subscribes.
    pub upstream_idle_linger: Duration,
    /// Kernel send buffer of each client socket, in bytes; `None` leaves the
    /// system's (autotuned, up to a few MB on Linux). Smaller bounds kernel
    /// memory per client and notices a stalled client sooner.
    pub socket_send_buffer_bytes: Option<usize>,
}

impl Default for Limits {
    /// 1,024 connections, 8,192 frames per client, 10 s handshake and auth,
    /// 64 KiB messages, 5 s linger, the system's socket buffers.
    fn default() -> Self {
        Self {
            connections_max: 1024,
            client_queue_frames: 8192,
            handshake_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            message_bytes_max: 64 * 1024,
            upstream_idle_linger: Duration::from_secs(5),
            socket_send_buffer_bytes: None,
        }
    }
}

/// Everything [`Proxy::start`](crate::Proxy::start) needs.
///
/// `Debug` shows no secret: [`Credentials`] redacts them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Address to listen on (port 0: the system chooses). Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Where the upstream streams connect.
    pub upstream: Upstream,
    /// The upstream account's key pair; never sent downstream, never logged.
    pub credentials: Credentials,
    /// Key pairs downstream clients may authenticate with.
    pub client_keys: Vec<Credentials>,
    /// Encoding of the upstream market data streams (downstream clients
    /// choose theirs). Default MessagePack.
    pub upstream_encoding: Encoding,
    /// Protections.
    pub limits: Limits,
}

impl ProxyConfig {
    /// A proxy on `127.0.0.1:0` in front of `upstream`, as `credentials`,
    /// for clients holding one of `client_keys`.
    pub fn new(
        upstream: Upstream,
        credentials: Credentials,
        client_keys: Vec<Credentials>,
    ) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            upstream,
            credentials,
            client_keys,
            upstream_encoding: Encoding::MsgPack,
            limits: Limits::default(),
        }
    }

    /// Listens on `addr` instead.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether `credentials` is one of the client key pairs.
    pub(crate) fn accepts(&self, credentials: &Credentials) -> bool {
        self.client_keys
            .iter()
            .any(|k| k.key_id() == credentials.key_id() && k.secret() == credentials.secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let config = ProxyConfig::new(
            Upstream::alpaca_paper(),
            Credentials::new("PKUPSTREAM", "upstream-secret"),
            vec![Credentials::new("client", "client-secret")],
        );
        let debug = format!("{config:?}");
        assert!(debug.contains("PKUP"), "{debug}");
        assert!(
            !debug.contains("upstream-secret") && !debug.contains("client-secret"),
            "{debug}"
        );
    }

    #[test]
    fn client_keys_must_match_exactly() {
        let config = ProxyConfig::new(
            Upstream::base("ws://127.0.0.1:1/"),
            Credentials::new("k", "s"),
            vec![Credentials::new("client", "secret")],
        );
        assert!(config.accepts(&Credentials::new("client", "secret")));
        assert!(!config.accepts(&Credentials::new("client", "secre")));
        assert!(
            !config.accepts(&Credentials::new("k", "s")),
            "the upstream pair is not a client pair"
        );
        assert_eq!(
            config.upstream.feed_url(Feed::Iex),
            "ws://127.0.0.1:1/v2/iex"
        );
        assert_eq!(config.upstream.trading_url, "ws://127.0.0.1:1/stream");
    }
}
