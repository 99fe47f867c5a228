//! `tickwire trades`: the account's order and fill updates to the terminal.

use tickwire_ws::{TradingEndpoint, TradingStream};

use crate::embedded::Embedded;
use crate::error::CliError;
use crate::follow::follow;
use crate::target::{Target, TradesPlan};

/// Follows the account stream until a limit, Ctrl-C or a fatal verdict.
///
/// # Errors
/// As for [`follow`]; also [`CliError::Runtime`] when the embedded exchange
/// cannot start.
pub(crate) async fn run(plan: TradesPlan) -> Result<(), CliError> {
    let (embedded, url, credentials) = match plan.target.clone() {
        Target::Embedded { path } => {
            let embedded = Embedded::start(Default::default()).await?;
            let url = embedded.url(path);
            crate::notice(&format!(
                "no --url and no credentials: following the embedded simulated exchange at {url} \
                 (simulated orders; set APCA_API_KEY_ID and APCA_API_SECRET_KEY for your Alpaca account)"
            ));
            let credentials = embedded.credentials();
            (Some(embedded), url, credentials)
        }
        Target::Remote { url, credentials } => {
            if plan.live {
                crate::notice("following the LIVE trading account (real money)");
            }
            (None, url, credentials)
        }
    };

    let stream = TradingStream::builder(TradingEndpoint::Custom(url.clone()))
        .credentials(credentials)
        .name("trades")
        .build()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let (handle, mut events) = stream.into_parts();

    let stop = follow(&handle, &mut events, plan.limits, plan.json, &url).await;
    if let Some(embedded) = embedded {
        embedded.stop().await;
    }
    stop.map(|stop| tracing::debug!(?stop, "trades done"))
}
