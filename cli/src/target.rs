//! What the flags mean together: where to connect, as whom, to what.
//!
//! Everything here is pure (the environment is passed in as a lookup), so the
//! rules — a key needs a secret, a channel must exist on the feed, options
//! need MessagePack — are unit tested without a process.

use std::time::Duration;

use tickwire_alpaca::{
    Channel, KEY_ID_ENV, LIVE_TRADING_URL, PAPER_TRADING_URL, SECRET_KEY_ENV, TRADING_PATH,
};
use tickwire_core::machine::CONNECT_ATTEMPTS_MAX_DEFAULT;
use tickwire_core::{Credentials, Symbol, Timestamp};
use tickwire_relay::TradeUpdatesStart;
use tickwire_ws::{Backfill, TlsTrust};

use tickwire_ws::SlowConsumerPolicy;

use crate::args::{
    ConnectionArgs, EncodingArg, Feed, KeyPairArgs, LimitArgs, MarketSourceArgs, RecordArgs,
    RecordFormat, SlowConsumerArg, TradesArgs, ViewArgs, WatchArgs,
};
use crate::error::CliError;
use crate::secret_arg::SecretArg;

/// Where a stream connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The embedded simulated exchange, started on loopback; the path to use there.
    Embedded {
        /// The endpoint path, e.g. `/v2/iex`.
        path: &'static str,
    },
    /// The relays of a feed on a NATS server.
    Relay {
        /// The NATS server's URL.
        nats: String,
        /// The feed's URL (which names the feed; nothing connects to it).
        feed_url: String,
    },
    /// A server somewhere else.
    Remote {
        /// The full endpoint URL.
        url: String,
        /// The key pair to authenticate with.
        credentials: Credentials,
    },
}

/// When a command stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    /// After this many data events.
    pub(crate) count: Option<u64>,
    /// After this long.
    pub(crate) duration: Option<Duration>,
}

impl From<&LimitArgs> for Limits {
    fn from(args: &LimitArgs) -> Self {
        Self {
            count: args.count,
            duration: args.duration,
        }
    }
}

/// How a command shows events: a board on a terminal unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct View {
    /// JSON lines instead of the human view.
    pub(crate) json: bool,
    /// Lines even on a terminal, instead of the board.
    pub(crate) lines: bool,
}

impl From<&ViewArgs> for View {
    fn from(args: &ViewArgs) -> Self {
        Self {
            json: args.json,
            lines: args.lines,
        }
    }
}

/// The wire encoding to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireEncoding {
    /// JSON.
    Json,
    /// MessagePack.
    MsgPack,
}

/// Where a command's stream connects and how the command follows it
/// (shared by `watch`, `record` and `trades`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamPlan {
    /// Where to connect.
    pub(crate) target: Target,
    /// What the stream does when the command falls behind.
    pub(crate) slow_consumer: SlowConsumerPolicy,
    /// When to stop.
    pub(crate) limits: Limits,
    /// How events are shown.
    pub(crate) view: View,
    /// The CAs `wss://` trusts.
    pub(crate) tls: TlsTrust,
    /// Failed connection attempts before giving up (`None`: never).
    pub(crate) connect_attempts_max: Option<u32>,
}

/// A resolved `watch`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatchPlan {
    /// Where, as whom, until when.
    pub(crate) stream: StreamPlan,
    /// The feed (given, or recognised from the URL's path).
    pub(crate) feed: Option<Feed>,
    /// Channels to subscribe, in the order given.
    pub(crate) channels: Vec<Channel>,
    /// Symbols to subscribe on every channel.
    pub(crate) symbols: Vec<Symbol>,
    /// The encoding.
    pub(crate) encoding: WireEncoding,
    /// The data-silence timeout.
    pub(crate) stale_after: Option<Duration>,
    /// What to fetch again after each gap.
    pub(crate) backfill: Backfill,
}

/// A resolved `record`: the stream of a `watch`, and where to write it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordPlan {
    /// What to record, from where, until when.
    pub(crate) source: WatchPlan,
    /// The folder to write into.
    pub(crate) out: std::path::PathBuf,
    /// The file format.
    pub(crate) format: RecordFormat,
}

