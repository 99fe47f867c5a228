//! the machine's rules 1–13 (docs/ARCHITECTURE.md), checked from the outside of one machine after
//! every input, against what the link and the exchange really did.
//!
//! [`Rules`] keeps the view of the stream's current connection that the
//! checks need (was the greeting delivered, did the server say
//! `authenticated`, how many requests await an answer…) and the
//! application's own record of what it asked for.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::iter::Peekable;
use std::time::{Duration, Instant};

use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_alpaca::{ClientMessage, decode_client_message};
use tickwire_core::machine::{
    Action, ConnectionEpoch, Event, MachineConfig, RequestId, State, StreamError, StreamKind,
    SubscriptionOutcome,
};
use tickwire_core::protocol::{DecodeError, Verdict};
use tickwire_core::{Symbol, TransportError};

/// A broken rule: which, where, when and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule of docs/ARCHITECTURE.md (1–14; 14 is checked by `exactly_once`), or 0 for a check of the harness itself
    /// (the application's bookkeeping, settling of commands).
    pub rule: u8,
    /// The stream (index in the simulation).
    pub stream: usize,
    /// Virtual time since the start of the run.
    pub at: Duration,
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match self.rule {
            0 => "harness check".to_owned(),
            n => format!("rule {n}"),
        };
        write!(
            f,
            "{rule} broken by stream {} at {:.6}s: {}",
            self.stream,
            self.at.as_secs_f64(),
            self.message
        )
    }
}

/// The current connection of the stream, as the link and the exchange saw it
/// (by default: nothing seen yet).
#[derive(Debug, Clone, Default)]
struct ConnView {
    epoch: ConnectionEpoch,
    opened: bool,
    greeted: bool,
    auth_frames: u32,
    authenticated: bool,
    acks: u32,
    unanswered: u32,
}

impl ConnView {
    /// A connection just asked for: nothing seen on it yet.
    fn asked_for(epoch: ConnectionEpoch) -> Self {
        Self {
            epoch,
            ..Self::default()
        }
    }
}

/// What the input about to be given to the machine means for the checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputNote {
    /// A connection-limit loss (406 or HTTP 429): the backoff floor applies.
    pub after_limit: bool,
    /// A fatal server error reached the open connection: the stream must fail.
    pub fatal: bool,
    /// The whole frame was undecodable: the stream must carry on (rule 12).
    pub garbage: bool,
    /// The server refused the request in flight (400/405/410/413).
    pub rejection: bool,
}

/// What one message the machine decoded means for the checks (data aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The server's greeting.
    Greeting,
    /// `authenticated`.
    Authenticated,
    /// Authentication refused.
    AuthRejected,
    /// A subscription acknowledgement.
    Ack,
    /// A server error, with the dialect's verdict.
    Error(Verdict),
    /// An undecodable message.
    Malformed,
    /// Anything else (an unknown message type).
    Other,
}

/// Checks of one stream, and the application's record of it.
#[derive(Debug)]
pub struct Rules {
    stream: usize,
    kind: StreamKind,
    expects_greeting: bool,
    frame_bytes_max: usize,
    backoff_max: Duration,
    floor_after_limit: Duration,
    reset_after: Duration,
    secret: Vec<u8>,
    conn: Option<ConnView>,
    previous_state: State,
    gap_open: bool,
    note: InputNote,
    attempts_when_live: u32,
    shut_down: bool,
    /// What the application asked for, minus the rejections it was told of.
    app_desired: SubscriptionSet,
    /// Commands not yet settled, with their direction.
    pending: BTreeMap<RequestId, (bool, Channel, Vec<Symbol>)>,
    rejected: u64,
    data_before_resumed: u64,
    checks: u64,
}

type Checked = Result<(), Violation>;

/// A client frame's decode: made once, by the checks, and handed with the
/// frame to the exchange.
pub type ClientDecode = Result<ClientMessage, DecodeError>;

