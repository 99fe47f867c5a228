//! The relay's task: the lease watcher, the leadership key and the
//! upstream stream in, the hub in between, NATS subjects out. It moves
//! keys, commands and messages and decides nothing: [`Interest`] decides
//! which sets the leases make, [`Leadership`] whether this relay may hold
//! the upstream, the hub what goes upstream and who wants a message.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use futures::{FutureExt, StreamExt};
use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::Symbol;
use tickwire_core::machine::{Event, State};
use tickwire_fanout::{ClientId, ClientOutput, FanoutHub};
use tickwire_proxy::upstream::{
    FeedUpstream, UpstreamNews, UpstreamSettings, route, route_channel,
};
use tickwire_ws::StreamEvent;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::answers::Answers;
use crate::config::expiring_bucket;
use crate::interest::apply_all;
use crate::leader_kv::{LeaderKv, LeaderNews, LeaderPlace};
use crate::payload::FrameWriter;
use crate::subject_batch::SubjectBatches;
use crate::subject_cache::SubjectCache;
use crate::{
    ASK, Interest, LastQuotes, Leadership, LeadershipAction, RelayConfig, RelayError, RelayEvent,
    RelayRole, snapshot, subject,
};

/// Events kept for a slow watcher of [`Relay::events`]; past it the
/// oldest are dropped (the watcher's receiver reports how many).
const EVENTS_CAPACITY: usize = 1024;

/// Most upstream events handled before the lease watcher is looked at again.
const BATCH_EVENTS_MAX: usize = 512;

/// A running relay of one feed: one upstream stream, published on NATS to
/// whoever holds a lease.
///
/// ```no_run
/// use tickwire_alpaca::Feed;
/// use tickwire_core::Credentials;
/// use tickwire_proxy::Upstream;
/// use tickwire_relay::{Relay, RelayConfig};
///
/// # #[tokio::main] async fn main() -> Result<(), tickwire_relay::RelayError> {
/// let config = RelayConfig::new(
///     "nats://127.0.0.1:4222",
///     Upstream::alpaca_paper(),
///     Credentials::new("PK…", "…"),
///     Feed::Iex,
/// );
/// let relay = Relay::start(config).await?;
/// // … consumers write leases and read `tickwire.iex.<channel>.<SYMBOL>`
/// relay.shutdown().await
/// # }
/// ```
#[derive(Debug)]
pub struct Relay {
    events: broadcast::Sender<RelayEvent>,
    role: watch::Receiver<RelayRole>,
    shutdown: watch::Sender<bool>,
    /// The task, until its end was awaited.
    task: Option<JoinHandle<Result<(), RelayError>>>,
}

impl Relay {
    /// Connects to NATS, creates the lease bucket (or updates its TTL) and
    /// the leadership bucket (if absent), starts watching both and returns;
    /// the upstream connects once this relay leads and a lease exists.
    ///
    /// # Errors
    /// NATS unreachable, or a bucket cannot be created or watched.
    pub async fn start(config: RelayConfig) -> Result<Self, RelayError> {
        // Every subject this client publishes on is built by `subject` from
        // escaped tokens and checked ids, so the client's own check of each
        // subject (a scan per message) is skipped.
        let client = async_nats::ConnectOptions::new()
            .skip_subject_validation(true)
            .connect(&config.nats_url)
            .await
            .map_err(|e| RelayError::Connect {
                url: config.nats_url.clone(),
                message: e.to_string(),
            })?;
        let bucket_error = |e: &dyn std::fmt::Display| RelayError::Bucket {
            bucket: config.bucket.clone(),
            message: e.to_string(),
        };
        let jetstream = jetstream::new(client.clone());
        let store = jetstream
            .create_or_update_key_value(expiring_bucket(&config.bucket, config.lease_ttl))
            .await
            .map_err(|e| bucket_error(&e))?;
        let leases = store
            .watch_with_history(format!("{}.>", config.feed.name()))
            .await
            .map_err(|e| bucket_error(&e))?;
        let place = LeaderPlace {
            bucket: &config.leader_bucket,
            ttl: config.leader_ttl,
            key: config.feed.name().to_owned(),
        };
        let (leader_kv, timing) = LeaderKv::open(&jetstream, &place, &config.relay_id).await?;
        let snapshot_requests = client
            .subscribe(subject::snapshot_subject(config.feed, "*"))
            .await
            .map_err(|e| RelayError::Connect {
                url: config.nats_url.clone(),
                message: format!("cannot subscribe to snapshot requests: {e}"),
            })?;

        let mut settings = UpstreamSettings::new(
            config.feed,
            config.upstream.feed_url(config.feed),
            config.credentials.clone(),
        );
        settings.encoding = config.upstream_encoding;
        settings.idle_linger = config.upstream_idle_linger;
        settings.name = format!("relay upstream {}", config.feed.path());

        let (events, _) = broadcast::channel(EVENTS_CAPACITY);
        let (shutdown, stop) = watch::channel(false);
        let (role_tx, role) = watch::channel(RelayRole::StandingBy { leader: None });
        let task = RelayTask {
            interest: Interest::new(config.feed, config.lease_ttl),
            leadership: Leadership::new(config.relay_id.clone(), timing, Instant::now()),
            leader_kv,
            hub: None,
            upstream: FeedUpstream::new(settings.clone()),
            settings,
            client,
            bucket: config.bucket.clone(),
            events: events.clone(),
            role: role_tx,
            symbols: Vec::new(),
            routed: Vec::new(),
            answers: Answers::default(),
            last_quotes: None,
            subjects: SubjectCache::new(config.feed),
            frames: FrameWriter::default(),
            batches: SubjectBatches::default(),
            ready: Vec::new(),
        };
        tracing::info!(
            feed = config.feed.name(),
            bucket = %config.bucket,
            lease_ttl_ms = config.lease_ttl.as_millis() as u64,
            relay_id = %config.relay_id,
            leader_ttl_ms = timing.ttl().as_millis() as u64,
            "relay started"
        );
        let task = tokio::spawn(task.run(leases, snapshot_requests, stop));
        Ok(Self {
            events,
            role,
            shutdown,
            task: Some(task),
        })
    }

