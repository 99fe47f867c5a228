//! Why a relay could not start or stopped.

/// Why a relay could not start, or why it stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The server's URL.
        url: String,
        /// The client's error.
        message: String,
    },
    /// The lease bucket could not be created or watched.
    #[error("lease bucket {bucket:?}: {message}")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// The server's or client's error.
        message: String,
    },
    /// A setting is invalid.
    #[error("invalid relay setting: {0}")]
    Config(String),
    /// The JetStream stream of trade updates could not be created or read.
    #[error("JetStream stream {stream:?}: {message}")]
    Stream {
        /// The stream.
        stream: String,
        /// The server's or client's error.
        message: String,
    },
    /// The upstream stream could not be built (e.g. an invalid URL).
    #[error("cannot build the upstream stream: {0}")]
    Upstream(String),
    /// The upstream stopped for good (e.g. credentials refused).
    #[error("the upstream stream failed: {0}")]
    UpstreamFailed(String),
    /// The relay's task ended abnormally.
    #[error("the relay's task ended abnormally: {0}")]
    Task(String),
}
