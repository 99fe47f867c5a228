//! Symbols and channels: the two halves of a subscription.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Longest symbol accepted, in bytes (option contracts are about 21).
pub const SYMBOL_BYTES_MAX: usize = 64;

/// A validated instrument symbol such as `AAPL`, `BTC/USD` or the wildcard `*`.
///
/// Short symbols are stored inline, so cloning one does not allocate.
///
/// ```
/// use tickwire_core::Symbol;
/// let aapl = Symbol::new("AAPL")?;
/// assert_eq!(aapl.as_str(), "AAPL");
/// assert!(Symbol::new("bad symbol").is_err());
/// assert!(Symbol::WILDCARD.is_wildcard());
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Symbol(CompactString);

/// Why a string is not a valid [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSymbol {
    /// The symbol was empty.
    #[error("symbol is empty; pass a ticker such as \"AAPL\" or the wildcard \"*\"")]
    Empty,
    /// The symbol was longer than [`SYMBOL_BYTES_MAX`].
    #[error("symbol is {len} bytes long; at most {SYMBOL_BYTES_MAX} are accepted")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The symbol held a character no exchange symbol uses.
    #[error(
        "symbol {symbol:?} contains {character:?}; symbols use letters, digits and . / - _ : * only"
    )]
    BadCharacter {
        /// The offending symbol (truncated to its first 64 bytes).
        symbol: String,
        /// The first character that is not allowed.
        character: char,
    },
}

impl Symbol {
    /// The wildcard: every symbol of a channel.
    pub const WILDCARD: Self = Self(CompactString::const_new("*"));

    /// Validates and wraps a symbol.
    pub fn new(symbol: &str) -> Result<Self, InvalidSymbol> {
        if symbol.is_empty() {
            return Err(InvalidSymbol::Empty);
        }
        if symbol.len() > SYMBOL_BYTES_MAX {
            return Err(InvalidSymbol::TooLong { len: symbol.len() });
        }
        if let Some(character) = symbol.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_' | ':' | '*'))
        }) {
            return Err(InvalidSymbol::BadCharacter {
                symbol: symbol.to_owned(),
                character,
            });
        }
        Ok(Self(CompactString::new(symbol)))
    }

    /// Wraps a symbol received from a server without validating it.
    pub fn from_server(symbol: &str) -> Self {
        Self(CompactString::new(symbol))
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the wildcard `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0 == "*"
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Symbol {
    type Err = InvalidSymbol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Symbol {
    type Error = InvalidSymbol;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// A subscription channel, named as on the wire.
///
/// `Corrections` and `CancelErrors` are managed by the server: they follow
/// `Trades` and are never requested by a client. `TradeUpdates` is the
/// account stream's only channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Channel {
    /// Trades.
    Trades,
    /// Quotes.
    Quotes,
    /// Minute bars.
    Bars,
    /// Bars corrected after late trades.
    UpdatedBars,
    /// Daily bars.
    DailyBars,
    /// Trading status (halts and resumes).
    Statuses,
    /// Limit up / limit down bands.
    Lulds,
    /// Order imbalances.
    Imbalances,
    /// Crypto order books.
    Orderbooks,
    /// News.
    News,
    /// Trade corrections (server-managed, follows `Trades`).
    Corrections,
    /// Trade cancels and errors (server-managed, follows `Trades`).
    CancelErrors,
    /// Order and trade updates of the account stream.
    #[serde(rename = "trade_updates")]
    TradeUpdates,
}

impl Channel {
    /// Every channel, in wire order.
    pub const ALL: [Self; 13] = [
        Self::Trades,
        Self::Quotes,
        Self::Bars,
        Self::UpdatedBars,
        Self::DailyBars,
        Self::Statuses,
        Self::Lulds,
        Self::Imbalances,
        Self::Orderbooks,
        Self::News,
        Self::Corrections,
        Self::CancelErrors,
        Self::TradeUpdates,
    ];

    /// The channel's name on the wire, e.g. `"updatedBars"`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::Trades => "trades",
            Self::Quotes => "quotes",
            Self::Bars => "bars",
            Self::UpdatedBars => "updatedBars",
            Self::DailyBars => "dailyBars",
            Self::Statuses => "statuses",
            Self::Lulds => "lulds",
            Self::Imbalances => "imbalances",
            Self::Orderbooks => "orderbooks",
            Self::News => "news",
            Self::Corrections => "corrections",
            Self::CancelErrors => "cancelErrors",
            Self::TradeUpdates => "trade_updates",
        }
    }

    /// Looks a channel up by its wire name.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.wire_name() == name)
    }

    /// Whether the server manages this channel itself (clients never request it).
    pub const fn is_server_managed(self) -> bool {
        matches!(self, Self::Corrections | Self::CancelErrors)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Error for an unknown channel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown channel {0:?}; known channels: trades, quotes, bars, updatedBars, dailyBars, statuses, lulds, imbalances, orderbooks, news"
)]
pub struct UnknownChannel(pub String);

impl std::str::FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_wire_name(s)
            .filter(|c| !c.is_server_managed() && *c != Self::TradeUpdates)
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_validated() {
        assert_eq!(Symbol::new(""), Err(InvalidSymbol::Empty));
        assert!(matches!(
            Symbol::new(&"A".repeat(65)),
            Err(InvalidSymbol::TooLong { len: 65 })
        ));
        assert!(matches!(
            Symbol::new("AA\"PL"),
            Err(InvalidSymbol::BadCharacter { character: '"', .. })
        ));
        assert_eq!(Symbol::new("BTC/USD").unwrap().as_str(), "BTC/USD");
        assert!(Symbol::new("*").unwrap().is_wildcard());
    }

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_wire_name(c.wire_name()), Some(c));
        }
        assert!("corrections".parse::<Channel>().is_err());
        assert_eq!("updatedBars".parse::<Channel>(), Ok(Channel::UpdatedBars));
    }
}
