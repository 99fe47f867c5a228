//! An account stream's order reconciliation in virtual time: the sans-I/O
//! [`OrderReconciler`] driven as the production stage drives it (stream
//! events in, updates out to the application, fetches retried by
//! [`FetchRetry`]), its requests answered by the simulated REST API
//! ([`super::rest`]) after a link delay. What the application receives goes
//! to the stream's [`Ledger`] (rule 14).

use std::collections::BTreeMap;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tickwire_alpaca::{
    Channel, OrderFetch, OrderReconciler, OrderStateKey, ReconcileOutput, TradeUpdate,
    order_state_key as order_key,
};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, MachineConfig, State};
use tickwire_mock::Exchange;
use tickwire_recovery::{Attempt, FETCH_ATTEMPTS_MAX_DEFAULT, FetchRetry, RecoveryConfig, Retry};

use super::checks::Violation;
use super::exactly_once::Ledger;
use super::link::LinkConfig;
use super::rest::{self, REST_ATTEMPT_TIMEOUT, RestAnswer, RestFaults};
use super::trace::Trace;

/// A deliberately broken reconciliation, for tests that rule 14 can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// Every page is read as an empty list.
    DropPages,
    /// Every update reaches the application twice.
    DeliverTwice,
}

/// Where one fetch is.
#[derive(Debug)]
enum Leg {
    /// The request reaches the server.
    ToServer,
    /// The answer reaches the client.
    ToClient(RestAnswer),
    /// The client stops waiting.
    TimedOut,
    /// The request is sent (again).
    Retry,
}

#[derive(Debug)]
struct InFlight {
    fetch: OrderFetch,
    /// When the present attempt was sent.
    sent_at: Duration,
    retry: FetchRetry,
    leg: Leg,
}

/// The reconciliation of one account stream and what its application got.
#[derive(Debug)]
pub struct AccountRecovery {
    stream: usize,
    reconciler: OrderReconciler,
    config: MachineConfig,
    /// The fetches under way, by (due time, sequence).
    in_flight: BTreeMap<(Duration, u64), InFlight>,
    next_seq: u64,
    /// The wall-clock start to reconcile from once first live.
    since: Option<Timestamp>,
    /// When the stream last went live (wall clock).
    caught_up: Timestamp,
    ledger: Ledger<OrderStateKey>,
    /// Updates delivered to the application, of them reconciled, and
    /// recoveries failed.
    delivered: u64,
    reconciled: u64,
    failed: u64,
    sabotage: Option<Sabotage>,
}

impl AccountRecovery {
    /// The recovery of stream `stream` (machine configuration `config`),
    /// which starts at `start` (wall clock) and reconciles from then on its
    /// first `Live`, asking for `page_limit` orders a page.
    pub fn new(stream: usize, config: MachineConfig, start: Timestamp, page_limit: usize) -> Self {
        Self {
            stream,
            reconciler: OrderReconciler::new(RecoveryConfig::default()).with_page_limit(page_limit),
            config,
            in_flight: BTreeMap::new(),
            next_seq: 0,
            since: Some(start),
            caught_up: start,
            ledger: Ledger::new(stream, start),
            delivered: 0,
            reconciled: 0,
            failed: 0,
            sabotage: None,
        }
    }

    /// The exchange produced an order state change for the account;
    /// `withheld` when the exchange withheld data from the stream's
    /// connection then.
    pub fn produced(&mut self, update: &TradeUpdate, withheld: bool) {
        let at = update.timestamp.unwrap_or(update.order.updated_at);
        let lineage = Some(update.order.id.clone());
        self.ledger
            .produced(order_key(update), at, lineage, withheld);
    }

    /// The stream's index.
    pub fn stream(&self) -> usize {
        self.stream
    }

    /// The stream's events of one input; `wall` is the wall clock now.
    pub fn handle_events(
        &mut self,
        at: Duration,
        wall: Timestamp,
        events: &[Event<TradeUpdate, Channel>],
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        if !self.ledger.is_owing() {
            return Ok(());
        }
        for event in events {
            match event {
                Event::Data(update) => self.reconciler.handle_live(update.clone()),
                Event::StateChanged(State::Live { .. }) => {
                    self.ledger.live(wall);
                    self.reconciler.handle_event(event);
                    if let Some(since) = self.since.take() {
                        self.reconciler.handle_start(since, wall);
                        self.caught_up = wall;
                    }
                }
                Event::StateChanged(State::Failed { .. } | State::Closed) => {
                    self.release();
                    return Ok(());
                }
                Event::Resumed {
                    lost_at,
                    resumed_at,
                    last_data_at,
                    ..
                } => {
                    // Dark from the last data message, else from when the
                    // stream last went live, and at the latest the loss.
                    let since = last_data_at.unwrap_or(self.caught_up);
                    let since = lost_at.map_or(since, |lost| since.min(lost));
                    if let Some(until) = resumed_at {
                        self.ledger.resumed(since, *until);
                        self.caught_up = *until;
                    }
                    self.reconciler.handle_event(event);
                }
                other => self.reconciler.handle_event(other),
            }
            self.drain(at, wall, trace)?;
        }
        Ok(())
    }

    /// Breaks the reconciliation on purpose (see [`Sabotage`]).
    pub fn sabotage(&mut self, sabotage: Sabotage) {
        self.sabotage = Some(sabotage);
    }

    /// The application shut the stream down: it wants nothing more.
    pub fn release(&mut self) {
        self.ledger.released();
        self.in_flight.clear();
    }

