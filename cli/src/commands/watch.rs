//! `tickwire watch`: market data to the terminal.

use std::future::pending;

use crate::args::Feed;
use crate::board::{self, market::MarketBoard};
use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::output::{Printer, Style};
use crate::target::WatchPlan;

/// Streams the plan's channels and symbols until a limit, Ctrl-C, SIGTERM,
/// `q` on the board or a fatal verdict: a live board on a terminal, lines
/// (or JSON) elsewhere.
///
/// # Errors
/// As for [`follow`](crate::follow::follow); also [`CliError::Runtime`] when
/// the embedded exchange cannot start.
pub(crate) async fn run(plan: WatchPlan) -> Result<(), CliError> {
    let connection = Connection::open(plan.target.clone(), |url| {
        format!(
            "no --url and no credentials: watching the embedded simulated exchange at {url} \
             (simulated prices, not real quotes; set APCA_API_KEY_ID and APCA_API_SECRET_KEY for Alpaca)"
        )
    })
    .await?;

    let (handle, mut events) = connection.market_stream(&plan, "watch")?;

    let stop = if board::wanted(plan.json, plan.lines) {
        let feed = plan.feed.map_or("custom", Feed::name);
        let board = MarketBoard::new(feed, &plan.symbols);
        board::show(board, connection, &handle, &mut events, plan.limits).await?
    } else {
        let style = if plan.json { Style::Json } else { Style::Human };
        let mut printer = Printer::stdout(style);
        connection
            .follow(&handle, &mut events, &mut printer, plan.limits, pending())
            .await?
    };
    tracing::debug!(?stop, "watch done");
    Ok(())
}