impl Rules {
    /// The checks for stream `stream` of this kind and configuration.
    pub fn new(
        stream: usize,
        kind: StreamKind,
        config: &MachineConfig,
        expects_greeting: bool,
    ) -> Self {
        let mut app_desired = SubscriptionSet::new();
        if kind == StreamKind::Account {
            app_desired.insert(Channel::TradeUpdates, Symbol::WILDCARD);
        }
        Self {
            stream,
            kind,
            expects_greeting,
            frame_bytes_max: config.frame_bytes_max,
            backoff_max: config.backoff_max.max(config.backoff_base),
            floor_after_limit: config.backoff_floor_after_limit,
            reset_after: config.backoff_reset_after,
            secret: config.credentials.secret().as_bytes().to_vec(),
            conn: None,
            previous_state: State::Idle,
            gap_open: false,
            note: InputNote::default(),
            attempts_when_live: 0,
            shut_down: false,
            app_desired,
            pending: BTreeMap::new(),
            rejected: 0,
            data_before_resumed: 0,
            checks: 0,
        }
    }

    /// How many individual checks passed.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// How many symbols the server rejected (reported to the application).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Data events delivered after a `Gap` and before its `Resumed` (allowed:
    /// after a reconnect data may precede the ack that makes the stream live).
    pub fn data_before_resumed(&self) -> u64 {
        self.data_before_resumed
    }

    /// Whether the application shut the stream down.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    /// What the application wants, minus reported rejections.
    pub fn app_desired(&self) -> &SubscriptionSet {
        &self.app_desired
    }

    /// Commands not yet settled.
    pub fn pending_commands(&self) -> usize {
        self.pending.len()
    }

    fn check(
        &mut self,
        ok: bool,
        rule: u8,
        at: Duration,
        message: impl FnOnce() -> String,
    ) -> Checked {
        self.checks += 1;
        if ok {
            Ok(())
        } else {
            Err(Violation {
                rule,
                stream: self.stream,
                at,
                message: message(),
            })
        }
    }

    // ---- inputs, as the link and exchange saw them ----

    /// Describes the input about to be given.
    pub fn note_input(&mut self, note: InputNote) {
        self.note = note;
    }

    /// The transport reports the connection of `epoch` open.
    pub fn on_connected(&mut self, epoch: ConnectionEpoch) {
        if let Some(conn) = self.conn.as_mut().filter(|c| c.epoch == epoch) {
            conn.opened = true;
        }
    }

    /// The connection of `epoch` ended (reported to the machine).
    pub fn on_transport_end(&mut self, epoch: ConnectionEpoch) {
        if self.conn.as_ref().is_some_and(|c| c.epoch == epoch) {
            self.conn = None;
        }
    }

    /// One message (not data) of a frame delivered on `epoch` while the
    /// machine had that connection open.
    pub fn on_inbound(&mut self, epoch: ConnectionEpoch, message: Heard) {
        let Some(conn) = self.conn.as_mut().filter(|c| c.epoch == epoch) else {
            return;
        };
        match message {
            Heard::Greeting => conn.greeted = true,
            Heard::Authenticated => conn.authenticated = true,
            Heard::Ack => {
                conn.acks += 1;
                conn.unanswered = 0;
            }
            Heard::Error(Verdict::RejectRequest) => conn.unanswered = 0,
            _ => {}
        }
    }

    /// The application issued a command; `id` is the machine's answer.
    pub fn on_command(
        &mut self,
        subscribe: bool,
        channel: Channel,
        symbols: Vec<Symbol>,
        id: Option<RequestId>,
    ) {
        let Some(id) = id else {
            return;
        };
        for symbol in &symbols {
            if subscribe {
                self.app_desired.insert(channel, symbol.clone());
            } else {
                self.app_desired.remove(channel, symbol);
            }
        }
        self.pending.insert(id, (subscribe, channel, symbols));
    }

    /// The application shuts the stream down; `actions` is what the machine asked for at once.
    pub fn on_shutdown(
        &mut self,
        at: Duration,
        epoch_before: Option<ConnectionEpoch>,
        actions: &[Action],
    ) -> Checked {
        let was_shut_down = self.shut_down;
        self.shut_down = true;
        if was_shut_down {
            return self.check(actions.is_empty(), 13, at, || {
                format!("second shutdown asked for {actions:?}")
            });
        }
        let expected: Vec<Action> = epoch_before
            .map(|epoch| Action::Close { epoch })
            .into_iter()
            .collect();
        self.check(actions == expected.as_slice(), 13, at, || {
            format!("shutdown must ask only for the final close {expected:?}, got {actions:?}")
        })?;
        self.conn = None;
        Ok(())
    }

