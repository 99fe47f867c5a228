//! Where streams connect: Alpaca's feeds and trading endpoints, custom URLs,
//! and the rule about credentials over unencrypted connections.

use std::net::IpAddr;

use tickwire_alpaca::{Feed as AlpacaFeed, LIVE_TRADING_URL, PAPER_TRADING_URL};

/// The base URL of Alpaca's historical market-data API.
pub const DATA_REST_URL: &str = "https://data.alpaca.markets";
use tokio_tungstenite::tungstenite::http::Uri;

use crate::Error;

/// Declares [`Feed`]: Alpaca's feeds, as `tickwire_alpaca::with_feeds!`
/// lists them, and a custom URL.
macro_rules! mirror_alpaca_feeds {
    ($($(#[$doc:meta])* $feed:ident,)*) => {
        /// A market data feed, i.e. the endpoint a [`MarketDataStream`](crate::MarketDataStream) connects to.
        ///
        /// What each of Alpaca's feeds offers (path, channels, encodings) is in
        /// [`tickwire_alpaca::Feed`]'s table.
        ///
        /// ```
        /// use tickwire_ws::Feed;
        /// assert_eq!(Feed::Iex.url(), "wss://stream.data.alpaca.markets/v2/iex");
        /// assert_eq!(Feed::Crypto.url(), "wss://stream.data.alpaca.markets/v1beta3/crypto/us");
        /// assert_eq!(Feed::Custom("ws://127.0.0.1:9000/v2/test".into()).url(), "ws://127.0.0.1:9000/v2/test");
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Feed {
            $($(#[$doc])* $feed,)*
            /// Any other endpoint (a sandbox, a proxy, a local test server).
            Custom(String),
        }

        impl Feed {
            /// The row of Alpaca's feed table this feed stands for, or the URL of a
            /// custom one.
            fn alpaca_or_url(&self) -> Result<AlpacaFeed, &str> {
                Ok(match self {
                    $(Self::$feed => AlpacaFeed::$feed,)*
                    Self::Custom(url) => return Err(url),
                })
            }
        }
    };
}

tickwire_alpaca::with_feeds!(mirror_alpaca_feeds);

impl Feed {
    /// The endpoint URL.
    pub fn url(&self) -> String {
        self.alpaca_or_url()
            .map_or_else(str::to_owned, AlpacaFeed::url)
    }

    /// The historical data API's base URL for backfill:
    /// [`DATA_REST_URL`] for Alpaca's feeds, a custom URL's host (as
    /// [`TradingEndpoint::rest_url`] makes it, `stream.data.` becoming
    /// `data.`) otherwise.
    ///
    /// ```
    /// use tickwire_ws::Feed;
    /// assert_eq!(Feed::Sip.data_rest_url(), "https://data.alpaca.markets");
    /// let local = Feed::Custom("ws://127.0.0.1:9000/v2/iex".into());
    /// assert_eq!(local.data_rest_url(), "http://127.0.0.1:9000");
    /// assert_eq!(local.rest_feed(), "iex");
    /// let sandbox = Feed::Custom("wss://stream.data.sandbox.alpaca.markets/v2/sip".into());
    /// assert_eq!(sandbox.data_rest_url(), "https://data.sandbox.alpaca.markets");
    /// ```
    pub fn data_rest_url(&self) -> String {
        match self.alpaca_or_url() {
            Ok(_) => DATA_REST_URL.to_owned(),
            // Alpaca's stream hosts (`stream.data.…`) serve history on `data.…`.
            Err(url) => rest_base(url).replacen("://stream.data.", "://data.", 1),
        }
    }

    /// The `feed` parameter of historical requests: the last part of the
    /// URL's path (`iex`, `sip`, `delayed_sip`…).
    pub fn rest_feed(&self) -> String {
        let url = self.url();
        let path = url.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default().to_owned()
    }

    /// What the feed carries when it is not stocks (`crypto`, `options`,
    /// `news`), whose history [`Backfill`](crate::Backfill) cannot fetch;
    /// `None` for stocks and for a custom URL whose path names no Alpaca feed.
    ///
    /// ```
    /// use tickwire_ws::Feed;
    /// assert_eq!(Feed::Crypto.market_without_backfill(), Some("crypto"));
    /// let local = Feed::Custom("ws://127.0.0.1:9000/v1beta1/opra".into());
    /// assert_eq!(local.market_without_backfill(), Some("options"));
    /// assert_eq!(Feed::Sip.market_without_backfill(), None);
    /// ```
    pub fn market_without_backfill(&self) -> Option<&'static str> {
        let feed = match self.alpaca_or_url() {
            Ok(feed) => feed,
            Err(url) => AlpacaFeed::from_path(url_path(url))?,
        };
        match feed {
            AlpacaFeed::Crypto => Some("crypto"),
            AlpacaFeed::OptionsIndicative | AlpacaFeed::OptionsOpra => Some("options"),
            AlpacaFeed::News => Some("news"),
            _ => None,
        }
    }

    /// Alpaca's feed this one is: itself, or for a custom URL the feed its
    /// path names (`…/v2/iex` is [`Iex`](tickwire_alpaca::Feed::Iex));
    /// `None` when it names none.
    ///
    /// ```
    /// use tickwire_ws::Feed;
    /// assert_eq!(Feed::Sip.alpaca(), Some(tickwire_alpaca::Feed::Sip));
    /// let local = Feed::Custom("ws://127.0.0.1:9000/v2/iex".into());
    /// assert_eq!(local.alpaca(), Some(tickwire_alpaca::Feed::Iex));
    /// assert_eq!(Feed::Custom("ws://127.0.0.1:9000/x".into()).alpaca(), None);
    /// ```
    pub fn alpaca(&self) -> Option<AlpacaFeed> {
        match self.alpaca_or_url() {
            Ok(feed) => Some(feed),
            Err(url) => AlpacaFeed::from_path(url_path(url)),
        }
    }

    /// Whether the feed only speaks MessagePack (the options feeds).
    pub fn requires_msgpack(&self) -> bool {
        self.alpaca_or_url().is_ok_and(AlpacaFeed::msgpack_only)
    }
}

/// The endpoint a [`TradingStream`](crate::TradingStream) connects to.
///
/// ```
/// use tickwire_ws::TradingEndpoint;
/// assert_eq!(TradingEndpoint::Paper.url(), "wss://paper-api.alpaca.markets/stream");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TradingEndpoint {
    /// Paper trading: `wss://paper-api.alpaca.markets/stream`.
    Paper,
    /// Live trading: `wss://api.alpaca.markets/stream`.
    Live,
    /// Any other endpoint.
    Custom(String),
}

impl TradingEndpoint {
    /// The endpoint URL.
    pub fn url(&self) -> String {
        match self {
            Self::Paper => PAPER_TRADING_URL.to_owned(),
            Self::Live => LIVE_TRADING_URL.to_owned(),
            Self::Custom(url) => url.clone(),
        }
    }

    /// The REST API's base URL on the same host: `wss://` becomes
    /// `https://`, `ws://` becomes `http://`, the path is dropped.
    ///
    /// ```
    /// use tickwire_ws::TradingEndpoint;
    /// assert_eq!(TradingEndpoint::Paper.rest_url(), "https://paper-api.alpaca.markets");
    /// let local = TradingEndpoint::Custom("ws://127.0.0.1:9000/stream".into());
    /// assert_eq!(local.rest_url(), "http://127.0.0.1:9000");
    /// ```
    pub fn rest_url(&self) -> String {
        rest_base(&self.url())
    }
}

/// The REST base URL on a WebSocket URL's host: `wss://` becomes
/// `https://`, `ws://` becomes `http://`, the path is dropped.
fn rest_base(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("wss", url));
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let scheme = if scheme.eq_ignore_ascii_case("ws") {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{host}")
}

/// A URL's path, from the `/` after its host (empty when it has none).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("", |slash| &rest[slash..])
}

/// Whether a URL host names this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a URL is encrypted (`wss://`), and its host.
pub(crate) fn parse_endpoint(url: &str) -> Result<(bool, String), Error> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri =
        url.parse()
            .map_err(|e: tokio_tungstenite::tungstenite::http::uri::InvalidUri| {
                invalid(&e.to_string())
            })?;
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(invalid(
                "the scheme must be wss:// (or ws:// for local testing)",
            ));
        }
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("no host"))?;
    Ok((secure, host.to_owned()))
}

