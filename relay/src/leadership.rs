//! Leadership among relays of one feed, sans-I/O: which relay may hold the
//! upstream connection, decided by a key-value lease with compare-and-set.
//!
//! Every relay of a feed runs a [`Leadership`] over the same key (the
//! leadership bucket's key named after the feed). The key holds the id of
//! its holder and lives [`LeaderTiming::ttl`] after each write (the bucket's
//! `max_age`). A relay *wins* the key by creating it while it is absent, and
//! keeps it by updating it at the revision it last wrote; both are
//! compare-and-set, so the server lets one relay at a time hold the key.
//!
//! # Rules
//!
//! - A relay starts its upstream only after a write of its own was
//!   confirmed ([`LeadershipAction::StartUpstream`] follows a confirmed
//!   create or update).
//! - The leader renews every [`LeaderTiming::renew_every`]; a failed
//!   renewal is retried every [`LeaderTiming::check_every`].
//! - The leader stops its upstream ([`LeadershipAction::StopUpstream`]) at
//!   the latest at `sent + ttl − margin`, where `sent` is when it sent the
//!   last write the server confirmed, by its own clock: whether or not it
//!   can still reach the server.
//! - A standby reads the key every `check_every` (and hears of changes
//!   sooner from a watch) and tries to create it whenever it sees it absent.
//!
//! # Why two relays never hold the upstream at once
//!
//! A write sent at `sent` reaches the server after `sent`, so the key it
//! wrote expires no earlier than `sent + ttl` (by the server's clock).
//! Another relay can create the key only once it is absent: after it
//! expired or was deleted. The leader has stopped its upstream by
//! `sent + ttl − margin` by its own clock. So the two never overlap as long
//! as `margin` covers
//!
//! - the difference between the leader's and the server's clock *rates*
//!   over one TTL (no absolute clocks are compared: each side measures an
//!   interval; quartz drifts by well under 0.1 %, so under 5 ms of a 5 s
//!   TTL);
//! - how late the driver acts on [`poll_timeout`](Leadership::poll_timeout)
//!   (a busy task);
//! - how long closing the upstream connection takes (the relay bounds it
//!   to half the margin).
//!
//! The default margin is a quarter of the TTL (1.25 s of 5 s). What no
//! margin covers: a leader frozen for longer (SIGSTOP, a suspended virtual
//! machine); the server's wall clock stepped forward (nats-server measures
//! `max_age` on it, so a step expires keys early); or the key deleted by
//! hand while a leader holds it (the leader stops when it hears of it, but
//! may hear late).
//!
//! # Takeover
//!
//! The new leader's upstream connects after it created the key, so after
//! the old key was gone. A leader that dies holds the key until it expires,
//! at most one TTL after its last renewal; the standby hears of the expiry
//! from the server's marker (the bucket keeps expiry markers) or sees it at
//! its next read, at most `check_every` (≤ 1 s) later. A leader that shuts
//! down cleanly stops its upstream and then deletes the key
//! ([`LeadershipAction::Release`]): the standby takes over at once.
//!
//! # Use
//!
//! Inputs [`handle_read`](Leadership::handle_read) and
//! [`handle_watch`](Leadership::handle_watch) (what a read or the watch
//! saw), [`handle_write`](Leadership::handle_write) (a create or update's
//! result), [`handle_timeout`](Leadership::handle_timeout) and
//! [`handle_shutdown`](Leadership::handle_shutdown), each taking `now`;
//! outputs [`poll_action`](Leadership::poll_action) and
//! [`poll_timeout`](Leadership::poll_timeout). After every input, perform
//! every action in order (stopping the upstream completes before the next
//! action), then call `handle_timeout` at `poll_timeout` (early or twice is
//! harmless). Report the result of every read and write, failures
//! included: until it is reported, no other write is sent.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tickwire_relay::{KeyView, LeaderTiming, Leadership, LeadershipAction, WriteResult};
//!
//! let now = Instant::now();
//! let mut leadership = Leadership::new("relay-a", LeaderTiming::new(Duration::from_secs(5)), now);
//! assert_eq!(leadership.poll_action(), Some(LeadershipAction::Read));
//! leadership.handle_read(now, Some(KeyView::Absent));
//! assert_eq!(leadership.poll_action(), Some(LeadershipAction::Create));
//! leadership.handle_write(now, WriteResult::Written { revision: 7 });
//! assert_eq!(leadership.poll_action(), Some(LeadershipAction::StartUpstream));
//! assert!(leadership.is_leader());
//! // No renewal gets through: the upstream stops before the key could expire.
//! let mut at = now;
//! while leadership.is_leader() {
//!     at = leadership.poll_timeout().expect("a leader has a deadline");
//!     leadership.handle_timeout(at);
//!     while let Some(action) = leadership.poll_action() {
//!         if let LeadershipAction::Update { .. } = action {
//!             leadership.handle_write(at, WriteResult::Failed);
//!         }
//!     }
//! }
//! assert!(at < now + Duration::from_secs(5));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest a standby waits between two reads of the key.
const CHECK_EVERY_MAX: Duration = Duration::from_secs(1);

