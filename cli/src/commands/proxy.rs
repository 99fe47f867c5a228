//! `tickwire proxy`: one upstream connection per feed and account, shared by
//! many programs that speak Alpaca's protocol.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use serde::Serialize;
use tickwire_core::Credentials;
use tickwire_proxy::{Proxy, ProxyConfig, ProxyStatus, Upstream};

use crate::args::ProxyArgs;
use crate::commands::endpoint_lines::endpoint_lines;
use crate::commands::metrics_endpoint;
use crate::embedded::{Embedded, EmbeddedOptions};
use crate::error::CliError;
use crate::notice;
use crate::target::key_pair;

/// The key id of the generated client key pair.
const GENERATED_CLIENT_KEY: &str = "tickwire-proxy";

/// Where the upstream is, as resolved from the flags.
struct Plan {
    upstream: Upstream,
    credentials: Credentials,
    /// What to call the upstream on stderr.
    described: String,
    embedded: Option<Embedded>,
}

/// Runs the proxy until Ctrl-C.
///
/// # Errors
/// [`CliError::Usage`] for a non-loopback address without --allow-remote or
/// an upstream URL without credentials; [`CliError::Runtime`] when an
/// address cannot be bound.
pub(crate) async fn run(
    args: ProxyArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(CliError::usage(format!(
            "--listen {} is not a loopback address: add --allow-remote to accept other machines \
             (their secrets then cross the network unencrypted)",
            args.listen
        )));
    }
    let plan = plan(&args, env).await?;
    let (client_keys, generated) = client_keys(&args);
    let metrics_addr = metrics_endpoint::start(args.metrics_listen).await?;

    let config = ProxyConfig::new(plan.upstream, plan.credentials, client_keys.clone())
        .with_listen(args.listen);
    let proxy = Proxy::start(config)
        .await
        .map_err(|e| CliError::runtime(format!("cannot listen on {}: {e}", args.listen)))?;

    if !args.listen.ip().is_loopback() {
        notice(&format!(
            "warning: listening on {} without TLS; client key pairs cross the network in clear text",
            args.listen
        ));
    }
    notice(&banner(
        &proxy,
        &plan.described,
        &client_keys,
        generated,
        metrics_addr,
    ));

    let mut every = tokio::time::interval(args.status_every);
    every.tick().await;
    let interrupted = loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => break result,
            _ = every.tick() => notice(&status_line(&proxy.status(), args.json)),
        }
    };
    proxy.shutdown().await;
    if let Some(embedded) = plan.embedded {
        embedded.stop().await;
    }
    interrupted.map_err(|e| CliError::runtime(format!("cannot wait for Ctrl-C: {e}")))
}

/// The upstream: the given URLs, Alpaca's hosts with credentials, or the
/// embedded simulated exchange when there are neither.
async fn plan(args: &ProxyArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, CliError> {
    let credentials = key_pair(&args.key_pair, env)?;
    let given = match (&args.upstream, &args.data_upstream, &args.trading_upstream) {
        (Some(base), _, _) => Some((Upstream::base(base), base.clone())),
        (None, Some(data), Some(trading)) => {
            let mut upstream = Upstream::base(data);
            upstream.trading_url.clone_from(trading);
            Some((upstream, format!("{data} and {trading}")))
        }
        _ => None,
    };
    match (given, credentials) {
        (Some((upstream, described)), Some(credentials)) => Ok(Plan {
            upstream,
            credentials,
            described,
            embedded: None,
        }),
        (Some(_), None) => Err(CliError::usage(
            "an upstream URL needs its credentials: --key and --secret, or APCA_API_KEY_ID and \
             APCA_API_SECRET_KEY (`tickwire serve` accepts tickwire / tickwire)",
        )),
        (None, Some(credentials)) => {
            let (upstream, described) = if args.live {
                (Upstream::alpaca_live(), "Alpaca (live trading)")
            } else {
                (Upstream::alpaca_paper(), "Alpaca (paper trading)")
            };
            Ok(Plan {
                upstream,
                credentials,
                described: described.to_owned(),
                embedded: None,
            })
        }
        (None, None) => {
            let embedded = Embedded::start(EmbeddedOptions::default()).await?;
            let base = embedded.url("");
            Ok(Plan {
                upstream: Upstream::base(&base),
                credentials: embedded.credentials(),
                described: format!(
                    "the embedded simulated exchange at {base} (no --upstream and no credentials; simulated prices)"
                ),
                embedded: Some(embedded),
            })
        }
    }
}

/// The client key pairs from the flags, or one generated pair (`true`).
fn client_keys(args: &ProxyArgs) -> (Vec<Credentials>, bool) {
    if args.client_keys.is_empty() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .elapsed()
                .map_or(0, |d| d.as_nanos()),
        );
        let secret = format!("{:016x}", hasher.finish());
        return (vec![Credentials::new(GENERATED_CLIENT_KEY, secret)], true);
    }
    let keys = args
        .client_keys
        .iter()
        .map(|(key, secret)| Credentials::new(key, secret.clone().into_inner()))
        .collect();
    (keys, false)
}

