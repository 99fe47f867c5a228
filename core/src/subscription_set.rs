//! Sets of (channel, symbol) pairs: what a stream wants and what a server confirmed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Channel, Symbol};

/// A set of symbols per channel.
///
/// Used for the desired set (what the application asked for), the confirmed
/// set (what the server's last acknowledgement said) and request diffs.
///
/// ```
/// use tickwire_core::{Channel, Symbol, SubscriptionSet};
/// let mut set = SubscriptionSet::new();
/// set.insert(Channel::Quotes, Symbol::new("AAPL")?);
/// assert!(set.contains(Channel::Quotes, &Symbol::new("AAPL")?));
/// assert_eq!(set.len(), 1);
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionSet {
    channels: BTreeMap<Channel, BTreeSet<Symbol>>,
}

impl SubscriptionSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair; returns whether it was new.
    pub fn insert(&mut self, channel: Channel, symbol: Symbol) -> bool {
        self.channels.entry(channel).or_default().insert(symbol)
    }

    /// Removes a pair; returns whether it was present.
    pub fn remove(&mut self, channel: Channel, symbol: &Symbol) -> bool {
        let Some(symbols) = self.channels.get_mut(&channel) else {
            return false;
        };
        let removed = symbols.remove(symbol);
        if symbols.is_empty() {
            self.channels.remove(&channel);
        }
        removed
    }

    /// Whether the pair is in the set.
    pub fn contains(&self, channel: Channel, symbol: &Symbol) -> bool {
        self.channels
            .get(&channel)
            .is_some_and(|s| s.contains(symbol))
    }

    /// Whether the set holds no pair.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.channels.values().map(BTreeSet::len).sum()
    }

    /// The symbols of one channel (empty if none).
    pub fn symbols(&self, channel: Channel) -> impl Iterator<Item = &Symbol> + '_ {
        self.channels.get(&channel).into_iter().flatten()
    }

    /// The channels that hold at least one symbol.
    pub fn channels(&self) -> impl Iterator<Item = Channel> + '_ {
        self.channels.keys().copied()
    }

    /// Every pair, ordered by channel then symbol.
    pub fn iter(&self) -> impl Iterator<Item = (Channel, &Symbol)> + '_ {
        self.channels
            .iter()
            .flat_map(|(c, symbols)| symbols.iter().map(move |s| (*c, s)))
    }

    /// The pairs of `self` that are not in `other`.
    pub fn difference<'a>(
        &'a self,
        other: &'a Self,
    ) -> impl Iterator<Item = (Channel, &'a Symbol)> + 'a {
        self.iter().filter(move |(c, s)| !other.contains(*c, s))
    }

    /// This set without the channels the server manages itself
    /// (`corrections`, `cancelErrors`).
    pub fn without_server_managed(&self) -> Self {
        Self {
            channels: self
                .channels
                .iter()
                .filter(|(c, _)| !c.is_server_managed())
                .map(|(c, s)| (*c, s.clone()))
                .collect(),
        }
    }

    /// Removes every pair.
    pub fn clear(&mut self) {
        self.channels.clear();
    }
}

impl FromIterator<(Channel, Symbol)> for SubscriptionSet {
    fn from_iter<I: IntoIterator<Item = (Channel, Symbol)>>(iter: I) -> Self {
        let mut set = Self::new();
        for (c, s) in iter {
            set.insert(c, s);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn insert_remove_and_difference() {
        let mut a = SubscriptionSet::new();
        assert!(a.insert(Channel::Trades, sym("AAPL")));
        assert!(!a.insert(Channel::Trades, sym("AAPL")));
        a.insert(Channel::Quotes, sym("MSFT"));
        let mut b = SubscriptionSet::new();
        b.insert(Channel::Trades, sym("AAPL"));
        let diff: Vec<_> = a.difference(&b).collect();
        assert_eq!(diff, vec![(Channel::Quotes, &sym("MSFT"))]);
        assert!(a.remove(Channel::Quotes, &sym("MSFT")));
        assert_eq!(a, b);
        assert!(b.remove(Channel::Trades, &sym("AAPL")));
        assert!(b.is_empty());
        assert_eq!(b.channels().count(), 0);
    }
}
