//! The cloneable handle that commands a stream's task from any task.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use tickwire_alpaca::Channel;
use tickwire_core::machine::{State, SubscriptionOutcome};
use tickwire_core::protocol::SubscriptionOp;
use tickwire_core::{ChannelKind, Symbol};

use crate::command::Command;
use crate::into_symbol::collect_symbols;
use crate::{Error, IntoSymbol};

/// Commands a running stream; cheap to clone, usable from any task.
///
/// Every method may be called at any time — while the stream is idle,
/// connecting, live or reconnecting — including from the task that reads the
/// stream's events: commands never wait for the event queue to drain. When
/// every handle (and the stream it came from) is dropped, the stream shuts down.
///
/// `C` is the dialect's channel: Alpaca's [`Channel`] unless said otherwise.
pub struct StreamHandle<C = Channel> {
    name: Arc<str>,
    commands: mpsc::Sender<Command<C>>,
    state: watch::Receiver<State>,
    dropped: Arc<AtomicU64>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    shutdown_timeout: Duration,
}

// By hand: a derived `Clone` would ask for `C: Clone`, which a handle does not need.
impl<C> Clone for StreamHandle<C> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            commands: self.commands.clone(),
            state: self.state.clone(),
            dropped: Arc::clone(&self.dropped),
            task: Arc::clone(&self.task),
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

impl<C> fmt::Debug for StreamHandle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandle")
            .field("name", &self.name)
            .field("state", &self.state.borrow().name())
            .finish_non_exhaustive()
    }
}

impl<C: ChannelKind> StreamHandle<C> {
    pub(crate) fn new(
        name: Arc<str>,
        commands: mpsc::Sender<Command<C>>,
        state: watch::Receiver<State>,
        dropped: Arc<AtomicU64>,
        task: JoinHandle<()>,
        shutdown_timeout: Duration,
    ) -> Self {
        Self {
            name,
            commands,
            state,
            dropped,
            task: Arc::new(Mutex::new(Some(task))),
            shutdown_timeout,
        }
    }

    /// The stream's name, as it appears in logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds symbols to a channel and resolves with the server's verdict:
    /// [`SubscriptionOutcome::Acknowledged`] once the server's set includes
    /// them, [`SubscriptionOutcome::Rejected`] with the server's code (e.g.
    /// 405, symbol limit) for the symbols it refused, or
    /// [`SubscriptionOutcome::Superseded`] when a later unsubscribe undid it first.
    ///
    /// On an idle market data stream this starts the connection; while the
    /// stream reconnects it resolves once the new connection acknowledges.
    ///
    /// # Errors
    /// [`Error::InvalidSymbol`], [`Error::Command`] (no symbols, a
    /// server-managed channel, an account stream), [`Error::Failed`] or
    /// [`Error::Closed`] when the stream stopped before the server answered.
    pub async fn subscribe<I>(&self, channel: C, symbols: I) -> Result<SubscriptionOutcome, Error>
    where
        I: IntoIterator,
        I::Item: IntoSymbol,
    {
        self.command(
            SubscriptionOp::Subscribe,
            channel,
            collect_symbols(symbols)?,
        )
        .await
    }

    /// Removes symbols from a channel and resolves with the server's verdict.
    /// When nothing is left wanted, the connection is closed after the idle
    /// linger (see [`StreamBuilder::idle_linger`](crate::StreamBuilder::idle_linger)).
    ///
    /// # Errors
    /// As for [`subscribe`](Self::subscribe).
    pub async fn unsubscribe<I>(&self, channel: C, symbols: I) -> Result<SubscriptionOutcome, Error>
    where
        I: IntoIterator,
        I::Item: IntoSymbol,
    {
        self.command(
            SubscriptionOp::Unsubscribe,
            channel,
            collect_symbols(symbols)?,
        )
        .await
    }

    async fn command(
        &self,
        op: SubscriptionOp,
        channel: C,
        symbols: Vec<Symbol>,
    ) -> Result<SubscriptionOutcome, Error> {
        let (reply, verdict) = oneshot::channel();
        let command = Command::Subscription {
            op,
            channel,
            symbols,
            reply,
        };
        if self.commands.send(command).await.is_err() {
            return Err(self.terminal_error());
        }
        match verdict.await {
            Ok(Ok(SubscriptionOutcome::Abandoned)) | Err(_) => {
                // Abandoned on shutdown or failure: report which, once the state says so.
                let mut state = self.state.clone();
                let _ = state.wait_for(State::is_terminal).await;
                Err(self.terminal_error())
            }
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(error)) => Err(error.into()),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    /// A watch of the state: `borrow()` for the current one, `changed()` to wait for the next.
    pub fn state_watch(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    /// Waits until the stream is live (authenticated, subscriptions acknowledged).
    ///
    /// # Errors
    /// [`Error::Timeout`] when `timeout` passes first; [`Error::Failed`] or
    /// [`Error::Closed`] when the stream stops.
    pub async fn wait_live(&self, timeout: Duration) -> Result<(), Error> {
        let mut state = self.state.clone();
        let waited = tokio::time::timeout(timeout, async {
            let reached = state
                .wait_for(|s| s.is_live() || s.is_terminal())
                .await
                .map(|s| s.is_live());
            // An error means the task ended: the stream is not live.
            reached.unwrap_or(false)
        })
        .await;
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.terminal_error()),
            Err(_) => Err(Error::Timeout(timeout)),
        }
    }

    /// Closes the stream: pending commands resolve with [`Error::Closed`], the
    /// connection is closed and the event stream ends after its last event.
    /// Returns once the stream's task has stopped, within the shutdown timeout
    /// (default 5 s); past it the task is aborted.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the task had to be aborted.
    pub async fn shutdown(&self) -> Result<(), Error> {
        let mut state = self.state.clone();
        let stopped = tokio::time::timeout(self.shutdown_timeout, async {
            let _ = self.commands.send(Command::Shutdown).await;
            // The task drops the state's sender as it ends.
            while state.changed().await.is_ok() {}
        })
        .await;
        if stopped.is_ok() {
            return Ok(());
        }
        tracing::warn!(stream = %self.name, "shutdown timed out; aborting the stream's task");
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        Err(Error::Timeout(self.shutdown_timeout))
    }

    /// Whether the stream's task has stopped (after shutdown or a fatal error).
    pub fn is_stopped(&self) -> bool {
        self.commands.is_closed()
    }

    /// Events (data, unknown messages, non-fatal errors) dropped by the
    /// slow-consumer policy since the stream was created.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn terminal_error(&self) -> Error {
        match &*self.state.borrow() {
            State::Failed { error } => Error::Failed(error.clone()),
            _ => Error::Closed,
        }
    }
}
