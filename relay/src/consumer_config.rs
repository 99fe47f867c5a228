//! Where a relay consumer finds the relay of its feed, and under which id.

use std::time::{SystemTime, UNIX_EPOCH};

use tickwire_alpaca::Feed;

use crate::{DEFAULT_BUCKET, DEFAULT_LEADER_BUCKET};

/// Everything a [`RelayTransport`](crate::RelayTransport) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// The feed, as the relays of it name it.
    pub feed: Feed,
    /// This consumer's id in its lease keys and control subject: unique
    /// per stream, 1 to 64 bytes of `A–Z a–z 0–9 _ - = /`. Default
    /// `consumer-<pid>-<start time>`.
    pub consumer_id: String,
    /// The lease bucket the relay watches. Default [`DEFAULT_BUCKET`].
    pub bucket: String,
    /// The leadership bucket of the relays. Default [`DEFAULT_LEADER_BUCKET`].
    pub leader_bucket: String,
}

impl ConsumerConfig {
    /// A consumer of `feed` through the relays on the NATS server at
    /// `nats_url`, with the default buckets and a fresh id.
    pub fn new(nats_url: impl Into<String>, feed: Feed) -> Self {
        Self {
            nats_url: nats_url.into(),
            feed,
            consumer_id: default_consumer_id(),
            bucket: DEFAULT_BUCKET.to_owned(),
            leader_bucket: DEFAULT_LEADER_BUCKET.to_owned(),
        }
    }

    /// Another consumer id.
    pub fn with_consumer_id(mut self, id: impl Into<String>) -> Self {
        self.consumer_id = id.into();
        self
    }

    /// Other lease and leadership buckets (those the relays were given).
    pub fn with_buckets(
        mut self,
        bucket: impl Into<String>,
        leader_bucket: impl Into<String>,
    ) -> Self {
        self.bucket = bucket.into();
        self.leader_bucket = leader_bucket.into();
        self
    }
}

/// `consumer-<pid>-<nanoseconds since the epoch, in hex>`.
fn default_consumer_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("consumer-{}-{nanos:x}", std::process::id())
}
