//! The bounded queue between a stream's task and its consumer.
//!
//! The driver hands over the events of one read burst (often hundreds of
//! quotes) as one batch under a single lock, without moving them; the
//! consumer takes every queued batch under a single lock and reads them
//! without synchronising. That keeps the cost per event at a move, not a
//! channel operation. Events travel as the machine's [`Event`]s (a quote is
//! ~250 bytes, so every move counts) and are wrapped, unchanged, in
//! [`StreamEvent::Machine`] as the consumer takes them. Emptied batches go
//! back to the producer for reuse.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use tickwire_alpaca::Channel;
use tickwire_core::machine::Event;

use crate::StreamEvent;
use crate::event_stage::EventStage;

/// What a stream does when its consumer falls behind and the event queue is full.
///
/// Only what the server can send in bulk is ever dropped: data, messages of
/// unknown types and non-fatal errors (at most one malformed-message error
/// per frame); state changes, subscription outcomes, confirmed sets,
/// refusals, gaps and fatal errors are always delivered. Drops are counted
/// ([`StreamHandle::dropped_events`](crate::StreamHandle::dropped_events)) and
/// reported in order as [`StreamEvent::Dropped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SlowConsumerPolicy {
    /// Stop reading the socket until the consumer catches up (the default):
    /// nothing is lost, and the server sees a slow reader.
    ///
    /// Reading goes on while the stream is not live or a subscribe or
    /// unsubscribe awaits the server's verdict, so a consumer that awaits its
    /// own subscribe cannot deadlock the stream; data that arrives then beyond
    /// the queue's capacity is dropped and counted. A consumer stalled for
    /// longer than the ping interval plus the pong timeout makes the stream
    /// reconnect (a server drops a client that does not read anyway).
    #[default]
    Backpressure,
    /// Keep reading; drop data that arrives while the queue is full.
    DropNewest,
    /// Keep reading; drop the oldest queued data to make room.
    DropOldest,
}

/// The producer side, owned by the driver.
pub(crate) struct EventQueue<T, C> {
    shared: Arc<Shared<T, C>>,
}

/// A run of events handed over at once.
type Batch<T, C> = VecDeque<Event<T, C>>;

/// Emptied batches kept for reuse.
const SPARE_BATCHES_MAX: usize = 16;

/// The events of a stream, as a [`futures::Stream`].
///
/// Ends (`None`) after the stream's task has stopped — after
/// [`shutdown`](crate::StreamHandle::shutdown), a fatal error, or when every
/// handle was dropped — and every event before that was read. `T` is the
/// data type, `C` the dialect's channel.
pub struct Events<T, C = Channel> {
    shared: Arc<Shared<T, C>>,
    /// Batches taken from the queue, being read.
    local: VecDeque<Batch<T, C>>,
    /// Batches read empty, to give back.
    spare: Vec<Batch<T, C>>,
    /// A step between the queue and the application, if the stream has one.
    stage: Option<EventStage<T, C>>,
}

struct Shared<T, C> {
    capacity: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
    inner: Mutex<Inner<T, C>>,
}

struct Inner<T, C> {
    batches: VecDeque<Batch<T, C>>,
    /// Events in `batches`.
    len: usize,
    spare: Vec<Batch<T, C>>,
    dropped_unreported: u64,
    consumer: Option<Waker>,
    producer: Option<Waker>,
    producer_gone: bool,
    consumer_gone: bool,
}

impl<T, C> Shared<T, C> {
    fn lock(&self) -> MutexGuard<'_, Inner<T, C>> {
        // A panic while holding the lock cannot leave the queue inconsistent
        // (every critical section is a handful of moves), so poison is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T, C> Inner<T, C> {
    fn append(&mut self, batch: Batch<T, C>) {
        if batch.is_empty() {
            self.recycle(batch);
        } else {
            self.len += batch.len();
            self.batches.push_back(batch);
        }
    }

