//! Machine configuration with documented defaults.

use std::time::Duration;

use crate::{ConnectRequest, Credentials, WallClock};

/// The default of [`MachineConfig::connect_attempts_max`]: failed attempts
/// in a row, before a stream was ever live, after which it gives up.
pub const CONNECT_ATTEMPTS_MAX_DEFAULT: u32 = 5;

/// Settings of one stream's machine.
///
/// Every field has a default suited to public market-data servers; build with
/// [`MachineConfig::new`] and adjust fields.
///
/// ```
/// use std::time::Duration;
/// use tickwire_core::{Credentials, machine::MachineConfig};
/// let mut config = MachineConfig::new("wss://stream.example.com/v2/iex", Credentials::new("key", "secret"));
/// config.data_silence_timeout = Some(Duration::from_secs(30));
/// config.seed = 7;
/// assert_eq!(config.frame_bytes_max, 4096);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MachineConfig {
    /// The endpoint to connect to.
    pub url: String,
    /// The API key pair sent after the greeting.
    pub credentials: Credentials,
    /// Time allowed to open the connection (TCP, TLS and upgrade). Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for the server's greeting after the upgrade. Default 10 s.
    pub greeting_timeout: Duration,
    /// Time allowed for the answer to the credentials. Default 10 s.
    pub auth_timeout: Duration,
    /// Time allowed for the acknowledgement of a subscription request. Default 10 s.
    pub ack_timeout: Duration,
    /// Interval between pings while connected; `None` sends none. Default 20 s.
    pub ping_interval: Option<Duration>,
    /// Time allowed for any frame to arrive after a ping. Default 10 s.
    pub pong_timeout: Duration,
    /// Reconnect when no data message arrived for this long while live;
    /// `None` (the default) never does, which suits sparse channels.
    pub data_silence_timeout: Option<Duration>,
    /// How long a connection is kept after the last symbol was unsubscribed,
    /// in case a new subscription follows. Default 5 s.
    pub idle_linger: Duration,
    /// First reconnect delay bound; doubles per failed attempt. Default 500 ms.
    pub backoff_base: Duration,
    /// Largest reconnect delay bound. Default 60 s.
    pub backoff_max: Duration,
    /// Least delay after a connection-limit error (406) or HTTP 429: the server
    /// frees a dead connection's slot only after about 90 s. Default 30 s.
    pub backoff_floor_after_limit: Duration,
    /// How long `Live` must last before the backoff resets. Default 30 s.
    pub backoff_reset_after: Duration,
    /// Largest outgoing frame; larger subscription requests are split. Default 4 KiB.
    pub frame_bytes_max: usize,
    /// Seed of the machine's random generator (reconnect jitter).
    pub seed: u64,
    /// Connection attempts that may fail in a row before the stream has
    /// ever been live; one more failure fails the stream with
    /// [`StreamError::GaveUp`](crate::machine::StreamError::GaveUp) naming
    /// the last cause (an unreachable host, TLS, an HTTP status…), which
    /// also resolves every pending subscription. Once live, a stream
    /// reconnects for as long as it runs. `None` tries for ever. Default
    /// [`CONNECT_ATTEMPTS_MAX_DEFAULT`] (with the default backoff, about 8 s of retries when the host refuses
    /// connections, about a minute when it never answers).
    pub connect_attempts_max: Option<u32>,
    /// Where the wall-clock times of [`Event::Gap`](crate::machine::Event::Gap)
    /// and [`Event::Resumed`](crate::machine::Event::Resumed) come from; the
    /// machine reads no clock itself. `None` (the default) leaves those
    /// times out; tickwire's drivers set it when they start a stream.
    pub wall_clock: Option<WallClock>,
}

impl MachineConfig {
    /// A configuration with the defaults for an endpoint and credentials.
    pub fn new(url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            url: url.into(),
            credentials,
            connect_timeout: Duration::from_secs(10),
            greeting_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            ping_interval: Some(Duration::from_secs(20)),
            pong_timeout: Duration::from_secs(10),
            data_silence_timeout: None,
            idle_linger: Duration::from_secs(5),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            backoff_floor_after_limit: Duration::from_secs(30),
            backoff_reset_after: Duration::from_secs(30),
            frame_bytes_max: 4096,
            seed: 0,
            connect_attempts_max: Some(CONNECT_ATTEMPTS_MAX_DEFAULT),
            wall_clock: None,
        }
    }

    pub(crate) fn connect_request(&self, headers: Vec<(String, String)>) -> ConnectRequest {
        ConnectRequest {
            url: self.url.clone(),
            headers,
        }
    }
}
