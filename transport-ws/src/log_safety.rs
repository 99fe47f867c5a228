//! Keeping credentials out of logs that the WebSocket library writes.

/// Filter directives that keep credentials out of the logs: the WebSocket
/// library (`tungstenite`, `tokio_tungstenite`) prints every frame and the
/// whole upgrade request at `trace`, the auth message and auth headers
/// included, so these cap it at `debug`. tickwire's own crates never log
/// credentials at any level.
///
/// Add them to your subscriber's filter after whatever the user chose, so
/// they win over a blanket `RUST_LOG=trace`:
///
/// ```
/// use tracing_subscriber::EnvFilter;
///
/// let filter = tickwire_ws::SECRET_SAFE_LOG_DIRECTIVES
///     .iter()
///     .filter_map(|directive| directive.parse().ok())
///     .fold(EnvFilter::new("trace"), EnvFilter::add_directive);
/// assert!(filter.to_string().contains("tungstenite=debug"));
/// ```
pub const SECRET_SAFE_LOG_DIRECTIVES: &[&str] = &["tungstenite=debug", "tokio_tungstenite=debug"];
