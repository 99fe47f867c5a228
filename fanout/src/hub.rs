//! The hub: reference counts per pair, upstream requests, client verdicts.

use std::collections::{HashMap, VecDeque};

use tickwire_core::machine::SubscriptionOutcome;
use tickwire_core::{ChannelKind, SubscriptionSet, Symbol};

use super::{ClientId, ClientOutput, UpstreamCommand, UpstreamToken};

/// A command named a client that never joined or already left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a member of the hub")]
pub struct UnknownClient(pub ClientId);

/// Many clients' subscription sets over one upstream stream.
///
/// Four kinds of method, as on the machine: getters; inputs `handle_*`
/// (client commands, upstream verdicts); the router [`route`](Self::route);
/// outputs [`poll_upstream`](Self::poll_upstream) and
/// [`poll_client`](Self::poll_client). After every input, drain both outputs
/// until they return `None`: perform each upstream command in order and
/// send each client output to its client.
///
/// Guarantees (property-tested against a reference model):
/// - the count of a pair is the number of clients holding it, and the
///   upstream desired set ([`upstream_desired`](Self::upstream_desired), and
///   the sum of every [`UpstreamCommand`] so far) is exactly the union of
///   the clients' sets;
/// - [`route`](Self::route) names only clients whose set holds the pair or
///   the channel's wildcard;
/// - each client's requests are answered in order, each
///   [`ClientOutput::Ack`] with its own whole set; a subscribe is answered
///   once the upstream acknowledged the pairs it waited for, an unsubscribe
///   at once (after the requests before it).
///
/// ```
/// use tickwire_fanout::{ClientId, ClientOutput, FanoutHub, UpstreamCommand};
/// use tickwire_core::machine::SubscriptionOutcome;
/// use tickwire_core::Symbol;
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// # enum Channel { Quotes }
/// # impl std::fmt::Display for Channel {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("quotes") }
/// # }
/// # impl tickwire_core::ChannelKind for Channel { fn is_server_managed(self) -> bool { false } }
/// let (a, b) = (ClientId(1), ClientId(2));
/// let aapl = Symbol::new("AAPL")?;
/// let mut hub = FanoutHub::new();
/// hub.handle_join(a);
/// hub.handle_join(b);
/// hub.handle_subscribe(a, Channel::Quotes, [aapl.clone()])?;
/// let Some(UpstreamCommand::Subscribe { token, .. }) = hub.poll_upstream() else { panic!() };
/// hub.handle_subscribe(b, Channel::Quotes, [aapl.clone()])?; // already asked for: no command
/// assert_eq!(hub.poll_upstream(), None);
/// hub.handle_upstream_outcome(token, &SubscriptionOutcome::Acknowledged);
/// assert!(matches!(hub.poll_client(), Some(ClientOutput::Ack { client, .. }) if client == a));
/// assert!(matches!(hub.poll_client(), Some(ClientOutput::Ack { client, .. }) if client == b));
/// assert_eq!(hub.count(Channel::Quotes, &aapl), 2);
/// let mut to = Vec::new();
/// hub.route(Channel::Quotes, std::slice::from_ref(&aapl), &mut to);
/// assert_eq!(to, [a, b]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FanoutHub<C> {
    clients: HashMap<ClientId, Member<C>>,
    /// The clients holding each pair, ascending: its reference count is the length.
    holders: HashMap<C, HashMap<Symbol, Vec<ClientId>>>,
    /// Pairs subscribed upstream whose verdict has not come back.
    awaiting: HashMap<C, HashMap<Symbol, UpstreamToken>>,
    /// Upstream requests in flight.
    requests: HashMap<UpstreamToken, UpstreamRequest<C>>,
    next_token: u64,
    upstream: VecDeque<UpstreamCommand<C>>,
    outputs: VecDeque<ClientOutput<C>>,
}

/// One client: its set and its unanswered requests, oldest first.
#[derive(Debug)]
struct Member<C> {
    set: SubscriptionSet<C>,
    /// The set of its last [`ClientOutput::Ack`].
    acked: SubscriptionSet<C>,
    pending: VecDeque<Pending>,
}

/// A client request not answered yet.
#[derive(Debug, Default)]
struct Pending {
    /// Upstream subscribes it waits for.
    waiting_on: Vec<UpstreamToken>,
    /// The refusal to report instead of (or before) the ack.
    refusal: Option<(Option<u16>, String)>,
}

/// An upstream subscribe in flight.
#[derive(Debug)]
struct UpstreamRequest<C> {
    channel: C,
    /// Clients with requests waiting for it.
    waiters: Vec<ClientId>,
}

