//! `SubscriptionSet` through its public API: small sets by example, and
//! sets of hundreds to thousands of pairs (many chunks) against an ordered
//! set of pairs.

use std::collections::BTreeSet;
use std::fmt;

use proptest::prelude::*;
use tickwire_core::{ChannelKind, Symbol};

/// Two requestable channels and one the server manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Channel {
    Trades,
    Quotes,
    Corrections,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ChannelKind for Channel {
    fn is_server_managed(self) -> bool {
        self == Self::Corrections
    }
}

type SubscriptionSet = tickwire_core::SubscriptionSet<Channel>;

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

/// Pairs from a space of a few thousand, so that sets of hundreds overlap.
fn pairs(max: usize) -> impl Strategy<Value = Vec<(Channel, Symbol)>> {
    let channel =
        prop::sample::select(&[Channel::Trades, Channel::Quotes, Channel::Corrections][..]);
    prop::collection::vec((channel, 0u32..3_000), 0..max).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(c, n)| (c, Symbol::from_server(&format!("S{n}"))))
            .collect()
    })
}

type Model = BTreeSet<(Channel, Symbol)>;

fn owned<'a>(pairs: impl Iterator<Item = (Channel, &'a Symbol)>) -> Vec<(Channel, Symbol)> {
    pairs.map(|(c, s)| (c, s.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn large_sets_behave_as_ordered_sets_of_pairs(
        built in pairs(2_000),
        inserted in pairs(600),
        removed in pairs(600),
        other in pairs(1_000),
    ) {
        let mut set: SubscriptionSet = built.iter().cloned().collect();
        let mut model: Model = built.iter().cloned().collect();
        let before = set.clone();
        for (c, s) in &inserted {
            prop_assert_eq!(set.insert(*c, s.clone()), model.insert((*c, s.clone())));
        }
        for (c, s) in &removed {
            prop_assert_eq!(set.remove(*c, s), model.remove(&(*c, s.clone())));
        }
        prop_assert_eq!(before.len(), built.iter().collect::<BTreeSet<_>>().len(), "a clone keeps its pairs");
        let mut extended = before.clone();
        extended.extend(inserted.iter().cloned());
        let with: Model = built.iter().chain(&inserted).cloned().collect();
        prop_assert_eq!(owned(extended.iter()), with.into_iter().collect::<Vec<_>>());

        let other_set: SubscriptionSet = other.iter().cloned().collect();
        let other_model: Model = other.iter().cloned().collect();
        prop_assert_eq!(owned(set.iter()), model.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(set.len(), model.len());
        prop_assert_eq!(set == other_set, model == other_model);
        prop_assert_eq!(set.clone(), set.iter().map(|(c, s)| (c, s.clone())).collect::<SubscriptionSet>());
        prop_assert_eq!(
            owned(set.difference(&other_set)),
            model.difference(&other_model).cloned().collect::<Vec<_>>()
        );
        for (c, s) in other.iter().chain(&removed) {
            prop_assert_eq!(set.contains(*c, s), model.contains(&(*c, s.clone())));
        }
        let channels: BTreeSet<_> = model.iter().map(|(c, _)| *c).collect();
        prop_assert_eq!(set.channels().collect::<Vec<_>>(), channels.into_iter().collect::<Vec<_>>());
        for channel in [Channel::Trades, Channel::Quotes, Channel::Corrections] {
            let symbols: Vec<&Symbol> = model.iter().filter(|(c, _)| *c == channel).map(|(_, s)| s).collect();
            let listed = set.symbols(channel);
            prop_assert_eq!(listed.len(), symbols.len());
            prop_assert_eq!(listed.rev().collect::<Vec<_>>(), symbols.into_iter().rev().collect::<Vec<_>>());
        }
        let client: Vec<_> = model.iter().filter(|(c, _)| !c.is_server_managed()).cloned().collect();
        prop_assert_eq!(owned(set.without_server_managed().iter()), client);
        set.clear();
        prop_assert!(set.is_empty());
    }
}
