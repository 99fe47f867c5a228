//! Sets of (channel, symbol) pairs: what a stream wants and what a server confirmed.

use std::cmp::Ordering;
use std::fmt;
use std::iter::{FusedIterator, Peekable};
use std::sync::Arc;

use crate::{ChannelKind, Symbol};

/// A set of symbols per channel.
///
/// Used for the desired set (what the application asked for), the confirmed
/// set (what the server's last acknowledgement said) and request diffs.
/// Pairs are kept sorted by channel then symbol, so iterating, comparing
/// and diffing two sets are linear walks. They are held in chunks of at
/// most a few hundred, which clones share until one of them changes a
/// chunk: a server's acknowledgement, the machine's confirmed set and the
/// event that reports it are one list, and a set of thousands with a few
/// hundred pairs added copies the chunks those land in, not the set.
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
#[derive(Clone)]
pub struct SubscriptionSet<C> {
    /// Non-empty chunks, strictly ascending across them; each shared by
    /// clones until one changes it.
    chunks: Vec<Chunk<C>>,
}

/// Pairs of a set, in order.
type Chunk<C> = Arc<Vec<(C, Symbol)>>;

/// Most pairs in a chunk (a few in tests, so that small sets span chunks).
const CHUNK_MAX: usize = if cfg!(test) { 4 } else { 256 };

/// A place in a set: a chunk and a position in it, or past the end.
type Cursor = (usize, usize);

/// Orders a stored pair against a (channel, symbol) key without building one.
#[inline]
fn cmp_pair<C: Ord>(pair: &(C, Symbol), channel: C, symbol: &Symbol) -> Ordering {
    pair.0.cmp(&channel).then_with(|| pair.1.cmp(symbol))
}

/// The last pair of a chunk (chunks are never empty).
#[inline]
fn last<C>(chunk: &Chunk<C>) -> &(C, Symbol) {
    &chunk[chunk.len() - 1]
}

impl<C> Default for SubscriptionSet<C> {
    fn default() -> Self {
        Self { chunks: Vec::new() }
    }
}

impl<C> SubscriptionSet<C> {
    /// Whether this set and `other` are clones that share their pairs.
    pub(crate) fn shares_pairs_with(&self, other: &Self) -> bool {
        self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(mine, theirs)| Arc::ptr_eq(mine, theirs))
    }

    /// Every pair, in order.
    fn pairs(&self) -> Pairs<'_, C> {
        self.range(self.cursor_at(0), self.end())
    }

    /// The cursor past the last pair.
    fn end(&self) -> Cursor {
        (self.chunks.len(), 0)
    }

    /// The cursor at position `index` (past the end if there is none).
    fn cursor_at(&self, mut index: usize) -> Cursor {
        for (chunk, pairs) in self.chunks.iter().enumerate() {
            if index < pairs.len() {
                return (chunk, index);
            }
            index -= pairs.len();
        }
        self.end()
    }

    /// The pairs from `start` up to `end`.
    fn range(&self, (chunk, offset): Cursor, (end, end_offset): Cursor) -> Pairs<'_, C> {
        let pairs = |chunk: usize| self.chunks.get(chunk).map_or(&[][..], |c| &c[..]);
        if chunk >= end {
            return Pairs::new(&pairs(chunk)[offset..end_offset.max(offset)], &[], &[]);
        }
        let middle = &self.chunks[chunk + 1..end];
        Pairs::new(&pairs(chunk)[offset..], middle, &pairs(end)[..end_offset])
    }
}

