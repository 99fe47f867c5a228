//! Where `watch` and `trades` connect: a remote endpoint, or the embedded
//! simulated exchange started for the occasion.

use std::future::Future;

use futures::Stream;
use tickwire_core::Credentials;
use tickwire_ws::{StreamEvent, StreamHandle};

use crate::embedded::Embedded;
use crate::error::CliError;
use crate::follow::{Sink, Stop, follow};
use crate::target::{Limits, Target};

/// An endpoint and the key pair for it, with the embedded exchange when it
/// is the one serving them.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The exchange started for this command, if any.
    embedded: Option<Embedded>,
    /// The endpoint URL.
    pub(crate) url: String,
    /// The key pair to authenticate with.
    pub(crate) credentials: Credentials,
}

impl Connection {
    /// Starts the embedded exchange when `target` names it, and tells the
    /// user so with `notice(url)`.
    ///
    /// # Errors
    /// [`CliError::Runtime`] when the embedded exchange cannot start.
    pub(crate) async fn open(
        target: Target,
        notice: impl FnOnce(&str) -> String,
    ) -> Result<Self, CliError> {
        match target {
            Target::Embedded { path } => {
                let embedded = Embedded::start(Default::default()).await?;
                let url = embedded.url(path);
                crate::notice(&notice(&url));
                Ok(Self {
                    credentials: embedded.credentials(),
                    embedded: Some(embedded),
                    url,
                })
            }
            Target::Remote { url, credentials } => Ok(Self {
                embedded: None,
                url,
                credentials,
            }),
        }
    }

    /// Whether the endpoint is the embedded exchange (plain `ws://` on loopback).
    pub(crate) fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Hands `events` to `sink` (see [`follow`]) until a limit or `quit`,
    /// then stops the embedded exchange.
    ///
    /// # Errors
    /// As for [`follow`].
    pub(crate) async fn follow<T, S, K>(
        self,
        handle: &StreamHandle,
        events: &mut S,
        sink: &mut K,
        limits: Limits,
        quit: impl Future<Output = ()>,
    ) -> Result<Stop, CliError>
    where
        S: Stream<Item = StreamEvent<T>> + Unpin,
        K: Sink<T>,
    {
        let stop = follow(handle, events, sink, limits, &self.url, quit).await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await;
        }
        stop
    }
}