    // ---- outputs ----

    /// Checks the actions of one input, in order. The decode of each
    /// message frame sent is appended to `decodes`, in order: what the
    /// checks read of the wire, for the exchange to read as well.
    pub fn check_actions(
        &mut self,
        at: Duration,
        actions: &[Action],
        desired: &SubscriptionSet,
        confirmed: &SubscriptionSet,
        state: &State,
        decodes: &mut VecDeque<ClientDecode>,
    ) -> Checked {
        for (index, action) in actions.iter().enumerate() {
            self.check(!self.shut_down, 13, at, || {
                format!("action after shutdown: {action:?}")
            })?;
            if matches!(state, State::Failed { .. }) {
                self.check(matches!(action, Action::Close { .. }), 9, at, || {
                    format!("after a fatal error only a close may follow, got {action:?}")
                })?;
            }
            match action {
                Action::Connect { epoch, .. } => {
                    let closed_in_batch = actions[index..]
                        .iter()
                        .any(|a| matches!(a, Action::Close { epoch: e } if e == epoch));
                    let kind = self.kind;
                    self.check(
                        kind == StreamKind::Account || !desired.is_empty() || closed_in_batch,
                        1,
                        at,
                        || format!("connect {epoch} with an empty desired set"),
                    )?;
                    let open = self.conn.as_ref().map(|c| c.epoch);
                    self.check(open.is_none(), 2, at, || {
                        format!(
                            "connect {epoch} while {open:?} was neither closed nor reported lost"
                        )
                    })?;
                    self.conn = Some(ConnView::asked_for(*epoch));
                }
                Action::Close { epoch } => {
                    if self.conn.as_ref().is_some_and(|c| c.epoch == *epoch) {
                        self.conn = None;
                    }
                }
                Action::Send { epoch, frame } => {
                    let current = self.conn.as_ref().map(|c| (c.epoch, c.opened));
                    self.check(current == Some((*epoch, true)), 2, at, || {
                        format!("send on {epoch} while the current connection is {current:?}")
                    })?;
                    if !frame.is_message() {
                        continue;
                    }
                    let max = self.frame_bytes_max;
                    self.check(frame.len() <= max, 7, at, || {
                        format!("a {} byte frame (limit {max})", frame.len())
                    })?;
                    let carries_secret = contains(frame.payload(), &self.secret);
                    let message = decode_client_message(frame);
                    let checked =
                        self.check_message(at, carries_secret, &message, desired, confirmed);
                    decodes.push_back(message);
                    checked?;
                }
            }
        }
        Ok(())
    }

    /// Checks one message the machine sent, as decoded from its frame.
    fn check_message(
        &mut self,
        at: Duration,
        carries_secret: bool,
        message: &ClientDecode,
        desired: &SubscriptionSet,
        confirmed: &SubscriptionSet,
    ) -> Checked {
        if carries_secret || matches!(message, Ok(ClientMessage::Auth { .. })) {
            return self.check_credentials(at);
        }
        match message {
            Ok(ClientMessage::Subscribe(items)) => {
                self.check_request(at, true, items, desired, confirmed)
            }
            Ok(ClientMessage::Unsubscribe(items)) => {
                self.check_request(at, false, items, desired, confirmed)
            }
            Ok(ClientMessage::Listen(_)) => {
                self.check_request(at, true, &SubscriptionSet::new(), desired, confirmed)
            }
            other => self.check(false, 0, at, || {
                format!("the machine sent an unexpected frame: {other:?}")
            }),
        }
    }

    fn check_credentials(&mut self, at: Duration) -> Checked {
        let expects_greeting = self.expects_greeting;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        conn.auth_frames += 1;
        let (greeted, frames) = (conn.greeted, conn.auth_frames);
        self.check(greeted || !expects_greeting, 3, at, || {
            "credentials before the greeting".into()
        })?;
        self.check(frames == 1, 3, at, || {
            format!("credentials sent {frames} times on one connection")
        })
    }

