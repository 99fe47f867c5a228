//! The connection state machine.
//!
//! [`Machine`] decides everything about a stream's connection — when to
//! connect, what to send, when to give up and when to try again — and does
//! nothing itself: a driver performs its [`Action`]s and feeds it what
//! happened.

mod action;
mod backoff;
mod config;
mod event;
mod frame_errors;
mod state;
mod subscriptions;
mod timers;

use std::collections::VecDeque;
use std::time::Instant;

pub use action::Action;
pub use backoff::Backoff;
pub use config::{CONNECT_ATTEMPTS_MAX_DEFAULT, MachineConfig};
pub use event::{ConnectionEpoch, Event, RequestId, StreamError, SubscriptionOutcome, TimeoutKind};
pub use frame_errors::MalformedFrame;
pub use state::{ConnectPhase, State};

use frame_errors::FrameErrors;
use subscriptions::{Settled, Subscriptions};
use timers::{Timer, TimerTable};

use crate::protocol::{
    Dialect, Inbound, MESSAGES_PER_FRAME_MAX, ServerError, SubscriptionOp, SubscriptionRequest,
    Verdict,
};
use crate::{ChannelKind, Frame, SubscriptionSet, Symbol, Timestamp, TransportError};

/// Which rules a stream connects by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Market data: connects lazily, only while symbols are wanted.
    Symbols,
    /// Account updates: connects at once; the account is the subscription.
    Account,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The stream was shut down.
    #[error("the stream is shut down; create a new one")]
    Closed,
    /// The stream stopped after a fatal error.
    #[error("the stream failed ({0}); fix the cause and create a new one")]
    Failed(StreamError),
    /// Account streams have a fixed subscription.
    #[error("account streams receive every update of the account; they take no subscriptions")]
    AccountStream,
    /// The channel cannot be requested by a client: the server manages it
    /// (it follows another channel) or only an account stream holds it.
    #[error(
        "channel {0} cannot be requested: the server manages it or only an account stream holds it"
    )]
    NotRequestable(String),
    /// The command named no symbol.
    #[error("no symbols given; name at least one symbol or the wildcard \"*\"")]
    NoSymbols,
}

/// A gap that has begun and not yet ended: what [`Event::Resumed`] repeats.
#[derive(Debug, Clone, Copy)]
struct OpenGap {
    since: Instant,
    lost_at: Option<Timestamp>,
    last_data_at: Option<Timestamp>,
}

