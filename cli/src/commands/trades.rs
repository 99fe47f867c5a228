//! `tickwire trades`: the account's order and fill updates to the terminal.

use std::future::pending;

use tickwire_ws::{TradingEndpoint, TradingStream};

use crate::board::{self, orders::OrderBoard};
use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::output::{Printer, Style};
use crate::target::TradesPlan;

/// Follows the account stream until a limit, Ctrl-C, SIGTERM, `q` on the
/// board or a fatal verdict: a board of orders on a terminal, lines (or
/// JSON) elsewhere.
///
/// # Errors
/// As for [`follow`](crate::follow::follow); also [`CliError::Runtime`] when
/// the embedded exchange cannot start.
pub(crate) async fn run(plan: TradesPlan) -> Result<(), CliError> {
    let connection = Connection::open(plan.target.clone(), |url| {
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
        .tls_trust(plan.tls.clone())
        .connect_attempts_max(plan.connect_attempts_max)
        .slow_consumer(plan.slow_consumer)
        .build()
        .map_err(|e| CliError::stream_build(&e))?;
    let (handle, mut events) = stream.into_parts();

    let stop = if board::wanted(plan.json, plan.lines) {
        board::show(
            OrderBoard::default(),
            connection,
            &handle,
            &mut events,
            plan.limits,
        )
        .await?
    } else {
        let style = if plan.json { Style::Json } else { Style::Human };
        let mut printer = Printer::stdout(style);
        connection
            .follow(&handle, &mut events, &mut printer, plan.limits, pending())
            .await?
    };
    tracing::debug!(?stop, "trades done");
    Ok(())
}
