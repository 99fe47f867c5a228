//! Desired and confirmed subscription sets, the request in flight, and the
//! bookkeeping that settles each command with an outcome.

use std::collections::BTreeMap;

use crate::protocol::SubscriptionOp;
use crate::subscription_set::{AscendingLookup, Side};
use crate::{ChannelKind, SubscriptionSet, Symbol};

use super::{RequestId, SubscriptionOutcome};

/// How many acknowledgements may leave out a requested change before the
/// change is given up as refused by the server.
const ACKS_MISSED_MAX: u8 = 3;

/// The request sent and not yet answered.
#[derive(Debug, Clone)]
pub(crate) struct InFlight<C> {
    pub(crate) op: SubscriptionOp,
    pub(crate) items: Vec<(C, Symbol)>,
    /// The confirmed set as it will be once the request takes effect: what
    /// its acknowledgement is expected to list.
    pub(crate) expected: SubscriptionSet<C>,
}

impl<C: ChannelKind> InFlight<C> {
    fn contains(&self, op: SubscriptionOp, channel: C, symbol: &Symbol) -> bool {
        self.op == op && self.items.iter().any(|(c, s)| *c == channel && s == symbol)
    }
}

/// A command not yet settled.
#[derive(Debug, Clone)]
struct PendingCommand<C> {
    id: RequestId,
    op: SubscriptionOp,
    channel: C,
    symbols: Vec<Symbol>,
    refused: Vec<Symbol>,
    refusal: Option<(Option<u16>, String)>,
}

/// A settled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled<C> {
    pub(crate) id: RequestId,
    pub(crate) channel: C,
    pub(crate) outcome: SubscriptionOutcome,
}

/// Subscription bookkeeping of one stream.
#[derive(Debug, Clone)]
pub(crate) struct Subscriptions<C> {
    desired: SubscriptionSet<C>,
    confirmed: SubscriptionSet<C>,
    in_flight: Option<InFlight<C>>,
    /// Removals the server refused on this connection; not asked again until reconnect.
    refused_removals: SubscriptionSet<C>,
    /// Acknowledgements that left out a requested change, per pair, on this connection.
    acks_missed: BTreeMap<(C, Symbol), u8>,
    pending: Vec<PendingCommand<C>>,
    last_request: u64,
    /// Most items per request on this connection: halved when the server
    /// refuses a request of several items, to find which ones it refuses.
    request_items_max: usize,
    /// Pairs refused that no pending command named (e.g. re-subscriptions
    /// after a reconnect), waiting to be reported.
    refused_unclaimed: Vec<Refused<C>>,
    /// Whether anything an outcome depends on (the sets, the request in
    /// flight, the pending commands) changed since [`Self::settle`] last ran.
    settle_due: bool,
}

/// Pairs of one channel the server refused, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused<C> {
    pub(crate) channel: C,
    pub(crate) symbols: Vec<Symbol>,
    pub(crate) code: Option<u16>,
    pub(crate) message: String,
}

impl<C> Default for Subscriptions<C> {
    fn default() -> Self {
        Self {
            desired: SubscriptionSet::default(),
            confirmed: SubscriptionSet::default(),
            in_flight: None,
            refused_removals: SubscriptionSet::default(),
            acks_missed: BTreeMap::new(),
            pending: Vec::new(),
            last_request: 0,
            request_items_max: usize::MAX,
            refused_unclaimed: Vec::new(),
            settle_due: false,
        }
    }
}

impl<C: ChannelKind> Subscriptions<C> {
    pub(crate) fn desired(&self) -> &SubscriptionSet<C> {
        &self.desired
    }

    pub(crate) fn confirmed(&self) -> &SubscriptionSet<C> {
        &self.confirmed
    }

    pub(crate) fn in_flight(&self) -> Option<&InFlight<C>> {
        self.in_flight.as_ref()
    }

