//! What the loopback server allows a client before the exchange model sees
//! it: how long a handshake may take, how many connections are open at once,
//! how large a message may be, how long a silent connection lives; and the
//! back-off of its accept loop.

use std::time::Duration;

/// Limits of a [`LoopbackServer`](crate::LoopbackServer), each with a
/// default fit for a shared machine.
///
/// ```
/// use std::time::Duration;
/// use tickwire_mock::ServerLimits;
///
/// let limits = ServerLimits {
///     connections_max: 64,
///     idle_timeout: Duration::from_secs(30),
///     ..ServerLimits::default()
/// };
/// assert_eq!(limits.handshake_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has from the TCP connect to a finished WebSocket
    /// upgrade; the socket is closed after it. (Authentication has its own
    /// deadline in the exchange, [`ExchangeConfig::auth_timeout`](crate::ExchangeConfig).)
    pub handshake_timeout: Duration,
    /// Connections open at once, handshakes included; one more is answered
    /// `503 Service Unavailable` naming the cap, and closed.
    pub connections_max: usize,
    /// The largest message (and frame) a client may send; a larger one
    /// closes its connection with 1009 before it is buffered whole.
    pub message_bytes_max: usize,
    /// How often the server pings a connection it has heard nothing from.
    pub ping_interval: Duration,
    /// A connection that sends nothing (no pong either) for this long is
    /// closed, and its account's slot freed.
    pub idle_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            connections_max: 1024,
            message_bytes_max: 64 * 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// How long the accept loop waits after a failed accept (out of file
/// descriptors, say) before it tries again: doubling from 10 ms to 1 s, back
/// to the start after a success. Without it a failing accept spins a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// Records a failed accept; the pause before the next one.
    pub(crate) fn failed(&mut self) -> Duration {
        let delay = Self::FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Records a successful accept.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_on_success() {
        let mut backoff = AcceptBackoff::default();
        let delays: Vec<u128> = (0..10).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(), Duration::from_millis(10));
    }

    proptest! {
        #[test]
        fn backoff_is_never_zero_nor_above_its_cap(outcomes in proptest::collection::vec(any::<bool>(), 0..200)) {
            let mut backoff = AcceptBackoff::default();
            for failed in outcomes {
                if failed {
                    let delay = backoff.failed();
                    prop_assert!(delay >= AcceptBackoff::FIRST && delay <= AcceptBackoff::MAX);
                } else {
                    backoff.succeeded();
                }
            }
        }
    }
}
