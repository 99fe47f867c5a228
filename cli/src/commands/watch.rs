//! `tickwire watch`: market data to the terminal.

use tickwire_alpaca::Encoding;
use tickwire_ws::{Feed, MarketDataStream};

use crate::embedded::Embedded;
use crate::error::CliError;
use crate::follow::follow;
use crate::target::{Target, WatchPlan, WireEncoding};

/// Streams the plan's channels and symbols until a limit, Ctrl-C or a fatal verdict.
///
/// # Errors
/// As for [`follow`]; also [`CliError::Runtime`] when the embedded exchange
/// cannot start.
pub(crate) async fn run(plan: WatchPlan) -> Result<(), CliError> {
    let (embedded, url, credentials) = match plan.target.clone() {
        Target::Embedded { path } => {
            let embedded = Embedded::start(Default::default()).await?;
            let url = embedded.url(path);
            crate::notice(&format!(
                "no --url and no credentials: watching the embedded simulated exchange at {url} \
                 (simulated prices, not real quotes; set APCA_API_KEY_ID and APCA_API_SECRET_KEY for Alpaca)"
            ));
            let credentials = embedded.credentials();
            (Some(embedded), url, credentials)
        }
        Target::Remote { url, credentials } => (None, url, credentials),
    };

    let mut builder = MarketDataStream::builder(Feed::Custom(url.clone()))
        .credentials(credentials)
        .encoding(match plan.encoding {
            WireEncoding::Json => Encoding::Json,
            WireEncoding::MsgPack => Encoding::MsgPack,
        })
        .data_silence_timeout(plan.stale_after)
        .name("watch");
    if embedded.is_some() {
        builder = builder.allow_insecure(true);
    }
    let stream = builder
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

    let stop = follow(&handle, &mut events, plan.limits, plan.json, &url).await;
    if let Some(embedded) = embedded {
        embedded.stop().await;
    }
    stop.map(|stop| tracing::debug!(?stop, "watch done"))
}