/// A stream's connection state machine: sans-I/O, deterministic for a seed.
///
/// Four kinds of method:
/// - getters: [`state`](Self::state), [`desired`](Self::desired), [`confirmed`](Self::confirmed)…;
/// - inputs, each taking `now`: [`handle_connected`](Self::handle_connected),
///   [`handle_frame`](Self::handle_frame), [`handle_transport_error`](Self::handle_transport_error),
///   [`handle_timeout`](Self::handle_timeout);
/// - commands: [`subscribe`](Self::subscribe), [`unsubscribe`](Self::unsubscribe),
///   [`shutdown`](Self::shutdown);
/// - outputs: [`poll_action`](Self::poll_action), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout).
///
/// **The drain rule**: after every input or command, take every action and
/// every event until both return `None`; then wait for the next input or
/// until [`poll_timeout`](Self::poll_timeout), and call
/// [`handle_timeout`](Self::handle_timeout) then (calling it early or twice is harmless).
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickwire_core::machine::{Action, Event, Machine, MachineConfig};
/// use tickwire_core::{Credentials, Frame, Symbol};
/// # use tickwire_core::ChannelKind;
/// # use tickwire_core::protocol::{Dialect, EncodeError, EncodedRequest, Inbound, SubscriptionRequest};
/// # // A toy line protocol: `hello`, `welcome`, `ack SYMBOL…`, anything else is data.
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// # struct Ticks;
/// # impl std::fmt::Display for Ticks {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("ticks") }
/// # }
/// # impl ChannelKind for Ticks { fn is_server_managed(self) -> bool { false } }
/// # #[derive(Debug)]
/// # struct LineDialect;
/// # impl Dialect for LineDialect {
/// #     type Data = String;
/// #     type Channel = Ticks;
/// #     fn expects_greeting(&self) -> bool { true }
/// #     fn connect_headers(&self) -> Vec<(String, String)> { Vec::new() }
/// #     fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<String, Ticks>>) {
/// #         let text = String::from_utf8_lossy(frame.payload()).into_owned();
/// #         let mut words = text.split(' ');
/// #         out.push(match words.next() {
/// #             Some("hello") => Inbound::Greeting,
/// #             Some("welcome") => Inbound::Authenticated,
/// #             Some("ack") => Inbound::SubscriptionAck(
/// #                 words.filter_map(|w| Symbol::new(w).ok()).map(|s| (Ticks, s)).collect(),
/// #             ),
/// #             _ => Inbound::Data(text.clone()),
/// #         });
/// #     }
/// #     fn encode_auth(&self, credentials: &Credentials) -> Frame {
/// #         Frame::text(format!("login {} {}", credentials.key_id(), credentials.secret()))
/// #     }
/// #     fn encode_subscription(
/// #         &self,
/// #         request: SubscriptionRequest<'_, Ticks>,
/// #         _frame_bytes_max: usize,
/// #     ) -> Result<EncodedRequest, EncodeError> {
/// #         let names: Vec<&str> = request.items.iter().map(|(_, s)| s.as_str()).collect();
/// #         let frame = Frame::text(format!("{:?} {}", request.op, names.join(" ")));
/// #         Ok(EncodedRequest { frame, items_included: request.items.len() })
/// #     }
/// # }
///
/// // `LineDialect` stands for a vendor's protocol crate (a toy one here).
/// let config = MachineConfig::new("wss://stream.example.com/ticks", Credentials::new("key", "secret"));
/// let mut now = Instant::now();
/// let mut machine = Machine::symbol_stream(config, LineDialect);
///
/// // No symbols, no connection, however long we wait.
/// now += Duration::from_secs(3600);
/// machine.handle_timeout(now);
/// assert_eq!(machine.poll_action(), None);
///
/// // The first subscribe connects.
/// machine.subscribe(now, Ticks, [Symbol::new("FAKEPACA")?])?;
/// let Some(Action::Connect { epoch, .. }) = machine.poll_action() else { panic!("expected a connect") };
///
/// // The driver reports what the transport did, and drains after each input.
/// machine.handle_connected(now, epoch);
/// machine.handle_frame(now, epoch, &Frame::text("hello"));
/// assert!(matches!(machine.poll_action(), Some(Action::Send { .. }))); // credentials
/// machine.handle_frame(now, epoch, &Frame::text("welcome"));
/// assert!(matches!(machine.poll_action(), Some(Action::Send { .. }))); // subscribe
/// machine.handle_frame(now, epoch, &Frame::text("ack FAKEPACA"));
/// assert!(machine.state().is_live());
/// machine.handle_frame(now, epoch, &Frame::text("FAKEPACA 1.25"));
/// let mut data = Vec::new();
/// while let Some(event) = machine.poll_event() {
///     match event {
///         Event::StateChanged(state) => println!("state: {}", state.name()),
///         Event::Data(line) => data.push(line),
///         _ => {}
///     }
/// }
/// assert_eq!(data, ["FAKEPACA 1.25"]);
/// // Sleep until `machine.poll_timeout()`, then call `handle_timeout`.
/// assert!(machine.poll_timeout().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Machine<D: Dialect> {
    config: MachineConfig,
    dialect: D,
    kind: StreamKind,
    state: State,
    last_epoch: u64,
    subscriptions: Subscriptions<D::Channel>,
    timers: TimerTable,
    backoff: Backoff,
    /// The open gap, until the stream is live again.
    gap: Option<OpenGap>,
    /// The own timestamp of the last data message delivered.
    last_data_at: Option<Timestamp>,
    /// Whether the stream has been live at least once.
    ever_live: bool,
    /// Connection attempts failed in a row before the stream was ever live.
    failed_attempts: u32,
    actions: VecDeque<Action>,
    events: VecDeque<Event<D::Data, D::Channel>>,
    decoded: Vec<Inbound<D::Data, D::Channel>>,
    settled: Vec<Settled<D::Channel>>,
}

