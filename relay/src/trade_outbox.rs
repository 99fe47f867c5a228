//! What the trade-update relay publishes, in which order, and when it
//! tries again (sans-I/O: the task hands it updates, publish outcomes and
//! the time, and does what it says).
//!
//! Each order state is published once: its message id
//! ([`trade_message_id`]) is the (order id, status, filled quantity) the
//! stream's reconciliation deduplicates by, so the state a live update and a
//! reconciled one both carry, or one a previous relay already published
//! (the ids of the stream's tail are [`seed`](TradeOutbox::seed)ed at
//! start), is published at most once. JetStream's duplicate window
//! deduplicates the same ids again on the server, for a relay that did not
//! know them.
//!
//! Updates are published one at a time, in the order the stream delivered
//! them; a failed publish is retried, after a delay doubling from
//! [`RETRY_DELAY_MIN`] to [`RETRY_DELAY_MAX`], until it succeeds: nothing is
//! skipped. What waits is bounded by [`TradeOutbox::new`]'s `pending_max`;
//! past it the newest updates are refused and counted, and the task reports
//! them (they are lost for consumers: the relay says how many).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use tickwire_alpaca::{TradeUpdate, order_state_key};

/// The first delay before a failed publish is tried again.
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(100);

/// The longest delay between two tries of one publish.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(5);

/// Message ids remembered by default, beyond those waiting: enough for the
/// duplicates a reconciliation can bring (it reaches back only to the last
/// published state).
pub const KNOWN_IDS_DEFAULT: usize = 4096;

/// The message id of `update`'s order state: `<order id>:<status>:<filled
/// quantity>`.
///
/// ```
/// # use tickwire_alpaca::TradeUpdate;
/// # fn f(update: &TradeUpdate) {
/// let id = tickwire_relay::trade_message_id(update);
/// assert!(id.starts_with(&update.order.id));
/// # }
/// ```
pub fn trade_message_id(update: &TradeUpdate) -> String {
    let (order, status, filled) = order_state_key(update);
    format!("{order}:{status}:{filled}")
}

/// One update to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingUpdate {
    /// Its message id ([`trade_message_id`]).
    pub message_id: String,
    /// Whether it came from reconciliation rather than the live stream.
    pub reconciled: bool,
    /// The update.
    pub update: TradeUpdate,
}

/// What became of an update handed to [`TradeOutbox::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// It waits to be published.
    Queued,
    /// Its state was published or queued already: dropped.
    Duplicate,
    /// `pending_max` updates wait already: refused (lost for consumers).
    Refused,
}

/// The publishing order and retry schedule of trade updates.
#[derive(Debug)]
pub struct TradeOutbox {
    pending: VecDeque<OutgoingUpdate>,
    pending_max: usize,
    /// Ids published or queued; `known_order` ages the published ones out.
    known: HashSet<String>,
    known_order: VecDeque<String>,
    known_max: usize,
    in_flight: bool,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    refused: u64,
}

