//! What a relay connects to, for which feed, and how long leases live.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv;
use tickwire_alpaca::{Encoding, Feed};
use tickwire_core::Credentials;
use tickwire_proxy::Upstream;

/// The interest bucket's default name.
pub const DEFAULT_BUCKET: &str = "tickwire-interest";

/// How long a lease lives after its last write, by default.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// The leadership bucket's default name.
pub const DEFAULT_LEADER_BUCKET: &str = "tickwire-leader";

/// How long the leadership key lives after the leader's last renewal, by
/// default: a standby takes over at most this long after the leader died.
pub const DEFAULT_LEADER_TTL: Duration = Duration::from_secs(5);

/// Everything [`Relay::start`](crate::Relay::start) needs.
///
/// `Debug` shows no secret: [`Credentials`] redacts it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// Where the upstream stream connects (the feed's path is appended to
    /// [`Upstream::data_base`]).
    pub upstream: Upstream,
    /// The upstream account's key pair; never published, never logged.
    pub credentials: Credentials,
    /// The feed relayed.
    pub feed: Feed,
    /// The key-value bucket of leases; created (or its TTL updated) at start.
    pub bucket: String,
    /// How long a lease lives after it was last written: the bucket's
    /// `max_age`. Consumers refresh their leases well within it. Default 10 s.
    pub lease_ttl: Duration,
    /// Encoding of the upstream stream. Default MessagePack.
    pub upstream_encoding: Encoding,
    /// How long the upstream connection stays after the last lease ended.
    /// Default 5 s.
    pub upstream_idle_linger: Duration,
    /// The key-value bucket of leadership, one key per feed; created at
    /// start if absent (an existing one keeps its TTL).
    pub leader_bucket: String,
    /// How long the leadership key lives after the leader's last renewal
    /// (the bucket's `max_age`, when this relay creates it). Default 5 s.
    pub leader_ttl: Duration,
    /// This relay's id among the relays of its feed, the leadership key's
    /// value: unique per process. Default `relay-<pid>-<start time>`.
    pub relay_id: String,
}

impl RelayConfig {
    /// A relay of `feed` from `upstream` as `credentials` to the NATS server
    /// at `nats_url`, with the default bucket and TTL.
    pub fn new(
        nats_url: impl Into<String>,
        upstream: Upstream,
        credentials: Credentials,
        feed: Feed,
    ) -> Self {
        Self {
            nats_url: nats_url.into(),
            upstream,
            credentials,
            feed,
            bucket: DEFAULT_BUCKET.to_owned(),
            lease_ttl: DEFAULT_LEASE_TTL,
            upstream_encoding: Encoding::MsgPack,
            upstream_idle_linger: Duration::from_secs(5),
            leader_bucket: DEFAULT_LEADER_BUCKET.to_owned(),
            leader_ttl: DEFAULT_LEADER_TTL,
            relay_id: default_relay_id(),
        }
    }

    /// Leases living `ttl` instead.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Another lease bucket.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }

    /// Another leadership bucket, or TTL of its key.
    pub fn with_leadership(mut self, bucket: impl Into<String>, ttl: Duration) -> Self {
        self.leader_bucket = bucket.into();
        self.leader_ttl = ttl;
        self
    }

    /// Another id of this relay.
    pub fn with_relay_id(mut self, id: impl Into<String>) -> Self {
        self.relay_id = id.into();
        self
    }

    /// Another upstream linger.
    pub fn with_upstream_idle_linger(mut self, linger: Duration) -> Self {
        self.upstream_idle_linger = linger;
        self
    }
}

/// A bucket of one value per key, each expiring `ttl` after its last
/// write, the server marking each expiry so that watchers hear of it
/// (markers need nats-server 2.11).
pub(crate) fn expiring_bucket(bucket: &str, ttl: Duration) -> kv::Config {
    kv::Config {
        bucket: bucket.to_owned(),
        history: 1,
        max_age: ttl,
        limit_markers: Some(ttl.max(Duration::from_secs(1))),
        ..Default::default()
    }
}

/// `relay-<pid>-<nanoseconds since the epoch, in hex>`.
pub(crate) fn default_relay_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("relay-{}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret() {
        let config = RelayConfig::new(
            "nats://127.0.0.1:4222",
            Upstream::alpaca_paper(),
            Credentials::new("PKRELAY", "relay-secret"),
            Feed::Iex,
        );
        let debug = format!("{config:?}");
        assert!(debug.contains("PKRE"), "{debug}");
        assert!(!debug.contains("relay-secret"), "{debug}");
        assert!(config.lease_ttl <= Duration::from_secs(15));
    }
}
