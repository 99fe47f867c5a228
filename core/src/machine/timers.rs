//! The machine's deadlines, in one table.

use std::cell::Cell;
use std::fmt;
use std::time::Instant;

/// Every deadline the machine keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Opening the connection.
    Connect = 0,
    /// Waiting for the server's greeting.
    Greeting,
    /// Waiting for the answer to the credentials.
    Auth,
    /// Waiting for a subscription acknowledgement.
    SubscriptionAck,
    /// Next ping to send.
    Ping,
    /// Waiting for any frame after a ping.
    Pong,
    /// No data message for too long.
    DataSilence,
    /// Closing an unused connection.
    IdleLinger,
    /// Reconnecting after a loss.
    Backoff,
}

impl Timer {
    const COUNT: usize = 9;
    const ALL: [Self; Self::COUNT] = [
        Self::Connect,
        Self::Greeting,
        Self::Auth,
        Self::SubscriptionAck,
        Self::Ping,
        Self::Pong,
        Self::DataSilence,
        Self::IdleLinger,
        Self::Backoff,
    ];
}

/// Deadlines by timer; the next one is the minimum, remembered between
/// changes that leave it in place (it is read after every input, while a
/// timer such as data silence may be moved on every data message).
///
/// Generic over the time type only so that its tests need no clock.
#[derive(Debug, Clone)]
pub(crate) struct TimerTable<T: Copy = Instant> {
    deadlines: [Option<T>; Timer::COUNT],
    /// The earliest deadline, or `None` when a change may have moved it
    /// (worked out again when next asked for).
    next: Cell<Option<Option<T>>>,
}

impl<T: Copy> Default for TimerTable<T> {
    fn default() -> Self {
        Self {
            deadlines: [None; Timer::COUNT],
            next: Cell::new(Some(None)),
        }
    }
}

impl<T: Copy + Ord + fmt::Debug> TimerTable<T> {
    pub(crate) fn set(&mut self, timer: Timer, at: T) {
        let old = self.deadlines[timer as usize].replace(at);
        match self.next.get() {
            // The old deadline was not the earliest: only `at` can be earlier.
            Some(next) if old.is_none() || old != next => {
                if next.is_none_or(|next| at < next) {
                    self.next.set(Some(Some(at)));
                }
            }
            _ => self.next.set(None),
        }
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        let old = self.deadlines[timer as usize].take();
        if old.is_some() && self.next.get() == Some(old) {
            self.next.set(None);
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<T> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
        self.next.set(Some(None));
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<T> {
        if let Some(next) = self.next.get() {
            debug_assert_eq!(next, self.earliest(), "a stale next deadline");
            return next;
        }
        let next = self.earliest();
        self.next.set(Some(next));
        next
    }

    fn earliest(&self) -> Option<T> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Stops and returns the first timer due at `now`, if any.
    pub(crate) fn take_expired(&mut self, now: T) -> Option<Timer> {
        if self.next().is_none_or(|next| next > now) {
            return None;
        }
        let timer = Timer::ALL
            .into_iter()
            .filter(|t| self.get(*t).is_some_and(|at| at <= now))
            .min_by_key(|t| self.get(*t))?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The remembered earliest deadline is the minimum after any
        /// sequence of sets, stops and expiries.
        #[test]
        fn next_is_always_the_earliest_deadline(
            ops in proptest::collection::vec((0..4u8, 0..Timer::COUNT, 0..50u64), 0..60),
        ) {
            let mut table = TimerTable::<u64>::default();
            for (op, timer, at) in ops {
                let timer = Timer::ALL[timer];
                match op {
                    0 | 1 => table.set(timer, at),
                    2 => table.stop(timer),
                    _ => {
                        table.take_expired(at);
                    }
                }
                // A remembered earliest deadline is never stale.
                prop_assert!(table.next.get().is_none_or(|next| next == table.earliest()));
                prop_assert_eq!(table.next(), table.earliest());
            }
        }
    }
}
