//! The exchange's endpoints: which paths exist and what each one serves.

use std::fmt;

use tickwire_alpaca::{Channel, Feed, TRADING_PATH};

/// A market data feed an account can be entitled to, or the trading stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/v2/iex`: stocks, IEX only.
    Iex,
    /// `/v2/sip`: stocks, all US exchanges.
    Sip,
    /// `/v2/delayed_sip`: stocks, 15 minutes delayed.
    DelayedSip,
    /// `/v2/test`: the always-on test stream (symbol `FAKEPACA`).
    Test,
    /// `/v1beta3/crypto/us`: crypto.
    Crypto,
    /// `/v1beta1/indicative`: options, indicative feed.
    OptionsIndicative,
    /// `/v1beta1/opra`: options, OPRA feed.
    Opra,
    /// `/v1beta1/news`: news.
    News,
    /// `/stream`: the trading (`trade_updates`) stream.
    Trading,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// What kind of data an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Stocks,
    Crypto,
    Options,
    News,
    Trading,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Self; 9] = [
        Self::Iex,
        Self::Sip,
        Self::DelayedSip,
        Self::Test,
        Self::Crypto,
        Self::OptionsIndicative,
        Self::Opra,
        Self::News,
        Self::Trading,
    ];

    /// The market data feed it serves, whose row of Alpaca's feed table
    /// says what it offers; `None` for the trading stream.
    pub const fn feed(self) -> Option<Feed> {
        Some(match self {
            Self::Iex => Feed::Iex,
            Self::Sip => Feed::Sip,
            Self::DelayedSip => Feed::DelayedSip,
            Self::Test => Feed::Test,
            Self::Crypto => Feed::Crypto,
            Self::OptionsIndicative => Feed::OptionsIndicative,
            Self::Opra => Feed::OptionsOpra,
            Self::News => Feed::News,
            Self::Trading => return None,
        })
    }

    /// The URL path, e.g. `/v2/iex`.
    pub const fn path(self) -> &'static str {
        match self.feed() {
            Some(feed) => feed.path(),
            None => TRADING_PATH,
        }
    }

    /// The endpoint for a request path (query and trailing slash ignored).
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.trim_end_matches('/');
        Self::ALL.into_iter().find(|e| e.path() == path)
    }

    pub(crate) const fn kind(self) -> Kind {
        match self {
            Self::Iex | Self::Sip | Self::DelayedSip | Self::Test => Kind::Stocks,
            Self::Crypto => Kind::Crypto,
            Self::OptionsIndicative | Self::Opra => Kind::Options,
            Self::News => Kind::News,
            Self::Trading => Kind::Trading,
        }
    }

    /// Whether this is the trading stream rather than a market data stream.
    pub const fn is_trading(self) -> bool {
        matches!(self, Self::Trading)
    }

    /// Whether an account needs no entitlement for it (the test stream).
    pub const fn always_entitled(self) -> bool {
        matches!(self, Self::Test | Self::Trading)
    }

    /// Channels a client may subscribe to here.
    pub fn channels(self) -> &'static [Channel] {
        self.feed().map_or(&[], Feed::channels)
    }

    /// Whether `trades` brings `corrections` and `cancelErrors` with it.
    pub(crate) fn has_trade_followers(self) -> bool {
        self.feed().is_some_and(Feed::has_trade_followers)
    }

    /// Whether the endpoint only speaks MessagePack (options).
    pub(crate) fn msgpack_only(self) -> bool {
        self.feed().is_some_and(Feed::msgpack_only)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        let paths = Endpoint::ALL.map(Endpoint::path);
        assert_eq!(paths.map(Endpoint::from_path), Endpoint::ALL.map(Some));
        assert_eq!(Endpoint::from_path("/v2/iex/?x=1"), Some(Endpoint::Iex));
        assert_eq!(Endpoint::from_path("/v2/nope"), None);
        assert_eq!(Endpoint::from_path(""), None);
        assert_eq!(Endpoint::from_path("/stream"), Some(Endpoint::Trading));
    }

    #[test]
    fn what_each_endpoint_offers_is_its_feed_s() {
        assert_eq!(Endpoint::Iex.channels(), Feed::Iex.channels());
        assert!(Endpoint::Sip.has_trade_followers());
        assert!(!Endpoint::Crypto.has_trade_followers());
        assert!(Endpoint::Opra.msgpack_only() && !Endpoint::News.msgpack_only());
        assert!(Endpoint::Trading.channels().is_empty());
        assert!(!Endpoint::Trading.msgpack_only());
    }
}
