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
//!
//! Two bounds hold: events queued (the capacity) and bytes, each batch
//! charged the bytes of the frames its events came from (a sum the driver
//! keeps per frame, not a walk over the events). A batch's bytes stay
//! charged until the consumer has read it to its end and asks for more, so
//! the bytes bound covers the event being handled too; a batch larger than
//! the bound still passes when nothing else is charged.

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

/// What a stream does when its consumer falls behind and the event queue is
/// full: holds its capacity in events, or its bound in bytes (16 MiB of
/// frames by default, or one batch of any size when nothing else is queued
/// or being read).
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
    /// Keep reading; drop the oldest queued data to make room. The newest
    /// batch is always kept, so the queue may hold it beyond the bytes bound
    /// while the consumer reads an older one.
    DropOldest,
}

/// The producer side, owned by the driver.
pub(crate) struct EventQueue<T, C> {
    shared: Arc<Shared<T, C>>,
}

/// A run of events handed over at once.
type Batch<T, C> = VecDeque<Event<T, C>>;

/// Events drained from the machine and not yet queued, with the bytes of
/// the frames they came from.
pub(crate) struct Outbox<T, C> {
    events: Batch<T, C>,
    bytes: usize,
}

impl<T, C> Outbox<T, C> {
    pub(crate) fn new() -> Self {
        Self {
            events: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Adds an event.
    pub(crate) fn push(&mut self, event: Event<T, C>) {
        self.events.push_back(event);
    }

    /// The events, to add to in bulk.
    pub(crate) fn events_mut(&mut self) -> &mut VecDeque<Event<T, C>> {
        &mut self.events
    }

    /// Charges the events the bytes of a frame they came from.
    pub(crate) fn charge(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The bytes charged to the events.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The share of the bytes one event carries (rounded up).
    pub(crate) fn share(&self) -> usize {
        self.bytes.div_ceil(self.events.len().max(1))
    }

    /// Takes the first `count` events and their share of the bytes.
    fn split_front(&mut self, count: usize, spare: Option<Batch<T, C>>) -> Queued<T, C> {
        let count = count.min(self.events.len());
        let bytes = share_of(self.bytes, count, self.events.len());
        self.bytes -= bytes;
        // Without a spare, a new batch gets the room the last one needed (up
        // to a bound): growing one event at a time would reallocate it again
        // and again.
        let events = if count == self.events.len() {
            let room = count.min(NEW_BATCH_ROOM_MAX);
            std::mem::replace(
                &mut self.events,
                spare.unwrap_or_else(|| VecDeque::with_capacity(room)),
            )
        } else {
            let mut batch =
                spare.unwrap_or_else(|| VecDeque::with_capacity(count.min(NEW_BATCH_ROOM_MAX)));
            batch.extend(self.events.drain(..count));
            batch
        };
        Queued { events, bytes }
    }

    fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
    }
}

impl<T, C> Default for Outbox<T, C> {
    fn default() -> Self {
        Self::new()
    }
}

/// `bytes` shared among `total` events: the part of `count` of them.
fn share_of(bytes: usize, count: usize, total: usize) -> usize {
    if count >= total {
        return bytes;
    }
    // At most 2^64 × 2^64: no overflow in u128.
    (bytes as u128 * count as u128 / total.max(1) as u128) as usize
}

/// A batch in the queue and the bytes it is charged.
struct Queued<T, C> {
    events: Batch<T, C>,
    bytes: usize,
}

/// Emptied batches kept for reuse.
const SPARE_BATCHES_MAX: usize = 16;

/// Most events a batch made without a spare has room for at first (about
/// 1 MiB of quote events): enough for the driver's bursts, and a burst's
/// size does not stay in every later batch.
const NEW_BATCH_ROOM_MAX: usize = 4096;

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
    /// The bytes charged to the batches in `local`, released at the next take.
    local_bytes: usize,
}

struct Shared<T, C> {
    capacity: usize,
    bytes_max: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
    inner: Mutex<Inner<T, C>>,
}

struct Inner<T, C> {
    batches: VecDeque<Queued<T, C>>,
    /// Events in `batches`.
    len: usize,
    /// Bytes charged to `batches` and to the batches the consumer is reading.
    bytes: usize,
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
    fn append(&mut self, batch: Queued<T, C>) {
        if batch.events.is_empty() {
            self.recycle(batch.events);
        } else {
            self.len += batch.events.len();
            self.bytes = self.bytes.saturating_add(batch.bytes);
            self.batches.push_back(batch);
        }
    }

