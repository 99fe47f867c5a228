//! Alpaca's subscription channels, named as on the wire.

use std::fmt;

use serde::{Deserialize, Serialize};
use tickwire_core::ChannelKind;

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
        Self::from_wire_bytes(name.as_bytes())
    }

    /// Looks a channel up by its wire name's bytes, as a reader finds them
    /// in a frame (not checked as UTF-8).
    pub(crate) fn from_wire_bytes(name: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.wire_name().as_bytes() == name)
    }

    /// Whether the server manages this channel itself (clients never request it).
    pub const fn is_server_managed(self) -> bool {
        matches!(self, Self::Corrections | Self::CancelErrors)
    }
}

impl ChannelKind for Channel {
    fn is_server_managed(self) -> bool {
        Self::is_server_managed(self)
    }

    /// `TradeUpdates` belongs to the account stream alone.
    fn is_requestable(self) -> bool {
        !self.is_server_managed() && self != Self::TradeUpdates
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
            .filter(|c| ChannelKind::is_requestable(*c))
            .ok_or_else(|| UnknownChannel(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_wire_name(c.wire_name()), Some(c));
        }
        assert!("corrections".parse::<Channel>().is_err());
        assert_eq!("updatedBars".parse::<Channel>(), Ok(Channel::UpdatedBars));
    }
}
