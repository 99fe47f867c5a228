//! The command line: subcommands and flags, as clap parses them.
//!
//! Only syntax lives here (with value parsers that reject bad channels, URLs
//! and numbers with exit code 2); what the flags mean together is resolved by
//! [`crate::target`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tickwire_alpaca::Channel;
use tickwire_core::Timestamp;
use tickwire_ws::Backfill;

use crate::secret_arg::SecretArg;

/// tickwire: market-data and account streams that stay connected.
///
/// With no --url and no credentials, `watch` and `trades` start an embedded
/// simulated exchange on loopback, so they work offline out of the box.
#[derive(Debug, Parser)]
#[command(name = "tickwire", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Stream market data (quotes, trades, bars, news…) to the terminal.
    Watch(WatchArgs),
    /// Stream the account's order and fill updates (`trade_updates`).
    Trades(TradesArgs),
    /// Write market data to Parquet (or CSV) files, one per channel and UTC day.
    Record(RecordArgs),
    /// Run the simulated exchange on loopback for other programs.
    Serve(ServeArgs),
    /// Share one upstream connection per feed and account among many
    /// programs that speak Alpaca's protocol (alpaca-py, the SDKs, tickwire).
    Proxy(ProxyArgs),
    /// Hold one upstream connection per feed and publish it on NATS
    /// subjects to consumers holding leases (`tickwire.<feed>.<channel>.<SYMBOL>`).
    Relay(RelayArgs),
    /// Run the deterministic simulation sweep and print a summary.
    Sim(SimArgs),
}

/// `tickwire watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) source: MarketSourceArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    pub(crate) view: ViewArgs,

    /// After every reconnect, fetch what the disconnection hid from the
    /// historical data API and show it marked `(backfilled)`: a comma
    /// separated list of trades, bars (minute bars), or none. Quotes are
    /// never backfilled: the next quote replaces a missed one.
    #[arg(long, value_name = "LIST", default_value_t = Backfill::NONE)]
    pub(crate) backfill: Backfill,

    /// Take the feed from the relays on this NATS server (`tickwire relay`,
    /// e.g. nats://127.0.0.1:4222) instead of a connection of its own: no
    /// credentials needed, the relay holds them.
    #[arg(long, value_name = "NATS_URL", conflicts_with = "url")]
    pub(crate) relay: Option<String>,
}

/// `tickwire record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The folder to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,

    /// The file format.
    #[arg(long, value_enum, default_value_t = RecordFormat::Parquet)]
    pub(crate) format: RecordFormat,

    #[command(flatten)]
    pub(crate) source: MarketSourceArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// What market data to take from where (shared by `watch` and `record`).
#[derive(Debug, Args)]
pub(crate) struct MarketSourceArgs {
    /// Symbols, e.g. SPY AAPL, BTC/USD, or * for every symbol
    /// [default: SPY AAPL on stocks, FAKEPACA on test, BTC/USD on crypto, * on news].
    #[arg(value_name = "SYMBOL")]
    pub(crate) symbols: Vec<String>,

    /// Channels, comma separated: trades, quotes, bars, updatedBars, dailyBars,
    /// statuses, lulds, imbalances, orderbooks, news [default: quotes,trades; news on --feed news].
    #[arg(long, value_delimiter = ',', value_parser = parse_channel, value_name = "LIST")]
    pub(crate) channels: Option<Vec<Channel>>,

    /// The data feed.
    #[arg(long, value_enum, default_value_t = Feed::Iex)]
    pub(crate) feed: Feed,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,

    /// Wire encoding [default: json; msgpack on --feed options].
    #[arg(long, value_enum)]
    pub(crate) encoding: Option<EncodingArg>,

    /// Reconnect when no data arrived for this many seconds while live
    /// (off by default: sparse channels are often quiet).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub(crate) stale_after: Option<Duration>,
}

/// `tickwire trades`.
#[derive(Debug, Args)]
pub(crate) struct TradesArgs {
    /// The paper-trading account stream (the default).
    #[arg(long, conflicts_with = "live")]
    pub(crate) paper: bool,