/// What is served where, and how to point a client at it. Shows a client
/// secret only when the proxy generated it; never the upstream's.
fn banner(
    proxy: &Proxy,
    upstream: &str,
    keys: &[Credentials],
    generated: bool,
    metrics: std::net::SocketAddr,
) -> String {
    let url = |path: &str| proxy.url(path);
    let clients = match keys {
        [only] if generated => format!("key {:?}, secret {:?}", only.key_id(), only.secret()),
        _ => {
            let names: Vec<&str> = keys.iter().map(Credentials::key_id).collect();
            format!("keys {} (secrets as given)", names.join(", "))
        }
    };
    let (key, secret) = match keys {
        [first, ..] if generated => (first.key_id().to_owned(), first.secret().to_owned()),
        [first, ..] => (first.key_id().to_owned(), "<its secret>".to_owned()),
        [] => (String::new(), String::new()),
    };
    format!(
        "proxy listening on {addr}, upstream {upstream}\n\
         {endpoints}\
         \x20 clients  {clients}\n\
         \x20 metrics  http://{metrics}/metrics\n\
         \x20 alpaca-py: StockDataStream({key:?}, {secret:?}, url_override={iex:?})",
        addr = proxy.local_addr(),
        endpoints = endpoint_lines(url, ""),
        iex = url("/v2/iex"),
    )
}

/// A `--json` status line; `type` comes first, as in every `--json` line.
#[derive(Serialize)]
struct StatusLine {
    #[serde(rename = "type")]
    kind: &'static str,
    connections: u64,
    slow_clients_dropped: u64,
    endpoints: Vec<EndpointLine>,
}

/// One endpoint of a status line.
#[derive(Serialize)]
struct EndpointLine {
    path: &'static str,
    clients: usize,
    symbols: usize,
    upstream: &'static str,
}

/// One status line: human, or a JSON object.
fn status_line(status: &ProxyStatus, json: bool) -> String {
    if json {
        let endpoints = status
            .endpoints
            .iter()
            .map(|e| EndpointLine {
                path: e.path,
                clients: e.clients,
                symbols: e.symbols,
                upstream: e.upstream,
            })
            .collect();
        let line = StatusLine {
            kind: "proxy_status",
            connections: status.connections,
            slow_clients_dropped: status.slow_clients_dropped,
            endpoints,
        };
        // Plain data: serialising it cannot fail.
        return serde_json::to_string(&line).unwrap_or_default();
    }
    let mut line = format!("status: {} connections", status.connections);
    for e in &status.endpoints {
        line.push_str(&format!(
            "; {} {} clients, {} symbols, upstream {}",
            e.path, e.clients, e.symbols, e.upstream
        ));
    }
    line.push_str(&format!(
        "; {} slow clients dropped",
        status.slow_clients_dropped
    ));
    line
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secret_arg::SecretArg;

    #[test]
    fn generated_client_keys_differ_and_given_ones_are_kept() {
        let args = |keys: Vec<(String, SecretArg)>| ProxyArgs {
            listen: "127.0.0.1:0".parse().expect("an address"),
            allow_remote: false,
            upstream: None,
            data_upstream: None,
            trading_upstream: None,
            key_pair: crate::args::KeyPairArgs {
                key: None,
                secret: None,
            },
            client_keys: keys,
            live: false,
            metrics_listen: "127.0.0.1:0".parse().expect("an address"),
            status_every: Duration::from_secs(10),
            json: false,
        };
        let (a, generated) = client_keys(&args(Vec::new()));
        let (b, _) = client_keys(&args(Vec::new()));
        assert!(generated);
        assert_ne!(a[0].secret(), b[0].secret());
        let (given, generated) = client_keys(&args(vec![("k".into(), "s".into())]));
        assert!(!generated);
        assert_eq!((given[0].key_id(), given[0].secret()), ("k", "s"));
    }

    #[test]
    fn json_status_lines_name_every_endpoint() {
        let status = ProxyStatus::default();
        let line = status_line(&status, true);
        assert!(line.starts_with(r#"{"type":"proxy_status""#), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["type"], "proxy_status");
        assert_eq!(value["endpoints"], serde_json::json!([]));
    }
}
