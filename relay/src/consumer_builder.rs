//! `MarketDataStream::builder(feed).relay(nats_url)`: the stream API, over
//! a relay instead of Alpaca's socket.

use tickwire_alpaca::Encoding;
use tickwire_core::Credentials;
use tickwire_ws::{Error, MarketDataBuilder, MarketDataStream, snapshot_channel};

use crate::{ConsumerConfig, RelayTransport};

/// Adds [`relay`](Self::relay) to a market-data stream's builder.
pub trait RelayStreams {
    /// The same stream, through the relays of its feed on the NATS server
    /// at `nats_url` instead of a connection of its own: `subscribe`
    /// resolves with the relay upstream's verdict, data comes from the
    /// relay's subjects, and a relay takeover is a gap then a resume.
    ///
    /// ```no_run
    /// use tickwire_relay::RelayStreams;
    /// use tickwire_ws::{Channel, Feed, MarketDataStream};
    ///
    /// # #[tokio::main] async fn main() -> Result<(), tickwire_ws::Error> {
    /// let stream = MarketDataStream::builder(Feed::Iex)
    ///     .relay("nats://127.0.0.1:4222")
    ///     .build()?;
    /// stream.subscribe(Channel::Quotes, ["AAPL"]).await?;
    /// # Ok(()) }
    /// ```
    fn relay(self, nats_url: impl Into<String>) -> RelayStreamBuilder;
}

impl RelayStreams for MarketDataBuilder {
    fn relay(self, nats_url: impl Into<String>) -> RelayStreamBuilder {
        RelayStreamBuilder {
            nats_url: nats_url.into(),
            consumer_id: None,
            buckets: None,
            snapshots: true,
            builder: self,
        }
    }
}

/// Builds a [`MarketDataStream`] over a relay: the stream's own settings
/// (timeouts, backoff, queue…), given before [`relay`](RelayStreams::relay),
/// apply; MessagePack is used; credentials are not needed (the relay holds
/// the account's) and any given are replaced, so leave
/// [`backfill`](tickwire_ws::StreamBuilder::backfill) off (it would ask
/// the REST API without them). Until a relay leads the feed, connection
/// attempts fail and count towards
/// [`connect_attempts_max`](tickwire_ws::StreamBuilder::connect_attempts_max).
#[derive(Debug)]
#[must_use]
pub struct RelayStreamBuilder {
    builder: MarketDataBuilder,
    nats_url: String,
    consumer_id: Option<String>,
    buckets: Option<(String, String)>,
    snapshots: bool,
}

impl RelayStreamBuilder {
    /// The consumer's id in its lease keys (see [`ConsumerConfig::consumer_id`]).
    pub fn consumer_id(mut self, id: impl Into<String>) -> Self {
        self.consumer_id = Some(id.into());
        self
    }

    /// The lease and leadership buckets the relays use, if not the defaults.
    pub fn buckets(mut self, bucket: impl Into<String>, leader_bucket: impl Into<String>) -> Self {
        self.buckets = Some((bucket.into(), leader_bucket.into()));
        self
    }

    /// Whether acknowledged `quotes` subscriptions bring their symbols'
    /// latest quotes as snapshots (see [`build`](Self::build)); on by
    /// default. Off, the stream asks the relay for none and its events
    /// pass no snapshot step.
    pub fn snapshots(mut self, on: bool) -> Self {
        self.snapshots = on;
        self
    }

    /// The consumer configuration this builder makes.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the feed is a custom URL whose path names
    /// none of Alpaca's feeds (the relays' subjects are named by feed).
    pub fn consumer_config(&self) -> Result<ConsumerConfig, Error> {
        let endpoint = self.builder.endpoint();
        let feed = endpoint.alpaca().ok_or_else(|| Error::InvalidUrl {
            url: endpoint.url(),
            reason: "a relay consumer needs one of Alpaca's feeds (its path names none)".to_owned(),
        })?;
        let mut config = ConsumerConfig::new(self.nats_url.clone(), feed);
        if let Some(id) = &self.consumer_id {
            config = config.with_consumer_id(id.clone());
        }
        if let Some((bucket, leader_bucket)) = &self.buckets {
            config = config.with_buckets(bucket.clone(), leader_bucket.clone());
        }
        Ok(config)
    }

    /// Creates the stream; it connects on its first subscribe. Each
    /// acknowledged `quotes` subscription brings its symbols' latest
    /// quotes from the leading relay as
    /// [`StreamEvent::Snapshot`](tickwire_ws::StreamEvent::Snapshot), before
    /// any live quote of the symbol delivered after them (see
    /// [`crate::snapshot`]), unless [`snapshots`](Self::snapshots) is off.
    ///
    /// # Errors
    /// As [`consumer_config`](Self::consumer_config), or as
    /// [`StreamBuilder::build`](tickwire_ws::StreamBuilder::build).
    pub fn build(self) -> Result<MarketDataStream, Error> {
        let config = self.consumer_config()?;
        let builder = self
            .builder
            // Sent to the transport only, which answers it itself.
            .credentials(Credentials::new("relay", "relay"))
            .encoding(Encoding::MsgPack);
        if !self.snapshots {
            return builder.build_with_transport(RelayTransport::new(config));
        }
        let (snapshots, source) = snapshot_channel();
        builder.build_with_transport_and_snapshots(
            RelayTransport::new(config).with_snapshots(snapshots),
            source,
        )
    }
}
