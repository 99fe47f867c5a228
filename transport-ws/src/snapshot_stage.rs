//! Snapshots a transport hands its stream beside the frames: a channel
//! ([`snapshot_channel`]) from the transport to a step between the
//! stream's queue and its application, which delivers them as
//! [`StreamEvent::Snapshot`] through a [`SnapshotGate`].
//!
//! The machine sees only frames, and a snapshot is no frame of the
//! protocol: a quote handed to the machine would come out as live data.
//! So the transport sends snapshots on this side channel, and the step,
//! which sees live data in the order the application gets it, decides
//! which to deliver.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::machine::Event;
use tickwire_core::{Symbol, Transport};
use tokio::sync::mpsc;

use crate::event_stage::{EventStage, Stage};
use crate::snapshot_gate::{AskId, SnapshotGate};
use crate::{Error, Events, MarketDataProfile, MarketDataStream, StreamBuilder, StreamEvent};

/// What travels from the transport to the step.
#[derive(Debug)]
enum SnapshotNews {
    Asked(AskId, Vec<Symbol>),
    Answered(AskId, Vec<MarketData>),
    Abandoned(AskId),
}

/// The transport's end of a snapshot channel: asks for the latest quotes
/// of symbols are announced here, then answered (see [`snapshot_channel`]).
#[derive(Debug, Clone)]
pub struct Snapshots {
    news: mpsc::UnboundedSender<SnapshotNews>,
    next_id: Arc<AtomicU64>,
}

/// One ask for snapshot quotes, announced to the stream: answer it with
/// [`deliver`](Self::deliver); dropped unanswered, it is abandoned.
#[derive(Debug)]
#[must_use = "an ask dropped unanswered delivers nothing"]
pub struct SnapshotAsk {
    id: AskId,
    news: Option<mpsc::UnboundedSender<SnapshotNews>>,
}

/// The stream's end of a snapshot channel, for
/// [`StreamBuilder::build_with_transport_and_snapshots`].
#[derive(Debug)]
pub struct SnapshotSource {
    news: mpsc::UnboundedReceiver<SnapshotNews>,
}

/// A channel for a transport to hand its stream snapshot quotes:
/// [`Snapshots`] for the transport, [`SnapshotSource`] for the builder.
///
/// ```
/// use tickwire_ws::{MarketData, Symbol, snapshot_channel};
/// let (snapshots, source) = snapshot_channel();
/// // When a subscription to AAPL's quotes was acknowledged, before sending the request:
/// let ask = snapshots.ask(vec![Symbol::new("AAPL")?]);
/// // … and with the answer:
/// ask.deliver(Vec::<MarketData>::new());
/// # drop(source);
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn snapshot_channel() -> (Snapshots, SnapshotSource) {
    let (news, receiver) = mpsc::unbounded_channel();
    (
        Snapshots {
            news,
            next_id: Arc::default(),
        },
        SnapshotSource { news: receiver },
    )
}

impl Snapshots {
    /// Announces an ask for the latest quotes of `symbols`. Call it before
    /// handing the machine the frame that acknowledges their subscription,
    /// and send the request only after that frame: live quotes the
    /// stream delivers after the acknowledgement's event count against
    /// the answer (a symbol with one gets no snapshot), those before it
    /// left the source before the request did.
    pub fn ask(&self, symbols: Vec<Symbol>) -> SnapshotAsk {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // A stream gone takes no news; then nothing is owed either.
        let _ = self.news.send(SnapshotNews::Asked(id, symbols));
        SnapshotAsk {
            id,
            news: Some(self.news.clone()),
        }
    }
}

impl SnapshotAsk {
    /// The answer: the latest quote of each symbol asked for that has one
    /// (other messages and other symbols are ignored). Each is delivered
    /// as [`StreamEvent::Snapshot`] unless a live quote of its symbol was
    /// delivered since the ask.
    pub fn deliver(mut self, quotes: Vec<MarketData>) {
        if let Some(news) = self.news.take() {
            let _ = news.send(SnapshotNews::Answered(self.id, quotes));
        }
    }
}

impl Drop for SnapshotAsk {
    fn drop(&mut self) {
        if let Some(news) = self.news.take() {
            let _ = news.send(SnapshotNews::Abandoned(self.id));
        }
    }
}