impl<C: ChannelKind> Default for FanoutHub<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: ChannelKind> FanoutHub<C> {
    /// A hub with no clients.
    pub fn new() -> Self {
        Self {
            clients: HashMap::new(),
            holders: HashMap::new(),
            awaiting: HashMap::new(),
            requests: HashMap::new(),
            next_token: 0,
            upstream: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    // ----- getters -----

    /// Number of clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Whether `client` is a member.
    pub fn contains_client(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    /// The set of `client`, if it is a member.
    pub fn client_set(&self, client: ClientId) -> Option<&SubscriptionSet<C>> {
        self.clients.get(&client).map(|m| &m.set)
    }

    /// How many clients hold the pair.
    pub fn count(&self, channel: C, symbol: &Symbol) -> usize {
        self.holders
            .get(&channel)
            .and_then(|symbols| symbols.get(symbol))
            .map_or(0, Vec::len)
    }

    /// Whether the pair waits for the upstream's verdict (subscribed
    /// upstream, not yet acknowledged or refused).
    pub fn is_awaiting(&self, channel: C, symbol: &Symbol) -> bool {
        self.awaiting
            .get(&channel)
            .is_some_and(|symbols| symbols.contains_key(symbol))
    }

    /// Number of pairs at least one client holds.
    pub fn pair_count(&self) -> usize {
        self.holders.values().map(HashMap::len).sum()
    }

    /// The union of the clients' sets: what the upstream stream should want.
    pub fn upstream_desired(&self) -> SubscriptionSet<C> {
        self.holders
            .iter()
            .flat_map(|(channel, symbols)| symbols.keys().map(|s| (*channel, s.clone())))
            .collect()
    }

    /// Whether no client holds anything: the upstream may go idle.
    pub fn is_idle(&self) -> bool {
        self.holders.is_empty()
    }

    // ----- inputs -----

    /// A client arrived, holding nothing. Joining twice changes nothing.
    pub fn handle_join(&mut self, client: ClientId) {
        self.clients.entry(client).or_insert_with(|| Member {
            set: SubscriptionSet::new(),
            acked: SubscriptionSet::new(),
            pending: VecDeque::new(),
        });
    }

    /// A client left: its pairs are released (unsubscribed upstream where
    /// it was the last holder); its unanswered requests are forgotten.
    pub fn handle_leave(&mut self, client: ClientId) {
        let Some(member) = self.clients.remove(&client) else {
            return;
        };
        let mut released: Vec<(C, Symbol)> = Vec::new();
        for (channel, symbol) in member.set.iter() {
            if self.release(client, channel, symbol) {
                released.push((channel, symbol.clone()));
            }
        }
        // The set iterates by channel then symbol: one command per channel run.
        for run in released.chunk_by(|a, b| a.0 == b.0) {
            let symbols = run.iter().map(|(_, s)| s.clone()).collect();
            self.command_unsubscribe(run[0].0, symbols);
        }
    }

    /// `client` adds `symbols` to `channel`. Pairs no client held are
    /// subscribed upstream; the client's [`ClientOutput::Ack`] follows once
    /// every pair it added is acknowledged upstream.
    ///
    /// # Errors
    /// [`UnknownClient`] when `client` has not joined.
    pub fn handle_subscribe(
        &mut self,
        client: ClientId,
        channel: C,
        symbols: impl IntoIterator<Item = Symbol>,
    ) -> Result<(), UnknownClient> {
        let member = self.clients.get_mut(&client).ok_or(UnknownClient(client))?;
        let mut pending = Pending::default();
        let mut fresh = Vec::new();
        for symbol in symbols {
            if !member.set.insert(channel, symbol.clone()) {
                continue;
            }
            let holders = self
                .holders
                .entry(channel)
                .or_default()
                .entry(symbol.clone())
                .or_default();
            // Kept ascending, so that routing one symbol needs no sort.
            if let Err(at) = holders.binary_search(&client) {
                holders.insert(at, client);
            }
            if holders.len() == 1 {
                fresh.push(symbol);
            } else if let Some(token) = self.awaiting.get(&channel).and_then(|a| a.get(&symbol))
                && !pending.waiting_on.contains(token)
            {
                pending.waiting_on.push(*token);
            }
        }
        if !fresh.is_empty() {
            fresh.sort_unstable();
            self.next_token += 1;
            let token = UpstreamToken(self.next_token);
            let awaiting = self.awaiting.entry(channel).or_default();
            for symbol in &fresh {
                awaiting.insert(symbol.clone(), token);
            }
            self.requests.insert(
                token,
                UpstreamRequest {
                    channel,
                    waiters: Vec::new(),
                },
            );
            self.upstream.push_back(UpstreamCommand::Subscribe {
                token,
                channel,
                symbols: fresh,
            });
            pending.waiting_on.push(token);
        }
        for token in &pending.waiting_on {
            if let Some(request) = self.requests.get_mut(token) {
                request.waiters.push(client);
            }
        }
        member.pending.push_back(pending);
        self.answer(client);
        Ok(())
    }

    /// `client` removes `symbols` from `channel`. Pairs it was the last to
    /// hold are unsubscribed upstream; its ack comes after its earlier requests.
    ///
    /// # Errors
    /// [`UnknownClient`] when `client` has not joined.
    pub fn handle_unsubscribe<'a>(
        &mut self,
        client: ClientId,
        channel: C,
        symbols: impl IntoIterator<Item = &'a Symbol>,
    ) -> Result<(), UnknownClient> {
        let Some(member) = self.clients.get_mut(&client) else {
            return Err(UnknownClient(client));
        };
        let removed: Vec<Symbol> = symbols
            .into_iter()
            .filter(|symbol| member.set.remove(channel, symbol))
            .cloned()
            .collect();
        member.pending.push_back(Pending::default());
        let mut released: Vec<Symbol> = removed
            .into_iter()
            .filter(|symbol| self.release(client, channel, symbol))
            .collect();
        if !released.is_empty() {
            released.sort_unstable();
            self.command_unsubscribe(channel, released);
        }
        self.answer(client);
        Ok(())
    }

    /// The upstream settled the request `token` (what the machine reports
    /// as `Event::Subscription`). Refused pairs leave every client that
    /// waited for them; each such client hears the refusal.
    pub fn handle_upstream_outcome(&mut self, token: UpstreamToken, outcome: &SubscriptionOutcome) {
        let Some(request) = self.requests.remove(&token) else {
            return; // an unsubscribe, or already settled
        };
        let channel = request.channel;
        let mut unsolicited = Vec::new();
        if let SubscriptionOutcome::Rejected {
            code,
            message,
            symbols,
        } = outcome
        {
            for symbol in symbols {
                let ours = self
                    .awaiting
                    .get(&channel)
                    .and_then(|a| a.get(symbol))
                    .is_some_and(|t| *t == token);
                if ours {
                    let refusal = (*code, message.as_str());
                    self.drop_pair_everywhere(
                        channel,
                        symbol,
                        refusal,
                        Some(token),
                        &mut unsolicited,
                    );
                }
            }
        }
        // Whatever the verdict, this request no longer holds pairs back.
        if let Some(awaiting) = self.awaiting.get_mut(&channel) {
            awaiting.retain(|_, t| *t != token);
            if awaiting.is_empty() {
                self.awaiting.remove(&channel);
            }
        }
        for client in request.waiters {
            if let Some(member) = self.clients.get_mut(&client) {
                for pending in &mut member.pending {
                    pending.waiting_on.retain(|t| *t != token);
                }
                self.answer(client);
            }
        }
        if let SubscriptionOutcome::Rejected { code, message, .. } = outcome {
            self.report_unsolicited(unsolicited, *code, message);
        }
    }

    /// The upstream refused pairs no pending request asked for (the machine's
    /// `Event::Refused`, e.g. after a reconnect): they leave every client,
    /// and each client that held one hears the refusal.
    pub fn handle_upstream_refused(
        &mut self,
        channel: C,
        symbols: &[Symbol],
        code: Option<u16>,
        message: &str,
    ) {
        let mut unsolicited = Vec::new();
        for symbol in symbols {
            self.drop_pair_everywhere(channel, symbol, (code, message), None, &mut unsolicited);
        }
        self.report_unsolicited(unsolicited, code, message);
    }

    // ----- routing -----

    /// Fills `clients` with the clients that want a message of `channel`
    /// about `symbols` (a client holding one of them or the wildcard),
    /// ascending and without repeats. `clients` is cleared first.
    pub fn route(&self, channel: C, symbols: &[Symbol], clients: &mut Vec<ClientId>) {
        clients.clear();
        let Some(by_symbol) = self.holders.get(&channel) else {
            return;
        };
        let wildcard = by_symbol.get(&Symbol::WILDCARD);
        let mut lists = symbols
            .iter()
            .filter_map(|s| by_symbol.get(s))
            .chain(wildcard);
        match (lists.next(), lists.next()) {
            (None, _) => {}
            (Some(only), None) => clients.extend_from_slice(only),
            (Some(first), Some(second)) => {
                clients.extend_from_slice(first);
                clients.extend_from_slice(second);
                for more in lists {
                    clients.extend_from_slice(more);
                }
                clients.sort_unstable();
                clients.dedup();
            }
        }
    }

    // ----- outputs -----

    /// The next change to command upstream.
    #[must_use]
    pub fn poll_upstream(&mut self) -> Option<UpstreamCommand<C>> {
        self.upstream.pop_front()
    }

    /// The next message for a client.
    #[must_use]
    pub fn poll_client(&mut self) -> Option<ClientOutput<C>> {
        self.outputs.pop_front()
    }

    // ----- inside -----

    fn token(&mut self) -> UpstreamToken {
        self.next_token += 1;
        UpstreamToken(self.next_token)
    }

    /// Removes `client` from the holders of a pair; returns whether it was the last.
    fn release(&mut self, client: ClientId, channel: C, symbol: &Symbol) -> bool {
        let Some(by_symbol) = self.holders.get_mut(&channel) else {
            return false;
        };
        let Some(holders) = by_symbol.get_mut(symbol) else {
            return false;
        };
        holders.retain(|c| *c != client);
        if !holders.is_empty() {
            return false;
        }
        by_symbol.remove(symbol);
        if by_symbol.is_empty() {
            self.holders.remove(&channel);
        }
        if let Some(awaiting) = self.awaiting.get_mut(&channel) {
            awaiting.remove(symbol);
        }
        true
    }

    /// A pair the upstream no longer wants: out of every client's set. The
    /// refusal is noted on the request that waited for `token`; clients
    /// without such a request are added to `unsolicited`.
    fn drop_pair_everywhere(
        &mut self,
        channel: C,
        symbol: &Symbol,
        refusal: (Option<u16>, &str),
        token: Option<UpstreamToken>,
        unsolicited: &mut Vec<ClientId>,
    ) {
        let Some(holders) = self
            .holders
            .get_mut(&channel)
            .and_then(|by_symbol| by_symbol.remove(symbol))
        else {
            return;
        };
        if self.holders.get(&channel).is_some_and(HashMap::is_empty) {
            self.holders.remove(&channel);
        }
        if let Some(awaiting) = self.awaiting.get_mut(&channel) {
            awaiting.remove(symbol);
        }
        for client in holders {
            let Some(member) = self.clients.get_mut(&client) else {
                continue;
            };
            member.set.remove(channel, symbol);
            let waiting = token.and_then(|token| {
                member
                    .pending
                    .iter_mut()
                    .find(|p| p.waiting_on.contains(&token))
            });
            match waiting {
                Some(pending) => {
                    let (code, message) = refusal;
                    pending
                        .refusal
                        .get_or_insert_with(|| (code, message.to_owned()));
                }
                None if !unsolicited.contains(&client) => unsolicited.push(client),
                None => {}
            }
        }
    }

    /// Tells each of `clients` of a refusal no request of theirs waited for,
    /// and acknowledges the set it left them with.
    fn report_unsolicited(&mut self, clients: Vec<ClientId>, code: Option<u16>, message: &str) {
        for client in clients {
            self.outputs.push_back(ClientOutput::Refused {
                client,
                code,
                message: message.to_owned(),
            });
            self.answer(client);
        }
    }

    fn command_unsubscribe(&mut self, channel: C, symbols: Vec<Symbol>) {
        let token = self.token();
        self.upstream.push_back(UpstreamCommand::Unsubscribe {
            token,
            channel,
            symbols,
        });
    }

    /// Answers the client's requests from the oldest while none waits. A
    /// refused request is answered with the refusal, then with an ack only
    /// if its set changed after all (part of it was accepted). Nothing is
    /// emitted when nothing is pending and the set is as last acknowledged.
    fn answer(&mut self, client: ClientId) {
        let Some(member) = self.clients.get_mut(&client) else {
            return;
        };
        let mut resolved = false;
        while member
            .pending
            .front()
            .is_some_and(|p| p.waiting_on.is_empty())
        {
            let Some(pending) = member.pending.pop_front() else {
                break;
            };
            resolved = true;
            let refused = pending.refusal.is_some();
            if let Some((code, message)) = pending.refusal {
                self.outputs.push_back(ClientOutput::Refused {
                    client,
                    code,
                    message,
                });
            }
            if !refused || member.set != member.acked {
                member.acked.clone_from(&member.set);
                self.outputs.push_back(ClientOutput::Ack {
                    client,
                    set: member.set.clone(),
                });
            }
        }
        if !resolved && member.pending.is_empty() && member.set != member.acked {
            member.acked.clone_from(&member.set);
            self.outputs.push_back(ClientOutput::Ack {
                client,
                set: member.set.clone(),
            });
        }
    }
}