impl<C: ChannelKind> SubscriptionSet<C> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of these pairs, which must be strictly ascending.
    fn from_sorted(pairs: Vec<(C, Symbol)>) -> Self {
        if pairs.len() <= CHUNK_MAX {
            let chunks = if pairs.is_empty() {
                Vec::new()
            } else {
                vec![Arc::new(pairs)]
            };
            return Self { chunks };
        }
        let mut out = Chunker::default();
        out.extend(&pairs);
        Self {
            chunks: out.finish(),
        }
    }

    /// Adds a pair; returns whether it was new.
    pub fn insert(&mut self, channel: C, symbol: Symbol) -> bool {
        let Some(end) = self.chunks.len().checked_sub(1) else {
            self.chunks.push(Arc::new(vec![(channel, symbol)]));
            return true;
        };
        // The chunk that holds the pair's place, or the last one past them all.
        let index = self
            .chunks
            .partition_point(|chunk| cmp_pair(last(chunk), channel, &symbol) == Ordering::Less)
            .min(end);
        let Err(at) = self.chunks[index].binary_search_by(|pair| cmp_pair(pair, channel, &symbol))
        else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[index]);
        chunk.insert(at, (channel, symbol));
        if chunk.len() > CHUNK_MAX {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(index + 1, Arc::new(tail));
        }
        true
    }

    /// Removes a pair; returns whether it was present.
    pub fn remove(&mut self, channel: C, symbol: &Symbol) -> bool {
        let index = self
            .chunks
            .partition_point(|chunk| cmp_pair(last(chunk), channel, symbol) == Ordering::Less);
        let Some(chunk) = self.chunks.get_mut(index) else {
            return false;
        };
        let Ok(at) = chunk.binary_search_by(|pair| cmp_pair(pair, channel, symbol)) else {
            return false;
        };
        if chunk.len() == 1 {
            self.chunks.remove(index);
        } else {
            Arc::make_mut(chunk).remove(at);
        }
        true
    }

    /// Adds the pairs of `channel` with these symbols, which must be
    /// strictly ascending: one merge into the chunks they land in.
    pub(crate) fn insert_all(&mut self, channel: C, symbols: &[Symbol]) {
        *self = self.with_change(true, symbols.iter().map(|s| (channel, s)));
    }

    /// Removes the pairs of `channel` with these symbols, which must be
    /// strictly ascending: one merge into the chunks they are in.
    pub(crate) fn remove_all(&mut self, channel: C, symbols: &[Symbol]) {
        *self = self.with_change(false, symbols.iter().map(|s| (channel, s)));
    }

    /// Lookups of ascending pairs, each starting where the last one ended:
    /// checking a sorted list of `k` pairs against the set costs `k` times
    /// the log of the distance between them, not of the set's size.
    pub(crate) fn ascending_lookup(&self) -> AscendingLookup<'_, C> {
        self.ascending_lookup_from(0)
    }

    /// [`Self::ascending_lookup`] of the pairs from position `start` on.
    pub(crate) fn ascending_lookup_from(&self, start: usize) -> AscendingLookup<'_, C> {
        let (chunk, offset) = self.cursor_at(start);
        AscendingLookup {
            rest: self.chunks.get(chunk).map_or(&[], |c| &c[offset..]),
            chunks: self.chunks.get(chunk + 1..).unwrap_or_default(),
        }
    }

    /// How many leading pairs this set and `other` share, position by
    /// position: below that, neither holds a pair the other lacks.
    pub(crate) fn common_prefix_len(&self, other: &Self) -> usize {
        // Chunks shared at the same place hold the same pairs.
        let shared: usize = self
            .chunks
            .iter()
            .zip(&other.chunks)
            .take_while(|(mine, theirs)| Arc::ptr_eq(mine, theirs))
            .map(|(mine, _)| mine.len())
            .sum();
        shared
            + self
                .iter_from(shared)
                .zip(other.iter_from(shared))
                .take_while(|(mine, theirs)| mine == theirs)
                .count()
    }

    /// The pairs from position `start` on, in order.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = (C, &Symbol)> + '_ {
        self.range(self.cursor_at(start), self.end())
            .map(|(c, s)| (*c, s))
    }

    /// Whether the pair is in the set.
    pub fn contains(&self, channel: C, symbol: &Symbol) -> bool {
        let index = self
            .chunks
            .partition_point(|chunk| cmp_pair(last(chunk), channel, symbol) == Ordering::Less);
        self.chunks.get(index).is_some_and(|chunk| {
            chunk
                .binary_search_by(|pair| cmp_pair(pair, channel, symbol))
                .is_ok()
        })
    }

    /// Whether the set holds no pair.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|chunk| chunk.len()).sum()
    }

    /// The symbols of one channel (empty if none).
    pub fn symbols(
        &self,
        channel: C,
    ) -> impl ExactSizeIterator<Item = &Symbol> + DoubleEndedIterator + '_ {
        let start = self.partition_point(|(c, _)| *c < channel);
        let end = self.partition_point(|(c, _)| *c <= channel);
        self.range(start, end).map(|(_, s)| s)
    }

    /// The channels that hold at least one symbol.
    pub fn channels(&self) -> impl Iterator<Item = C> + '_ {
        let mut next = self.cursor_at(0);
        std::iter::from_fn(move || {
            let (channel, _) = self.chunks.get(next.0)?[next.1];
            next = self.partition_point(|(c, _)| *c <= channel);
            Some(channel)
        })
    }

    /// Every pair, ordered by channel then symbol.
    pub fn iter(&self) -> impl Iterator<Item = (C, &Symbol)> + '_ {
        self.pairs().map(|(c, s)| (*c, s))
    }

    /// The pairs of `self` that are not in `other`, ordered by channel then symbol.
    pub fn difference<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = (C, &'a Symbol)> + 'a {
        Difference {
            left: self.pairs(),
            right: other.pairs().peekable(),
        }
    }

    /// The pairs in exactly one of `self` and `other`, ordered by channel
    /// then symbol, each with the set it is in: one merge walk over both.
    pub(crate) fn symmetric_difference<'a>(
        &'a self,
        other: &'a Self,
    ) -> impl Iterator<Item = (Side, C, &'a Symbol)> + 'a {
        SymmetricDifference {
            this: self.pairs().peekable(),
            other: other.pairs().peekable(),
        }
    }

    /// This set without the channels the server manages itself
    /// (`corrections`, `cancelErrors`).
    pub fn without_server_managed(&self) -> Self {
        Self::from_sorted(
            self.pairs()
                .filter(|(c, _)| !c.is_server_managed())
                .cloned()
                .collect(),
        )
    }

    /// Makes this set `other` without its server-managed channels: shares
    /// `other`'s chunks when it has none, else copies the others.
    pub(crate) fn assign_without_server_managed(&mut self, other: &Self) {
        if other.channels().any(C::is_server_managed) {
            *self = other.without_server_managed();
        } else {
            self.chunks.clone_from(&other.chunks);
        }
    }

    /// This set with `items` (strictly ascending) added, or removed when
    /// `add` is false: each chunk an item lands in is merged with its items
    /// in one pass, the others are shared.
    pub(crate) fn with_change<'i>(
        &self,
        add: bool,
        items: impl IntoIterator<Item = (C, &'i Symbol)>,
    ) -> Self {
        let mut items = items.into_iter().peekable();
        let mut out = Chunker::default();
        for (index, chunk) in self.chunks.iter().enumerate() {
            // The last chunk takes what is added past it.
            let takes_rest = add && index + 1 == self.chunks.len();
            let lands = |(c, s): &(C, &Symbol)| {
                takes_rest || cmp_pair(last(chunk), *c, s) != Ordering::Less
            };
            if !items.peek().is_some_and(lands) {
                out.share(chunk);
                continue;
            }
            let mut rest = &chunk[..];
            while let Some((c, s)) = items.next_if(lands) {
                let at = rest.partition_point(|pair| cmp_pair(pair, c, s) == Ordering::Less);
                out.extend(&rest[..at]);
                rest = &rest[at..];
                if rest.first().is_some_and(|pair| pair.0 == c && pair.1 == *s) {
                    rest = &rest[1..];
                }
                if add {
                    out.push((c, s.clone()));
                }
            }
            out.extend(rest);
        }
        if add && self.chunks.is_empty() {
            items.for_each(|(c, s)| out.push((c, s.clone())));
        }
        Self {
            chunks: out.finish(),
        }
    }

    /// Removes every pair.
    pub fn clear(&mut self) {
        self.chunks.clear();
    }

    /// The cursor at the first pair for which `before` is false (`before`
    /// must hold of a prefix of the set).
    fn partition_point(&self, before: impl Fn(&(C, Symbol)) -> bool) -> Cursor {
        let chunk = self.chunks.partition_point(|c| before(last(c)));
        match self.chunks.get(chunk) {
            Some(pairs) => (chunk, pairs.partition_point(&before)),
            None => self.end(),
        }
    }
}

