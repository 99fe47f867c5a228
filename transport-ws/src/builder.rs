//! Configuration of a stream, with documented defaults.

use std::time::Duration;

use tickwire_alpaca::Encoding;
use tickwire_core::machine::MachineConfig;
use tickwire_core::{Credentials, Timestamp};

use crate::{
    Backfill, MarketDataProfile, SlowConsumerPolicy, StreamProfile, TlsTrust, TradingProfile,
    WsConfig,
};

/// Default capacity of the event queue, in events.
pub const QUEUE_CAPACITY_DEFAULT: usize = 65_536;

/// Default bound of the event queue in bytes of the frames its events came
/// from: the largest incoming message, so that one always fits.
pub const QUEUE_BYTES_DEFAULT: usize = 16 << 20;

/// Default bound on [`StreamHandle::shutdown`](crate::StreamHandle::shutdown).
pub const SHUTDOWN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// Builds an [`EventStream`](crate::EventStream) of kind `P`: a
/// [`MarketDataStream`](crate::MarketDataStream) ([`MarketDataBuilder`](crate::MarketDataBuilder),
/// from [`MarketDataStream::builder`](crate::EventStream::builder)) or a
/// [`TradingStream`](crate::TradingStream) ([`TradingBuilder`](crate::TradingBuilder),
/// from [`TradingStream::builder`](crate::EventStream::builder)).
///
/// Every setting has a default suited to Alpaca's servers:
///
/// | setting | default |
/// |---|---|
/// | credentials | `APCA_API_KEY_ID` / `APCA_API_SECRET_KEY` from the environment |
/// | encoding | MessagePack for market data, JSON for trading |
/// | connect / greeting / auth / ack timeouts | 10 s each |
/// | ping interval / pong timeout | 20 s / 10 s |
/// | data-silence timeout | off (sparse channels must not trip it) |
/// | idle linger after the last unsubscribe | 5 s |
/// | reconnect backoff | 500 ms doubling to 60 s, full jitter; at least 30 s after 406 / HTTP 429; reset after 30 s live |
/// | outgoing frame size | 4 KiB (larger subscription requests are split) |
/// | largest incoming message | 16 MiB |
/// | socket read buffer | 16 KiB |
/// | event queue | at most 65 536 events and 16 MiB of frames (or one batch if larger), [`SlowConsumerPolicy::Backpressure`] |
/// | plain `ws://` to a non-loopback host | refused |
/// | shutdown bound | 5 s |
///
/// Credentials are never logged and are redacted in `Debug` output.
#[derive(Debug, Clone)]
#[must_use]
pub struct StreamBuilder<P: StreamProfile> {
    pub(crate) endpoint: P::Endpoint,
    pub(crate) options: Options,
}

/// Settings shared by both kinds of stream.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) encoding: Option<Encoding>,
    pub(crate) name: Option<String>,
    /// Timeouts, backoff and frame size; its URL and credentials are set at build.
    pub(crate) machine: MachineConfig,
    pub(crate) seed: Option<u64>,
    pub(crate) ws: WsConfig,
    pub(crate) queue_capacity: usize,
    pub(crate) queue_bytes_max: usize,
    pub(crate) slow_consumer: SlowConsumerPolicy,
    pub(crate) shutdown_timeout: Duration,
    /// An account stream's reconciliation after gaps.
    pub(crate) reconcile: Reconcile,
    /// A market-data stream's backfill after gaps.
    pub(crate) backfill: BackfillOptions,
}

/// What a market-data stream backfills (see [`StreamBuilder::backfill`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct BackfillOptions {
    pub(crate) kinds: Backfill,
    /// The data API's base URL; derived from the feed when `None`.
    pub(crate) rest_url: Option<String>,
}

/// Whether and how an account stream reconciles (see
/// [`StreamBuilder::reconcile`]).
#[derive(Debug, Clone)]
pub(crate) struct Reconcile {
    pub(crate) enabled: bool,
    /// The REST API's base URL; derived from the endpoint when `None`.
    pub(crate) rest_url: Option<String>,
    /// Reconcile from this time once first live.
    pub(crate) since: Option<Timestamp>,
}