    /// The live-trading account stream.
    #[arg(long)]
    pub(crate) live: bool,

    /// Also show, once connected, the order states changed since TIME
    /// (RFC 3339, e.g. 2026-12-06T09:30:00Z), fetched from the REST order
    /// list and marked `(reconciled)`.
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "no_reconcile")]
    pub(crate) since: Option<Timestamp>,

    /// Do not fetch the order states a disconnection hid (by default they
    /// are fetched from the REST order list after every reconnect).
    #[arg(long)]
    pub(crate) no_reconcile: bool,

    /// Read the updates a `tickwire relay --trade-updates` publishes on this
    /// NATS server (e.g. nats://127.0.0.1:4222) instead of the account
    /// stream: lines or JSON, no board.
    #[arg(long, value_name = "URL", conflicts_with_all = ["since", "no_reconcile", "paper", "live"])]
    pub(crate) relay: Option<String>,

    /// With --relay: the account's name on the relay.
    #[arg(long, value_name = "NAME", default_value = "paper", requires = "relay")]
    pub(crate) account: String,

    /// With --relay: start after this stream sequence (the last one handled;
    /// printed when the command ends) instead of with new updates.
    #[arg(long, value_name = "SEQ", requires = "relay")]
    pub(crate) after: Option<u64>,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    pub(crate) view: ViewArgs,
}

/// An Alpaca account's key pair (the upstream's, for `proxy` and `relay`).
#[derive(Debug, Args)]
pub(crate) struct KeyPairArgs {
    /// API key id [env: APCA_API_KEY_ID].
    #[arg(long, value_name = "KEY")]
    pub(crate) key: Option<String>,

    /// API secret key [env: APCA_API_SECRET_KEY].
    #[arg(long, value_name = "SECRET")]
    pub(crate) secret: Option<SecretArg>,
}

/// Where to connect and as whom (shared by `watch` and `trades`).
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Full endpoint URL (ws:// or wss://); overrides the feed or account choice.
    #[arg(long, value_parser = parse_url, value_name = "URL")]
    pub(crate) url: Option<String>,

    #[command(flatten)]
    pub(crate) key_pair: KeyPairArgs,

    /// Also trust the CA certificates in this PEM file for wss:// (repeat
    /// for several; SSL_CERT_FILE is read too).
    #[arg(long = "ca-file", value_name = "PEM")]
    pub(crate) ca_files: Vec<PathBuf>,

    /// Also trust the operating system's certificate store for wss://.
    #[arg(long)]
    pub(crate) native_roots: bool,

    /// Give up after this many failed connection attempts in a row before
    /// the stream was ever live (0: never give up) [default: 5].
    #[arg(long, value_name = "N")]
    pub(crate) connect_attempts: Option<u32>,

    /// What the stream does when this program falls behind: block (stop
    /// reading the socket, lose nothing), drop-oldest or drop-newest queued data.
    #[arg(long, value_enum, default_value_t = SlowConsumerArg::Block, value_name = "POLICY")]
    pub(crate) slow_consumer: SlowConsumerArg,
}

/// When to stop (shared by `watch` and `trades`).
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Exit (code 0) after this many data events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,

    /// Exit (code 0) after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub(crate) duration: Option<Duration>,
}

/// How events are shown (shared by `watch` and `trades`): one of these at most.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct ViewArgs {
    /// One JSON object per line on stdout instead of the human view.
    #[arg(long)]
    pub(crate) json: bool,

    /// One line per event even on a terminal, instead of the live board.
    #[arg(long)]
    pub(crate) lines: bool,
}

