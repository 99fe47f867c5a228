//! The simulation engine: machines, link and exchange in one thread, in
//! virtual time.
//!
//! Time is a base `Instant` plus an offset that only moves forward, jumping
//! to the earliest of every deadline: the machines' and the exchange's
//! `poll_timeout`s, link deliveries, the next user command and the next
//! fault. At each instant exactly one thing happens (one *step*); the order
//! among things due at the same instant is fixed, so a seed replays exactly.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tickwire_alpaca::{
    AlpacaMarketData, AlpacaTrading, Channel, MarketData, TradeUpdate, decode_client_message,
};
use tickwire_core::machine::{Action, ConnectionEpoch, Event, Machine, StreamKind};
use tickwire_core::{ConnectRequest, Frame, Timestamp, TransportError, WallClock};
use tickwire_mock::{Endpoint, Exchange, Fault, FaultPlan, Faults, OrderChange, Output, SessionId};

use super::backfill::MarketRecovery;
use super::checks::{ClientDecode, Violation};
use super::faults::{FaultMix, Shot};
use super::link::{ConnId, Delivery, Link, LinkConfig};
use super::reconcile::AccountRecovery;
use super::recording::{MachineInput, Recording};
use super::rest::RestFaults;
use super::rest_fetch::RestWorld;
use super::sabotage::Sabotage;
use super::scenario::{KEY_ID, Scenario};
use super::stream::{Ctx, Driven, Settledness, SimStream, printable};
use super::tee::Teed;
use super::trace::Trace;
use super::workload::{Command, RngExt, WorkloadConfig};

/// How long the exchange takes to notice a peer that vanished in a hang.
const HANG_NOTICED_AFTER: Duration = Duration::from_secs(30);

/// After the liveness phase, how long at least the run goes on so that what
/// was in flight at the cut arrives (far above the link's latency and jitter).
const IN_FLIGHT_DRAIN: Duration = Duration::from_secs(5);

/// What ended a run early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A rule was broken.
    Violation(Violation),
    /// The liveness phase ran out of time.
    NotLive(String),
}

/// The deadlines of one step.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    /// The earliest of all.
    earliest: Option<Duration>,
    /// The exchange's.
    exchange: Option<Duration>,
}

/// The world of one run.
#[derive(Debug)]
pub struct World {
    base: Instant,
    at: Duration,
    exchange: Exchange,
    /// The exchange's `poll_timeout`, until the exchange is next touched.
    exchange_deadline: Cell<Option<Option<Duration>>>,
    streams: Vec<Box<dyn Driven>>,
    /// Each stream's `poll_timeout` as an offset, refreshed after each of
    /// its inputs (nothing else changes a stream).
    stream_deadlines: Vec<Option<Duration>>,
    requests: std::collections::BTreeMap<ConnId, ConnectRequest>,
    link: Link,
    link_config: LinkConfig,
    faults: FaultMix,
    workload: WorkloadConfig,
    /// Link jitter, fault and workload draws (the machines and the exchange have their own).
    rng: ChaCha8Rng,
    next_command: Option<Duration>,
    next_shot: Option<Duration>,
    come_back: Vec<bool>,
    trace: Trace,
    steps: u64,
    machine_steps: u64,
    actions: Vec<Action>,
    /// The decodes of the message frames among `actions`, in order.
    decodes: VecDeque<ClientDecode>,
    faults_on: bool,
    /// Every machine input, when recording.
    recording: Option<Recording>,
    specs: Vec<super::scenario::StreamSpec>,
    /// The wall-clock time of `base`, for the machines' gap events.
    wall_clock_start: Timestamp,
    /// Upgrades the link's HTTP front will refuse next (429 or 401).
    refusals: VecDeque<u16>,
    /// Each account stream's order reconciliation, by stream index.
    recoveries: Vec<Option<AccountRecovery>>,
    /// Each market stream's trade backfill, if it has one, by stream index.
    backfills: Vec<Option<MarketRecovery>>,
    /// The REST API's faults.
    rest_faults: RestFaults,
    /// REST draws (delays, faults): a generator of their own.
    rest_rng: ChaCha8Rng,
    /// Steps that moved a REST request or answer (not counted in `steps`,
    /// so that the safety phase spans the same machine and exchange steps).
    rest_steps: u64,
    /// Buffers kept for their capacity.
    account_events: Vec<Event<TradeUpdate, Channel>>,
    market_events: Vec<Event<MarketData, Channel>>,
    order_changes: Vec<OrderChange>,
}

