//! Which snapshot quotes a stream delivers, sans-I/O.
//!
//! A transport asks its source for the latest quotes of symbols (an
//! *ask*) and later hands the answer over, beside the frames; live quotes
//! reach the application by the stream's queue, another path. The gate
//! sees both in the order the application gets them, and needs one more
//! landmark: the transport announces an ask before it hands the machine
//! the frame that precedes the request (the subscription's
//! acknowledgement), and sends the request only after. So the first
//! event other than data that the application gets after the
//! announcement (the acknowledgement's, or an earlier one) *arms* the ask:
//! live quotes before it left the source before the request did, and the
//! answer is at least as new as they are; live quotes after it may be
//! newer than the answer. An answer is delivered for a symbol only if no
//! live quote of it went by since its ask was armed (an answer that comes
//! before its ask is armed is delivered whole). So a snapshot is never
//! older than a live quote of its symbol already delivered. (A report of
//! dropped events arms too: it may stand for a dropped landmark, and
//! arming early only counts more live quotes against the answer.)

use std::collections::{HashMap, HashSet};

use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::{SubscriptionSet, Symbol};

/// Names one ask.
pub(crate) type AskId = u64;

/// A symbol some ask waits on.
#[derive(Debug)]
struct Waited {
    /// Asks waiting on it.
    asks: u32,
    /// Live quotes of it that went by while asks waited on it.
    live: u64,
}

/// One symbol of an ask.
#[derive(Debug, Default)]
struct Entry {
    /// The symbol's live count when the ask was armed.
    live_then: u64,
    /// Whether a subscription set confirmed since the ask was armed held
    /// the symbol's quotes.
    confirmed: bool,
}

/// One ask waiting for its answer.
#[derive(Debug)]
struct Ask {
    symbols: HashMap<Symbol, Entry>,
    armed: bool,
}

/// The asks waiting for their answers.
///
/// Inputs, in the order the application gets things:
/// [`handle_asked`](Self::handle_asked), [`handle_live`](Self::handle_live)
/// (each live data message), [`handle_landmark`](Self::handle_landmark)
/// (each other event of the machine, with the set it confirms if it is
/// [`Event::Confirmed`](tickwire_core::machine::Event::Confirmed), and each
/// report of dropped events), [`handle_answer`](Self::handle_answer)
/// (which returns the snapshots to deliver) and
/// [`handle_abandoned`](Self::handle_abandoned). Memory: the symbols of
/// the asks not answered yet. An answer costs one look-up per message
/// up to the last symbol asked for, and delivers at most one snapshot per
/// symbol asked for.
///
/// A symbol whose quotes a confirmed set held since its ask was armed,
/// and a later confirmed set lacks, was unsubscribed: the ask forgets it,
/// and its answer delivers no snapshot of it. (A set lacking it before
/// one holding it says nothing: it may be older than the subscription,
/// queued behind the event that armed the ask.)
#[derive(Debug, Default)]
pub(crate) struct SnapshotGate {
    asks: HashMap<AskId, Ask>,
    /// Asks not armed yet.
    unarmed: HashSet<AskId>,
    waited: HashMap<Symbol, Waited>,
}

impl SnapshotGate {
    /// The ask `id` for the latest quotes of `symbols` was announced.
    pub(crate) fn handle_asked(&mut self, id: AskId, symbols: Vec<Symbol>) {
        let mut entries: HashMap<Symbol, Entry> = HashMap::with_capacity(symbols.len());
        for symbol in symbols {
            if entries.contains_key(&symbol) {
                continue;
            }
            self.waited
                .entry(symbol.clone())
                .or_insert(Waited { asks: 0, live: 0 })
                .asks += 1;
            entries.insert(symbol, Entry::default());
        }
        let ask = Ask {
            symbols: entries,
            armed: false,
        };
        if let Some(old) = self.asks.insert(id, ask) {
            // An id used twice: the older ask is over.
            self.release(old.symbols.into_keys());
        }
        self.unarmed.insert(id);
    }

    /// Whether some ask waits for its answer.
    #[inline]
    pub(crate) fn has_asks(&self) -> bool {
        !self.asks.is_empty()
    }

    /// `data` was delivered live.
    #[inline]
    pub(crate) fn handle_live(&mut self, data: &MarketData) {
        if self.waited.is_empty() {
            return;
        }
        if let MarketData::Quote(quote) = data
            && let Some(waited) = self.waited.get_mut(&quote.symbol)
        {
            waited.live += 1;
        }
    }

