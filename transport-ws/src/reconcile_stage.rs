//! An account stream's reconciliation, as the step between its queue and
//! the application: live updates pass through the [`OrderReconciler`]
//! (deduplicated), each `Resumed` starts fetching what the gap hid. Fetches
//! run in their own tasks, so the live stream never waits for REST.

use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use tickwire_alpaca::{Channel, TradeUpdate};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, State};
use tickwire_recovery::RecoveryConfig;
use tokio::sync::mpsc;

use crate::event_stage::{EventStage, Stage, StageSetup};
use crate::order_reconcile::{OrderFetch, OrderReconciler, ReconcileOutput};
use crate::rest_client::{RestClient, RestError};
use crate::{Events, StreamEvent};

type FetchResult = (OrderFetch, Result<Bytes, RestError>);

/// The reconciliation step of one account stream.
pub(crate) struct ReconcileStage {
    reconciler: OrderReconciler,
    /// `None` when it could not be made: the stage reported why and passes
    /// every event on unchanged.
    rest: Option<RestClient>,
    runtime: tokio::runtime::Handle,
    results_tx: mpsc::UnboundedSender<FetchResult>,
    results: mpsc::UnboundedReceiver<FetchResult>,
    ready: VecDeque<StreamEvent<TradeUpdate, Channel>>,
    /// The start time to reconcile from once first live, until then.
    since: Option<Timestamp>,
}

/// The step for an account stream whose settings ask for reconciliation;
/// when the REST client cannot be made, a step that reports why once and
/// passes everything else on.
pub(crate) fn reconcile_stage(
    setup: &StageSetup<'_>,
    rest_url: &str,
) -> Option<EventStage<TradeUpdate, Channel>> {
    let reconcile = &setup.options.reconcile;
    if !reconcile.enabled {
        return None;
    }
    let (results_tx, results) = mpsc::unbounded_channel();
    let mut ready = VecDeque::new();
    let ws = &setup.options.ws;
    let rest = RestClient::build(rest_url, setup.config, &ws.tls_trust, ws.allow_insecure)
        .inspect_err(|error| {
            tracing::warn!(%error, "order reconciliation is off");
            ready.push_back(StreamEvent::RecoveryFailed {
                reason: format!("order reconciliation is off: {error}"),
            });
        })
        .ok();
    Some(EventStage(Box::new(ReconcileStage {
        reconciler: OrderReconciler::new(RecoveryConfig::default()),
        rest,
        runtime: setup.runtime.clone(),
        results_tx,
        results,
        ready,
        since: reconcile.since,
    })))
}

impl ReconcileStage {
    /// Takes one event from the queue.
    fn take(&mut self, event: StreamEvent<TradeUpdate, Channel>) {
        if self.rest.is_none() {
            return self.ready.push_back(event);
        }
        match event {
            StreamEvent::Machine(Event::Data(update)) => self.reconciler.handle_live(update),
            StreamEvent::Machine(event) => {
                self.reconciler.handle_event(&event);
                let live = matches!(event, Event::StateChanged(State::Live { .. }));
                self.ready.push_back(StreamEvent::Machine(event));
                if let Some(since) = self.since.take_if(|_| live) {
                    let now = Timestamp::from(SystemTime::now());
                    self.reconciler.handle_start(since, now);
                }
            }
            other => self.ready.push_back(other),
        }
        self.drain();
    }

    /// Hands the reconciler's outputs on: deliveries to the application,
    /// fetches to their own tasks.
    fn drain(&mut self) {
        while let Some(output) = self.reconciler.poll_output() {
            match output {
                ReconcileOutput::Deliver {
                    update,
                    reconciled: false,
                } => self
                    .ready
                    .push_back(StreamEvent::Machine(Event::Data(*update))),
                ReconcileOutput::Deliver {
                    update,
                    reconciled: true,
                } => self.ready.push_back(StreamEvent::Recovered(*update)),
                ReconcileOutput::Fetch(fetch) => {
                    let Some(rest) = self.rest.clone() else {
                        continue;
                    };
                    let results = self.results_tx.clone();
                    self.runtime.spawn(async move {
                        let result = rest.get(&fetch.path_and_query).await;
                        // The stream may be gone; then nobody wants the page.
                        let _ = results.send((fetch, result));
                    });
                }
                ReconcileOutput::Abandoned(reason) => {
                    self.ready.push_back(StreamEvent::RecoveryFailed { reason });
                }
            }
        }
    }
}

impl Stage<TradeUpdate, Channel> for ReconcileStage {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut Events<TradeUpdate, Channel>,
    ) -> Poll<Option<StreamEvent<TradeUpdate, Channel>>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            while let Poll::Ready(Some((fetch, result))) = self.results.poll_recv(cx) {
                match result {
                    Ok(body) => self.reconciler.handle_page(&fetch, &body),
                    Err(error) => self
                        .reconciler
                        .handle_fetch_failed(&fetch, &error.to_string()),
                }
                self.drain();
            }
            if !self.ready.is_empty() {
                continue;
            }
            match queue.poll_queue(cx) {
                Poll::Ready(Some(event)) => self.take(event),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