impl StreamBuilder<MarketDataProfile> {
    /// Creates the stream over `transport`, which hands snapshot quotes
    /// through the [`Snapshots`] end of `source`'s channel: each is
    /// delivered as [`StreamEvent::Snapshot`], before any live quote of
    /// its symbol delivered after it, or not at all (when a live quote of
    /// the symbol was delivered since its ask). Live quotes already on
    /// their way when a snapshot is delivered may follow it (the one it
    /// repeats among them).
    ///
    /// # Errors
    /// As for [`build_with_transport`](Self::build_with_transport).
    pub fn build_with_transport_and_snapshots<T: Transport + 'static>(
        self,
        transport: T,
        source: SnapshotSource,
    ) -> Result<MarketDataStream, Error> {
        let mut stream = self.build_with_transport(transport)?;
        stream.events().wrap_stage(|inner| {
            EventStage(Box::new(SnapshotStage {
                gate: SnapshotGate::default(),
                news: Some(source.news),
                inner,
                ready: VecDeque::new(),
            }))
        });
        Ok(stream)
    }
}

/// The step delivering snapshots, in front of the stream's own step if
/// it has one.
struct SnapshotStage {
    gate: SnapshotGate,
    /// `None` once every [`Snapshots`] is gone.
    news: Option<mpsc::UnboundedReceiver<SnapshotNews>>,
    inner: Option<EventStage<MarketData, Channel>>,
    ready: VecDeque<MarketData>,
}

impl SnapshotStage {
    /// Takes the news already there: answers become snapshots to deliver.
    fn take_news(&mut self, cx: &mut Context<'_>) {
        let Some(news) = &mut self.news else {
            return;
        };
        loop {
            match news.poll_recv(cx) {
                Poll::Ready(Some(SnapshotNews::Asked(id, symbols))) => {
                    self.gate.handle_asked(id, symbols);
                }
                Poll::Ready(Some(SnapshotNews::Answered(id, quotes))) => {
                    self.ready.extend(self.gate.handle_answer(id, quotes));
                }
                Poll::Ready(Some(SnapshotNews::Abandoned(id))) => self.gate.handle_abandoned(id),
                Poll::Ready(None) => {
                    self.news = None;
                    return;
                }
                Poll::Pending => return,
            }
        }
    }
}

