//! A channel type for the machine's own unit tests.

use std::fmt;

use crate::ChannelKind;

/// Channels shaped like a typical market-data vendor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Channel {
    Trades,
    Quotes,
    Bars,
    /// Follows `Trades`, managed by the server.
    Corrections,
    /// An account stream's only channel.
    Account,
}

impl Channel {
    /// Every channel.
    pub(crate) const ALL: [Self; 5] = [
        Self::Trades,
        Self::Quotes,
        Self::Bars,
        Self::Corrections,
        Self::Account,
    ];
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl ChannelKind for Channel {
    fn is_server_managed(self) -> bool {
        self == Self::Corrections
    }

    fn is_requestable(self) -> bool {
        !matches!(self, Self::Corrections | Self::Account)
    }
}