/// Builds a set's chunks from runs of pairs (in order) and whole chunks.
struct Chunker<C> {
    chunks: Vec<Chunk<C>>,
    /// The chunk being filled.
    current: Vec<(C, Symbol)>,
}

impl<C> Default for Chunker<C> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            current: Vec::new(),
        }
    }
}

impl<C: Clone> Chunker<C> {
    fn push(&mut self, pair: (C, Symbol)) {
        if self.current.len() == CHUNK_MAX {
            self.flush();
            self.current.reserve_exact(CHUNK_MAX);
        }
        self.current.push(pair);
    }

    fn extend(&mut self, mut pairs: &[(C, Symbol)]) {
        while !pairs.is_empty() {
            if self.current.len() == CHUNK_MAX {
                self.flush();
            }
            let (run, rest) = pairs.split_at(pairs.len().min(CHUNK_MAX - self.current.len()));
            self.current.extend_from_slice(run);
            pairs = rest;
        }
    }

    /// Appends `chunk` shared, or copied into the chunk being filled when
    /// both fit in one: a merge leaves no run of tiny chunks behind.
    fn share(&mut self, chunk: &Chunk<C>) {
        if !self.current.is_empty() && self.current.len() + chunk.len() <= CHUNK_MAX {
            self.current.extend_from_slice(chunk);
        } else {
            self.flush();
            self.chunks.push(Arc::clone(chunk));
        }
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.chunks
                .push(Arc::new(std::mem::take(&mut self.current)));
        }
    }

    fn finish(mut self) -> Vec<Chunk<C>> {
        self.flush();
        self.chunks
    }
}

