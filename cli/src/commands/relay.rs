//! `tickwire relay`: one upstream connection per feed, published on NATS to
//! the consumers that hold leases.

use tickwire_proxy::Upstream;
use tickwire_relay::{Relay, RelayConfig, RelayRole, TradeRelay, TradeRelayConfig};
use tickwire_ws::TradingEndpoint;
use tokio::sync::watch;

use crate::args::RelayArgs;
use crate::embedded::{Embedded, EmbeddedOptions};
use crate::error::CliError;
use crate::notice;
use crate::target::key_pair;

/// Runs the relay until Ctrl-C, or until it stops on an error.
///
/// # Errors
/// [`CliError::Usage`] for an upstream URL without credentials;
/// [`CliError::Runtime`] when NATS cannot be reached or the relay stops.
pub(crate) async fn run(
    args: RelayArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    if let Some(account) = &args.trade_updates {
        tickwire_relay::subject::check_account_name(account)
            .map_err(|e| CliError::usage(format!("--trade-updates: {e}")))?;
    }
    let credentials = key_pair(&args.key_pair, env)?;
    let (upstream, credentials, described, embedded) = match (&args.upstream, credentials) {
        (Some(base), Some(credentials)) => (Upstream::base(base), credentials, base.clone(), None),
        (Some(_), None) => {
            return Err(CliError::usage(
                "an upstream URL needs its credentials: --key and --secret, or APCA_API_KEY_ID \
                 and APCA_API_SECRET_KEY (`tickwire serve` accepts tickwire / tickwire)",
            ));
        }
        (None, Some(credentials)) => (
            if args.live {
                Upstream::alpaca_live()
            } else {
                Upstream::alpaca_paper()
            },
            credentials,
            if args.live {
                "Alpaca (live trading)"
            } else {
                "Alpaca (paper trading)"
            }
            .to_owned(),
            None,
        ),
        (None, None) if args.live => {
            return Err(CliError::usage(
                "--live relays the trade updates of a live Alpaca account: it needs the \
                 account's key pair (--key and --secret, or APCA_API_KEY_ID and \
                 APCA_API_SECRET_KEY)",
            ));
        }
        (None, None) => {
            let embedded = Embedded::start(EmbeddedOptions::default()).await?;
            let base = embedded.url("");
            let described = format!(
                "the embedded simulated exchange at {base} (no --upstream and no credentials; simulated prices)"
            );
            (
                Upstream::base(&base),
                embedded.credentials(),
                described,
                Some(embedded),
            )
        }
    };
    let feed = args.feed.alpaca();
    let config: RelayConfig = RelayConfig::new(args.nats.clone(), upstream, credentials, feed)
        .with_lease_ttl(args.lease_ttl)
        .with_bucket(args.bucket.clone())
        .with_leadership(args.leader_bucket.clone(), args.leader_ttl);
    let trading = trading_endpoint(&args, embedded.as_ref());
    let trade_config = trade_updates_config(&args, trading, &config)?;
    let started = match Relay::start(config).await {
        Ok(relay) => match trade_config {
            Some(trade_config) => TradeRelay::start(trade_config)
                .await
                .map(|trades| (relay, Some(trades))),
            None => Ok((relay, None)),
        },
        Err(error) => Err(error),
    };
    let (mut relay, mut trades) = match started {
        Ok(started) => started,
        Err(error) => {
            if let Some(embedded) = embedded {
                embedded.stop().await;
            }
            return Err(CliError::runtime(error.to_string()));
        }
    };
    notice(&banner(&args, feed.name(), &described));
    let roles = report_roles(relay.role(), RoleLines::FEED);
    let trade_roles = trades.as_ref().map(TradeRelay::role);
    let trade_roles = async {
        match trade_roles {
            Some(role) => report_roles(role, RoleLines::TRADE_UPDATES).await,
            None => std::future::pending().await,
        }
    };
    let trades_stopped = async {
        match &mut trades {
            Some(trades) => trades.stopped().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        interrupted = tokio::signal::ctrl_c() => {
            interrupted.map_err(|e| CliError::runtime(format!("cannot wait for Ctrl-C: {e}")))
        }
        stopped = relay.stopped() => match stopped {
            Ok(()) => Ok(()),
            Err(error) => Err(CliError::runtime(format!("the relay stopped: {error}"))),
        },
        stopped = trades_stopped => match stopped {
            Ok(()) => Ok(()),
            Err(error) => Err(CliError::runtime(format!("the trade-update relay stopped: {error}"))),
        },
        never = roles => match never {},
        never = trade_roles => match never {},
    };
    let shutdown = relay.shutdown().await;
    if let Some(trades) = trades
        && let Err(error) = trades.shutdown().await
    {
        tracing::warn!(%error, "the trade-update relay did not stop cleanly");
    }
    if let Some(embedded) = embedded {
        embedded.stop().await;
    }
    outcome?;
    shutdown.map_err(|e| CliError::runtime(format!("the relay stopped: {e}")))
}

/// What [`report_roles`] says of one leadership.
struct RoleLines {
    leading: &'static str,
    standing_by: &'static str,
}

impl RoleLines {
    const FEED: Self = Self {
        leading: "leading: this relay holds the upstream connection",
        standing_by: "standing by",
    };
    const TRADE_UPDATES: Self = Self {
        leading: "leading the trade updates: this relay holds the account's trading stream",
        standing_by: "standing by for the trade updates",
    };
}

/// Says on stderr each time the relay starts or stops leading; runs until
/// cancelled.
async fn report_roles(
    mut role: watch::Receiver<RelayRole>,
    lines: RoleLines,
) -> std::convert::Infallible {
    loop {
        let line = match &*role.borrow_and_update() {
            RelayRole::Leading => Some(lines.leading.to_owned()),
            RelayRole::StandingBy {
                leader: Some(leader),
            } => Some(format!("{}: relay {leader} leads", lines.standing_by)),
            _ => None,
        };
        if let Some(line) = line {
            notice(&line);
        }
        if role.changed().await.is_err() {
            // The relay stopped: `stopped` ends the select.
            std::future::pending::<()>().await;
        }
    }
}

/// Where the relay reads and publishes, and how a consumer asks for a symbol.
fn banner(args: &RelayArgs, feed: &str, upstream: &str) -> String {
    format!(
        "relay of feed {feed} from {upstream} to NATS at {nats}\n\
         \x20 subjects tickwire.{feed}.<channel>.<SYMBOL> (Alpaca's MessagePack, one message each)\n\
         \x20 leases   bucket {bucket:?}, keys {feed}.<channel>.<SYMBOL>.<consumer>, living {ttl} s after each write\n\
         \x20 leader   bucket {leader_bucket:?}, key {feed}: one relay of the feed leads, the others stand by",
        nats = args.nats,
        bucket = args.bucket,
        ttl = args.lease_ttl.as_secs_f64(),
        leader_bucket = args.leader_bucket,
    ) + &args.trade_updates.as_ref().map_or_else(String::new, |account| {
        format!(
            "\n  trade updates of the account into JetStream stream {stream:?}, subject {subject}\n\
             \x20 (one relay of the account leads: key trade_updates.{account} of bucket {leader_bucket:?})",
            stream = tickwire_relay::DEFAULT_TRADE_STREAM,
            subject = tickwire_relay::subject::trade_updates_subject(account),
            leader_bucket = args.leader_bucket,
        )
    })
}

/// The account stream beside the upstream: `<upstream>/stream`, the
/// embedded exchange's, or Alpaca's paper (or, with `--live`, live)
/// account.
fn trading_endpoint(args: &RelayArgs, embedded: Option<&Embedded>) -> TradingEndpoint {
    match (&args.upstream, embedded) {
        (Some(base), _) => {
            TradingEndpoint::Custom(format!("{}/stream", base.trim_end_matches('/')))
        }
        (None, Some(embedded)) => TradingEndpoint::Custom(embedded.url("/stream")),
        (None, None) if args.live => TradingEndpoint::Live,
        (None, None) => TradingEndpoint::Paper,
    }
}

/// The trade-update relay's settings, with `--trade-updates NAME`: the
/// market-data relay's credentials, leadership bucket and id.
///
/// # Errors
/// [`CliError::Usage`] for a name NATS cannot carry in a subject.
fn trade_updates_config(
    args: &RelayArgs,
    endpoint: TradingEndpoint,
    relay: &RelayConfig,
) -> Result<Option<TradeRelayConfig>, CliError> {
    let Some(account) = &args.trade_updates else {
        return Ok(None);
    };
    TradeRelayConfig::new(
        args.nats.clone(),
        endpoint,
        relay.credentials.clone(),
        account.clone(),
    )
    .map(|config| {
        Some(
            config
                .with_leadership(relay.leader_bucket.clone(), relay.leader_ttl)
                .with_relay_id(relay.relay_id.clone()),
        )
    })
    .map_err(|e| CliError::usage(format!("--trade-updates: {e}")))
}
