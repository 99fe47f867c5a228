//! An account stream's order reconciliation in virtual time: the sans-I/O
//! [`OrderReconciler`] driven as the production stage drives it (stream
//! events in, updates out to the application), its requests carried by
//! [`Fetches`] to the simulated REST API. What the application receives goes
//! to the stream's [`Ledger`] (rule 14).

use std::time::Duration;

use tickwire_alpaca::{
    Channel, OrderFetch, OrderReconciler, OrderStateKey, ReconcileOutput, TradeUpdate,
    order_state_key as order_key,
};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, MachineConfig, State};
use tickwire_recovery::RecoveryConfig;

use super::checks::Violation;
use super::exactly_once::Ledger;
use super::rest_fetch::{Fetches, RestWorld, Settled};
use super::sabotage::Sabotage;
use super::trace::Trace;

/// The reconciliation of one account stream and what its application got.
#[derive(Debug)]
pub struct AccountRecovery {
    stream: usize,
    reconciler: OrderReconciler,
    fetches: Fetches<OrderFetch>,
    /// The wall-clock start to reconcile from once first live.
    since: Option<Timestamp>,
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
            fetches: Fetches::new(stream, config),
            since: Some(start),
            ledger: Ledger::new(stream, start).named("order state"),
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
                        self.ledger.went_live(wall);
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
                    self.ledger
                        .gap_resumed(*lost_at, *resumed_at, *last_data_at);
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
        self.fetches.clear();
    }

    /// When the next fetch leg is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.fetches.next_due()
    }

    /// Whether no fetch is under way.
    pub fn is_idle(&self) -> bool {
        self.fetches.is_idle()
    }

    /// Updates delivered, of them reconciled, and recoveries failed so far.
    pub fn counts(&self) -> [u64; 3] {
        [self.delivered, self.reconciled, self.failed]
    }

    /// Moves the earliest fetch due at `at` one leg on, and reads what settled.
    pub fn step(
        &mut self,
        at: Duration,
        wall: Timestamp,
        rest: &mut RestWorld<'_>,
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        match self.fetches.step(at, rest, trace) {
            None => return Ok(()),
            Some(Settled::Page(fetch, _)) if self.sabotage == Some(Sabotage::DropPages) => {
                self.reconciler.handle_page(&fetch, b"[]");
            }
            Some(Settled::Page(fetch, body)) => {
                self.reconciler.handle_page(&fetch, body.as_bytes())
            }
            Some(Settled::Failed(fetch, why)) => self.reconciler.handle_fetch_failed(&fetch, &why),
        }
        self.drain(at, wall, trace)
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
                    self.fetches.start(at, fetch);
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