/// The pairs of a range of a set, in order, from both ends.
#[derive(Debug, Clone)]
struct Pairs<'a, C> {
    front: std::slice::Iter<'a, (C, Symbol)>,
    middle: std::slice::Iter<'a, Chunk<C>>,
    back: std::slice::Iter<'a, (C, Symbol)>,
    len: usize,
}

impl<'a, C> Pairs<'a, C> {
    fn new(front: &'a [(C, Symbol)], middle: &'a [Chunk<C>], back: &'a [(C, Symbol)]) -> Self {
        let len = front.len() + middle.iter().map(|c| c.len()).sum::<usize>() + back.len();
        Self {
            front: front.iter(),
            middle: middle.iter(),
            back: back.iter(),
            len,
        }
    }
}

impl<'a, C> Iterator for Pairs<'a, C> {
    type Item = &'a (C, Symbol);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(pair) = self.front.next() {
                self.len -= 1;
                return Some(pair);
            }
            match self.middle.next() {
                Some(chunk) => self.front = chunk.iter(),
                None => {
                    let pair = self.back.next()?;
                    self.len -= 1;
                    return Some(pair);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl<C> DoubleEndedIterator for Pairs<'_, C> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(pair) = self.back.next_back() {
                self.len -= 1;
                return Some(pair);
            }
            match self.middle.next_back() {
                Some(chunk) => self.back = chunk.iter(),
                None => {
                    let pair = self.front.next_back()?;
                    self.len -= 1;
                    return Some(pair);
                }
            }
        }
    }
}

impl<C> ExactSizeIterator for Pairs<'_, C> {}

impl<C> FusedIterator for Pairs<'_, C> {}

/// The pairs of a sorted walk missing from another: a merge walk.
struct Difference<'a, C> {
    left: Pairs<'a, C>,
    right: Peekable<Pairs<'a, C>>,
}