/// How long the leadership key lives after each write, and the rhythm of
/// renewals and checks derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderTiming {
    ttl: Duration,
    renew_every: Duration,
    margin: Duration,
    check_every: Duration,
}

impl LeaderTiming {
    /// A key living `ttl` after each write (the bucket's `max_age`):
    /// renewed every third of it, given up a quarter of it before it could
    /// expire, checked by a standby every quarter of it but at least every
    /// second.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            renew_every: ttl / 3,
            margin: ttl / 4,
            check_every: (ttl / 4).min(CHECK_EVERY_MAX),
        }
    }

    /// How long the key lives after each write.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How often the leader renews the key.
    pub fn renew_every(&self) -> Duration {
        self.renew_every
    }

    /// How long before the key could expire the leader gives it up.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// How often a standby reads the key, and a failed renewal is retried.
    pub fn check_every(&self) -> Duration {
        self.check_every
    }
}

/// The leadership key as a read or a watch saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyView {
    /// Nothing there: never written, or its last marker gone too.
    Absent,
    /// Deleted, purged or expired at `revision` (a marker).
    Gone {
        /// The marker's revision.
        revision: u64,
    },
    /// Written at `revision` by `holder`.
    Held {
        /// The key's revision (the stream's sequence of the write).
        revision: u64,
        /// The holder's id (the value).
        holder: String,
    },
}

/// What became of a create or update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteResult {
    /// The server wrote it at `revision`.
    Written {
        /// The key's new revision.
        revision: u64,
    },
    /// The compare-and-set failed: the key exists (create) or is at
    /// another revision (update).
    Conflict,
    /// No answer (timeout, NATS unreachable): it may or may not have been
    /// written.
    Failed,
}

/// What the driver does for the leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadershipAction {
    /// Read the key; report with [`Leadership::handle_read`].
    Read,
    /// Create the key with this relay's id, if absent; report with
    /// [`Leadership::handle_write`].
    Create,
    /// Write this relay's id if the key is at `revision`; report with
    /// [`Leadership::handle_write`].
    Update {
        /// The revision expected.
        revision: u64,
    },
    /// This relay leads: start the upstream connection.
    StartUpstream,
    /// This relay no longer leads: close the upstream connection now,
    /// before anything else.
    StopUpstream,
    /// Another relay leads (reported when the holder seen changes).
    StandingBy {
        /// The leader's id.
        leader: String,
    },
    /// Shutting down: delete the key if still at `revision` (the upstream
    /// is already closed), so that a standby takes over at once.
    Release {
        /// The revision expected.
        revision: u64,
    },
}

/// Where this relay stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Not leading: reads the key at `next_check`.
    Standby {
        next_check: Instant,
        /// The other holder last reported.
        leader: Option<String>,
    },
    /// Leading with the key at `revision`, until `valid_until` unless
    /// renewed; the next renewal is due at `renew_at`.
    Leader {
        revision: u64,
        valid_until: Instant,
        renew_at: Instant,
    },
    /// Shut down.
    Stopped,
}

/// The write in flight and when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    sent_at: Instant,
}

/// One relay's view of the leadership of its feed (see the [module
/// docs](self) for the rules and the timing argument).
#[derive(Debug)]
pub struct Leadership {
    id: String,
    timing: LeaderTiming,
    role: Role,
    write: Option<Pending>,
    reading: bool,
    actions: VecDeque<LeadershipAction>,
}

impl Leadership {
    /// A standby named `id` (unique among the relays: the key's value),
    /// which first reads the key.
    pub fn new(id: impl Into<String>, timing: LeaderTiming, now: Instant) -> Self {
        let mut leadership = Self {
            id: id.into(),
            timing,
            role: Role::Standby {
                next_check: now,
                leader: None,
            },
            write: None,
            reading: false,
            actions: VecDeque::new(),
        };
        leadership.handle_timeout(now);
        leadership
    }

    /// This relay's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The timing.
    pub fn timing(&self) -> LeaderTiming {
        self.timing
    }

    /// Whether this relay leads (and holds the upstream).
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// The answer to a [`LeadershipAction::Read`]; `None` if the read
    /// failed.
    pub fn handle_read(&mut self, now: Instant, key: Option<KeyView>) {
        self.reading = false;
        if let Some(key) = key {
            self.observe(now, key);
        }
        self.handle_timeout(now);
    }

    /// A change of the key the watch saw.
    pub fn handle_watch(&mut self, now: Instant, key: KeyView) {
        self.observe(now, key);
        self.handle_timeout(now);
    }

