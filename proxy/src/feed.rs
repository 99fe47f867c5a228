//! One task per feed: the fan-out hub, the upstream stream, and the clients'
//! queues. It moves commands, verdicts and data between them and decides
//! nothing itself: the hub decides what goes upstream and to whom.

use std::collections::HashMap;
use std::sync::Arc;

use metrics::{Counter, Gauge};
use tickwire_alpaca::{Channel, Feed, MarketData, ServerMessage};
use tickwire_core::Symbol;
use tickwire_core::machine::{Event, State};
use tickwire_fanout::{ClientId, ClientOutput, FanoutHub};
use tickwire_ws::StreamEvent;

use crate::data_batch::DataBatch;
use crate::downstream::market_error;
use crate::inbox::{Inbox, Wake};
use crate::metrics as names;
use crate::outbox::{Farewell, Outbox, Pushed};
use crate::server::Shared;
use crate::upstream::{FeedUpstream, UpstreamNews, UpstreamSettings, route};
use crate::upstream_metrics::UpstreamMetrics;
use tickwire_alpaca::SubscriptionSet;

/// Most upstream events handled as one batch (one frame per client).
const BATCH_EVENTS_MAX: usize = 512;

/// Distinct frames remembered per batch for sharing between clients.
const SHARED_FRAMES_MAX: usize = 16;

/// Commands a feed task takes from its clients' connections.
#[derive(Debug)]
pub(crate) enum FeedCommand {
    /// An authenticated client; frames for it go to `outbox`.
    Join { client: ClientId, outbox: Outbox },
    /// The client's connection ended.
    Leave { client: ClientId },
    /// The client subscribed.
    Subscribe {
        client: ClientId,
        set: SubscriptionSet,
    },
    /// The client unsubscribed.
    Unsubscribe {
        client: ClientId,
        set: SubscriptionSet,
    },
}

/// A client of the feed: its queue and its counters.
#[derive(Debug)]
struct Member {
    outbox: Outbox,
    messages: Counter,
}

/// The feed's task.
pub(crate) struct FeedTask {
    feed: Feed,
    shared: Arc<Shared>,
    hub: FanoutHub<Channel>,
    members: HashMap<ClientId, Member>,
    upstream: FeedUpstream,
    batch: DataBatch,
    /// Per client, the batch indices it receives.
    routes: HashMap<ClientId, Vec<usize>>,
    route_scratch: Vec<ClientId>,
    /// Frames built for this batch, by encoding and messages: clients with
    /// the same messages share one frame.
    built: Vec<(tickwire_alpaca::Encoding, Vec<usize>, tickwire_core::Frame)>,
    symbols_scratch: Vec<Symbol>,
    pairs_gauge: Gauge,
    metrics: UpstreamMetrics,
}

impl FeedTask {
    pub(crate) fn new(feed: Feed, shared: Arc<Shared>) -> Self {
        let path = feed.path();
        let config = &shared.config;
        let mut settings = UpstreamSettings::new(
            feed,
            config.upstream.feed_url(feed),
            config.credentials.clone(),
        );
        settings.encoding = config.upstream_encoding;
        settings.idle_linger = config.limits.upstream_idle_linger;
        settings.name = format!("proxy upstream {path}");
        Self {
            feed,
            shared,
            hub: FanoutHub::new(),
            members: HashMap::new(),
            upstream: FeedUpstream::new(settings),
            batch: DataBatch::default(),
            routes: HashMap::new(),
            route_scratch: Vec::new(),
            built: Vec::new(),
            symbols_scratch: Vec::new(),
            pairs_gauge: metrics::gauge!(names::SYMBOLS, "endpoint" => path),
            metrics: UpstreamMetrics::new(path),
        }
    }

    /// Runs until shutdown.
    pub(crate) async fn run(mut self, mut inbox: Inbox<FeedCommand>) {
        loop {
            match inbox.next(self.upstream.next()).await {
                Some(Wake::Command(command)) => self.handle_command(command),
                Some(Wake::Upstream(UpstreamNews::Outcome(token, outcome))) => {
                    self.hub.handle_upstream_outcome(token, &outcome);
                }
                Some(Wake::Upstream(UpstreamNews::Event(event))) => self.handle_events(event),
                None => break,
            }
            self.drain();
        }
        self.upstream.shutdown().await;
        self.metrics.set_live(false);
    }

