//! Configuration of a stream, with documented defaults.

use std::time::Duration;

use tickwire_alpaca::Encoding;
use tickwire_core::Credentials;
use tickwire_core::machine::MachineConfig;

use crate::{SlowConsumerPolicy, StreamProfile, WsConfig};

/// Default capacity of the event queue, in events.
pub const QUEUE_CAPACITY_DEFAULT: usize = 65_536;

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
/// | socket read buffer | 64 KiB |
/// | event queue | 65 536 events, [`SlowConsumerPolicy::Backpressure`] |
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
    /// Timeouts, backoff and frame size; its URL and credentials are set at build.
    pub(crate) machine: MachineConfig,
    pub(crate) seed: Option<u64>,
    pub(crate) ws: WsConfig,
    pub(crate) queue_capacity: usize,
    pub(crate) slow_consumer: SlowConsumerPolicy,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) name: Option<String>,
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
                slow_consumer: SlowConsumerPolicy::default(),
                shutdown_timeout: SHUTDOWN_TIMEOUT_DEFAULT,
                name: None,
            },
        }
    }

    /// The API key pair. Default: read from `APCA_API_KEY_ID` and
    /// `APCA_API_SECRET_KEY` when the stream is built.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.options.credentials = Some(credentials);
        self
    }

    /// The API key id and secret.
    pub fn key_pair(self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials(Credentials::new(key_id, secret))
    }

    /// The wire encoding. Default: MessagePack for market data (the options
    /// feeds require it), JSON for trading.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.options.encoding = Some(encoding);
        self
    }

    /// Time allowed to open the connection (TCP, TLS, upgrade). Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.machine.connect_timeout = timeout;
        self
    }

    /// Time allowed for the server's greeting. Default 10 s.
    pub fn greeting_timeout(mut self, timeout: Duration) -> Self {
        self.options.machine.greeting_timeout = timeout;
        self
    }

    /// Time allowed for the answer to the credentials. Default 10 s.
    pub fn auth_timeout(mut self, timeout: Duration) -> Self {
        self.options.machine.auth_timeout = timeout;
        self
    }

    /// Time allowed for a subscription acknowledgement. Default 10 s.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.options.machine.ack_timeout = timeout;
        self
    }

    /// Interval between pings while connected (`None`: no pings). Default 20 s.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.options.machine.ping_interval = interval;
        self
    }

    /// Time allowed for any frame after a ping. Default 10 s.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.options.machine.pong_timeout = timeout;
        self
    }

    /// Reconnect when no data message arrived for this long while live. Only
    /// data counts (not pings or control messages). Default `None` (off),
    /// which suits sparse channels such as daily bars, statuses or news.
    pub fn data_silence_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.machine.data_silence_timeout = timeout;
        self
    }

    /// How long the connection is kept after the last symbol is
    /// unsubscribed, in case another subscription follows. Default 5 s.
    pub fn idle_linger(mut self, linger: Duration) -> Self {
        self.options.machine.idle_linger = linger;
        self
    }

    /// Reconnect delay bounds: the first bound, doubled per failed attempt up
    /// to `max`, with full jitter. Default 500 ms and 60 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.options.machine.backoff_base = base;
        self.options.machine.backoff_max = max;
        self
    }

    /// Least reconnect delay after a connection-limit error (406) or HTTP 429.
    /// Default 30 s.
    pub fn backoff_floor_after_limit(mut self, floor: Duration) -> Self {
        self.options.machine.backoff_floor_after_limit = floor;
        self
    }

    /// How long the stream must stay live before the backoff resets. Default 30 s.
    pub fn backoff_reset_after(mut self, after: Duration) -> Self {
        self.options.machine.backoff_reset_after = after;
        self
    }

    /// Largest outgoing frame; larger subscription requests are split. Default 4 KiB.
    pub fn frame_bytes_max(mut self, bytes: usize) -> Self {
        self.options.machine.frame_bytes_max = bytes;
        self
    }

    /// Largest incoming message; a larger one drops the connection. Default 16 MiB.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.options.ws.max_message_bytes = bytes;
        self
    }

    /// Bytes read from the socket at a time. Default 64 KiB.
    pub fn read_buffer_bytes(mut self, bytes: usize) -> Self {
        self.options.ws.read_buffer_bytes = bytes;
        self
    }

    /// Allows plain `ws://` to hosts other than this machine, sending
    /// credentials unencrypted. Default `false`: such endpoints are refused.
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.options.ws.allow_insecure = allow;
        self
    }

    /// Capacity of the event queue, in events (at least 1). Default 65 536.
    /// Up to twice as many can be held while the consumer reads a batch.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.options.queue_capacity = events.max(1);
        self
    }

    /// What to do when the consumer falls behind. Default
    /// [`SlowConsumerPolicy::Backpressure`].
    pub fn slow_consumer(mut self, policy: SlowConsumerPolicy) -> Self {
        self.options.slow_consumer = policy;
        self
    }

    /// Bound on [`shutdown`](crate::StreamHandle::shutdown). Default 5 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options.shutdown_timeout = timeout;
        self
    }

    /// Seed of the reconnect jitter, for reproducible runs. Default: random per stream.
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = Some(seed);
        self
    }

    /// A name for the stream in logs and tracing spans. Default: the endpoint's path.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.options.name = Some(name.into());
        self
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