    /// The result of the create or update in flight.
    pub fn handle_write(&mut self, now: Instant, result: WriteResult) {
        let Some(Pending { sent_at }) = self.write.take() else {
            return;
        };
        let valid_until = sent_at + self.timing.ttl.saturating_sub(self.timing.margin);
        match (&mut self.role, result) {
            (Role::Stopped, _) => {}
            (role, WriteResult::Written { revision }) if valid_until > now => {
                let renew_at = sent_at + self.timing.renew_every;
                match role {
                    Role::Leader {
                        revision: ours,
                        valid_until: until,
                        renew_at: at,
                    } => {
                        *ours = revision;
                        *until = (*until).max(valid_until);
                        *at = renew_at;
                    }
                    _ => {
                        *role = Role::Leader {
                            revision,
                            valid_until,
                            renew_at,
                        };
                        tracing::info!(revision, "this relay leads");
                        self.actions.push_back(LeadershipAction::StartUpstream);
                    }
                }
            }
            // Written, but so long ago that the key may be about to expire:
            // confirm it with a fresh write before leading.
            (_, WriteResult::Written { revision }) => {
                self.write(now, LeadershipAction::Update { revision });
            }
            // Someone else wrote (or an answer of ours was lost): look.
            (Role::Leader { renew_at, .. }, WriteResult::Conflict) => {
                *renew_at = now + self.timing.check_every;
                self.read();
            }
            (_, WriteResult::Conflict) => self.read(),
            (Role::Leader { renew_at, .. }, WriteResult::Failed) => {
                *renew_at = now + self.timing.check_every;
            }
            (Role::Standby { next_check, .. }, WriteResult::Failed) => {
                *next_check = (*next_check).min(now + self.timing.check_every);
            }
        }
        self.handle_timeout(now);
    }

    /// Time passed: the leader renews or, past its deadline, stops; a
    /// standby reads the key.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.role {
            Role::Leader {
                revision,
                valid_until,
                renew_at,
            } => {
                if now >= valid_until {
                    tracing::warn!("the leadership key could not be renewed in time");
                    self.step_down(now);
                } else if now >= renew_at && self.write.is_none() {
                    self.write(now, LeadershipAction::Update { revision });
                }
            }
            Role::Standby { next_check, .. } => {
                if now >= next_check {
                    self.read();
                    if let Role::Standby { next_check, .. } = &mut self.role {
                        *next_check = now + self.timing.check_every;
                    }
                }
            }
            Role::Stopped => {}
        }
    }

    /// Shutting down: a leader stops its upstream and releases the key.
    pub fn handle_shutdown(&mut self) {
        if let Role::Leader { revision, .. } = self.role {
            self.actions.push_back(LeadershipAction::StopUpstream);
            self.actions
                .push_back(LeadershipAction::Release { revision });
        }
        self.role = Role::Stopped;
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.role {
            Role::Leader {
                valid_until,
                renew_at,
                ..
            } if self.write.is_none() => Some(valid_until.min(renew_at)),
            Role::Leader { valid_until, .. } => Some(valid_until),
            Role::Standby { next_check, .. } => Some(next_check),
            Role::Stopped => None,
        }
    }

    /// The next action.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<LeadershipAction> {
        self.actions.pop_front()
    }

    /// What the key holds. Observations may be late: a leader acts only
    /// on one newer than its own write, and only to stop early.
    fn observe(&mut self, now: Instant, key: KeyView) {
        match (&mut self.role, key) {
            (Role::Stopped, _) => {}
            (Role::Standby { .. }, KeyView::Absent | KeyView::Gone { .. }) => {
                self.write(now, LeadershipAction::Create);
            }
            (Role::Standby { .. }, KeyView::Held { revision, holder }) if holder == self.id => {
                // A write of ours whose answer was lost: confirm it anew.
                self.write(now, LeadershipAction::Update { revision });
            }
            (Role::Standby { leader, .. }, KeyView::Held { holder, .. }) => {
                if leader.as_deref() != Some(holder.as_str()) {
                    *leader = Some(holder.clone());
                    self.actions
                        .push_back(LeadershipAction::StandingBy { leader: holder });
                }
            }
            (
                Role::Leader {
                    revision: ours,
                    renew_at,
                    ..
                },
                KeyView::Held { revision, holder },
            ) if revision > *ours => {
                if holder == self.id {
                    // Our own write, whose answer was lost: renew from it.
                    *ours = revision;
                    *renew_at = now;
                } else {
                    tracing::warn!(%holder, "another relay took the leadership key");
                    self.step_down(now);
                }
            }
            (Role::Leader { revision: ours, .. }, KeyView::Gone { revision })
                if revision > *ours =>
            {
                tracing::warn!("the leadership key is gone while this relay leads");
                self.step_down(now);
                self.write(now, LeadershipAction::Create);
            }
            // Stale, or without a revision to tell whether it is news: the
            // leader's deadline stands either way.
            (Role::Leader { .. }, _) => {}
        }
    }

    /// Stops the upstream and stands by, looking at the key at once.
    fn step_down(&mut self, now: Instant) {
        self.actions.push_back(LeadershipAction::StopUpstream);
        self.role = Role::Standby {
            next_check: now + self.timing.check_every,
            leader: None,
        };
        self.read();
    }

    /// Sends `write` unless one is in flight.
    fn write(&mut self, now: Instant, write: LeadershipAction) {
        if self.write.is_none() {
            self.write = Some(Pending { sent_at: now });
            self.actions.push_back(write);
        }
    }

    /// Reads the key unless a read is in flight.
    fn read(&mut self) {
        if !self.reading {
            self.reading = true;
            self.actions.push_back(LeadershipAction::Read);
        }
    }
}