/// Writes builder setters: each takes one value, stores it in a field of
/// [`Options`] and returns the builder.
macro_rules! setters {
    ($(
        $(#[$meta:meta])*
        fn $name:ident($arg:ident: $ty:ty) { $($field:ident).+ = $value:expr }
    )*) => {$(
        $(#[$meta])*
        pub fn $name(mut self, $arg: $ty) -> Self {
            self.options.$($field).+ = $value;
            self
        }
    )*};
}

impl<P: StreamProfile> StreamBuilder<P> {
    pub(crate) fn with_endpoint(endpoint: P::Endpoint) -> Self {
        Self {
            endpoint,
            options: Options {
                credentials: None,
                encoding: None,
                machine: MachineConfig::new(String::new(), Credentials::new("", "")),
                seed: None,
                ws: WsConfig::default(),
                queue_capacity: QUEUE_CAPACITY_DEFAULT,
                queue_bytes_max: QUEUE_BYTES_DEFAULT,
                slow_consumer: SlowConsumerPolicy::default(),
                shutdown_timeout: SHUTDOWN_TIMEOUT_DEFAULT,
                name: None,
                reconcile: Reconcile {
                    enabled: true,
                    rest_url: None,
                    since: None,
                },
                backfill: BackfillOptions::default(),
            },
        }
    }

    /// The endpoint the stream is for.
    pub fn endpoint(&self) -> &P::Endpoint {
        &self.endpoint
    }

    setters! {
        /// The API key pair. Default: read from `APCA_API_KEY_ID` and
        /// `APCA_API_SECRET_KEY` when the stream is built.
        fn credentials(credentials: Credentials) { credentials = Some(credentials) }
    }

    /// The API key id and secret.
    pub fn key_pair(self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials(Credentials::new(key_id, secret))
    }

    setters! {
        /// The wire encoding. Default: MessagePack for market data (the options
        /// feeds require it), JSON for trading.
        fn encoding(encoding: Encoding) { encoding = Some(encoding) }

        /// Time allowed to open the connection (TCP, TLS, upgrade). Default 10 s.
        fn connect_timeout(timeout: Duration) { machine.connect_timeout = timeout }

        /// Time allowed for the server's greeting. Default 10 s.
        fn greeting_timeout(timeout: Duration) { machine.greeting_timeout = timeout }

        /// Time allowed for the answer to the credentials. Default 10 s.
        fn auth_timeout(timeout: Duration) { machine.auth_timeout = timeout }

        /// Time allowed for a subscription acknowledgement. Default 10 s.
        fn ack_timeout(timeout: Duration) { machine.ack_timeout = timeout }

        /// Interval between pings while connected (`None`: no pings). Default 20 s.
        fn ping_interval(interval: Option<Duration>) { machine.ping_interval = interval }

        /// Time allowed for any frame after a ping. Default 10 s.
        fn pong_timeout(timeout: Duration) { machine.pong_timeout = timeout }

        /// Reconnect when no data message arrived for this long while live. Only
        /// data counts (not pings or control messages). Default `None` (off),
        /// which suits sparse channels such as daily bars, statuses or news.
        fn data_silence_timeout(timeout: Option<Duration>) { machine.data_silence_timeout = timeout }

        /// How long the connection is kept after the last symbol is
        /// unsubscribed, in case another subscription follows. Default 5 s.
        fn idle_linger(linger: Duration) { machine.idle_linger = linger }
    }

    /// Reconnect delay bounds: the first bound, doubled per failed attempt up
    /// to `max`, with full jitter. Default 500 ms and 60 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.options.machine.backoff_base = base;
        self.options.machine.backoff_max = max;
        self
    }

    setters! {
        /// Least reconnect delay after a connection-limit error (406) or HTTP 429.
        /// Default 30 s.
        fn backoff_floor_after_limit(floor: Duration) { machine.backoff_floor_after_limit = floor }

        /// Connection attempts that may fail in a row before the stream has
        /// ever been live; then the stream fails with
        /// [`StreamError::GaveUp`](crate::StreamError) naming the last cause,
        /// and pending `subscribe` calls return. Once live, it reconnects for
        /// as long as it runs. `None` tries for ever. Default 5.
        fn connect_attempts_max(attempts: Option<u32>) { machine.connect_attempts_max = attempts }

        /// How long the stream must stay live before the backoff resets. Default 30 s.
        fn backoff_reset_after(after: Duration) { machine.backoff_reset_after = after }

        /// Largest outgoing frame; larger subscription requests are split. Default 4 KiB.
        fn frame_bytes_max(bytes: usize) { machine.frame_bytes_max = bytes }

        /// Largest incoming message; a larger one drops the connection. Default 16 MiB.
        fn max_message_bytes(bytes: usize) { ws.max_message_bytes = bytes }

        /// Bytes read from the socket at a time. Default 16 KiB.
        fn read_buffer_bytes(bytes: usize) { ws.read_buffer_bytes = bytes }

        /// Allows plain `ws://` to hosts other than this machine, sending
        /// credentials unencrypted. Default `false`: such endpoints are refused.
        fn allow_insecure(allow: bool) { ws.allow_insecure = allow }

        /// The certificate authorities `wss://` trusts (the system's store,
        /// extra PEM bundles). Default: the bundled web roots and the bundle
        /// `SSL_CERT_FILE` names, if set.
        fn tls_trust(trust: TlsTrust) { ws.tls_trust = trust }

        /// Capacity of the event queue, in events (at least 1). Default 65 536.
        /// Up to twice as many can be held while the consumer reads a batch.
        fn queue_capacity(events: usize) { queue_capacity = events.max(1) }

        /// Bound of the event queue in bytes: each batch of events is
        /// charged the bytes of the frames it came from, from the moment it
        /// is queued until the consumer has read it and asks for more.
        /// Default 16 MiB. A batch larger than the bound still passes when
        /// nothing else is charged (a message as large as the largest
        /// frame), so the queue holds at most this many bytes or one batch;
        /// under [`SlowConsumerPolicy::DropOldest`] the newest batch beside
        /// the one being read.
        fn queue_bytes_max(bytes: usize) { queue_bytes_max = bytes }

        /// What to do when the consumer falls behind. Default
        /// [`SlowConsumerPolicy::Backpressure`].
        fn slow_consumer(policy: SlowConsumerPolicy) { slow_consumer = policy }

        /// Bound on [`shutdown`](crate::StreamHandle::shutdown). Default 5 s.
        fn shutdown_timeout(timeout: Duration) { shutdown_timeout = timeout }

        /// Seed of the reconnect jitter, for reproducible runs. Default: random per stream.
        fn seed(seed: u64) { seed = Some(seed) }

        /// A name for the stream in logs and tracing spans. Default: the endpoint's path.
        fn name(name: impl Into<String>) { name = Some(name.into()) }
    }
}

impl StreamBuilder<TradingProfile> {
    setters! {
        /// Whether to reconcile after every gap (default `true`): once live
        /// again, the stream fetches the account's orders from the REST API
        /// (`GET /v2/orders`) and delivers, as [`StreamEvent::Recovered`](crate::StreamEvent::Recovered),
        /// each order state the gap hid, once; live updates are never
        /// repeated. A failed fetch is retried with the stream's backoff and
        /// then reported as [`StreamEvent::RecoveryFailed`](crate::StreamEvent::RecoveryFailed).
        /// States an order entered and left during the gap (a partial fill
        /// before the fill) are not in the REST list and cannot be recovered.
        fn reconcile(enabled: bool) { reconcile.enabled = enabled }

        /// The REST API's base URL. Default: the endpoint's host over
        /// `https://` (`http://` for a `ws://` loopback endpoint), e.g.
        /// `https://paper-api.alpaca.markets` for [`TradingEndpoint::Paper`](crate::TradingEndpoint::Paper).
        fn rest_url(url: impl Into<String>) { reconcile.rest_url = Some(url.into()) }

        /// Also reconcile, once first live, what changed since `since` (e.g.
        /// the time the program last stopped). Default: only after gaps.
        fn reconcile_since(since: Timestamp) { reconcile.since = Some(since) }
    }
}

impl StreamBuilder<MarketDataProfile> {
    setters! {
        /// What to fetch again after every gap (default [`Backfill::NONE`]):
        /// once live again, the stream asks the historical data API for
        /// the gap's trades and/or minute bars of the symbols subscribed on
        /// the `trades` / `bars` channel, and delivers each one the stream
        /// missed as [`StreamEvent::Recovered`](crate::StreamEvent::Recovered),
        /// once: trades are matched by (symbol, exchange, trade id), bars by (symbol,
        /// start time), so nothing delivered live comes again.
        ///
        /// Delivery order: live data is never held back; backfilled records
        /// come as each page arrives, between live events, oldest first
        /// within a page — so they are older than the live data around
        /// them. A failed fetch is retried with the stream's backoff (and a
        /// 429's `Retry-After`), then reported as
        /// [`StreamEvent::RecoveryFailed`](crate::StreamEvent::RecoveryFailed).
        /// A `*` subscription stands for the symbols seen live on its
        /// channel. Quotes are never backfilled (see [`Backfill`]). The
        /// requests name the stream's feed (`iex`, `sip`…: the last part of
        /// its URL's path).
        ///
        /// ```
        /// use tickwire_ws::{Backfill, Feed, MarketDataStream};
        /// let builder = MarketDataStream::builder(Feed::Iex)
        ///     .backfill(Backfill::TRADES | Backfill::BARS);
        /// # drop(builder);
        /// ```
        fn backfill(kinds: Backfill) { backfill.kinds = kinds }

        /// The historical data API's base URL. Default:
        /// `https://data.alpaca.markets` for Alpaca's feeds; for a
        /// [`Feed::Custom`](crate::Feed::Custom) URL, its host over
        /// `https://` (`http://` for a `ws://` loopback one), as the
        /// simulated exchange serves it.
        fn data_rest_url(url: impl Into<String>) { backfill.rest_url = Some(url.into()) }
    }
}

impl Options {
    /// The machine configuration for `url`, taking the credentials from the
    /// builder or the environment.
    pub(crate) fn machine_config(&self, url: &str) -> Result<MachineConfig, crate::Error> {
        let credentials = match &self.credentials {
            Some(credentials) => credentials.clone(),
            None => tickwire_alpaca::credentials_from_env()?,
        };
        let mut config = self.machine.clone();
        config.url = url.to_owned();
        config.credentials = credentials;
        config.seed = self.seed.unwrap_or_else(random_seed);
        Ok(config)
    }

    /// The stream's name: the one given, or the URL's path.
    pub(crate) fn name_for(&self, url: &str) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let path = url.split_once("://").map_or(url, |(_, rest)| rest);
        path.split_once('/')
            .map_or(path, |(_, path)| path)
            .to_owned()
    }
}

