//! [`RelayTransport`]: the relay of a feed, presented to tickwire's machine
//! as if it were Alpaca's socket of that feed, speaking MessagePack.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use bytes::Bytes;
use tickwire_alpaca::{ClientMessage, decode_client_message};
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};
use tickwire_ws::Snapshots;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::ConsumerConfig;
use crate::consumer_link::{Command, Link, Received};
use crate::consumer_session::ConsumerSession;
use crate::lease_book::LeaseBook;
use crate::subject::{control_subject, is_consumer_id};

/// Frames waiting for the machine; data waits (NATS then drops for a slow
/// consumer) beyond this.
const FRAMES_CAPACITY: usize = 4096;

/// The longest a close waits for its connection's task and lease deletes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection to NATS, kept across the machine's connections.
struct Nats {
    client: async_nats::Client,
    leases: kv::Store,
    leaders: kv::Store,
    lease_ttl: Duration,
    down: watch::Receiver<bool>,
}

/// One open connection.
struct Open {
    commands: mpsc::UnboundedSender<Command>,
    frames: mpsc::Receiver<Received>,
    task: JoinHandle<ConsumerSession>,
    /// Whether the connection failed (its leases are then kept for the next).
    lost: bool,
}

/// A [`Transport`] over a relay's NATS subjects: tickwire's unchanged
/// machine runs on it as on Alpaca's socket.
///
/// - `connect` reaches NATS and fails while no relay leads the feed (the
///   machine backs off and retries); then greets.
/// - The credentials frame is answered `authenticated`: the relay holds
///   the account's credentials, the consumer none.
/// - A subscribe listens to the pairs' subjects and writes their leases;
///   its answer is the relay's, once its upstream acknowledged or refused
///   them ([`ConsumerSession`] decides). An unsubscribe deletes them.
/// - Data messages come as binary frames, in Alpaca's framing.
/// - With [`with_snapshots`](Self::with_snapshots), an acknowledged
///   `quotes` subscription asks the leading relay for its symbols' latest
///   quotes, handed to the stream beside the frames.
/// - Leases are rewritten every third of the bucket's TTL while held, and
///   deleted when the machine unsubscribes or closes; after a lost
///   connection they are kept for the next one.
/// - The connection ends (the machine reports a gap and reconnects,
///   resubscribing) when the relay leading the feed changes or goes, or
///   NATS is lost. A ping is answered once a read of the leadership key
///   came back showing the same relay leading.
///
/// Build streams with [`RelayStreamBuilder`](crate::RelayStreamBuilder)
/// rather than by hand.
pub struct RelayTransport {
    config: ConsumerConfig,
    nats: Option<Nats>,
    session: Option<ConsumerSession>,
    book: Arc<Mutex<LeaseBook>>,
    refresher: Option<JoinHandle<()>>,
    open: Option<Open>,
    snapshots: Option<Snapshots>,
}

impl std::fmt::Debug for RelayTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayTransport")
            .field("config", &self.config)
            .field("open", &self.open.is_some())
            .finish_non_exhaustive()
    }
}

impl RelayTransport {
    /// A transport for `config`; connects nothing yet.
    pub fn new(config: ConsumerConfig) -> Self {
        let session = ConsumerSession::new(config.feed);
        Self {
            config,
            nats: None,
            session: Some(session),
            book: Arc::default(),
            refresher: None,
            open: None,
            snapshots: None,
        }
    }

    /// Hands snapshot quotes to `snapshots`: once a `quotes` subscription
    /// is acknowledged, the leading relay is asked for its symbols' latest
    /// quotes (see [`crate::snapshot`]).
    #[must_use]
    pub fn with_snapshots(mut self, snapshots: Snapshots) -> Self {
        self.snapshots = Some(snapshots);
        self
    }

