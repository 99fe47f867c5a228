//! The bounded queue between a stream's task and its consumer.
//!
//! The driver pushes the events of one read burst (often hundreds of quotes)
//! under a single lock; the consumer swaps the whole queue out under a single
//! lock and then reads its local copy without synchronising. That keeps the
//! cost per event at a move, not a channel operation. Events travel as the
//! machine's [`Event`]s (a quote is ~250 bytes, so every move counts) and
//! become [`StreamEvent`]s as the consumer takes them.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use tickwire_core::machine::Event;

use crate::StreamEvent;

/// What a stream does when its consumer falls behind and the event queue is full.
///
/// Only data events are ever dropped; state changes, subscription outcomes,
/// gaps and errors are always delivered. Drops are counted
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
    /// the queue's capacity is dropped and counted.
    #[default]
    Backpressure,
    /// Keep reading; drop data that arrives while the queue is full.
    DropNewest,
    /// Keep reading; drop the oldest queued data to make room.
    DropOldest,
}

/// The producer side, owned by the driver.
pub(crate) struct EventQueue<T> {
    shared: Arc<Shared<T>>,
}

/// The events of a stream, as a [`futures::Stream`].
///
/// Ends (`None`) after the stream's task has stopped — after
/// [`shutdown`](crate::StreamHandle::shutdown), a fatal error, or when every
/// handle was dropped — and every event before that was read.
pub struct Events<T> {
    shared: Arc<Shared<T>>,
    local: VecDeque<Event<T>>,
}