impl<'a, C: Copy + Ord> Iterator for Difference<'a, C> {
    type Item = (C, &'a Symbol);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let pair = self.left.next()?;
            loop {
                let Some(other) = self.right.peek() else {
                    return Some((pair.0, &pair.1));
                };
                match (*other).cmp(pair) {
                    Ordering::Less => {
                        self.right.next();
                    }
                    Ordering::Equal => {
                        self.right.next();
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
    /// The pairs of the current chunk from the last symbol looked up on.
    rest: &'a [(C, Symbol)],
    /// The chunks after it.
    chunks: &'a [Chunk<C>],
}

impl<C: Ord + Copy> AscendingLookup<'_, C> {
    /// Whether the pair, at or above every pair looked up before, is in the
    /// set.
    pub(crate) fn contains(&mut self, channel: C, symbol: &Symbol) -> bool {
        let past = |pairs: &[(C, Symbol)]| {
            pairs
                .last()
                .is_none_or(|last| cmp_pair(last, channel, symbol) == Ordering::Less)
        };
        if past(self.rest) {
            // Not in this chunk: on to the first that ends at or above it.
            let skipped = self.chunks.partition_point(|chunk| past(chunk));
            let Some((chunk, after)) = self.chunks[skipped..].split_first() else {
                (self.rest, self.chunks) = (&[], &[]);
                return false;
            };
            (self.rest, self.chunks) = (chunk, after);
        }
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

/// The pairs of two sorted walks found in only one of them: a merge walk.
struct SymmetricDifference<'a, C> {
    this: Peekable<Pairs<'a, C>>,
    other: Peekable<Pairs<'a, C>>,
}

impl<'a, C: Copy + Ord> Iterator for SymmetricDifference<'a, C> {
    type Item = (Side, C, &'a Symbol);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let side = match (self.this.peek(), self.other.peek()) {
                (None, None) => return None,
                (Some(_), None) => Side::This,
                (None, Some(_)) => Side::Other,
                (Some(this), Some(other)) => match this.cmp(other) {
                    Ordering::Less => Side::This,
                    Ordering::Greater => Side::Other,
                    Ordering::Equal => {
                        self.this.next();
                        self.other.next();
                        continue;
                    }
                },
            };
            let pair = match side {
                Side::This => self.this.next(),
                Side::Other => self.other.next(),
            }?;
            return Some((side, pair.0, &pair.1));
        }
    }
}

impl<C: Copy + Ord> FusedIterator for SymmetricDifference<'_, C> {}

impl<C: ChannelKind> FromIterator<(C, Symbol)> for SubscriptionSet<C> {
    fn from_iter<I: IntoIterator<Item = (C, Symbol)>>(iter: I) -> Self {
        let mut pairs: Vec<_> = iter.into_iter().collect();
        if !pairs.is_sorted_by(|a, b| a < b) {
            pairs.sort_unstable();
            pairs.dedup();
        }
        Self::from_sorted(pairs)
    }
}

impl<C: ChannelKind> Extend<(C, Symbol)> for SubscriptionSet<C> {
    fn extend<I: IntoIterator<Item = (C, Symbol)>>(&mut self, iter: I) {
        let mut items: Vec<_> = iter.into_iter().collect();
        items.sort_unstable();
        items.dedup();
        *self = self.with_change(true, items.iter().map(|(c, s)| (*c, s)));
    }
}

/// Sets are equal when they hold the same pairs, however chunked.
impl<C: PartialEq> PartialEq for SubscriptionSet<C> {
    fn eq(&self, other: &Self) -> bool {
        self.shares_pairs_with(other) || self.pairs().eq(other.pairs())
    }
}

impl<C: Eq> Eq for SubscriptionSet<C> {}

/// Printed as the set of its pairs, in order: `{(Trades, "AAPL"), (Quotes, "MSFT")}`.
impl<C: fmt::Debug> fmt::Debug for SubscriptionSet<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubscriptionSet ")?;
        f.debug_set().entries(self.pairs()).finish()
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
        assert!(confirmed.shares_pairs_with(&ack), "shared");
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
            prop_assert_eq!(owned(&mut set.with_change(true, items.iter().map(|(c, s)| (*c, s))).iter()), listed(&with));
            let without: Model = model.difference(&other_model).cloned().collect();
            prop_assert_eq!(owned(&mut set.with_change(false, items.iter().map(|(c, s)| (*c, s))).iter()), listed(&without));
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