/// `tickwire serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// TCP port on 127.0.0.1 (0: let the system choose).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,

    /// Seed of the simulated market and order flow.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,

    /// Market data messages per second per symbol and channel.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub(crate) rate: Option<f64>,

    /// Key id of an account to accept (repeat with --secret for several)
    /// [default: one account with key and secret "tickwire"].
    #[arg(long, value_name = "K")]
    pub(crate) key: Vec<String>,

    /// Secret of the account named by the --key at the same position.
    #[arg(long, value_name = "S")]
    pub(crate) secret: Vec<SecretArg>,

    /// How long the slot of a connection that vanished without a close
    /// stays busy (406 "connection limit exceeded" meanwhile), as Alpaca's
    /// servers take about 90 s to notice (0: free at once).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds_or_zero, default_value = "90")]
    pub(crate) reap_after: Duration,

    /// Serve the admin endpoint on this loopback address (e.g.
    /// 127.0.0.1:0): GET /metrics for connection counts and their peak,
    /// GET /subscriptions for each session's symbols, GET /journal/orders
    /// for every order state change made, POST /faults/NAME[?endpoint=PATH]
    /// to inject a fault (reset, close, silence, resume, garbage,
    /// oversized, stop-reading, restart).
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<std::net::SocketAddr>,
}

/// `tickwire proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Address to listen on; a non-loopback address needs --allow-remote.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,

    /// Listen on a non-loopback address (plain ws://: client secrets cross
    /// the network unencrypted).
    #[arg(long)]
    pub(crate) allow_remote: bool,

    /// Base URL of both upstream sides, paths kept (e.g. `tickwire serve`'s
    /// ws://127.0.0.1:PORT) [default: Alpaca's hosts].
    #[arg(long, value_parser = parse_url, value_name = "URL", conflicts_with_all = ["data_upstream", "trading_upstream"])]
    pub(crate) upstream: Option<String>,

    /// Base URL of the market data upstream (feed paths are appended).
    #[arg(long, value_parser = parse_url, value_name = "URL", requires = "trading_upstream")]
    pub(crate) data_upstream: Option<String>,

    /// URL of the trading stream upstream.
    #[arg(long, value_parser = parse_url, value_name = "URL", requires = "data_upstream")]
    pub(crate) trading_upstream: Option<String>,

    /// The upstream account's key pair.
    #[command(flatten)]
    pub(crate) key_pair: KeyPairArgs,

    /// A key pair downstream clients authenticate with, as KEY:SECRET
    /// (repeatable) [default: one generated pair, printed at start].
    #[arg(long = "client-key", value_name = "K:S", value_parser = parse_key_pair)]
    pub(crate) client_keys: Vec<(String, SecretArg)>,

    /// Alpaca's live trading stream instead of paper (without --upstream).
    #[arg(long)]
    pub(crate) live: bool,

    /// Address of the Prometheus /metrics endpoint.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) metrics_listen: std::net::SocketAddr,

    /// Seconds between status lines on stderr.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    pub(crate) status_every: Duration,

    /// Status lines as JSON objects.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tickwire relay`.
#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    /// The NATS server, e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: String,

    /// Base URL of the market data upstream, the feed's path appended (e.g.
    /// `tickwire serve`'s ws://127.0.0.1:PORT) [default: Alpaca's data host
    /// with credentials; the embedded simulated exchange without].
    #[arg(long, value_parser = parse_url, value_name = "URL")]
    pub(crate) upstream: Option<String>,

    /// The upstream account's key pair.
    #[command(flatten)]
    pub(crate) key_pair: KeyPairArgs,

    /// The feed relayed.
    #[arg(long, value_enum, default_value_t = Feed::Iex)]
    pub(crate) feed: Feed,

    /// Seconds a consumer's lease lives after its last write.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    pub(crate) lease_ttl: Duration,

    /// The key-value bucket of leases.
    #[arg(long, value_name = "NAME", default_value = "tickwire-interest")]
    pub(crate) bucket: String,

    /// The key-value bucket of leadership: relays of one feed on the same
    /// NATS elect one leader there, the others stand by.
    #[arg(long, value_name = "NAME", default_value = "tickwire-leader")]
    pub(crate) leader_bucket: String,

    /// Seconds the leadership key lives after the leader's last renewal:
    /// a standby takes over at most this long (and about a second) after
    /// the leader died. Used when this relay creates the bucket.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "5")]
    pub(crate) leader_ttl: Duration,
    /// Also relay the account's trade updates into JetStream, under this
    /// account name (`tickwire.account.NAME.trade_updates`; read them with
    /// `tickwire trades --relay URL --account NAME`).
    #[arg(long, value_name = "NAME")]
    pub(crate) trade_updates: Option<String>,

    /// With --trade-updates: Alpaca's live trading stream (and REST order
    /// list) instead of paper. Needs the account's key pair and no
    /// --upstream.
    #[arg(long, requires = "trade_updates", conflicts_with = "upstream")]
    pub(crate) live: bool,
}

