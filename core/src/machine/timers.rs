//! The machine's deadlines, in one table.

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

/// Deadlines by timer; the next one is the minimum, kept up to date (it is
/// read after every input).
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
    next: Option<Instant>,
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        let old = self.deadlines[timer as usize].replace(at);
        if old.is_some() && old == self.next {
            self.next = self.earliest();
        } else if self.next.is_none_or(|next| at < next) {
            self.next = Some(at);
        }
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        let old = self.deadlines[timer as usize].take();
        if old.is_some() && old == self.next {
            self.next = self.earliest();
        }
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
        self.next = None;
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        debug_assert_eq!(self.next, self.earliest(), "a stale next deadline");
        self.next
    }

    fn earliest(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Stops and returns the first timer due at `now`, if any.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
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
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The kept earliest deadline is the minimum after any sequence of
        /// sets, stops and expiries.
        #[test]
        fn next_is_always_the_earliest_deadline(
            ops in proptest::collection::vec((0..4u8, 0..Timer::COUNT, 0..50u64), 0..60),
        ) {
            let base = Instant::now();
            let mut table = TimerTable::default();
            for (op, timer, millis) in ops {
                let timer = Timer::ALL[timer];
                let at = base + Duration::from_millis(millis);
                match op {
                    0 | 1 => table.set(timer, at),
                    2 => table.stop(timer),
                    _ => {
                        table.take_expired(at);
                    }
                }
                prop_assert_eq!(table.next, table.earliest());
            }
        }
    }
}