impl<D: Dialect> Machine<D> {
    /// A market-data stream: starts [`State::Idle`] and connects on the first subscription.
    pub fn symbol_stream(config: MachineConfig, dialect: D) -> Self {
        Self::new(config, dialect, StreamKind::Symbols)
    }

    /// An account stream: starts connecting at once.
    pub fn account_stream(config: MachineConfig, dialect: D, now: Instant) -> Self {
        let mut machine = Self::new(config, dialect, StreamKind::Account);
        let fixed = machine.dialect.account_subscriptions();
        machine.subscriptions.set_desired(fixed);
        machine.start_connecting(now);
        machine
    }

    fn new(config: MachineConfig, dialect: D, kind: StreamKind) -> Self {
        Self {
            backoff: Backoff::new(&config),
            config,
            dialect,
            kind,
            state: State::Idle,
            last_epoch: 0,
            subscriptions: Subscriptions::default(),
            timers: TimerTable::default(),
            gap: None,
            last_data_at: None,
            ever_live: false,
            failed_attempts: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            decoded: Vec::new(),
            settled: Vec::new(),
        }
    }

    // ---- getters ----

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Which rules this stream connects by.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// What the application asked for.
    pub fn desired(&self) -> &SubscriptionSet<D::Channel> {
        self.subscriptions.desired()
    }

    /// What the server's last acknowledgement said (empty while disconnected).
    pub fn confirmed(&self) -> &SubscriptionSet<D::Channel> {
        self.subscriptions.confirmed()
    }

    /// Whether a subscription request awaits its acknowledgement.
    pub fn has_request_in_flight(&self) -> bool {
        self.subscriptions.in_flight().is_some()
    }

    /// The most recent connection attempt (0 before the first).
    pub fn last_epoch(&self) -> ConnectionEpoch {
        ConnectionEpoch(self.last_epoch)
    }

    /// Failed connection attempts since the backoff last reset.
    pub fn reconnect_attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// The configuration.
    pub fn config(&self) -> &MachineConfig {
        &self.config
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    // ---- outputs ----

    /// The next action for the transport.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<D::Data, D::Channel>> {
        self.events.pop_front()
    }

