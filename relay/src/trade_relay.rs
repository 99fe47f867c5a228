//! The trade-update relay's task: the account's [`TradingStream`] in, a
//! JetStream stream out, [`TradeOutbox`] deciding what is published when,
//! [`Leadership`] deciding whether this relay holds the trading stream.
//!
//! Relays of one account elect a leader by the key
//! `trade_updates.<account>` of the leadership bucket, as the market-data
//! relays of a feed do. Only the leader holds the trading stream. When it
//! starts leading it reads the tail of its subject in the stream: the last
//! update's time is where the trading stream's reconciliation starts
//! ([`reconcile_since`](tickwire_ws::StreamBuilder::reconcile_since)), and
//! the tail's message ids are seeded into the outbox. So a relay that takes
//! over from one that stopped (cleanly, crashed or was killed) publishes
//! every order state that changed in between, and none the other one had
//! published.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, publish::PublishAck, stream};
use futures::StreamExt;
use tickwire_alpaca::TradeUpdate;
use tickwire_core::machine::{Event, State};
use tickwire_ws::{StreamEvent, TradingStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::leader_kv::{LeaderKv, LeaderNews, LeaderPlace};
use crate::relay::{earliest, sleep_until};
use crate::trade_outbox::{KNOWN_IDS_DEFAULT, Pushed, TradeOutbox};
use crate::trade_publish::Publisher;
use crate::trade_tail::read_tail;
use crate::{
    Leadership, LeadershipAction, RelayError, RelayEvent, RelayRole, TradeRelayConfig, subject,
};

/// Events kept for a slow watcher of [`TradeRelay::events`].
const EVENTS_CAPACITY: usize = 1024;

/// How long a leader that could not read the tail waits to try again.
const START_RETRY: Duration = Duration::from_secs(1);

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
    role: watch::Receiver<RelayRole>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), RelayError>>>,
}

impl TradeRelay {
    /// Connects to NATS, creates the JetStream stream (or updates it) and
    /// the leadership bucket (if absent), and starts: once this relay
    /// leads the account, it reads the tail of the account's subject and
    /// starts the trading stream, reconciling from the last update
    /// published.
    ///
    /// # Errors
    /// NATS unreachable, or the stream or the leadership bucket cannot be
    /// created or read.
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
        let place = LeaderPlace {
            bucket: &config.leader_bucket,
            ttl: config.leader_ttl,
            key: config.leader_key(),
        };
        let (leader_kv, timing) = LeaderKv::open(&jetstream, &place, &config.relay_id).await?;

        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let (shutdown, stop) = watch::channel(false);
        let (role_tx, role) = watch::channel(RelayRole::StandingBy { leader: None });
        tracing::info!(
            account = %config.account,
            stream = %config.stream,
            relay_id = %config.relay_id,
            "trade relay started"
        );
        let subject = subject::trade_updates_subject(&config.account);
        let task = TradeTask {
            publisher: Publisher::new(jetstream.clone(), subject.clone()),
            subject,
            outbox: TradeOutbox::new(config.pending_max, KNOWN_IDS_DEFAULT),
            leadership: Leadership::new(config.relay_id.clone(), timing, Instant::now()),
            leader_kv,
            trading: None,
            start_at: None,
            js_stream,
            config,
            events: events.clone(),
            role: role_tx,
            reported_refused: 0,
        };
        Ok(Self {
            events,
            role,
            shutdown,
            task: Some(tokio::spawn(task.run(stop))),
        })
    }

    /// What the relay notices from now on.
    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    /// Where the relay stands among the relays of its account, now and as
    /// it changes.
    pub fn role(&self) -> watch::Receiver<RelayRole> {
        self.role.clone()
    }

    /// Whether the relay has stopped (shut down or failed).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until the relay stops by itself, which it does only on an
    /// error (the trading stream failed or ended); returns at once if it
    /// was already awaited. Cancel-safe.
    ///
    /// # Errors
    /// Why it stopped.
    pub async fn stopped(&mut self) -> Result<(), RelayError> {
        let Some(task) = &mut self.task else {
            return Ok(());
        };
        let result = task.await;
        self.task = None;
        result.map_err(|e| RelayError::Task(e.to_string()))?
    }

    /// Stops: the trading stream closes, what waits to be published is
    /// published if NATS takes it within the leadership's margin (the
    /// next leader reconciles the rest), and the leadership key is
    /// released so that a standby takes over at once.
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