    /// An event of the machine other than data was delivered (or a report
    /// of dropped events, which may stand for one): it arms every ask
    /// announced before it. `confirmed` is the set it confirms, if it is a
    /// confirmation.
    pub(crate) fn handle_landmark(&mut self, confirmed: Option<&SubscriptionSet<Channel>>) {
        for id in self.unarmed.drain() {
            let Some(ask) = self.asks.get_mut(&id) else {
                continue;
            };
            ask.armed = true;
            for (symbol, entry) in &mut ask.symbols {
                entry.live_then = self.waited.get(symbol).map_or(0, |w| w.live);
            }
        }
        let Some(set) = confirmed else {
            return;
        };
        let mut unsubscribed = Vec::new();
        for ask in self.asks.values_mut().filter(|ask| ask.armed) {
            ask.symbols.retain(|symbol, entry| {
                if set.contains(Channel::Quotes, symbol) {
                    entry.confirmed = true;
                    true
                } else if entry.confirmed {
                    unsubscribed.push(symbol.clone());
                    false
                } else {
                    true
                }
            });
        }
        self.release(unsubscribed);
    }

    /// The answer to ask `id`: the snapshots to deliver, in the answer's
    /// order, at most one per symbol asked for; quotes of symbols not
    /// asked for (or unsubscribed since), other messages, and quotes of
    /// symbols that went by live since the ask was armed are left out.
    pub(crate) fn handle_answer(&mut self, id: AskId, answer: Vec<MarketData>) -> Vec<MarketData> {
        let Some(Ask {
            symbols: mut entries,
            armed,
        }) = self.asks.remove(&id)
        else {
            return Vec::new();
        };
        self.unarmed.remove(&id);
        let mut delivered = Vec::with_capacity(entries.len().min(answer.len()));
        for data in answer {
            if entries.is_empty() {
                break;
            }
            let MarketData::Quote(quote) = &data else {
                continue;
            };
            let Some((symbol, entry)) = entries.remove_entry(&quote.symbol) else {
                continue;
            };
            let quiet = !armed
                || self
                    .waited
                    .get(&symbol)
                    .is_some_and(|w| w.live == entry.live_then);
            self.release_one(&symbol);
            if quiet {
                delivered.push(data);
            }
        }
        self.release(entries.into_keys());
        delivered
    }

    /// Ask `id` will not be answered.
    pub(crate) fn handle_abandoned(&mut self, id: AskId) {
        if let Some(ask) = self.asks.remove(&id) {
            self.unarmed.remove(&id);
            self.release(ask.symbols.into_keys());
        }
    }

    /// Symbols some ask waits on.
    #[cfg(test)]
    pub(crate) fn waited(&self) -> usize {
        self.waited.len()
    }

    fn release(&mut self, symbols: impl IntoIterator<Item = Symbol>) {
        for symbol in symbols {
            self.release_one(&symbol);
        }
    }

    fn release_one(&mut self, symbol: &Symbol) {
        if let Some(waited) = self.waited.get_mut(symbol) {
            waited.asks = waited.asks.saturating_sub(1);
            if waited.asks == 0 {
                self.waited.remove(symbol);
            }
        }
    }
}

