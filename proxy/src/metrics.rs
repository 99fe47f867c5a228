//! The proxy's metric names, through the `metrics` facade. The binary
//! chooses the exporter (the `tickwire` command serves Prometheus text).
//!
//! Labels: `endpoint` is the path (`/v2/iex`, `/stream`); `client` the
//! connection's number; `reason` why a client was dropped.

/// Gauge: downstream clients per endpoint.
pub const CLIENTS: &str = "tickwire_proxy_clients";
/// Counter: downstream connections accepted.
pub const CONNECTIONS: &str = "tickwire_proxy_connections_total";
/// Counter: downstream clients the proxy disconnected, by `reason`
/// (`slow`, `auth_failed`, `auth_timeout`, `upstream_failed`).
pub const CLIENTS_DROPPED: &str = "tickwire_proxy_clients_dropped_total";
/// Counter: data messages delivered, per `endpoint` and `client`.
pub const MESSAGES: &str = "tickwire_proxy_messages_total";
/// Gauge: 1 while the endpoint's upstream stream is live.
pub const UPSTREAM_LIVE: &str = "tickwire_proxy_upstream_live";
/// Counter: upstream connections lost (each followed by a reconnect).
pub const UPSTREAM_RECONNECTS: &str = "tickwire_proxy_upstream_reconnects_total";
/// Gauge: (channel, symbol) pairs held by at least one client, per endpoint.
pub const SYMBOLS: &str = "tickwire_proxy_symbols";
/// Counter: client messages refused (malformed, oversized, not allowed).
pub const CLIENT_ERRORS: &str = "tickwire_proxy_client_errors_total";
