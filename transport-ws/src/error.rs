//! What can go wrong when building or using a stream.

use std::time::Duration;

use tickwire_core::machine::{CommandError, StreamError};
use tickwire_core::{CredentialsError, InvalidSymbol};

/// An error from the tickwire-ws API.
///
/// Credentials never appear in an error's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable credentials were given or found in the environment.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The endpoint would receive credentials over an unencrypted connection.
    #[error(
        "refusing to send credentials over plain ws:// to {host}: use wss://, a loopback address, \
         or allow it explicitly with `allow_insecure(true)`"
    )]
    InsecureEndpoint {
        /// The host that was refused.
        host: String,
    },
    /// The endpoint URL cannot be used.
    #[error("invalid endpoint URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbol was not valid.
    #[error(transparent)]
    InvalidSymbol(#[from] InvalidSymbol),
    /// The stream refused the command (no symbols, a server-managed channel,
    /// subscriptions on an account stream…).
    #[error(transparent)]
    Command(CommandError),
    /// The stream stopped after a fatal error; create a new one once the cause is fixed.
    #[error("the stream failed: {0}")]
    Failed(StreamError),
    /// The stream was shut down (or its task ended).
    #[error("the stream is shut down; create a new one")]
    Closed,
    /// A wait ran out.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Backfill was asked for on a feed whose history it cannot fetch: it
    /// asks the stocks API (`/v2/stocks/trades`, `/v2/stocks/bars`) only.
    #[error(
        "cannot backfill the {market} feed at {url}: backfill fetches stock trades and bars only; \
         build this stream without `backfill` (or with `Backfill::NONE`)"
    )]
    BackfillUnsupported {
        /// The stream's URL.
        url: String,
        /// What the feed carries: `crypto`, `options` or `news`.
        market: &'static str,
    },
    /// A stream was built outside a tokio runtime.
    #[error("no tokio runtime: build streams from within a tokio runtime")]
    NoRuntime,
}

impl From<CommandError> for Error {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Closed => Self::Closed,
            CommandError::Failed(error) => Self::Failed(error),
            other => Self::Command(other),
        }
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