    /// Applies a command to the desired set and records it for settling.
    pub(crate) fn command(
        &mut self,
        op: SubscriptionOp,
        channel: C,
        mut symbols: Vec<Symbol>,
    ) -> RequestId {
        self.settle_due = true;
        self.last_request += 1;
        let id = RequestId(self.last_request);
        // Sorted once here, the symbols merge into the sorted sets in one
        // pass, and settling checks them against those sets in one walk
        // (see `outcome`): a command may name thousands of symbols in any
        // order. Their order and repeats mean nothing to an outcome.
        symbols.sort_unstable();
        symbols.dedup();
        match op {
            SubscriptionOp::Subscribe => {
                self.desired.insert_all(channel, &symbols);
                if !self.refused_removals.is_empty() {
                    self.refused_removals.remove_all(channel, &symbols);
                }
                if self
                    .pending
                    .iter()
                    .any(|command| !command.refused.is_empty())
                {
                    for symbol in &symbols {
                        self.withdraw_refusal(channel, symbol);
                    }
                }
            }
            SubscriptionOp::Unsubscribe => self.desired.remove_all(channel, &symbols),
        }
        if !self.acks_missed.is_empty() {
            for symbol in &symbols {
                self.acks_missed.remove(&(channel, symbol.clone()));
            }
        }
        self.pending.push(PendingCommand {
            id,
            op,
            channel,
            symbols,
            refused: Vec::new(),
            refusal: None,
        });
        id
    }

    /// A refusal of `symbol` that older pending subscribe commands hold is
    /// no longer theirs to report once it is asked for again: the new ask
    /// decides, and they settle on what becomes of it. So a `Rejected`
    /// outcome always means the symbol is given up, and an application that
    /// drops the symbols it lists (unless a later pending command names
    /// them) wants what the machine wants.
    fn withdraw_refusal(&mut self, channel: C, symbol: &Symbol) {
        for command in &mut self.pending {
            if command.op != SubscriptionOp::Subscribe || command.channel != channel {
                continue;
            }
            command.refused.retain(|refused| refused != symbol);
            if command.refused.is_empty() {
                command.refusal = None;
            }
        }
    }

    /// Sets the desired set directly (account streams, whose set is fixed).
    pub(crate) fn set_desired(&mut self, desired: SubscriptionSet<C>) {
        self.settle_due = true;
        self.desired = desired;
    }

    /// The next request to send: removals first (they free symbol-limit room),
    /// then additions; `None` when nothing is to change or a request is in flight.
    #[cfg(test)]
    pub(crate) fn next_request(&self) -> Option<(SubscriptionOp, Vec<(C, Symbol)>)> {
        self.next_request_fitting(usize::MAX, usize::MAX)
    }

    /// [`Self::next_request`] of at most `items_max` items: no more than
    /// one frame can carry, so that a set of thousands is not copied whole
    /// for each of the frames it is split into.
    #[cfg(test)]
    pub(crate) fn next_request_within(
        &self,
        items_max: usize,
    ) -> Option<(SubscriptionOp, Vec<(C, Symbol)>)> {
        self.next_request_fitting(items_max, usize::MAX)
    }