/// A quote of `symbol` with `at` (a sequence number) as its time, for the
/// gate's and the stage's tests.
#[cfg(test)]
pub(crate) fn test_quote(symbol: Symbol, at: i64) -> MarketData {
    use tickwire_alpaca::{Conditions, Quote};
    MarketData::Quote(Quote {
        symbol,
        bid_exchange: None,
        bid_price: 1.0,
        bid_size: 1.0,
        ask_exchange: None,
        ask_price: 2.0,
        ask_size: 1.0,
        conditions: Conditions::default(),
        timestamp: tickwire_core::Timestamp::from_unix_nanos(at),
        tape: None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "BRK.B"];

    fn symbol(index: usize) -> Symbol {
        Symbol::new(SYMBOLS[index]).expect("valid")
    }

    /// A quote of `SYMBOLS[index]` with sequence number `at` as its time.
    fn quote(index: usize, at: i64) -> MarketData {
        test_quote(symbol(index), at)
    }

    #[test]
    fn an_answer_passes_unless_a_live_quote_went_by_since_the_ask_was_armed() {
        let mut gate = SnapshotGate::default();
        gate.handle_live(&quote(0, 1)); // before the ask: no matter
        gate.handle_asked(1, vec![symbol(0), symbol(1)]);
        // Queued before the acknowledgement: older than the answer.
        gate.handle_live(&quote(0, 2));
        gate.handle_landmark(None);
        gate.handle_live(&quote(1, 3));
        let delivered = gate.handle_answer(1, vec![quote(0, 2), quote(1, 2), quote(2, 1)]);
        assert_eq!(
            delivered,
            vec![quote(0, 2)],
            "MSFT went by live; BRK.B not asked"
        );
        assert_eq!(gate.waited(), 0);
        assert!(
            gate.handle_answer(1, vec![quote(0, 2)]).is_empty(),
            "answered once"
        );
    }

    #[test]
    fn an_answer_before_its_landmark_is_delivered_whole() {
        let mut gate = SnapshotGate::default();
        gate.handle_asked(7, vec![symbol(0), symbol(1)]);
        gate.handle_live(&quote(0, 1));
        let delivered = gate.handle_answer(7, vec![quote(1, 1), quote(0, 1)]);
        assert_eq!(delivered, vec![quote(1, 1), quote(0, 1)]);
        gate.handle_landmark(None);
        assert_eq!(gate.waited(), 0);
    }

    #[test]
    fn overlapping_asks_are_judged_each_from_its_own_landmark() {
        let mut gate = SnapshotGate::default();
        gate.handle_asked(1, vec![symbol(0)]);
        gate.handle_landmark(None);
        gate.handle_live(&quote(0, 5));
        gate.handle_asked(2, vec![symbol(0), symbol(0)]);
        gate.handle_landmark(None);
        assert!(gate.handle_answer(1, vec![quote(0, 4)]).is_empty());
        assert_eq!(
            gate.handle_answer(2, vec![quote(0, 5), quote(0, 5)]),
            vec![quote(0, 5)]
        );
        gate.handle_asked(3, vec![symbol(2)]);
        gate.handle_abandoned(3);
        assert_eq!(gate.waited(), 0);
    }

    fn set_of(indices: &[usize]) -> SubscriptionSet<Channel> {
        let mut set = SubscriptionSet::new();
        for index in indices {
            set.insert(Channel::Quotes, symbol(*index));
        }
        set
    }

    #[test]
    fn a_symbol_unsubscribed_before_the_answer_gets_no_snapshot() {
        let mut gate = SnapshotGate::default();
        gate.handle_asked(1, vec![symbol(0), symbol(1)]);
        // Armed by an earlier event; then a set confirmed before the
        // subscription (lacking both) was still queued: no matter.
        gate.handle_landmark(None);
        gate.handle_landmark(Some(&set_of(&[2])));
        // The subscription's acknowledgement, then the unsubscribe of AAPL.
        gate.handle_landmark(Some(&set_of(&[0, 1, 2])));
        gate.handle_landmark(Some(&set_of(&[1, 2])));
        assert_eq!(
            gate.handle_answer(1, vec![quote(0, 1), quote(1, 1)]),
            vec![quote(1, 1)],
            "AAPL was unsubscribed"
        );
        assert_eq!(gate.waited(), 0);
    }

    /// What happens, in the application's order.
    #[derive(Debug, Clone)]
    enum Step {
        /// The source publishes a new quote of a symbol; it goes by live.
        Live(usize),
        /// An ask for some symbols is announced.
        Ask(Vec<usize>),
        /// An event other than data goes by (the acknowledgement after
        /// which the requests of the asks announced so far leave).
        Landmark,
        /// A confirmation of the set of these symbols' quotes goes by (a
        /// landmark too).
        Confirmed([bool; 3]),
        /// The source serves the oldest ask sent and not served yet: its
        /// answer is the source's latest quotes now (live quotes published
        /// later may still go by before the answer arrives).
        Serve,
        /// The oldest served ask's answer arrives.
        Answer,
        /// The oldest ask is abandoned (its answer lost).
        Abandon,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..SYMBOLS.len()).prop_map(Step::Live),
            1 => proptest::collection::vec(0..SYMBOLS.len(), 0..4).prop_map(Step::Ask),
            1 => Just(Step::Landmark),
            1 => any::<[bool; 3]>().prop_map(Step::Confirmed),
            1 => Just(Step::Serve),
            1 => Just(Step::Answer),
            1 => Just(Step::Abandon),
        ]
    }

    /// An ask announced.
    struct Open {
        id: AskId,
        indices: Vec<usize>,
        /// Whether its request left.
        sent: bool,
        /// Its answer, once served.
        answer: Option<Vec<MarketData>>,
        /// Per symbol: whether a confirmed set held it since the ask was
        /// announced, and whether a later one lacked it since.
        held: [bool; 3],
        unsubscribed: [bool; 3],
    }

    proptest! {
        /// With a source that answers with its latest quotes when it serves
        /// an ask (newer quotes have larger times): no snapshot is older
        /// than a live quote of its symbol already delivered, each answer
        /// delivers at most one per symbol and only symbols asked for, none
        /// of a symbol a confirmed set held and a later one lacked since
        /// the ask, and once every ask is over the gate holds nothing.
        #[test]
        fn no_snapshot_is_older_than_live_data_delivered(steps in proptest::collection::vec(step(), 0..60)) {
            let mut gate = SnapshotGate::default();
            let mut clock: i64 = 0;
            // The source's latest quote time per symbol.
            let mut latest: [Option<i64>; 3] = [None; 3];
            // The newest live quote time delivered per symbol.
            let mut delivered_live: [Option<i64>; 3] = [None; 3];
            let mut open: std::collections::VecDeque<Open> = Default::default();
            let mut next_id = 0;
            for step in steps {
                match step {
                    Step::Live(index) => {
                        clock += 1;
                        latest[index] = Some(clock);
                        delivered_live[index] = Some(clock);
                        gate.handle_live(&quote(index, clock));
                    }
                    Step::Ask(indices) => {
                        next_id += 1;
                        gate.handle_asked(next_id, indices.iter().map(|i| symbol(*i)).collect());
                        open.push_back(Open { id: next_id, indices, sent: false, answer: None, held: [false; 3], unsubscribed: [false; 3] });
                    }
                    Step::Landmark => {
                        gate.handle_landmark(None);
                        open.iter_mut().for_each(|ask| ask.sent = true);
                    }
                    Step::Confirmed(mask) => {
                        let indices: Vec<usize> = (0..SYMBOLS.len()).filter(|i| mask[*i]).collect();
                        gate.handle_landmark(Some(&set_of(&indices)));
                        for ask in &mut open {
                            ask.sent = true;
                            for (i, held) in mask.iter().enumerate() {
                                if *held {
                                    ask.held[i] = true;
                                } else if ask.held[i] {
                                    ask.unsubscribed[i] = true;
                                }
                            }
                        }
                    }
                    Step::Serve => {
                        if let Some(ask) = open.iter_mut().find(|ask| ask.sent && ask.answer.is_none()) {
                            ask.answer = Some((0..SYMBOLS.len())
                                .filter_map(|i| latest[i].map(|at| quote(i, at)))
                                .collect());
                        }
                    }
                    Step::Answer => {
                        let Some(at) = open.iter().position(|ask| ask.answer.is_some()) else { continue };
                        let Some(Open { id, indices, answer: Some(answer), unsubscribed, .. }) = open.remove(at) else { continue };
                        let mut seen = Vec::new();
                        for snapshot in gate.handle_answer(id, answer) {
                            let MarketData::Quote(q) = &snapshot else {
                                prop_assert!(false, "not a quote: {:?}", snapshot);
                                continue;
                            };
                            let index = SYMBOLS.iter().position(|s| *s == q.symbol.as_str()).unwrap_or(0);
                            prop_assert!(indices.contains(&index), "not asked: {}", q.symbol);
                            prop_assert!(!seen.contains(&index), "twice: {}", q.symbol);
                            prop_assert!(!unsubscribed[index], "unsubscribed: {}", q.symbol);
                            seen.push(index);
                            let at = q.timestamp.unix_nanos();
                            prop_assert!(delivered_live[index].is_none_or(|live| at >= i128::from(live)),
                                "snapshot at {} older than live at {:?}", at, delivered_live[index]);
                        }
                    }
                    Step::Abandon => {
                        if let Some(ask) = open.pop_front() {
                            gate.handle_abandoned(ask.id);
                        }
                    }
                }
            }
            for ask in open.drain(..) {
                gate.handle_abandoned(ask.id);
            }
            prop_assert_eq!(gate.waited(), 0);
        }
    }
}
