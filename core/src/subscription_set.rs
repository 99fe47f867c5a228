//! Sets of (channel, symbol) pairs: what a stream wants and what a server confirmed.

use std::cmp::Ordering;
use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;

use crate::{ChannelKind, Symbol};

/// A set of symbols per channel.
///
/// Used for the desired set (what the application asked for), the confirmed
/// set (what the server's last acknowledgement said) and request diffs.
/// Pairs are kept sorted by channel then symbol, so iterating, comparing
/// and diffing two sets are linear walks. Clones share the pairs until one
/// of them changes: a server's acknowledgement, the machine's confirmed set
/// and the event that reports it are one list.
///
/// ```
/// use tickwire_core::{ChannelKind, Symbol, SubscriptionSet};
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// # enum Channel { Quotes }
/// # impl std::fmt::Display for Channel {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("quotes") }
/// # }
/// # impl ChannelKind for Channel { fn is_server_managed(self) -> bool { false } }
/// let mut set = SubscriptionSet::new();
/// set.insert(Channel::Quotes, Symbol::new("AAPL")?);
/// assert!(set.contains(Channel::Quotes, &Symbol::new("AAPL")?));
/// assert_eq!(set.len(), 1);
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriptionSet<C> {
    /// Strictly ascending; shared by clones until one changes.
    pairs: Arc<Vec<(C, Symbol)>>,
}

/// Orders a stored pair against a (channel, symbol) key without building one.
#[inline]
fn cmp_pair<C: Ord>(pair: &(C, Symbol), channel: C, symbol: &Symbol) -> Ordering {
    pair.0.cmp(&channel).then_with(|| pair.1.cmp(symbol))
}

impl<C> Default for SubscriptionSet<C> {
    fn default() -> Self {
        Self {
            pairs: Arc::default(),
        }
    }
}

