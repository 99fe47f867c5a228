//! One feed's upstream stream, commanded by a fan-out hub: the part of a
//! feed task that a proxy and a relay share.
//!
//! A [`FeedUpstream`] builds the feed's [`MarketDataStream`] on the hub's
//! first command, performs the hub's [`UpstreamCommand`]s one after the
//! other in the hub's order, and hands back their verdicts and the
//! stream's events as [`UpstreamNews`]. It decides nothing: what to ask
//! for and to whom data goes is the hub's ([`route`]).

use std::time::Duration;

use futures::StreamExt;
use tickwire_alpaca::{Channel, Encoding, Feed, MarketData};
use tickwire_core::machine::SubscriptionOutcome;
use tickwire_core::{Credentials, Symbol};
use tickwire_fanout::{ClientId, FanoutHub, UpstreamCommand, UpstreamToken};
use tickwire_ws::{Events, Feed as WsFeed, MarketDataStream, StreamEvent, StreamHandle};
use tokio::sync::mpsc;

/// How a feed's upstream stream connects.
///
/// `Debug` shows no secret: [`Credentials`] redacts it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamSettings {
    /// The feed.
    pub feed: Feed,
    /// Its URL, e.g. `wss://stream.data.alpaca.markets/v2/iex`.
    pub url: String,
    /// The account's key pair.
    pub credentials: Credentials,
    /// The stream's encoding (MessagePack for the feeds that speak nothing else).
    pub encoding: Encoding,
    /// How long the connection stays after the last pair is let go.
    pub idle_linger: Duration,
    /// The stream's name in logs.
    pub name: String,
}

impl UpstreamSettings {
    /// `feed` at `url` as `credentials`, in MessagePack, lingering 5 s.
    pub fn new(feed: Feed, url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            feed,
            url: url.into(),
            credentials,
            encoding: Encoding::MsgPack,
            idle_linger: Duration::from_secs(5),
            name: format!("upstream {}", feed.path()),
        }
    }
}

/// What a [`FeedUpstream`] has to tell its task.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpstreamNews {
    /// The verdict of an upstream command: feed it to
    /// [`FanoutHub::handle_upstream_outcome`].
    Outcome(UpstreamToken, SubscriptionOutcome),
    /// An event of the stream; `None` when the stream stopped (it failed or
    /// was shut down): [`FeedUpstream::reset`] before the next command.
    Event(Option<StreamEvent<MarketData>>),
}

/// The stream while it exists.
struct Running {
    events: Events<MarketData>,
    handle: StreamHandle,
    /// Commands, performed in order by the commander task.
    commands: mpsc::UnboundedSender<UpstreamCommand<Channel>>,
    /// The commander's verdicts: this stream's alone, so that a verdict of
    /// a stream reset meanwhile never settles a request of the next (whose
    /// hub numbers its requests afresh).
    outcomes: mpsc::UnboundedReceiver<(UpstreamToken, SubscriptionOutcome)>,
}

/// One feed's upstream stream, built on the first command.
pub struct FeedUpstream {
    settings: UpstreamSettings,
    running: Option<Running>,
}

impl std::fmt::Debug for FeedUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedUpstream")
            .field("settings", &self.settings)
            .field("state", &self.state_name())
            .finish_non_exhaustive()
    }
}

impl FeedUpstream {
    /// An upstream that connects nothing until the first command.
    pub fn new(settings: UpstreamSettings) -> Self {
        Self {
            settings,
            running: None,
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    /// The stream's state name, `idle` while there is no stream.
    pub fn state_name(&self) -> &'static str {
        self.running
            .as_ref()
            .map_or("idle", |r| r.handle.state().name())
    }

    /// Takes every upstream command of `hub` and queues it for the stream,
    /// in order; builds the stream first if there is none.
    ///
    /// # Errors
    /// When the stream cannot be built (e.g. an invalid URL); the commands
    /// taken so far are lost, so the hub should be dropped with its clients.
    pub fn perform(&mut self, hub: &mut FanoutHub<Channel>) -> Result<(), tickwire_ws::Error> {
        while let Some(command) = hub.poll_upstream() {
            let running = match &mut self.running {
                Some(running) => running,
                None => self.running.insert(start(&self.settings)?),
            };
            // The commander lives as long as the stream's handle.
            let _ = running.commands.send(command);
        }
        Ok(())
    }

    /// The stream's next verdict or event; pending for ever while there is
    /// no stream. Cancel-safe.
    pub async fn next(&mut self) -> UpstreamNews {
        let Some(running) = &mut self.running else {
            return std::future::pending().await;
        };
        tokio::select! {
            Some((token, outcome)) = running.outcomes.recv() => UpstreamNews::Outcome(token, outcome),
            event = running.events.next() => UpstreamNews::Event(event),
        }
    }

    /// A stream event already queued, without waiting.
    pub fn try_next_event(&mut self) -> Option<StreamEvent<MarketData>> {
        self.running.as_mut().and_then(|r| r.events.try_next())
    }

    /// Forgets the stream (after it stopped, or to drop it); the next
    /// command builds a new one.
    pub fn reset(&mut self) {
        self.running = None;
    }

    /// Shuts the stream down (its connection closed) and waits for it.
    pub async fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.handle.shutdown().await;
        }
    }
}