/// `tickwire sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// How many seeds to run, starting at --seed.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) seeds: u64,

    /// The first seed (alone, with --seeds 1, it replays one run).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub(crate) seed: u64,

    /// Steps per run.
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) steps: Option<u64>,

    /// Keep running batches of --seeds seeds, each starting where the last
    /// ended, until this many seconds have passed (a soak, e.g. nightly).
    #[arg(long = "for", value_name = "SECS", value_parser = parse_seconds)]
    pub(crate) budget: Option<Duration>,
}

/// A market data feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Feed {
    /// Stocks, IEX (the free plan).
    Iex,
    /// Stocks, all US exchanges.
    Sip,
    /// Stocks, 15 minutes delayed.
    #[value(name = "delayed_sip")]
    DelayedSip,
    /// The always-on test stream (symbol FAKEPACA).
    Test,
    /// Crypto (symbols like BTC/USD).
    Crypto,
    /// Options, indicative feed (MessagePack only).
    Options,
    /// News.
    News,
}

/// The slow-consumer policy, as `--slow-consumer` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SlowConsumerArg {
    /// Stop reading the socket until the program catches up; nothing is lost.
    Block,
    /// Drop the oldest queued data to make room (counted and shown).
    DropOldest,
    /// Drop data that arrives while the queue is full (counted and shown).
    DropNewest,
}

/// The file format of `record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecordFormat {
    /// Apache Parquet, typed columns, Snappy-compressed.
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
}

/// The wire encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EncodingArg {
    /// JSON text frames.
    Json,
    /// MessagePack binary frames.
    Msgpack,
}

fn parse_channel(text: &str) -> Result<Channel, String> {
    let text = text.trim();
    text.parse::<Channel>().map_err(|e| e.to_string())
}

/// An RFC 3339 time, e.g. `2026-12-06T09:30:00Z`.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an RFC 3339 time; e.g. 2026-12-06T09:30:00Z"))
}

