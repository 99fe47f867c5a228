//! `tickwire trades`: the account's order and fill updates to the terminal.

use tickwire_ws::{TradingEndpoint, TradingStream};

use crate::board::{self, orders::OrderBoard};
use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::target::TradesPlan;

/// Follows the account stream until a limit, Ctrl-C, SIGTERM, `q` on the
/// board or a fatal verdict: a board of orders on a terminal, lines (or
/// JSON) elsewhere.
///
/// # Errors
/// As for [`follow`](crate::follow::follow); also [`CliError::Runtime`] when
/// the embedded exchange cannot start.
pub(crate) async fn run(plan: TradesPlan) -> Result<(), CliError> {
    let connection = Connection::open(plan.stream.target.clone(), |url| {
        format!(
            "no --url and no credentials: following the embedded simulated exchange at {url} \
             (simulated orders; set APCA_API_KEY_ID and APCA_API_SECRET_KEY for your Alpaca account)"
        )
    })
    .await?;
    if plan.live && !connection.is_embedded() {
        crate::notice("following the LIVE trading account (real money)");
    }

    let stream = TradingStream::builder(TradingEndpoint::Custom(connection.url.clone()))
        .credentials(connection.credentials.clone())
        .name("trades")
        .tls_trust(plan.stream.tls.clone())
        .connect_attempts_max(plan.stream.connect_attempts_max)
        .slow_consumer(plan.stream.slow_consumer)
        .reconcile(plan.reconcile.0);
    let stream = match plan.reconcile.1 {
        Some(since) => stream.reconcile_since(since),
        None => stream,
    }
    .build()
    .map_err(|e| CliError::stream_build(&e))?;
    let stop = board::show_or_print(
        plan.stream.view,
        OrderBoard::default,
        connection,
        stream.into_parts(),
        plan.stream.limits,
    )
    .await?;
    tracing::debug!(?stop, "trades done");
    Ok(())
}