    /// [`Self::next_request`] of at most `items_max` items, stopping too
    /// where the items' symbols and a separator byte each come to more
    /// than `bytes_max`: the least a frame listing them by name takes, so
    /// items past it would not fit in a frame of `bytes_max` bytes (one
    /// item is always taken).
    pub(crate) fn next_request_fitting(
        &self,
        items_max: usize,
        bytes_max: usize,
    ) -> Option<(SubscriptionOp, Vec<(C, Symbol)>)> {
        let items_max = self.request_items_max.min(items_max).max(1);
        let mut bytes = 0usize;
        let mut fits = |symbol: &Symbol| {
            let first = bytes == 0;
            bytes = bytes.saturating_add(symbol.as_bytes().len() + 1);
            first || bytes <= bytes_max
        };
        if self.in_flight.is_some() {
            return None;
        }
        // Where the sets agree position by position they hold the same
        // pairs: only what follows is looked up in the other set, in order,
        // each lookup starting where the last ended. A large change split
        // into many requests then costs each request its own items, not a
        // walk through the whole set.
        let prefix = self.confirmed.common_prefix_len(&self.desired);
        let mut wanted = self.desired.ascending_lookup_from(prefix);
        let mut removals = Vec::new();
        for (channel, symbol) in self.confirmed.iter_from(prefix) {
            if !wanted.contains(channel, symbol) && !self.refused_removals.contains(channel, symbol)
            {
                if !fits(symbol) {
                    break;
                }
                removals.push((channel, symbol.clone()));
                if removals.len() == items_max {
                    break;
                }
            }
        }
        if !removals.is_empty() {
            return Some((SubscriptionOp::Unsubscribe, removals));
        }
        let mut confirmed = self.confirmed.ascending_lookup_from(prefix);
        let additions: Vec<_> = self
            .desired
            .iter_from(prefix)
            .filter(|(channel, symbol)| !confirmed.contains(*channel, symbol))
            .take(items_max)
            .take_while(|(_, symbol)| fits(symbol))
            .map(|(channel, symbol)| (channel, symbol.clone()))
            .collect();
        if additions.is_empty() {
            return None;
        }
        Some((SubscriptionOp::Subscribe, additions))
    }

