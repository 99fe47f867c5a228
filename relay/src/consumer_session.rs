//! A relay consumer's side of Alpaca's protocol, sans-I/O: what the
//! machine's requests mean in leases, and which answer the relay's
//! [`ConsumerState`]s make.
//!
//! The machine speaks to a [`RelayTransport`](crate::RelayTransport) as
//! to an Alpaca socket. A subscribe leases its pairs (written with
//! [`ASK`](crate::ASK)) and is answered once the relay's state, at the
//! leases' revision or later, shows each pair acknowledged or refused:
//! with the subscription frame of what the relay acknowledged, after an
//! error frame carrying the upstream's code when a pair was refused (the
//! machine then asks for the pairs one at a time, and the refusal, kept,
//! answers the single pair at once: the outcome a direct stream gives). An
//! unsubscribe releases its pairs and is answered at once. A pair the
//! relay refuses later (after an upstream reconnect) is released and
//! reported the same way. Once a subscribe's `quotes` pairs are
//! acknowledged, their symbols' snapshots are asked for.

use std::collections::{HashMap, VecDeque};

use tickwire_alpaca::{
    Channel, Encoding, Feed, ServerMessage, SubscriptionSet, encode_market_frame,
};
use tickwire_core::{Frame, Symbol};
use tickwire_proxy::request_check::{check, requestable};

use crate::ConsumerState;

/// The code given to the machine for a refusal that came without one.
const REFUSED_CODE_DEFAULT: u16 = 405;

/// One (channel, symbol).
pub type Pair = (Channel, Symbol);

/// What the driver does for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// Listen to the pairs' data subjects, then write their leases with
    /// [`ASK`](crate::ASK); report the highest revision written with
    /// [`ConsumerSession::handle_leased`].
    Lease(Vec<Pair>),
    /// Stop listening to the pairs and delete their leases.
    Release(Vec<Pair>),
    /// Hand this frame to the machine.
    Answer(Frame),
    /// Ask the leading relay for the latest quotes of these symbols (see
    /// [`crate::snapshot`]): their `quotes` subscription is acknowledged
    /// by the answer that follows (a `*` asks for none). Announce the ask
    /// to the stream now, and send the request once the next
    /// [`Answer`](Self::Answer), always the subscription frame, was
    /// handed over.
    Snapshot(Vec<Symbol>),
}

/// A request not answered yet.
#[derive(Debug)]
struct Pending {
    pairs: Vec<Pair>,
    /// The highest revision of its leases, once written.
    revision: Option<u64>,
}

/// One consumer's leases and the machine's requests in flight.
///
/// Inputs `handle_subscribe`, `handle_unsubscribe`, `handle_leased`,
/// `handle_state`; output [`poll_action`](Self::poll_action), to perform in
/// order after every input. [`reset`](Self::reset) at each new connection.
#[derive(Debug)]
pub struct ConsumerSession {
    feed: Feed,
    leased: SubscriptionSet,
    /// Refusals kept to answer the machine's retry of a single pair.
    refused: HashMap<Pair, (Option<u16>, String)>,
    pending: VecDeque<Pending>,
    relay: ConsumerState,
    actions: VecDeque<SessionAction>,
}

impl ConsumerSession {
    /// A session of `feed`, holding nothing.
    pub fn new(feed: Feed) -> Self {
        Self {
            feed,
            leased: SubscriptionSet::new(),
            refused: HashMap::new(),
            pending: VecDeque::new(),
            relay: ConsumerState::default(),
            actions: VecDeque::new(),
        }
    }

    /// The pairs leased.
    pub fn leased(&self) -> &SubscriptionSet {
        &self.leased
    }

    /// A new connection: nothing leased in it yet (the machine subscribes
    /// everything again), no request pending, no state from the relay.
    pub fn reset(&mut self) {
        self.leased = SubscriptionSet::new();
        self.refused.clear();
        self.pending.clear();
        self.relay = ConsumerState::default();
        self.actions.clear();
    }

    /// The machine asks for `set`.
    pub fn handle_subscribe(&mut self, set: SubscriptionSet) {
        let set = requestable(set);
        if let Err((code, message)) = check(self.feed, &set) {
            self.answer_error(Some(code), message);
            return;
        }
        let pairs: Vec<Pair> = set.iter().map(|(c, s)| (c, s.clone())).collect();
        if pairs.is_empty() {
            self.answer_set();
            return;
        }
        let known: Vec<(Option<u16>, String)> = pairs
            .iter()
            .filter_map(|pair| self.refused.get(pair).cloned())
            .collect();
        for pair in &pairs {
            self.refused.remove(pair);
        }
        if known.len() == pairs.len()
            && let Some((code, message)) = known.into_iter().next()
        {
            // Every pair was refused already: say so again at once.
            self.answer_error(code, &message);
            self.answer_set();
            return;
        }
        for (channel, symbol) in &pairs {
            self.leased.insert(*channel, symbol.clone());
        }
        self.pending.push_back(Pending {
            pairs: pairs.clone(),
            revision: None,
        });
        self.actions.push_back(SessionAction::Lease(pairs));
    }