impl<C: ChannelKind> SubscriptionSet<C> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pairs, to change: copied first if a clone shares them.
    fn pairs_mut(&mut self) -> &mut Vec<(C, Symbol)> {
        Arc::make_mut(&mut self.pairs)
    }

    /// Adds a pair; returns whether it was new.
    pub fn insert(&mut self, channel: C, symbol: Symbol) -> bool {
        // Servers list symbols in order: appending is the common case.
        let after_last = self
            .pairs
            .last()
            .is_none_or(|last| cmp_pair(last, channel, &symbol) == Ordering::Less);
        if after_last {
            self.pairs_mut().push((channel, symbol));
            return true;
        }
        match self.search(channel, &symbol) {
            Ok(_) => false,
            Err(index) => {
                self.pairs_mut().insert(index, (channel, symbol));
                true
            }
        }
    }

    /// Removes a pair; returns whether it was present.
    pub fn remove(&mut self, channel: C, symbol: &Symbol) -> bool {
        match self.search(channel, symbol) {
            Ok(index) => {
                self.pairs_mut().remove(index);
                true
            }
            Err(_) => false,
        }
    }

    /// Adds the pairs of `channel` with these symbols, which must be
    /// strictly ascending: one merge of the two sorted lists (one by one,
    /// each insertion would move the set's tail).
    pub(crate) fn insert_all(&mut self, channel: C, symbols: &[Symbol]) {
        debug_assert!(symbols.is_sorted_by(|a, b| a < b), "strictly ascending");
        let start = self.pairs.partition_point(|(c, _)| *c < channel);
        let end = start + self.pairs[start..].partition_point(|(c, _)| *c == channel);
        let present = &self.pairs[start..end];
        // Appending past the channel's last symbol is the common case of a
        // first subscribe; it needs no merge.
        if present
            .last()
            .is_none_or(|(_, last)| symbols.first().is_none_or(|first| last < first))
        {
            self.pairs_mut()
                .splice(end..end, symbols.iter().map(|s| (channel, s.clone())));
            return;
        }
        let mut merged = Vec::with_capacity(present.len() + symbols.len());
        let (mut old, mut new) = (present.iter().peekable(), symbols.iter().peekable());
        loop {
            let pair = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => old.next().cloned(),
                (None, Some(_)) => new.next().map(|s| (channel, s.clone())),
                (Some((_, o)), Some(n)) => match o.cmp(n) {
                    Ordering::Less => old.next().cloned(),
                    Ordering::Greater => new.next().map(|s| (channel, s.clone())),
                    Ordering::Equal => {
                        new.next();
                        old.next().cloned()
                    }
                },
            };
            merged.extend(pair);
        }
        self.pairs_mut().splice(start..end, merged);
    }

    /// Removes the pairs of `channel` with these symbols, which must be
    /// strictly ascending, in one pass over the set (one by one, each
    /// removal would move the set's tail).
    pub(crate) fn remove_all(&mut self, channel: C, symbols: &[Symbol]) {
        debug_assert!(symbols.is_sorted_by(|a, b| a < b), "strictly ascending");
        if symbols.len() < 8 {
            for symbol in symbols {
                self.remove(channel, symbol);
            }
            return;
        }
        let mut gone = symbols.iter().peekable();
        self.pairs_mut().retain(|(c, s)| {
            if *c != channel {
                return true;
            }
            while gone.next_if(|g| *g < s).is_some() {}
            gone.next_if(|g| *g == s).is_none()
        });
    }

    /// Lookups of ascending pairs, each starting where the last one ended:
    /// checking a sorted list of `k` pairs against the set costs `k` times
    /// the log of the distance between them, not of the set's size.
    pub(crate) fn ascending_lookup(&self) -> AscendingLookup<'_, C> {
        self.ascending_lookup_from(0)
    }

    /// [`Self::ascending_lookup`] of the pairs from position `start` on.
    pub(crate) fn ascending_lookup_from(&self, start: usize) -> AscendingLookup<'_, C> {
        AscendingLookup {
            rest: self.pairs.get(start..).unwrap_or_default(),
        }
    }

    /// How many leading pairs this set and `other` share, position by
    /// position: below that, neither holds a pair the other lacks.
    pub(crate) fn common_prefix_len(&self, other: &Self) -> usize {
        self.pairs
            .iter()
            .zip(other.pairs.iter())
            .take_while(|(mine, theirs)| mine == theirs)
            .count()
    }

    /// The pairs from position `start` on, in order.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = (C, &Symbol)> + '_ {
        self.pairs
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(|(c, s)| (*c, s))
    }

    /// Whether the pair is in the set.
    pub fn contains(&self, channel: C, symbol: &Symbol) -> bool {
        self.search(channel, symbol).is_ok()
    }

    fn search(&self, channel: C, symbol: &Symbol) -> Result<usize, usize> {
        self.pairs
            .binary_search_by(|pair| cmp_pair(pair, channel, symbol))
    }

    /// Whether the set holds no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// The symbols of one channel (empty if none).
    pub fn symbols(
        &self,
        channel: C,
    ) -> impl ExactSizeIterator<Item = &Symbol> + DoubleEndedIterator + '_ {
        let start = self.pairs.partition_point(|(c, _)| *c < channel);
        let end = start + self.pairs[start..].partition_point(|(c, _)| *c == channel);
        self.pairs[start..end].iter().map(|(_, s)| s)
    }

    /// The channels that hold at least one symbol.
    pub fn channels(&self) -> impl Iterator<Item = C> + '_ {
        self.pairs.chunk_by(|a, b| a.0 == b.0).map(|run| run[0].0)
    }

    /// Every pair, ordered by channel then symbol.
    pub fn iter(&self) -> impl Iterator<Item = (C, &Symbol)> + '_ {
        self.pairs.iter().map(|(c, s)| (*c, s))
    }

    /// The pairs of `self` that are not in `other`, ordered by channel then symbol.
    pub fn difference<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = (C, &'a Symbol)> + 'a {
        Difference {
            left: &self.pairs,
            right: &other.pairs,
        }
    }

    /// The pairs in exactly one of `self` and `other`, ordered by channel
    /// then symbol, each with the set it is in: one merge walk over both.
    pub(crate) fn symmetric_difference<'a>(
        &'a self,
        other: &'a Self,
    ) -> impl Iterator<Item = (Side, C, &'a Symbol)> + 'a {
        SymmetricDifference {
            this: &self.pairs,
            other: &other.pairs,
        }
    }

    /// This set without the channels the server manages itself
    /// (`corrections`, `cancelErrors`).
    pub fn without_server_managed(&self) -> Self {
        Self {
            pairs: Arc::new(self.client_pairs().cloned().collect()),
        }
    }

    /// Makes this set `other` without its server-managed channels: shares
    /// `other`'s pairs when it has none, else copies the others.
    pub(crate) fn assign_without_server_managed(&mut self, other: &Self) {
        if other.has_server_managed() {
            self.pairs = Arc::new(other.client_pairs().cloned().collect());
        } else {
            self.pairs = Arc::clone(&other.pairs);
        }
    }

    /// Whether this set and `other` are clones that share their pairs.
    pub(crate) fn shares_pairs_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.pairs, &other.pairs)
    }

    /// Whether a pair of a server-managed channel is in the set: one look
    /// per channel, not per pair.
    fn has_server_managed(&self) -> bool {
        let mut rest = &self.pairs[..];
        while let Some(&(channel, _)) = rest.first() {
            if channel.is_server_managed() {
                return true;
            }
            rest = &rest[rest.partition_point(|(c, _)| *c == channel)..];
        }
        false
    }

    /// This set with `items` (ascending) added, or removed when `add` is
    /// false: one merge of the two sorted lists.
    pub(crate) fn with_change(&self, add: bool, items: &[(C, Symbol)]) -> Self {
        debug_assert!(items.is_sorted(), "ascending");
        let mut pairs = Vec::with_capacity(self.pairs.len() + if add { items.len() } else { 0 });
        // The runs between the items are copied whole.
        let mut rest = &self.pairs[..];
        for item in items {
            let at = rest.partition_point(|pair| pair < item);
            pairs.extend_from_slice(&rest[..at]);
            rest = &rest[at..];
            let listed = rest.first() == Some(item);
            if listed {
                rest = &rest[1..];
            }
            if add {
                pairs.push(item.clone());
            }
        }
        pairs.extend_from_slice(rest);
        Self {
            pairs: Arc::new(pairs),
        }
    }

    fn client_pairs(&self) -> impl Iterator<Item = &(C, Symbol)> + '_ {
        self.pairs.iter().filter(|(c, _)| !c.is_server_managed())
    }

    /// Removes every pair.
    pub fn clear(&mut self) {
        match Arc::get_mut(&mut self.pairs) {
            Some(pairs) => pairs.clear(),
            None => self.pairs = Arc::default(),
        }
    }

    /// Restores the order after pairs were appended from `sorted_len` on.
    fn restore_order(&mut self, sorted_len: usize) {
        let appended = &self.pairs[sorted_len.saturating_sub(1)..];
        if !appended.is_sorted_by(|a, b| a < b) {
            let pairs = self.pairs_mut();
            pairs.sort_unstable();
            pairs.dedup();
        }
    }
}

