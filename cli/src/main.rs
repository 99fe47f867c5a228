//! `tickwire`: watch market data and account streams, serve and simulate an
//! exchange. See `tickwire --help` and the README.

mod args;
mod commands;
mod embedded;
mod error;
mod follow;
mod output;
mod target;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

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
            Command::Trades(args) => commands::trades::run(target::trades_plan(&args, &env)?).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Sim(args) => commands::sim::run(args),
        }
    })
}

/// Logs go to stderr through `tracing`; `RUST_LOG` chooses what. By default
/// only this command's own warnings: the libraries' errors already reach the
/// user as events on stdout and as the final message.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,tickwire_core=off,tickwire_ws=off,tickwire_mock=off,tickwire_alpaca=off,tickwire_sim=off",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
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
