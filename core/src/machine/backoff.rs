//! Reconnect delays: exponential, capped, with full jitter from a seeded generator.

use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::MachineConfig;

/// Reconnect policy state, also used by drivers for their own retries
/// (REST fetches) so that every retry of a stream follows one policy.
///
/// The delay bound doubles with each attempt from `backoff_base` up to
/// `backoff_max`; the delay is drawn uniformly below the bound (full jitter).
/// After a connection-limit error the floor is added on top. The attempt
/// count resets only when a connection stayed live for `backoff_reset_after`.
///
/// ```
/// use std::time::Duration;
/// use tickwire_core::Credentials;
/// use tickwire_core::machine::{Backoff, MachineConfig};
///
/// let mut config = MachineConfig::new("wss://example.invalid", Credentials::new("k", "s"));
/// config.backoff_base = Duration::from_millis(100);
/// let mut backoff = Backoff::new(&config);
/// assert_eq!(backoff.bound(), Duration::from_millis(100));
/// assert!(backoff.next_delay(false) <= Duration::from_millis(100));
/// assert_eq!((backoff.attempts(), backoff.bound()), (1, Duration::from_millis(200)));
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    rng: ChaCha8Rng,
    attempts: u32,
    base: Duration,
    max: Duration,
    floor_after_limit: Duration,
    reset_after: Duration,
}

impl Backoff {
    /// The policy of `config` (base, cap, floor after a limit error, reset
    /// time), its jitter drawn from a generator seeded with `config.seed`.
    pub fn new(config: &MachineConfig) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            attempts: 0,
            base: config.backoff_base,
            max: config.backoff_max.max(config.backoff_base),
            floor_after_limit: config.backoff_floor_after_limit,
            reset_after: config.backoff_reset_after,
        }
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Forgets every past failure (after a success that is not a connection).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Forgets past failures if the connection that just ended was live long enough.
    pub(crate) fn note_live_ended(&mut self, live_since: Instant, now: Instant) {
        if now.saturating_duration_since(live_since) >= self.reset_after {
            self.attempts = 0;
        }
    }

    /// The delay before the next attempt; counts the attempt. `after_limit`
    /// adds the floor for connection-limit (or rate-limit) refusals.
    pub fn next_delay(&mut self, after_limit: bool) -> Duration {
        let bound = self.bound();
        self.attempts = self.attempts.saturating_add(1);
        let bound_nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        let jitter = Duration::from_nanos(self.rng.next_u64() % bound_nanos.saturating_add(1));
        if after_limit {
            self.floor_after_limit + jitter
        } else {
            jitter
        }
    }

    /// The current delay bound (before jitter and floor).
    pub fn bound(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempts.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}