impl Stage<MarketData, Channel> for SnapshotStage {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut Events<MarketData, Channel>,
    ) -> Poll<Option<StreamEvent<MarketData, Channel>>> {
        // The news is read while asks wait for their answers (an answer is
        // delivered before the next event), before an event other than
        // data arms asks, and when the queue is empty: not before each
        // live quote otherwise, which it could not concern (a live quote
        // counts against an ask only once the ask is armed).
        if self.gate.has_asks() {
            self.take_news(cx);
        }
        if let Some(snapshot) = self.ready.pop_front() {
            return Poll::Ready(Some(StreamEvent::Snapshot(snapshot)));
        }
        let next = match &mut self.inner {
            Some(inner) => inner.0.poll_next(cx, queue),
            None => queue.poll_queue(cx),
        };
        match &next {
            Poll::Ready(Some(StreamEvent::Machine(Event::Data(data)))) => {
                self.gate.handle_live(data);
            }
            Poll::Ready(Some(StreamEvent::Machine(event))) => {
                // Read the news (again): an ask announced before this
                // event's frame was handed over, perhaps after a read
                // above, must be seen before this event arms what came
                // before it. (Not after live data: an ask it would arm is
                // armed by a later event other than data, the
                // acknowledgement at the latest.)
                self.take_news(cx);
                let confirmed = match event {
                    Event::Confirmed(set) => Some(set),
                    _ => None,
                };
                self.gate.handle_landmark(confirmed);
            }
            // Dropped events may have held the landmark, e.g. an error's.
            Poll::Ready(Some(StreamEvent::Dropped { .. })) => {
                self.take_news(cx);
                self.gate.handle_landmark(None);
            }
            Poll::Pending => {
                self.take_news(cx);
                if let Some(snapshot) = self.ready.pop_front() {
                    return Poll::Ready(Some(StreamEvent::Snapshot(snapshot)));
                }
            }
            Poll::Ready(Some(_) | None) => {}
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tickwire_core::SubscriptionSet;

    use super::*;
    use crate::SlowConsumerPolicy;
    use crate::event_queue::{EventQueue, event_queue};

    fn aapl() -> Symbol {
        Symbol::new("AAPL").expect("valid")
    }

    fn quote(at: i64) -> MarketData {
        crate::snapshot_gate::test_quote(aapl(), at)
    }

    /// A stage over `inner` taking the news of `news`, and the queue it
    /// reads (with its sender, kept so that the queue stays open).
    fn stage_over(
        inner: Scripted,
        news: mpsc::UnboundedReceiver<SnapshotNews>,
    ) -> (
        SnapshotStage,
        EventQueue<MarketData, Channel>,
        Events<MarketData, Channel>,
    ) {
        let stage = SnapshotStage {
            gate: SnapshotGate::default(),
            news: Some(news),
            inner: Some(EventStage(Box::new(inner))),
            ready: VecDeque::new(),
        };
        let (tx, queue) = event_queue::<MarketData, Channel>(
            16,
            usize::MAX,
            SlowConsumerPolicy::default(),
            Arc::default(),
        );
        (stage, tx, queue)
    }

    /// An inner step playing a transport racing the stage: before handing
    /// over its next event it runs its hook (announcing an ask, say), as a
    /// link on another thread may between the stage's reads.
    struct Scripted {
        events: VecDeque<(StreamEvent<MarketData, Channel>, Option<Hook>)>,
    }

    /// What runs just before an event is handed over.
    type Hook = Box<dyn FnOnce() + Send + Sync>;

    impl Stage<MarketData, Channel> for Scripted {
        fn poll_next(
            &mut self,
            _cx: &mut Context<'_>,
            _queue: &mut Events<MarketData, Channel>,
        ) -> Poll<Option<StreamEvent<MarketData, Channel>>> {
            match self.events.pop_front() {
                Some((event, hook)) => {
                    if let Some(hook) = hook {
                        hook();
                    }
                    Poll::Ready(Some(event))
                }
                None => Poll::Pending,
            }
        }
    }

    /// Polls `stage` until it is pending; what it delivered.
    fn drain(
        stage: &mut SnapshotStage,
        queue: &mut Events<MarketData, Channel>,
    ) -> Vec<StreamEvent<MarketData, Channel>> {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let mut out = Vec::new();
        while let Poll::Ready(Some(event)) = stage.poll_next(&mut cx, queue) {
            out.push(event);
        }
        out
    }

    /// Runs a stage whose inner step announces an ask for AAPL's quotes
    /// just before handing over `landmark`, then hands over a live quote
    /// newer than the answer; what the answer then delivers.
    fn answer_after(
        landmark: StreamEvent<MarketData, Channel>,
    ) -> Vec<StreamEvent<MarketData, Channel>> {
        let (snapshots, source) = snapshot_channel();
        let ask = Arc::new(Mutex::new(None));
        let announce = {
            let ask = Arc::clone(&ask);
            move || {
                *ask.lock().expect("lock") = Some(snapshots.ask(vec![aapl()]));
            }
        };
        let inner = Scripted {
            events: VecDeque::from([
                // The ask is announced, then the landmark queued, between
                // the stage's read of the news and its poll.
                (landmark, Some(Box::new(announce) as Hook)),
                // A quote newer than the answer below: it left the
                // source after the request did.
                (StreamEvent::Machine(Event::Data(quote(2))), None),
            ]),
        };
        let (mut stage, _tx, mut queue) = stage_over(inner, source.news);
        let delivered = drain(&mut stage, &mut queue);
        assert_eq!(delivered.len(), 2, "{delivered:?}");
        let ask = ask.lock().expect("lock").take().expect("announced");
        ask.deliver(vec![quote(1)]);
        drain(&mut stage, &mut queue)
    }

    #[test]
    fn an_ask_announced_while_its_acknowledgement_is_taken_is_armed_by_it() {
        let mut confirmed = SubscriptionSet::new();
        confirmed.insert(Channel::Quotes, aapl());
        let delivered = answer_after(StreamEvent::Machine(Event::Confirmed(confirmed)));
        assert!(
            delivered.is_empty(),
            "an answer older than the live quote delivered: {delivered:?}"
        );
    }

    #[test]
    fn live_data_alone_leaves_the_news_unread_until_the_queue_waits() {
        let (snapshots, source) = snapshot_channel();
        let ask = snapshots.ask(vec![aapl()]);
        let inner = Scripted {
            events: VecDeque::from([
                (StreamEvent::Machine(Event::Data(quote(1))), None),
                (StreamEvent::Machine(Event::Data(quote(2))), None),
            ]),
        };
        let (mut stage, _tx, mut queue) = stage_over(inner, source.news);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..2 {
            assert!(matches!(
                stage.poll_next(&mut cx, &mut queue),
                Poll::Ready(Some(StreamEvent::Machine(Event::Data(_))))
            ));
            assert!(!stage.gate.has_asks(), "the news was read before live data");
        }
        assert!(stage.poll_next(&mut cx, &mut queue).is_pending());
        assert!(stage.gate.has_asks(), "the news was not read while waiting");
        // Unarmed, the answer is delivered whole, as soon as it comes.
        ask.deliver(vec![quote(3)]);
        assert_eq!(
            stage.poll_next(&mut cx, &mut queue),
            Poll::Ready(Some(StreamEvent::Snapshot(quote(3))))
        );
        assert!(!stage.gate.has_asks());
    }

    #[test]
    fn a_report_of_dropped_events_arms_an_ask() {
        let delivered = answer_after(StreamEvent::Dropped { count: 1, total: 1 });
        assert!(
            delivered.is_empty(),
            "an answer older than the live quote delivered: {delivered:?}"
        );
    }
}
