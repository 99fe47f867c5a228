//! Where `watch`, `record` and `trades` connect: a remote endpoint, or the
//! embedded simulated exchange started for the occasion.

use std::future::Future;

use futures::Stream;
use tickwire_alpaca::Encoding;
use tickwire_alpaca::MarketData;
use tickwire_core::Credentials;
use tickwire_relay::RelayStreams;
use tickwire_ws::{Events, Feed, MarketDataStream, StreamEvent, StreamHandle};

use crate::embedded::Embedded;
use crate::error::CliError;
use crate::follow::{Sink, Stop, follow};
use crate::target::{Limits, Target, WatchPlan, WireEncoding};

/// Events a market data stream queues for the command: one frame's worth
/// at most (`MESSAGES_PER_FRAME_MAX`). Printing or recording keeps up with
/// any real feed; more would only hold memory while a flood is printed.
const QUEUE_EVENTS: usize = tickwire_core::protocol::MESSAGES_PER_FRAME_MAX;

/// An endpoint and the key pair for it, with the embedded exchange when it
/// is the one serving them.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The exchange started for this command, if any.
    embedded: Option<Embedded>,
    /// The endpoint URL.
    pub(crate) url: String,
    /// The key pair to authenticate with.
    pub(crate) credentials: Credentials,
    /// The NATS server whose relays serve the feed, instead of `url`.
    relay: Option<String>,
}

/// What `open` tells the user of a market command (`doing`: `watching`,
/// `recording`) that runs on the embedded exchange at the URL it is given.
pub(crate) fn simulated_market_notice(doing: &str) -> impl FnOnce(&str) -> String + '_ {
    move |url| {
        format!(
            "no --url and no credentials: {doing} the embedded simulated exchange at {url} \
             (simulated prices, not real quotes; set APCA_API_KEY_ID and APCA_API_SECRET_KEY for Alpaca)"
        )
    }
}

impl Connection {
    /// Starts the embedded exchange when `target` names it, and tells the
    /// user so with `notice(url)`.
    ///
    /// # Errors
    /// [`CliError::Runtime`] when the embedded exchange cannot start.
    pub(crate) async fn open(
        target: Target,
        notice: impl FnOnce(&str) -> String,
    ) -> Result<Self, CliError> {
        match target {
            Target::Embedded { path } => {
                let embedded = Embedded::start(Default::default()).await?;
                let url = embedded.url(path);
                crate::notice(&notice(&url));
                Ok(Self {
                    credentials: embedded.credentials(),
                    embedded: Some(embedded),
                    url,
                    relay: None,
                })
            }
            Target::Relay { nats, feed_url } => {
                crate::notice(&format!(
                    "taking the feed from the relays on NATS at {nats} (no credentials needed)"
                ));
                Ok(Self {
                    embedded: None,
                    url: feed_url,
                    // The relay's consumer sends them to nobody.
                    credentials: Credentials::new("relay", "relay"),
                    relay: Some(nats),
                })
            }
            Target::Remote { url, credentials } => Ok(Self {
                embedded: None,
                url,
                credentials,
                relay: None,
            }),
        }
    }

    /// The market data stream `plan` describes, on this connection, with a
    /// task per channel subscribing the plan's symbols in the background:
    /// verdicts and failures arrive as events while the caller follows them.
    ///
    /// # Errors
    /// [`CliError::Usage`] when the stream cannot be built (e.g. plain
    /// `ws://` to another machine).
    pub(crate) fn market_stream(
        &self,
        plan: &WatchPlan,
        name: &str,
    ) -> Result<(StreamHandle, Events<MarketData>), CliError> {
        let stream = MarketDataStream::builder(Feed::Custom(self.url.clone()))
            .credentials(self.credentials.clone())
            .encoding(match plan.encoding {
                WireEncoding::Json => Encoding::Json,
                WireEncoding::MsgPack => Encoding::MsgPack,
            })
            .data_silence_timeout(plan.stale_after)
            .backfill(plan.backfill)
            .slow_consumer(plan.stream.slow_consumer)
            .name(name)
            .allow_insecure(self.is_embedded())
            .tls_trust(plan.stream.tls.clone())
            .connect_attempts_max(plan.stream.connect_attempts_max)
            .queue_capacity(QUEUE_EVENTS);
        let stream = match &self.relay {
            Some(nats) => stream.relay(nats.clone()).build(),
            None => stream.build(),
        }
        .map_err(|e| CliError::stream_build(&e))?;
        let (handle, events) = stream.into_parts();
        for channel in plan.channels.iter().copied() {
            let handle = handle.clone();
            let symbols = plan.symbols.clone();
            tokio::spawn(async move {
                if let Err(error) = handle.subscribe(channel, symbols).await {
                    tracing::debug!(%channel, "subscribe ended: {error}");
                }
            });
        }
        Ok((handle, events))
    }

    /// Whether the endpoint is the embedded exchange (plain `ws://` on loopback).
    pub(crate) fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Hands `events` to `sink` (see [`follow`]) until a limit or `quit`,
    /// then stops the embedded exchange.
    ///
    /// # Errors
    /// As for [`follow`].
    pub(crate) async fn follow<T, S, K>(
        self,
        handle: &StreamHandle,
        events: &mut S,
        sink: &mut K,
        limits: Limits,
        quit: impl Future<Output = ()>,
    ) -> Result<Stop, CliError>
    where
        S: Stream<Item = StreamEvent<T>> + Unpin,
        K: Sink<T>,
    {
        let stop = follow(handle, events, sink, limits, &self.url, quit).await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
        stop
    }
}
