//! The latest quote of each symbol leased by name, sans-I/O: what the
//! leading relay answers snapshot requests with (see [`crate::snapshot`]).
//!
//! Memory is bounded by the leases: a symbol has a slot while at least one
//! live lease names it on the `quotes` channel (counted per lease, from the
//! [`InterestChange`]s the hub gets), and its slot, value included, goes
//! with its last lease. Quotes of symbols no lease names (those a `*`
//! lease brings) are not kept. A slot holds a copy of the quote's
//! published payload ([`payload`](crate::payload)) in a buffer of its own,
//! reused from quote to quote: recording costs one hash look-up and one
//! copy of the payload's bytes, and no allocation once the slot has one.
//! (The published payload itself is a slice of a buffer shared with other
//! messages, which a kept slice would keep alive whole.)
//!
//! The relay keeps one only while it leads, filled from the leases it
//! replays on taking the lead: a standby that takes over starts with no
//! values, and a symbol's first snapshot is its first quote since.

use std::collections::HashMap;

use tickwire_alpaca::Channel;
use tickwire_core::Symbol;

use crate::InterestChange;

/// One symbol leased by name.
#[derive(Debug)]
struct Slot {
    /// Live leases naming the symbol.
    leases: u32,
    /// The payload of its latest quote, once one came.
    latest: Option<Vec<u8>>,
}

/// The latest quote payload per symbol leased by name on `quotes`.
///
/// Inputs [`handle_change`](Self::handle_change) (every change the hub
/// gets, in order) and [`record`](Self::record) (every quote published);
/// output [`latest`](Self::latest).
///
/// ```
/// use tickwire_alpaca::Channel;
/// use tickwire_core::Symbol;
/// use tickwire_fanout::ClientId;
/// use tickwire_relay::{InterestChange, LastQuotes};
///
/// let aapl = Symbol::new("AAPL")?;
/// let mut last = LastQuotes::default();
/// let lease = InterestChange::Subscribe { client: ClientId(1), channel: Channel::Quotes, symbol: aapl.clone() };
/// last.handle_change(&lease);
/// last.record(&aapl, b"\x91\x80");
/// assert_eq!(last.latest(&aapl), Some(&b"\x91\x80"[..]));
/// last.handle_change(&InterestChange::Unsubscribe { client: ClientId(1), channel: Channel::Quotes, symbol: aapl.clone() });
/// assert_eq!(last.latest(&aapl), None, "forgotten with its last lease");
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
#[derive(Debug, Default)]
pub struct LastQuotes {
    slots: HashMap<Symbol, Slot>,
}

impl LastQuotes {
    /// A change of the leases, as applied to the hub: a `quotes` lease of
    /// a named symbol opens its slot (or counts one more), its end counts
    /// one less and, at the last, forgets the slot.
    pub fn handle_change(&mut self, change: &InterestChange) {
        match change {
            InterestChange::Subscribe {
                channel: Channel::Quotes,
                symbol,
                ..
            } if *symbol != Symbol::WILDCARD => {
                self.slots
                    .entry(symbol.clone())
                    .or_insert(Slot {
                        leases: 0,
                        latest: None,
                    })
                    .leases += 1;
            }
            InterestChange::Unsubscribe {
                channel: Channel::Quotes,
                symbol,
                ..
            } => {
                if let Some(slot) = self.slots.get_mut(symbol) {
                    slot.leases = slot.leases.saturating_sub(1);
                    if slot.leases == 0 {
                        self.slots.remove(symbol);
                    }
                }
            }
            _ => {}
        }
    }

    /// `payload` is the latest quote of `symbol`: if a lease names the
    /// symbol, its bytes are copied into the slot's buffer, reused from
    /// quote to quote (no allocation once it is large enough); ignored
    /// otherwise.
    #[inline]
    pub fn record(&mut self, symbol: &Symbol, payload: &[u8]) {
        if let Some(slot) = self.slots.get_mut(symbol) {
            let latest = slot.latest.get_or_insert_with(Vec::new);
            latest.clear();
            latest.extend_from_slice(payload);
        }
    }

    /// The payload of the latest quote of `symbol`, if a lease names it
    /// and a quote came since.
    pub fn latest(&self, symbol: &Symbol) -> Option<&[u8]> {
        self.slots.get(symbol)?.latest.as_deref()
    }

    /// Symbols with a slot (leased by name on `quotes`).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no symbol is leased by name on `quotes`.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use tickwire_fanout::ClientId;

    use super::*;

    fn symbol(text: &str) -> Symbol {
        Symbol::new(text).expect("valid")
    }

