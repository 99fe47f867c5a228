//! Alpaca's market data feeds, declared once: name, path, channels offered,
//! encodings and which channels follow `trades`.

use std::fmt;

use super::channel::Channel;

/// Alpaca's market data host; a feed's URL is this followed by its path.
pub const DATA_HOST: &str = "wss://stream.data.alpaca.markets";

/// The trading (`trade_updates`) stream's path, on Alpaca and on simulated
/// exchanges.
pub const TRADING_PATH: &str = "/stream";

/// Alpaca's paper trading stream.
pub const PAPER_TRADING_URL: &str = "wss://paper-api.alpaca.markets/stream";

/// Alpaca's live trading stream.
pub const LIVE_TRADING_URL: &str = "wss://api.alpaca.markets/stream";

/// Calls `$callback! { … }` with every one of Alpaca's feeds, each a variant
/// name with its doc comment and a comma, in [`Feed`]'s order: an enum that
/// mirrors [`Feed`] (`tickwire_ws::Feed` adds custom URLs) is declared from
/// this list instead of restating it.
#[doc(hidden)]
#[macro_export]
macro_rules! with_feeds {
    ($callback:ident) => {
        $callback! {
            /// Stocks, IEX only (the free plan).
            Iex,
            /// Stocks, all US exchanges.
            Sip,
            /// Stocks, SIP delayed by 15 minutes.
            DelayedSip,
            /// The always-on test stream (symbol `FAKEPACA`).
            Test,
            /// Stocks, Blue Ocean ATS overnight.
            Boats,
            /// Stocks, overnight (derived).
            Overnight,
            /// Crypto (symbols like `BTC/USD`).
            Crypto,
            /// Options, indicative feed (MessagePack only).
            OptionsIndicative,
            /// Options, OPRA feed (MessagePack only).
            OptionsOpra,
            /// News.
            News,
        }
    };
}

