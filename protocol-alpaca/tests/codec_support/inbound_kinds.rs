//! Which kind each decoded message is, for tests that check the shape of a
//! decoded frame: the integration suites' and, included by path, the
//! crate's own unit tests.

use tickwire_core::protocol::Inbound;

/// Each message's variant name, e.g. `["Data", "Malformed"]`.
pub(crate) fn kinds<D, C>(out: &[Inbound<D, C>]) -> Vec<&'static str> {
    out.iter()
        .map(|message| match message {
            Inbound::Greeting => "Greeting",
            Inbound::Authenticated => "Authenticated",
            Inbound::AuthRejected { .. } => "AuthRejected",
            Inbound::Error(_) => "Error",
            Inbound::SubscriptionAck(_) => "SubscriptionAck",
            Inbound::Data(_) => "Data",
            Inbound::Unknown { .. } => "Unknown",
            Inbound::Malformed(_) => "Malformed",
            _ => "another kind",
        })
        .collect()
}