/// Fills `clients` with the clients of `hub` that want `message` (see
/// [`FanoutHub::route`]), using `symbols` as scratch space.
pub fn route(
    hub: &FanoutHub<Channel>,
    message: &MarketData,
    symbols: &mut Vec<Symbol>,
    clients: &mut Vec<ClientId>,
) {
    clients.clear();
    let Some(channel) = route_channel(message) else {
        return;
    };
    symbols.clear();
    match message {
        MarketData::News(news) => symbols.extend(news.symbols.iter().cloned()),
        other => symbols.extend(other.symbol().cloned()),
    }
    hub.route(channel, symbols, clients);
}

/// The channel a data message is routed by: its own, or `trades` for the
/// messages that follow it.
pub fn route_channel(message: &MarketData) -> Option<Channel> {
    Some(match message {
        MarketData::Trade(_) | MarketData::Correction(_) | MarketData::CancelError(_) => {
            Channel::Trades
        }
        MarketData::Quote(_) => Channel::Quotes,
        MarketData::Bar(_) => Channel::Bars,
        MarketData::DailyBar(_) => Channel::DailyBars,
        MarketData::UpdatedBar(_) => Channel::UpdatedBars,
        MarketData::Status(_) => Channel::Statuses,
        MarketData::Luld(_) => Channel::Lulds,
        MarketData::Imbalance(_) => Channel::Imbalances,
        MarketData::Orderbook(_) => Channel::Orderbooks,
        MarketData::News(_) => Channel::News,
        _ => return None,
    })
}

/// Builds the stream and the task that commands it in order.
fn start(settings: &UpstreamSettings) -> Result<Running, tickwire_ws::Error> {
    let encoding = if settings.feed.msgpack_only() {
        Encoding::MsgPack
    } else {
        settings.encoding
    };
    let stream = MarketDataStream::builder(WsFeed::Custom(settings.url.clone()))
        .credentials(settings.credentials.clone())
        .encoding(encoding)
        .idle_linger(settings.idle_linger)
        .name(settings.name.clone())
        // Clients keep asking while the task runs: never give up upstream.
        .connect_attempts_max(None)
        .build()?;
    let (handle, events) = stream.into_parts();
    let (commands, queue) = mpsc::unbounded_channel();
    let (verdicts, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(command_upstream(handle.clone(), queue, verdicts));
    tracing::info!(url = %settings.url, "upstream stream created (connects on the first subscription)");
    Ok(Running {
        events,
        handle,
        commands,
        outcomes,
    })
}

/// Performs upstream commands one after the other, in the hub's order,
/// and reports each verdict.
async fn command_upstream(
    handle: StreamHandle,
    mut queue: mpsc::UnboundedReceiver<UpstreamCommand<Channel>>,
    outcomes: mpsc::UnboundedSender<(UpstreamToken, SubscriptionOutcome)>,
) {
    while let Some(command) = queue.recv().await {
        let (token, symbols, result) = match command {
            UpstreamCommand::Subscribe {
                token,
                channel,
                symbols,
            } => {
                let result = handle.subscribe(channel, symbols.clone()).await;
                (token, symbols, result)
            }
            UpstreamCommand::Unsubscribe {
                token,
                channel,
                symbols,
            } => {
                let result = handle.unsubscribe(channel, symbols.clone()).await;
                (token, symbols, result)
            }
        };
        let outcome = match result {
            // The stream failed or shut down before the server answered:
            // no verdict. Its fatal error or its end closes every client
            // (an acknowledgement here would tell a client it holds
            // symbols no upstream ever confirmed).
            Ok(SubscriptionOutcome::Abandoned) => break,
            Ok(outcome) => outcome,
            Err(tickwire_ws::Error::Command(error)) => SubscriptionOutcome::Rejected {
                code: Some(400),
                message: error.to_string(),
                symbols,
            },
            Err(_) => break,
        };
        if outcomes.send((token, outcome)).is_err() {
            break;
        }
    }
}
