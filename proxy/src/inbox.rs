//! What an endpoint task (a feed's, the account's) waits on: its client
//! sessions' commands, the proxy's shutdown, and news from its upstream.

use std::future::Future;

use tokio::sync::{mpsc, watch};

/// What woke an endpoint task.
pub(crate) enum Wake<C, U> {
    /// A client session's command.
    Command(C),
    /// News from the task's upstream side.
    Upstream(U),
}

/// An endpoint task's command queue and the proxy's shutdown signal.
pub(crate) struct Inbox<C> {
    commands: mpsc::Receiver<C>,
    shutdown: watch::Receiver<bool>,
}

impl<C> Inbox<C> {
    pub(crate) fn new(commands: mpsc::Receiver<C>, shutdown: watch::Receiver<bool>) -> Self {
        Self { commands, shutdown }
    }

    /// The next command or what `upstream` resolves to, whichever comes
    /// first; `None` once shutdown was asked for or every sender is gone.
    pub(crate) async fn next<U>(
        &mut self,
        upstream: impl Future<Output = U>,
    ) -> Option<Wake<C, U>> {
        tokio::select! {
            command = self.commands.recv() => command.map(Wake::Command),
            news = upstream => Some(Wake::Upstream(news)),
            () = crate::server::stopped(&mut self.shutdown) => None,
        }
    }
}
