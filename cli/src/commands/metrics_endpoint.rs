//! The Prometheus `/metrics` endpoint of `tickwire proxy`: the exporter
//! lives in the binary; the libraries only use the `metrics` facade.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusBuilder;

use crate::error::CliError;
use crate::http::{self, Reply};

/// The content type of Prometheus' text format.
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// Installs the Prometheus recorder and serves `GET /metrics` on `addr`;
/// returns the bound address.
///
/// # Errors
/// [`CliError::Runtime`] when the recorder cannot be installed or the
/// address bound.
pub(crate) async fn start(addr: SocketAddr) -> Result<SocketAddr, CliError> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::runtime(format!("cannot install the metrics recorder: {e}")))?;
    http::start(addr, "/metrics", move |request| {
        if request.method == "GET" && request.path == "/metrics" {
            Reply {
                status: "200 OK",
                content_type: PROMETHEUS_TEXT,
                body: handle.render(),
            }
        } else {
            Reply::text("404 Not Found", "only GET /metrics is served here\n".into())
        }
    })
    .await
}
