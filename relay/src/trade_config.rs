//! What a trade-update relay connects to, for which account, and how long
//! JetStream keeps what it publishes.

use std::time::Duration;

use tickwire_core::Credentials;
use tickwire_ws::TradingEndpoint;

use crate::config::default_relay_id;
use crate::subject::check_account_name;
use crate::{DEFAULT_LEADER_BUCKET, DEFAULT_LEADER_TTL, RelayError};

/// The JetStream stream of trade updates, by default.
pub const DEFAULT_TRADE_STREAM: &str = "tickwire-trade-updates";

/// Everything [`TradeRelay::start`](crate::TradeRelay::start) needs.
///
/// `Debug` shows no secret: [`Credentials`] redacts it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TradeRelayConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// The account stream's endpoint.
    pub endpoint: TradingEndpoint,
    /// The account's key pair; never published, never logged.
    pub credentials: Credentials,
    /// The account's name in the subject
    /// (`tickwire.account.<account>.trade_updates`); not a credential.
    pub account: String,
    /// The REST base URL reconciliation fetches orders from; default: the
    /// endpoint's own.
    pub rest_url: Option<String>,
    /// The JetStream stream (created, or updated, at start). Default
    /// [`DEFAULT_TRADE_STREAM`].
    pub stream: String,
    /// How long JetStream remembers a message id to drop a duplicate.
    /// Default 2 minutes.
    pub duplicate_window: Duration,
    /// How long JetStream keeps an update. Default 7 days.
    pub max_age: Duration,
    /// Updates waiting for NATS at most; past it new ones are refused and
    /// reported. Default 100,000.
    pub pending_max: usize,
    /// The leadership bucket, shared with the market-data relays (the key
    /// is `trade_updates.<account>`). Default
    /// [`DEFAULT_LEADER_BUCKET`](crate::DEFAULT_LEADER_BUCKET).
    pub leader_bucket: String,
    /// How long the leadership key lives after each write, if this relay
    /// creates the bucket. Default
    /// [`DEFAULT_LEADER_TTL`](crate::DEFAULT_LEADER_TTL).
    pub leader_ttl: Duration,
    /// This relay's id in the leadership key. Default
    /// `relay-<pid>-<start time>`.
    pub relay_id: String,
}

impl TradeRelayConfig {
    /// A relay of the account at `endpoint`, as `credentials`, named
    /// `account` on the NATS server at `nats_url`.
    ///
    /// # Errors
    /// [`RelayError::Config`] if `account` cannot be one subject token.
    pub fn new(
        nats_url: impl Into<String>,
        endpoint: TradingEndpoint,
        credentials: Credentials,
        account: impl Into<String>,
    ) -> Result<Self, RelayError> {
        let account = account.into();
        check_account_name(&account).map_err(RelayError::Config)?;
        Ok(Self {
            nats_url: nats_url.into(),
            endpoint,
            credentials,
            account,
            rest_url: None,
            stream: DEFAULT_TRADE_STREAM.to_owned(),
            duplicate_window: Duration::from_secs(120),
            max_age: Duration::from_secs(7 * 24 * 3600),
            pending_max: 100_000,
            leader_bucket: DEFAULT_LEADER_BUCKET.to_owned(),
            leader_ttl: DEFAULT_LEADER_TTL,
            relay_id: default_relay_id(),
        })
    }

    /// Reconciliation fetches orders from `url` instead.
    pub fn with_rest_url(mut self, url: impl Into<String>) -> Self {
        self.rest_url = Some(url.into());
        self
    }

    /// Another JetStream stream.
    pub fn with_stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
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

    /// The account's key in the leadership bucket.
    pub(crate) fn leader_key(&self) -> String {
        format!("trade_updates.{}", self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_secret_and_account_names_are_checked() {
        let config = TradeRelayConfig::new(
            "nats://127.0.0.1:4222",
            TradingEndpoint::Paper,
            Credentials::new("PKTRADES", "trade-secret"),
            "paper",
        )
        .expect("a valid account name");
        let debug = format!("{config:?}");
        assert!(!debug.contains("trade-secret"), "{debug}");
        let refused = TradeRelayConfig::new(
            "nats://127.0.0.1:4222",
            TradingEndpoint::Paper,
            Credentials::new("PKTRADES", "trade-secret"),
            "a.b",
        )
        .expect_err("a dot splits the subject");
        assert!(refused.to_string().contains("A-Z a-z 0-9 _ -"), "{refused}");
    }
}