/// Refuses endpoints that would carry credentials unencrypted to another machine.
pub(crate) fn check_endpoint(url: &str, allow_insecure: bool) -> Result<(), Error> {
    let (secure, host) = parse_endpoint(url)?;
    if secure || allow_insecure || is_loopback_host(&host) {
        Ok(())
    } else {
        Err(Error::InsecureEndpoint { host })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ws_is_refused_off_this_machine_unless_allowed() {
        assert!(check_endpoint("wss://stream.data.alpaca.markets/v2/iex", false).is_ok());
        assert!(check_endpoint("ws://127.0.0.1:8080/v2/test", false).is_ok());
        assert!(check_endpoint("ws://127.1.2.3/x", false).is_ok());
        assert!(check_endpoint("ws://localhost:1/x", false).is_ok());
        assert!(check_endpoint("ws://[::1]:9000/x", false).is_ok());
        assert_eq!(
            check_endpoint("ws://example.com/v2/iex", false),
            Err(Error::InsecureEndpoint {
                host: "example.com".into()
            })
        );
        assert!(check_endpoint("ws://10.0.0.1/x", false).is_err());
        assert!(check_endpoint("ws://example.com/v2/iex", true).is_ok());
    }

    #[test]
    fn bad_urls_are_reported() {
        assert!(matches!(
            check_endpoint("https://x/y", false),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_endpoint("not a url", false),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            check_endpoint("", false),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn options_need_msgpack() {
        assert!(Feed::OptionsOpra.requires_msgpack());
        assert!(!Feed::Sip.requires_msgpack());
        assert_eq!(
            TradingEndpoint::Live.url(),
            "wss://api.alpaca.markets/stream"
        );
    }
}
