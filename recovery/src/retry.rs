//! Whether a failed fetch is tried again, and when: the stream's own
//! backoff policy, with the server's `Retry-After` respected.

use std::time::Duration;

use tickwire_core::machine::{Backoff, MachineConfig};

/// Attempts per page before it is given up, by default.
pub const FETCH_ATTEMPTS_MAX_DEFAULT: u32 = 5;

/// How one attempt at a page ended, as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP answer with this status (2xx included).
    Status {
        /// The status code.
        code: u16,
        /// The server's `Retry-After`, if it sent one (seconds).
        retry_after: Option<Duration>,
    },
    /// No answer within the driver's deadline.
    TimedOut,
    /// No connection (refused, reset, DNS, TLS); the driver's description.
    Unreachable(String),
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// The answer is good: read the page.
    Done,
    /// Try the same request again after this delay.
    After(Duration),
    /// Stop; the reason names the cause.
    GiveUp(String),
}

/// The retry decisions for one stream's fetches.
///
/// - 2xx: done (and the backoff starts over);
/// - 429: again after the server's `Retry-After`, or the backoff's delay
///   with the floor for limit refusals when it sent none;
/// - 408, 5xx, timeouts, no connection: again after the backoff's delay;
/// - any other status (400, 401, 403, 404, 422…): given up at once, since
///   asking again cannot change the answer;
/// - after `attempts_max` failed attempts in a row: given up.
///
/// ```
/// use std::time::Duration;
/// use tickwire_core::Credentials;
/// use tickwire_core::machine::MachineConfig;
/// use tickwire_recovery::{Attempt, FetchRetry, Retry};
///
/// let config = MachineConfig::new("wss://example.invalid", Credentials::new("k", "s"));
/// let mut retry = FetchRetry::new(&config, 3);
/// let limited = Attempt::Status { code: 429, retry_after: Some(Duration::from_secs(2)) };
/// assert_eq!(retry.next(&limited), Retry::After(Duration::from_secs(2)));
/// let refused = Attempt::Status { code: 401, retry_after: None };
/// assert!(matches!(retry.next(&refused), Retry::GiveUp(why) if why.contains("401")));
/// ```
#[derive(Debug, Clone)]
pub struct FetchRetry {
    backoff: Backoff,
    attempts_max: u32,
    failed: u32,
}

impl FetchRetry {
    /// Decisions with `config`'s backoff policy; at most `attempts_max`
    /// attempts per page (at least 1).
    pub fn new(config: &MachineConfig, attempts_max: u32) -> Self {
        Self {
            backoff: Backoff::new(config),
            attempts_max: attempts_max.max(1),
            failed: 0,
        }
    }

    /// Decides what follows `attempt`.
    pub fn next(&mut self, attempt: &Attempt) -> Retry {
        let delay = match attempt {
            Attempt::Status { code, .. } if (200..300).contains(code) => {
                self.failed = 0;
                self.backoff.reset();
                return Retry::Done;
            }
            Attempt::Status {
                code: 429,
                retry_after,
            } => retry_after.unwrap_or_else(|| self.backoff.next_delay(true)),
            Attempt::Status { code, .. } if *code == 408 || (500..600).contains(code) => {
                self.backoff.next_delay(false)
            }
            Attempt::Status { code, .. } => {
                return Retry::GiveUp(format!("the server answered {code}{}", hint(*code)));
            }
            Attempt::TimedOut | Attempt::Unreachable(_) => self.backoff.next_delay(false),
        };
        self.failed += 1;
        if self.failed >= self.attempts_max {
            let last = match attempt {
                Attempt::Status { code, .. } => format!("status {code}"),
                Attempt::TimedOut => "no answer in time".to_owned(),
                Attempt::Unreachable(why) => why.clone(),
            };
            return Retry::GiveUp(format!("{} attempts failed; the last: {last}", self.failed));
        }
        Retry::After(delay)
    }
}

/// What a final status usually means, for the error's text.
fn hint(code: u16) -> &'static str {
    match code {
        401 => " (credentials refused: check the key id and secret)",
        403 => " (forbidden: the account or plan does not allow this request)",
        404 => " (not found: check the REST base URL)",
        422 => " (a parameter was refused)",
        _ => "",
    }
}
