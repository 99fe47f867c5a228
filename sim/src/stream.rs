//! One machine under test with its checks: feeds it inputs, drains its
//! outputs, and compares the data it delivered with the data the exchange sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tickwire_alpaca::{AlpacaMarketData, AlpacaTrading};
use tickwire_alpaca::{Channel, MarketData, SubscriptionSet, TradeUpdate};
use tickwire_core::machine::{
    Action, ConnectPhase, ConnectionEpoch, Event, Machine, State, StreamKind,
};
use tickwire_core::protocol::{Dialect, Verdict};
use tickwire_core::{Frame, Timestamp, TransportError};

use super::checks::{ClientDecode, Heard, InputNote, Rules, Violation};
use super::tee::{Seen, Teed};
use super::trace::Trace;
use super::workload::Command;

/// What the engine lends a stream for one input.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    /// Virtual time since the start.
    pub(crate) at: Duration,
    /// The same time as an `Instant`.
    pub(crate) now: Instant,
    /// The run's trace.
    pub(crate) trace: &'a mut Trace,
    /// Where the machine's actions go, for the engine to perform.
    pub(crate) actions: &'a mut Vec<Action>,
    /// The decode of each message frame sent among `actions`, in order.
    pub(crate) decodes: &'a mut VecDeque<ClientDecode>,
    /// Machine inputs so far.
    pub(crate) steps: &'a mut u64,
    /// An account stream's events of this input, for its reconciliation.
    pub(crate) account_events: &'a mut Vec<Event<TradeUpdate, Channel>>,
    /// A market stream's events of this input, for its backfill (when it has one).
    pub(crate) market_events: Option<&'a mut Vec<Event<MarketData, Channel>>>,
}

type Checked = Result<(), Violation>;

/// Whether a stream has reached what the liveness phase requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settledness {
    /// Shut down or failed: nothing is required of it.
    Excused,
    /// Live with confirmed == desired (or idle with nothing wanted).
    Settled,
    /// Not yet, and why.
    Pending(String),
}

