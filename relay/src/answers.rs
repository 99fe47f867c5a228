//! Which consumers the leading relay owes a [`ConsumerState`], and what it
//! says: the bookkeeping between lease entries, the hub's per-client
//! answers and the control subjects. Sans-I/O.

use std::collections::{BTreeSet, HashMap};

use tickwire_alpaca::Channel;
use tickwire_fanout::FanoutHub;

use crate::subject::is_consumer_id;
use crate::{ConsumerState, Interest, RefusedPair};

/// The message given for a refused pair when the upstream's was not kept.
const REFUSED_DEFAULT: &str = "refused by the upstream";

/// Per consumer: the last lease revision applied, whether a state is due,
/// and the upstream's last refusal of its pairs.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    revisions: HashMap<String, u64>,
    due: BTreeSet<String>,
    refusals: HashMap<String, (Option<u16>, String)>,
}

impl Answers {
    /// A lease entry of `key` at `revision` was applied; `ask` when it was
    /// written with [`ASK`](crate::ASK), which calls for an answer.
    pub(crate) fn handle_entry(&mut self, key: &str, revision: u64, ask: bool) {
        let Some((_, consumer)) = key.rsplit_once('.') else {
            return;
        };
        if !is_consumer_id(consumer) {
            return;
        }
        let last = self.revisions.entry(consumer.to_owned()).or_default();
        *last = (*last).max(revision);
        if ask {
            self.due.insert(consumer.to_owned());
        }
    }

    /// The hub answered `consumer` (an ack, or a refusal with its code and
    /// message).
    pub(crate) fn handle_answer(&mut self, consumer: &str, refusal: Option<(Option<u16>, String)>) {
        if let Some(refusal) = refusal {
            self.refusals.insert(consumer.to_owned(), refusal);
        }
        self.due.insert(consumer.to_owned());
    }

    /// The consumers owed a state, each once; forgets those that hold no
    /// lease any more once they have had it.
    pub(crate) fn take_due(&mut self, interest: &Interest) -> Vec<String> {
        if self.due.is_empty() {
            return Vec::new();
        }
        let due: Vec<String> = std::mem::take(&mut self.due).into_iter().collect();
        self.revisions
            .retain(|consumer, _| interest.client_of(consumer).is_some() || due.contains(consumer));
        self.refusals
            .retain(|consumer, _| interest.client_of(consumer).is_some());
        due
    }

    /// Forgets what is owed (a relay that stopped leading answers nobody).
    pub(crate) fn clear_due(&mut self) {
        self.due.clear();
    }

    /// `consumer`'s state: its leased pairs the upstream acknowledged (in
    /// the hub's set and not awaiting), and those it refused (leased, but
    /// out of the hub's set).
    pub(crate) fn state(
        &self,
        consumer: &str,
        interest: &Interest,
        hub: &FanoutHub<Channel>,
    ) -> ConsumerState {
        let mut state = ConsumerState {
            revision: self.revisions.get(consumer).copied().unwrap_or(0),
            ..ConsumerState::default()
        };
        let Some(client) = interest.client_of(consumer) else {
            return state;
        };
        let set = hub.client_set(client);
        if let Some(set) = set {
            for (channel, symbol) in set.iter() {
                if !hub.is_awaiting(channel, symbol) {
                    state.acked.insert(channel, symbol.clone());
                }
            }
        }
        let (code, message) = self
            .refusals
            .get(consumer)
            .cloned()
            .unwrap_or((None, REFUSED_DEFAULT.to_owned()));
        for (channel, symbol) in interest.leases_of(client) {
            if !set.is_some_and(|set| set.contains(channel, symbol)) {
                state.refused.push(RefusedPair {
                    channel,
                    symbol: symbol.clone(),
                    code,
                    message: message.clone(),
                });
            }
        }
        state
            .refused
            .sort_by(|a, b| (a.channel, &a.symbol).cmp(&(b.channel, &b.symbol)));
        state
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tickwire_core::Symbol;
    use tickwire_core::machine::SubscriptionOutcome;
    use tickwire_fanout::{ClientOutput, UpstreamCommand};

    use super::*;

    fn apply(interest: &mut Interest, hub: &mut FanoutHub<Channel>) {
        while let Some(change) = interest.poll_change() {
            change.apply(hub);
        }
    }

    #[test]
    fn a_state_tells_acked_awaiting_and_refused_pairs_apart() {
        let now = Instant::now();
        let mut interest = Interest::new(tickwire_alpaca::Feed::Iex, Duration::from_secs(10));
        let mut hub = FanoutHub::new();
        let mut answers = Answers::default();
        for (revision, key) in [(3, "iex.quotes.AAPL.c"), (4, "iex.quotes.ZZZZ.c")] {
            interest
                .handle_put(now, key, Duration::ZERO)
                .expect("valid");
            answers.handle_entry(key, revision, true);
        }
        apply(&mut interest, &mut hub);
        let state = answers.state("c", &interest, &hub);
        assert_eq!(state.revision, 4);
        assert!(
            state.acked.is_empty() && state.refused.is_empty(),
            "both await the upstream"
        );
        assert_eq!(answers.take_due(&interest), ["c"]);

        let zzzz = Symbol::new("ZZZZ").expect("valid");
        while let Some(command) = hub.poll_upstream() {
            let UpstreamCommand::Subscribe { token, symbols, .. } = command else {
                panic!("only subscribes upstream")
            };
            let outcome = if symbols.contains(&zzzz) {
                SubscriptionOutcome::Rejected {
                    code: Some(410),
                    message: "invalid symbol".into(),
                    symbols: vec![zzzz.clone()],
                }
            } else {
                SubscriptionOutcome::Acknowledged
            };
            hub.handle_upstream_outcome(token, &outcome);
        }
        while let Some(output) = hub.poll_client() {
            if let ClientOutput::Refused { code, message, .. } = output {
                answers.handle_answer("c", Some((code, message)));
            }
        }
        let state = answers.state("c", &interest, &hub);
        assert!(
            state
                .acked
                .contains(Channel::Quotes, &Symbol::new("AAPL").expect("valid"))
        );
        assert_eq!(state.acked.len(), 1);
        assert_eq!(
            state.refused,
            [RefusedPair {
                channel: Channel::Quotes,
                symbol: zzzz,
                code: Some(410),
                message: "invalid symbol".into()
            }]
        );
        assert_eq!(answers.take_due(&interest), ["c"]);
        assert!(answers.take_due(&interest).is_empty(), "owed once");
    }

    #[test]
    fn a_refresh_owes_nothing_and_malformed_keys_are_ignored() {
        let mut answers = Answers::default();
        let interest = Interest::new(tickwire_alpaca::Feed::Iex, Duration::from_secs(10));
        answers.handle_entry("iex.quotes.AAPL.c", 5, false);
        answers.handle_entry("nodots", 6, true);
        answers.handle_entry("iex.quotes.AAPL.bad consumer", 7, true);
        assert!(answers.take_due(&interest).is_empty());
    }
}
