//! A lease key read: which consumer wants which (channel, symbol) of a feed.

use tickwire_alpaca::{Channel, Feed};
use tickwire_core::Symbol;

use crate::subject::{TokenError, feed_by_name, is_consumer_id, symbol_from_token};

/// A lease key, `<feed>.<channel>.<SYMBOL>.<consumer>`, read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    /// The feed.
    pub feed: Feed,
    /// The channel.
    pub channel: Channel,
    /// The symbol (possibly the wildcard `*`, written `=2A`).
    pub symbol: Symbol,
    /// Who holds the lease.
    pub consumer: String,
}

/// Why a key is no lease the relay can honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaseError {
    /// Not four dot-separated tokens.
    #[error("lease key {0:?} is not <feed>.<channel>.<SYMBOL>.<consumer>")]
    Shape(String),
    /// The first token names no feed.
    #[error("lease key {key:?}: unknown feed {feed:?}")]
    UnknownFeed {
        /// The key.
        key: String,
        /// Its feed token.
        feed: String,
    },
    /// A lease of another feed than the relay's.
    #[error("lease key {key:?} is for feed {feed}, not this relay's")]
    OtherFeed {
        /// The key.
        key: String,
        /// Its feed.
        feed: &'static str,
    },
    /// The second token names no channel a client may subscribe to.
    #[error("lease key {key:?}: unknown channel {channel:?}")]
    UnknownChannel {
        /// The key.
        key: String,
        /// Its channel token.
        channel: String,
    },
    /// A channel the feed does not offer (e.g. `orderbooks` on `iex`).
    #[error("lease key {key:?}: feed {feed} has no channel {channel}")]
    ChannelNotOnFeed {
        /// The key.
        key: String,
        /// The feed.
        feed: &'static str,
        /// The channel.
        channel: Channel,
    },
    /// The third token is no symbol.
    #[error("lease key {key:?}: {error}")]
    Symbol {
        /// The key.
        key: String,
        /// What is wrong with the symbol token.
        error: TokenError,
    },
    /// The fourth token is no consumer id.
    #[error("lease key {0:?}: the consumer id must be 1 to 64 bytes of A-Z a-z 0-9 _ - = /")]
    Consumer(String),
}

impl LeaseKey {
    /// Reads `key`.
    ///
    /// ```
    /// use tickwire_alpaca::{Channel, Feed};
    /// use tickwire_relay::LeaseKey;
    /// let lease = LeaseKey::parse("iex.quotes.BRK=2EB.strategy-1")?;
    /// assert_eq!((lease.feed, lease.channel), (Feed::Iex, Channel::Quotes));
    /// assert_eq!((lease.symbol.as_str(), lease.consumer.as_str()), ("BRK.B", "strategy-1"));
    /// assert!(LeaseKey::parse("iex.nope.AAPL.strategy-1").is_err());
    /// # Ok::<(), tickwire_relay::LeaseError>(())
    /// ```
    ///
    /// # Errors
    /// A [`LeaseError`] naming the key and what is wrong with it.
    pub fn parse(key: &str) -> Result<Self, LeaseError> {
        let mut tokens = key.split('.');
        let (Some(feed), Some(channel), Some(symbol), Some(consumer), None) = (
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
            tokens.next(),
        ) else {
            return Err(LeaseError::Shape(key.to_owned()));
        };
        let feed = feed_by_name(feed).ok_or_else(|| LeaseError::UnknownFeed {
            key: key.to_owned(),
            feed: feed.to_owned(),
        })?;
        let channel: Channel = channel.parse().map_err(|_| LeaseError::UnknownChannel {
            key: key.to_owned(),
            channel: channel.to_owned(),
        })?;
        if !feed.channels().contains(&channel) {
            return Err(LeaseError::ChannelNotOnFeed {
                key: key.to_owned(),
                feed: feed.name(),
                channel,
            });
        }
        let symbol = symbol_from_token(symbol).map_err(|error| LeaseError::Symbol {
            key: key.to_owned(),
            error,
        })?;
        if !is_consumer_id(consumer) {
            return Err(LeaseError::Consumer(key.to_owned()));
        }
        Ok(Self {
            feed,
            channel,
            symbol,
            consumer: consumer.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        type Expect = fn(&LeaseError) -> bool;
        let cases: [(&str, Expect); 7] = [
            ("iex.quotes.AAPL", |e| matches!(e, LeaseError::Shape(_))),
            ("iex.quotes.AAPL.c.d", |e| matches!(e, LeaseError::Shape(_))),
            ("nasdaq.quotes.AAPL.c", |e| {
                matches!(e, LeaseError::UnknownFeed { .. })
            }),
            ("iex.ticks.AAPL.c", |e| {
                matches!(e, LeaseError::UnknownChannel { .. })
            }),
            ("iex.orderbooks.AAPL.c", |e| {
                matches!(e, LeaseError::ChannelNotOnFeed { .. })
            }),
            ("iex.quotes.A=20B.c", |e| {
                matches!(e, LeaseError::Symbol { .. })
            }),
            ("iex.quotes.AAPL.", |e| matches!(e, LeaseError::Consumer(_))),
        ];
        for (key, expected) in cases {
            let error = LeaseKey::parse(key).expect_err(key);
            assert!(expected(&error), "{key}: {error:?}");
            assert!(error.to_string().contains(key), "{error}");
        }
    }

    #[test]
    fn the_wildcard_and_crypto_pairs_are_leases() {
        let lease = LeaseKey::parse("iex.trades.=2A.c").expect("wildcard");
        assert!(lease.symbol.is_wildcard());
        let lease = LeaseKey::parse("crypto.orderbooks.BTC/USD.c").expect("crypto");
        assert_eq!(lease.symbol.as_str(), "BTC/USD");
    }
}