    fn recycle(&mut self, mut batch: Batch<T, C>) {
        if self.spare.len() < SPARE_BATCHES_MAX {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// Drops the oldest droppable events until at most `capacity` events are
    /// queued (the others stay); returns how many were dropped.
    fn evict_oldest_data(&mut self, capacity: usize) -> u64 {
        let mut excess = self.len.saturating_sub(capacity);
        let mut dropped = 0u64;
        for batch in &mut self.batches {
            if excess == 0 {
                break;
            }
            while excess > 0 && batch.front().is_some_and(is_droppable) {
                batch.pop_front();
                excess -= 1;
                dropped += 1;
            }
            if excess > 0 && !batch.is_empty() {
                // A control event is in the way: keep it, drop the data behind it.
                batch.retain(|event| {
                    if excess > 0 && is_droppable(event) {
                        excess -= 1;
                        dropped += 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        self.len -= dropped as usize;
        while self.batches.front().is_some_and(VecDeque::is_empty) {
            if let Some(batch) = self.batches.pop_front() {
                self.recycle(batch);
            }
        }
        self.batches.retain(|batch| !batch.is_empty());
        dropped
    }
}

/// Creates a queue holding up to `capacity` events (at least 1).
pub(crate) fn event_queue<T, C>(
    capacity: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
) -> (EventQueue<T, C>, Events<T, C>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        capacity,
        policy,
        dropped_total,
        inner: Mutex::new(Inner {
            batches: VecDeque::new(),
            len: 0,
            spare: Vec::new(),
            dropped_unreported: 0,
            consumer: None,
            producer: None,
            producer_gone: false,
            consumer_gone: false,
        }),
    });
    (
        EventQueue {
            shared: Arc::clone(&shared),
        },
        Events {
            shared,
            local: VecDeque::new(),
            spare: Vec::new(),
            stage: None,
        },
    )
}

impl<T, C> EventQueue<T, C> {
    /// The queue's capacity in events.
    pub(crate) fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Moves events from `outbox` into the queue according to the policy.
    ///
    /// Under [`SlowConsumerPolicy::Backpressure`] only as many as fit are
    /// moved, in order, and the rest stay in `outbox`; the drop policies
    /// always empty `outbox`. When everything fits, the outbox itself is
    /// handed over and replaced by a recycled batch.
    pub(crate) fn push(&self, outbox: &mut Batch<T, C>) {
        if outbox.is_empty() {
            return;
        }
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        let capacity = self.shared.capacity;
        let room = capacity.saturating_sub(inner.len);
        let mut dropped = 0u64;
        if outbox.len() <= room {
            let replacement = inner.spare.pop().unwrap_or_default();
            let batch = std::mem::replace(outbox, replacement);
            inner.append(batch);
        } else {
            match self.shared.policy {
                SlowConsumerPolicy::Backpressure => {
                    let batch: Batch<T, C> = outbox.drain(..room).collect();
                    inner.append(batch);
                }
                SlowConsumerPolicy::DropNewest => {
                    let mut batch = inner.spare.pop().unwrap_or_default();
                    let mut queued = inner.len;
                    for event in outbox.drain(..) {
                        if is_droppable(&event) && queued >= capacity {
                            dropped += 1;
                        } else {
                            batch.push_back(event);
                            queued += 1;
                        }
                    }
                    inner.append(batch);
                }
                SlowConsumerPolicy::DropOldest => {
                    let replacement = inner.spare.pop().unwrap_or_default();
                    let batch = std::mem::replace(outbox, replacement);
                    inner.append(batch);
                    dropped = inner.evict_oldest_data(capacity);
                }
            }
        }
        if dropped > 0 {
            inner.dropped_unreported += dropped;
            self.shared
                .dropped_total
                .fetch_add(dropped, Ordering::Relaxed);
        }
        let waker = inner.consumer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Moves every event of `outbox` into the queue whatever the policy: for
    /// the last few events of a stream, which must not wait.
    pub(crate) fn push_final(&self, outbox: &mut Batch<T, C>) {
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        let batch = std::mem::take(outbox);
        inner.append(batch);
        let waker = inner.consumer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Counts events the driver dropped before they reached the queue.
    pub(crate) fn note_dropped(&self, count: u64) {
        if count == 0 {
            return;
        }
        self.shared
            .dropped_total
            .fetch_add(count, Ordering::Relaxed);
        let mut inner = self.shared.lock();
        inner.dropped_unreported += count;
        let waker = inner.consumer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the queue holds fewer events than its capacity (or nobody reads it).
    #[cfg(test)]
    pub(crate) fn has_room(&self) -> bool {
        let inner = self.shared.lock();
        inner.consumer_gone || inner.len < self.shared.capacity
    }

    /// Ready once the queue has room; registers to be woken otherwise.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.shared.lock();
        if inner.consumer_gone || inner.len < self.shared.capacity {
            return Poll::Ready(());
        }
        inner.producer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Waits until the queue has room.
    pub(crate) async fn room(&self) {
        futures::future::poll_fn(|cx| self.poll_room(cx)).await;
    }
}

impl<T, C> Drop for EventQueue<T, C> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.producer_gone = true;
        let waker = inner.consumer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, C> Events<T, C> {
    /// Events waiting to be read (queued and already taken from the queue).
    pub fn len(&self) -> usize {
        self.local.iter().map(VecDeque::len).sum::<usize>() + self.shared.lock().len
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped by the slow-consumer policy since the stream was created.
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// The next event if one is waiting, without waiting; `None` when none is
    /// (or the stream has ended).
    pub fn try_next(&mut self) -> Option<StreamEvent<T, C>> {
        let next = match self.stage.take() {
            None => self.poll_take(None),
            Some(mut stage) => {
                let next = stage
                    .0
                    .poll_next(&mut Context::from_waker(Waker::noop()), self);
                self.stage = Some(stage);
                next
            }
        };
        match next {
            Poll::Ready(event) => event,
            Poll::Pending => None,
        }
    }

    /// Puts `stage` between the queue and the application.
    pub(crate) fn set_stage(&mut self, stage: EventStage<T, C>) {
        self.stage = Some(stage);
    }

    /// The queue's next event, for a stage; registers `cx` when none is ready.
    pub(crate) fn poll_queue(&mut self, cx: &mut Context<'_>) -> Poll<Option<StreamEvent<T, C>>> {
        self.poll_take(Some(cx))
    }

    /// The next event already taken from the queue.
    fn next_local(&mut self) -> Option<StreamEvent<T, C>> {
        while let Some(batch) = self.local.front_mut() {
            match batch.pop_front() {
                Some(event) => return Some(StreamEvent::Machine(event)),
                None => {
                    if let Some(batch) = self.local.pop_front() {
                        self.spare.push(batch);
                    }
                }
            }
        }
        None
    }

    fn poll_take(&mut self, mut cx: Option<&mut Context<'_>>) -> Poll<Option<StreamEvent<T, C>>> {
        loop {
            if let Some(event) = self.next_local() {
                return Poll::Ready(Some(event));
            }
            let mut inner = self.shared.lock();
            for batch in self.spare.drain(..) {
                inner.recycle(batch);
            }
            let dropped = std::mem::take(&mut inner.dropped_unreported);
            std::mem::swap(&mut inner.batches, &mut self.local);
            inner.len = 0;
            let producer = if self.local.is_empty() {
                None
            } else {
                inner.producer.take()
            };
            let ended = inner.producer_gone;
            if self.local.is_empty()
                && dropped == 0
                && !ended
                && let Some(cx) = cx.as_deref_mut()
            {
                inner.consumer = Some(cx.waker().clone());
            }
            drop(inner);
            if let Some(waker) = producer {
                waker.wake();
            }
            if dropped > 0 {
                return Poll::Ready(Some(StreamEvent::Dropped {
                    count: dropped,
                    total: self.dropped_events(),
                }));
            }
            if self.local.is_empty() {
                return if ended {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
        }
    }
}

/// Whether `event` may be dropped when the queue is full: what a server can
/// send without limit (see [`SlowConsumerPolicy`]). The rest is a handful
/// per connection attempt.
pub(crate) fn is_droppable<T, C>(event: &Event<T, C>) -> bool {
    matches!(
        event,
        Event::Data(_) | Event::Unknown { .. } | Event::Error { fatal: false, .. }
    )
}

impl<T, C> Stream for Events<T, C> {
    type Item = StreamEvent<T, C>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.stage.take() {
            None => this.poll_take(Some(cx)),
            Some(mut stage) => {
                let next = stage.0.poll_next(cx, this);
                this.stage = Some(stage);
                next
            }
        }
    }
}

impl<T, C> Unpin for Events<T, C> {}

impl<T, C> Drop for Events<T, C> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.consumer_gone = true;
        inner.batches.clear();
        inner.len = 0;
        let waker = inner.producer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, C> Shared<T, C> {
    /// The `Debug` form of either end of the queue: its bound and policy.
    fn debug_end(&self, end: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(end)
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<T, C> fmt::Debug for Events<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug_end("Events", f)
    }
}

impl<T, C> fmt::Debug for EventQueue<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug_end("EventQueue", f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tickwire_core::machine::State;

    fn queue(
        capacity: usize,
        policy: SlowConsumerPolicy,
    ) -> (EventQueue<u32, Channel>, Events<u32>) {
        event_queue(capacity, policy, Arc::new(AtomicU64::new(0)))
    }

    fn data(range: std::ops::Range<u32>) -> VecDeque<Event<u32, Channel>> {
        range.map(Event::Data).collect()
    }

    fn delivered(range: std::ops::Range<u32>) -> Vec<StreamEvent<u32>> {
        range
            .map(|n| StreamEvent::Machine(Event::Data(n)))
            .collect()
    }

    fn drain(events: &mut Events<u32>) -> Vec<StreamEvent<u32>> {
        std::iter::from_fn(|| events.try_next()).collect()
    }

    #[test]
    fn backpressure_keeps_what_does_not_fit() {
        let (tx, mut rx) = queue(3, SlowConsumerPolicy::Backpressure);
        let mut outbox = data(0..5);
        tx.push(&mut outbox);
        assert_eq!(outbox, data(3..5));
        assert!(!tx.has_room());
        assert_eq!(drain(&mut rx), delivered(0..3));
        assert!(tx.has_room());
        tx.push(&mut outbox);
        assert!(outbox.is_empty());
        assert_eq!(drain(&mut rx), delivered(3..5));
        assert_eq!(rx.dropped_events(), 0);
    }

    #[test]
    fn drop_newest_keeps_control_events_and_reports_the_count_first() {
        let (tx, mut rx) = queue(2, SlowConsumerPolicy::DropNewest);
        let mut outbox = data(0..4);
        outbox.push_back(Event::StateChanged(State::Idle));
        tx.push(&mut outbox);
        assert!(outbox.is_empty());
        assert_eq!(
            drain(&mut rx),
            vec![
                StreamEvent::Dropped { count: 2, total: 2 },
                StreamEvent::Machine(Event::Data(0)),
                StreamEvent::Machine(Event::Data(1)),
                StreamEvent::Machine(Event::StateChanged(State::Idle)),
            ]
        );
    }

    fn malformed(fatal: bool) -> Event<u32, Channel> {
        Event::Error {
            error: tickwire_core::machine::StreamError::Protocol("bad".into()),
            fatal,
        }
    }

    #[test]
    fn non_fatal_errors_and_unknown_messages_count_against_the_bound_like_data() {
        for policy in [
            SlowConsumerPolicy::DropNewest,
            SlowConsumerPolicy::DropOldest,
        ] {
            let (tx, mut rx) = queue(2, policy);
            for _ in 0..1000 {
                tx.push(&mut [malformed(false)].into());
                tx.push(&mut [Event::Unknown { tag: "x".into() }].into());
            }
            tx.push(&mut [malformed(true)].into());
            let events = drain(&mut rx);
            // The count first, at most the capacity kept, the fatal error last.
            let StreamEvent::Dropped { count, .. } = events[0] else {
                panic!("{policy:?}: {events:?}");
            };
            assert!(events.len() <= 2 + 2, "{policy:?}: {events:?}");
            assert_eq!(count as usize + events.len() - 2, 2000, "{policy:?}");
            assert_eq!(events.last(), Some(&StreamEvent::Machine(malformed(true))));
        }
    }

    #[test]
    fn drop_oldest_evicts_the_oldest_data_behind_control_events() {
        let (tx, mut rx) = queue(3, SlowConsumerPolicy::DropOldest);
        let mut outbox: VecDeque<_> = [Event::StateChanged(State::Idle)].into();
        outbox.extend(data(0..5));
        tx.push(&mut outbox);
        assert_eq!(
            drain(&mut rx),
            vec![
                StreamEvent::Dropped { count: 3, total: 3 },
                StreamEvent::Machine(Event::StateChanged(State::Idle)),
                StreamEvent::Machine(Event::Data(3)),
                StreamEvent::Machine(Event::Data(4)),
            ]
        );
        assert_eq!(rx.dropped_events(), 3);
    }

    #[tokio::test]
    async fn the_stream_ends_after_the_producer_is_gone_and_everything_was_read() {
        let (tx, mut rx) = queue(8, SlowConsumerPolicy::Backpressure);
        let reader = tokio::spawn(async move { rx.by_ref().collect::<Vec<_>>().await });
        tokio::task::yield_now().await;
        tx.push(&mut data(0..2));
        drop(tx);
        assert_eq!(reader.await.unwrap(), delivered(0..2));
    }

    #[tokio::test]
    async fn a_full_queue_wakes_the_producer_when_read() {
        let (tx, mut rx) = queue(1, SlowConsumerPolicy::Backpressure);
        tx.push(&mut data(0..1));
        let waiting = tokio::spawn(async move {
            tx.room().await;
            tx
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(rx.next().await, Some(StreamEvent::Machine(Event::Data(0))));
        let tx = waiting.await.unwrap();
        assert!(tx.has_room());
    }

    #[test]
    fn drop_oldest_reaches_into_older_batches_and_recycles_emptied_ones() {
        let (tx, mut rx) = queue(4, SlowConsumerPolicy::DropOldest);
        tx.push(&mut data(0..3));
        tx.push(&mut data(3..5));
        tx.push(&mut data(5..9));
        let mut expected = vec![StreamEvent::Dropped { count: 5, total: 5 }];
        expected.extend(delivered(5..9));
        assert_eq!(drain(&mut rx), expected);
        // Batches keep flowing after recycling.
        tx.push(&mut data(9..11));
        assert_eq!(drain(&mut rx), delivered(9..11));
    }

    #[test]
    fn a_dropped_consumer_discards_and_never_blocks() {
        let (tx, rx) = queue(1, SlowConsumerPolicy::Backpressure);
        drop(rx);
        let mut outbox = data(0..10);
        tx.push(&mut outbox);
        assert!(outbox.is_empty());
        assert!(tx.has_room());
    }
}