    /// Connects to NATS and opens the buckets, once.
    async fn nats(&mut self) -> Result<&Nats, TransportError> {
        if self.nats.is_none() {
            self.nats = Some(connect_nats(&self.config).await?);
        }
        self.nats
            .as_ref()
            .ok_or_else(|| TransportError::Io("NATS is not connected".to_owned()))
    }

    /// Starts rewriting the leases every third of their TTL, once.
    fn start_refresher(&mut self, leases: kv::Store, ttl: Duration) {
        if self.refresher.is_some() {
            return;
        }
        let book = Arc::clone(&self.book);
        let every = (ttl / 3).max(Duration::from_millis(100));
        self.refresher = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let keys = book
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .due(Instant::now());
                for key in keys {
                    if let Err(error) = leases.put(&key, Bytes::new()).await {
                        tracing::warn!(%error, "cannot refresh a lease");
                    }
                }
            }
        }));
    }
}

impl Drop for RelayTransport {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.take() {
            refresher.abort();
        }
        if let Some(open) = self.open.take() {
            open.task.abort();
        }
    }
}

#[async_trait]
impl Transport for RelayTransport {
    async fn connect(&mut self, _request: &ConnectRequest) -> Result<(), TransportError> {
        if !is_consumer_id(&self.config.consumer_id) {
            return Err(TransportError::InvalidUrl(format!(
                "consumer id {:?}: use 1 to 64 bytes of A-Z a-z 0-9 _ - = /",
                self.config.consumer_id
            )));
        }
        let feed = self.config.feed;
        let (client, leases, leaders, ttl, down) = {
            let nats = self.nats().await?;
            if *nats.down.borrow() {
                return Err(TransportError::Io(format!(
                    "NATS at {} is unreachable",
                    self.config.nats_url
                )));
            }
            (
                nats.client.clone(),
                nats.leases.clone(),
                nats.leaders.clone(),
                nats.lease_ttl,
                nats.down.clone(),
            )
        };
        let holder = match leaders.entry(feed.name()).await {
            Ok(Some(entry)) if entry.operation == kv::Operation::Put => entry.value,
            Ok(_) => {
                return Err(TransportError::Io(format!(
                    "no relay leads feed {} on NATS at {} (no key {:?} in bucket {:?}): start `tickwire relay --feed {}`, or wait for a standby to take over",
                    feed.name(),
                    self.config.nats_url,
                    feed.name(),
                    self.config.leader_bucket,
                    feed.name(),
                )));
            }
            Err(error) => {
                return Err(TransportError::Io(format!(
                    "cannot read the relays' leadership: {error}"
                )));
            }
        };
        let leader = leaders
            .watch(feed.name())
            .await
            .map_err(|e| TransportError::Io(format!("cannot watch the relays' leadership: {e}")))?;
        let control = client
            .subscribe(control_subject(feed, &self.config.consumer_id))
            .await
            .map_err(|e| TransportError::Io(format!("cannot subscribe on NATS: {e}")))?;
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .on_connect(Instant::now(), ttl);
        self.start_refresher(leases.clone(), ttl);
        let mut session = self
            .session
            .take()
            .unwrap_or_else(|| ConsumerSession::new(feed));
        session.reset();
        let (frames_tx, frames) = mpsc::channel(FRAMES_CAPACITY);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let link = Link {
            feed,
            consumer: self.config.consumer_id.clone(),
            client,
            leases,
            book: Arc::clone(&self.book),
            session,
            frames: frames_tx,
            control,
            leaders,
            leader,
            holder,
            nats_down: down,
            snapshots: self.snapshots.clone(),
            snapshot_requests: JoinSet::new(),
            snapshot_asks: Vec::new(),
        };
        tracing::debug!(holder = %String::from_utf8_lossy(&link.holder), "relay connection open");
        let task = tokio::spawn(link.run(commands_rx));
        self.open = Some(Open {
            commands,
            frames,
            task,
            lost: false,
        });
        Ok(())
    }

