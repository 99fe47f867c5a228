//! The account task: one upstream trading stream while any client listens,
//! every trade update to every listening client, in order.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use metrics::Counter;
use tickwire_alpaca::{Encoding, TRADING_PATH, TradeUpdate, TradingServerMessage};
use tickwire_core::machine::Event;
use tickwire_fanout::ClientId;
use tickwire_ws::{Events, StreamEvent, StreamHandle, TradingEndpoint, TradingStream};

use crate::inbox::{Inbox, Wake};
use crate::metrics as names;
use crate::outbox::{Farewell, Outbox, Pushed};
use crate::server::Shared;
use crate::status::EndpointStatus;
use crate::upstream_metrics::UpstreamMetrics;

/// Commands the account task takes from client sessions.
#[derive(Debug)]
pub(crate) enum AccountCommand {
    /// The client listens to `trade_updates`.
    Join { client: ClientId, outbox: Outbox },
    /// The client stopped listening or left.
    Leave { client: ClientId },
}

/// A listening client.
#[derive(Debug)]
struct Listener {
    outbox: Outbox,
    messages: Counter,
}

/// The account's task.
pub(crate) struct AccountTask {
    shared: Arc<Shared>,
    /// Ordered by client number, so updates go out in a stable order.
    listeners: BTreeMap<ClientId, Listener>,
    upstream: Option<(StreamHandle, Events<TradeUpdate>)>,
    metrics: UpstreamMetrics,
}

impl AccountTask {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            listeners: BTreeMap::new(),
            upstream: None,
            metrics: UpstreamMetrics::new(TRADING_PATH),
        }
    }

    /// Runs until shutdown.
    pub(crate) async fn run(mut self, mut inbox: Inbox<AccountCommand>) {
        while let Some(wake) = inbox.next(next_event(&mut self.upstream)).await {
            match wake {
                Wake::Command(command) => self.handle_command(command),
                Wake::Upstream(event) => self.handle_event(event),
            }
            self.report();
        }
        if let Some((handle, _)) = self.upstream.take() {
            let _ = handle.shutdown().await;
        }
        self.metrics.set_live(false);
    }

    fn handle_command(&mut self, command: AccountCommand) {
        match command {
            AccountCommand::Join { client, outbox } => {
                if self.upstream.is_none() {
                    match self.start_upstream() {
                        Ok(upstream) => self.upstream = Some(upstream),
                        Err(error) => {
                            tracing::error!(%error, "cannot build the upstream trading stream");
                            outbox.close(Farewell {
                                frame: Some(error_frame(
                                    outbox.encoding(),
                                    &format!("internal error: {error}"),
                                )),
                                reason: "upstream_failed",
                            });
                            return;
                        }
                    }
                }
                let messages = metrics::counter!(names::MESSAGES, "endpoint" => TRADING_PATH, "client" => client.0.to_string());
                self.listeners.insert(client, Listener { outbox, messages });
            }
            AccountCommand::Leave { client } => {
                self.listeners.remove(&client);
                if self.listeners.is_empty()
                    && let Some((handle, _)) = self.upstream.take()
                {
                    tracing::info!(
                        "no client listens any more; closing the upstream trading stream"
                    );
                    // Closed aside, so that clients joining meanwhile do not wait for it.
                    tokio::spawn(async move {
                        let _ = handle.shutdown().await;
                    });
                    self.metrics.set_live(false);
                }
            }
        }
    }

    fn start_upstream(&self) -> Result<(StreamHandle, Events<TradeUpdate>), tickwire_ws::Error> {
        let config = &self.shared.config;
        let stream =
            TradingStream::builder(TradingEndpoint::Custom(config.upstream.trading_url.clone()))
                .credentials(config.credentials.clone())
                .name("proxy upstream /stream")
                // Clients keep asking while the proxy runs: never give up upstream.
                .connect_attempts_max(None)
                .build()?;
        tracing::info!(url = %config.upstream.trading_url, "upstream trading stream started");
        Ok(stream.into_parts())
    }

    fn handle_event(&mut self, event: Option<StreamEvent<TradeUpdate>>) {
        let Some(event) = event else {
            self.fail_all("internal error: the upstream stream stopped");
            return;
        };
        let event = match event {
            StreamEvent::Machine(event) => event,
            // An order state the upstream gap hid, fetched again over REST:
            // the clients missed it too, so it goes out as an update.
            StreamEvent::Recovered(update) => Event::Data(update),
            StreamEvent::RecoveryFailed { reason } => {
                tracing::warn!(%reason, "order updates of the upstream gap may be missing");
                return;
            }
            // A direct stream has no snapshots; one would be no new update.
            StreamEvent::Dropped { .. } | StreamEvent::Snapshot(_) => return,
        };
        match event {
            Event::Data(update) => {
                let mut frames: [Option<tickwire_core::Frame>; 2] = [None, None];
                let mut slow = Vec::new();
                for (client, listener) in &self.listeners {
                    let encoding = listener.outbox.encoding();
                    let slot = &mut frames[usize::from(encoding == Encoding::MsgPack)];
                    let frame = slot
                        .get_or_insert_with(|| {
                            TradingServerMessage::trade_update_frame(encoding, &update)
                        })
                        .clone();
                    listener.messages.increment(1);
                    if listener.outbox.push(frame) == Pushed::Refused {
                        slow.push(*client);
                    }
                }
                for client in slow {
                    self.metrics.slow_drops.increment(1);
                    self.shared
                        .status
                        .slow_dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(%client, "client dropped: its queue is full");
                    self.listeners.remove(&client);
                }
            }
            Event::StateChanged(state) => {
                self.metrics.set_live(state.is_live());
                tracing::info!(state = state.name(), "upstream trading state");
            }
            Event::Gap { epoch, .. } => {
                self.metrics.reconnects.increment(1);
                tracing::info!(%epoch, "upstream trading connection lost; clients stay connected");
            }
            Event::Error { error, fatal: true } => {
                tracing::warn!(%error, "upstream trading stream failed; closing its clients");
                self.fail_all(&error.to_string());
            }
            _ => {}
        }
    }

    /// Tells every listener the account stream failed, then disconnects them.
    fn fail_all(&mut self, message: &str) {
        for (_, listener) in std::mem::take(&mut self.listeners) {
            let frame = error_frame(listener.outbox.encoding(), message);
            listener.outbox.close(Farewell {
                frame: Some(frame),
                reason: "upstream_failed",
            });
        }
        self.upstream = None;
        self.metrics.set_live(false);
    }

    fn report(&self) {
        self.metrics.clients.set(self.listeners.len() as f64);
        let upstream = self
            .upstream
            .as_ref()
            .map_or("idle", |(h, _)| h.state().name());
        self.shared.status.set(EndpointStatus {
            path: TRADING_PATH,
            clients: self.listeners.len(),
            symbols: 0,
            upstream,
        });
    }
}

/// The trading stream's error message (then the server closes).
fn error_frame(encoding: Encoding, message: &str) -> tickwire_core::Frame {
    tickwire_alpaca::encode_trading_frame(
        encoding,
        &TradingServerMessage::Error {
            message: message.to_owned(),
        },
    )
}

async fn next_event(
    upstream: &mut Option<(StreamHandle, Events<TradeUpdate>)>,
) -> Option<StreamEvent<TradeUpdate>> {
    match upstream {
        Some((_, events)) => events.next().await,
        None => std::future::pending().await,
    }
}