/// The pairs of a sorted slice missing from another: a merge walk.
struct Difference<'a, C> {
    left: &'a [(C, Symbol)],
    right: &'a [(C, Symbol)],
}

impl<'a, C: Copy + Ord> Iterator for Difference<'a, C> {
    type Item = (C, &'a Symbol);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (pair, rest) = self.left.split_first()?;
            self.left = rest;
            loop {
                let Some((other, others)) = self.right.split_first() else {
                    return Some((pair.0, &pair.1));
                };
                match other.cmp(pair) {
                    Ordering::Less => self.right = others,
                    Ordering::Equal => {
                        self.right = others;
                        break;
                    }
                    Ordering::Greater => return Some((pair.0, &pair.1)),
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left.len()))
    }
}

impl<C: Copy + Ord> FusedIterator for Difference<'_, C> {}

/// See [`SubscriptionSet::ascending_lookup`].
#[derive(Debug)]
pub(crate) struct AscendingLookup<'a, C> {
    /// The channel's pairs from the last symbol looked up on.
    rest: &'a [(C, Symbol)],
}

impl<C: Ord + Copy> AscendingLookup<'_, C> {
    /// Whether the pair, at or above every pair looked up before, is in the
    /// set.
    pub(crate) fn contains(&mut self, channel: C, symbol: &Symbol) -> bool {
        // Gallop to a window that holds the pair's place, then search it.
        let mut bound = 1;
        while bound < self.rest.len()
            && cmp_pair(&self.rest[bound - 1], channel, symbol) == Ordering::Less
        {
            bound *= 2;
        }
        let window = &self.rest[..bound.min(self.rest.len())];
        match window.binary_search_by(|pair| cmp_pair(pair, channel, symbol)) {
            Ok(index) => {
                self.rest = &self.rest[index + 1..];
                true
            }
            Err(index) => {
                self.rest = &self.rest[index..];
                false
            }
        }
    }
}