    /// When the next fetch leg is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.in_flight.keys().next().map(|(due, _)| *due)
    }

    /// Whether no fetch is under way.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Updates delivered, of them reconciled, and recoveries failed so far.
    pub fn counts(&self) -> [u64; 3] {
        [self.delivered, self.reconciled, self.failed]
    }

    /// Moves the earliest fetch due at `at` one leg on.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        at: Duration,
        wall: Timestamp,
        exchange: &Exchange,
        link: &LinkConfig,
        faults: &RestFaults,
        faults_on: bool,
        rng: &mut ChaCha8Rng,
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        let Some(entry) = self.in_flight.first_entry().filter(|e| e.key().0 <= at) else {
            return Ok(());
        };
        let mut flight = entry.remove();
        let stream = self.stream as u64;
        match std::mem::replace(&mut flight.leg, Leg::Retry) {
            Leg::Retry => {
                trace.record(at, 0x1300 | stream, flight.fetch.path_and_query.as_bytes());
                self.send(at, flight, link, rng);
            }
            Leg::ToServer => {
                let answer = rest::answer(
                    exchange,
                    &flight.fetch.path_and_query,
                    faults,
                    faults_on,
                    rng,
                );
                let back = at + answer.server_time + rest::delay(link, rng);
                let deadline = flight.sent_at + REST_ATTEMPT_TIMEOUT;
                if back > deadline {
                    flight.leg = Leg::TimedOut;
                    self.schedule(deadline, flight);
                } else {
                    flight.leg = Leg::ToClient(answer);
                    self.schedule(back, flight);
                }
            }
            Leg::ToClient(answer) => {
                trace.record(at, 0x1400 | stream, &answer.status.to_le_bytes());
                let attempt = Attempt::Status {
                    code: answer.status,
                    retry_after: answer.retry_after,
                };
                self.settle(at, wall, flight, &attempt, answer.body.as_bytes(), trace)?;
            }
            Leg::TimedOut => {
                trace.record(at, 0x1400 | stream, &[]);
                self.settle(at, wall, flight, &Attempt::TimedOut, &[], trace)?;
            }
        }
        Ok(())
    }

    /// What follows an attempt's end: the page read, a retry, or giving up.
    fn settle(
        &mut self,
        at: Duration,
        wall: Timestamp,
        mut flight: InFlight,
        attempt: &Attempt,
        body: &[u8],
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        match flight.retry.next(attempt) {
            Retry::Done if self.sabotage == Some(Sabotage::DropPages) => {
                self.reconciler.handle_page(&flight.fetch, b"[]");
            }
            Retry::Done => self.reconciler.handle_page(&flight.fetch, body),
            Retry::After(delay) => {
                flight.leg = Leg::Retry;
                self.schedule(at + delay, flight);
                return Ok(());
            }
            Retry::GiveUp(why) => self.reconciler.handle_fetch_failed(&flight.fetch, &why),
        }
        self.drain(at, wall, trace)
    }

    /// Sends `flight`'s request: it reaches the server after a link delay,
    /// unless the client's deadline comes first.
    fn send(
        &mut self,
        at: Duration,
        mut flight: InFlight,
        link: &LinkConfig,
        rng: &mut ChaCha8Rng,
    ) {
        flight.leg = Leg::ToServer;
        flight.sent_at = at;
        let arrives = at + rest::delay(link, rng);
        self.schedule(arrives, flight);
    }

    fn schedule(&mut self, due: Duration, flight: InFlight) {
        self.next_seq += 1;
        self.in_flight.insert((due, self.next_seq), flight);
    }

    /// Hands the reconciler's outputs on: updates to the application (and
    /// the ledger), fetches to the REST API, failures to the application.
    fn drain(&mut self, at: Duration, wall: Timestamp, trace: &mut Trace) -> Result<(), Violation> {
        let stream = self.stream as u64;
        while let Some(output) = self.reconciler.poll_output() {
            match output {
                ReconcileOutput::Deliver { update, reconciled } => {
                    self.delivered += 1;
                    self.reconciled += u64::from(reconciled);
                    trace.record(at, 0x1500 | stream, &[u8::from(reconciled)]);
                    trace.log(at, || {
                        format!(
                            "s{stream} application gets {} {:?}",
                            if reconciled { "reconciled" } else { "live" },
                            order_key(&update)
                        )
                    });
                    self.ledger.delivered(&order_key(&update), at)?;
                    if self.sabotage == Some(Sabotage::DeliverTwice) {
                        self.ledger.delivered(&order_key(&update), at)?;
                    }
                }
                ReconcileOutput::Fetch(fetch) => {
                    trace.log(at, || format!("s{stream} GET {}", fetch.path_and_query));
                    let flight = InFlight {
                        fetch,
                        sent_at: at,
                        retry: FetchRetry::new(&self.config, FETCH_ATTEMPTS_MAX_DEFAULT),
                        leg: Leg::Retry,
                    };
                    self.schedule(at, flight);
                }
                ReconcileOutput::Abandoned(why) => {
                    self.failed += 1;
                    trace.record(at, 0x1600 | stream, &[]);
                    trace.log(at, || {
                        format!("s{stream} application gets RecoveryFailed: {why}")
                    });
                    self.ledger.recovery_failed(wall);
                }
            }
        }
        Ok(())
    }

    /// Rule 14 at the end of the run: everything produced before `cut`
    /// (wall clock) was delivered or is excused.
    pub fn check_complete(&self, cut: Timestamp, at: Duration) -> Result<(), Violation> {
        self.ledger.check_complete(cut, at)
    }
}