/// A `ws://` or `wss://` URL with a host; nothing fancier is needed here.
fn parse_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("wss://")
        .or_else(|| text.strip_prefix("ws://"))
        .ok_or_else(|| {
            format!("{text:?} is not a WebSocket URL; it must start with ws:// or wss://")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    if host.is_empty() {
        return Err(format!(
            "{text:?} has no host; e.g. wss://stream.data.alpaca.markets/v2/iex"
        ));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("{text:?} has an invalid port {port:?}"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("{text:?} contains whitespace"));
    }
    Ok(text.to_owned())
}

/// `KEY:SECRET`, both non-empty.
fn parse_key_pair(text: &str) -> Result<(String, SecretArg), String> {
    match text.split_once(':') {
        Some((key, secret)) if !key.is_empty() && !secret.is_empty() => {
            Ok((key.to_owned(), SecretArg::from(secret)))
        }
        _ => Err("a client key pair is KEY:SECRET, both non-empty".to_owned()),
    }
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    parse_seconds_or_zero(text)
        .ok()
        .filter(|seconds| !seconds.is_zero())
        .ok_or_else(|| format!("{text:?} must be a positive number of seconds"))
}

fn parse_seconds_or_zero(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..1e9).contains(&seconds) {
        return Err(format!("{text:?} must be a number of seconds, 0 or more"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of messages per second"))?;
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
        return Err(format!(
            "{text:?} must be a rate between 0 and 1000000 messages per second"
        ));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tickwire").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn watch_defaults() {
        let cli = parse(&["watch", "SPY", "AAPL"]).unwrap();
        let Command::Watch(watch) = cli.command else {
            panic!("not watch")
        };
        assert_eq!(watch.source.symbols, ["SPY", "AAPL"]);
        assert_eq!(watch.source.feed, Feed::Iex);
        assert_eq!(watch.source.channels, None);
        assert_eq!(
            watch.source.connection.slow_consumer,
            SlowConsumerArg::Block
        );
        assert!(!watch.view.json && !watch.view.lines);
    }

    #[test]
    fn watch_flags() {
        let cli = parse(&[
            "watch",
            "--channels",
            "trades,bars",
            "--feed",
            "delayed_sip",
            "--url",
            "ws://127.0.0.1:9000/v2/iex",
            "--count",
            "5",
            "--duration",
            "1.5",
            "--stale-after",
            "30",
            "--encoding",
            "msgpack",
            "--json",
        ])
        .unwrap();
        let Command::Watch(watch) = cli.command else {
            panic!("not watch")
        };
        assert_eq!(
            watch.source.channels,
            Some(vec![Channel::Trades, Channel::Bars])
        );
        assert_eq!(watch.source.feed, Feed::DelayedSip);
        assert_eq!(watch.limits.count, Some(5));
        assert_eq!(watch.limits.duration, Some(Duration::from_millis(1500)));
        assert_eq!(watch.source.stale_after, Some(Duration::from_secs(30)));
        assert_eq!(watch.source.encoding, Some(EncodingArg::Msgpack));
    }

    #[test]
    fn record_flags() {
        let cli = parse(&[
            "record",
            "--out",
            "data",
            "SPY",
            "--format",
            "csv",
            "--duration",
            "30",
            "--slow-consumer",
            "drop-oldest",
        ])
        .unwrap();
        let Command::Record(record) = cli.command else {
            panic!("not record")
        };
        assert_eq!(record.out, PathBuf::from("data"));
        assert_eq!(record.format, RecordFormat::Csv);
        assert_eq!(record.source.symbols, ["SPY"]);
        assert_eq!(record.limits.duration, Some(Duration::from_secs(30)));
        assert_eq!(
            record.source.connection.slow_consumer,
            SlowConsumerArg::DropOldest
        );
        assert!(parse(&["record", "SPY"]).is_err(), "--out is required");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["watch", "--feed", "nasdaq"][..],
            &["watch", "--channels", "quotes,ticks"],
            &["watch", "--channels", "corrections"],
            &["watch", "--url", "http://example.com"],
            &["watch", "--url", "wss://"],
            &["watch", "--url", "ws://host:notaport/x"],
            &["watch", "--count", "0"],
            &["watch", "--duration", "-1"],
            &["watch", "--encoding", "xml"],
            &["watch", "--json", "--lines"],
            &["watch", "--slow-consumer", "later"],
            &["record", "--out", "x", "--format", "xlsx"],
            &["trades", "--paper", "--live"],
            &["serve", "--rate", "0"],
            &["sim", "--seeds", "0"],
            &["proxy", "--client-key", "nosecret"],
            &["proxy", "--client-key", ":s"],
            &[
                "proxy",
                "--upstream",
                "ws://127.0.0.1:1",
                "--data-upstream",
                "ws://127.0.0.1:2",
            ],
            &["proxy", "--data-upstream", "ws://127.0.0.1:2"],
            &["proxy", "--listen", "nowhere"],
            &["frobnicate"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} should fail"));
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn urls() {
        assert!(parse_url("wss://stream.data.alpaca.markets/v2/iex").is_ok());
        assert!(parse_url("ws://127.0.0.1:8080/v2/test").is_ok());
        assert!(parse_url("ws://[::1]:8080/v2/test").is_ok());
        assert!(parse_url("stream.data.alpaca.markets").is_err());
    }
}