    /// Whether `count` more events charged `bytes` fit both bounds (a
    /// batch of any size fits when nothing is charged).
    fn fits(&self, count: usize, bytes: usize, capacity: usize, bytes_max: usize) -> bool {
        self.len + count <= capacity
            && (self.bytes == 0 || self.bytes.saturating_add(bytes) <= bytes_max)
    }

    /// Whether at least one event charged `share` bytes fits.
    fn has_room(&self, share: usize, capacity: usize, bytes_max: usize) -> bool {
        self.consumer_gone || self.fits(1, share, capacity, bytes_max)
    }

    fn recycle(&mut self, mut batch: Batch<T, C>) {
        if self.spare.len() < SPARE_BATCHES_MAX {
            batch.clear();
            self.spare.push(batch);
        }
    }

    /// Drops the oldest droppable events until at most `capacity` events
    /// are queued and at most `bytes_max` bytes are charged, sparing the
    /// newest batch for the bytes (the others stay); returns how many were
    /// dropped.
    fn evict_oldest_data(&mut self, capacity: usize, bytes_max: usize) -> u64 {
        let newest = self.batches.len().saturating_sub(1);
        let mut dropped = 0u64;
        for (index, queued) in self.batches.iter_mut().enumerate() {
            let excess_events = self.len.saturating_sub(capacity);
            let excess_bytes = if index == newest {
                0
            } else {
                self.bytes.saturating_sub(bytes_max)
            };
            if excess_events == 0 && excess_bytes == 0 {
                break;
            }
            let total = queued.events.len();
            let share = queued.bytes.div_ceil(total.max(1));
            let for_bytes = excess_bytes
                .checked_div(share)
                .map_or(0, |n| n + usize::from(excess_bytes % share != 0));
            let mut excess = excess_events.max(for_bytes);
            let before = dropped;
            while excess > 0 && queued.events.front().is_some_and(is_droppable) {
                queued.events.pop_front();
                excess -= 1;
                dropped += 1;
            }
            if excess > 0 && !queued.events.is_empty() {
                // A control event is in the way: keep it, drop the data behind it.
                queued.events.retain(|event| {
                    if excess > 0 && is_droppable(event) {
                        excess -= 1;
                        dropped += 1;
                        false
                    } else {
                        true
                    }
                });
            }
            let removed = (dropped - before) as usize;
            let freed = share_of(queued.bytes, removed, total);
            queued.bytes -= freed;
            self.bytes -= freed;
            self.len -= removed;
        }
        while self.batches.front().is_some_and(|q| q.events.is_empty()) {
            if let Some(queued) = self.batches.pop_front() {
                self.bytes -= queued.bytes;
                self.recycle(queued.events);
            }
        }
        self.batches.retain(|q| !q.events.is_empty());
        dropped
    }
}

/// Creates a queue holding up to `capacity` events (at least 1) and
/// `bytes_max` bytes (or one batch of any size).
pub(crate) fn event_queue<T, C>(
    capacity: usize,
    bytes_max: usize,
    policy: SlowConsumerPolicy,
    dropped_total: Arc<AtomicU64>,
) -> (EventQueue<T, C>, Events<T, C>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        capacity,
        bytes_max,
        policy,
        dropped_total,
        inner: Mutex::new(Inner {
            batches: VecDeque::new(),
            len: 0,
            bytes: 0,
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
            local_bytes: 0,
        },
    )
}

impl<T, C> EventQueue<T, C> {
    /// The queue's capacity in events.
    pub(crate) fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The queue's bound in bytes.
    pub(crate) fn bytes_max(&self) -> usize {
        self.shared.bytes_max
    }