    /// The machine lets go of `set`: released and answered at once.
    pub fn handle_unsubscribe(&mut self, set: &SubscriptionSet) {
        let mut released = Vec::new();
        for (channel, symbol) in set.iter() {
            self.refused.remove(&(channel, symbol.clone()));
            if self.leased.remove(channel, symbol) {
                released.push((channel, symbol.clone()));
            }
        }
        if !released.is_empty() {
            self.actions.push_back(SessionAction::Release(released));
        }
        self.answer_set();
    }

    /// The leases of the oldest [`SessionAction::Lease`] not reported yet
    /// were written, the last at `revision`.
    pub fn handle_leased(&mut self, revision: u64) {
        if let Some(pending) = self.pending.iter_mut().find(|p| p.revision.is_none()) {
            pending.revision = Some(revision);
        }
        self.resolve();
    }

    /// The relay published this consumer's state.
    pub fn handle_state(&mut self, state: ConsumerState) {
        if state.revision < self.relay.revision {
            return; // an older snapshot
        }
        self.relay = state;
        self.resolve();
        // Pairs the relay refused that no request waits for: refused after
        // they were acknowledged (the upstream reconnected).
        let waited: Vec<&Pair> = self.pending.iter().flat_map(|p| &p.pairs).collect();
        let unsolicited: Vec<(Pair, Option<u16>, String)> = self
            .relay
            .refused
            .iter()
            .filter(|r| self.leased.contains(r.channel, &r.symbol))
            .map(|r| ((r.channel, r.symbol.clone()), r.code, r.message.clone()))
            .filter(|(pair, _, _)| !waited.contains(&pair))
            .collect();
        if let Some((_, code, message)) = unsolicited.first().cloned() {
            self.release_refused(&unsolicited);
            self.answer_error(code, &message);
            self.answer_set();
        }
    }

    /// The next action.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<SessionAction> {
        self.actions.pop_front()
    }

    /// Answers the requests from the oldest while the relay's state settles them.
    fn resolve(&mut self) {
        while let Some(pending) = self.pending.front() {
            let Some(revision) = pending.revision else {
                return;
            };
            if self.relay.revision < revision {
                return;
            }
            let mut refused = Vec::new();
            for (channel, symbol) in &pending.pairs {
                if self.relay.acked.contains(*channel, symbol) {
                    continue;
                }
                match self
                    .relay
                    .refused
                    .iter()
                    .find(|r| r.channel == *channel && r.symbol == *symbol)
                {
                    Some(r) => {
                        refused.push(((*channel, symbol.clone()), r.code, r.message.clone()))
                    }
                    None => return, // still awaiting the upstream
                }
            }
            let Some(pending) = self.pending.pop_front() else {
                return;
            };
            let quotes: Vec<Symbol> = pending
                .pairs
                .into_iter()
                .filter(|(channel, symbol)| {
                    *channel == Channel::Quotes
                        && *symbol != Symbol::WILDCARD
                        && self.relay.acked.contains(*channel, symbol)
                })
                .map(|(_, symbol)| symbol)
                .collect();
            if let Some((_, code, message)) = refused.first().cloned() {
                self.release_refused(&refused);
                self.answer_error(code, &message);
            }
            // Announced after the error frame, so that the answer it is
            // sent after is the subscription frame: the error's event may
            // be dropped by a slow consumer, the subscription's is not.
            if !quotes.is_empty() {
                self.actions.push_back(SessionAction::Snapshot(quotes));
            }
            self.answer_set();
        }
    }

    /// Releases refused pairs and keeps their refusals.
    fn release_refused(&mut self, refused: &[(Pair, Option<u16>, String)]) {
        let mut released = Vec::new();
        for (pair, code, message) in refused {
            if self.leased.remove(pair.0, &pair.1) {
                released.push(pair.clone());
            }
            self.refused.insert(pair.clone(), (*code, message.clone()));
        }
        if !released.is_empty() {
            self.actions.push_back(SessionAction::Release(released));
        }
    }

    /// The subscription frame of what the relay acknowledged of the leases.
    fn answer_set(&mut self) {
        let set: SubscriptionSet = self
            .relay
            .acked
            .iter()
            .filter(|(c, s)| self.leased.contains(*c, s))
            .map(|(c, s)| (c, s.clone()))
            .collect();
        let frame = ServerMessage::subscription_frame(
            Encoding::MsgPack,
            &set,
            self.feed.has_trade_followers(),
        );
        self.actions.push_back(SessionAction::Answer(frame));
    }

    fn answer_error(&mut self, code: Option<u16>, message: &str) {
        let frame = encode_market_frame(
            Encoding::MsgPack,
            &[ServerMessage::Error {
                code: code.unwrap_or(REFUSED_CODE_DEFAULT),
                message: message.to_owned(),
            }],
        );
        self.actions.push_back(SessionAction::Answer(frame));
    }
}

#[cfg(test)]
#[path = "consumer_session_tests.rs"]
mod tests;