    /// What the relay notices from now on (malformed leases, refusals,
    /// upstream states, leadership). A receiver that falls more than 1,024 events
    /// behind loses the oldest and is told how many.
    pub fn events(&self) -> broadcast::Receiver<RelayEvent> {
        self.events.subscribe()
    }

    /// Where the relay stands among the relays of its feed, now and as it
    /// changes: a receiver to read or wait on.
    pub fn role(&self) -> watch::Receiver<RelayRole> {
        self.role.clone()
    }

    /// Whether the relay has stopped (shut down or failed).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until the relay stops by itself, which it does only on an
    /// error (NATS gone for good, the upstream failed); returns at once if
    /// it was already awaited. Cancel-safe.
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

    /// Stops the relay: closes the upstream connection, waits for it, and
    /// releases the leadership key so that a standby takes over at once.
    ///
    /// # Errors
    /// Why the relay had already stopped, if it failed.
    pub async fn shutdown(mut self) -> Result<(), RelayError> {
        let _ = self.shutdown.send(true);
        self.stopped().await
    }
}

/// What woke the relay's task.
enum Wake {
    Stop,
    Lease(Option<Result<kv::Entry, kv::WatcherError>>),
    Upstream(UpstreamNews),
    Leader(LeaderNews),
    Snapshot(Option<async_nats::Message>),
    Timeout,
}

/// The relay's task and everything it owns.
struct RelayTask {
    interest: Interest,
    leadership: Leadership,
    leader_kv: LeaderKv,
    /// The hub, while this relay leads; rebuilt from the leases when it
    /// takes the lead.
    hub: Option<FanoutHub<Channel>>,
    upstream: FeedUpstream,
    settings: UpstreamSettings,
    client: async_nats::Client,
    bucket: String,
    events: broadcast::Sender<RelayEvent>,
    role: watch::Sender<RelayRole>,
    symbols: Vec<Symbol>,
    routed: Vec<ClientId>,
    /// The consumers owed a state on their control subjects.
    answers: Answers,
    /// The latest quote of each symbol leased by name, while leading.
    last_quotes: Option<LastQuotes>,
    /// The data subjects, built once each.
    subjects: SubjectCache,
    /// Frames each data message.
    frames: FrameWriter,
    /// The data messages of the read under way, per subject.
    batches: SubjectBatches<(Channel, Symbol)>,
    /// Payloads to publish, kept for reuse.
    ready: Vec<(async_nats::Subject, bytes::Bytes)>,
}