impl TradeOutbox {
    /// An outbox holding at most `pending_max` waiting updates and
    /// remembering the last `known_max` published ids.
    pub fn new(pending_max: usize, known_max: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            pending_max: pending_max.max(1),
            known: HashSet::new(),
            known_order: VecDeque::new(),
            known_max: known_max.max(1),
            in_flight: false,
            retry_at: None,
            retry_delay: RETRY_DELAY_MIN,
            refused: 0,
        }
    }

    /// Remembers ids published before this outbox existed (the stream's
    /// tail), so that their states are not published again.
    pub fn seed(&mut self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if !self.known.contains(&id) {
                self.remember_published(id);
            }
        }
    }

    /// Hands over one update from the stream.
    pub fn push(&mut self, update: TradeUpdate, reconciled: bool) -> Pushed {
        let message_id = trade_message_id(&update);
        if self.known.contains(&message_id) {
            return Pushed::Duplicate;
        }
        if self.pending.len() >= self.pending_max {
            self.refused += 1;
            return Pushed::Refused;
        }
        self.known.insert(message_id.clone());
        self.pending.push_back(OutgoingUpdate {
            message_id,
            reconciled,
            update,
        });
        Pushed::Queued
    }

    /// The update to publish now, if one is due and none is in flight; it
    /// stays first until [`published`](Self::published).
    pub fn next_publish(&mut self, now: Instant) -> Option<&OutgoingUpdate> {
        if self.in_flight || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        let next = self.pending.front()?;
        self.in_flight = true;
        self.retry_at = None;
        Some(next)
    }

    /// The publish in flight was stored (or found a duplicate on the server).
    pub fn published(&mut self) {
        if !self.in_flight {
            return;
        }
        self.in_flight = false;
        self.retry_delay = RETRY_DELAY_MIN;
        if let Some(done) = self.pending.pop_front() {
            self.remember_published(done.message_id);
        }
    }

    /// The publish in flight failed at `now`; returns when it is tried again.
    pub fn failed(&mut self, now: Instant) -> Instant {
        self.in_flight = false;
        let at = now + self.retry_delay;
        self.retry_at = Some(at);
        self.retry_delay = (self.retry_delay * 2).min(RETRY_DELAY_MAX);
        at
    }

    /// Forgets every waiting update (the one in flight included), as a
    /// relay that stopped leading does: the leader after it reconciles what
    /// was never stored. Returns how many were dropped; their states may be
    /// queued again later.
    pub fn drop_pending(&mut self) -> usize {
        let dropped = self.pending.len();
        for update in self.pending.drain(..) {
            self.known.remove(&update.message_id);
        }
        self.in_flight = false;
        self.retry_at = None;
        self.retry_delay = RETRY_DELAY_MIN;
        dropped
    }

    /// When the next publish is due, if one waits and none is in flight.
    pub fn due_at(&self) -> Option<Instant> {
        if self.in_flight || self.pending.is_empty() {
            return None;
        }
        self.retry_at
    }

    /// Updates waiting, the one in flight included.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Updates refused so far because too many waited.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Keeps `id` among the published ones, forgetting the oldest past
    /// `known_max` (ids still waiting are never forgotten).
    fn remember_published(&mut self, id: String) {
        self.known.insert(id.clone());
        self.known_order.push_back(id);
        while self.known_order.len() > self.known_max {
            if let Some(old) = self.known_order.pop_front() {
                self.known.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// An update of order `order` in state `status` with `filled` shares.
    fn update(order: u8, status: &str, filled: u8) -> TradeUpdate {
        let json = format!(
            r#"{{"event":"fill","order":{{"id":"order-{order}","client_order_id":"c{order}",
            "created_at":"2026-12-06T18:00:00Z","updated_at":"2026-12-06T18:00:00Z",
            "submitted_at":"2026-12-06T18:00:00Z","symbol":"AAPL","qty":"9",
            "filled_qty":"{filled}","side":"buy","type":"market","time_in_force":"day",
            "status":"{status}"}}}}"#
        );
        serde_json::from_str(&json).expect("a valid trade update")
    }

    #[derive(Debug, Clone)]
    enum Step {
        Push {
            order: u8,
            state: u8,
            reconciled: bool,
        },
        /// Try to publish; the server stores it or fails.
        Publish {
            stored: bool,
        },
        Wait {
            millis: u16,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..6u8, 0..3u8, any::<bool>()).prop_map(|(order, state, reconciled)| Step::Push {
                order,
                state,
                reconciled
            }),
            any::<bool>().prop_map(|stored| Step::Publish { stored }),
            (0..6_000u16).prop_map(|millis| Step::Wait { millis }),
        ]
    }

    fn state(order: u8, state: u8) -> TradeUpdate {
        match state {
            0 => update(order, "new", 0),
            1 => update(order, "partially_filled", 4),
            _ => update(order, "filled", 9),
        }
    }

    proptest! {
        /// Whatever the pushes, failures and waits: no state is published
        /// twice, states go out in the order first pushed, a retry never
        /// comes before its time nor later than `RETRY_DELAY_MAX` after
        /// the failure, and once publishing succeeds everything queued is
        /// published.
        #[test]
        fn each_state_is_published_once_in_order(
            steps in proptest::collection::vec(step(), 1..200),
            pending_max in 1..20usize,
        ) {
            let mut outbox = TradeOutbox::new(pending_max, 1_000);
            let mut now = Instant::now();
            let mut first_pushed: Vec<String> = Vec::new();
            let mut published: BTreeMap<String, u32> = BTreeMap::new();
            let mut published_order: Vec<String> = Vec::new();
            let mut refused = 0u64;
            let mut retry_at: Option<Instant> = None;
            for step in steps {
                match step {
                    Step::Push { order, state: s, reconciled } => {
                        let update = state(order, s);
                        let id = trade_message_id(&update);
                        let already = first_pushed.contains(&id);
                        match outbox.push(update, reconciled) {
                            Pushed::Queued => {
                                prop_assert!(!already, "{id} queued twice");
                                first_pushed.push(id);
                            }
                            Pushed::Duplicate => prop_assert!(already, "{id} is new"),
                            Pushed::Refused => {
                                prop_assert!(!already);
                                prop_assert_eq!(outbox.pending(), pending_max);
                                refused += 1;
                            }
                        }
                    }
                    Step::Publish { stored } => {
                        let due = retry_at.is_none_or(|at| now >= at);
                        let next = outbox.next_publish(now).map(|o| o.message_id.clone());
                        prop_assert_eq!(next.is_some(), due && outbox.pending() > 0);
                        if let Some(id) = next {
                            if stored {
                                outbox.published();
                                *published.entry(id.clone()).or_default() += 1;
                                published_order.push(id);
                                retry_at = None;
                            } else {
                                let at = outbox.failed(now);
                                prop_assert!(at > now && at <= now + RETRY_DELAY_MAX);
                                retry_at = Some(at);
                            }
                        }
                    }
                    Step::Wait { millis } => now += Duration::from_millis(u64::from(millis)),
                }
            }
            // The server comes back for good.
            now += RETRY_DELAY_MAX;
            while let Some(next) = outbox.next_publish(now) {
                let id = next.message_id.clone();
                outbox.published();
                *published.entry(id.clone()).or_default() += 1;
                published_order.push(id);
            }
            prop_assert_eq!(outbox.pending(), 0);
            prop_assert_eq!(outbox.refused(), refused);
            prop_assert!(published.values().all(|n| *n == 1), "{published:?}");
            prop_assert_eq!(&published_order, &first_pushed);
        }
    }

    #[test]
    fn dropped_updates_leave_nothing_in_flight_and_may_be_queued_again() {
        let mut outbox = TradeOutbox::new(10, 10);
        let now = Instant::now();
        assert_eq!(outbox.push(update(1, "new", 0), false), Pushed::Queued);
        assert_eq!(outbox.push(update(1, "filled", 1), false), Pushed::Queued);
        assert!(outbox.next_publish(now).is_some());
        assert_eq!(outbox.drop_pending(), 2);
        assert_eq!((outbox.pending(), outbox.due_at()), (0, None));
        assert_eq!(outbox.push(update(1, "filled", 1), true), Pushed::Queued);
        let next = outbox.next_publish(now).map(|n| n.message_id.clone());
        assert_eq!(next, Some(trade_message_id(&update(1, "filled", 1))));
    }

    #[test]
    fn a_seeded_id_is_not_published_again() {
        let mut outbox = TradeOutbox::new(10, 10);
        let filled = update(1, "filled", 9);
        outbox.seed([trade_message_id(&filled)]);
        assert_eq!(outbox.push(filled, true), Pushed::Duplicate);
        assert_eq!(outbox.push(update(2, "filled", 9), false), Pushed::Queued);
        assert_eq!(outbox.pending(), 1);
    }

    #[test]
    fn retry_delays_double_up_to_the_maximum() {
        let mut outbox = TradeOutbox::new(10, 10);
        outbox.push(update(1, "new", 0), false);
        let mut now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..8 {
            assert!(outbox.next_publish(now).is_some());
            let at = outbox.failed(now);
            delays.push(at - now);
            assert!(outbox.next_publish(at - Duration::from_millis(1)).is_none());
            now = at;
        }
        assert_eq!(delays[0], RETRY_DELAY_MIN);
        assert_eq!(delays[1], RETRY_DELAY_MIN * 2);
        assert_eq!(*delays.last().expect("eight"), RETRY_DELAY_MAX);
        assert!(outbox.next_publish(now).is_some());
        outbox.published();
        assert_eq!(outbox.pending(), 0);
    }
}
