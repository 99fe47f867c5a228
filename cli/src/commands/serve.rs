//! `tickwire serve`: the simulated exchange on loopback, for other programs
//! (tickwire itself, alpaca-py's streams with `url_override`…).

use std::io::{self, Write};
use std::net::SocketAddr;

use crate::args::ServeArgs;
use crate::commands::endpoint_lines::endpoint_lines;
use crate::commands::serve_admin;
use crate::embedded::{Embedded, EmbeddedOptions};
use crate::error::CliError;
use crate::secret_arg::SecretArg;

/// Serves until Ctrl-C.
///
/// # Errors
/// [`CliError::Usage`] when keys and secrets do not pair up,
/// [`CliError::Runtime`] when the port cannot be bound.
pub(crate) async fn run(args: ServeArgs) -> Result<(), CliError> {
    if args.key.len() != args.secret.len() {
        return Err(CliError::usage(format!(
            "{} --key but {} --secret: give one --secret for each --key",
            args.key.len(),
            args.secret.len()
        )));
    }
    let secrets = args.secret.into_iter().map(SecretArg::into_inner);
    let accounts: Vec<(String, String)> = args.key.into_iter().zip(secrets).collect();
    let embedded = Embedded::start(EmbeddedOptions {
        port: args.port,
        seed: args.seed,
        rate: args.rate,
        accounts,
        reap_after: Some(args.reap_after),
    })
    .await?;
    let admin = match args.admin {
        Some(addr) => Some(serve_admin::start(addr, embedded.exchange()).await?),
        None => None,
    };

    let banner = banner(&embedded, args.seed, admin);
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))?;
    drop(stdout);

    let interrupted = tokio::signal::ctrl_c().await;
    embedded.stop().await;
    interrupted.map_err(|e| CliError::runtime(format!("cannot wait for Ctrl-C: {e}")))
}

/// What is served where, and how to try it.
fn banner(embedded: &Embedded, seed: u64, admin: Option<SocketAddr>) -> String {
    let credentials = embedded.credentials();
    let (key, secret) = (credentials.key_id(), credentials.secret());
    let url = |path: &str| embedded.url(path);
    let admin = admin.map_or(String::new(), |addr| {
        format!("\x20 admin    http://{addr}  (GET /metrics, /subscriptions, /journal/orders; POST /faults/NAME[?endpoint=PATH])\n")
    });
    format!(
        "tickwire serve: simulated exchange on {addr} (seed {seed})\n\
         {endpoints}\
         \x20 account  key {key:?}, secret {secret:?}\n\
         {admin}\
         Try:  tickwire watch --url {iex} --key {key} --secret {secret} SPY AAPL\n\
         \x20     alpaca-py: StockDataStream({key:?}, {secret:?}, url_override={iex:?})\n\
         Press Ctrl-C to stop.\n",
        addr = embedded.local_addr(),
        endpoints = endpoint_lines(url, "; MessagePack only"),
        iex = url("/v2/iex"),
    )
}
