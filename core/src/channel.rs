//! Channels: the kinds of data a stream subscribes to, named by each dialect.

use std::fmt;
use std::hash::Hash;

/// A dialect's subscription channel (trades, quotes, order updates…).
///
/// The machine keeps sets of `(channel, symbol)` pairs and never looks inside
/// a channel beyond these two questions; each vendor's dialect brings its own
/// channel type (see [`Dialect::Channel`](crate::protocol::Dialect::Channel)).
/// `Ord` fixes the order in which sets iterate and requests list channels.
///
/// ```
/// use tickwire_core::ChannelKind;
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// enum Feed { Ticks, Book, Echo }
///
/// impl std::fmt::Display for Feed {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "{self:?}")
///     }
/// }
///
/// impl ChannelKind for Feed {
///     // `Echo` follows `Ticks` on the server's own initiative.
///     fn is_server_managed(self) -> bool { self == Feed::Echo }
/// }
/// assert!(Feed::Ticks.is_requestable());
/// assert!(!Feed::Echo.is_requestable());
/// ```
pub trait ChannelKind:
    Copy + Ord + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static
{
    /// Whether the server adds and removes this channel on its own (it
    /// follows another channel); such pairs are left out when a confirmed
    /// set is compared with the desired one.
    fn is_server_managed(self) -> bool;

    /// Whether an application may subscribe to this channel on a symbol
    /// stream. By default every channel the server does not manage; a dialect
    /// says no as well for channels that only an account stream holds.
    fn is_requestable(self) -> bool {
        !self.is_server_managed()
    }
}