impl World {
    /// A world for a scenario; `seed` seeds the engine's own draws.
    pub fn new(seed: u64, scenario: Scenario, record_trace: bool) -> Self {
        let base = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(7);
        // The machines read wall time off the exchange's own clock, so their
        // gap events name the times of the messages it stamped.
        let wall_clock_start = scenario.exchange.wall_clock_start;
        let mut scenario = scenario;
        for spec in &mut scenario.streams {
            spec.config.wall_clock = Some(WallClock::new(base, wall_clock_start));
        }
        let mut exchange = Exchange::new(scenario.exchange, base);
        let specs = scenario.streams.clone();
        let recoveries: Vec<Option<AccountRecovery>> = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                spec.account.then(|| {
                    AccountRecovery::new(
                        index,
                        spec.config.clone(),
                        wall_clock_start,
                        scenario.rest.page_limit,
                    )
                })
            })
            .collect();
        let backfills: Vec<Option<MarketRecovery>> = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let endpoint = Endpoint::from_path(path_of(&spec.config.url))?;
                spec.trade_backfill.then(|| {
                    MarketRecovery::new(
                        index,
                        spec.config.clone(),
                        wall_clock_start,
                        endpoint,
                        scenario.rest.trade_page_limit,
                    )
                })
            })
            .collect();
        if recoveries.iter().any(Option::is_some) {
            exchange.keep_journal();
        }
        let mut rest_rng = ChaCha8Rng::seed_from_u64(seed);
        rest_rng.set_stream(8);
        let mut streams: Vec<Box<dyn Driven>> = Vec::new();
        for (index, spec) in scenario.streams.into_iter().enumerate() {
            if spec.account {
                let dialect = AlpacaTrading::new(spec.encoding);
                streams.push(Box::new(SimStream::new(
                    index,
                    Machine::account_stream(spec.config, Teed::new(dialect), base),
                )));
            } else {
                let dialect = AlpacaMarketData::new(spec.encoding);
                streams.push(Box::new(SimStream::new(
                    index,
                    Machine::symbol_stream(spec.config, Teed::new(dialect)),
                )));
            }
        }
        let count = streams.len();
        let mut world = Self {
            base,
            at: Duration::ZERO,
            exchange,
            exchange_deadline: Cell::new(None),
            stream_deadlines: streams
                .iter()
                .map(|s| s.poll_timeout().map(|t| t.saturating_duration_since(base)))
                .collect(),
            streams,
            requests: std::collections::BTreeMap::new(),
            link: Link::default(),
            link_config: scenario.link,
            faults: scenario.faults,
            workload: scenario.workload,
            rng,
            next_command: None,
            next_shot: None,
            come_back: vec![false; count],
            trace: Trace::new(record_trace),
            steps: 0,
            machine_steps: 0,
            actions: Vec::new(),
            decodes: VecDeque::new(),
            faults_on: true,
            refusals: VecDeque::new(),
            recording: None,
            specs,
            wall_clock_start,
            recoveries,
            backfills,
            rest_faults: scenario.rest.faults,
            rest_rng,
            rest_steps: 0,
            account_events: Vec::new(),
            market_events: Vec::new(),
            order_changes: Vec::new(),
        };
        world.next_command = Some(world.workload.next_delay(&mut world.rng));
        world.next_shot = world.faults.next_delay(&mut world.rng);
        world
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.at
    }

    /// Steps taken (one input to a machine or the exchange, a command or a fault each).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Breaks every account stream's reconciliation on purpose, for tests
    /// that rule 14 catches it.
    pub fn sabotage_recoveries(&mut self, sabotage: Sabotage) {
        for recovery in self.recoveries.iter_mut().flatten() {
            recovery.sabotage(sabotage);
        }
        for backfill in self.backfills.iter_mut().flatten() {
            backfill.sabotage(sabotage);
        }
    }

    /// Steps that moved a REST request or answer.
    pub fn rest_steps(&self) -> u64 {
        self.rest_steps
    }

    /// Order states delivered to the application, of them reconciled, and
    /// recoveries reported failed, over all account streams.
    pub fn order_states(&self) -> [u64; 3] {
        let mut sum = [0; 3];
        for counts in self
            .recoveries
            .iter()
            .flatten()
            .map(AccountRecovery::counts)
        {
            for (total, count) in sum.iter_mut().zip(counts) {
                *total += count;
            }
        }
        sum
    }

    /// Trades delivered to the application, of them backfilled, and
    /// backfills reported failed, over all market streams with a backfill.
    pub fn trades(&self) -> [u64; 3] {
        let mut sum = [0; 3];
        for counts in self.backfills.iter().flatten().map(MarketRecovery::counts) {
            for (total, count) in sum.iter_mut().zip(counts) {
                *total += count;
            }
        }
        sum
    }

    /// Inputs given to machines (including commands).
    pub fn machine_steps(&self) -> u64 {
        self.machine_steps
    }

    /// Checks passed, over all streams.
    pub fn checks(&self) -> u64 {
        self.streams.iter().map(|s| s.checks()).sum()
    }

    /// Data events delivered between a gap and its resume, over all streams.
    pub fn data_before_resumed(&self) -> u64 {
        self.streams.iter().map(|s| s.data_before_resumed()).sum()
    }

    /// Symbols rejected by the exchange and reported, over all streams.
    pub fn rejected(&self) -> u64 {
        self.streams.iter().map(|s| s.rejected()).sum()
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Takes the trace out.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// Streams by final disposition: (settled, shut down or failed).
    pub fn dispositions(&self) -> (usize, usize) {
        let excused = self
            .streams
            .iter()
            .filter(|s| s.settledness(false) == Settledness::Excused)
            .count();
        (self.streams.len() - excused, excused)
    }

    /// Starts recording every machine input (see [`replay_machines`](super::recording::replay_machines)).
    pub fn record_inputs(&mut self) {
        self.recording = Some(Recording {
            streams: self.specs.clone(),
            wall_clock_start: self.wall_clock_start,
            inputs: Vec::new(),
        });
    }

    /// The recording, if [`record_inputs`](Self::record_inputs) was called.
    pub fn take_recording(&mut self) -> Option<Recording> {
        self.recording.take()
    }

    fn note_input(&mut self, stream: usize, input: impl FnOnce() -> MachineInput) {
        if let Some(recording) = &mut self.recording {
            recording.inputs.push((stream, self.at, input()));
        }
    }

    /// Gives every stream its creation input (account streams connect at once).
    pub fn start(&mut self) -> Result<(), Stop> {
        for index in 0..self.streams.len() {
            self.note_input(index, || MachineInput::Timeout);
            self.with_stream(index, |stream, ctx| stream.timeout(ctx))?;
        }
        Ok(())
    }

    /// Runs the safety phase: `steps` steps with faults on.
    pub fn run_safety(&mut self, steps: u64) -> Result<(), Stop> {
        let end = self.steps + steps;
        while self.steps < end {
            if !self.step()? {
                break;
            }
        }
        Ok(())
    }

    /// Turns every fault off and stops the workload, then runs until every
    /// stream is settled or `bound` of virtual time has passed. Returns the
    /// virtual time it took.
    pub fn run_liveness(&mut self, bound: Duration) -> Result<Duration, Stop> {
        self.faults_on = false;
        self.refusals.clear();
        self.next_command = None;
        self.next_shot = None;
        self.exchange_mut().set_fault_plan(FaultPlan::default());
        let now = self.now();
        let sessions: Vec<SessionId> = self.exchange.sessions().collect();
        for session in sessions {
            self.exchange_mut()
                .set_session_faults(session, Faults::NONE);
            self.exchange_mut().inject(now, session, Fault::Resume);
        }
        self.trace
            .log(self.at, || "liveness phase: faults off".into());
        let start = self.at;
        let deadline = start + bound;
        loop {
            if self.all_settled() {
                return Ok(self.at - start);
            }
            let next = self.next_time();
            if next.is_none_or(|t| t > deadline) {
                let why = self
                    .streams
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| match s.settledness(true) {
                        Settledness::Pending(why) => Some(format!("stream {i}: {why}")),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(Stop::NotLive(format!(
                    "not settled {bound:?} after faults stopped: {why}"
                )));
            }
            self.step()?;
        }
    }

    fn all_settled(&self) -> bool {
        self.streams
            .iter()
            .all(|s| !matches!(s.settledness(false), Settledness::Pending(_)))
    }

    fn now(&self) -> Instant {
        self.base + self.at
    }

    fn offset(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.base)
    }

    fn next_time(&self) -> Option<Duration> {
        self.deadlines().earliest
    }

    /// The exchange, for a call that may change its deadline.
    fn exchange_mut(&mut self) -> &mut Exchange {
        self.exchange_deadline.set(None);
        &mut self.exchange
    }

    /// The exchange's deadline as an offset (a scan of its sessions, so kept
    /// until the exchange is touched again).
    fn exchange_deadline(&self) -> Option<Duration> {
        let fresh = || self.exchange.poll_timeout().map(|t| self.offset(t));
        if let Some(deadline) = self.exchange_deadline.get() {
            debug_assert_eq!(deadline, fresh(), "a stale exchange deadline");
            return deadline;
        }
        let deadline = fresh();
        self.exchange_deadline.set(Some(deadline));
        deadline
    }

    /// The earliest deadline, and the exchange's (a scan, read once per step).
    fn deadlines(&self) -> Deadlines {
        let exchange = self.exchange_deadline();
        let mut earliest = exchange;
        let mut consider = |t: Option<Duration>| {
            if let Some(t) = t
                && earliest.is_none_or(|e| t < e)
            {
                earliest = Some(t);
            }
        };
        debug_assert!(
            self.streams
                .iter()
                .zip(&self.stream_deadlines)
                .all(|(s, d)| s.poll_timeout().map(|t| self.offset(t)) == *d),
            "a stale stream deadline"
        );
        consider(self.stream_deadlines.iter().flatten().min().copied());
        consider(self.link.next_due());
        consider(self.next_command);
        consider(self.next_shot);
        consider(self.rest_due().map(|(_, due)| due));
        Deadlines { earliest, exchange }
    }

    /// One step: jump to the earliest deadline and handle one thing due then.
    /// Returns `false` when nothing at all is scheduled.
    pub fn step(&mut self) -> Result<bool, Stop> {
        let deadlines = self.deadlines();
        let Some(next) = deadlines.earliest else {
            return Ok(false);
        };
        self.at = self.at.max(next);
        self.steps += 1;
        let now = self.now();
        if let Some((conn, delivery)) = self.link.pop_due(self.at) {
            self.deliver(conn, delivery)?;
            return Ok(true);
        }
        if let Some(index) = self
            .stream_deadlines
            .iter()
            .position(|t| t.is_some_and(|t| t <= self.at))
        {
            self.note_input(index, || MachineInput::Timeout);
            self.with_stream(index, |stream, ctx| stream.timeout(ctx))?;
            return Ok(true);
        }
        if deadlines.exchange.is_some_and(|t| t <= self.at) {
            self.exchange_mut().handle_timeout(now);
            self.trace.record(self.at, 0xe00, &[]);
            self.pump_exchange();
            return Ok(true);
        }
        if self.next_command.is_some_and(|t| t <= self.at) {
            self.next_command = Some(self.at + self.workload.next_delay(&mut self.rng));
            self.command()?;
            return Ok(true);
        }
        if self.next_shot.is_some_and(|t| t <= self.at) {
            self.next_shot = self.faults.next_delay(&mut self.rng).map(|d| self.at + d);
            self.shoot();
            return Ok(true);
        }
        if let Some((index, _)) = self.rest_due().filter(|(_, due)| *due <= self.at) {
            // REST touches neither the machines nor the exchange's state:
            // counted apart, so the safety phase's steps are what they were.
            self.steps -= 1;
            self.rest_steps += 1;
            let wall = self.exchange.wall_clock(now);
            let mut rest = RestWorld {
                exchange: &self.exchange,
                now,
                link: &self.link_config,
                faults: &self.rest_faults,
                faults_on: self.faults_on,
                rng: &mut self.rest_rng,
            };
            let stepped = match (&mut self.recoveries[index], &mut self.backfills[index]) {
                (Some(recovery), _) => recovery.step(self.at, wall, &mut rest, &mut self.trace),
                (None, Some(backfill)) => backfill.step(self.at, wall, &mut rest, &mut self.trace),
                (None, None) => Ok(()),
            };
            stepped.map_err(Stop::Violation)?;
        }
        Ok(true)
    }

    /// Whether the open connection of a stream that recovers (orders or
    /// trades) is hung.
    fn recovering_link_hung(&self) -> bool {
        self.link.ids().into_iter().any(|id| {
            self.link.conn(id).is_some_and(|conn| {
                conn.hung
                    && conn.client_open
                    && (self.recoveries[conn.stream].is_some()
                        || self.backfills[conn.stream].is_some())
            })
        })
    }

    /// The stream whose REST exchange is due first, and when.
    fn rest_due(&self) -> Option<(usize, Duration)> {
        let orders = self.recoveries.iter().map(|r| r.as_ref()?.next_due());
        let trades = self.backfills.iter().map(|b| b.as_ref()?.next_due());
        orders
            .zip(trades)
            .enumerate()
            .filter_map(|(index, (o, t))| Some((index, o.or(t)?)))
            .min_by_key(|(_, due)| *due)
    }

    /// Whether no recovery (orders or trades) has a fetch under way.
    fn recoveries_idle(&self) -> bool {
        self.recoveries
            .iter()
            .flatten()
            .all(AccountRecovery::is_idle)
            && self.backfills.iter().flatten().all(MarketRecovery::is_idle)
    }

    /// After the liveness phase: the cut of rule 14 is now; the run goes on
    /// (faults off) until what was in flight has arrived, no account
    /// stream's link is hung, every stream is settled again and every
    /// reconciliation is idle, within `bound`, then checks that every order
    /// state produced before the cut was delivered once (or is excused).
    pub fn run_recovery_drain(&mut self, bound: Duration) -> Result<(), Stop> {
        let cut = self.exchange.wall_clock(self.now());
        let start = self.at;
        self.trace
            .log(self.at, || "recovery drain: rule 14's cut".into());
        loop {
            // A link hung before the faults stopped is found by the ping's
            // timeout; the stream then resumes and recovers.
            let quiet =
                self.recoveries_idle() && !self.recovering_link_hung() && self.all_settled();
            if quiet && self.at >= start + IN_FLIGHT_DRAIN {
                break;
            }
            let next = self.next_time();
            if next.is_none_or(|t| t > start + bound) {
                if quiet {
                    break;
                }
                return Err(Stop::NotLive(format!(
                    "order reconciliation or trade backfill not settled {bound:?} after the liveness phase"
                )));
            }
            self.step()?;
        }
        for recovery in self.recoveries.iter().flatten() {
            recovery
                .check_complete(cut, self.at)
                .map_err(Stop::Violation)?;
        }
        let now = self.now();
        for backfill in self.backfills.iter_mut().flatten() {
            backfill
                .check_complete(cut, self.at, &self.exchange, now)
                .map_err(Stop::Violation)?;
        }
        Ok(())
    }

    /// Tells stream `index` that its connection `epoch` failed or ended.
    fn report_transport_error(
        &mut self,
        index: usize,
        epoch: ConnectionEpoch,
        error: TransportError,
    ) -> Result<(), Stop> {
        self.note_input(index, || MachineInput::TransportError(epoch, error.clone()));
        self.with_stream(index, |s, ctx| s.transport_error(ctx, epoch, &error))
    }

    /// Runs one input of stream `index`, then performs its actions.
    fn with_stream(
        &mut self,
        index: usize,
        input: impl FnOnce(&mut dyn Driven, &mut Ctx<'_>) -> Result<(), Violation>,
    ) -> Result<(), Stop> {
        let mut market_events = std::mem::take(&mut self.market_events);
        market_events.clear();
        let mut actions = std::mem::take(&mut self.actions);
        let mut decodes = std::mem::take(&mut self.decodes);
        actions.clear();
        decodes.clear();
        let now = self.now();
        let mut ctx = Ctx {
            at: self.at,
            now,
            trace: &mut self.trace,
            actions: &mut actions,
            decodes: &mut decodes,
            steps: &mut self.machine_steps,
            account_events: &mut self.account_events,
            market_events: self.backfills[index]
                .is_some()
                .then_some(&mut market_events),
        };
        let result = input(self.streams[index].as_mut(), &mut ctx);
        self.stream_deadlines[index] = self.streams[index].poll_timeout().map(|t| self.offset(t));
        if let Err(violation) = result {
            self.actions = actions;
            self.decodes = decodes;
            self.market_events = market_events;
            return Err(Stop::Violation(violation));
        }
        for action in actions.drain(..) {
            self.perform(index, action, &mut decodes);
        }
        debug_assert!(decodes.is_empty(), "more decodes than message frames");
        self.actions = actions;
        self.decodes = decodes;
        self.reconcile(index)?;
        let backfilled = self.backfill(index, &market_events);
        self.market_events = market_events;
        backfilled
    }

    /// Hands a market stream's events of the last input, and what it wants
    /// now, to its trade backfill.
    fn backfill(
        &mut self,
        index: usize,
        events: &[Event<MarketData, Channel>],
    ) -> Result<(), Stop> {
        let Some(backfill) = self.backfills[index].as_mut() else {
            return Ok(());
        };
        let now = self.base + self.at;
        let wall = self.exchange.wall_clock(now);
        backfill
            .handle_events(
                self.at,
                wall,
                self.streams[index].desired(),
                events,
                (&self.exchange, now),
                &mut self.trace,
            )
            .map_err(Stop::Violation)
    }

    /// Hands an account stream's events of the last input to its reconciliation.
    fn reconcile(&mut self, index: usize) -> Result<(), Stop> {
        if self.account_events.is_empty() {
            return Ok(());
        }
        let mut events = std::mem::take(&mut self.account_events);
        let wall = self.exchange.wall_clock(self.now());
        let result = match self.recoveries[index].as_mut() {
            Some(recovery) => recovery.handle_events(self.at, wall, &events, &mut self.trace),
            None => Ok(()),
        };
        events.clear();
        self.account_events = events;
        result.map_err(Stop::Violation)
    }

    /// Performs one action; the decode of a message frame sent is taken
    /// from the front of `decodes`.
    fn perform(&mut self, stream: usize, action: Action, decodes: &mut VecDeque<ClientDecode>) {
        match action {
            Action::Connect { epoch, request } => {
                let id = self.link.open(stream, epoch);
                self.requests.insert(id, request);
                let delay = self.link_config.dial + self.link_config.delay(&mut self.rng) * 2;
                self.link.to_server(self.at, delay, id, Delivery::Dialed);
            }
            Action::Send { epoch, frame } => {
                // Taken first, so that the decodes stay paired with their frames.
                let decoded = frame.is_message().then(|| {
                    Box::new(
                        decodes
                            .pop_front()
                            .expect("the checks decode every message frame sent"),
                    )
                });
                let Some(id) = self.link.find(stream, epoch) else {
                    return;
                };
                let Some(conn) = self.link.conn(id) else {
                    return;
                };
                if !conn.client_open || conn.session.is_none() {
                    return;
                }
                if let Frame::Ping(payload) = frame {
                    // The server's WebSocket layer answers pings by itself.
                    let delay = self.link_config.delay(&mut self.rng) * 2;
                    self.link.to_client(
                        self.at,
                        delay,
                        id,
                        Delivery::ToClient(Frame::Pong(payload)),
                    );
                } else {
                    let delay = self.link_config.delay(&mut self.rng);
                    self.link
                        .to_server(self.at, delay, id, Delivery::ToServer(frame, decoded));
                }
            }
            Action::Close { epoch } => {
                let Some(id) = self.link.find(stream, epoch) else {
                    return;
                };
                let Some(conn) = self.link.conn_mut(id) else {
                    return;
                };
                if !conn.client_open {
                    return;
                }
                conn.client_open = false;
                let (hung, server_open) = (conn.hung, conn.server_open);
                if hung && server_open {
                    self.link.to_server_forced(
                        self.at + HANG_NOTICED_AFTER,
                        id,
                        Delivery::LostToServer,
                    );
                } else if server_open {
                    let delay = self.link_config.delay(&mut self.rng);
                    self.link
                        .to_server(self.at, delay, id, Delivery::CloseToServer);
                }
                self.link.forget_if_done(id);
            }
        }
    }

    fn deliver(&mut self, id: ConnId, delivery: Delivery) -> Result<(), Stop> {
        let Some(conn) = self.link.conn(id).cloned() else {
            return Ok(());
        };
        let now = self.now();
        match delivery {
            Delivery::Dialed => {
                if !conn.client_open {
                    self.link.forget_if_done(id);
                    return Ok(());
                }
                let request = self.requests.remove(&id);
                let (path, headers) = match &request {
                    Some(r) => (path_of(&r.url), r.headers.as_slice()),
                    None => ("/", &[][..]),
                };
                let opened = match self.refusals.pop_front() {
                    Some(status) => Err(tickwire_mock::Refusal { status }),
                    None => self.exchange_mut().open(now, path, headers),
                };
                self.trace.record(
                    self.at,
                    0xd00 | conn.stream as u64,
                    &[u8::from(opened.is_ok())],
                );
                match opened {
                    Ok(session) => {
                        self.trace.log(self.at, || {
                            format!("s{} upgrade accepted: {session}", conn.stream)
                        });
                        self.link.attach(id, session);
                        self.note_input(conn.stream, || MachineInput::Connected(conn.epoch));
                        self.with_stream(conn.stream, |s, ctx| s.connected(ctx, conn.epoch))?;
                        self.pump_exchange();
                    }
                    Err(refusal) => {
                        self.trace.log(self.at, || {
                            format!("s{} upgrade refused: {}", conn.stream, refusal.status)
                        });
                        if let Some(c) = self.link.conn_mut(id) {
                            c.client_open = false;
                        }
                        let error = TransportError::Refused {
                            status: refusal.status,
                        };
                        self.report_transport_error(conn.stream, conn.epoch, error)?;
                        self.link.forget_if_done(id);
                    }
                }
            }
            Delivery::ToServer(frame, decoded) => {
                if let (true, Some(session)) = (conn.server_open, conn.session) {
                    self.trace.record(self.at, 0xf00, frame.payload());
                    self.exchange_mut()
                        .handle_decoded_frame(now, session, &frame, |frame| {
                            decoded.map_or_else(|| decode_client_message(frame), |d| *d)
                        });
                    self.pump_exchange();
                }
            }
            Delivery::CloseToServer | Delivery::LostToServer => {
                if let (true, Some(session)) = (conn.server_open, conn.session) {
                    if matches!(delivery, Delivery::CloseToServer) {
                        self.exchange_mut().handle_close(now, session);
                    } else {
                        self.exchange_mut().handle_lost(now, session);
                    }
                    if let Some(c) = self.link.conn_mut(id) {
                        c.server_open = false;
                    }
                    self.pump_exchange();
                }
                self.link.forget_if_done(id);
            }
            Delivery::ToClient(frame) => {
                self.trace
                    .record(self.at, 0x1000 | conn.stream as u64, frame.payload());
                self.trace.log(self.at, || {
                    format!(
                        "s{} {} receives {}",
                        conn.stream,
                        conn.epoch,
                        printable(&frame)
                    )
                });
                self.note_input(conn.stream, || {
                    MachineInput::Frame(conn.epoch, frame.clone())
                });
                self.with_stream(conn.stream, |s, ctx| s.frame(ctx, conn.epoch, &frame))?;
            }
            Delivery::EndToClient(error) => {
                if conn.client_open {
                    if let Some(c) = self.link.conn_mut(id) {
                        c.client_open = false;
                    }
                    self.trace.log(self.at, || {
                        format!("s{} {} ends: {error}", conn.stream, conn.epoch)
                    });
                    self.report_transport_error(conn.stream, conn.epoch, error)?;
                }
                self.link.forget_if_done(id);
            }
        }
        Ok(())
    }

    /// Moves everything the exchange wants to do onto the link, and what it
    /// produced for the account to the ledgers of rule 14.
    fn pump_exchange(&mut self) {
        self.exchange.take_order_changes(&mut self.order_changes);
        if !self.order_changes.is_empty() {
            let mut changes = std::mem::take(&mut self.order_changes);
            for recovery in self.recoveries.iter_mut().flatten() {
                let withheld = withheld(&self.link, &self.exchange, recovery.stream());
                for change in changes.iter().filter(|c| c.key_id == KEY_ID) {
                    recovery.produced(&change.update, withheld);
                }
            }
            changes.clear();
            self.order_changes = changes;
        }
        if self.backfills.iter().any(Option::is_some) {
            let wall = self.exchange.wall_clock(self.base + self.at);
            for backfill in self.backfills.iter_mut().flatten() {
                // A hung link loses trades as a silenced session withholds
                // them: a stream that goes idle before it notices never can.
                let stream = backfill.stream();
                let lost = withheld(&self.link, &self.exchange, stream)
                    || self.link.ids().into_iter().any(|id| {
                        self.link
                            .conn(id)
                            .is_some_and(|c| c.stream == stream && c.hung && c.client_open)
                    });
                backfill.note_withheld(lost, wall);
            }
        }
        while let Some((session, output)) = self.exchange_mut().poll_output() {
            let Some(id) = self.link.by_session(session) else {
                continue;
            };
            let delay = self.link_config.delay(&mut self.rng);
            match output {
                Output::Frame(frame) => {
                    self.link
                        .to_client(self.at, delay, id, Delivery::ToClient(frame))
                }
                Output::Close { code, reason } => {
                    if let Some(c) = self.link.conn_mut(id) {
                        c.server_open = false;
                    }
                    let error = TransportError::Closed {
                        code: Some(code),
                        reason,
                    };
                    self.link
                        .to_client(self.at, delay, id, Delivery::EndToClient(error));
                }
                Output::Reset => {
                    if let Some(c) = self.link.conn_mut(id) {
                        c.server_open = false;
                    }
                    let error = TransportError::Io("connection reset by the exchange".into());
                    self.link
                        .to_client(self.at, delay, id, Delivery::EndToClient(error));
                }
            }
        }
    }

    fn command(&mut self) -> Result<(), Stop> {
        let candidates: Vec<usize> = (0..self.streams.len())
            .filter(|i| !self.streams[*i].is_shut_down())
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let index = candidates[self.rng.below(candidates.len() as u64) as usize];
        let desired = self.streams[index].desired();
        let mut command = self
            .workload
            .command(&mut self.rng, desired, self.come_back[index]);
        if self.streams[index].kind() == StreamKind::Account
            && !matches!(command, Command::Shutdown)
        {
            return Ok(());
        }
        // Keep at least one stream alive, so that the liveness phase has work.
        if matches!(command, Command::Shutdown) && candidates.len() == 1 {
            command = Command::Churn;
        }
        self.come_back[index] = matches!(command, Command::Churn);
        if matches!(command, Command::Shutdown) {
            if let Some(recovery) = self.recoveries[index].as_mut() {
                recovery.release();
            }
            if let Some(backfill) = self.backfills[index].as_mut() {
                backfill.release();
            }
        }
        self.trace.record(self.at, 0x1100 | index as u64, &[]);
        self.trace
            .log(self.at, || format!("s{index} command {command:?}"));
        self.note_input(index, || MachineInput::Command(command.clone()));
        self.with_stream(index, |s, ctx| s.command(ctx, command))
    }

    fn shoot(&mut self) {
        if !self.faults_on {
            return;
        }
        let Some(shot) = self.faults.pick(&mut self.rng) else {
            return;
        };
        let now = self.now();
        self.trace.record(self.at, 0x1200 | shot as u64, &[]);
        match shot {
            // The exchange's `refuse_next` queue cannot be emptied when the
            // faults stop, so refusals are the link's HTTP front's, at most two queued.
            Shot::Refuse429 | Shot::Refuse401 if self.refusals.len() < 2 => {
                self.refusals
                    .push_back(if shot == Shot::Refuse429 { 429 } else { 401 });
            }
            Shot::Refuse429 | Shot::Refuse401 => {}
            Shot::Restart => self.exchange_mut().restart(now),
            _ => {
                let healthy = self.link.healthy();
                if healthy.is_empty() {
                    return;
                }
                let id = healthy[self.rng.below(healthy.len() as u64) as usize];
                let Some(conn) = self.link.conn(id).cloned() else {
                    return;
                };
                let Some(session) = conn.session else {
                    return;
                };
                match shot {
                    Shot::LinkReset => {
                        self.link.discard_in_flight(id);
                        self.exchange_mut().handle_lost(now, session);
                        if let Some(c) = self.link.conn_mut(id) {
                            c.server_open = false;
                        }
                        let delay = self.link_config.delay(&mut self.rng);
                        let error = TransportError::Io("connection reset by the network".into());
                        self.link
                            .to_client(self.at, delay, id, Delivery::EndToClient(error));
                    }
                    Shot::LinkHang => {
                        self.link.discard_in_flight(id);
                        if let Some(c) = self.link.conn_mut(id) {
                            c.hung = true;
                        }
                        // What was in flight is lost with it: sent at most
                        // one delay (latency and jitter) ago.
                        if let Some(backfill) = self.backfills[conn.stream].as_mut() {
                            let in_flight = self.link_config.latency + self.link_config.jitter;
                            let since = self
                                .exchange
                                .wall_clock(now)
                                .saturating_add_nanos(-(in_flight.as_nanos() as i128));
                            backfill.note_withheld(true, since);
                        }
                    }
                    Shot::LinkGarbage => {
                        let mut bytes = vec![0u8; self.rng.below(64) as usize];
                        self.rng.fill_bytes(&mut bytes);
                        let frame = if self.rng.chance(0.5) {
                            Frame::Text(Bytes::from(bytes))
                        } else {
                            Frame::Binary(Bytes::from(bytes))
                        };
                        let delay = self.link_config.delay(&mut self.rng);
                        self.link
                            .to_client(self.at, delay, id, Delivery::ToClient(frame));
                    }
                    Shot::ServerClose => {
                        let code = [1000, 1001, 1011, 1012][self.rng.below(4) as usize];
                        let fault = Fault::Close {
                            code,
                            reason: "simulated close".into(),
                        };
                        self.exchange_mut().inject(now, session, fault);
                    }
                    Shot::ServerSilence => self.exchange_mut().inject(now, session, Fault::Silence),
                    Shot::ServerGarbage => self.exchange_mut().inject(now, session, Fault::Garbage),
                    Shot::ServerStopReading => {
                        self.exchange_mut().inject(now, session, Fault::StopReading)
                    }
                    _ => {}
                }
            }
        }
        self.trace.log(self.at, || format!("fault {shot:?}"));
        self.pump_exchange();
    }
}

/// Whether `stream`'s open connection reaches a session whose data the
/// exchange withholds (the stream cannot tell it from a quiet one).
fn withheld(link: &Link, exchange: &Exchange, stream: usize) -> bool {
    link.ids().into_iter().any(|id| {
        link.conn(id).is_some_and(|conn| {
            conn.stream == stream
                && conn.client_open
                && conn.session.is_some_and(|s| exchange.withholds_data(s))
        })
    })
}

/// The path of a URL (`wss://host/v2/iex?x` → `/v2/iex?x`).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}
