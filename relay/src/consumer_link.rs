//! One connection of a relay consumer: the task that performs its
//! [`ConsumerSession`]'s actions on NATS (data subscriptions, lease
//! writes) and hands the machine its frames. It decides nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::join_all;
use tickwire_alpaca::{
    Channel, Encoding, Feed, ServerMessage, SubscriptionSet, encode_market_frame,
};
use tickwire_core::{Frame, Symbol, TransportError};
use tickwire_ws::{SnapshotAsk, Snapshots};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::consumer_session::{ConsumerSession, Pair, SessionAction};
use crate::lease_book::LeaseBook;
use crate::snapshot::{SNAPSHOT_SYMBOLS_MAX, decode_reply, request_body};
use crate::{ASK, ConsumerState, subject};

/// How long a snapshot request waits for the relay's answer; then the
/// stream goes on without those snapshots.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the transport asks of its connection's task.
#[derive(Debug)]
pub(crate) enum Command {
    /// The machine authenticated: answer it.
    Auth,
    /// The machine subscribes.
    Subscribe(SubscriptionSet),
    /// The machine unsubscribes.
    Unsubscribe(SubscriptionSet),
    /// A ping: answered once a read of the leadership key came back
    /// showing the same relay leading.
    Ping(Bytes),
    /// A message the relay cannot serve: answered with Alpaca's 400.
    Invalid,
}

/// What a frame channel carries: a frame, or the connection's end.
pub(crate) type Received = Result<Frame, TransportError>;

/// What a connection's task works with.
pub(crate) struct Link {
    pub(crate) feed: Feed,
    pub(crate) consumer: String,
    pub(crate) client: async_nats::Client,
    pub(crate) leases: kv::Store,
    pub(crate) book: Arc<Mutex<LeaseBook>>,
    pub(crate) session: ConsumerSession,
    pub(crate) frames: mpsc::Sender<Received>,
    /// The relay's states for this consumer.
    pub(crate) control: async_nats::Subscriber,
    /// The leadership bucket.
    pub(crate) leaders: kv::Store,
    /// Changes of the feed's leadership key.
    pub(crate) leader: kv::Watch,
    /// The relay that led when the connection opened.
    pub(crate) holder: Bytes,
    /// Whether the NATS connection is down.
    pub(crate) nats_down: watch::Receiver<bool>,
    /// Where snapshot quotes go, if the stream takes them.
    pub(crate) snapshots: Option<Snapshots>,
    /// Snapshot requests in flight, aborted when the connection ends.
    pub(crate) snapshot_requests: JoinSet<()>,
    /// Asks announced whose requests leave after the next answer.
    pub(crate) snapshot_asks: Vec<(SnapshotAsk, Vec<Symbol>)>,
}

/// Forwarders of the data subjects listened to, stopped when dropped.
///
/// A channel's wildcard subject covers its named symbols' subjects too,
/// and NATS delivers a message once per matching subscription: while the
/// wildcard is held, the named forwarders of its channel pass their
/// messages over (the wildcard's forwarder brings them), so each comes
/// once. When the wildcard comes or goes, a message of a named symbol may
/// come twice (the switch is made with both subscriptions in place, so as
/// to lose none).
#[derive(Default)]
struct Listeners {
    tasks: HashMap<Pair, JoinHandle<()>>,
    /// Per channel, whether its wildcard is held.
    wildcard_held: HashMap<Channel, Arc<AtomicBool>>,
}

impl Listeners {
    fn wildcard_flag(&mut self, channel: Channel) -> Arc<AtomicBool> {
        Arc::clone(self.wildcard_held.entry(channel).or_default())
    }

    /// Stops the forwarder of `pair`, and waits until it stopped, so that
    /// no message of the pair is queued after what follows.
    async fn stop(&mut self, pair: &Pair) {
        let (channel, symbol) = pair;
        if *symbol == Symbol::WILDCARD {
            // The named forwarders take over first (see the type's docs).
            self.wildcard_flag(*channel).store(false, Ordering::Release);
        }
        if let Some(task) = self.tasks.remove(pair) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
    }
}

