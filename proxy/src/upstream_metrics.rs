//! The metrics each endpoint task (a feed's, the account's) keeps of its
//! clients and its upstream stream.

use metrics::{Counter, Gauge};

use crate::metrics as names;

/// One endpoint's client count, upstream liveness, upstream reconnects and
/// slow clients dropped, labelled with its path.
pub(crate) struct UpstreamMetrics {
    /// Downstream clients of the endpoint.
    pub(crate) clients: Gauge,
    /// 1 while the upstream stream is live.
    live: Gauge,
    /// Upstream connections lost.
    pub(crate) reconnects: Counter,
    /// Clients dropped because their queue was full.
    pub(crate) slow_drops: Counter,
}

impl UpstreamMetrics {
    /// The metrics of the endpoint at `path` (`/v2/iex`, `/stream`).
    pub(crate) fn new(path: &'static str) -> Self {
        Self {
            clients: metrics::gauge!(names::CLIENTS, "endpoint" => path),
            live: metrics::gauge!(names::UPSTREAM_LIVE, "endpoint" => path),
            reconnects: metrics::counter!(names::UPSTREAM_RECONNECTS, "endpoint" => path),
            slow_drops: metrics::counter!(names::CLIENTS_DROPPED, "endpoint" => path, "reason" => "slow"),
        }
    }

    /// Records whether the upstream stream is live.
    pub(crate) fn set_live(&self, live: bool) {
        self.live.set(if live { 1.0 } else { 0.0 });
    }
}
