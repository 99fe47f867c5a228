//! An exchange shared by in-memory transports and the loopback server.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::{Exchange, ExchangeConfig, Output, Refusal, SessionId};

/// An [`Exchange`] behind a lock, with one mailbox per open session.
///
/// Cloning shares the same exchange. Model time is the tokio clock
/// ([`SharedExchange::now`]), so tests on paused time stay deterministic.
/// Whoever waits for output (a [`ScriptedTransport`](crate::ScriptedTransport)
/// in `recv`, the loopback server's clock task) also advances the model's
/// timers; nothing runs in the background unless [`run_clock`](Self::run_clock) is spawned.
///
/// ```
/// use tickwire_mock::{Account, ExchangeConfig, SharedExchange};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let exchange = SharedExchange::new(ExchangeConfig::new(1).with_account(Account::new("K", "S")));
/// assert_eq!(exchange.with(|ex, _now| ex.session_count()), 0);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SharedExchange {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Woken after every input, so waiters recompute the next deadline.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    exchange: Exchange,
    mailboxes: HashMap<SessionId, Mailbox>,
}

#[derive(Debug)]
struct Mailbox {
    queue: VecDeque<Output>,
    notify: Arc<Notify>,
}

impl State {
    /// Moves the exchange's outputs into the mailboxes (outputs for sessions
    /// nobody holds any more are dropped).
    ///
    /// A mailbox that grows past the exchange's `slow_client_frames_max` is a
    /// client that does not read: the exchange is told, and answers 407.
    fn distribute(&mut self, now: Instant) {
        let limit = self.exchange.config().slow_client_frames_max;
        loop {
            let mut backlogged = Vec::new();
            while let Some((id, output)) = self.exchange.poll_output() {
                if let Some(mailbox) = self.mailboxes.get_mut(&id) {
                    mailbox.queue.push_back(output);
                    mailbox.notify.notify_one();
                    if mailbox.queue.len() > limit {
                        backlogged.push((id, mailbox.queue.len()));
                    }
                }
            }
            if backlogged.is_empty() {
                break;
            }
            for (id, frames) in backlogged {
                self.exchange.handle_backlog(now, id, frames);
            }
        }
    }
}

impl SharedExchange {
    /// A new exchange whose clock starts now (tokio time).
    pub fn new(config: ExchangeConfig) -> Self {
        Self::from_exchange(Exchange::new(config, Self::now()))
    }

    /// Shares an existing exchange.
    pub fn from_exchange(exchange: Exchange) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    exchange,
                    mailboxes: HashMap::new(),
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// The model's time: tokio's clock (paused in `start_paused` tests).
    pub fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug in the
        // model; the state is still usable for the remaining tests.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the exchange (to set faults, inspect sessions…) with the
    /// current time; outputs it causes are delivered.
    pub fn with<R>(&self, f: impl FnOnce(&mut Exchange, Instant) -> R) -> R {
        let result = {
            let mut state = self.lock();
            let now = Self::now();
            let result = f(&mut state.exchange, now);
            state.distribute(now);
            result
        };
        self.inner.changed.notify_waiters();
        result
    }

    /// Opens a session and its mailbox.
    pub(crate) fn open(
        &self,
        path: &str,
        headers: &[(String, String)],
    ) -> Result<(SessionId, Arc<Notify>), Refusal> {
        let result = {
            let mut state = self.lock();
            let now = Self::now();
            let id = state.exchange.open(now, path, headers)?;
            let notify = Arc::new(Notify::new());
            state.mailboxes.insert(
                id,
                Mailbox {
                    queue: VecDeque::new(),
                    notify: Arc::clone(&notify),
                },
            );
            state.distribute(now);
            (id, notify)
        };
        self.inner.changed.notify_waiters();
        Ok(result)
    }

    /// Feeds an input for `id` and delivers what it causes.
    pub(crate) fn input(&self, f: impl FnOnce(&mut Exchange, Instant)) {
        self.with(f);
    }

    /// Forgets a session's mailbox after its connection ended.
    pub(crate) fn forget(&self, id: SessionId) {
        self.lock().mailboxes.remove(&id);
    }

    /// Advances timers to now and delivers; returns the next output of `id`
    /// (if any) and the exchange's next deadline.
    pub(crate) fn poll(&self, id: Option<SessionId>) -> (Option<Output>, Option<Instant>) {
        let mut state = self.lock();
        let now = Self::now();
        state.exchange.handle_timeout(now);
        state.distribute(now);
        let output = id
            .and_then(|id| state.mailboxes.get_mut(&id))
            .and_then(|m| m.queue.pop_front());
        (output, state.exchange.poll_timeout())
    }

    /// Takes the next output of `id` without advancing timers.
    pub(crate) fn pop(&self, id: SessionId) -> Option<Output> {
        self.lock()
            .mailboxes
            .get_mut(&id)
            .and_then(|m| m.queue.pop_front())
    }

    /// A wake-up for the next input anywhere in the exchange; `enable` it
    /// before [`poll`](Self::poll) so that none is missed.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.inner.changed.notified()
    }

    /// Advances the exchange's timers for ever (market ticks, auth timeouts,
    /// order life cycles). Spawn it when no [`ScriptedTransport`](crate::ScriptedTransport)
    /// is waiting in `recv`, e.g. behind a server; the loopback server does.
    pub async fn run_clock(self) {
        loop {
            let changed = self.inner.changed.notified();
            let mut changed = pin!(changed);
            changed.as_mut().enable();
            let (_, deadline) = self.poll(None);
            tokio::select! {
                () = changed => {}
                () = sleep_until(deadline) => {}
            }
        }
    }
}

/// Sleeps until `deadline` (tokio clock), or for ever when there is none.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}
