//! `tickwire watch`: market data to the terminal.

use crate::args::Feed;
use crate::board::{self, market::MarketBoard};
use crate::commands::connection::{Connection, simulated_market_notice};
use crate::error::CliError;
use crate::target::WatchPlan;

/// Streams the plan's channels and symbols until a limit, Ctrl-C, SIGTERM,
/// `q` on the board or a fatal verdict: a live board on a terminal, lines
/// (or JSON) elsewhere.
///
/// # Errors
/// As for [`follow`](crate::follow::follow); also [`CliError::Runtime`] when
/// the embedded exchange cannot start.
pub(crate) async fn run(plan: WatchPlan) -> Result<(), CliError> {
    let connection = Connection::open(
        plan.stream.target.clone(),
        simulated_market_notice("watching"),
    )
    .await?;

    let stream = connection.market_stream(&plan, "watch")?;
    let feed = plan.feed.map_or("custom", Feed::name);
    let new_board = || MarketBoard::new(feed, &plan.symbols);
    let stop = board::show_or_print(
        plan.stream.view,
        new_board,
        connection,
        stream,
        plan.stream.limits,
    )
    .await?;
    tracing::debug!(?stop, "watch done");
    Ok(())
}