/// A seed that differs per stream and per process, so that clients restarted
/// together do not reconnect in lockstep.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Feed, MarketDataBuilder};

    fn builder() -> MarketDataBuilder {
        StreamBuilder::with_endpoint(Feed::Iex)
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let builder = builder().key_pair("PKSECRETKEYID", "the-secret");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("the-secret"), "{shown}");
        assert!(!shown.contains("PKSECRETKEYID"), "{shown}");
    }

    #[test]
    fn names_default_to_the_path() {
        let options = builder().options;
        assert_eq!(
            options.name_for("wss://stream.data.alpaca.markets/v2/iex"),
            "v2/iex"
        );
        assert_eq!(options.name_for("ws://127.0.0.1:1"), "127.0.0.1:1");
    }

    #[test]
    fn settings_reach_the_machine() {
        let options = builder()
            .key_pair("k", "s")
            .connect_timeout(Duration::from_secs(3))
            .data_silence_timeout(Some(Duration::from_secs(7)))
            .seed(9)
            .options;
        let config = options.machine_config("wss://x/y").unwrap();
        assert_eq!(config.connect_timeout, Duration::from_secs(3));
        assert_eq!(config.data_silence_timeout, Some(Duration::from_secs(7)));
        assert_eq!(config.seed, 9);
        assert_eq!(config.url, "wss://x/y");
        assert_eq!(config.credentials.key_id(), "k");
    }
}
