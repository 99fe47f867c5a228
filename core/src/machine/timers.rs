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

/// Deadlines by timer; the next one is the minimum.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
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