impl RelayTask {
    async fn run(
        mut self,
        mut leases: kv::Watch,
        mut snapshot_requests: async_nats::Subscriber,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        // The leadership's first read.
        self.lead().await;
        let result = loop {
            let deadline = earliest(self.interest.poll_timeout(), self.leadership.poll_timeout());
            let wake = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => Wake::Stop,
                entry = leases.next() => Wake::Lease(entry),
                news = self.upstream.next() => Wake::Upstream(news),
                news = self.leader_kv.next() => Wake::Leader(news),
                request = snapshot_requests.next() => Wake::Snapshot(request),
                () = sleep_until(deadline) => Wake::Timeout,
            };
            let step = match wake {
                Wake::Stop => break Ok(()),
                Wake::Lease(Some(Ok(entry))) => {
                    self.handle_entry(&entry);
                    // The entries already there too: a burst of leases
                    // becomes one upstream request.
                    let mut step = Ok(());
                    for _ in 1..BATCH_EVENTS_MAX {
                        match leases.next().now_or_never() {
                            Some(Some(Ok(entry))) => self.handle_entry(&entry),
                            Some(Some(Err(error))) => tracing::warn!(%error, "lease watcher error"),
                            Some(None) => {
                                step = Err(self.watcher_ended());
                                break;
                            }
                            None => break,
                        }
                    }
                    step
                }
                Wake::Lease(Some(Err(error))) => {
                    tracing::warn!(%error, "lease watcher error");
                    Ok(())
                }
                Wake::Lease(None) => Err(self.watcher_ended()),
                Wake::Upstream(UpstreamNews::Outcome(token, outcome)) => {
                    if let Some(hub) = &mut self.hub {
                        hub.handle_upstream_outcome(token, &outcome);
                    }
                    Ok(())
                }
                Wake::Upstream(UpstreamNews::Event(event)) => self.handle_events(event).await,
                Wake::Leader(news) => {
                    let now = Instant::now();
                    match news {
                        LeaderNews::Read(key) => self.leadership.handle_read(now, key),
                        LeaderNews::Written(result) => self.leadership.handle_write(now, result),
                        LeaderNews::Watched(key) => self.leadership.handle_watch(now, key),
                    }
                    Ok(())
                }
                Wake::Snapshot(Some(request)) => {
                    self.answer_snapshot(request).await;
                    Ok(())
                }
                Wake::Snapshot(None) => Err(RelayError::Task(
                    "the subscription to snapshot requests ended (the NATS client closed)"
                        .to_owned(),
                )),
                Wake::Timeout => {
                    let now = Instant::now();
                    self.interest.handle_timeout(now);
                    self.leadership.handle_timeout(now);
                    Ok(())
                }
                // The enum is `non_exhaustive`; nothing else exists yet.
                Wake::Upstream(_) => Ok(()),
            };
            if let Err(error) = step {
                break Err(error);
            }
            if let Err(error) = self.drain().await {
                break Err(error);
            }
        };
        if let Err(error) = &result {
            tracing::error!(%error, "relay stopped");
        }
        // Close the upstream, then let go of the key: a standby may lead.
        self.leadership.handle_shutdown();
        while let Some(action) = self.leadership.poll_action() {
            match action {
                LeadershipAction::StopUpstream => self.stop_upstream().await,
                LeadershipAction::Release { revision } => self.leader_kv.release(revision).await,
                _ => {}
            }
        }
        self.upstream.shutdown().await;
        let _ = self.client.flush().await;
        result
    }

    /// Performs the leadership's actions: its key's I/O, and the upstream
    /// started or stopped.
    async fn lead(&mut self) {
        while let Some(action) = self.leadership.poll_action() {
            match action {
                LeadershipAction::StartUpstream => {
                    tracing::info!("leading: the upstream subscribes every lease");
                    self.interest.replay();
                    self.hub = Some(FanoutHub::new());
                    // Filled from the replayed leases; no values yet.
                    self.last_quotes = Some(LastQuotes::default());
                    self.role.send_replace(RelayRole::Leading);
                    let _ = self.events.send(RelayEvent::Leading);
                }
                LeadershipAction::StopUpstream => {
                    tracing::warn!("no longer leading: closing the upstream");
                    self.stop_upstream().await;
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
    }

    /// Closes the upstream connection, waiting at most half the
    /// leadership's margin (then dropping it), and forgets the hub.
    async fn stop_upstream(&mut self) {
        let bound = self.leadership.timing().margin() / 2;
        if tokio::time::timeout(bound, self.upstream.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the upstream did not close in time: dropped");
        }
        self.upstream = FeedUpstream::new(self.settings.clone());
        self.hub = None;
        self.last_quotes = None;
    }

    /// Why the relay stops when the lease watcher ends.
    fn watcher_ended(&self) -> RelayError {
        RelayError::Bucket {
            bucket: self.bucket.clone(),
            message: "the lease watcher ended".to_owned(),
        }
    }

    /// Turns a lease entry into interest.
    fn handle_entry(&mut self, entry: &kv::Entry) {
        let ask = entry.operation == kv::Operation::Put && entry.value.as_ref() == ASK;
        self.answers.handle_entry(&entry.key, entry.revision, ask);
        match entry.operation {
            kv::Operation::Put => {
                let age = age(entry.created.unix_timestamp_nanos());
                if let Err(error) = self.interest.handle_put(Instant::now(), &entry.key, age) {
                    tracing::warn!(%error, "lease ignored");
                    let _ = self.events.send(RelayEvent::LeaseRejected {
                        key: entry.key.clone(),
                        error,
                    });
                }
            }
            kv::Operation::Delete | kv::Operation::Purge => self.interest.handle_delete(&entry.key),
        }
    }

    /// Performs the leadership's actions, applies interest changes to the
    /// hub (while leading), performs its upstream commands and reports
    /// refusals.
    async fn drain(&mut self) -> Result<(), RelayError> {
        self.lead().await;
        let mut changes = Vec::new();
        while let Some(change) = self.interest.poll_change() {
            changes.push(change);
        }
        let changed = !changes.is_empty();
        if let Some(last_quotes) = &mut self.last_quotes {
            changes.iter().for_each(|c| last_quotes.handle_change(c));
        }
        if let Some(hub) = &mut self.hub {
            apply_all(changes, hub);
        }
        if changed {
            tracing::debug!(
                leases = self.interest.lease_count(),
                consumers = self.interest.consumer_count(),
                "interest changed"
            );
            let _ = self.events.send(RelayEvent::Interest {
                leases: self.interest.lease_count(),
                consumers: self.interest.consumer_count(),
            });
        }
        let Some(hub) = &mut self.hub else {
            self.answers.clear_due();
            return Ok(());
        };
        self.upstream
            .perform(hub)
            .map_err(|e| RelayError::Upstream(e.to_string()))?;
        while let Some(output) = hub.poll_client() {
            match output {
                ClientOutput::Refused {
                    client,
                    code,
                    message,
                } => {
                    let consumer = self.interest.consumer(client).unwrap_or("?").to_owned();
                    tracing::warn!(%consumer, ?code, %message, "upstream refused leased pairs");
                    self.answers
                        .handle_answer(&consumer, Some((code, message.clone())));
                    let _ = self.events.send(RelayEvent::Refused {
                        consumer,
                        code,
                        message,
                    });
                }
                ClientOutput::Ack { client, .. } => {
                    if let Some(consumer) = self.interest.consumer(client) {
                        self.answers.handle_answer(consumer, None);
                    }
                }
            }
        }
        self.answer_consumers().await;
        Ok(())
    }

    /// Publishes each consumer owed one its state, on its control subject.
    async fn answer_consumers(&mut self) {
        let Some(hub) = &self.hub else {
            return;
        };
        let feed = self.interest.feed();
        for consumer in self.answers.take_due(&self.interest) {
            let state = self.answers.state(&consumer, &self.interest, hub);
            let subject = subject::control_subject(feed, &consumer);
            if let Err(error) = self.client.publish(subject, state.encode().into()).await {
                tracing::warn!(%error, %consumer, "cannot publish a consumer's state");
            }
        }
    }

    /// Handles `first` and the upstream events queued behind it.
    async fn handle_events(
        &mut self,
        first: Option<StreamEvent<MarketData>>,
    ) -> Result<(), RelayError> {
        let Some(first) = first else {
            return Err(RelayError::UpstreamFailed(
                "the upstream stream stopped".to_owned(),
            ));
        };
        let mut result = self.handle_event(first).await;
        for _ in 1..BATCH_EVENTS_MAX {
            if result.is_err() {
                break;
            }
            let Some(next) = self.upstream.try_next_event() else {
                break;
            };
            result = self.handle_event(next).await;
        }
        // What was read goes out, even if the upstream failed after it.
        self.publish_batches().await;
        result
    }

    async fn handle_event(&mut self, event: StreamEvent<MarketData>) -> Result<(), RelayError> {
        let event = match event {
            StreamEvent::Machine(event) => event,
            // What the upstream fetched again after a gap: consumers missed it too.
            StreamEvent::Recovered(message) => Event::Data(message),
            StreamEvent::Dropped { count, .. } => {
                tracing::warn!(count, "upstream data dropped before the relay read it");
                return Ok(());
            }
            StreamEvent::RecoveryFailed { reason } => {
                tracing::warn!(%reason, "what the upstream gap hid may be missing");
                return Ok(());
            }
            // A direct stream has no snapshots; one would be no new data.
            StreamEvent::Snapshot(_) => return Ok(()),
        };
        match event {
            Event::Data(message) => self.publish(&message).await,
            Event::StateChanged(state) => {
                tracing::info!(state = state.name(), "upstream state");
                let _ = self.events.send(RelayEvent::UpstreamState(state.name()));
                if let State::Failed { error } = &state {
                    return Err(RelayError::UpstreamFailed(error.to_string()));
                }
            }
            Event::Refused {
                channel,
                symbols,
                code,
                message,
            } => {
                if let Some(hub) = &mut self.hub {
                    hub.handle_upstream_refused(channel, &symbols, code, &message);
                }
            }
            Event::Gap { epoch, .. } => {
                tracing::info!(%epoch, "upstream connection lost");
            }
            Event::Resumed {
                epoch, lost_for, ..
            } => {
                tracing::info!(%epoch, lost_ms = lost_for.as_millis() as u64, "upstream resumed");
            }
            Event::Error { error, fatal: true } => {
                return Err(RelayError::UpstreamFailed(error.to_string()));
            }
            Event::Error {
                error,
                fatal: false,
            } => tracing::debug!(%error, "upstream error"),
            _ => {}
        }
        Ok(())
    }

    /// Publishes `message` on the subject of each of its symbols, if a
    /// lease wants it.
    async fn publish(&mut self, message: &MarketData) {
        let Some(hub) = &self.hub else {
            return;
        };
        route(hub, message, &mut self.symbols, &mut self.routed);
        if self.routed.is_empty() {
            return;
        }
        let Some(channel) = route_channel(message) else {
            return;
        };
        let frame = self.frames.frame(message);
        if channel == Channel::Quotes
            && let Some(last_quotes) = &mut self.last_quotes
            && let Some(symbol) = self.symbols.first()
        {
            // A quote has one symbol: kept as the latest, for snapshots.
            last_quotes.record(symbol, frame);
        }
        for symbol in &self.symbols {
            let subject = self.subjects.subject(channel, symbol);
            let key = (channel, symbol.clone());
            if let Some(full) = self.batches.push(&key, &subject, frame)
                && let Err(error) = self.client.publish(subject, full).await
            {
                tracing::warn!(%error, "publish failed");
            }
        }
    }

    /// Publishes each subject's messages of the read under way, one NATS
    /// message per subject.
    async fn publish_batches(&mut self) {
        let mut ready = std::mem::take(&mut self.ready);
        self.batches
            .drain(|subject, payload| ready.push((subject, payload)));
        for (subject, payload) in ready.drain(..) {
            if let Err(error) = self.client.publish(subject, payload).await {
                tracing::warn!(%error, "publish failed");
            }
        }
        self.ready = ready;
    }
}

impl RelayTask {
    /// Answers a snapshot request while leading (a standby leaves it to
    /// the leader); a malformed one gets an error reply naming the fix.
    async fn answer_snapshot(&mut self, request: async_nats::Message) {
        let Some(last_quotes) = &self.last_quotes else {
            tracing::trace!("snapshot request left to the leader");
            return;
        };
        let Some(reply) = request.reply else {
            tracing::debug!(subject = %request.subject, "snapshot request without a reply subject ignored");
            return;
        };
        if let Err(reason) = snapshot::check_reply_subject(&reply) {
            tracing::warn!(reply = ?reply.as_str(), %reason, "snapshot request ignored: ask with a reply subject of your own (e.g. the client's inbox)");
            return;
        }
        let channel = request.subject.rsplit('.').next().unwrap_or_default();
        let answer = match snapshot::parse_request(channel, &request.payload) {
            Ok(symbols) => snapshot::answer(last_quotes, &symbols),
            Err(error) => {
                tracing::warn!(%error, "malformed snapshot request refused");
                snapshot::error_reply(&error)
            }
        };
        if let Err(error) = self.client.publish(reply, answer).await {
            tracing::warn!(%error, "cannot answer a snapshot request");
        }
    }
}

/// How long ago a time given in Unix nanoseconds was; zero if ahead.
fn age(unix_nanos: i128) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    u64::try_from(now.saturating_sub(unix_nanos)).map_or(Duration::ZERO, Duration::from_nanos)
}

/// The earlier of two deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Sleeps until `deadline`; pending for ever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