/// A resolved `trades`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TradesPlan {
    /// Where, as whom, until when.
    pub(crate) stream: StreamPlan,
    /// Whether this is a live-money account (only said, never assumed).
    pub(crate) live: bool,
    /// Whether to reconcile after gaps, and from when once first live.
    pub(crate) reconcile: (bool, Option<Timestamp>),
}

/// `tickwire trades --relay`: an account's updates read from a relay's
/// JetStream stream.
#[derive(Debug)]
pub(crate) struct RelayTradesPlan {
    /// The NATS server.
    pub(crate) nats: String,
    /// The account's name on the relay.
    pub(crate) account: String,
    /// Where reading starts.
    pub(crate) start: TradeUpdatesStart,
    /// When to stop.
    pub(crate) limits: Limits,
    /// JSON lines instead of human ones.
    pub(crate) json: bool,
}

impl SlowConsumerArg {
    /// The stream's policy of that name.
    pub(crate) const fn policy(self) -> SlowConsumerPolicy {
        match self {
            Self::Block => SlowConsumerPolicy::Backpressure,
            Self::DropOldest => SlowConsumerPolicy::DropOldest,
            Self::DropNewest => SlowConsumerPolicy::DropNewest,
        }
    }
}

impl Feed {
    /// The row of Alpaca's feed table this choice stands for.
    pub(crate) const fn alpaca(self) -> tickwire_alpaca::Feed {
        use tickwire_alpaca::Feed as Alpaca;
        match self {
            Self::Iex => Alpaca::Iex,
            Self::Sip => Alpaca::Sip,
            Self::DelayedSip => Alpaca::DelayedSip,
            Self::Test => Alpaca::Test,
            Self::Crypto => Alpaca::Crypto,
            Self::Options => Alpaca::OptionsIndicative,
            Self::News => Alpaca::News,
        }
    }

    /// The choice that stands for one of Alpaca's feeds (both options feeds
    /// are `options`), if there is one.
    fn from_alpaca(feed: tickwire_alpaca::Feed) -> Option<Self> {
        use tickwire_alpaca::Feed as Alpaca;
        Some(match feed {
            Alpaca::Iex => Self::Iex,
            Alpaca::Sip => Self::Sip,
            Alpaca::DelayedSip => Self::DelayedSip,
            Alpaca::Test => Self::Test,
            Alpaca::Crypto => Self::Crypto,
            Alpaca::OptionsIndicative | Alpaca::OptionsOpra => Self::Options,
            Alpaca::News => Self::News,
            _ => return None,
        })
    }

    /// The endpoint path, e.g. `/v2/iex`.
    pub(crate) const fn path(self) -> &'static str {
        self.alpaca().path()
    }

    /// The feed served at a URL's path, if it is one of Alpaca's.
    fn from_url(url: &str) -> Option<Self> {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("", |at| &after_scheme[at..]);
        tickwire_alpaca::Feed::from_path(path).and_then(Self::from_alpaca)
    }

    /// The channels a client may subscribe to on this feed.
    fn channels(self) -> &'static [Channel] {
        self.alpaca().channels()
    }

    fn default_channels(self) -> Vec<Channel> {
        match self {
            Self::News => vec![Channel::News],
            _ => vec![Channel::Quotes, Channel::Trades],
        }
    }

    fn default_symbols(self) -> Result<Vec<Symbol>, CliError> {
        let names: &[&str] = match self {
            Self::Iex | Self::Sip | Self::DelayedSip => &["SPY", "AAPL"],
            Self::Test => &["FAKEPACA"],
            Self::Crypto => &["BTC/USD"],
            Self::News => &["*"],
            Self::Options => {
                return Err(CliError::usage(
                    "--feed options needs contract symbols, e.g. `tickwire watch --feed options AAPL240119C00190000`",
                ));
            }
        };
        Ok(names
            .iter()
            .filter_map(|name| Symbol::new(name).ok())
            .collect())
    }

    /// The name as on the command line.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Iex => "iex",
            Self::Sip => "sip",
            Self::DelayedSip => "delayed_sip",
            Self::Test => "test",
            Self::Crypto => "crypto",
            Self::Options => "options",
            Self::News => "news",
        }
    }
}

