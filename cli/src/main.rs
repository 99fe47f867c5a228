//! `tickwire`: watch market data and account streams, serve and simulate an
//! exchange. See `tickwire --help` and the README.
//!
//! # `--json` output, schema version 1
//!
//! `watch --json` and `trades --json` print one JSON object per line. Every
//! object starts with `"type"`; every key is snake_case; keys marked `?` are
//! left out when there is no value (never `null`).
//!
//! | `type` | keys |
//! |---|---|
//! | `quote` | `symbol`, `bid_price`, `bid_size`, `bid_exchange?`, `ask_price`, `ask_size`, `ask_exchange?`, `conditions`, `tape?`, `timestamp` |
//! | `trade` | `symbol`, `price`, `size`, `id?`, `exchange?`, `conditions`, `tape?`, `taker_side?`, `timestamp` |
//! | `bar`, `daily_bar`, `updated_bar` | `symbol`, `open`, `high`, `low`, `close`, `volume`, `vwap?`, `trade_count?`, `timestamp` |
//! | `correction` | `symbol`, `exchange?`, `original_id`, `original_price`, `original_size`, `original_conditions`, `corrected_id`, `corrected_price`, `corrected_size`, `corrected_conditions`, `tape?`, `timestamp` |
//! | `cancel_error` | `symbol`, `id`, `exchange?`, `price`, `size`, `action` (`cancel` or `error`), `tape?`, `timestamp` |
//! | `status` | `symbol`, `status_code`, `status_message`, `reason_code`, `reason_message`, `tape?`, `timestamp` |
//! | `luld` | `symbol`, `limit_up_price`, `limit_down_price`, `indicator`, `tape?`, `timestamp` |
//! | `imbalance` | `symbol`, `price`, `tape?`, `timestamp` |
//! | `orderbook` | `symbol`, `bids` and `asks` (lists of `{price, size}`), `reset`, `timestamp` |
//! | `news` | `symbols`, `id`, `headline`, `summary`, `author`, `source`, `url?`, `content`, `created_at`, `updated_at`, `timestamp` |
//! | `trade_update` | `event`, `symbol?`, `timestamp?`, `price?`, `qty?`, `position_qty?`, `execution_id?`, `order` (Alpaca's order object) |
//! | `state` | `state` (`idle`, `subscribed`, `connecting`, `live`, `failed`, `closed`), `reconnect_in_ms?`, `epoch?`, `phase?`, `code?`, `message?` |
//! | `subscription` | `channels`: each confirmed channel (snake_case, e.g. `daily_bars`) with its symbols |
//! | `gap` | `epoch`, `since` (wall clock, when the connection was lost), `last_data_at?` (the own `timestamp` of the last data message before it) |
//! | `resumed` | `epoch`, `gap_since`, `resumed_at`, `lost_ms`, `last_data_at?` (as in its `gap`); backfill from `last_data_at` (or `gap_since`) to `resumed_at` |
//! | `error` | `message`, `fatal`, `code?`; a refused subscription adds `channel` and `symbols` |
//! | `dropped` | `count` (since the last `dropped` line), `total` |
//! | `error` from recovery | `message` (why what a gap hid may be missing), `fatal` (`false`) |
//! | `unknown` | `tag`, `symbol?` |
//!
//! A data line that a gap hid and the stream fetched again adds `source`:
//! `reconciled` for a `trade_update` (the order's state from the REST order
//! list, delivered once), `backfilled` for market data; live lines have no
//! `source`.
//!
//! Timestamps are RFC 3339 strings in UTC; durations are integer
//! milliseconds (`_ms`); prices are numbers; sizes and volumes are integers
//! when whole (shares, contracts) and decimals only for fractional crypto
//! quantities; a trade update's `price`, `qty` and `position_qty` are the
//! decimal strings Alpaca sends, exactly. The version changes when a key is
//! renamed or removed or its meaning or type changes; new line types and new
//! keys may appear within a version, so readers should pass over what they
//! do not know.

mod args;
mod board;
mod commands;
mod embedded;
mod error;
mod follow;
mod http;
mod output;
mod record;
mod secret_arg;
mod target;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::args::{Cli, Command};
use crate::error::CliError;

/// The simulation and the streams allocate many small, short-lived buffers
/// (frames, symbol lists), which mimalloc serves with fewer instructions.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            error.exit_code()
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(format!("cannot start the async runtime: {e}")))?;
    let env = |name: &str| std::env::var(name).ok();
    runtime.block_on(async move {
        match cli.command {
            Command::Watch(args) => commands::watch::run(target::watch_plan(&args, &env)?).await,
            Command::Trades(args) if args.relay.is_some() => {
                commands::trades_relay::run(target::relay_trades_plan(&args)?).await
            }
            Command::Trades(args) => commands::trades::run(target::trades_plan(&args, &env)?).await,
            Command::Record(args) => commands::record::run(target::record_plan(&args, &env)?).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Proxy(args) => commands::proxy::run(args, &env).await,
            Command::Relay(args) => commands::relay::run(args, &env).await,
            Command::Sim(args) => commands::sim::run(args),
        }
    })
}

/// Logs go to stderr through `tracing`; `RUST_LOG` chooses what. By default
/// only this command's own warnings, the proxy's, the relay's and the loopback server's
/// (a full connection table, failing accepts): the libraries' errors already
/// reach the user as events on stdout and as the final message.
///
/// Whatever `RUST_LOG` says, the WebSocket library logs at most at `debug`:
/// at `trace` it prints every frame and the upgrade request whole, and with
/// them the credentials of the auth message or headers.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,tickwire_core=off,tickwire_ws=off,tickwire_mock=off,tickwire_mock::loopback=warn,tickwire_alpaca=off,tickwire_sim=off,tickwire_proxy=warn,tickwire_relay=warn",
        )
    });
    // Capped beside the user's filter, never raised by it.
    let cap = tickwire_ws::SECRET_PRINTING_LOG_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |cap, target| cap.with_target(*target, LevelFilter::DEBUG),
    );
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .finish()
        .with(cap);
    let _ = subscriber.try_init();
}

/// The one line on stderr for a failure.
fn report(error: &CliError) {
    let kind = match error {
        CliError::Usage(_) => "usage error",
        CliError::Runtime(_) => "error",
        CliError::Fatal { .. } => "fatal",
    };
    let mut stderr = std::io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(stderr, "tickwire: {kind}: {error}");
    if matches!(error, CliError::Usage(_)) {
        let _ = writeln!(stderr, "Run `tickwire --help` for the commands and flags.");
    }
}

/// A note for the user on stderr (not a log line: always shown).
pub(crate) fn notice(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "tickwire: {message}");
}
