//! What a client may ask of a feed, as Alpaca answers: the check a proxy's
//! sessions and a relay's consumers share.

use tickwire_alpaca::{Channel, Feed, SubscriptionSet};
use tickwire_core::ChannelKind;

/// Checks a subscribe against what the feed offers, as Alpaca answers:
/// 410 for a channel the feed lacks, 413 for `*` on option quotes.
///
/// ```
/// use tickwire_alpaca::{Channel, Feed, SubscriptionSet};
/// use tickwire_core::Symbol;
/// let mut set = SubscriptionSet::new();
/// set.insert(Channel::Orderbooks, Symbol::new("AAPL")?);
/// assert_eq!(tickwire_proxy::request_check::check(Feed::Iex, &set).map_err(|e| e.0), Err(410));
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
///
/// # Errors
/// Alpaca's code and message for the refusal.
pub fn check(feed: Feed, set: &SubscriptionSet) -> Result<(), (u16, &'static str)> {
    for channel in set.channels() {
        if channel.is_requestable() && !feed.channels().contains(&channel) {
            return Err((410, "invalid subscribe action for this feed"));
        }
    }
    let options = matches!(feed, Feed::OptionsIndicative | Feed::OptionsOpra);
    if options && set.symbols(Channel::Quotes).any(|s| s.is_wildcard()) {
        return Err((413, "star subscription is not allowed for option quotes"));
    }
    Ok(())
}

/// The set without the channels the server manages (`corrections`…).
pub fn requestable(set: SubscriptionSet) -> SubscriptionSet {
    if set.channels().all(ChannelKind::is_requestable) {
        return set;
    }
    set.iter()
        .filter(|(c, _)| c.is_requestable())
        .map(|(c, s)| (c, s.clone()))
        .collect()
}