struct Shared<T> {
    capacity: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    events: VecDeque<Event<T>>,
    dropped_unreported: u64,
    consumer: Option<Waker>,
    producer: Option<Waker>,
    producer_gone: bool,
    consumer_gone: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic while holding the lock cannot leave the queue inconsistent
        // (every critical section is a handful of moves), so poison is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates a queue holding up to `capacity` events (at least 1).
pub(crate) fn event_queue<T>(
    capacity: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
) -> (EventQueue<T>, Events<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        capacity,
        policy,
        dropped_total,
        inner: Mutex::new(Inner {
            events: VecDeque::with_capacity(capacity.min(4096)),
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
        },
    )
}

impl<T> EventQueue<T> {
    /// The queue's capacity in events.
    pub(crate) fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Moves events from `outbox` into the queue according to the policy.
    ///
    /// Under [`SlowConsumerPolicy::Backpressure`] only as many as fit are
    /// moved, in order, and the rest stay in `outbox`; the drop policies
    /// always empty `outbox`.
    pub(crate) fn push(&self, outbox: &mut VecDeque<Event<T>>) {
        if outbox.is_empty() {
            return;
        }
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        let capacity = self.shared.capacity;
        let before = inner.events.len();
        let mut dropped = 0u64;
        if before == 0 && outbox.len() <= capacity {
            // The consumer keeps up: hand the whole batch over without moving it.
            std::mem::swap(&mut inner.events, outbox);
            let waker = inner.consumer.take();
            drop(inner);
            if let Some(waker) = waker {
                waker.wake();
            }
            return;
        }
        match self.shared.policy {
            SlowConsumerPolicy::Backpressure => {
                let room = capacity.saturating_sub(before);
                if room >= outbox.len() {
                    inner.events.extend(outbox.drain(..));
                } else {
                    inner.events.extend(outbox.drain(..room));
                }
            }
            SlowConsumerPolicy::DropNewest => {
                if before + outbox.len() <= capacity {
                    inner.events.extend(outbox.drain(..));
                } else {
                    for event in outbox.drain(..) {
                        if is_data(&event) && inner.events.len() >= capacity {
                            dropped += 1;
                        } else {
                            inner.events.push_back(event);
                        }
                    }
                }
            }
            SlowConsumerPolicy::DropOldest => {
                inner.events.extend(outbox.drain(..));
                let mut excess = inner.events.len().saturating_sub(capacity);
                while excess > 0 && inner.events.front().is_some_and(is_data) {
                    inner.events.pop_front();
                    excess -= 1;
                    dropped += 1;
                }
                if excess > 0 {
                    // A control event sits at the front: keep it, drop the oldest data behind it.
                    inner.events.retain(|event| {
                        if excess > 0 && is_data(event) {
                            excess -= 1;
                            dropped += 1;
                            false
                        } else {
                            true
                        }
                    });
                }
            }
        }
        if dropped > 0 {
            inner.dropped_unreported += dropped;
            self.shared
                .dropped_total
                .fetch_add(dropped, Ordering::Relaxed);
        }
        let waker = if inner.events.len() > before || dropped > 0 {
            inner.consumer.take()
        } else {
            None
        };
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Moves every event of `outbox` into the queue whatever the policy: for
    /// the last few events of a stream, which must not wait.
    pub(crate) fn push_final(&self, outbox: &mut VecDeque<Event<T>>) {
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        inner.events.extend(outbox.drain(..));
        let waker = inner.consumer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Counts data events the driver dropped before they reached the queue.
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
        inner.consumer_gone || inner.events.len() < self.shared.capacity
    }

    /// Ready once the queue has room; registers to be woken otherwise.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.shared.lock();
        if inner.consumer_gone || inner.events.len() < self.shared.capacity {
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

impl<T> Drop for EventQueue<T> {
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

impl<T> Events<T> {
    /// Events waiting to be read (queued and already taken from the queue).
    pub fn len(&self) -> usize {
        self.local.len() + self.shared.lock().events.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Data events dropped by the slow-consumer policy since the stream was created.
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// The next event if one is waiting, without waiting; `None` when none is
    /// (or the stream has ended).
    pub fn try_next(&mut self) -> Option<StreamEvent<T>> {
        match self.poll_take(None) {
            Poll::Ready(event) => event,
            Poll::Pending => None,
        }
    }

    fn poll_take(&mut self, mut cx: Option<&mut Context<'_>>) -> Poll<Option<StreamEvent<T>>> {
        loop {
            while let Some(event) = self.local.pop_front() {
                if let Some(event) = StreamEvent::from_machine(event) {
                    return Poll::Ready(Some(event));
                }
            }
            let mut inner = self.shared.lock();
            let dropped = std::mem::take(&mut inner.dropped_unreported);
            std::mem::swap(&mut inner.events, &mut self.local);
            let producer = if self.local.is_empty() {
                None
            } else {
                inner.producer.take()
            };
            let ended = inner.producer_gone;
            if self.local.is_empty() && dropped == 0 && !ended {
                if let Some(cx) = cx.as_deref_mut() {
                    inner.consumer = Some(cx.waker().clone());
                }
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

fn is_data<T>(event: &Event<T>) -> bool {
    matches!(event, Event::Data(_))
}

impl<T> Stream for Events<T> {
    type Item = StreamEvent<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_take(Some(cx))
    }
}

impl<T> Unpin for Events<T> {}

impl<T> Drop for Events<T> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.consumer_gone = true;
        inner.events.clear();
        let waker = inner.producer.take();
        drop(inner);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Events<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("capacity", &self.shared.capacity)
            .field("policy", &self.shared.policy)
            .field("buffered", &self.local.len())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for EventQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueue")
            .field("capacity", &self.shared.capacity)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tickwire_core::machine::State;

    fn queue(capacity: usize, policy: SlowConsumerPolicy) -> (EventQueue<u32>, Events<u32>) {
        event_queue(capacity, policy, Arc::new(AtomicU64::new(0)))
    }

    fn data(range: std::ops::Range<u32>) -> VecDeque<Event<u32>> {
        range.map(Event::Data).collect()
    }

    fn delivered(range: std::ops::Range<u32>) -> Vec<StreamEvent<u32>> {
        range.map(StreamEvent::Data).collect()
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
                StreamEvent::Data(0),
                StreamEvent::Data(1),
                StreamEvent::StateChanged(State::Idle),
            ]
        );
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
                StreamEvent::StateChanged(State::Idle),
                StreamEvent::Data(3),
                StreamEvent::Data(4),
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
        assert_eq!(rx.next().await, Some(StreamEvent::Data(0)));
        let tx = waiting.await.unwrap();
        assert!(tx.has_room());
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
