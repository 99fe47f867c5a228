//! An account stream's reconciliation, as a [`RecoveryStage`](crate::recovery_stage::RecoveryStage):
//! live updates pass through the [`OrderReconciler`] (deduplicated), each
//! `Resumed` (and the first `Live`, given a start time) starts fetching what
//! the gap hid.

use std::time::SystemTime;

use tickwire_alpaca::{Channel, TradeUpdate};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, State};
use tickwire_recovery::RecoveryConfig;

use crate::event_stage::{EventStage, StageSetup};
use crate::order_reconcile::{OrderFetch, OrderReconciler, ReconcileOutput};
use crate::recovery_stage::{Recoverer, StageOutput, recovery_stage};

/// The reconciler of one account stream, with the start time to reconcile
/// from once first live.
struct AccountRecovery {
    reconciler: OrderReconciler,
    since: Option<Timestamp>,
}

/// The step for an account stream whose settings ask for reconciliation.
pub(crate) fn reconcile_stage(
    setup: &StageSetup<'_>,
    rest_url: &str,
) -> Option<EventStage<TradeUpdate, Channel>> {
    let reconcile = &setup.options.reconcile;
    if !reconcile.enabled {
        return None;
    }
    let recovery = AccountRecovery {
        reconciler: OrderReconciler::new(RecoveryConfig::default()),
        since: reconcile.since,
    };
    Some(recovery_stage(
        setup,
        rest_url,
        "order reconciliation",
        recovery,
    ))
}

impl Recoverer for AccountRecovery {
    type Data = TradeUpdate;
    type Fetch = OrderFetch;

    fn handle_event(&mut self, event: &Event<TradeUpdate, Channel>) {
        self.reconciler.handle_event(event);
        let live = matches!(event, Event::StateChanged(State::Live { .. }));
        if let Some(since) = self.since.take_if(|_| live) {
            let now = Timestamp::from(SystemTime::now());
            self.reconciler.handle_start(since, now);
        }
    }

    fn handle_live(&mut self, update: TradeUpdate) {
        self.reconciler.handle_live(update);
    }

    fn handle_page(&mut self, fetch: &OrderFetch, body: &[u8]) {
        self.reconciler.handle_page(fetch, body);
    }

    fn handle_fetch_failed(&mut self, fetch: &OrderFetch, reason: &str) {
        self.reconciler.handle_fetch_failed(fetch, reason);
    }

    fn poll_output(&mut self) -> Option<StageOutput<TradeUpdate, OrderFetch>> {
        Some(match self.reconciler.poll_output()? {
            ReconcileOutput::Deliver { update, reconciled } => StageOutput::Deliver {
                data: *update,
                recovered: reconciled,
            },
            ReconcileOutput::Fetch(fetch) => StageOutput::Fetch(fetch),
            ReconcileOutput::Abandoned(reason) => StageOutput::Abandoned(reason),
        })
    }

    fn path_and_query(fetch: &OrderFetch) -> &str {
        &fetch.path_and_query
    }
}
