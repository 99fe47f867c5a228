//! [`Backfill`]: which kinds of market data a stream fetches again after a gap.

use std::fmt;
use std::ops::BitOr;
use std::str::FromStr;

/// The kinds of market data a market-data stream (tickwire-ws's
/// `MarketDataStream`, or any driver of a [`MarketBackfill`](crate::MarketBackfill))
/// fetches from the historical REST API after each gap: a set of
/// [`TRADES`](Self::TRADES) and [`BARS`](Self::BARS) (minute bars),
/// combined with `|`. Default: [`NONE`](Self::NONE).
///
/// Quotes are never backfilled: the historical quotes of a busy symbol run
/// to millions a day, and a quote only matters until the next one replaces
/// it — the first quote after the gap is the current one.
///
/// ```
/// use tickwire_alpaca::Backfill;
/// let both = Backfill::TRADES | Backfill::BARS;
/// assert!(both.trades() && both.bars());
/// assert_eq!("trades,bars".parse::<Backfill>(), Ok(both));
/// assert_eq!("none".parse::<Backfill>(), Ok(Backfill::NONE));
/// assert!("quotes".parse::<Backfill>().is_err());
/// assert_eq!(both.to_string(), "trades,bars");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Backfill {
    trades: bool,
    bars: bool,
}

impl Backfill {
    /// Nothing is fetched after a gap.
    pub const NONE: Self = Self {
        trades: false,
        bars: false,
    };
    /// The trades of the subscribed symbols (the `trades` channel).
    pub const TRADES: Self = Self {
        trades: true,
        bars: false,
    };
    /// The minute bars of the subscribed symbols (the `bars` channel).
    pub const BARS: Self = Self {
        trades: false,
        bars: true,
    };

    /// Whether trades are fetched.
    pub fn trades(self) -> bool {
        self.trades
    }

    /// Whether minute bars are fetched.
    pub fn bars(self) -> bool {
        self.bars
    }

    /// Whether nothing is fetched.
    pub fn is_none(self) -> bool {
        self == Self::NONE
    }
}

impl BitOr for Backfill {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self {
            trades: self.trades || other.trades,
            bars: self.bars || other.bars,
        }
    }
}

impl fmt::Display for Backfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.trades, self.bars) {
            (true, true) => f.write_str("trades,bars"),
            (true, false) => f.write_str("trades"),
            (false, true) => f.write_str("bars"),
            (false, false) => f.write_str("none"),
        }
    }
}

/// A list that names something other than `trades`, `bars` or `none`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot backfill {0:?}: choose from trades, bars (quotes are never backfilled)")]
pub struct UnknownBackfill(pub String);

impl FromStr for Backfill {
    type Err = UnknownBackfill;

    /// A comma-separated list of `trades`, `bars`, or `none`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .try_fold(Self::NONE, |set, name| match name {
                "trades" => Ok(set | Self::TRADES),
                "bars" => Ok(set | Self::BARS),
                "none" => Ok(set),
                other => Err(UnknownBackfill(other.to_owned())),
            })
    }
}