/// What woke the task.
enum Wake {
    Stop,
    /// Boxed: an update is large, and rare beside the other wakes.
    Trading(Option<Box<StreamEvent<TradeUpdate>>>),
    Leader(LeaderNews),
    Published(Result<PublishAck, String>),
    Timeout,
}

/// The relay's task and everything it owns.
struct TradeTask {
    subject: String,
    outbox: TradeOutbox,
    publisher: Publisher,
    leadership: Leadership,
    leader_kv: LeaderKv,
    /// The trading stream, while this relay leads and has started it.
    trading: Option<TradingStream>,
    /// When a leader that has no trading stream yet (re)tries to start it.
    start_at: Option<Instant>,
    js_stream: stream::Stream,
    config: TradeRelayConfig,
    events: broadcast::Sender<RelayEvent>,
    role: watch::Sender<RelayRole>,
    reported_refused: u64,
}

impl TradeTask {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), RelayError> {
        let result = loop {
            if let Err(error) = self.lead().await {
                break Err(error);
            }
            self.publish_next();
            let deadline = earliest(
                earliest(self.outbox.due_at(), self.leadership.poll_timeout()),
                self.start_at,
            );
            let wake = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => Wake::Stop,
                event = next_event(&mut self.trading) => Wake::Trading(event.map(Box::new)),
                news = self.leader_kv.next() => Wake::Leader(news),
                outcome = self.publisher.outcome() => Wake::Published(outcome),
                () = sleep_until(deadline) => Wake::Timeout,
            };
            let now = Instant::now();
            let step = match wake {
                Wake::Stop => break Ok(()),
                Wake::Trading(Some(event)) => self.handle_event(*event),
                Wake::Trading(None) => Err(RelayError::UpstreamFailed(
                    "the trading stream stopped".to_owned(),
                )),
                Wake::Leader(LeaderNews::Read(key)) => {
                    self.leadership.handle_read(now, key);
                    Ok(())
                }
                Wake::Leader(LeaderNews::Written(result)) => {
                    self.leadership.handle_write(now, result);
                    Ok(())
                }
                Wake::Leader(LeaderNews::Watched(key)) => {
                    self.leadership.handle_watch(now, key);
                    Ok(())
                }
                Wake::Published(outcome) => {
                    self.handle_outcome(outcome);
                    Ok(())
                }
                Wake::Timeout => {
                    self.leadership.handle_timeout(now);
                    Ok(())
                }
            };
            if let Err(error) = step {
                break Err(error);
            }
        };
        if let Err(error) = &result {
            tracing::error!(%error, "trade relay stopped");
        }
        // Close the trading stream, publish what waits while the key is
        // surely still ours, then let go of it: a standby reads a tail that
        // holds what was published and reconciles the rest.
        let leading = self.leadership.is_leader();
        self.leadership.handle_shutdown();
        let mut release = None;
        while let Some(action) = self.leadership.poll_action() {
            match action {
                LeadershipAction::StopUpstream => self.stop_trading().await,
                LeadershipAction::Release { revision } => release = Some(revision),
                _ => {}
            }
        }
        self.stop_trading().await;
        let bound = self.leadership.timing().margin();
        if !leading || tokio::time::timeout(bound, self.flush()).await.is_err() {
            self.drop_pending("stopping");
        }
        if let Some(revision) = release {
            self.leader_kv.release(revision).await;
        }
        result
    }

    /// Publishes until nothing waits.
    async fn flush(&mut self) {
        loop {
            self.publish_next();
            if self.outbox.pending() == 0 {
                return;
            }
            tokio::select! {
                outcome = self.publisher.outcome() => self.handle_outcome(outcome),
                () = sleep_until(self.outbox.due_at()) => {}
            }
        }
    }

    /// Forgets what waits to be published (`why`): the leader after this
    /// relay reconciles it.
    fn drop_pending(&mut self, why: &str) {
        self.publisher.cancel();
        let dropped = self.outbox.drop_pending();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "{why}: trade updates not published are left to the next leader's reconciliation"
            );
        }
    }

    /// Performs the leadership's actions, and starts the trading stream
    /// when this relay leads without one and its start is due.
    async fn lead(&mut self) -> Result<(), RelayError> {
        while let Some(action) = self.leadership.poll_action() {
            match action {
                LeadershipAction::StartUpstream => {
                    tracing::info!(account = %self.config.account, "leading the account's trade updates");
                    self.start_at = Some(Instant::now());
                    self.role.send_replace(RelayRole::Leading);
                    let _ = self.events.send(RelayEvent::Leading);
                }
                LeadershipAction::StopUpstream => {
                    tracing::warn!("no longer leading: closing the trading stream");
                    self.stop_trading().await;
                    // Published later, they could land after the new
                    // leader's newer states of the same orders.
                    self.drop_pending("no longer leading");
                    self.role
                        .send_replace(RelayRole::StandingBy { leader: None });
                    let _ = self.events.send(RelayEvent::LeadershipLost);
                }
                LeadershipAction::StandingBy { leader } => {
                    tracing::info!(%leader, "standing by");
                    self.role.send_replace(RelayRole::StandingBy {
                        leader: Some(leader.clone()),
                    });
                    let _ = self.events.send(RelayEvent::StandingBy { leader });
                }
                other => self.leader_kv.perform(&other),
            }
        }
        if self.start_at.is_some_and(|at| at <= Instant::now()) {
            self.start_trading().await?;
        }
        Ok(())
    }

    /// Reads the tail (within half the leadership's renewal period, else
    /// tries again in a second) and, if this relay still leads, starts the
    /// trading stream from it.
    async fn start_trading(&mut self) -> Result<(), RelayError> {
        let bound = self.leadership.timing().renew_every() / 2;
        let tail =
            match tokio::time::timeout(bound, read_tail(&self.js_stream, &self.subject)).await {
                Ok(Ok(tail)) => tail,
                Ok(Err(message)) => {
                    tracing::warn!(%message, "cannot read the trade updates' tail; trying again");
                    self.start_at = Some(Instant::now() + START_RETRY);
                    return Ok(());
                }
                Err(_) => {
                    tracing::warn!(
                        ?bound,
                        "reading the trade updates' tail timed out; trying again"
                    );
                    self.start_at = Some(Instant::now() + START_RETRY);
                    return Ok(());
                }
            };
        self.start_at = None;
        if !self.leadership.is_leader() {
            return Ok(());
        }
        self.outbox.seed(tail.ids);
        let mut builder = TradingStream::builder(self.config.endpoint.clone())
            .credentials(self.config.credentials.clone())
            .name(format!("trade relay {}", self.config.account))
            // Closing on losing the lead must fit in the margin.
            .shutdown_timeout(self.leadership.timing().margin() / 2)
            .reconcile(true);
        if let Some(rest_url) = &self.config.rest_url {
            builder = builder.rest_url(rest_url.clone());
        }
        if let Some(since) = tail.last_update_at {
            builder = builder.reconcile_since(since);
        }
        tracing::info!(resumes_from = ?tail.last_update_at, "trading stream starting");
        self.trading = Some(
            builder
                .build()
                .map_err(|e| RelayError::Upstream(e.to_string()))?,
        );
        Ok(())
    }

    /// Closes the trading stream, if any, within half the leadership's
    /// margin (then drops it); a start not yet made is called off.
    async fn stop_trading(&mut self) {
        self.start_at = None;
        let Some(trading) = self.trading.take() else {
            return;
        };
        let bound = self.leadership.timing().margin() / 2;
        if tokio::time::timeout(bound, trading.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the trading stream did not close in time: dropped");
        }
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

    /// Sends the next update due, if none is in flight.
    fn publish_next(&mut self) {
        if !self.publisher.is_idle() {
            return;
        }
        while let Some(next) = self.outbox.next_publish(Instant::now()) {
            match self.publisher.send(next) {
                Ok(()) => return,
                Err(error) => {
                    // Cannot happen for a decoded update; never publish garbage.
                    tracing::error!(%error, "a trade update could not be encoded; skipped");
                    self.outbox.published();
                }
            }
        }
    }

    /// The server's answer to the update in flight.
    fn handle_outcome(&mut self, outcome: Result<PublishAck, String>) {
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
            }
        }
    }
}

/// The trading stream's next event; pending for ever without one.
async fn next_event(trading: &mut Option<TradingStream>) -> Option<StreamEvent<TradeUpdate>> {
    match trading {
        Some(trading) => trading.next().await,
        None => std::future::pending().await,
    }
}