    async fn send(&mut self, frame: Frame) -> Result<(), TransportError> {
        let open = self.open.as_mut().ok_or(TransportError::NotConnected)?;
        let command = match &frame {
            Frame::Ping(payload) => Command::Ping(payload.clone()),
            Frame::Pong(_) => return Ok(()),
            Frame::Text(_) | Frame::Binary(_) => match decode_client_message(&frame) {
                Ok(ClientMessage::Auth { .. }) => Command::Auth,
                Ok(ClientMessage::Subscribe(set)) => Command::Subscribe(set),
                Ok(ClientMessage::Unsubscribe(set)) => Command::Unsubscribe(set),
                Ok(_) | Err(_) => Command::Invalid,
            },
        };
        open.commands
            .send(command)
            .map_err(|_| TransportError::Closed {
                code: None,
                reason: "the relay connection ended".to_owned(),
            })
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    async fn recv(&mut self) -> Result<Frame, TransportError> {
        let open = self.open.as_mut().ok_or(TransportError::NotConnected)?;
        match open.frames.recv().await {
            Some(Ok(frame)) => Ok(frame),
            Some(Err(error)) => {
                open.lost = true;
                Err(error)
            }
            None => {
                open.lost = true;
                Err(TransportError::Closed {
                    code: None,
                    reason: "the relay connection ended".to_owned(),
                })
            }
        }
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let Open {
            commands,
            frames,
            mut task,
            lost,
        } = open;
        drop(commands);
        drop(frames);
        match tokio::time::timeout(CLOSE_TIMEOUT, &mut task).await {
            Ok(Ok(session)) => self.session = Some(session),
            Ok(Err(_)) => {}
            Err(_) => task.abort(),
        }
        if lost {
            return Ok(());
        }
        // The machine let go (idle, shut down): so do its leases.
        let keys = self
            .book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take_all();
        if let Some(nats) = &self.nats {
            let deletes = futures::future::join_all(keys.iter().map(|key| nats.leases.delete(key)));
            if tokio::time::timeout(CLOSE_TIMEOUT, deletes).await.is_err() {
                tracing::warn!("deleting the leases timed out; they lapse after their TTL");
            }
        }
        Ok(())
    }
}

/// Connects to NATS, watching its connection, and opens the buckets.
async fn connect_nats(config: &ConsumerConfig) -> Result<Nats, TransportError> {
    let (down_tx, down) = watch::channel(false);
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let down_tx = down_tx.clone();
            async move {
                match event {
                    async_nats::Event::Disconnected => {
                        down_tx.send_replace(true);
                    }
                    async_nats::Event::Connected => {
                        down_tx.send_replace(false);
                    }
                    _ => {}
                }
            }
        })
        .connect(&config.nats_url)
        .await
        .map_err(|e| {
            TransportError::Io(format!(
                "cannot connect to NATS at {}: {e}",
                config.nats_url
            ))
        })?;
    let jetstream = jetstream::new(client.clone());
    let missing = |bucket: &str, e: &dyn std::fmt::Display| {
        TransportError::Io(format!(
            "no bucket {bucket:?} on NATS at {} ({e}): start a relay of feed {} (`tickwire relay`)",
            config.nats_url,
            config.feed.name()
        ))
    };
    let leases = jetstream
        .get_key_value(&config.bucket)
        .await
        .map_err(|e| missing(&config.bucket, &e))?;
    let leaders = jetstream
        .get_key_value(&config.leader_bucket)
        .await
        .map_err(|e| missing(&config.leader_bucket, &e))?;
    let lease_ttl = leases
        .status()
        .await
        .map_err(|e| missing(&config.bucket, &e))?
        .info
        .config
        .max_age;
    let lease_ttl = if lease_ttl.is_zero() {
        crate::DEFAULT_LEASE_TTL
    } else {
        lease_ttl
    };
    Ok(Nats {
        client,
        leases,
        leaders,
        lease_ttl,
        down,
    })
}
