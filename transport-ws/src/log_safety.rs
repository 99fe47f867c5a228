//! Keeping credentials out of logs that the WebSocket library writes.

/// Log targets that print credentials at `trace`: the WebSocket library
/// (`tungstenite`, `tokio_tungstenite`) logs every frame and the whole
/// upgrade request at that level, the auth message and auth headers
/// included. Cap them at `debug` beside whatever filter the user chose;
/// tickwire's own crates never log credentials at any level.
///
/// ```
/// use tracing::level_filters::LevelFilter;
/// use tracing_subscriber::filter::Targets;
/// use tracing_subscriber::prelude::*;
///
/// let cap = tickwire_ws::SECRET_PRINTING_LOG_TARGETS
///     .iter()
///     .fold(Targets::new().with_default(LevelFilter::TRACE), |cap, target| {
///         cap.with_target(*target, LevelFilter::DEBUG)
///     });
/// let subscriber = tracing_subscriber::fmt()
///     .with_env_filter("trace")
///     .finish()
///     .with(cap);
/// # drop(subscriber);
/// ```
pub const SECRET_PRINTING_LOG_TARGETS: &[&str] = &["tungstenite", "tokio_tungstenite"];