    fn check_request(
        &mut self,
        at: Duration,
        subscribe: bool,
        items: &SubscriptionSet,
        desired: &SubscriptionSet,
        confirmed: &SubscriptionSet,
    ) -> Checked {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let (authenticated, unanswered) = (conn.authenticated, conn.unanswered);
        conn.unanswered += 1;
        self.check(authenticated, 4, at, || {
            "subscription request before authentication".into()
        })?;
        self.check(unanswered == 0, 5, at, || {
            format!("a request while {unanswered} await an answer")
        })?;
        // The three sets are sorted alike: one merge walk answers both lookups.
        let (mut in_desired, mut in_confirmed) = (members(desired), members(confirmed));
        for (channel, symbol) in items.iter() {
            if channel.is_server_managed() {
                continue;
            }
            let (wanted, held) = (
                in_desired.holds(channel, symbol),
                in_confirmed.holds(channel, symbol),
            );
            let minimal = if subscribe {
                wanted && !held
            } else {
                !wanted && held
            };
            self.check(minimal, 5, at, || {
                let op = if subscribe {
                    "subscribe"
                } else {
                    "unsubscribe"
                };
                format!("needless {op} of {channel} {symbol} (wanted {wanted}, confirmed {held})")
            })?;
        }
        Ok(())
    }

    /// Checks the events of one input, in order; `state` is the state after it.
    pub fn check_events<D>(
        &mut self,
        at: Duration,
        now: Instant,
        events: &[Event<D, Channel>],
        attempts: u32,
        state: &State,
    ) -> Checked {
        let mut gap_in_batch = false;
        for event in events {
            match event {
                Event::Data(_) if self.gap_open => self.data_before_resumed += 1,
                Event::Gap { .. } => {
                    let (was_live, open) = (self.previous_state.is_live(), self.gap_open);
                    self.check(was_live, 10, at, || "a gap without losing live".into())?;
                    self.check(!open, 10, at, || "two gaps without a resume between".into())?;
                    self.gap_open = true;
                    gap_in_batch = true;
                }
                Event::Resumed { .. } => {
                    let open = self.gap_open;
                    self.check(open, 10, at, || "resumed without a gap".into())?;
                    self.gap_open = false;
                }
                Event::StateChanged(new) => {
                    self.check_transition(at, now, new, gap_in_batch, attempts)?;
                    self.previous_state = new.clone();
                }
                Event::Subscription {
                    request,
                    channel,
                    outcome,
                } => {
                    let command = self.pending.remove(request);
                    let subscribe = command.as_ref().map(|(subscribe, _, _)| *subscribe);
                    self.check(command.is_some(), 0, at, || {
                        format!("{request:?} settled twice or never issued")
                    })?;
                    if let (SubscriptionOutcome::Rejected { symbols, .. }, Some(true)) =
                        (outcome, subscribe)
                    {
                        for symbol in symbols {
                            self.rejected += 1;
                            // A later subscribe of the same symbol, still
                            // unsettled, keeps it wanted. (One settled
                            // before cannot: asking again withdraws the
                            // refusal from older commands, so a listed
                            // symbol was refused after every later ask.)
                            let asked_again =
                                self.pending.range(*request..).any(|(_, (sub, c, list))| {
                                    *sub && c == channel && list.contains(symbol)
                                });
                            if !asked_again {
                                self.app_desired.remove(*channel, symbol);
                            }
                        }
                    }
                }
                Event::Refused {
                    channel, symbols, ..
                } => {
                    // Refusals of symbols no pending command named (a
                    // re-subscription after a reconnect): reported, so the
                    // application no longer counts on them.
                    for symbol in symbols {
                        self.rejected += 1;
                        self.app_desired.remove(*channel, symbol);
                    }
                }
                Event::Error { error, fatal: true } => {
                    let code = error.code();
                    let allowed = matches!(code, Some(401 | 402 | 403 | 404 | 409 | 411 | 412))
                        || matches!(
                            error,
                            StreamError::AuthRejected { .. } | StreamError::Encode(_)
                        )
                        || matches!(error, StreamError::Server { code: None, .. })
                        || matches!(error, StreamError::Transport(TransportError::InvalidUrl(_)));
                    self.check(allowed, 9, at, || {
                        format!("unexpected fatal error {error:?}")
                    })?;
                }
                _ => {}
            }
        }
        if self.note.fatal {
            self.check(matches!(state, State::Failed { .. }), 9, at, || {
                format!("a fatal server error left the stream {}", state.name())
            })?;
        }
        if self.note.garbage {
            self.check(!state.is_terminal(), 12, at, || {
                "an undecodable frame stopped the stream".into()
            })?;
        }
        if state.is_live() {
            let open = self.gap_open;
            self.check(!open, 10, at, || {
                "live again without a resumed event".into()
            })?;
        }
        Ok(())
    }

