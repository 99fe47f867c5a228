//! `tickwire watch`: market data to the terminal.

use std::future::pending;

use tickwire_alpaca::Encoding;
use tickwire_ws::MarketDataStream;

use crate::args::Feed;
use crate::board::{self, market::MarketBoard};
use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::output::{Printer, Style};
use crate::target::{WatchPlan, WireEncoding};

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

    let stream = MarketDataStream::builder(tickwire_ws::Feed::Custom(connection.url.clone()))
        .credentials(connection.credentials.clone())
        .encoding(match plan.encoding {
            WireEncoding::Json => Encoding::Json,
            WireEncoding::MsgPack => Encoding::MsgPack,
        })
        .data_silence_timeout(plan.stale_after)
        .slow_consumer(plan.slow_consumer)
        .name("watch")
        .allow_insecure(connection.is_embedded())
        .build()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let (handle, mut events) = stream.into_parts();

    // Subscribe in the background: verdicts and failures arrive as events,
    // which the loop below prints while the subscriptions are settled.
    for channel in plan.channels.iter().copied() {
        let handle = handle.clone();
        let symbols = plan.symbols.clone();
        tokio::spawn(async move {
            if let Err(error) = handle.subscribe(channel, symbols).await {
                tracing::debug!(%channel, "subscribe ended: {error}");
            }
        });
    }

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