/// Which of two sets a pair is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The set the method was called on.
    This,
    /// The set passed to it.
    Other,
}

/// The pairs of two sorted slices found in only one of them: a merge walk.
struct SymmetricDifference<'a, C> {
    this: &'a [(C, Symbol)],
    other: &'a [(C, Symbol)],
}

impl<'a, C: Copy + Ord> Iterator for SymmetricDifference<'a, C> {
    type Item = (Side, C, &'a Symbol);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let side = match (self.this.first(), self.other.first()) {
                (None, None) => return None,
                (Some(_), None) => Side::This,
                (None, Some(_)) => Side::Other,
                (Some(this), Some(other)) => match this.cmp(other) {
                    Ordering::Less => Side::This,
                    Ordering::Greater => Side::Other,
                    Ordering::Equal => {
                        self.this = &self.this[1..];
                        self.other = &self.other[1..];
                        continue;
                    }
                },
            };
            let rest = match side {
                Side::This => &mut self.this,
                Side::Other => &mut self.other,
            };
            let (pair, others) = rest.split_first()?;
            *rest = others;
            return Some((side, pair.0, &pair.1));
        }
    }
}

impl<C: Copy + Ord> FusedIterator for SymmetricDifference<'_, C> {}

impl<C: ChannelKind> FromIterator<(C, Symbol)> for SubscriptionSet<C> {
    fn from_iter<I: IntoIterator<Item = (C, Symbol)>>(iter: I) -> Self {
        let mut set = Self {
            pairs: Arc::new(iter.into_iter().collect()),
        };
        set.restore_order(0);
        set
    }
}

impl<C: ChannelKind> Extend<(C, Symbol)> for SubscriptionSet<C> {
    fn extend<I: IntoIterator<Item = (C, Symbol)>>(&mut self, iter: I) {
        let sorted_len = self.pairs.len();
        self.pairs_mut().extend(iter);
        self.restore_order(sorted_len);
    }
}

