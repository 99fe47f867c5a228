//! One file per subcommand.

pub(crate) mod connection;
mod endpoint_lines;
pub(crate) mod metrics_endpoint;
pub(crate) mod proxy;
pub(crate) mod record;
pub(crate) mod relay;
pub(crate) mod serve;
pub(crate) mod serve_admin;
mod serve_inspect;
mod serve_journal;
pub(crate) mod sim;
pub(crate) mod trades;
pub(crate) mod trades_relay;
pub(crate) mod watch;