    /// Moves events from `outbox` into the queue according to the policy.
    ///
    /// Under [`SlowConsumerPolicy::Backpressure`] only as many as fit are
    /// moved, in order, and the rest stay in `outbox`; the drop policies
    /// always empty `outbox`. When everything fits, the outbox's events are
    /// handed over as they are and replaced by a recycled batch.
    pub(crate) fn push(&self, outbox: &mut Outbox<T, C>) {
        if outbox.is_empty() {
            return;
        }
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        let capacity = self.shared.capacity;
        let bytes_max = self.shared.bytes_max;
        let mut dropped = 0u64;
        if inner.fits(outbox.len(), outbox.bytes(), capacity, bytes_max) {
            let spare = inner.spare.pop();
            let batch = outbox.split_front(outbox.len(), spare);
            inner.append(batch);
        } else {
            match self.shared.policy {
                SlowConsumerPolicy::Backpressure => {
                    let count = self.room_for(&inner, outbox);
                    if count > 0 {
                        let spare = inner.spare.pop();
                        let batch = outbox.split_front(count, spare);
                        inner.append(batch);
                    }
                }
                SlowConsumerPolicy::DropNewest => {
                    let share = outbox.share();
                    let total = outbox.len();
                    let mut batch = inner.spare.pop().unwrap_or_default();
                    let mut queued = inner.len;
                    let mut charged = inner.bytes;
                    for event in outbox.events.drain(..) {
                        let fits = queued < capacity
                            && (charged == 0 || charged.saturating_add(share) <= bytes_max);
                        if is_droppable(&event) && !fits {
                            dropped += 1;
                        } else {
                            batch.push_back(event);
                            queued += 1;
                            charged = charged.saturating_add(share);
                        }
                    }
                    let bytes = share_of(outbox.bytes, batch.len(), total);
                    outbox.bytes = 0;
                    inner.append(Queued {
                        events: batch,
                        bytes,
                    });
                }
                SlowConsumerPolicy::DropOldest => {
                    let spare = inner.spare.pop();
                    let batch = outbox.split_front(outbox.len(), spare);
                    inner.append(batch);
                    dropped = inner.evict_oldest_data(capacity, bytes_max);
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

    /// How many of the outbox's first events fit both bounds (at least one
    /// when nothing is charged).
    fn room_for(&self, inner: &Inner<T, C>, outbox: &Outbox<T, C>) -> usize {
        let by_count = self.shared.capacity.saturating_sub(inner.len);
        let by_bytes = if inner.bytes == 0 || outbox.bytes() == 0 {
            outbox.len()
        } else {
            let room = self.shared.bytes_max.saturating_sub(inner.bytes);
            (room as u128 * outbox.len() as u128 / outbox.bytes() as u128) as usize
        };
        let by_bytes = if inner.bytes == 0 {
            by_bytes.max(1)
        } else {
            by_bytes
        };
        by_count.min(by_bytes).min(outbox.len())
    }

    /// Moves every event of `outbox` into the queue whatever the policy: for
    /// the last few events of a stream, which must not wait.
    pub(crate) fn push_final(&self, outbox: &mut Outbox<T, C>) {
        let mut inner = self.shared.lock();
        if inner.consumer_gone {
            outbox.clear();
            return;
        }
        // The stream is ending: the outbox needs no room after this.
        let batch = outbox.split_front(outbox.len(), Some(VecDeque::new()));
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

    /// Whether one more event charged `share` bytes would fit (or nobody
    /// reads the queue).
    #[cfg(test)]
    pub(crate) fn has_room(&self, share: usize) -> bool {
        let inner = self.shared.lock();
        inner.has_room(share, self.shared.capacity, self.shared.bytes_max)
    }

    /// Ready once one more event charged `share` bytes fits; registers to
    /// be woken otherwise.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>, share: usize) -> Poll<()> {
        let mut inner = self.shared.lock();
        if inner.has_room(share, self.shared.capacity, self.shared.bytes_max) {
            return Poll::Ready(());
        }
        inner.producer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Waits until one more event charged `share` bytes fits (the first
    /// of an outbox: [`Outbox::share`]).
    pub(crate) async fn room(&self, share: usize) {
        futures::future::poll_fn(|cx| self.poll_room(cx, share)).await;
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

    /// Puts the stage `wrap` makes of the current one (if any) between the
    /// queue and the application.
    pub(crate) fn wrap_stage(
        &mut self,
        wrap: impl FnOnce(Option<EventStage<T, C>>) -> EventStage<T, C>,
    ) {
        self.stage = Some(wrap(self.stage.take()));
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
            // Everything taken before has been read: its bytes are free.
            let released = std::mem::take(&mut self.local_bytes);
            inner.bytes -= released;
            let dropped = std::mem::take(&mut inner.dropped_unreported);
            for queued in inner.batches.drain(..) {
                self.local_bytes += queued.bytes;
                self.local.push_back(queued.events);
            }
            inner.len = 0;
            let producer = if self.local.is_empty() && released == 0 {
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
        inner.bytes = 0;
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
            .field("bytes_max", &self.bytes_max)
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
        event_queue(capacity, usize::MAX, policy, Arc::new(AtomicU64::new(0)))
    }

    /// A queue bounded in bytes only.
    fn queue_of_bytes(
        bytes_max: usize,
        policy: SlowConsumerPolicy,
    ) -> (EventQueue<u32, Channel>, Events<u32>) {
        event_queue(1 << 20, bytes_max, policy, Arc::new(AtomicU64::new(0)))
    }

    fn data(range: std::ops::Range<u32>) -> Outbox<u32, Channel> {
        charged(range, 0)
    }

    /// Data events that came from frames of `bytes` in all.
    fn charged(range: std::ops::Range<u32>, bytes: usize) -> Outbox<u32, Channel> {
        let mut outbox = Outbox::new();
        for n in range {
            outbox.push(Event::Data(n));
        }
        outbox.charge(bytes);
        outbox
    }

    fn outbox_of(events: impl IntoIterator<Item = Event<u32, Channel>>) -> Outbox<u32, Channel> {
        let mut outbox = Outbox::new();
        for event in events {
            outbox.push(event);
        }
        outbox
    }

    /// Pushes `outbox`, which must fit whole, and reads back the data
    /// `range`; nothing was ever dropped.
    fn push_whole_then_read(
        tx: &EventQueue<u32, Channel>,
        rx: &mut Events<u32>,
        outbox: &mut Outbox<u32, Channel>,
        range: std::ops::Range<u32>,
    ) {
        push_whole(tx, outbox);
        assert_eq!(drain(rx), delivered(range));
        assert_eq!(rx.dropped_events(), 0);
    }

    /// Pushes `outbox`, of which `left` events must not fit (`why`).
    fn push_leaving(
        tx: &EventQueue<u32, Channel>,
        outbox: &mut Outbox<u32, Channel>,
        left: usize,
        why: &str,
    ) {
        tx.push(outbox);
        assert_eq!(outbox.len(), left, "{why}");
    }

    /// Pushes `outbox`, which must fit whole.
    fn push_whole(tx: &EventQueue<u32, Channel>, outbox: &mut Outbox<u32, Channel>) {
        tx.push(outbox);
        assert!(outbox.is_empty(), "everything fits");
    }

    /// What a consumer reads after `dropped` data events were dropped from
    /// behind an `Idle` state change: the count, the state, then `range`.
    fn dropped_then_idle_and(dropped: u64, range: std::ops::Range<u32>) -> Vec<StreamEvent<u32>> {
        let mut events = vec![
            StreamEvent::Dropped {
                count: dropped,
                total: dropped,
            },
            StreamEvent::Machine(Event::StateChanged(State::Idle)),
        ];
        events.extend(delivered(range));
        events
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
        assert_eq!(outbox.events, data(3..5).events);
        assert!(!tx.has_room(0));
        assert_eq!(drain(&mut rx), delivered(0..3));
        assert!(tx.has_room(0));
        push_whole_then_read(&tx, &mut rx, &mut outbox, 3..5);
    }

    #[test]
    fn drop_newest_keeps_control_events_and_reports_the_count_first() {
        let (tx, mut rx) = queue(2, SlowConsumerPolicy::DropNewest);
        let mut outbox = data(0..4);
        outbox.push(Event::StateChanged(State::Idle));
        push_whole(&tx, &mut outbox);
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
                tx.push(&mut outbox_of([malformed(false)]));
                tx.push(&mut outbox_of([Event::Unknown { tag: "x".into() }]));
            }
            tx.push(&mut outbox_of([malformed(true)]));
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
        let mut outbox = outbox_of([Event::StateChanged(State::Idle)]);
        outbox.events.extend(data(0..5).events);
        tx.push(&mut outbox);
        assert_eq!(drain(&mut rx), dropped_then_idle_and(3, 3..5));
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
            tx.room(0).await;
            tx
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(rx.next().await, Some(StreamEvent::Machine(Event::Data(0))));
        let tx = waiting.await.unwrap();
        assert!(tx.has_room(0));
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
        push_whole(&tx, &mut outbox);
        assert!(tx.has_room(usize::MAX));
    }

    #[test]
    fn backpressure_holds_the_bytes_bound_until_the_consumer_has_read_the_batch() {
        let (tx, mut rx) = queue_of_bytes(100, SlowConsumerPolicy::Backpressure);
        push_whole(&tx, &mut charged(0..1, 60));
        let mut outbox = charged(1..2, 60);
        push_leaving(&tx, &mut outbox, 1, "60 + 60 bytes do not fit in 100");
        assert_eq!(outbox.bytes(), 60);
        assert!(!tx.has_room(60));
        // Taken, but still being handled: still charged.
        assert_eq!(rx.try_next(), Some(StreamEvent::Machine(Event::Data(0))));
        assert!(!tx.has_room(60));
        // The consumer asks for more: the batch it read is free.
        assert_eq!(rx.try_next(), None);
        assert!(tx.has_room(60));
        push_whole_then_read(&tx, &mut rx, &mut outbox, 1..2);
    }

    #[test]
    fn backpressure_passes_one_batch_larger_than_the_bound_and_splits_by_share() {
        let (tx, mut rx) = queue_of_bytes(45, SlowConsumerPolicy::Backpressure);
        let mut next = charged(1..3, 20);
        // Nothing charged: a batch of any size passes whole.
        push_whole(&tx, &mut charged(0..1, 1000));
        push_leaving(&tx, &mut next, 2, "nothing fits beside 1000 bytes");
        assert_eq!(drain(&mut rx), delivered(0..1));
        assert_eq!(rx.try_next(), None);
        push_whole(&tx, &mut next);
        // 20 bytes charged, 25 left: two of ten events of 10 bytes each fit.
        let mut ten = charged(3..13, 100);
        push_leaving(&tx, &mut ten, 8, "what does not fit waits");
        assert_eq!(ten.bytes(), 80);
        assert_eq!(drain(&mut rx), delivered(1..5));
        assert_eq!(rx.try_next(), None);
        push_whole_then_read(&tx, &mut rx, &mut ten, 5..13);
    }

    #[tokio::test]
    async fn backpressure_wakes_the_producer_when_read_bytes_are_released() {
        let (tx, mut rx) = queue_of_bytes(100, SlowConsumerPolicy::Backpressure);
        tx.push(&mut charged(0..1, 100));
        let waiting = tokio::spawn(async move {
            tx.room(100).await;
            tx
        });
        tokio::task::yield_now().await;
        assert_eq!(rx.next().await, Some(StreamEvent::Machine(Event::Data(0))));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the event read is still charged");
        assert_eq!(rx.try_next(), None);
        let tx = waiting.await.unwrap();
        assert!(tx.has_room(100));
    }

    #[test]
    fn drop_newest_drops_data_beyond_the_bytes_bound_and_keeps_control_events() {
        let (tx, mut rx) = queue_of_bytes(100, SlowConsumerPolicy::DropNewest);
        tx.push(&mut charged(0..1, 80));
        let mut outbox = charged(1..2, 0);
        outbox.push(Event::StateChanged(State::Idle));
        outbox.charge(80);
        push_whole(&tx, &mut outbox);
        assert_eq!(
            rx.try_next(),
            Some(StreamEvent::Dropped { count: 1, total: 1 })
        );
        // Being read, the first batches still count: a large one is dropped.
        assert_eq!(rx.try_next(), Some(StreamEvent::Machine(Event::Data(0))));
        tx.push(&mut charged(2..3, 1000));
        assert_eq!(
            drain(&mut rx),
            vec![
                StreamEvent::Machine(Event::StateChanged(State::Idle)),
                StreamEvent::Dropped { count: 1, total: 2 },
            ]
        );
        // Everything read: a batch larger than the bound passes alone.
        tx.push(&mut charged(3..4, 1000));
        assert_eq!(drain(&mut rx), delivered(3..4));
        assert_eq!(rx.dropped_events(), 2);
    }

    #[test]
    fn drop_oldest_evicts_older_data_beyond_the_bytes_bound_and_keeps_the_newest() {
        let (tx, mut rx) = queue_of_bytes(100, SlowConsumerPolicy::DropOldest);
        let mut first = outbox_of([Event::StateChanged(State::Idle)]);
        first.events.extend(data(0..2).events);
        first.charge(60);
        tx.push(&mut first);
        tx.push(&mut charged(2..3, 60));
        // 120 bytes: the older data goes, its control event stays.
        tx.push(&mut charged(3..4, 500));
        assert_eq!(drain(&mut rx), dropped_then_idle_and(3, 3..4));
        // The newest batch is kept beside the one being read, however large.
        tx.push(&mut charged(4..5, 500));
        assert_eq!(rx.try_next(), Some(StreamEvent::Machine(Event::Data(4))));
        tx.push(&mut charged(5..6, 500));
        assert_eq!(drain(&mut rx), delivered(5..6));
        assert_eq!(rx.dropped_events(), 3);
    }
}
