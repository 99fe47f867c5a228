//! The trade-update relay's task: the account's [`TradingStream`] in, a
//! JetStream stream out, [`TradeOutbox`] deciding what is published when.
//!
//! At start it reads the tail of its subject in the stream: the last
//! update's time is where the trading stream's reconciliation starts
//! ([`reconcile_since`](tickwire_ws::StreamBuilder::reconcile_since)), and
//! the tail's message ids are seeded into the outbox. So a relay started
//! after another one stopped (crashed, or killed) publishes every order
//! state that changed in between, and none the other one had published.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use futures::StreamExt;
use tickwire_alpaca::TradeUpdate;
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, State};
use tickwire_ws::{StreamEvent, TradingStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::relay::sleep_until;
use crate::trade_outbox::{KNOWN_IDS_DEFAULT, Pushed, TradeOutbox};
use crate::{RelayError, RelayEvent, TradeRelayConfig, subject};

/// Events kept for a slow watcher of [`TradeRelay::events`].
const EVENTS_CAPACITY: usize = 1024;

/// Messages of the stream's tail whose ids are seeded at start.
const TAIL_SEEDED_MAX: u64 = 256;

/// The header naming where an update came from: `live` or `reconciled`.
pub const SOURCE_HEADER: &str = "Tickwire-Source";

/// A running relay of one account's trade updates into JetStream.
///
/// ```no_run
/// use tickwire_core::Credentials;
/// use tickwire_relay::{TradeRelay, TradeRelayConfig};
/// use tickwire_ws::TradingEndpoint;
///
/// # #[tokio::main] async fn main() -> Result<(), tickwire_relay::RelayError> {
/// let config = TradeRelayConfig::new(
///     "nats://127.0.0.1:4222",
///     TradingEndpoint::Paper,
///     Credentials::new("PK…", "…"),
///     "paper",
/// )?;
/// let relay = TradeRelay::start(config).await?;
/// // … consumers read `tickwire.account.paper.trade_updates`
/// relay.shutdown().await
/// # }
/// ```
#[derive(Debug)]
pub struct TradeRelay {
    events: broadcast::Sender<RelayEvent>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), RelayError>>>,
}

impl TradeRelay {
    /// Connects to NATS, creates the JetStream stream (or updates it),
    /// reads the tail of the account's subject, and starts the trading
    /// stream, reconciling from the last update published.
    ///
    /// # Errors
    /// NATS unreachable, the stream cannot be created or read, or the
    /// trading stream cannot be built.
    pub async fn start(config: TradeRelayConfig) -> Result<Self, RelayError> {
        let client =
            async_nats::connect(&config.nats_url)
                .await
                .map_err(|e| RelayError::Connect {
                    url: config.nats_url.clone(),
                    message: e.to_string(),
                })?;
        let stream_error = |e: &dyn std::fmt::Display| RelayError::Stream {
            stream: config.stream.clone(),
            message: e.to_string(),
        };
        let jetstream = jetstream::new(client);
        jetstream
            .create_or_update_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![subject::trade_updates_subject("*")],
                duplicate_window: config.duplicate_window,
                max_age: config.max_age,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| stream_error(&e))?;
        let js_stream = jetstream
            .get_stream(&config.stream)
            .await
            .map_err(|e| stream_error(&e))?;
        let subject = subject::trade_updates_subject(&config.account);
        let tail = read_tail(&js_stream, &subject)
            .await
            .map_err(|e| stream_error(&e))?;

