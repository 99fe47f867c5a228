//! Model-based property tests: random sequences of commands, transport
//! events, server replies, garbage and time jumps, with the rules of docs/ARCHITECTURE.md
//! 1–13 checked after every step.
//!
//! Which check covers which rule is marked `rule N` below.

#[path = "machine_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use support::{SECRET, SentRequest, ack_frame, error_frame, sym, trade_time, trades_frame};
use tickwire_alpaca::{AlpacaMarketData, Encoding, MarketData};
use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::machine::{
    Action, Event, Machine, MachineConfig, RequestId, State, StreamError, SubscriptionOutcome,
};
use tickwire_core::{Frame, Symbol, Timestamp, TransportError, WallClock};

const FRAME_BYTES_MAX: usize = 96;
const POOL: [&str; 8] = ["AAPL", "MSFT", "AMD", "TSLA", "SPY", "QQQ", "IBM", "*"];
const CHANNELS: [Channel; 3] = [Channel::Trades, Channel::Quotes, Channel::Bars];
const ALL_CODES: [u16; 14] = [
    400, 401, 402, 403, 404, 405, 406, 407, 409, 410, 411, 412, 413, 500,
];

#[derive(Debug, Clone)]
enum Step {
    Subscribe(Channel, Vec<&'static str>),
    Unsubscribe(Channel, Vec<&'static str>),
    TransportOpens,
    UpgradeRefused(u16),
    ServerGreets,
    ServerAuthenticates,
    ServerAcks,
    ServerRepeatsLastAck,
    ServerError(u16),
    ServerData(u64),
    Garbage { binary: bool, bytes: Vec<u8> },
    ConnectionLost,
    Advance(Duration),
    TimeoutEarly,
    Quiesce,
    Shutdown,
}

/// The reference: what the application asked for, and whether it shut down.
#[derive(Debug, Clone, Default)]
struct Reference {
    desired: BTreeSet<(Channel, &'static str)>,
    shut_down: bool,
}

impl ReferenceStateMachine for Reference {
    type State = Self;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Self> {
        Just(Self::default()).boxed()
    }

    fn transitions(_: &Self) -> BoxedStrategy<Step> {
        let symbols = || proptest::sample::subsequence(POOL.to_vec(), 1..4);
        let channel = || proptest::sample::select(CHANNELS.to_vec());
        prop_oneof![
            6 => (channel(), symbols()).prop_map(|(c, s)| Step::Subscribe(c, s)),
            3 => (channel(), symbols()).prop_map(|(c, s)| Step::Unsubscribe(c, s)),
            5 => Just(Step::TransportOpens),
            1 => proptest::sample::select(vec![429u16, 401, 503]).prop_map(Step::UpgradeRefused),
            5 => Just(Step::ServerGreets),
            5 => Just(Step::ServerAuthenticates),
            8 => Just(Step::ServerAcks),
            1 => Just(Step::ServerRepeatsLastAck),
            2 => proptest::sample::select(ALL_CODES.to_vec()).prop_map(Step::ServerError),
            4 => (1u64..5).prop_map(Step::ServerData),
            1 => (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..48))
                .prop_map(|(binary, bytes)| Step::Garbage { binary, bytes }),
            2 => Just(Step::ConnectionLost),
            4 => (0u64..90_000).prop_map(|ms| Step::Advance(Duration::from_millis(ms))),
            1 => Just(Step::TimeoutEarly),
            2 => Just(Step::Quiesce),
            1 => Just(Step::Shutdown),
        ]
        .boxed()
    }

    fn apply(mut state: Self, step: &Step) -> Self {
        if state.shut_down {
            return state;
        }
        match step {
            Step::Subscribe(c, symbols) => state.desired.extend(symbols.iter().map(|s| (*c, *s))),
            Step::Unsubscribe(c, symbols) => {
                for s in symbols {
                    state.desired.remove(&(*c, *s));
                }
            }
            Step::Shutdown => state.shut_down = true,
            _ => {}
        }
        state
    }
}

/// The connection the machine asked for, as the transport and server see it
/// (by default: nothing seen yet).
#[derive(Debug, Default)]
struct Link {
    epoch: tickwire_core::machine::ConnectionEpoch,
    opened: bool,
    greeted: bool,
    auth_frames: u32,
    authenticated: bool,
    acks: u32,
    server_set: SubscriptionSet,
    unanswered: VecDeque<SentRequest>,
}

impl Link {
    /// A connection just asked for: nothing seen on it yet.
    fn asked_for(epoch: tickwire_core::machine::ConnectionEpoch) -> Self {
        Self {
            epoch,
            ..Self::default()
        }
    }
}

/// The system under test: a machine, a virtual clock, a server, and the
/// bookkeeping each rule needs.
struct Rig {
    machine: Machine<AlpacaMarketData>,
    config: MachineConfig,
    now: Instant,
    link: Option<Link>,
    previous_state: State,
    gap_open: bool,
    /// The open gap's wall-clock times, as its `Gap` event gave them.
    gap_times: Option<(Option<Timestamp>, Option<Timestamp>)>,
    loss_after_limit: bool,
    fatal_seen: bool,
    shut_down: bool,
    next_trade: u64,
    expected_trades: Vec<u64>,
    delivered_trades: Vec<u64>,
    rejected: SubscriptionSet,
    subscribe_requests: BTreeSet<RequestId>,
    /// The last subscribe command that named each pair: a rejection
    /// settled for an earlier command does not undo a later ask.
    last_ask: BTreeMap<(Channel, Symbol), RequestId>,
}

impl Rig {
    fn new() -> Self {
        let mut config = support::config();
        config.frame_bytes_max = FRAME_BYTES_MAX;
        config.data_silence_timeout = Some(Duration::from_secs(45));
        let now = Instant::now();
        config.wall_clock = Some(WallClock::new(now, "2024-01-02T14:30:00Z".parse().unwrap()));
        let machine = Machine::symbol_stream(config.clone(), AlpacaMarketData::new(Encoding::Json));
        Self {
            machine,
            config,
            now,
            link: None,
            previous_state: State::Idle,
            gap_open: false,
            gap_times: None,
            loss_after_limit: false,
            fatal_seen: false,
            shut_down: false,
            next_trade: 1,
            expected_trades: Vec::new(),
            delivered_trades: Vec::new(),
            rejected: SubscriptionSet::new(),
            subscribe_requests: BTreeSet::new(),
            last_ask: BTreeMap::new(),
        }
    }

    /// The wall-clock time the machine was given for `at`.
    fn wall(&self, at: Instant) -> Timestamp {
        let clock = self.config.wall_clock.expect("the rig gives a wall clock");
        clock.at(at)
    }

    fn machine_has_open(&self, epoch: tickwire_core::machine::ConnectionEpoch) -> bool {
        match self.machine.state() {
            State::Connecting {
                epoch: e, phase, ..
            } => *e == epoch && *phase != tickwire_core::machine::ConnectPhase::Dialing,
            State::Live { epoch: e, .. } => *e == epoch,
            _ => false,
        }
    }

    fn server_frame(&mut self, text: &str) {
        if let Some(epoch) = self.link.as_ref().filter(|l| l.opened).map(|l| l.epoch) {
            self.machine
                .handle_frame(self.now, epoch, &Frame::text(text));
        }
    }

    fn apply(&mut self, step: Step) {
        self.loss_after_limit = false;
        match step {
            Step::Subscribe(channel, symbols) => {
                if let Ok(id) =
                    self.machine
                        .subscribe(self.now, channel, symbols.iter().map(|s| sym(s)))
                {
                    self.subscribe_requests.insert(id);
                    // Asking again after a rejection asks afresh.
                    for s in &symbols {
                        self.rejected.remove(channel, &sym(s));
                        self.last_ask.insert((channel, sym(s)), id);
                    }
                }
            }
            Step::Unsubscribe(channel, symbols) => {
                let _ = self
                    .machine
                    .unsubscribe(self.now, channel, symbols.iter().map(|s| sym(s)));
            }
            Step::TransportOpens => {
                if let Some(link) = self.link.as_mut().filter(|l| !l.opened) {
                    link.opened = true;
                    let epoch = link.epoch;
                    self.machine.handle_connected(self.now, epoch);
                }
            }
            Step::UpgradeRefused(status) => {
                if let Some(link) = self.link.take_if(|l| !l.opened) {
                    self.loss_after_limit = status == 429;
                    self.machine.handle_transport_error(
                        self.now,
                        link.epoch,
                        &TransportError::Refused { status },
                    );
                }
            }
            Step::ServerGreets => {
                if let Some(link) = self.link.as_mut().filter(|l| l.opened && !l.greeted) {
                    link.greeted = true;
                    self.server_frame(r#"[{"T":"success","msg":"connected"}]"#);
                }
            }
            Step::ServerAuthenticates => {
                if let Some(link) = self
                    .link
                    .as_mut()
                    .filter(|l| l.auth_frames == 1 && !l.authenticated)
                {
                    link.authenticated = true;
                    self.server_frame(r#"[{"T":"success","msg":"authenticated"}]"#);
                }
            }
            Step::ServerAcks => {
                if let Some(link) = self.link.as_mut().filter(|l| !l.unanswered.is_empty()) {
                    let request = link.unanswered.pop_front().expect("checked non-empty");
                    request.apply_to(&mut link.server_set);
                    link.acks += 1;
                    let ack = ack_frame(&link.server_set);
                    self.server_frame(&ack);
                }
            }
            Step::ServerRepeatsLastAck => {
                if let Some(link) = self.link.as_ref().filter(|l| l.authenticated && l.acks > 0) {
                    let ack = ack_frame(&link.server_set);
                    self.server_frame(&ack);
                }
            }
            Step::ServerError(code) => {
                let Some(link) = self.link.as_mut().filter(|l| l.opened) else {
                    return;
                };
                if matches!(code, 400 | 405 | 410 | 413) {
                    // The server refuses the oldest request and keeps its set.
                    link.unanswered.pop_front();
                }
                self.loss_after_limit = code == 406;
                self.fatal_seen |= matches!(code, 402 | 409 | 411 | 412);
                self.server_frame(&error_frame(code, "scripted error"));
            }
            Step::ServerData(count) => {
                let Some(epoch) = self.link.as_ref().filter(|l| l.opened).map(|l| l.epoch) else {
                    return;
                };
                let first = self.next_trade;
                self.next_trade += count;
                if self.machine_has_open(epoch) {
                    self.expected_trades.extend(first..first + count); // rule 11
                }
                self.server_frame(&trades_frame("AAPL", first, count));
            }
            Step::Garbage { binary, bytes } => {
                if let Some(epoch) = self.link.as_ref().filter(|l| l.opened).map(|l| l.epoch) {
                    let frame = if binary {
                        Frame::binary(bytes)
                    } else {
                        Frame::Text(bytes.into())
                    };
                    self.machine.handle_frame(self.now, epoch, &frame); // rule 12: no panic
                }
            }
            Step::ConnectionLost => {
                if let Some(link) = self.link.take() {
                    self.machine.handle_transport_error(
                        self.now,
                        link.epoch,
                        &TransportError::Io("reset".into()),
                    );
                }
            }
            Step::Advance(by) => {
                self.now += by;
                self.machine.handle_timeout(self.now);
            }
            Step::TimeoutEarly => self.machine.handle_timeout(self.now),
            Step::Quiesce => return self.quiesce(),
            Step::Shutdown => {
                self.shut_down = true;
                let epoch = self.machine.state().epoch();
                self.machine.shutdown(self.now);
                let actions: Vec<_> = std::iter::from_fn(|| self.machine.poll_action()).collect();
                // rule 13: the final close, nothing else.
                let expected: Vec<_> = epoch
                    .map(|epoch| Action::Close { epoch })
                    .into_iter()
                    .collect();
                assert_eq!(actions, expected, "rule 13");
                self.link = None;
            }
        }
        self.drain();
    }

    /// Faults off: a faithful server and a transport that opens, until the
    /// machine settles. Then rule 6: confirmed == desired (minus rejections).
    fn quiesce(&mut self) {
        for _ in 0..500 {
            self.drain();
            let state = self.machine.state().clone();
            if state.is_terminal()
                || (state.is_live()
                    && !self.machine.has_request_in_flight()
                    && self.machine.confirmed() == self.machine.desired())
                || (state == State::Idle && self.machine.desired().is_empty())
            {
                break;
            }
            let step = match &self.link {
                Some(l) if !l.opened => Step::TransportOpens,
                Some(l) if !l.greeted => Step::ServerGreets,
                Some(l) if l.auth_frames == 1 && !l.authenticated => Step::ServerAuthenticates,
                Some(l) if !l.unanswered.is_empty() => Step::ServerAcks,
                _ => match self.machine.poll_timeout() {
                    Some(at) => {
                        self.now = self.now.max(at);
                        self.machine.handle_timeout(self.now);
                        continue;
                    }
                    None => break,
                },
            };
            self.apply(step);
        }
        self.drain();
        let state = self.machine.state();
        if state.is_terminal() {
            return;
        }
        let desired = self.machine.desired().clone();
        assert_eq!(
            self.machine.confirmed(),
            &desired,
            "rule 6: after quiescence confirmed == desired"
        );
        if desired.is_empty() {
            assert!(
                matches!(state, State::Idle | State::Live { .. }),
                "{state:?}"
            );
        } else {
            assert!(state.is_live(), "rule 6: settled but not live: {state:?}");
        }
    }

    /// Takes every action and event, checking each rule as it goes.
    fn drain(&mut self) {
        let actions: Vec<Action> = std::iter::from_fn(|| self.machine.poll_action()).collect();
        for (index, action) in actions.iter().enumerate() {
            if self.shut_down {
                panic!("rule 13: action after shutdown: {action:?}");
            }
            match action {
                Action::Connect { epoch, .. } => {
                    assert!(
                        !self.fatal_seen || !self.machine.state().is_terminal(),
                        "rule 9: connect after fatal"
                    );
                    let closed_in_batch = actions[index..]
                        .iter()
                        .any(|a| matches!(a, Action::Close { epoch: e } if e == epoch));
                    assert!(
                        !self.machine.desired().is_empty() || closed_in_batch,
                        "rule 1: connect with nothing wanted"
                    );
                    assert!(
                        self.link.is_none(),
                        "rule 2: connect while {:?} is open",
                        self.link
                    );
                    self.link = Some(Link::asked_for(*epoch));
                }
                Action::Close { epoch } => {
                    if self.link.as_ref().is_some_and(|l| l.epoch == *epoch) {
                        self.link = None;
                    }
                }
                Action::Send { epoch, frame } => {
                    let link = self
                        .link
                        .as_mut()
                        .filter(|l| l.epoch == *epoch && l.opened)
                        .expect("send only on the open connection");
                    if !frame.is_message() {
                        continue;
                    }
                    assert!(
                        frame.len() <= FRAME_BYTES_MAX,
                        "rule 7: {} bytes",
                        frame.len()
                    );
                    let text = String::from_utf8_lossy(frame.payload()).into_owned();
                    if text.contains(SECRET) {
                        assert!(link.greeted, "rule 3: credentials before the greeting");
                        link.auth_frames += 1;
                        assert_eq!(
                            link.auth_frames, 1,
                            "rule 3: credentials twice on one connection"
                        );
                    } else if let Some(request) = SentRequest::parse(frame) {
                        assert!(
                            link.authenticated,
                            "rule 4: subscription before authentication"
                        );
                        assert!(link.unanswered.is_empty(), "rule 5: two requests in flight");
                        for (c, s) in request.items.iter() {
                            // rule 5: a minimal diff against the server's set and the desired set.
                            let wanted = self.machine.desired().contains(c, s);
                            let confirmed = self.machine.confirmed().contains(c, s);
                            if request.subscribe {
                                assert!(
                                    wanted && !confirmed,
                                    "rule 5: needless subscribe of {c} {s}"
                                );
                            } else {
                                assert!(
                                    !wanted && confirmed,
                                    "rule 5: needless unsubscribe of {c} {s}"
                                );
                            }
                        }
                        link.unanswered.push_back(request);
                    } else {
                        panic!("unexpected frame {text}");
                    }
                }
            }
        }
        let events: Vec<_> = std::iter::from_fn(|| self.machine.poll_event()).collect();
        let mut gap_in_batch = false;
        for event in events {
            match event {
                Event::Data(MarketData::Trade(trade)) => {
                    self.delivered_trades.push(trade.id.unwrap_or(0))
                }
                Event::Data(other) => panic!("unexpected data {other:?}"),
                Event::Gap {
                    since,
                    lost_at,
                    last_data_at,
                    ..
                } => {
                    assert!(
                        self.previous_state.is_live(),
                        "rule 10: gap without losing live"
                    );
                    assert!(!self.gap_open, "rule 10: two gaps without a resume");
                    self.gap_open = true;
                    gap_in_batch = true;
                    // The gap's wall-clock times: its loss, and the last trade delivered.
                    assert_eq!((since, lost_at), (self.now, Some(self.wall(self.now))));
                    let last = self.delivered_trades.last().map(|id| trade_time(*id));
                    assert_eq!(last_data_at, last, "the last data message's time");
                    self.gap_times = Some((lost_at, last_data_at));
                }
                Event::Resumed {
                    gap_since,
                    lost_for,
                    lost_at,
                    resumed_at,
                    last_data_at,
                    ..
                } => {
                    assert!(self.gap_open, "rule 10: resumed without a gap");
                    self.gap_open = false;
                    // The gap's times come back unchanged; the resume is now.
                    assert_eq!(self.gap_times.take(), Some((lost_at, last_data_at)));
                    assert_eq!(resumed_at, Some(self.wall(self.now)));
                    assert_eq!(lost_at, Some(self.wall(gap_since)));
                    assert_eq!(gap_since + lost_for, self.now);
                }
                Event::StateChanged(state) => {
                    self.check_transition(&state, gap_in_batch);
                    self.previous_state = state;
                }
                Event::Subscription {
                    outcome: SubscriptionOutcome::Rejected { symbols, .. },
                    channel,
                    request,
                } if self.subscribe_requests.contains(&request) => {
                    for s in symbols {
                        let asked_since = self
                            .last_ask
                            .get(&(channel, s.clone()))
                            .is_some_and(|last| *last > request);
                        if !asked_since {
                            self.rejected.insert(channel, s);
                        }
                    }
                }
                Event::Refused {
                    channel, symbols, ..
                } => {
                    for s in symbols {
                        self.rejected.insert(channel, s);
                    }
                }
                Event::Error { fatal: true, error } => {
                    // rule 9: fatal errors carry the server's code.
                    let code = error.code();
                    assert!(
                        matches!(code, Some(402 | 409 | 411 | 412 | 401))
                            || matches!(
                                error,
                                StreamError::AuthRejected { .. } | StreamError::Encode(_)
                            ),
                        "rule 9: unexpected fatal {error:?}"
                    );
                }
                _ => {}
            }
        }
    }

    fn check_transition(&self, state: &State, gap_in_batch: bool) {
        match state {
            State::Live { .. } => {
                let link = self.link.as_ref().expect("live without a connection");
                assert!(link.authenticated, "rule 10: live before authentication");
                assert!(
                    link.acks > 0 || self.machine.desired().is_empty(),
                    "rule 10: live before the subscription ack"
                );
            }
            State::Subscribed { reconnect_at } if self.previous_state.epoch().is_some() => {
                // rule 8: delays are capped, and floored after a limit error.
                let delay = reconnect_at.saturating_duration_since(self.now);
                let floor = self.config.backoff_floor_after_limit;
                if self.loss_after_limit {
                    assert!(
                        delay >= floor,
                        "rule 8: {delay:?} below the floor after 406/429"
                    );
                    assert!(
                        delay <= floor + self.config.backoff_max,
                        "rule 8: {delay:?}"
                    );
                } else {
                    assert!(
                        delay <= self.config.backoff_max,
                        "rule 8: {delay:?} above the cap"
                    );
                }
                if self.previous_state.is_live() {
                    assert!(
                        gap_in_batch || self.gap_open,
                        "rule 10: live lost without a gap"
                    );
                }
            }
            _ => {}
        }
    }
}

struct MachineRules;

impl StateMachineTest for MachineRules {
    type SystemUnderTest = Rig;
    type Reference = Reference;

    fn init_test(_: &Reference) -> Rig {
        Rig::new()
    }

    fn apply(mut rig: Rig, _: &Reference, step: Step) -> Rig {
        rig.apply(step);
        rig
    }

    fn check_invariants(rig: &Rig, reference: &Reference) {
        // rule 11: every data frame received while connected, exactly once, in order.
        assert_eq!(rig.delivered_trades, rig.expected_trades, "rule 11");
        // The machine wants what the application asked for, minus reported rejections.
        if !reference.shut_down && !rig.machine.state().is_terminal() {
            let expected: SubscriptionSet = reference
                .desired
                .iter()
                .map(|(c, s)| (*c, sym(s)))
                .filter(|(c, s)| !rig.rejected.contains(*c, s))
                .collect();
            let desired = rig.machine.desired();
            assert!(
                desired.iter().all(|(c, s)| expected.contains(c, s)),
                "desired {desired:?} ⊄ {expected:?}"
            );
        }
        // rule 13: nothing pending after shutdown.
        if rig.shut_down {
            assert_eq!(
                rig.machine.poll_timeout(),
                None,
                "rule 13: timers after shutdown"
            );
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        .. ProptestConfig::default()
    })]

    #[test]
    fn the_machine_keeps_every_rule(sequential 1..80 => MachineRules);
}

proptest! {
    /// rule 12: no bytes, as text or binary, panic the machine in any phase.
    #[test]
    fn arbitrary_frames_never_panic(frames in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..256)), 1..20)) {
        let mut fixture = support::Fixture::market();
        let epoch = fixture.live_with(Channel::Trades, &["AAPL"]);
        for (binary, bytes) in frames {
            let frame = if binary { Frame::binary(bytes) } else { Frame::Text(bytes.into()) };
            fixture.machine.handle_frame(fixture.now, epoch, &frame);
            fixture.drain();
        }
        prop_assert!(!matches!(fixture.machine.state(), State::Closed));
    }
}

/// Found by the sweep: a command's rejection reported after the application
/// asked for the same symbol again must not count against the new ask.
#[test]
fn a_rejection_settled_after_asking_again_does_not_count() {
    let steps = [
        Step::Subscribe(Channel::Trades, vec!["QQQ"]),
        Step::Quiesce,
        Step::Subscribe(Channel::Bars, vec!["AAPL", "MSFT"]),
        Step::ServerError(410),
        Step::ServerError(400),
        Step::Subscribe(Channel::Bars, vec!["AAPL"]),
        Step::Quiesce,
    ];
    let mut reference = Reference::default();
    let mut rig = Rig::new();
    for step in steps {
        reference = <Reference as ReferenceStateMachine>::apply(reference, &step);
        rig = <MachineRules as StateMachineTest>::apply(rig, &reference, step);
        MachineRules::check_invariants(&rig, &reference);
    }
}