    fn handle_command(&mut self, command: FeedCommand) {
        match command {
            FeedCommand::Join { client, outbox } => {
                self.hub.handle_join(client);
                let messages = metrics::counter!(names::MESSAGES, "endpoint" => self.feed.path(), "client" => client.0.to_string());
                self.members.insert(client, Member { outbox, messages });
            }
            FeedCommand::Leave { client } => {
                self.hub.handle_leave(client);
                self.members.remove(&client);
            }
            FeedCommand::Subscribe { client, set } => {
                for channel in set.channels() {
                    let symbols = set.symbols(channel).cloned();
                    // Only members send commands; a left client's are moot.
                    let _ = self.hub.handle_subscribe(client, channel, symbols);
                }
            }
            FeedCommand::Unsubscribe { client, set } => {
                for channel in set.channels() {
                    let _ = self
                        .hub
                        .handle_unsubscribe(client, channel, set.symbols(channel));
                }
            }
        }
    }

    /// Performs the hub's outputs: upstream commands in order, client verdicts.
    fn drain(&mut self) {
        if let Err(error) = self.upstream.perform(&mut self.hub) {
            tracing::error!(feed = %self.feed, %error, "cannot build the upstream stream");
            self.fail_all(Some((500, format!("internal error: {error}"))));
            return;
        }
        while let Some(output) = self.hub.poll_client() {
            let (client, frame) = match output {
                ClientOutput::Ack { client, set } => {
                    let Some(member) = self.members.get(&client) else {
                        continue;
                    };
                    let frame = ServerMessage::subscription_frame(
                        member.outbox.encoding(),
                        &set,
                        self.feed.has_trade_followers(),
                    );
                    (client, frame)
                }
                ClientOutput::Refused {
                    client,
                    code,
                    message,
                } => {
                    let Some(member) = self.members.get(&client) else {
                        continue;
                    };
                    (
                        client,
                        market_error(member.outbox.encoding(), code.unwrap_or(405), &message),
                    )
                }
            };
            self.push(client, frame);
        }
        self.pairs_gauge.set(self.hub.pair_count() as f64);
        self.metrics.clients.set(self.members.len() as f64);
        self.shared.status.set_feed(
            self.feed,
            self.members.len(),
            self.hub.pair_count(),
            self.upstream.state_name(),
        );
    }

    /// Queues a frame for a client; a client too slow for it is dropped from the hub.
    fn push(&mut self, client: ClientId, frame: tickwire_core::Frame) {
        let Some(member) = self.members.get(&client) else {
            return;
        };
        if member.outbox.push(frame) == Pushed::Refused {
            if member.outbox.is_closed() {
                self.note_slow_drop();
                tracing::info!(%client, feed = %self.feed, "client dropped: its queue is full (407) or its connection ended");
            }
            self.members.remove(&client);
            self.hub.handle_leave(client);
        }
    }

    fn handle_events(&mut self, first: Option<StreamEvent<MarketData>>) {
        let Some(first) = first else {
            // The upstream task stopped (failed or shut down): start afresh
            // on the next subscribe.
            self.fail_all(None);
            return;
        };
        self.batch.clear();
        self.handle_event(first);
        for _ in 1..BATCH_EVENTS_MAX {
            let Some(next) = self.upstream.try_next_event() else {
                break;
            };
            self.handle_event(next);
        }
        self.flush_batch();
    }