impl Link {
    /// Runs until the transport's commands end (close) or the connection
    /// fails (told to the machine as an error frame of the channel).
    /// Returns the session, for the next connection.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) -> ConsumerSession {
        let mut listeners = Listeners::default();
        let greeting = encode_market_frame(Encoding::MsgPack, &[ServerMessage::Connected]);
        let _ = self.frames.send(Ok(greeting)).await;
        let ended = loop {
            let step = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle_command(command, &mut listeners).await,
                    None => break None,
                },
                message = self.control.next() => match message {
                    Some(message) => {
                        match ConsumerState::decode(&message.payload) {
                            Ok(state) => self.session.handle_state(state),
                            Err(error) => tracing::warn!(%error, "relay control message ignored"),
                        }
                        self.perform(&mut listeners).await
                    }
                    None => Err(closed("the relay's control subscription ended")),
                },
                entry = self.leader.next() => self.check_leader(entry),
                changed = self.nats_down.changed() => match changed {
                    Ok(()) if !*self.nats_down.borrow() => Ok(()),
                    _ => Err(TransportError::Io("lost the connection to NATS".to_owned())),
                },
            };
            if let Err(error) = step {
                break Some(error);
            }
        };
        if let Some(error) = ended {
            tracing::info!(%error, "relay connection lost");
            let _ = self.frames.send(Err(error)).await;
        }
        drop(listeners);
        self.session
    }

    async fn handle_command(
        &mut self,
        command: Command,
        listeners: &mut Listeners,
    ) -> Result<(), TransportError> {
        match command {
            Command::Auth => {
                // The relay holds the account's credentials; none are needed here.
                self.answer(encode_market_frame(
                    Encoding::MsgPack,
                    &[ServerMessage::Authenticated],
                ))
                .await;
                Ok(())
            }
            Command::Subscribe(set) => {
                self.session.handle_subscribe(set);
                self.perform(listeners).await
            }
            Command::Unsubscribe(set) => {
                self.session.handle_unsubscribe(&set);
                self.perform(listeners).await
            }
            Command::Ping(payload) => {
                // A round trip to the server, which also tells whether the
                // same relay still leads.
                let entry =
                    self.leaders.entry(self.feed.name()).await.map_err(|e| {
                        TransportError::Io(format!("NATS did not answer a ping: {e}"))
                    })?;
                match entry {
                    Some(entry) => self.check_leader(Some(Ok(entry)))?,
                    None => {
                        return Err(closed(&format!(
                            "no relay leads feed {} any more",
                            self.feed.name()
                        )));
                    }
                }
                self.answer(Frame::Pong(payload)).await;
                Ok(())
            }
            Command::Invalid => {
                let error = ServerMessage::Error {
                    code: 400,
                    message: "invalid syntax".to_owned(),
                };
                self.answer(encode_market_frame(Encoding::MsgPack, &[error]))
                    .await;
                Ok(())
            }
        }
    }

    /// Performs the session's actions in order.
    async fn perform(&mut self, listeners: &mut Listeners) -> Result<(), TransportError> {
        while let Some(action) = self.session.poll_action() {
            match action {
                SessionAction::Lease(pairs) => {
                    for pair in &pairs {
                        self.listen(pair, listeners).await?;
                    }
                    let revision = self.lease(&pairs).await?;
                    self.session.handle_leased(revision);
                }
                SessionAction::Release(pairs) => {
                    for pair in &pairs {
                        listeners.stop(pair).await;
                    }
                    self.release(&pairs).await;
                }
                SessionAction::Answer(frame) => {
                    self.answer(frame).await;
                    self.request_snapshots();
                }
                SessionAction::Snapshot(symbols) => self.announce_snapshots(symbols),
            }
        }
        self.request_snapshots();
        Ok(())
    }

    /// Announces asks for the latest quotes of `symbols` to the stream,
    /// before the answer that acknowledges them is handed over (see
    /// [`Snapshots::ask`]).
    fn announce_snapshots(&mut self, symbols: Vec<Symbol>) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        for chunk in symbols.chunks(SNAPSHOT_SYMBOLS_MAX) {
            self.snapshot_asks
                .push((snapshots.ask(chunk.to_vec()), chunk.to_vec()));
        }
    }

    /// Sends the announced asks' requests to the leading relay, without
    /// waiting: each answer goes to the stream. A missing or refused
    /// answer costs only those snapshots.
    fn request_snapshots(&mut self) {
        while self.snapshot_requests.try_join_next().is_some() {}
        let subject = subject::snapshot_subject(self.feed, Channel::Quotes.wire_name());
        for (ask, symbols) in self.snapshot_asks.drain(..) {
            let client = self.client.clone();
            let (subject, body) = (subject.clone(), request_body(&symbols));
            self.snapshot_requests.spawn(async move {
                match tokio::time::timeout(SNAPSHOT_TIMEOUT, client.request(subject, body)).await {
                    Ok(Ok(reply)) => match decode_reply(&reply.payload) {
                        Ok(quotes) => {
                            tracing::debug!(
                                asked = symbols.len(),
                                got = quotes.len(),
                                "snapshot quotes"
                            );
                            ask.deliver(quotes);
                        }
                        Err(error) => tracing::warn!(%error, "no snapshot quotes"),
                    },
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "no snapshot quotes: the request failed");
                    }
                    Err(_) => tracing::warn!(
                        timeout_ms = SNAPSHOT_TIMEOUT.as_millis() as u64,
                        "no snapshot quotes: the relay did not answer in time"
                    ),
                }
            });
        }
    }

    /// Subscribes the pair's data subject, forwarding each message as a
    /// binary frame.
    async fn listen(
        &mut self,
        pair: &Pair,
        listeners: &mut Listeners,
    ) -> Result<(), TransportError> {
        if listeners.tasks.contains_key(pair) {
            return Ok(());
        }
        let subject = listened_subject(self.feed, pair);
        let mut subscriber = self
            .client
            .subscribe(subject)
            .await
            .map_err(|e| TransportError::Io(format!("cannot subscribe on NATS: {e}")))?;
        let frames = self.frames.clone();
        let (channel, symbol) = pair;
        let wildcard_held = listeners.wildcard_flag(*channel);
        let is_wildcard = *symbol == Symbol::WILDCARD;
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                if !is_wildcard && wildcard_held.load(Ordering::Acquire) {
                    continue; // the wildcard's forwarder brings it
                }
                if frames
                    .send(Ok(Frame::Binary(message.payload)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        listeners.tasks.insert(pair.clone(), task);
        if is_wildcard {
            // Subscribed first: the named forwarders step back only now.
            listeners
                .wildcard_flag(*channel)
                .store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Writes the pairs' leases with [`ASK`]; the highest revision written.
    async fn lease(&mut self, pairs: &[Pair]) -> Result<u64, TransportError> {
        let keys = self.keys(pairs);
        let written = join_all(
            keys.iter()
                .map(|key| self.leases.put(key, Bytes::from_static(ASK))),
        )
        .await;
        let mut highest = 0;
        for result in written {
            let revision =
                result.map_err(|e| TransportError::Io(format!("cannot write a lease: {e}")))?;
            highest = highest.max(revision);
        }
        let mut book = self
            .book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys {
            book.insert(key);
        }
        Ok(highest)
    }

    /// Deletes the pairs' leases (a failure is logged: they lapse).
    async fn release(&mut self, pairs: &[Pair]) {
        let keys = self.keys(pairs);
        {
            let mut book = self
                .book
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for key in &keys {
                book.remove(key);
            }
        }
        for result in join_all(keys.iter().map(|key| self.leases.delete(key))).await {
            if let Err(error) = result {
                tracing::warn!(%error, "cannot delete a lease; it lapses after its TTL");
            }
        }
    }

    fn keys(&self, pairs: &[Pair]) -> Vec<String> {
        pairs
            .iter()
            .filter_map(|(channel, symbol)| {
                subject::lease_key(self.feed, *channel, symbol, &self.consumer)
            })
            .collect()
    }

    async fn answer(&mut self, frame: Frame) {
        let _ = self.frames.send(Ok(frame)).await;
    }

    /// A change of the leadership key: the connection ends unless the
    /// same relay still leads (its renewals).
    fn check_leader(
        &self,
        entry: Option<Result<kv::Entry, kv::WatcherError>>,
    ) -> Result<(), TransportError> {
        match entry {
            Some(Ok(entry))
                if entry.operation == kv::Operation::Put && entry.value == self.holder =>
            {
                Ok(())
            }
            Some(Ok(_)) => Err(closed(&format!(
                "the relay leading feed {} changed",
                self.feed.name()
            ))),
            Some(Err(error)) => {
                tracing::warn!(%error, "leadership watch error");
                Ok(())
            }
            None => Err(closed("the leadership watch ended")),
        }
    }
}

/// The subject a pair's data comes on: its own, or for the wildcard every
/// symbol's of the channel.
fn listened_subject(feed: Feed, (channel, symbol): &Pair) -> String {
    if *symbol == Symbol::WILDCARD {
        format!(
            "{}.{}.{}.*",
            subject::SUBJECT_ROOT,
            feed.name(),
            channel.wire_name()
        )
    } else {
        subject::data_subject(feed, *channel, symbol)
    }
}

fn closed(reason: &str) -> TransportError {
    TransportError::Closed {
        code: None,
        reason: reason.to_owned(),
    }
}
