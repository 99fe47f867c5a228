//! The embedded simulated exchange: tickwire-mock's loopback server, started
//! in-process when no URL and no credentials were given (and by `serve`).

use tickwire_core::Credentials;

use crate::error::CliError;

/// Key id and secret of the account the embedded exchange accepts by default.
pub(crate) const DEMO_KEY: &str = "tickwire";

/// How to run the embedded exchange.
#[derive(Debug, Clone, Default)]
pub(crate) struct EmbeddedOptions {
    /// TCP port on 127.0.0.1 (0: the system chooses).
    pub(crate) port: u16,
    /// Seed of the market and order flow.
    pub(crate) seed: u64,
    /// Market data messages per second per symbol (quotes and trades).
    pub(crate) rate: Option<f64>,
    /// Accounts (key id, secret); empty: the demo account.
    pub(crate) accounts: Vec<(String, String)>,
}

/// A running embedded exchange.
#[derive(Debug)]
pub(crate) struct Embedded {
    base: String,
    credentials: Credentials,
}

impl Embedded {
    /// Starts the exchange on loopback.
    pub(crate) async fn start(options: EmbeddedOptions) -> Result<Self, CliError> {
        let _ = options;
        Err(CliError::runtime(
            "the embedded exchange is not available yet",
        ))
    }

    /// The URL of an endpoint path, e.g. `ws://127.0.0.1:PORT/v2/iex`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The credentials of the first account.
    pub(crate) fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    /// Stops the server.
    pub(crate) async fn stop(self) {}
}
