//! What a server error means for the connection.

/// What the machine does about a server error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Stop retrying and report (bad credentials, plan lacks the feed…).
    Fatal,
    /// Drop the connection and reconnect with the usual backoff.
    Reconnect,
    /// Drop the connection and reconnect after the long floor (connection limit).
    ReconnectSlowly,
    /// Fail the subscription request in flight; the connection is fine.
    RejectRequest,
    /// Nothing to do (e.g. already authenticated).
    Ignore,
}

/// An error reported by the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server error{}: {message}", code.map(|c| format!(" {c}")).unwrap_or_default())]
pub struct ServerError {
    /// The server's code, e.g. 406, if it sent one.
    pub code: Option<u16>,
    /// The server's message.
    pub message: String,
    /// What the dialect says to do about it.
    pub verdict: Verdict,
}