        let mut outbox = TradeOutbox::new(config.pending_max, KNOWN_IDS_DEFAULT);
        outbox.seed(tail.ids);
        let mut builder = TradingStream::builder(config.endpoint.clone())
            .credentials(config.credentials.clone())
            .name(format!("trade relay {}", config.account))
            .reconcile(true);
        if let Some(rest_url) = &config.rest_url {
            builder = builder.rest_url(rest_url.clone());
        }
        if let Some(since) = tail.last_update_at {
            builder = builder.reconcile_since(since);
        }
        let trading = builder
            .build()
            .map_err(|e| RelayError::Upstream(e.to_string()))?;

        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let (shutdown, stop) = watch::channel(false);
        tracing::info!(
            account = %config.account,
            stream = %config.stream,
            resumes_from = ?tail.last_update_at,
            seeded = outbox.pending(),
            "trade relay started"
        );
        let task = PublishTask {
            jetstream,
            subject,
            outbox,
            events: events.clone(),
            reported_refused: 0,
        };
        Ok(Self {
            events,
            shutdown,
            task: Some(tokio::spawn(task.run(trading, stop))),
        })
    }

    /// What the relay notices from now on.
    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    /// Stops: the trading stream closes, and what waits to be published is
    /// published first if NATS takes it within a few seconds.
    ///
    /// # Errors
    /// The task ended abnormally.
    pub async fn shutdown(mut self) -> Result<(), RelayError> {
        let _ = self.shutdown.send(true);
        match self.task.take() {
            Some(task) => task.await.map_err(|e| RelayError::Task(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for TradeRelay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// What the stream's tail says.
struct Tail {
    /// The time of the last update published on the subject.
    last_update_at: Option<Timestamp>,
    /// The message ids of the last messages on the subject.
    ids: Vec<String>,
}

/// Reads the last [`TAIL_SEEDED_MAX`] stream messages' ids on `subject`,
/// and the time of its last update.
async fn read_tail(stream: &stream::Stream, subject: &str) -> Result<Tail, String> {
    use jetstream::stream::LastRawMessageErrorKind as Kind;
    let last = match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => message,
        Err(e) if e.kind() == Kind::NoMessageFound => {
            return Ok(Tail {
                last_update_at: None,
                ids: Vec::new(),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let last_update_at = match serde_json::from_slice::<TradeUpdate>(&last.payload) {
        Ok(update) => Some(update.timestamp.unwrap_or(update.order.updated_at)),
        Err(error) => {
            tracing::warn!(%error, sequence = last.sequence, "the last trade update is malformed; reconciling from the stream's start");
            None
        }
    };
    let mut ids = Vec::new();
    let mut sequence = last.sequence.saturating_sub(TAIL_SEEDED_MAX - 1).max(1);
    while sequence <= last.sequence {
        let message = stream
            .get_first_raw_message_by_subject(subject, sequence)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(id) = message.headers.get(async_nats::header::NATS_MESSAGE_ID) {
            ids.push(id.to_string());
        }
        sequence = message.sequence + 1;
    }
    Ok(Tail {
        last_update_at,
        ids,
    })
}

/// The publishing loop.
struct PublishTask {
    jetstream: jetstream::Context,
    subject: String,
    outbox: TradeOutbox,
    events: broadcast::Sender<RelayEvent>,
    reported_refused: u64,
}

impl PublishTask {
    async fn run(
        mut self,
        mut trading: TradingStream,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        loop {
            self.publish_due().await;
            let retry = self.outbox.due_at();
            tokio::select! {
                _ = stop.changed() => break,
                event = trading.next() => match event {
                    Some(event) => self.handle_event(event)?,
                    None => break,
                },
                () = sleep_until(retry) => {}
            }
        }
        let _ = trading.shutdown().await;
        // What waits is published if NATS takes it soon.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.outbox.pending() > 0 && Instant::now() < deadline {
            self.publish_due().await;
            sleep_until(self.outbox.due_at().map(|at| at.min(deadline))).await;
        }
        Ok(())
    }

    fn handle_event(&mut self, event: StreamEvent<TradeUpdate>) -> Result<(), RelayError> {
        let (update, reconciled) = match event {
            StreamEvent::Machine(Event::Data(update)) => (update, false),
            StreamEvent::Recovered(update) => (update, true),
            StreamEvent::RecoveryFailed { reason } => {
                tracing::warn!(%reason, "reconciliation failed: order states may be missing");
                let _ = self.events.send(RelayEvent::RecoveryFailed { reason });
                return Ok(());
            }
            StreamEvent::Machine(Event::StateChanged(state)) => {
                tracing::info!(state = state.name(), "trading stream state");
                let _ = self.events.send(RelayEvent::UpstreamState(state.name()));
                if let State::Failed { error } = &state {
                    return Err(RelayError::UpstreamFailed(error.to_string()));
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        match self.outbox.push(update, reconciled) {
            Pushed::Queued | Pushed::Duplicate => {}
            Pushed::Refused => {
                let refused = self.outbox.refused();
                if refused.is_power_of_two() || refused - self.reported_refused >= 1024 {
                    tracing::error!(
                        refused,
                        "too many trade updates wait for NATS; refusing new ones"
                    );
                    let _ = self
                        .events
                        .send(RelayEvent::TradeUpdatesRefused { total: refused });
                    self.reported_refused = refused;
                }
            }
        }
        Ok(())
    }

    /// Publishes what is due, one at a time, until one fails or none is due.
    async fn publish_due(&mut self) {
        while let Some(next) = self.outbox.next_publish(Instant::now()) {
            let payload = match serde_json::to_vec(&next.update) {
                Ok(bytes) => Bytes::from(bytes),
                Err(error) => {
                    // Cannot happen for a decoded update; never publish garbage.
                    tracing::error!(%error, "a trade update could not be encoded; skipped");
                    self.outbox.published();
                    continue;
                }
            };
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                next.message_id.as_str(),
            );
            headers.insert(
                SOURCE_HEADER,
                if next.reconciled {
                    "reconciled"
                } else {
                    "live"
                },
            );
            let outcome = match self
                .jetstream
                .publish_with_headers(self.subject.clone(), headers, payload)
                .await
            {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(ack) => {
                    tracing::debug!(
                        sequence = ack.sequence,
                        duplicate = ack.duplicate,
                        "trade update published"
                    );
                    self.outbox.published();
                }
                Err(message) => {
                    let retry_at = self.outbox.failed(Instant::now());
                    let retry_in = retry_at.saturating_duration_since(Instant::now());
                    tracing::warn!(%message, ?retry_in, "publishing a trade update failed; trying again");
                    let _ = self
                        .events
                        .send(RelayEvent::PublishFailed { message, retry_in });
                    return;
                }
            }
        }
    }
}