    fn handle_event(&mut self, event: StreamEvent<MarketData>) {
        let event = match event {
            StreamEvent::Machine(event) => event,
            // What the upstream fetched again after a gap: the clients missed it too.
            StreamEvent::Recovered(message) => Event::Data(message),
            StreamEvent::Dropped { count, .. } => {
                tracing::warn!(feed = %self.feed, count, "upstream data dropped before the proxy read it");
                return;
            }
            StreamEvent::RecoveryFailed { reason } => {
                tracing::warn!(feed = %self.feed, %reason, "what the upstream gap hid may be missing");
                return;
            }
            // A direct stream has no snapshots; one would be no new data.
            StreamEvent::Snapshot(_) => return,
        };
        match event {
            Event::Data(message) => {
                let index = self.batch.push(message);
                route(
                    &self.hub,
                    self.batch.get(index),
                    &mut self.symbols_scratch,
                    &mut self.route_scratch,
                );
                for client in &self.route_scratch {
                    self.routes.entry(*client).or_default().push(index);
                }
            }
            Event::StateChanged(state) => {
                self.metrics.set_live(state.is_live());
                tracing::info!(feed = %self.feed, state = state.name(), "upstream state");
                if let State::Failed { error } = &state {
                    tracing::warn!(feed = %self.feed, %error, "upstream failed");
                }
            }
            Event::Refused {
                channel,
                symbols,
                code,
                message,
            } => {
                self.hub
                    .handle_upstream_refused(channel, &symbols, code, &message);
            }
            Event::Gap { epoch, .. } => {
                self.metrics.reconnects.increment(1);
                tracing::info!(feed = %self.feed, %epoch, "upstream connection lost; clients stay connected");
            }
            Event::Resumed {
                epoch, lost_for, ..
            } => {
                tracing::info!(feed = %self.feed, %epoch, lost_ms = lost_for.as_millis() as u64, "upstream resumed");
            }
            Event::Error { error, fatal: true } => {
                tracing::warn!(feed = %self.feed, %error, "upstream fatal error; closing its clients");
                let code = error.code().unwrap_or(500);
                self.fail_all(Some((code, error.to_string())));
            }
            Event::Error {
                error,
                fatal: false,
            } => {
                tracing::debug!(feed = %self.feed, %error, "upstream error");
            }
            Event::Subscription { .. } | Event::Confirmed(_) | Event::Unknown { .. } => {}
        }
    }

    /// Sends each client its messages of the batch in one frame.
    fn flush_batch(&mut self) {
        if self.routes.is_empty() {
            return;
        }
        let mut slow = Vec::new();
        for (client, indices) in self.routes.iter_mut() {
            if indices.is_empty() {
                continue;
            }
            let Some(member) = self.members.get(client) else {
                indices.clear();
                continue;
            };
            let encoding = member.outbox.encoding();
            let same = self
                .built
                .iter()
                .find(|(e, built_for, _)| *e == encoding && built_for == indices);
            let frame = if let Some((_, _, frame)) = same {
                frame.clone()
            } else {
                let frame = self.batch.frame(encoding, indices);
                if self.built.len() < SHARED_FRAMES_MAX {
                    self.built.push((encoding, indices.clone(), frame.clone()));
                }
                frame
            };
            member.messages.increment(indices.len() as u64);
            if member.outbox.push(frame) == Pushed::Refused {
                slow.push(*client);
            }
            indices.clear();
        }
        for client in slow {
            self.note_slow_drop();
            tracing::info!(%client, feed = %self.feed, "client dropped: its queue is full (407)");
            self.members.remove(&client);
            self.routes.remove(&client);
            self.hub.handle_leave(client);
        }
        self.built.clear();
        if self.routes.len() > self.members.len() * 2 + 16 {
            self.routes
                .retain(|client, _| self.members.contains_key(client));
        }
    }

    fn note_slow_drop(&self) {
        self.metrics.slow_drops.increment(1);
        self.shared
            .status
            .slow_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The upstream stopped for good: every client hears why (Alpaca's
    /// error) and is disconnected; the next client starts a new upstream.
    fn fail_all(&mut self, error: Option<(u16, String)>) {
        let (code, message) = error.unwrap_or((500, "internal error".to_owned()));
        for (client, member) in self.members.drain() {
            let frame = market_error(member.outbox.encoding(), code, &message);
            member.outbox.close(Farewell {
                frame: Some(frame),
                reason: "upstream_failed",
            });
            self.hub.handle_leave(client);
        }
        while self.hub.poll_upstream().is_some() {}
        while self.hub.poll_client().is_some() {}
        self.hub = FanoutHub::new();
        self.upstream.reset();
        self.metrics.set_live(false);
    }
}