/// A machine under test, whatever its dialect.
pub(crate) trait Driven: std::fmt::Debug {
    fn kind(&self) -> StreamKind;
    fn connected(&mut self, ctx: &mut Ctx<'_>, epoch: ConnectionEpoch) -> Checked;
    fn frame(&mut self, ctx: &mut Ctx<'_>, epoch: ConnectionEpoch, frame: &Frame) -> Checked;
    fn transport_error(
        &mut self,
        ctx: &mut Ctx<'_>,
        epoch: ConnectionEpoch,
        error: &TransportError,
    ) -> Checked;
    fn timeout(&mut self, ctx: &mut Ctx<'_>) -> Checked;
    fn command(&mut self, ctx: &mut Ctx<'_>, command: Command) -> Checked;
    fn poll_timeout(&self) -> Option<Instant>;
    /// What the machine wants.
    fn desired(&self) -> &SubscriptionSet;
    fn settledness(&self, explain: bool) -> Settledness;
    fn checks(&self) -> u64;
    fn rejected(&self) -> u64;
    fn is_shut_down(&self) -> bool;
    fn data_before_resumed(&self) -> u64;
}

/// Dialects the simulation can drive: their data can be compared.
pub(crate) trait SimDialect: Dialect<Channel = Channel>
where
    Self::Data: PartialEq,
{
    /// Copies an account stream's events to `out` (other streams have none).
    fn share_account_events(
        _events: &[Event<Self::Data, Channel>],
        _out: &mut Vec<Event<TradeUpdate, Channel>>,
    ) {
    }

    /// Copies a market stream's events to `out` (other streams have none).
    fn share_market_events(
        _events: &[Event<Self::Data, Channel>],
        _out: &mut Vec<Event<MarketData, Channel>>,
    ) {
    }
}

impl SimDialect for AlpacaMarketData {
    fn share_market_events(
        events: &[Event<MarketData, Channel>],
        out: &mut Vec<Event<MarketData, Channel>>,
    ) {
        out.extend_from_slice(events);
    }
}

impl SimDialect for AlpacaTrading {
    fn share_account_events(
        events: &[Event<TradeUpdate, Channel>],
        out: &mut Vec<Event<TradeUpdate, Channel>>,
    ) {
        out.extend_from_slice(events);
    }
}

/// A machine, its dialect teed so the checks see what it decoded, and the checks.
#[derive(Debug)]
pub(crate) struct SimStream<D: SimDialect>
where
    D::Data: PartialEq,
{
    index: usize,
    machine: Machine<Teed<D>>,
    rules: Rules,
    /// What the machine decoded of the frame being delivered (reused buffer).
    decoded: Vec<Seen<D::Data>>,
    /// How many of `decoded` the machine must act on (up to a message that
    /// ends the connection); its data messages are what rule 11 expects.
    expected_upto: usize,
    actions: Vec<Action>,
    events: Vec<Event<D::Data, Channel>>,
}

impl<D: SimDialect> SimStream<D>
where
    D::Data: PartialEq,
{
    /// Wraps a freshly created machine (its creation outputs are drained with the first input).
    pub(crate) fn new(index: usize, machine: Machine<Teed<D>>) -> Self {
        let rules = Rules::new(
            index,
            machine.kind(),
            machine.config(),
            machine.dialect().expects_greeting(),
        );
        Self {
            index,
            machine,
            rules,
            decoded: Vec::new(),
            expected_upto: 0,
            actions: Vec::new(),
            events: Vec::new(),
        }
    }

    fn has_open(&self, epoch: ConnectionEpoch) -> bool {
        match self.machine.state() {
            State::Connecting {
                epoch: e, phase, ..
            } => *e == epoch && *phase != ConnectPhase::Dialing,
            State::Live { epoch: e, .. } => *e == epoch,
            _ => false,
        }
    }

    /// Counts a step, takes every action and event the machine has (the
    /// drain rule) and records them.
    fn drain(&mut self, ctx: &mut Ctx<'_>) {
        *ctx.steps += 1;
        self.actions.clear();
        self.events.clear();
        while let Some(action) = self.machine.poll_action() {
            self.actions.push(action);
        }
        while let Some(event) = self.machine.poll_event() {
            self.events.push(event);
        }
        D::share_account_events(&self.events, ctx.account_events);
        if let Some(out) = ctx.market_events.as_deref_mut() {
            D::share_market_events(&self.events, out);
        }
        self.record(ctx);
    }

    /// Drains the machine, records and checks everything, hands the actions over.
    fn after_input(&mut self, ctx: &mut Ctx<'_>, data_epoch: Option<ConnectionEpoch>) -> Checked {
        self.drain(ctx);
        self.rules.check_actions(
            ctx.at,
            &self.actions,
            self.machine.desired(),
            self.machine.confirmed(),
            self.machine.state(),
            ctx.decodes,
        )?;
        self.check_events(ctx)?;
        self.check_data(ctx.at, data_epoch)?;
        self.check_steady(ctx)?;
        ctx.actions.append(&mut self.actions);
        Ok(())
    }

    /// The rules on this input's events, in the machine's present state.
    fn check_events(&mut self, ctx: &Ctx<'_>) -> Checked {
        self.rules.check_events(
            ctx.at,
            ctx.now,
            &self.events,
            self.machine.reconnect_attempts(),
            self.machine.state(),
        )
    }

    /// The rules on the machine's state once it has nothing left to do.
    fn check_steady(&mut self, ctx: &Ctx<'_>) -> Checked {
        self.rules.check_steady(
            ctx.at,
            self.machine.desired(),
            self.machine.state(),
            self.machine.poll_timeout(),
        )
    }

    /// Rule 11: the data events of this input are exactly the data messages
    /// of the frame (a prefix if the frame ended the connection), in order.
    fn check_data(&mut self, at: Duration, data_epoch: Option<ConnectionEpoch>) -> Checked {
        // The expected data are compared in place (no copies): the data
        // messages of `decoded[..expected_upto]`, in order.
        let mut expected = self.decoded[..self.expected_upto]
            .iter()
            .filter_map(|m| match m {
                Seen::Data(data) => Some(data),
                Seen::Control(_) => None,
            });
        let mut delivered = 0usize;
        let mut mismatch = None;
        for event in &self.events {
            if let Event::Data(data) = event {
                if expected.next() != Some(data) {
                    mismatch.get_or_insert(delivered);
                }
                delivered += 1;
            }
        }
        let expected = self.expected_count();
        let cut_short = delivered < expected && data_epoch.is_some_and(|e| self.has_open(e));
        self.expected_upto = 0;
        if mismatch.is_some() || delivered > expected || cut_short {
            return Err(Violation {
                rule: 11,
                stream: self.index,
                at,
                message: format!(
                    "the exchange sent {expected} data messages in the frame, the machine delivered {delivered} \
                     (first difference at {mismatch:?})"
                ),
            });
        }
        Ok(())
    }

    fn expected_count(&self) -> usize {
        self.decoded[..self.expected_upto]
            .iter()
            .filter(|m| matches!(m, Seen::Data(_)))
            .count()
    }

    fn record(&self, ctx: &mut Ctx<'_>) {
        let stream = self.index as u64;
        for action in &self.actions {
            match action {
                Action::Connect { epoch, .. } => {
                    ctx.trace
                        .record(ctx.at, 0x100 | stream, &epoch.get().to_le_bytes())
                }
                Action::Send { epoch, frame } => {
                    ctx.trace
                        .record(ctx.at, 0x200 | stream, &epoch.get().to_le_bytes());
                    ctx.trace.record(ctx.at, 0x300 | stream, frame.payload());
                }
                Action::Close { epoch } => {
                    ctx.trace
                        .record(ctx.at, 0x400 | stream, &epoch.get().to_le_bytes())
                }
            }
            ctx.trace.log(ctx.at, || {
                format!("s{stream} action {}", describe_action(action))
            });
        }
        for event in &self.events {
            let (tag, word) = match event {
                Event::Data(_) => (0x500, 0),
                Event::StateChanged(state) => (0x600, state_word(state)),
                Event::Subscription { request, .. } => (0x700, request.get()),
                Event::Confirmed(set) => (0x800, set.len() as u64),
                Event::Gap { epoch, .. } => (0x900, epoch.get()),
                Event::Resumed {
                    epoch, lost_for, ..
                } => (0xa00, epoch.get() ^ lost_for.as_nanos() as u64),
                Event::Error { error, fatal } => (
                    0xb00,
                    u64::from(error.code().unwrap_or(0)) << 1 | u64::from(*fatal),
                ),
                _ => (0xc00, 0),
            };
            ctx.trace.record(ctx.at, tag | stream, &word.to_le_bytes());
            if matches!(event, Event::Data(_)) {
                ctx.trace.log(ctx.at, || format!("s{stream} event data"));
            } else {
                ctx.trace.log(ctx.at, || {
                    format!("s{stream} event {}", describe_event(event))
                });
            }
        }
    }
}

fn state_word(state: &State) -> u64 {
    match state {
        State::Idle => 1,
        State::Subscribed { .. } => 2,
        State::Connecting { epoch, phase, .. } => 3 | (*phase as u64) << 4 | epoch.get() << 8,
        State::Live { epoch, .. } => 4 | epoch.get() << 8,
        State::Failed { .. } => 5,
        State::Closed => 6,
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Connect { epoch, request } => format!("connect {epoch} {}", request.url),
        Action::Send { epoch, frame } => format!("send {epoch} {}", printable(frame)),
        Action::Close { epoch } => format!("close {epoch}"),
    }
}

fn describe_event<D>(event: &Event<D, Channel>) -> String {
    match event {
        Event::StateChanged(state) => format!("state {state:?}"),
        Event::Subscription {
            request,
            channel,
            outcome,
        } => format!("settled {request:?} {channel} {outcome:?}"),
        Event::Confirmed(set) => format!("confirmed {set:?}"),
        Event::Gap {
            epoch,
            lost_at,
            last_data_at,
            ..
        } => format!(
            "gap {epoch} (lost at {}, last data at {})",
            wall(*lost_at),
            wall(*last_data_at)
        ),
        Event::Resumed {
            epoch,
            lost_for,
            resumed_at,
            ..
        } => format!(
            "resumed {epoch} after {lost_for:?} (at {})",
            wall(*resumed_at)
        ),
        Event::Error { error, fatal } => format!("error (fatal {fatal}) {error}"),
        Event::Unknown { tag } => format!("unknown {tag}"),
        _ => "data".into(),
    }
}

/// A wall-clock time for the readable trace.
fn wall(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".into(), |at| at.to_string())
}

/// A frame as text for the readable trace (binary as a length).
pub(crate) fn printable(frame: &Frame) -> String {
    match frame {
        Frame::Text(bytes) if bytes.len() <= 400 => String::from_utf8_lossy(bytes).into_owned(),
        Frame::Text(bytes) => format!(
            "{}… ({} bytes)",
            String::from_utf8_lossy(&bytes[..400]),
            bytes.len()
        ),
        Frame::Binary(bytes) => format!("<binary {} bytes>", bytes.len()),
        Frame::Ping(_) => "<ping>".into(),
        Frame::Pong(_) => "<pong>".into(),
    }
}

impl<D: SimDialect> Driven for SimStream<D>
where
    D::Data: PartialEq,
{
    fn kind(&self) -> StreamKind {
        self.machine.kind()
    }

    fn connected(&mut self, ctx: &mut Ctx<'_>, epoch: ConnectionEpoch) -> Checked {
        self.rules.note_input(InputNote::default());
        self.rules.on_connected(epoch);
        self.machine.handle_connected(ctx.now, epoch);
        self.after_input(ctx, None)
    }

    fn frame(&mut self, ctx: &mut Ctx<'_>, epoch: ConnectionEpoch, frame: &Frame) -> Checked {
        let mut note = InputNote::default();
        let open = frame.is_message() && self.has_open(epoch);
        self.machine.handle_frame(ctx.now, epoch, frame);
        self.machine.dialect().take_seen(&mut self.decoded);
        if !open {
            // Nothing of a frame of a closed connection may reach the application.
            self.decoded.clear();
        }
        self.expected_upto = 0;
        note.garbage = !self.decoded.is_empty()
            && self
                .decoded
                .iter()
                .all(|m| *m == Seen::Control(Heard::Malformed));
        for message in &self.decoded {
            self.expected_upto += 1;
            let Seen::Control(heard) = message else {
                continue;
            };
            self.rules.on_inbound(epoch, *heard);
            let ends = match heard {
                Heard::Error(Verdict::Fatal) | Heard::AuthRejected => {
                    note.fatal = true;
                    true
                }
                Heard::Error(Verdict::ReconnectSlowly) => {
                    note.after_limit = true;
                    true
                }
                Heard::Error(Verdict::Reconnect) => true,
                Heard::Error(Verdict::RejectRequest) => {
                    note.rejection = true;
                    false
                }
                _ => false,
            };
            if ends {
                break;
            }
        }
        self.rules.note_input(note);
        self.after_input(ctx, Some(epoch))
    }

    fn transport_error(
        &mut self,
        ctx: &mut Ctx<'_>,
        epoch: ConnectionEpoch,
        error: &TransportError,
    ) -> Checked {
        let after_limit = matches!(error, TransportError::Refused { status: 429 });
        let fatal = matches!(
            error,
            TransportError::Refused {
                status: 401 | 403 | 404
            }
        ) && self.machine.state().epoch() == Some(epoch);
        self.rules.note_input(InputNote {
            after_limit,
            fatal,
            ..InputNote::default()
        });
        self.rules.on_transport_end(epoch);
        self.machine.handle_transport_error(ctx.now, epoch, error);
        self.after_input(ctx, None)
    }

    fn timeout(&mut self, ctx: &mut Ctx<'_>) -> Checked {
        self.rules.note_input(InputNote::default());
        self.machine.handle_timeout(ctx.now);
        self.after_input(ctx, None)
    }

    fn command(&mut self, ctx: &mut Ctx<'_>, command: Command) -> Checked {
        self.rules.note_input(InputNote::default());
        let terminal = self.machine.state().is_terminal();
        let account = self.machine.kind() == StreamKind::Account;
        let mut refused = None;
        let subscribe = matches!(command, Command::Subscribe { .. });
        match command {
            Command::Subscribe { channel, symbols } | Command::Unsubscribe { channel, symbols } => {
                if account {
                    return Ok(());
                }
                let result = if subscribe {
                    self.machine
                        .subscribe(ctx.now, channel, symbols.iter().cloned())
                } else {
                    self.machine
                        .unsubscribe(ctx.now, channel, symbols.iter().cloned())
                };
                if let Err(error) = &result {
                    refused.get_or_insert_with(|| error.to_string());
                }
                self.rules
                    .on_command(subscribe, channel, symbols, result.ok());
            }
            Command::Churn => {
                if account {
                    return Ok(());
                }
                // A copy: the unsubscribes change what the machine wants.
                let desired = self.machine.desired().clone();
                for channel in desired.channels() {
                    let symbols: Vec<_> = desired.symbols(channel).cloned().collect();
                    let result =
                        self.machine
                            .unsubscribe(ctx.now, channel, symbols.iter().cloned());
                    if let Err(error) = &result {
                        refused.get_or_insert_with(|| error.to_string());
                    }
                    self.rules.on_command(false, channel, symbols, result.ok());
                }
            }
            Command::Shutdown => {
                let epoch_before = self.machine.state().epoch();
                self.machine.shutdown(ctx.now);
                self.drain(ctx);
                self.rules
                    .on_shutdown(ctx.at, epoch_before, &self.actions)?;
                self.check_events(ctx)?;
                self.check_steady(ctx)?;
                ctx.actions.append(&mut self.actions);
                return Ok(());
            }
        }
        if let Some(error) = refused
            && !terminal
        {
            return Err(Violation {
                rule: 0,
                stream: self.index,
                at: ctx.at,
                message: format!(
                    "a valid command was refused while {}: {error}",
                    self.machine.state().name()
                ),
            });
        }
        self.after_input(ctx, None)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    fn desired(&self) -> &SubscriptionSet {
        self.machine.desired()
    }

    fn settledness(&self, explain: bool) -> Settledness {
        let state = self.machine.state();
        if self.rules.is_shut_down() || state.is_terminal() {
            return Settledness::Excused;
        }
        let desired = self.machine.desired();
        let pending = self.rules.pending_commands();
        if desired.is_empty() && self.machine.kind() == StreamKind::Symbols {
            return if *state == State::Idle && pending == 0 {
                Settledness::Settled
            } else {
                Settledness::Pending(if explain {
                    format!(
                        "nothing wanted but {} with {pending} commands unsettled",
                        state.name()
                    )
                } else {
                    String::new()
                })
            };
        }
        let confirmed = self.machine.confirmed();
        if state.is_live()
            && !self.machine.has_request_in_flight()
            && confirmed == desired
            && pending == 0
        {
            Settledness::Settled
        } else if explain {
            Settledness::Pending(format!(
                "{} (in flight: {}, {pending} commands unsettled), desired {desired:?}, confirmed {confirmed:?}",
                state.name(),
                self.machine.has_request_in_flight()
            ))
        } else {
            Settledness::Pending(String::new())
        }
    }

    fn checks(&self) -> u64 {
        self.rules.checks()
    }

    fn rejected(&self) -> u64 {
        self.rules.rejected()
    }

    fn is_shut_down(&self) -> bool {
        self.rules.is_shut_down()
    }

    fn data_before_resumed(&self) -> u64 {
        self.rules.data_before_resumed()
    }
}