    /// The changes still to request, in order: confirmed pairs no longer
    /// wanted ([`Side::This`]) except removals the server refused, and wanted
    /// pairs not confirmed ([`Side::Other`]).
    fn changes(&self) -> impl Iterator<Item = (Side, C, &Symbol)> + '_ {
        self.confirmed
            .symmetric_difference(&self.desired)
            .filter(|(side, c, s)| *side == Side::Other || !self.refused_removals.contains(*c, s))
    }

    /// Whether the server's set matches what is wanted, with nothing in flight.
    pub(crate) fn is_settled(&self) -> bool {
        self.in_flight.is_none() && self.changes().next().is_none()
    }

    /// Records the request just sent as in flight.
    ///
    /// Leaves [`Self::settle`] as due as it was: a request in flight can only
    /// hold a command back (see `outcome`), never settle one.
    /// The items are in order, as [`Self::next_request_fitting`] gives them.
    pub(crate) fn mark_sent(&mut self, op: SubscriptionOp, items: Vec<(C, Symbol)>) {
        debug_assert!(self.in_flight.is_none(), "one request in flight at a time");
        debug_assert!(items.is_sorted(), "a request's items are in order");
        let expected = self.confirmed.with_change(
            op == SubscriptionOp::Subscribe,
            items.iter().map(|(c, s)| (*c, s)),
        );
        self.in_flight = Some(InFlight {
            op,
            items,
            expected,
        });
    }

    /// Takes the server's whole set as the truth and ends the request in flight.
    /// Changes the acknowledgement left out count as missed; after
    /// [`ACKS_MISSED_MAX`] misses they are given up as refused.
    ///
    /// An acknowledgement that changes nothing and reflects none of the
    /// request in flight is taken for a repeat of an earlier one (servers
    /// do not number their acknowledgements): the request stays in flight
    /// until its own answer or the acknowledgement timeout.
    ///
    /// Returns whether the acknowledgement answered the request in flight.
    pub(crate) fn on_ack(&mut self, set: &SubscriptionSet<C>) -> bool {
        self.settle_due = true;
        // Shares the pairs of `set`: the previous set is kept (not copied)
        // only to tell a repeat below.
        let previous = self.confirmed.clone();
        self.confirmed.assign_without_server_managed(set);
        let Some(in_flight) = self.in_flight.take() else {
            return false;
        };
        // The acknowledgement the request was expected to bring (see
        // `Dialect::decode_expecting`) holds every item added and none
        // removed: nothing to look up.
        if self.confirmed.shares_pairs_with(&in_flight.expected) {
            self.request_items_max = self.request_items_max.saturating_mul(2);
            if !self.acks_missed.is_empty() {
                for key in in_flight.items {
                    self.acks_missed.remove(&key);
                }
            }
            return true;
        }
        // The items are in order (see `mark_sent`): one walk through the set.
        let took_effect = |lookup: &mut AscendingLookup<'_, C>, channel, symbol| {
            let confirmed = lookup.contains(channel, symbol);
            match in_flight.op {
                SubscriptionOp::Subscribe => confirmed,
                SubscriptionOp::Unsubscribe => !confirmed,
            }
        };
        let mut lookup = self.confirmed.ascending_lookup();
        let reflected = in_flight
            .items
            .iter()
            .any(|(channel, symbol)| took_effect(&mut lookup, *channel, symbol));
        if !reflected && self.confirmed == previous {
            self.in_flight = Some(in_flight);
            return false;
        }
        self.request_items_max = self.request_items_max.saturating_mul(2);
        let mut lookup = self.confirmed.ascending_lookup();
        let effects: Vec<bool> = in_flight
            .items
            .iter()
            .map(|(channel, symbol)| took_effect(&mut lookup, *channel, symbol))
            .collect();
        for ((channel, symbol), took_effect) in in_flight.items.into_iter().zip(effects) {
            if took_effect {
                if !self.acks_missed.is_empty() {
                    self.acks_missed.remove(&(channel, symbol));
                }
                continue;
            }
            let key = (channel, symbol);
            let missed = self.acks_missed.entry(key.clone()).or_insert(0);
            *missed += 1;
            if *missed >= ACKS_MISSED_MAX {
                self.acks_missed.remove(&key);
                let message =
                    "the server's acknowledgements kept leaving this change out".to_owned();
                self.refuse(in_flight.op, key.0, &key.1, None, &message);
            }
        }
        true
    }

    /// The server refused the request in flight (e.g. 405), leaving its set
    /// unchanged. A request of one item gives that item up; a request of
    /// several is retried in halves, so that only the items the server
    /// refuses on their own are given up.
    pub(crate) fn on_request_refused(&mut self, code: Option<u16>, message: &str) -> bool {
        self.settle_due = true;
        let Some(in_flight) = self.in_flight.take() else {
            return false;
        };
        if let [(channel, symbol)] = in_flight.items.as_slice() {
            self.refuse(in_flight.op, *channel, symbol, code, message);
        } else {
            self.request_items_max = (in_flight.items.len() / 2).max(1);
        }
        true
    }

    /// Refusals no pending command will report, for the machine to announce.
    pub(crate) fn take_unclaimed_refusals(&mut self) -> std::vec::Drain<'_, Refused<C>> {
        self.refused_unclaimed.drain(..)
    }

    fn refuse(
        &mut self,
        op: SubscriptionOp,
        channel: C,
        symbol: &Symbol,
        code: Option<u16>,
        message: &str,
    ) {
        match op {
            SubscriptionOp::Subscribe => {
                self.desired.remove(channel, symbol);
            }
            SubscriptionOp::Unsubscribe => {
                self.refused_removals.insert(channel, symbol.clone());
            }
        }
        let mut claimed = false;
        for command in &mut self.pending {
            if command.op == op
                && command.channel == channel
                && command.symbols.binary_search(symbol).is_ok()
            {
                command.refused.push(symbol.clone());
                command
                    .refusal
                    .get_or_insert_with(|| (code, message.to_owned()));
                claimed = true;
            }
        }
        if claimed || op == SubscriptionOp::Unsubscribe {
            return;
        }
        match self.refused_unclaimed.last_mut() {
            Some(last)
                if last.channel == channel && last.code == code && last.message == message =>
            {
                last.symbols.push(symbol.clone());
            }
            _ => self.refused_unclaimed.push(Refused {
                channel,
                symbols: vec![symbol.clone()],
                code,
                message: message.to_owned(),
            }),
        }
    }

    /// The connection is gone: the server's set with it.
    pub(crate) fn on_disconnect(&mut self) {
        self.settle_due = true;
        self.confirmed.clear();
        self.in_flight = None;
        self.refused_removals.clear();
        self.acks_missed.clear();
        self.request_items_max = usize::MAX;
    }

    /// Settles every command whose symbols all reached a final answer.
    ///
    /// Does nothing when nothing changed since the last call: the commands
    /// left then had no outcome, and still have none.
    pub(crate) fn settle(&mut self, out: &mut Vec<Settled<C>>) {
        if !std::mem::take(&mut self.settle_due) {
            return;
        }
        let mut index = 0;
        while index < self.pending.len() {
            if let Some(outcome) = self.outcome(&self.pending[index]) {
                let command = self.pending.remove(index);
                out.push(Settled {
                    id: command.id,
                    channel: command.channel,
                    outcome,
                });
            } else {
                index += 1;
            }
        }
    }

    fn outcome(&self, command: &PendingCommand<C>) -> Option<SubscriptionOutcome> {
        let channel = command.channel;
        // Requests carry changes in order, so a command's last symbol is
        // usually the last one answered: while it waits, one lookup says
        // the command does.
        if let Some(last) = command.symbols.last() {
            let wanted = self.desired.contains(channel, last);
            let confirmed = self.confirmed.contains(channel, last);
            if !command.refused.contains(last) && !self.is_done(command, last, wanted, confirmed) {
                return None;
            }
        }
        // The symbols are sorted (see `command`): one walk through each set.
        let mut desired = self.desired.ascending_lookup();
        let mut confirmed = self.confirmed.ascending_lookup();
        let mut took_effect = false;
        for symbol in &command.symbols {
            if command.refused.contains(symbol) {
                continue;
            }
            let wanted = desired.contains(channel, symbol);
            if !self.is_done(command, symbol, wanted, confirmed.contains(channel, symbol)) {
                return None;
            }
            took_effect |= match command.op {
                SubscriptionOp::Subscribe => wanted,
                SubscriptionOp::Unsubscribe => !wanted,
            };
        }
        Some(match &command.refusal {
            Some((code, message)) => SubscriptionOutcome::Rejected {
                code: *code,
                message: message.clone(),
                symbols: command.refused.clone(),
            },
            None if took_effect || command.symbols.is_empty() => SubscriptionOutcome::Acknowledged,
            None => SubscriptionOutcome::Superseded,
        })
    }

    /// Whether a symbol of `command` reached its final answer, given whether
    /// it is wanted and whether the server confirmed it.
    fn is_done(
        &self,
        command: &PendingCommand<C>,
        symbol: &Symbol,
        wanted: bool,
        confirmed: bool,
    ) -> bool {
        let channel = command.channel;
        match command.op {
            SubscriptionOp::Subscribe if !wanted => true,
            SubscriptionOp::Subscribe => {
                confirmed && !self.in_flight_has(SubscriptionOp::Unsubscribe, channel, symbol)
            }
            SubscriptionOp::Unsubscribe if wanted => true,
            SubscriptionOp::Unsubscribe => {
                !confirmed && !self.in_flight_has(SubscriptionOp::Subscribe, channel, symbol)
            }
        }
    }

    fn in_flight_has(&self, op: SubscriptionOp, channel: C, symbol: &Symbol) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| f.contains(op, channel, symbol))
    }

    /// Settles every pending command as abandoned (shutdown, fatal error).
    pub(crate) fn abandon_all(&mut self, out: &mut Vec<Settled<C>>) {
        out.extend(self.pending.drain(..).map(|c| Settled {
            id: c.id,
            channel: c.channel,
            outcome: SubscriptionOutcome::Abandoned,
        }));
        self.in_flight = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_channel::Channel;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn set(items: &[(Channel, &str)]) -> SubscriptionSet<Channel> {
        items.iter().map(|(c, s)| (*c, sym(s))).collect()
    }

    /// Takes the next request and marks it sent.
    fn send_next(subs: &mut Subscriptions<Channel>) {
        let (op, items) = subs.next_request().unwrap();
        subs.mark_sent(op, items);
    }

    /// Subscriptions with one symbol requested and acknowledged (not settled).
    fn confirmed(channel: Channel, name: &str) -> Subscriptions<Channel> {
        let mut subs = Subscriptions::default();
        subscribe(&mut subs, channel, &[name]);
        send_next(&mut subs);
        subs.on_ack(&set(&[(channel, name)]));
        subs
    }

    fn subscribe(subs: &mut Subscriptions<Channel>, channel: Channel, names: &[&str]) -> RequestId {
        subs.command(
            SubscriptionOp::Subscribe,
            channel,
            names.iter().map(|n| sym(n)).collect(),
        )
    }

    fn unsubscribe(
        subs: &mut Subscriptions<Channel>,
        channel: Channel,
        names: &[&str],
    ) -> RequestId {
        subs.command(
            SubscriptionOp::Unsubscribe,
            channel,
            names.iter().map(|n| sym(n)).collect(),
        )
    }

    #[test]
    fn subscribe_then_unsubscribe_before_sending_cancels_out() {
        let mut subs = Subscriptions::default();
        let a = subscribe(&mut subs, Channel::Trades, &["AAPL"]);
        let b = unsubscribe(&mut subs, Channel::Trades, &["AAPL"]);
        assert_eq!(subs.next_request(), None);
        let mut out = Vec::new();
        subs.settle(&mut out);
        let outcomes: Vec<_> = out.iter().map(|s| (s.id, s.outcome.clone())).collect();
        assert_eq!(
            outcomes,
            vec![
                (a, SubscriptionOutcome::Superseded),
                (b, SubscriptionOutcome::Acknowledged)
            ]
        );
    }

    #[test]
    fn removals_go_first_and_acks_settle_commands() {
        let mut subs = Subscriptions::default();
        let first = subscribe(&mut subs, Channel::Quotes, &["A", "B"]);
        let (op, items) = subs.next_request().unwrap();
        assert_eq!(op, SubscriptionOp::Subscribe);
        subs.mark_sent(op, items);
        assert_eq!(subs.next_request(), None, "one request in flight at a time");
        subs.on_ack(&set(&[(Channel::Quotes, "A"), (Channel::Quotes, "B")]));
        let mut out = Vec::new();
        subs.settle(&mut out);
        assert_eq!(out[0].id, first);
        assert_eq!(out[0].outcome, SubscriptionOutcome::Acknowledged);

        unsubscribe(&mut subs, Channel::Quotes, &["A"]);
        subscribe(&mut subs, Channel::Quotes, &["C"]);
        assert_eq!(
            subs.next_request(),
            Some((
                SubscriptionOp::Unsubscribe,
                vec![(Channel::Quotes, sym("A"))]
            ))
        );
    }

    #[test]
    fn a_large_unordered_subscribe_goes_out_in_order_in_requests_of_bounded_size() {
        let mut subs = Subscriptions::default();
        let names: Vec<Symbol> = (0..1000).rev().map(|i| sym(&format!("S{i:04}"))).collect();
        let id = subs.command(SubscriptionOp::Subscribe, Channel::Quotes, names.clone());
        assert_eq!(subs.desired().len(), 1000);
        let mut server = SubscriptionSet::new();
        let mut requests = 0;
        while let Some((op, items)) = subs.next_request_within(300) {
            assert_eq!(op, SubscriptionOp::Subscribe);
            assert!(items.len() <= 300, "{} items", items.len());
            assert!(items.is_sorted(), "a request lists its items in order");
            server.extend(items.iter().cloned());
            subs.mark_sent(op, items);
            subs.on_ack(&server);
            requests += 1;
        }
        assert_eq!(requests, 4);
        assert_eq!(subs.confirmed(), subs.desired());
        let mut out = Vec::new();
        subs.settle(&mut out);
        assert_eq!(out[0].id, id);
        assert_eq!(out[0].outcome, SubscriptionOutcome::Acknowledged);

        // Unsubscribing most of them in one command leaves the rest wanted.
        let (gone, kept) = names.split_at(990);
        subs.command(SubscriptionOp::Unsubscribe, Channel::Quotes, gone.to_vec());
        let wanted: Vec<_> = subs.desired().symbols(Channel::Quotes).cloned().collect();
        let mut kept = kept.to_vec();
        kept.sort();
        assert_eq!(wanted, kept);
    }

    #[test]
    fn a_refused_request_drops_its_symbols_and_reports_the_code() {
        let mut subs = confirmed(Channel::Trades, "A");
        let id = subscribe(&mut subs, Channel::Trades, &["B"]);
        send_next(&mut subs);
        assert!(subs.on_request_refused(Some(405), "symbol limit exceeded"));
        assert!(!subs.desired().contains(Channel::Trades, &sym("B")));
        assert!(subs.desired().contains(Channel::Trades, &sym("A")));
        let mut out = Vec::new();
        subs.settle(&mut out);
        let last = out.last().unwrap();
        assert_eq!(last.id, id);
        assert_eq!(
            last.outcome,
            SubscriptionOutcome::Rejected {
                code: Some(405),
                message: "symbol limit exceeded".into(),
                symbols: vec![sym("B")]
            }
        );
        assert!(subs.is_settled());
    }

    /// Found by a long simulation sweep: a refusal that an older, still
    /// pending command held was reported after the symbol was asked for
    /// again and confirmed, so the application dropped a symbol the machine
    /// kept.
    #[test]
    fn asking_again_withdraws_a_refusal_an_older_command_holds() {
        let quotes = |names: &[&str]| -> Vec<(Channel, Symbol)> {
            names.iter().map(|n| (Channel::Quotes, sym(n))).collect()
        };
        let mut subs = Subscriptions::default();
        let older = subscribe(&mut subs, Channel::Quotes, &["A", "B", "C"]);
        let send = |subs: &mut Subscriptions<Channel>, expected: &[&str]| {
            let (op, items) = subs.next_request().unwrap();
            assert_eq!(items, quotes(expected));
            subs.mark_sent(op, items);
        };
        // Requests of several are refused and halved until B alone is.
        send(&mut subs, &["A", "B", "C"]);
        subs.on_request_refused(Some(405), "symbol limit exceeded");
        send(&mut subs, &["A"]);
        subs.on_ack(&set(&[(Channel::Quotes, "A")]));
        send(&mut subs, &["B", "C"]);
        subs.on_request_refused(Some(405), "symbol limit exceeded");
        send(&mut subs, &["B"]);
        subs.on_request_refused(Some(405), "symbol limit exceeded");
        assert!(!subs.desired().contains(Channel::Quotes, &sym("B")));
        // C is in flight when the application asks for B again.
        send(&mut subs, &["C"]);
        let again = subscribe(&mut subs, Channel::Quotes, &["B"]);
        subs.on_ack(&set(&[(Channel::Quotes, "A"), (Channel::Quotes, "C")]));
        let mut out = Vec::new();
        subs.settle(&mut out);
        assert_eq!(out, [], "both wait for B's new request");
        send(&mut subs, &["B"]);
        subs.on_ack(&set(&[
            (Channel::Quotes, "A"),
            (Channel::Quotes, "B"),
            (Channel::Quotes, "C"),
        ]));
        subs.settle(&mut out);
        let outcome = |id| out.iter().find(|s| s.id == id).map(|s| s.outcome.clone());
        assert_eq!(outcome(older), Some(SubscriptionOutcome::Acknowledged));
        assert_eq!(outcome(again), Some(SubscriptionOutcome::Acknowledged));
        assert!(subs.is_settled());
    }

    #[test]
    fn a_refused_request_of_several_is_bisected_down_to_the_refused_items() {
        let mut subs = Subscriptions::default();
        // Confirmed on an earlier connection: nothing pending names them.
        let names = ["A", "B", "C", "D"];
        let id = subs.command(
            SubscriptionOp::Subscribe,
            Channel::Trades,
            names.map(sym).to_vec(),
        );
        let mut out = Vec::new();
        subs.on_disconnect();
        subs.settle(&mut out);
        assert!(out.is_empty(), "still pending");
        // The server takes at most two symbols; refusing a request leaves its set unchanged.
        let mut server = SubscriptionSet::new();
        let mut requests = 0;
        while let Some((op, items)) = subs.next_request() {
            requests += 1;
            assert!(requests < 20, "bisection must end");
            subs.mark_sent(op, items.clone());
            if server.len() + items.len() > 2 {
                assert!(subs.on_request_refused(Some(405), "symbol limit exceeded"));
            } else {
                for (c, s) in items {
                    server.insert(c, s);
                }
                assert!(subs.on_ack(&server));
            }
        }
        assert_eq!(subs.confirmed().len(), 2, "as many as the limit allows");
        assert_eq!(subs.desired(), subs.confirmed());
        subs.settle(&mut out);
        let refused = match &out[..] {
            [
                Settled {
                    id: settled,
                    outcome:
                        SubscriptionOutcome::Rejected {
                            code: Some(405),
                            symbols,
                            ..
                        },
                    ..
                },
            ] if *settled == id => symbols.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(refused.len(), 2);
        assert_eq!(
            subs.take_unclaimed_refusals().count(),
            0,
            "the command reported them"
        );
    }

    #[test]
    fn refusals_nobody_asked_about_are_reported_separately() {
        let mut subs = confirmed(Channel::Quotes, "A");
        let mut out = Vec::new();
        subs.settle(&mut out);
        assert_eq!(out.len(), 1, "acknowledged");
        // Reconnect: the re-subscription is refused.
        subs.on_disconnect();
        send_next(&mut subs);
        subs.on_request_refused(Some(405), "symbol limit exceeded");
        let refused: Vec<_> = subs.take_unclaimed_refusals().collect();
        assert_eq!(
            refused,
            vec![Refused {
                channel: Channel::Quotes,
                symbols: vec![sym("A")],
                code: Some(405),
                message: "symbol limit exceeded".into()
            }]
        );
        assert!(subs.desired().is_empty());
    }

    #[test]
    fn a_change_the_server_keeps_leaving_out_is_given_up() {
        let mut subs = Subscriptions::default();
        let id = subscribe(&mut subs, Channel::Trades, &["ZZZZ"]);
        subscribe(&mut subs, Channel::Bars, &["B1", "B2", "B3"]);
        send_next(&mut subs);
        assert!(
            !subs.on_ack(&SubscriptionSet::new()),
            "a repeat of the last ack answers nothing"
        );
        let answers = [
            set(&[(Channel::Bars, "B1")]),
            set(&[(Channel::Bars, "B1"), (Channel::Bars, "B2")]),
            set(&[
                (Channel::Bars, "B1"),
                (Channel::Bars, "B2"),
                (Channel::Bars, "B3"),
            ]),
        ];
        for (round, answer) in answers.iter().enumerate() {
            assert!(subs.on_ack(answer), "round {round}");
            if let Some((op, items)) = subs.next_request() {
                assert!(items.contains(&(Channel::Trades, sym("ZZZZ"))), "retried");
                subs.mark_sent(op, items);
            }
        }
        assert!(subs.is_settled());
        assert!(!subs.desired().contains(Channel::Trades, &sym("ZZZZ")));
        let mut out = Vec::new();
        subs.settle(&mut out);
        let zzzz = out.iter().find(|s| s.id == id).expect("settled");
        assert!(
            matches!(&zzzz.outcome, SubscriptionOutcome::Rejected { code: None, symbols, .. } if symbols == &[sym("ZZZZ")])
        );
    }
}
