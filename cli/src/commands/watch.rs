//! `tickwire watch`: market data to the terminal.

use tickwire_alpaca::Encoding;
use tickwire_ws::{Feed, MarketDataStream};

use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::target::{WatchPlan, WireEncoding};

/// Streams the plan's channels and symbols until a limit, Ctrl-C or a fatal verdict.
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

    let stream = MarketDataStream::builder(Feed::Custom(connection.url.clone()))
        .credentials(connection.credentials.clone())
        .encoding(match plan.encoding {
            WireEncoding::Json => Encoding::Json,
            WireEncoding::MsgPack => Encoding::MsgPack,
        })
        .data_silence_timeout(plan.stale_after)
        .name("watch")
        .allow_insecure(connection.is_embedded())
        .tls_trust(plan.tls.clone())
        .build()
        .map_err(|e| CliError::stream_build(&e))?;
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

    let stop = connection
        .follow(&handle, &mut events, plan.limits, plan.json)
        .await?;
    tracing::debug!(?stop, "watch done");
    Ok(())
}