/// Reads the key pair from the flags, then the environment.
///
/// `Ok(None)` when neither gives anything; a key without a secret (or the
/// reverse) is a usage error.
pub(crate) fn credentials(
    args: &ConnectionArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CliError> {
    key_pair(&args.key_pair, env)
}

/// Reads a key pair from `--key`/`--secret` values, then the environment;
/// as [`credentials`].
pub(crate) fn key_pair(
    args: &KeyPairArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, CliError> {
    let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
    let key = non_empty(args.key.clone()).or_else(|| non_empty(env(KEY_ID_ENV)));
    let secret = non_empty(args.secret.clone().map(SecretArg::into_inner))
        .or_else(|| non_empty(env(SECRET_KEY_ENV)));
    match (key, secret) {
        (Some(key), Some(secret)) => Ok(Some(Credentials::new(key, secret))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(CliError::usage(format!(
            "a key was given without a secret: pass --secret or set {SECRET_KEY_ENV}"
        ))),
        (None, Some(_)) => Err(CliError::usage(format!(
            "a secret was given without a key: pass --key or set {KEY_ID_ENV}"
        ))),
    }
}

/// Resolves `watch`'s flags.
pub(crate) fn watch_plan(
    args: &WatchArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WatchPlan, CliError> {
    let mut plan = market_plan(&args.source, &args.limits, env)?;
    plan.stream.view = View::from(&args.view);
    plan.backfill = args.backfill;
    if let Some(nats) = &args.relay {
        if args.backfill != Backfill::NONE {
            return Err(CliError::usage(
                "--backfill fetches from Alpaca's REST API with credentials; a --relay consumer has none: drop one of them",
            ));
        }
        if args.source.encoding == Some(EncodingArg::Json) {
            return Err(CliError::usage(
                "a relay publishes MessagePack: drop --encoding json",
            ));
        }
        plan.stream.target = Target::Relay {
            nats: nats.clone(),
            feed_url: args.source.feed.alpaca().url(),
        };
        plan.feed = Some(args.source.feed);
        plan.encoding = WireEncoding::MsgPack;
    }
    Ok(plan)
}

/// Resolves `record`'s flags.
pub(crate) fn record_plan(
    args: &RecordArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RecordPlan, CliError> {
    Ok(RecordPlan {
        source: market_plan(&args.source, &args.limits, env)?,
        out: args.out.clone(),
        format: args.format,
    })
}

/// Resolves the market-data source of `watch` and `record` (as lines, not JSON).
fn market_plan(
    args: &MarketSourceArgs,
    limits: &LimitArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WatchPlan, CliError> {
    let credentials = credentials(&args.connection, env)?;
    let (target, feed) = match (&args.connection.url, credentials) {
        (Some(url), Some(credentials)) => (
            Target::Remote {
                url: url.clone(),
                credentials,
            },
            Feed::from_url(url),
        ),
        (Some(_), None) => return Err(no_credentials_for_url()),
        (None, Some(credentials)) => (
            Target::Remote {
                url: args.feed.alpaca().url(),
                credentials,
            },
            Some(args.feed),
        ),
        (None, None) => (
            Target::Embedded {
                path: args.feed.path(),
            },
            Some(args.feed),
        ),
    };
    let default_feed = feed.unwrap_or(args.feed);

    let channels = args
        .channels
        .clone()
        .unwrap_or_else(|| default_feed.default_channels());
    let mut unique = Vec::with_capacity(channels.len());
    for channel in channels {
        if let Some(feed) = feed
            && !feed.channels().contains(&channel)
        {
            let allowed: Vec<&str> = feed.channels().iter().map(|c| c.wire_name()).collect();
            return Err(CliError::usage(format!(
                "channel {channel} is not available on the {} feed; use one of: {}",
                feed.name(),
                allowed.join(", ")
            )));
        }
        if !unique.contains(&channel) {
            unique.push(channel);
        }
    }

    let symbols = if args.symbols.is_empty() {
        default_feed.default_symbols()?
    } else {
        let mut symbols = Vec::with_capacity(args.symbols.len());
        for text in &args.symbols {
            let symbol =
                Symbol::new(text).map_err(|e| CliError::usage(format!("bad symbol: {e}")))?;
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
            }
        }
        symbols
    };

    let msgpack_only = feed.is_some_and(|feed| feed.alpaca().msgpack_only());
    let encoding = match (args.encoding, msgpack_only) {
        (Some(EncodingArg::Json), true) => {
            return Err(CliError::usage(
                "the options feed speaks MessagePack only: drop --encoding json (or pass --encoding msgpack)",
            ));
        }
        (Some(EncodingArg::Msgpack), _) | (None, true) => WireEncoding::MsgPack,
        (Some(EncodingArg::Json) | None, false) => WireEncoding::Json,
    };

    Ok(WatchPlan {
        stream: StreamPlan::new(target, &args.connection, limits, View::default()),
        feed,
        channels: unique,
        symbols,
        encoding,
        stale_after: args.stale_after,
        backfill: Backfill::NONE,
    })
}

/// Resolves `trades`' flags.
pub(crate) fn trades_plan(
    args: &TradesArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TradesPlan, CliError> {
    let credentials = credentials(&args.connection, env)?;
    let target = match (&args.connection.url, credentials) {
        (Some(url), Some(credentials)) => Target::Remote {
            url: url.clone(),
            credentials,
        },
        (Some(_), None) => return Err(no_credentials_for_url()),
        (None, Some(credentials)) => Target::Remote {
            url: (if args.live {
                LIVE_TRADING_URL
            } else {
                PAPER_TRADING_URL
            })
            .to_owned(),
            credentials,
        },
        (None, None) => Target::Embedded { path: TRADING_PATH },
    };
    Ok(TradesPlan {
        stream: StreamPlan::new(
            target,
            &args.connection,
            &args.limits,
            View::from(&args.view),
        ),
        live: args.live,
        reconcile: (!args.no_reconcile, args.since),
    })
}

/// The plan of `tickwire trades --relay URL`.
///
/// # Errors
/// [`CliError::Usage`] for an account stream's flag beside `--relay`, or an
/// account name NATS cannot carry.
pub(crate) fn relay_trades_plan(args: &TradesArgs) -> Result<RelayTradesPlan, CliError> {
    let Some(nats) = &args.relay else {
        return Err(CliError::usage("--relay needs the NATS server's URL"));
    };
    if args.connection.url.is_some() {
        return Err(CliError::usage(
            "--relay reads the updates from NATS; --url names an account stream: give one of them",
        ));
    }
    tickwire_relay::subject::check_account_name(&args.account).map_err(CliError::usage)?;
    Ok(RelayTradesPlan {
        nats: nats.clone(),
        account: args.account.clone(),
        start: args
            .after
            .map_or(TradeUpdatesStart::New, TradeUpdatesStart::After),
        limits: Limits::from(&args.limits),
        json: args.view.json,
    })
}

impl StreamPlan {
    /// The plan of a stream to `target`, with the connection flags' slow
    /// consumer policy and CAs.
    fn new(target: Target, connection: &ConnectionArgs, limits: &LimitArgs, view: View) -> Self {
        Self {
            target,
            slow_consumer: connection.slow_consumer.policy(),
            limits: Limits::from(limits),
            view,
            tls: tls_trust(connection),
            connect_attempts_max: connect_attempts_max(connection),
        }
    }
}

/// `--connect-attempts`, the library's default without it; 0 is never.
fn connect_attempts_max(args: &ConnectionArgs) -> Option<u32> {
    match args.connect_attempts {
        None => Some(CONNECT_ATTEMPTS_MAX_DEFAULT),
        Some(0) => None,
        Some(attempts) => Some(attempts),
    }
}

/// The CAs the flags add to the bundled roots (and `SSL_CERT_FILE`, which
/// the stream reads itself).
fn tls_trust(args: &ConnectionArgs) -> TlsTrust {
    args.ca_files.iter().fold(
        TlsTrust::default().with_native_roots(args.native_roots),
        |trust, file| trust.with_ca_file(file),
    )
}

fn no_credentials_for_url() -> CliError {
    CliError::usage(format!(
        "--url needs credentials: pass --key and --secret, or set {KEY_ID_ENV} and {SECRET_KEY_ENV} \
         (`tickwire serve` prints the ones it accepts)"
    ))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    /// The command line `tickwire <command> <args…>`, parsed.
    fn parse(command: &str, args: &[&str]) -> Command {
        let cli = Cli::try_parse_from(["tickwire", command].iter().chain(args)).expect("parses");
        cli.command
    }

    /// An environment holding only `env`.
    fn lookup(env: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn watch(args: &[&str], env: &[(&str, &str)]) -> Result<WatchPlan, CliError> {
        let Command::Watch(args) = parse("watch", args) else {
            panic!("not watch")
        };
        watch_plan(&args, &lookup(env))
    }

    fn trades(args: &[&str], env: &[(&str, &str)]) -> Result<TradesPlan, CliError> {
        let Command::Trades(args) = parse("trades", args) else {
            panic!("not trades")
        };
        trades_plan(&args, &lookup(env))
    }

    fn names(symbols: &[Symbol]) -> Vec<&str> {
        symbols.iter().map(Symbol::as_str).collect()
    }

    #[test]
    fn no_url_and_no_credentials_means_the_embedded_exchange() {
        let plan = watch(&["SPY", "AAPL"], &[]).unwrap();
        assert_eq!(plan.stream.target, Target::Embedded { path: "/v2/iex" });
        assert_eq!(plan.channels, [Channel::Quotes, Channel::Trades]);
        assert_eq!(names(&plan.symbols), ["SPY", "AAPL"]);
        assert_eq!(plan.encoding, WireEncoding::Json);
    }

    #[test]
    fn a_relay_needs_no_credentials_and_speaks_msgpack() {
        let plan = watch(&["--relay", "nats://127.0.0.1:4222", "--feed", "sip"], &[]).unwrap();
        assert_eq!(
            plan.stream.target,
            Target::Relay {
                nats: "nats://127.0.0.1:4222".into(),
                feed_url: tickwire_alpaca::Feed::Sip.url(),
            }
        );
        assert_eq!(plan.encoding, WireEncoding::MsgPack);
        for bad in [&["--backfill", "trades"][..], &["--encoding", "json"]] {
            let mut args = vec!["--relay", "nats://127.0.0.1:4222"];
            args.extend_from_slice(bad);
            let error = watch(&args, &[]).expect_err("refused");
            assert!(matches!(error, CliError::Usage(_)), "{error:?}");
        }
        let error = Cli::try_parse_from([
            "tickwire",
            "watch",
            "--relay",
            "nats://127.0.0.1:4222",
            "--url",
            "wss://example.com/v2/iex",
        ])
        .expect_err("--relay or --url");
        assert!(error.to_string().contains("--url"), "{error}");
    }

    #[test]
    fn backfill_is_off_unless_asked_for_and_never_takes_quotes() {
        assert_eq!(watch(&[], &[]).unwrap().backfill, Backfill::NONE);
        let plan = watch(&["--backfill", "trades,bars"], &[]).unwrap();
        assert_eq!(plan.backfill, Backfill::TRADES | Backfill::BARS);
        let plan = watch(&["--backfill", "bars"], &[]).unwrap();
        assert_eq!(plan.backfill, Backfill::BARS);
        let error = Cli::try_parse_from(["tickwire", "watch", "--backfill", "quotes"])
            .expect_err("quotes are refused");
        assert!(
            error.to_string().contains("quotes are never backfilled"),
            "{error}"
        );
    }

    #[test]
    fn credentials_from_the_environment_mean_alpaca() {
        let plan = watch(
            &["--feed", "sip"],
            &[(KEY_ID_ENV, "PK1"), (SECRET_KEY_ENV, "S1")],
        )
        .unwrap();
        let Target::Remote { url, credentials } = plan.stream.target else {
            panic!("not remote")
        };
        assert_eq!(url, "wss://stream.data.alpaca.markets/v2/sip");
        assert_eq!(credentials.key_id(), "PK1");
        assert_eq!(names(&plan.symbols), ["SPY", "AAPL"]);
    }

    #[test]
    fn flags_win_over_the_environment() {
        let plan = watch(
            &["--key", "K", "--secret", "S"],
            &[(KEY_ID_ENV, "PK1"), (SECRET_KEY_ENV, "S1")],
        )
        .unwrap();
        let Target::Remote { credentials, .. } = plan.stream.target else {
            panic!("not remote")
        };
        assert_eq!((credentials.key_id(), credentials.secret()), ("K", "S"));
    }

    #[test]
    fn a_key_without_a_secret_is_a_usage_error() {
        let error = watch(&["--key", "K"], &[]).unwrap_err();
        assert!(
            matches!(&error, CliError::Usage(m) if m.contains("--secret")),
            "{error:?}"
        );
        let error = watch(&[], &[(SECRET_KEY_ENV, "S")]).unwrap_err();
        assert!(
            matches!(&error, CliError::Usage(m) if m.contains("--key")),
            "{error:?}"
        );
        let error = watch(&["--url", "ws://127.0.0.1:1/v2/iex"], &[]).unwrap_err();
        assert!(matches!(error, CliError::Usage(_)));
    }

    #[test]
    fn channels_must_exist_on_the_feed() {
        let error = watch(&["--feed", "crypto", "--channels", "lulds"], &[]).unwrap_err();
        assert!(
            matches!(&error, CliError::Usage(m) if m.contains("lulds") && m.contains("orderbooks")),
            "{error:?}"
        );
        let plan = watch(
            &[
                "--feed",
                "crypto",
                "--channels",
                "orderbooks,quotes,orderbooks",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(plan.channels, [Channel::Orderbooks, Channel::Quotes]);
        assert_eq!(names(&plan.symbols), ["BTC/USD"]);
    }

    #[test]
    fn the_url_path_names_the_feed() {
        let env = [(KEY_ID_ENV, "K"), (SECRET_KEY_ENV, "S")];
        let plan = watch(&["--url", "ws://127.0.0.1:9/v1beta1/news"], &env).unwrap();
        assert_eq!(plan.feed, Some(Feed::News));
        assert_eq!(plan.channels, [Channel::News]);
        assert_eq!(names(&plan.symbols), ["*"]);
        let plan = watch(
            &["--url", "ws://127.0.0.1:9/custom", "--channels", "lulds"],
            &env,
        )
        .unwrap();
        assert_eq!(plan.feed, None);
        let plan = watch(&["--url", "ws://127.0.0.1:9/v1beta1/opra/", "X"], &env).unwrap();
        assert_eq!(plan.feed, Some(Feed::Options));
        assert_eq!(plan.encoding, WireEncoding::MsgPack);
    }

    #[test]
    fn options_need_msgpack_and_symbols() {
        assert!(matches!(
            watch(&["--feed", "options"], &[]),
            Err(CliError::Usage(_))
        ));
        let error = watch(&["--feed", "options", "--encoding", "json", "X"], &[]).unwrap_err();
        assert!(matches!(error, CliError::Usage(_)));
        let plan = watch(&["--feed", "options", "AAPL240119C00190000"], &[]).unwrap();
        assert_eq!(plan.encoding, WireEncoding::MsgPack);
    }

    #[test]
    fn record_takes_the_source_of_watch() {
        let Command::Record(args) = parse(
            "record",
            &["--out", "d", "--slow-consumer", "drop-newest", "SPY"],
        ) else {
            panic!("not record")
        };
        let plan = record_plan(&args, &lookup(&[])).unwrap();
        assert_eq!(
            plan.source.stream.target,
            Target::Embedded { path: "/v2/iex" }
        );
        assert_eq!(names(&plan.source.symbols), ["SPY"]);
        assert_eq!(
            plan.source.stream.slow_consumer,
            SlowConsumerPolicy::DropNewest
        );
        assert_eq!(plan.format, RecordFormat::Parquet);
        assert!(!plan.source.stream.view.json);
    }

    #[test]
    fn bad_symbols_are_usage_errors() {
        assert!(matches!(watch(&["AA PL"], &[]), Err(CliError::Usage(_))));
    }

    #[test]
    fn trading_targets() {
        assert_eq!(
            trades(&[], &[]).unwrap().stream.target,
            Target::Embedded { path: "/stream" }
        );
        let env = [(KEY_ID_ENV, "K"), (SECRET_KEY_ENV, "S")];
        let Target::Remote { url, .. } = trades(&[], &env).unwrap().stream.target else {
            panic!()
        };
        assert_eq!(url, PAPER_TRADING_URL);
        let Target::Remote { url, .. } = trades(&["--live"], &env).unwrap().stream.target else {
            panic!()
        };
        assert_eq!(url, LIVE_TRADING_URL);
    }
}