    /// The events [`poll_event`](Self::poll_event) would hand out, oldest
    /// first, left in place.
    pub fn pending_events(
        &self,
    ) -> impl ExactSizeIterator<Item = &Event<D::Data, D::Channel>> + '_ {
        self.events.iter()
    }

    /// Moves every pending event to the back of `out`, oldest first: what
    /// polling each with [`poll_event`](Self::poll_event) and pushing it would
    /// do, in one copy of the whole run.
    pub fn take_events_into(&mut self, out: &mut VecDeque<Event<D::Data, D::Channel>>) {
        out.append(&mut self.events);
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- commands ----

    /// Adds symbols to a channel's desired set; the outcome arrives as
    /// [`Event::Subscription`] with the returned id.
    ///
    /// On an idle symbol stream this starts a connection.
    pub fn subscribe(
        &mut self,
        now: Instant,
        channel: D::Channel,
        symbols: impl IntoIterator<Item = Symbol>,
    ) -> Result<RequestId, CommandError> {
        let symbols = symbols.into_iter().collect();
        self.command(now, SubscriptionOp::Subscribe, channel, symbols)
    }

    /// Removes symbols from a channel's desired set; the outcome arrives as
    /// [`Event::Subscription`]. When nothing is left wanted, the connection is
    /// closed after [`MachineConfig::idle_linger`].
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        channel: D::Channel,
        symbols: impl IntoIterator<Item = Symbol>,
    ) -> Result<RequestId, CommandError> {
        let symbols = symbols.into_iter().collect();
        self.command(now, SubscriptionOp::Unsubscribe, channel, symbols)
    }

    fn command(
        &mut self,
        now: Instant,
        op: SubscriptionOp,
        channel: D::Channel,
        symbols: Vec<Symbol>,
    ) -> Result<RequestId, CommandError> {
        match &self.state {
            State::Closed => return Err(CommandError::Closed),
            State::Failed { error } => return Err(CommandError::Failed(error.clone())),
            _ => {}
        }
        if self.kind == StreamKind::Account {
            return Err(CommandError::AccountStream);
        }
        if !channel.is_requestable() {
            return Err(CommandError::NotRequestable(channel.to_string()));
        }
        if symbols.is_empty() {
            return Err(CommandError::NoSymbols);
        }
        let id = self.subscriptions.command(op, channel, symbols);
        self.after_desired_changed(now);
        Ok(id)
    }

    /// Closes the stream: the connection is closed and nothing more is done.
    /// Pending commands settle as [`SubscriptionOutcome::Abandoned`].
    pub fn shutdown(&mut self, now: Instant) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if let Some(epoch) = self.state.epoch() {
            self.actions.push_back(Action::Close { epoch });
        }
        self.timers.stop_all();
        self.gap = None;
        self.set_state(State::Closed);
        self.subscriptions.abandon_all(&mut self.settled);
        self.emit_settled();
    }

    // ---- inputs ----

    /// The transport opened the connection of `epoch`.
    pub fn handle_connected(&mut self, now: Instant, epoch: ConnectionEpoch) {
        if !matches!(self.state, State::Connecting { epoch: e, phase: ConnectPhase::Dialing, .. } if e == epoch)
        {
            return;
        }
        self.timers.stop(Timer::Connect);
        if let Some(interval) = self.config.ping_interval {
            self.timers.set(Timer::Ping, now + interval);
        }
        if self.dialect.expects_greeting() {
            self.timers
                .set(Timer::Greeting, now + self.config.greeting_timeout);
            self.set_phase(ConnectPhase::Greeting);
        } else {
            self.send_credentials(now, epoch);
        }
    }

    /// A frame arrived on the connection of `epoch`.
    ///
    /// Its undecodable messages, and any past
    /// [`MESSAGES_PER_FRAME_MAX`], are reported together as one
    /// [`StreamError::Malformed`] event after the frame's other events.
    pub fn handle_frame(&mut self, now: Instant, epoch: ConnectionEpoch, frame: &Frame) {
        if !self.is_open(epoch) {
            return;
        }
        // Any frame proves the connection carries traffic.
        self.timers.stop(Timer::Pong);
        if !frame.is_message() {
            return;
        }
        let mut decoded = std::mem::take(&mut self.decoded);
        let expected = self.subscriptions.in_flight().map(|f| &f.expected);
        self.dialect.decode_expecting(frame, expected, &mut decoded);
        let mut errors = FrameErrors::default();
        let mut handled = 0;
        for message in decoded.drain(..) {
            // A message may end the connection; the rest of the frame belongs to it.
            if !self.is_open(epoch) {
                break;
            }
            match message {
                Inbound::Skipped { messages } => errors.skipped(messages),
                // The dialect keeps to the cap; a frame past it anyway is cut here.
                _ if handled == MESSAGES_PER_FRAME_MAX => errors.skipped(1),
                Inbound::Malformed(error) => {
                    handled += 1;
                    errors.malformed(error);
                }
                message => {
                    handled += 1;
                    self.handle_message(now, epoch, message);
                }
            }
        }
        self.decoded = decoded;
        if let Some(malformed) = errors.finish() {
            self.events.push_back(Event::Error {
                error: StreamError::Malformed(malformed),
                fatal: false,
            });
        }
    }

    /// Opening the connection of `epoch` failed, or the connection was lost.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        epoch: ConnectionEpoch,
        error: &TransportError,
    ) {
        if self.state.epoch() != Some(epoch) {
            return;
        }
        match error {
            TransportError::Refused { status: 429 } => {
                self.lose_connection(now, StreamError::Refused { status: 429 }, true);
            }
            TransportError::Refused {
                status: status @ (401 | 403 | 404),
            } => {
                self.fail(StreamError::Refused { status: *status });
            }
            TransportError::Refused { status } => {
                self.lose_connection(now, StreamError::Refused { status: *status }, false);
            }
            TransportError::InvalidUrl(_) => self.fail(StreamError::Transport(error.clone())),
            _ => self.lose_connection(now, StreamError::Transport(error.clone()), false),
        }
    }

    /// Deadlines up to `now` have passed. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::Connect => self.time_out(now, TimeoutKind::Connect),
                Timer::Greeting => self.time_out(now, TimeoutKind::Greeting),
                Timer::Auth => self.time_out(now, TimeoutKind::Auth),
                Timer::SubscriptionAck => self.time_out(now, TimeoutKind::SubscriptionAck),
                Timer::Pong => self.time_out(now, TimeoutKind::Pong),
                Timer::DataSilence => self.time_out(now, TimeoutKind::DataSilence),
                Timer::Ping => self.send_ping(now),
                Timer::IdleLinger => self.close_idle(),
                Timer::Backoff => {
                    if matches!(self.state, State::Subscribed { .. }) {
                        self.start_connecting(now);
                    }
                }
            }
        }
    }

    // ---- internals ----

    fn is_open(&self, epoch: ConnectionEpoch) -> bool {
        match self.state {
            State::Connecting {
                epoch: e, phase, ..
            } => e == epoch && phase != ConnectPhase::Dialing,
            State::Live { epoch: e, .. } => e == epoch,
            _ => false,
        }
    }

    fn is_authenticated(&self) -> bool {
        matches!(
            self.state,
            State::Connecting {
                phase: ConnectPhase::Subscribing,
                ..
            } | State::Live { .. }
        )
    }

    fn handle_message(
        &mut self,
        now: Instant,
        epoch: ConnectionEpoch,
        message: Inbound<D::Data, D::Channel>,
    ) {
        match message {
            Inbound::Data(data) => {
                if let Some(at) = self.dialect.data_timestamp(&data) {
                    self.last_data_at = Some(at);
                }
                self.events.push_back(Event::Data(data));
                if let (Some(silence), true) = (
                    self.config.data_silence_timeout,
                    self.timers.is_set(Timer::DataSilence),
                ) {
                    self.timers.set(Timer::DataSilence, now + silence);
                }
            }
            Inbound::Greeting => {
                if self.is_connecting_in(ConnectPhase::Greeting) {
                    self.timers.stop(Timer::Greeting);
                    self.send_credentials(now, epoch);
                }
            }
            Inbound::Authenticated => {
                if self.is_connecting_in(ConnectPhase::Authenticating) {
                    self.timers.stop(Timer::Auth);
                    self.set_phase(ConnectPhase::Subscribing);
                    self.advance_subscriptions(now);
                }
            }
            Inbound::AuthRejected { message } => self.fail(StreamError::AuthRejected { message }),
            Inbound::Error(error) => self.handle_server_error(now, error),
            Inbound::SubscriptionAck(set) => {
                if self.subscriptions.on_ack(&set) {
                    self.timers.stop(Timer::SubscriptionAck);
                }
                self.events.push_back(Event::Confirmed(set));
                // Going live first: a verdict then arrives with the state it brought.
                self.advance_subscriptions(now);
                self.settle();
            }
            Inbound::Unknown { tag } => self.events.push_back(Event::Unknown { tag }),
            // Gathered per frame by `handle_frame`.
            Inbound::Malformed(_) | Inbound::Skipped { .. } => {}
        }
    }

    fn handle_server_error(&mut self, now: Instant, error: ServerError) {
        let stream_error = StreamError::Server {
            code: error.code,
            message: error.message.clone(),
        };
        match error.verdict {
            Verdict::Fatal => self.fail(stream_error),
            Verdict::Reconnect => self.lose_connection(now, stream_error, false),
            Verdict::ReconnectSlowly => self.lose_connection(now, stream_error, true),
            Verdict::RejectRequest => {
                self.events.push_back(Event::Error {
                    error: stream_error,
                    fatal: false,
                });
                if self
                    .subscriptions
                    .on_request_refused(error.code, &error.message)
                {
                    self.timers.stop(Timer::SubscriptionAck);
                    self.settle();
                    self.after_desired_changed(now);
                }
            }
            Verdict::Ignore => {
                tracing::debug!(code = ?error.code, message = %error.message, "server notice ignored")
            }
        }
    }

    fn after_desired_changed(&mut self, now: Instant) {
        let nothing_wanted = self.subscriptions.desired().is_empty();
        match self.state {
            State::Idle if !nothing_wanted => {
                self.set_state(State::Subscribed { reconnect_at: now });
                self.start_connecting(now);
            }
            State::Subscribed { .. } if nothing_wanted => {
                self.timers.stop_all();
                self.set_state(State::Idle);
            }
            State::Connecting { epoch, .. } if nothing_wanted => {
                self.actions.push_back(Action::Close { epoch });
                self.timers.stop_all();
                self.subscriptions.on_disconnect();
                self.set_state(State::Idle);
            }
            State::Live { .. } if nothing_wanted => {
                let linger_until = self
                    .timers
                    .get(Timer::IdleLinger)
                    .unwrap_or(now + self.config.idle_linger);
                self.timers.set(Timer::IdleLinger, linger_until);
            }
            State::Live { .. } => self.timers.stop(Timer::IdleLinger),
            _ => {}
        }
        self.advance_subscriptions(now);
        self.settle();
    }

    /// Sends the next subscription request if none is in flight, or goes live
    /// when the server's set matches.
    fn advance_subscriptions(&mut self, now: Instant) {
        if !self.is_authenticated() {
            return;
        }
        let Some(epoch) = self.state.epoch() else {
            return;
        };
        // Every item takes at least a byte of the frame, and its symbol's
        // text and a separator when listed by name: a frame never carries
        // more items than that many bytes.
        let bytes_max = self.config.frame_bytes_max;
        if let Some((op, items)) = self
            .subscriptions
            .next_request_fitting(bytes_max, bytes_max)
        {
            let request = SubscriptionRequest {
                op,
                items: &items,
                target: self.subscriptions.desired(),
            };
            match self
                .dialect
                .encode_subscription(request, self.config.frame_bytes_max)
            {
                Ok(encoded) => {
                    let mut items = items;
                    items.truncate(encoded.items_included.max(1));
                    self.subscriptions.mark_sent(op, items);
                    self.actions.push_back(Action::Send {
                        epoch,
                        frame: encoded.frame,
                    });
                    self.timers
                        .set(Timer::SubscriptionAck, now + self.config.ack_timeout);
                    self.settle();
                }
                Err(error) => self.fail(StreamError::Encode(error)),
            }
            return;
        }
        if self.is_connecting_in(ConnectPhase::Subscribing) && self.subscriptions.is_settled() {
            self.go_live(now, epoch);
        }
    }

    /// Whether a connection attempt is at `phase`.
    fn is_connecting_in(&self, phase: ConnectPhase) -> bool {
        matches!(self.state, State::Connecting { phase: p, .. } if p == phase)
    }

    fn go_live(&mut self, now: Instant, epoch: ConnectionEpoch) {
        self.set_state(State::Live { epoch, since: now });
        if let Some(silence) = self.config.data_silence_timeout {
            self.timers.set(Timer::DataSilence, now + silence);
        }
        if let Some(gap) = self.gap.take() {
            self.events.push_back(Event::Resumed {
                epoch,
                gap_since: gap.since,
                lost_for: now.saturating_duration_since(gap.since),
                lost_at: gap.lost_at,
                resumed_at: self.wall_time(now),
                last_data_at: gap.last_data_at,
            });
        }
    }

    fn start_connecting(&mut self, now: Instant) {
        self.last_epoch += 1;
        let epoch = ConnectionEpoch(self.last_epoch);
        self.timers.stop(Timer::Backoff);
        self.timers
            .set(Timer::Connect, now + self.config.connect_timeout);
        let request = self.config.connect_request(self.dialect.connect_headers());
        self.actions.push_back(Action::Connect { epoch, request });
        self.set_state(State::Connecting {
            epoch,
            phase: ConnectPhase::Dialing,
            since: now,
        });
    }

    fn send_credentials(&mut self, now: Instant, epoch: ConnectionEpoch) {
        let frame = self.dialect.encode_auth(&self.config.credentials);
        self.actions.push_back(Action::Send { epoch, frame });
        self.timers.set(Timer::Auth, now + self.config.auth_timeout);
        self.set_phase(ConnectPhase::Authenticating);
    }

    fn send_ping(&mut self, now: Instant) {
        let (Some(epoch), Some(interval)) = (self.state.epoch(), self.config.ping_interval) else {
            return;
        };
        self.actions.push_back(Action::Send {
            epoch,
            frame: Frame::Ping(bytes::Bytes::new()),
        });
        if !self.timers.is_set(Timer::Pong) {
            self.timers.set(Timer::Pong, now + self.config.pong_timeout);
        }
        self.timers.set(Timer::Ping, now + interval);
    }

    fn time_out(&mut self, now: Instant, kind: TimeoutKind) {
        self.lose_connection(now, StreamError::Timeout(kind), false);
    }

    fn close_idle(&mut self) {
        let State::Live { epoch, .. } = self.state else {
            return;
        };
        if !self.subscriptions.desired().is_empty() {
            return;
        }
        self.actions.push_back(Action::Close { epoch });
        self.timers.stop_all();
        self.subscriptions.on_disconnect();
        self.settle();
        self.set_state(State::Idle);
    }

    /// Drops the current connection (closing it first) and schedules the next
    /// attempt, or goes idle when nothing is wanted.
    fn lose_connection(&mut self, now: Instant, error: StreamError, after_limit: bool) {
        let Some(epoch) = self.state.epoch() else {
            return;
        };
        if !self.ever_live {
            self.failed_attempts = self.failed_attempts.saturating_add(1);
            if self
                .config
                .connect_attempts_max
                .is_some_and(|max| self.failed_attempts >= max)
            {
                self.fail(StreamError::GaveUp {
                    attempts: self.failed_attempts,
                    last: Box::new(error),
                });
                return;
            }
        }
        self.actions.push_back(Action::Close { epoch });
        self.timers.stop_all();
        self.subscriptions.on_disconnect();
        tracing::debug!(%epoch, %error, "connection lost");
        self.events.push_back(Event::Error {
            error,
            fatal: false,
        });
        let nothing_wanted = self.subscriptions.desired().is_empty();
        if let State::Live { since, .. } = self.state {
            self.backoff.note_live_ended(since, now);
            if !nothing_wanted && self.gap.is_none() {
                let gap = OpenGap {
                    since: now,
                    lost_at: self.wall_time(now),
                    last_data_at: self.last_data_at,
                };
                self.gap = Some(gap);
                self.events.push_back(Event::Gap {
                    epoch,
                    since: gap.since,
                    lost_at: gap.lost_at,
                    last_data_at: gap.last_data_at,
                });
            }
        }
        if nothing_wanted && self.kind == StreamKind::Symbols {
            self.set_state(State::Idle);
        } else {
            let reconnect_at = now + self.backoff.next_delay(after_limit);
            self.timers.set(Timer::Backoff, reconnect_at);
            self.set_state(State::Subscribed { reconnect_at });
        }
        self.settle();
    }

    fn wall_time(&self, now: Instant) -> Option<Timestamp> {
        self.config.wall_clock.map(|clock| clock.at(now))
    }

    fn fail(&mut self, error: StreamError) {
        if let Some(epoch) = self.state.epoch() {
            self.actions.push_back(Action::Close { epoch });
        }
        self.timers.stop_all();
        self.gap = None;
        tracing::warn!(%error, "stream failed");
        self.events.push_back(Event::Error {
            error: error.clone(),
            fatal: true,
        });
        self.set_state(State::Failed { error });
        self.subscriptions.abandon_all(&mut self.settled);
        self.emit_settled();
    }

    fn settle(&mut self) {
        self.subscriptions.settle(&mut self.settled);
        self.emit_settled();
        for refused in self.subscriptions.take_unclaimed_refusals() {
            self.events.push_back(Event::Refused {
                channel: refused.channel,
                symbols: refused.symbols,
                code: refused.code,
                message: refused.message,
            });
        }
    }

    fn emit_settled(&mut self) {
        for settled in self.settled.drain(..) {
            self.events.push_back(Event::Subscription {
                request: settled.id,
                channel: settled.channel,
                outcome: settled.outcome,
            });
        }
    }

    fn set_phase(&mut self, phase: ConnectPhase) {
        if let State::Connecting { epoch, since, .. } = self.state {
            self.set_state(State::Connecting {
                epoch,
                phase,
                since,
            });
        }
    }

    fn set_state(&mut self, state: State) {
        if matches!(state, State::Live { .. }) {
            self.ever_live = true;
        }
        if self.state != state {
            tracing::debug!(from = self.state.name(), to = state.name(), "state");
            self.state = state.clone();
            self.events.push_back(Event::StateChanged(state));
        }
    }
}
