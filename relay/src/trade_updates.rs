//! Reading an account's trade updates from the relay's JetStream stream,
//! as the same [`StreamEvent`]s a direct [`TradingStream`] gives.
//!
//! [`TradingStream`]: tickwire_ws::TradingStream

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use tickwire_alpaca::TradeUpdate;
use tickwire_core::machine::{Event, StreamError};
use tickwire_ws::StreamEvent;

use crate::trade_publish::SOURCE_HEADER;
use crate::{DEFAULT_TRADE_STREAM, RelayError, subject};

/// Where a [`TradeUpdates`] starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeUpdatesStart {
    /// Everything the stream still keeps.
    All,
    /// Only what is published from now on.
    New,
    /// After the message with this stream sequence (the last one the
    /// application handled: [`RelayedTradeUpdate::sequence`]), so that a
    /// consumer that stops and starts again misses nothing and sees nothing
    /// twice.
    After(u64),
}

/// One message read from the relay.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedTradeUpdate {
    /// Its stream sequence: store it with what the application did with the
    /// update, and start again [`After`](TradeUpdatesStart::After) it.
    pub sequence: u64,
    /// The update: [`Event::Data`] inside [`StreamEvent::Machine`] if the
    /// relay's stream delivered it live, [`StreamEvent::Recovered`] if its
    /// reconciliation did; a non-fatal [`Event::Error`] if the message is
    /// not a trade update (it is skipped, and reading goes on).
    pub event: StreamEvent<TradeUpdate>,
}

/// An account's trade updates, read from the JetStream stream a
/// [`TradeRelay`](crate::TradeRelay) publishes to, in order, each once.
///
/// ```no_run
/// use tickwire_relay::{TradeUpdates, TradeUpdatesStart};
///
/// # #[tokio::main] async fn main() -> Result<(), tickwire_relay::RelayError> {
/// let mut updates =
///     TradeUpdates::subscribe("nats://127.0.0.1:4222", "paper", TradeUpdatesStart::All).await?;
/// while let Some(relayed) = updates.next().await {
///     println!("{} {:?}", relayed.sequence, relayed.event.data().map(|u| &u.event));
/// }
/// # Ok(())
/// # }
/// ```
pub struct TradeUpdates {
    messages: consumer::pull::Ordered,
    subject: String,
}

impl std::fmt::Debug for TradeUpdates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradeUpdates")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl TradeUpdates {
    /// Reads `account`'s updates from the default stream
    /// ([`DEFAULT_TRADE_STREAM`]) on the NATS server at `nats_url`.
    ///
    /// # Errors
    /// NATS unreachable, an invalid account name, or no such stream (no
    /// relay of trade updates ever ran on this server).
    pub async fn subscribe(
        nats_url: &str,
        account: &str,
        start: TradeUpdatesStart,
    ) -> Result<Self, RelayError> {
        Self::subscribe_to(nats_url, DEFAULT_TRADE_STREAM, account, start).await
    }

    /// As [`subscribe`](Self::subscribe), from the stream named `stream`.
    ///
    /// # Errors
    /// As for [`subscribe`](Self::subscribe).
    pub async fn subscribe_to(
        nats_url: &str,
        stream: &str,
        account: &str,
        start: TradeUpdatesStart,
    ) -> Result<Self, RelayError> {
        subject::check_account_name(account).map_err(RelayError::Config)?;
        let client = async_nats::connect(nats_url)
            .await
            .map_err(|e| RelayError::Connect {
                url: nats_url.to_owned(),
                message: e.to_string(),
            })?;
        let stream_error = |message: String| RelayError::Stream {
            stream: stream.to_owned(),
            message,
        };
        let js_stream = jetstream::new(client)
            .get_stream(stream)
            .await
            .map_err(|e| {
                stream_error(format!(
                    "{e} (is a trade-update relay running against this NATS server?)"
                ))
            })?;
        let subject = subject::trade_updates_subject(account);
        let deliver_policy = match start {
            TradeUpdatesStart::All => consumer::DeliverPolicy::All,
            TradeUpdatesStart::New => consumer::DeliverPolicy::New,
            TradeUpdatesStart::After(sequence) => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: sequence.saturating_add(1),
            },
        };
        let messages = js_stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subject.clone(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| stream_error(e.to_string()))?
            .messages()
            .await
            .map_err(|e| stream_error(e.to_string()))?;
        Ok(Self { messages, subject })
    }

    /// The next update; `None` when the connection to NATS ended for good.
    /// A transient failure of the consumer comes as a non-fatal error event
    /// (the ordered consumer recreates itself and goes on where it was).
    pub async fn next(&mut self) -> Option<RelayedTradeUpdate> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(error) => {
                return Some(RelayedTradeUpdate {
                    sequence: 0,
                    event: error_event(format!("reading {}: {error}", self.subject)),
                });
            }
        };
        let sequence = message.info().map_or(0, |info| info.stream_sequence);
        let reconciled = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(SOURCE_HEADER))
            .is_some_and(|source| source.as_str() == "reconciled");
        let event = match serde_json::from_slice::<TradeUpdate>(&message.payload) {
            Ok(update) if reconciled => StreamEvent::Recovered(update),
            Ok(update) => StreamEvent::Machine(Event::Data(update)),
            Err(error) => error_event(format!(
                "message {sequence} on {} is not a trade update ({error}); skipped",
                self.subject
            )),
        };
        Some(RelayedTradeUpdate { sequence, event })
    }
}

fn error_event(message: String) -> StreamEvent<TradeUpdate> {
    tracing::warn!(%message, "trade updates from the relay");
    StreamEvent::Machine(Event::Error {
        error: StreamError::Protocol(message),
        fatal: false,
    })
}