    fn check_transition(
        &mut self,
        at: Duration,
        now: Instant,
        state: &State,
        gap_in_batch: bool,
        attempts: u32,
    ) -> Checked {
        match state {
            State::Live { .. } => {
                let conn = self.conn.clone();
                let ok = conn.as_ref().is_some_and(|c| c.authenticated);
                self.check(ok, 10, at, || {
                    format!("live before authentication ({conn:?})")
                })?;
                let acked =
                    conn.as_ref().is_some_and(|c| c.acks > 0) || self.app_desired.is_empty();
                self.check(acked, 10, at, || {
                    format!("live before the subscription ack ({conn:?})")
                })?;
                self.attempts_when_live = attempts;
            }
            State::Subscribed { reconnect_at } if self.previous_state.epoch().is_some() => {
                let delay = reconnect_at.saturating_duration_since(now);
                let (floor, max) = (self.floor_after_limit, self.backoff_max);
                if self.note.after_limit {
                    self.check(delay >= floor, 8, at, || {
                        format!("{delay:?} below the floor {floor:?} after 406/429")
                    })?;
                    self.check(delay <= floor + max, 8, at, || {
                        format!("{delay:?} above floor + cap")
                    })?;
                } else {
                    self.check(delay <= max, 8, at, || {
                        format!("{delay:?} above the cap {max:?}")
                    })?;
                }
                if let State::Live { since, .. } = self.previous_state {
                    let gap = gap_in_batch || self.gap_open;
                    self.check(gap, 10, at, || "live lost without a gap event".into())?;
                    if now.saturating_duration_since(since) < self.reset_after {
                        let before = self.attempts_when_live;
                        self.check(attempts > before, 8, at, || {
                            format!("backoff reset after a short live spell ({before} → {attempts} attempts)")
                        })?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks that hold between inputs: the machine wants what the
    /// application asked for (minus rejections), and is quiet after shutdown.
    pub fn check_steady(
        &mut self,
        at: Duration,
        desired: &SubscriptionSet,
        state: &State,
        timeout: Option<Instant>,
    ) -> Checked {
        if self.shut_down {
            self.check(timeout.is_none(), 13, at, || {
                "a timer still set after shutdown".into()
            })?;
            return self.check(*state == State::Closed, 13, at, || {
                format!("{} after shutdown", state.name())
            });
        }
        if state.is_terminal() {
            return Ok(());
        }
        // The common case, the same sets, by one linear comparison (the
        // pairwise lookups below only when they differ).
        if desired == &self.app_desired {
            return self.check(true, 0, at, String::new);
        }
        // A symbol the machine gave up while its subscribe command is still
        // pending is reported when that command settles.
        let awaiting_verdict = |c: Channel, s: &Symbol| {
            self.pending.values().any(|(subscribe, channel, symbols)| {
                *subscribe && *channel == c && symbols.contains(s)
            })
        };
        // Merge walks over the two sorted sets.
        let within_app = desired.difference(&self.app_desired).next().is_none();
        let same = within_app
            && self
                .app_desired
                .difference(desired)
                .all(|(c, s)| awaiting_verdict(c, s));
        let dropped = !same && within_app;
        let app = (!same).then(|| self.app_desired.clone());
        let rule = if dropped && self.note.rejection { 6 } else { 0 };
        self.check(same, rule, at, || {
            format!(
                "the machine wants {desired:?}, the application asked for {app:?} \
                 (minus the rejections it was told of)"
            )
        })
    }
}

/// Membership in a set, asked of pairs in the set's own order: a cursor
/// that only moves forward.
struct Members<'a, I: Iterator<Item = (Channel, &'a Symbol)>> {
    rest: Peekable<I>,
}

/// Membership in `set`, asked in ascending order.
fn members(set: &SubscriptionSet) -> Members<'_, impl Iterator<Item = (Channel, &Symbol)>> {
    Members {
        rest: set.iter().peekable(),
    }
}

impl<'a, I: Iterator<Item = (Channel, &'a Symbol)>> Members<'a, I> {
    /// Whether the set holds the pair; pairs must be asked in ascending order.
    fn holds(&mut self, channel: Channel, symbol: &Symbol) -> bool {
        while let Some(&(c, s)) = self.rest.peek() {
            match (c, s).cmp(&(channel, symbol)) {
                Ordering::Less => {
                    self.rest.next();
                }
                Ordering::Equal => return true,
                Ordering::Greater => return false,
            }
        }
        false
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::{Duration, Instant};

    use tickwire_alpaca::{Channel, SubscriptionSet};
    use tickwire_core::machine::{
        Action, ConnectionEpoch, Event, MachineConfig, State, StreamKind,
    };
    use tickwire_core::{ConnectRequest, Credentials, Frame, Symbol};

    use super::{ClientDecode, ClientMessage, Heard, InputNote, Rules};

    fn epoch(n: u64) -> ConnectionEpoch {
        // Epochs are opaque; take real ones from a machine's connect actions.
        let config = MachineConfig::new("wss://x/v2/iex", Credentials::new("k", "s"));
        let mut machine = tickwire_core::machine::Machine::account_stream(
            config,
            tickwire_alpaca::AlpacaTrading::default(),
            Instant::now(),
        );
        let mut last = None;
        for _ in 0..n {
            while let Some(action) = machine.poll_action() {
                if let Action::Connect { epoch, .. } = action {
                    last = Some(epoch);
                }
            }
            machine.handle_transport_error(
                Instant::now(),
                machine.last_epoch(),
                &tickwire_core::TransportError::Io("x".into()),
            );
            machine.handle_timeout(Instant::now() + Duration::from_secs(3600));
        }
        last.expect("a connect")
    }

    fn connect(e: ConnectionEpoch) -> Action {
        Action::Connect {
            epoch: e,
            request: ConnectRequest {
                url: "wss://x/v2/iex".into(),
                headers: Vec::new(),
            },
        }
    }

    fn rules() -> Rules {
        let mut config = MachineConfig::new("wss://x/v2/iex", Credentials::new("k", "secret-xyz"));
        config.frame_bytes_max = 64;
        Rules::new(0, StreamKind::Symbols, &config, true)
    }

    /// Rules that have seen connection `epoch` asked for, while idle with
    /// these sets, and opened.
    fn opened(
        epoch: ConnectionEpoch,
        desired: &SubscriptionSet,
        confirmed: &SubscriptionSet,
        decodes: &mut VecDeque<ClientDecode>,
    ) -> Rules {
        let mut r = rules();
        r.check_actions(
            Duration::ZERO,
            &[connect(epoch)],
            desired,
            confirmed,
            &State::Idle,
            decodes,
        )
        .expect("a connect");
        r.on_connected(epoch);
        r
    }

    #[test]
    fn the_checks_catch_broken_rules() {
        let (at, now, idle) = (Duration::ZERO, Instant::now(), State::Idle);
        let empty = SubscriptionSet::new();
        let (first, second) = (epoch(1), epoch(2));
        let mut decodes = VecDeque::new();

        // Rule 1: a connection with nothing wanted.
        let broken =
            rules().check_actions(at, &[connect(first)], &empty, &empty, &idle, &mut decodes);
        assert_eq!(broken.map_err(|v| v.rule), Err(1));

        // Rule 2: a second connection while the first is open.
        let mut wanted = SubscriptionSet::new();
        wanted.insert(Channel::Trades, Symbol::from_server("AAPL"));
        let two = [connect(first), connect(second)];
        let broken = rules().check_actions(at, &two, &wanted, &empty, &idle, &mut decodes);
        assert_eq!(broken.map_err(|v| v.rule), Err(2));

        // Rule 3: credentials before the greeting.
        let mut r = opened(first, &wanted, &empty, &mut decodes);
        let auth = Action::Send {
            epoch: first,
            frame: Frame::text(r#"{"action":"auth","key":"k","secret":"secret-xyz"}"#),
        };
        let broken = r.check_actions(at, &[auth], &wanted, &empty, &idle, &mut decodes);
        assert_eq!(broken.map_err(|v| v.rule), Err(3));

        // Rule 7: a frame over the limit.
        let mut r = opened(first, &wanted, &empty, &mut decodes);
        let big = Action::Send {
            epoch: first,
            frame: Frame::text(format!(
                r#"{{"action":"subscribe","trades":["{}"]}}"#,
                "A".repeat(80)
            )),
        };
        let broken = r.check_actions(at, &[big], &wanted, &empty, &idle, &mut decodes);
        assert_eq!(broken.map_err(|v| v.rule), Err(7));

        // Rule 10: resumed without a gap.
        let mut r = rules();
        r.note_input(InputNote::default());
        let resumed: Event<(), Channel> = Event::Resumed {
            epoch: first,
            gap_since: now,
            lost_for: Duration::ZERO,
            lost_at: None,
            resumed_at: None,
            last_data_at: None,
        };
        let broken = r.check_events(at, now, &[resumed], 0, &idle);
        assert_eq!(broken.map_err(|v| v.rule), Err(10));

        // Rule 13: anything after shutdown.
        let mut r = rules();
        r.on_shutdown(at, None, &[]).expect("a clean shutdown");
        let broken = r.check_actions(
            at,
            &[connect(first)],
            &wanted,
            &empty,
            &State::Closed,
            &mut decodes,
        );
        assert_eq!(broken.map_err(|v| v.rule), Err(13));
    }

    #[test]
    fn requests_must_be_minimal() {
        let (at, idle, first) = (Duration::ZERO, State::Idle, epoch(1));
        let pairs = |symbols: &[&str]| -> SubscriptionSet {
            symbols
                .iter()
                .map(|s| (Channel::Trades, Symbol::from_server(s)))
                .collect()
        };
        let desired = pairs(&["AAPL", "MSFT", "TSLA"]);
        let confirmed = pairs(&["IBM", "MSFT"]);
        let send = |text: &str| Action::Send {
            epoch: first,
            frame: Frame::text(text.to_owned()),
        };
        let request = |text: &str| {
            let mut decodes = VecDeque::new();
            let mut r = opened(first, &desired, &confirmed, &mut decodes);
            r.on_inbound(first, Heard::Greeting);
            r.check_actions(
                at,
                &[send(r#"{"action":"auth","key":"k","secret":"secret-xyz"}"#)],
                &desired,
                &confirmed,
                &idle,
                &mut decodes,
            )
            .expect("credentials after the greeting");
            assert!(
                decodes.len() == 1 && matches!(decodes[0], Ok(ClientMessage::Auth { .. })),
                "the credentials' decode is handed on: {decodes:?}"
            );
            r.on_inbound(first, Heard::Authenticated);
            r.check_actions(at, &[send(text)], &desired, &confirmed, &idle, &mut decodes)
                .map_err(|v| v.rule)
        };
        assert_eq!(
            request(r#"{"action":"subscribe","trades":["AAPL","TSLA"]}"#),
            Ok(())
        );
        assert_eq!(
            request(r#"{"action":"unsubscribe","trades":["IBM"]}"#),
            Ok(())
        );
        // Already confirmed, not wanted, still wanted, not confirmed.
        assert_eq!(
            request(r#"{"action":"subscribe","trades":["AAPL","MSFT"]}"#),
            Err(5)
        );
        assert_eq!(
            request(r#"{"action":"subscribe","trades":["AAPL","ZZZ"]}"#),
            Err(5)
        );
        assert_eq!(
            request(r#"{"action":"unsubscribe","trades":["IBM","MSFT"]}"#),
            Err(5)
        );
        assert_eq!(
            request(r#"{"action":"unsubscribe","trades":["TSLA"]}"#),
            Err(5)
        );
    }
}