/// Declares [`Feed`] and [`Feed::ALL`] from the list [`with_feeds`] gives.
macro_rules! declare_feed {
    ($($(#[$doc:meta])* $feed:ident,)*) => {
        /// One of Alpaca's market data feeds.
        ///
        /// What each offers is in one table, read through the methods below.
        ///
        /// ```
        /// use tickwire_alpaca::{Channel, Feed};
        /// assert_eq!(Feed::Crypto.path(), "/v1beta3/crypto/us");
        /// assert_eq!(Feed::from_path("/v2/iex/"), Some(Feed::Iex));
        /// assert!(Feed::Crypto.channels().contains(&Channel::Orderbooks));
        /// assert!(Feed::OptionsOpra.msgpack_only());
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Feed {
            $($(#[$doc])* $feed,)*
        }

        impl Feed {
            /// Every feed.
            pub const ALL: [Self; 10] = [$(Self::$feed,)*];
        }
    };
}

with_feeds!(declare_feed);

/// What a feed carries, which decides what it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Market {
    Stocks,
    Crypto,
    Options,
    News,
}

impl Market {
    const fn channels(self) -> &'static [Channel] {
        match self {
            Self::Stocks => &[
                Channel::Trades,
                Channel::Quotes,
                Channel::Bars,
                Channel::UpdatedBars,
                Channel::DailyBars,
                Channel::Statuses,
                Channel::Lulds,
                Channel::Imbalances,
            ],
            Self::Crypto => &[
                Channel::Trades,
                Channel::Quotes,
                Channel::Bars,
                Channel::UpdatedBars,
                Channel::DailyBars,
                Channel::Orderbooks,
            ],
            Self::Options => &[Channel::Trades, Channel::Quotes],
            Self::News => &[Channel::News],
        }
    }
}

/// One feed's row of [`FEEDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FeedSpec {
    feed: Feed,
    /// Alpaca's short name for it.
    name: &'static str,
    path: &'static str,
    market: Market,
}

/// Every feed, in the order of [`Feed`]'s variants.
#[rustfmt::skip]
const FEEDS: [FeedSpec; 10] = [
    FeedSpec { feed: Feed::Iex, name: "iex", path: "/v2/iex", market: Market::Stocks },
    FeedSpec { feed: Feed::Sip, name: "sip", path: "/v2/sip", market: Market::Stocks },
    FeedSpec { feed: Feed::DelayedSip, name: "delayed_sip", path: "/v2/delayed_sip", market: Market::Stocks },
    FeedSpec { feed: Feed::Test, name: "test", path: "/v2/test", market: Market::Stocks },
    FeedSpec { feed: Feed::Boats, name: "boats", path: "/v1beta1/boats", market: Market::Stocks },
    FeedSpec { feed: Feed::Overnight, name: "overnight", path: "/v1beta1/overnight", market: Market::Stocks },
    FeedSpec { feed: Feed::Crypto, name: "crypto", path: "/v1beta3/crypto/us", market: Market::Crypto },
    FeedSpec { feed: Feed::OptionsIndicative, name: "indicative", path: "/v1beta1/indicative", market: Market::Options },
    FeedSpec { feed: Feed::OptionsOpra, name: "opra", path: "/v1beta1/opra", market: Market::Options },
    FeedSpec { feed: Feed::News, name: "news", path: "/v1beta1/news", market: Market::News },
];

impl Feed {
    /// The feed's row of [`FEEDS`], which lists the feeds in variant order.
    const fn spec(self) -> &'static FeedSpec {
        let spec = &FEEDS[self as usize];
        debug_assert!(
            spec.feed as usize == self as usize,
            "FEEDS is in variant order"
        );
        spec
    }

    /// Alpaca's short name for the feed, as in its `feed` parameters, e.g. `"delayed_sip"`.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// The endpoint's path, e.g. `/v2/iex`.
    pub const fn path(self) -> &'static str {
        self.spec().path
    }

    /// The endpoint's URL on Alpaca, [`DATA_HOST`] followed by the path.
    pub fn url(self) -> String {
        format!("{DATA_HOST}{}", self.path())
    }

    /// The channels a client may subscribe to on this feed.
    pub const fn channels(self) -> &'static [Channel] {
        self.spec().market.channels()
    }

    /// Whether the feed speaks MessagePack only (the options feeds).
    pub const fn msgpack_only(self) -> bool {
        matches!(self.spec().market, Market::Options)
    }

    /// Whether `trades` brings `corrections` and `cancelErrors` with it.
    pub const fn has_trade_followers(self) -> bool {
        matches!(self.spec().market, Market::Stocks)
    }

    /// The feed served at a path (a query, fragment or trailing slash is ignored).
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.trim_end_matches('/');
        Self::ALL.into_iter().find(|feed| feed.path() == path)
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::ChannelKind;

    #[test]
    fn the_table_is_in_variant_order() {
        for (feed, spec) in Feed::ALL.into_iter().zip(FEEDS) {
            assert_eq!(spec.feed, feed);
        }
    }

    #[test]
    fn paths_and_names_are_unique_and_round_trip() {
        for feed in Feed::ALL {
            assert_eq!(Feed::from_path(feed.path()), Some(feed));
            let same_name = Feed::ALL.iter().filter(|f| f.name() == feed.name());
            assert_eq!(same_name.count(), 1, "{feed:?}");
        }
        assert_eq!(Feed::from_path("/v2/iex/?x=1"), Some(Feed::Iex));
        assert_eq!(Feed::from_path("/v2/nope"), None);
        assert_eq!(Feed::from_path(TRADING_PATH), None);
    }

    #[test]
    fn what_each_kind_of_feed_offers() {
        assert!(Feed::Sip.has_trade_followers() && !Feed::Crypto.has_trade_followers());
        assert!(Feed::Crypto.channels().contains(&Channel::Orderbooks));
        assert!(!Feed::Iex.channels().contains(&Channel::Orderbooks));
        assert_eq!(Feed::News.channels(), [Channel::News]);
        assert!(Feed::OptionsIndicative.msgpack_only() && !Feed::Test.msgpack_only());
        assert_eq!(Feed::Iex.url(), "wss://stream.data.alpaca.markets/v2/iex");
        for feed in Feed::ALL {
            assert!(
                feed.channels()
                    .iter()
                    .all(|c| ChannelKind::is_requestable(*c)),
                "{feed:?}"
            );
        }
    }
}
