//! The step between a stream's queue and its application that recovers
//! what gaps hid: live data passes through a sans-I/O [`Recoverer`]
//! (deduplicated), each `Resumed` makes it ask for REST pages. Fetches run
//! in their own tasks, so the live stream never waits for REST.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use bytes::Bytes;
use tickwire_alpaca::Channel;
use tickwire_core::machine::Event;
use tokio::sync::mpsc;

use crate::event_stage::{EventStage, Stage, StageSetup};
use crate::rest_client::{RestClient, RestError};
use crate::{Events, StreamEvent};

/// What a recoverer hands out.
pub(crate) enum StageOutput<D, F> {
    /// Data for the application, `recovered` when fetched.
    Deliver { data: D, recovered: bool },
    /// A REST page to fetch.
    Fetch(F),
    /// A window was given up, naming why.
    Abandoned(String),
}

/// A sans-I/O recovery the stage drives: the order reconciler, the
/// market-data backfill.
pub(crate) trait Recoverer: Send + Sync + 'static {
    /// The stream's data messages.
    type Data: Send + Sync + 'static;
    /// A page to fetch, kept until its answer.
    type Fetch: Send + Sync + 'static;

    /// A machine event other than data, before it is passed on.
    fn handle_event(&mut self, event: &Event<Self::Data, Channel>);
    /// A live data message.
    fn handle_live(&mut self, data: Self::Data);
    /// The body answering `fetch`.
    fn handle_page(&mut self, fetch: &Self::Fetch, body: &[u8]);
    /// `fetch` failed after the client's retries.
    fn handle_fetch_failed(&mut self, fetch: &Self::Fetch, reason: &str);
    /// The next output.
    fn poll_output(&mut self) -> Option<StageOutput<Self::Data, Self::Fetch>>;
    /// The path and query `fetch` asks for.
    fn path_and_query(fetch: &Self::Fetch) -> &str;
}

type FetchResult<F> = (F, Result<Bytes, RestError>);

/// The recovery step of one stream.
pub(crate) struct RecoveryStage<R: Recoverer> {
    recoverer: R,
    /// `None` when it could not be made: the stage reported why and passes
    /// every event on unchanged.
    rest: Option<RestClient>,
    runtime: tokio::runtime::Handle,
    results_tx: mpsc::UnboundedSender<FetchResult<R::Fetch>>,
    results: mpsc::UnboundedReceiver<FetchResult<R::Fetch>>,
    ready: VecDeque<StreamEvent<R::Data, Channel>>,
}

/// The step driving `recoverer` against the REST API at `rest_url`; when
/// the REST client cannot be made, a step that reports why once (`what`
/// names the recovery) and passes everything else on.
pub(crate) fn recovery_stage<R: Recoverer>(
    setup: &StageSetup<'_>,
    rest_url: &str,
    what: &str,
    recoverer: R,
) -> EventStage<R::Data, Channel> {
    let (results_tx, results) = mpsc::unbounded_channel();
    let mut ready = VecDeque::new();
    let ws = &setup.options.ws;
    let rest = RestClient::build(rest_url, setup.config, &ws.tls_trust, ws.allow_insecure)
        .inspect_err(|error| {
            tracing::warn!(%error, "{what} is off");
            ready.push_back(StreamEvent::RecoveryFailed {
                reason: format!("{what} is off: {error}"),
            });
        })
        .ok();
    EventStage(Box::new(RecoveryStage {
        recoverer,
        rest,
        runtime: setup.runtime.clone(),
        results_tx,
        results,
        ready,
    }))
}

impl<R: Recoverer> RecoveryStage<R> {
    /// Takes one event from the queue.
    fn take(&mut self, event: StreamEvent<R::Data, Channel>) {
        if self.rest.is_none() {
            return self.ready.push_back(event);
        }
        match event {
            StreamEvent::Machine(Event::Data(data)) => self.recoverer.handle_live(data),
            StreamEvent::Machine(event) => {
                self.recoverer.handle_event(&event);
                self.ready.push_back(StreamEvent::Machine(event));
            }
            other => self.ready.push_back(other),
        }
        self.drain();
    }

    /// Hands the recoverer's outputs on: deliveries to the application,
    /// fetches to their own tasks.
    fn drain(&mut self) {
        while let Some(output) = self.recoverer.poll_output() {
            match output {
                StageOutput::Deliver {
                    data,
                    recovered: false,
                } => self
                    .ready
                    .push_back(StreamEvent::Machine(Event::Data(data))),
                StageOutput::Deliver {
                    data,
                    recovered: true,
                } => self.ready.push_back(StreamEvent::Recovered(data)),
                StageOutput::Fetch(fetch) => {
                    let Some(rest) = self.rest.clone() else {
                        continue;
                    };
                    let results = self.results_tx.clone();
                    self.runtime.spawn(async move {
                        let result = rest.get(R::path_and_query(&fetch)).await;
                        // The stream may be gone; then nobody wants the page.
                        let _ = results.send((fetch, result));
                    });
                }
                StageOutput::Abandoned(reason) => {
                    self.ready.push_back(StreamEvent::RecoveryFailed { reason });
                }
            }
        }
    }
}

impl<R: Recoverer> Stage<R::Data, Channel> for RecoveryStage<R> {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut Events<R::Data, Channel>,
    ) -> Poll<Option<StreamEvent<R::Data, Channel>>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            while let Poll::Ready(Some((fetch, result))) = self.results.poll_recv(cx) {
                match result {
                    Ok(body) => self.recoverer.handle_page(&fetch, &body),
                    Err(error) => self
                        .recoverer
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