/// Printed as the set of its pairs, in order: `{(Trades, "AAPL"), (Quotes, "MSFT")}`.
impl<C: fmt::Debug> fmt::Debug for SubscriptionSet<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubscriptionSet ")?;
        f.debug_set().entries(self.pairs.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::test_channel::Channel;
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    type SubscriptionSet = super::SubscriptionSet<Channel>;

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

    #[test]
    fn bulk_building_sorts_and_drops_repeats() {
        let pairs = [
            (Channel::Quotes, sym("B")),
            (Channel::Trades, sym("Z")),
            (Channel::Quotes, sym("A")),
            (Channel::Quotes, sym("B")),
        ];
        let set: SubscriptionSet = pairs.iter().cloned().collect();
        let mut extended = SubscriptionSet::new();
        extended.insert(Channel::Quotes, sym("A"));
        extended.extend(pairs.iter().cloned());
        for set in [&set, &extended] {
            let items: Vec<_> = set.iter().collect();
            assert_eq!(
                items,
                vec![
                    (Channel::Trades, &sym("Z")),
                    (Channel::Quotes, &sym("A")),
                    (Channel::Quotes, &sym("B")),
                ]
            );
        }
        assert_eq!(set, extended);
    }

    #[test]
    fn removing_many_keeps_other_channels_and_absent_symbols_are_ignored() {
        let names: Vec<String> = (0..20).map(|i| format!("S{i:02}")).collect();
        let mut set: SubscriptionSet = names
            .iter()
            .flat_map(|n| [(Channel::Quotes, sym(n)), (Channel::Trades, sym(n))])
            .collect();
        // Every other symbol, and one that is not there.
        let mut gone: Vec<Symbol> = names.iter().step_by(2).map(|n| sym(n)).collect();
        gone.push(sym("NOPE"));
        gone.sort();
        set.remove_all(Channel::Quotes, &gone);
        let quotes: Vec<_> = set
            .symbols(Channel::Quotes)
            .map(|s| s.to_string())
            .collect();
        let odd: Vec<_> = names.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(quotes, odd);
        assert_eq!(set.symbols(Channel::Trades).count(), 20);
        // A few symbols take the one-by-one path, with the same result.
        set.remove_all(Channel::Trades, &[sym("NOPE"), sym("S00")]);
        assert_eq!(set.symbols(Channel::Trades).count(), 19);
        assert!(!set.contains(Channel::Trades, &sym("S00")));
    }

    #[test]
    fn debug_shows_the_pairs_in_order() {
        let set: SubscriptionSet = [
            (Channel::Quotes, sym("MSFT")),
            (Channel::Trades, sym("AAPL")),
            (Channel::Quotes, sym("AAPL")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            format!("{set:?}"),
            r#"SubscriptionSet {(Trades, "AAPL"), (Quotes, "AAPL"), (Quotes, "MSFT")}"#
        );
    }

    #[test]
    fn assigning_without_server_managed_drops_them_and_shares_otherwise() {
        let mut confirmed = SubscriptionSet::new();
        let mut ack = SubscriptionSet::new();
        ack.insert(Channel::Trades, sym("A"));
        ack.insert(Channel::Corrections, sym("A"));
        confirmed.assign_without_server_managed(&ack);
        assert_eq!(confirmed, ack.without_server_managed());
        ack.remove(Channel::Corrections, &sym("A"));
        confirmed.assign_without_server_managed(&ack);
        assert_eq!(confirmed, ack);
        assert!(Arc::ptr_eq(&confirmed.pairs, &ack.pairs), "shared");
        // Changing one copies it first: the other keeps its pairs.
        ack.remove(Channel::Trades, &sym("A"));
        assert!(ack.is_empty());
        assert!(confirmed.contains(Channel::Trades, &sym("A")));
        confirmed.clear();
        assert!(confirmed.is_empty());
    }

    /// The reference model: the former representation's behaviour.
    type Model = BTreeSet<(Channel, Symbol)>;

    fn pair() -> impl Strategy<Value = (Channel, Symbol)> {
        (
            prop::sample::select(&Channel::ALL[..]),
            prop::sample::select(&["*", "A", "AA", "B", "BTC/USD", "Z"][..]),
        )
            .prop_map(|(c, s)| (c, sym(s)))
    }

    fn pairs() -> impl Strategy<Value = Vec<(Channel, Symbol)>> {
        prop::collection::vec(pair(), 0..12)
    }

    proptest! {
        #[test]
        fn sets_behave_as_ordered_sets_of_pairs(
            a in pairs(),
            b in pairs(),
            removed in pairs(),
            extra in pairs(),
        ) {
            let mut set = SubscriptionSet::new();
            let mut model = Model::new();
            for (c, s) in &a {
                prop_assert_eq!(set.insert(*c, s.clone()), model.insert((*c, s.clone())));
            }
            for (c, s) in &removed {
                prop_assert_eq!(set.remove(*c, s), model.remove(&(*c, s.clone())));
            }
            set.extend(extra.iter().cloned());
            model.extend(extra.iter().cloned());
            let other: SubscriptionSet = b.iter().cloned().collect();
            let other_model: Model = b.iter().cloned().collect();

            let listed = |m: &Model| m.iter().map(|(c, s)| (*c, s.clone())).collect::<Vec<_>>();
            let owned = |i: &mut dyn Iterator<Item = (Channel, &Symbol)>| {
                i.map(|(c, s)| (c, s.clone())).collect::<Vec<_>>()
            };
            prop_assert_eq!(owned(&mut set.iter()), listed(&model));
            prop_assert_eq!(owned(&mut other.iter()), listed(&other_model));
            prop_assert_eq!(set.len(), model.len());
            prop_assert_eq!(set.is_empty(), model.is_empty());
            prop_assert_eq!(set == other, model == other_model);
            let difference: Model = model.difference(&other_model).cloned().collect();
            let symmetric: Vec<_> = model
                .symmetric_difference(&other_model)
                .map(|(c, s)| {
                    let side = if model.contains(&(*c, s.clone())) { Side::This } else { Side::Other };
                    (side, *c, s.clone())
                })
                .collect();
            prop_assert_eq!(
                set.symmetric_difference(&other).map(|(side, c, s)| (side, c, s.clone())).collect::<Vec<_>>(),
                symmetric
            );
            prop_assert_eq!(owned(&mut set.difference(&other)), listed(&difference));
            for (c, s) in a.iter().chain(&b) {
                prop_assert_eq!(set.contains(*c, s), model.contains(&(*c, s.clone())));
            }
            let channels: BTreeSet<_> = model.iter().map(|(c, _)| *c).collect();
            prop_assert_eq!(set.channels().collect::<Vec<_>>(), channels.iter().copied().collect::<Vec<_>>());
            for channel in Channel::ALL {
                let symbols: Vec<_> = model.iter().filter(|(c, _)| *c == channel).map(|(_, s)| s).collect();
                prop_assert_eq!(set.symbols(channel).collect::<Vec<_>>(), symbols);
            }
            let mut assigned = other.clone();
            let managed: Model = model.iter().filter(|(c, _)| !c.is_server_managed()).cloned().collect();
            assigned.assign_without_server_managed(&set);
            prop_assert_eq!(owned(&mut assigned.iter()), listed(&managed));
            prop_assert_eq!(&assigned, &set.without_server_managed());

            // Merged changes, bulk edits and ordered lookups.
            let items: Vec<(Channel, Symbol)> = other_model.iter().cloned().collect();
            let with: Model = model.union(&other_model).cloned().collect();
            prop_assert_eq!(owned(&mut set.with_change(true, &items).iter()), listed(&with));
            let without: Model = model.difference(&other_model).cloned().collect();
            prop_assert_eq!(owned(&mut set.with_change(false, &items).iter()), listed(&without));
            let mut lookup = set.ascending_lookup();
            for (c, s) in &items {
                prop_assert_eq!(lookup.contains(*c, s), model.contains(&(*c, s.clone())));
            }
            for channel in Channel::ALL {
                let symbols: Vec<Symbol> = other_model
                    .iter()
                    .filter(|(c, _)| *c == channel)
                    .map(|(_, s)| s.clone())
                    .collect();
                let mut bulk = set.clone();
                bulk.insert_all(channel, &symbols);
                let mut expected = model.clone();
                expected.extend(symbols.iter().map(|s| (channel, s.clone())));
                prop_assert_eq!(owned(&mut bulk.iter()), listed(&expected));
                bulk.remove_all(channel, &symbols);
                expected.retain(|(c, s)| *c != channel || !symbols.contains(s));
                prop_assert_eq!(owned(&mut bulk.iter()), listed(&expected));
            }
            let prefix = set.common_prefix_len(&other);
            prop_assert!(set.iter().take(prefix).eq(other.iter().take(prefix)));
            prop_assert!(set.iter().nth(prefix).is_none() || set.iter().nth(prefix) != other.iter().nth(prefix));
        }
    }
}