    fn change(subscribe: bool, client: u64, channel: Channel, text: &str) -> InterestChange {
        let (client, symbol) = (ClientId(client), symbol(text));
        if subscribe {
            InterestChange::Subscribe {
                client,
                channel,
                symbol,
            }
        } else {
            InterestChange::Unsubscribe {
                client,
                channel,
                symbol,
            }
        }
    }

    #[test]
    fn only_symbols_leased_by_name_on_quotes_are_kept() {
        let mut last = LastQuotes::default();
        last.handle_change(&change(true, 1, Channel::Quotes, "AAPL"));
        last.handle_change(&change(true, 1, Channel::Trades, "MSFT"));
        last.handle_change(&change(true, 2, Channel::Quotes, "*"));
        for text in ["AAPL", "MSFT", "TSLA"] {
            last.record(&symbol(text), text.as_bytes());
        }
        assert_eq!(last.len(), 1);
        assert_eq!(last.latest(&symbol("AAPL")), Some(&b"AAPL"[..]));
        assert_eq!(last.latest(&symbol("MSFT")), None, "a trades lease");
        assert_eq!(last.latest(&symbol("TSLA")), None, "only under `*`");
    }

    #[test]
    fn a_slot_lives_until_its_last_lease_ends() {
        let mut last = LastQuotes::default();
        let aapl = symbol("AAPL");
        last.handle_change(&change(true, 1, Channel::Quotes, "AAPL"));
        last.handle_change(&change(true, 2, Channel::Quotes, "AAPL"));
        last.record(&aapl, b"1");
        last.record(&aapl, b"22");
        last.record(&aapl, b"3");
        assert_eq!(last.latest(&aapl), Some(&b"3"[..]));
        last.handle_change(&change(false, 1, Channel::Quotes, "AAPL"));
        assert_eq!(last.latest(&aapl), Some(&b"3"[..]));
        last.handle_change(&change(false, 2, Channel::Quotes, "AAPL"));
        assert!(last.is_empty());
        // Leased again: no value until a new quote comes.
        last.handle_change(&change(true, 3, Channel::Quotes, "AAPL"));
        assert_eq!(last.latest(&aapl), None);
    }

    /// One step of a run: a lease begins or ends, or a quote is published.
    #[derive(Debug, Clone)]
    enum Step {
        Lease { client: u64, symbol: usize },
        Release { client: u64, symbol: usize },
        Quote { symbol: usize, value: u8 },
    }

    const SYMBOLS: [&str; 4] = ["AAPL", "MSFT", "BRK.B", "*"];

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3u64, 0..SYMBOLS.len()).prop_map(|(client, symbol)| Step::Lease { client, symbol }),
            (0..3u64, 0..SYMBOLS.len())
                .prop_map(|(client, symbol)| Step::Release { client, symbol }),
            (0..SYMBOLS.len(), any::<u8>())
                .prop_map(|(symbol, value)| Step::Quote { symbol, value }),
        ]
    }

    proptest! {
        /// Against a model (the live leases as a set, and every quote
        /// since each symbol's slot opened): the store holds a slot for
        /// exactly the named symbols some live lease holds, and its value
        /// is the latest quote recorded since the slot opened.
        #[test]
        fn the_store_follows_the_leases(steps in proptest::collection::vec(step(), 0..80)) {
            let mut last = LastQuotes::default();
            // (client, symbol) leases live, as the interest emits them: one
            // subscribe per new lease, one unsubscribe per ended lease.
            let mut leases: BTreeMap<(u64, usize), ()> = BTreeMap::new();
            let mut model: BTreeMap<usize, Option<u8>> = BTreeMap::new();
            for step in steps {
                match step {
                    Step::Lease { client, symbol } => {
                        if leases.insert((client, symbol), ()).is_none() {
                            last.handle_change(&change(true, client, Channel::Quotes, SYMBOLS[symbol]));
                            if SYMBOLS[symbol] != "*" {
                                model.entry(symbol).or_insert(None);
                            }
                        }
                    }
                    Step::Release { client, symbol } => {
                        if leases.remove(&(client, symbol)).is_some() {
                            last.handle_change(&change(false, client, Channel::Quotes, SYMBOLS[symbol]));
                            if !leases.keys().any(|(_, s)| *s == symbol) {
                                model.remove(&symbol);
                            }
                        }
                    }
                    Step::Quote { symbol, value } => {
                        last.record(&self::symbol(SYMBOLS[symbol]), &[value]);
                        if let Some(slot) = model.get_mut(&symbol) {
                            *slot = Some(value);
                        }
                    }
                }
                prop_assert_eq!(last.len(), model.len());
                for (index, text) in SYMBOLS.iter().enumerate() {
                    let expected = model.get(&index).copied().flatten().map(|v| vec![v]);
                    prop_assert_eq!(last.latest(&symbol(text)).map(<[u8]>::to_vec), expected, "{}", text);
                }
            }
        }
    }
}
