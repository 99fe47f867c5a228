//! Who wants what: the market demand of the authenticated sessions, kept
//! between ticks. The common changes are applied in place: a market data
//! session authenticating ([`Routing::session_authenticated`]), a pair
//! added to or removed from a set ([`Routing::pair_changed`]), a session
//! going away ([`Routing::session_removed`]). Any other change to a
//! session's set or phase marks the index stale ([`Routing::invalidate`]),
//! and the next tick rebuilds it; so does any change the index cannot
//! apply in place, or one made while the index is set aside for sending.

use std::collections::BTreeMap;

use tickwire_core::{Channel, Symbol};

use super::endpoint::Kind;
use super::generator::{Event, Generator, InstrumentId, Plan, Route, TEST_SYMBOL};
use super::session::Session;
use super::{Endpoint, SessionId};

/// The demand index, and whether it is stale.
#[derive(Debug)]
pub(crate) struct Routing {
    index: Index,
    stale: bool,
    /// The index is out ([`set_aside`](Self::set_aside)): changes cannot
    /// be applied to it.
    aside: bool,
}

impl Routing {
    /// A new, stale index (built at the first tick).
    pub(crate) fn new() -> Self {
        Self {
            index: Index::default(),
            stale: true,
            aside: false,
        }
    }

    /// The index (current after [`refresh`](Self::refresh)).
    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// Takes the index out while sessions are sent to (which may drop
    /// some); every change meanwhile marks it stale.
    pub(crate) fn set_aside(&mut self) -> Index {
        self.aside = true;
        std::mem::take(&mut self.index)
    }

    /// Puts back the index of [`set_aside`](Self::set_aside).
    pub(crate) fn put_back(&mut self, index: Index) {
        self.index = index;
        self.aside = false;
    }

    /// A session's set or phase changed in a way not applied in place.
    pub(crate) fn invalidate(&mut self) {
        self.stale = true;
    }

    /// Whether changes can be applied to the index in place.
    fn is_current(&self) -> bool {
        !self.stale && !self.aside
    }

    /// `session` (`id`), on a market data endpoint, just authenticated.
    pub(crate) fn session_authenticated(&mut self, id: SessionId, session: &Session) {
        if !self.is_current() || !self.index.add_target(id, session) {
            self.stale = true;
        }
    }

    /// Session `id` is gone (closed, reset or lost), whatever it was.
    pub(crate) fn session_removed(
        &mut self,
        id: SessionId,
        sessions: &BTreeMap<SessionId, Session>,
    ) {
        if !self.is_current() || !self.index.remove_target(id) {
            self.stale = true;
        }
        self.recount_demand(sessions);
    }

    /// One pair of the set of `id`, an authenticated market data session,
    /// was added (`added`) or removed; the set already holds the change.
    /// Applied in place unless the index is stale anyway, the pair is a
    /// `*`, or a session of the endpoint holds a `*` (whose universe makes
    /// the plan a matter for a rebuild).
    pub(crate) fn pair_changed(
        &mut self,
        id: SessionId,
        channel: Channel,
        symbol: &Symbol,
        added: bool,
        generator: &mut Generator,
    ) {
        if !self.is_current() || !self.index.apply(id, channel, symbol, added, generator) {
            self.stale = true;
        }
    }

    /// After [`pair_changed`](Self::pair_changed): whether anyone still
    /// subscribes to anything.
    pub(crate) fn recount_demand(&mut self, sessions: &BTreeMap<SessionId, Session>) {
        if self.is_current() {
            self.index.any_demand = self.index.targets.iter().any(|t| {
                sessions
                    .get(&t.id)
                    .is_some_and(|s| !s.subscriptions.is_empty())
            });
        }
    }

    /// Rebuilds the index if a session changed since it was built.
    pub(crate) fn refresh(
        &mut self,
        sessions: &BTreeMap<SessionId, Session>,
        generator: &mut Generator,
    ) {
        if self.stale {
            self.index = Index::build(sessions, generator, &self.index);
            self.stale = false;
        }
        debug_assert_eq!(
            self.index,
            Index::build(sessions, generator, &Index::default()),
            "the demand index missed a session change"
        );
    }
}

/// The plans of every endpoint with an authenticated market data session,
/// and which of their symbols each such session wants.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    /// In endpoint order.
    pub(crate) plans: Vec<Plan>,
    /// In session order.
    pub(crate) targets: Vec<Target>,
    /// Whether any session subscribes to anything.
    pub(crate) any_demand: bool,
}

/// One authenticated market data session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) id: SessionId,
    /// Index of its endpoint's plan.
    pub(crate) plan: usize,
    /// The channel bits the session holds `*` on.
    wildcards: u32,
    /// Per symbol of the plan, the channel bits the session holds it on
    /// (its own symbol or `*`).
    masks: Vec<u32>,
}

impl Target {
    /// Whether the session asked for an event of its endpoint.
    pub(crate) fn wants(&self, event: &Event) -> bool {
        match &event.route {
            Route::Instrument { symbol, bit } => self.masks[*symbol] & bit != 0,
            // Bit 0 is `news`, the news endpoints' only channel.
            Route::News(symbols) => symbols.iter().any(|i| self.masks[*i] & 1 != 0),
        }
    }
}

impl Index {
    /// The index of `sessions`; `previous` (any earlier index, or an empty
    /// one) only saves looking up instruments it already had.
    fn build(
        sessions: &BTreeMap<SessionId, Session>,
        generator: &mut Generator,
        previous: &Self,
    ) -> Self {
        let served: Vec<(SessionId, &Session)> = sessions
            .iter()
            .filter(|(_, s)| s.is_authenticated() && !s.endpoint.is_trading())
            .map(|(id, s)| (*id, s))
            .collect();
        let any_demand = served.iter().any(|(_, s)| !s.subscriptions.is_empty());
        let mut endpoints: Vec<Endpoint> = served.iter().map(|(_, s)| s.endpoint).collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        let mut targets: Vec<Target> = served
            .iter()
            .map(|(id, s)| Target {
                id: *id,
                plan: endpoints
                    .binary_search(&s.endpoint)
                    .expect("every served endpoint has a plan"),
                wildcards: 0,
                masks: Vec::new(),
            })
            .collect();
        let plans = endpoints
            .iter()
            .enumerate()
            .map(|(index, endpoint)| {
                let members: Vec<(usize, &Session)> = served
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, s))| s.endpoint == *endpoint)
                    .map(|(i, (_, s))| (i, *s))
                    .collect();
                let known = previous.plans.iter().find(|p| p.endpoint == *endpoint);
                plan(
                    *endpoint,
                    index,
                    &members,
                    known,
                    &mut *generator,
                    &mut targets,
                )
            })
            .collect();
        Self {
            plans,
            targets,
            any_demand,
        }
    }
}

impl Index {
    /// Adds the target of a session that just authenticated (and so holds
    /// nothing yet), and its endpoint's plan if new; `false` if it cannot.
    fn add_target(&mut self, id: SessionId, session: &Session) -> bool {
        let endpoint = session.endpoint;
        if endpoint.is_trading() || !session.subscriptions.is_empty() {
            return false;
        }
        let Err(position) = self.targets.binary_search_by_key(&id, |t| t.id) else {
            return false;
        };
        let plan = match self.plans.binary_search_by_key(&endpoint, |p| p.endpoint) {
            Ok(plan) => plan,
            Err(plan) => {
                let instruments = Vec::new();
                self.plans
                    .insert(plan, Plan::new(endpoint, Vec::new(), instruments));
                for target in self.targets.iter_mut().filter(|t| t.plan >= plan) {
                    target.plan += 1;
                }
                plan
            }
        };
        let target = Target {
            id,
            plan,
            wildcards: 0,
            masks: vec![0; self.plans[plan].wanted.len()],
        };
        self.targets.insert(position, target);
        true
    }

    /// Removes the target of session `id`, if it has one, and the symbols
    /// only it wanted (its plan too when it was the last of its endpoint);
    /// `false` if it cannot.
    fn remove_target(&mut self, id: SessionId) -> bool {
        let Ok(position) = self.targets.binary_search_by_key(&id, |t| t.id) else {
            return true; // not served: unauthenticated, unentitled or trading
        };
        let plan_index = self.targets[position].plan;
        let members = || self.targets.iter().filter(|t| t.plan == plan_index);
        if members().any(|t| t.wildcards != 0) {
            return false;
        }
        let last = members().count() == 1;
        let gone = self.targets.remove(position);
        if last {
            self.plans.remove(plan_index);
            for target in self.targets.iter_mut().filter(|t| t.plan > plan_index) {
                target.plan -= 1;
            }
            return true;
        }
        let plan = &mut self.plans[plan_index];
        let has_instruments = plan.endpoint.kind() != Kind::News;
        // Backwards, so removing a symbol leaves the indices still to visit.
        for (at, mask) in gone.masks.iter().enumerate().rev() {
            if *mask == 0 {
                continue;
            }
            let bits = self
                .targets
                .iter()
                .filter(|t| t.plan == plan_index)
                .fold(0, |bits, t| bits | t.masks[at]);
            if bits == 0 {
                plan.wanted.remove(at);
                if has_instruments {
                    plan.instruments.remove(at);
                }
                for target in self.targets.iter_mut().filter(|t| t.plan == plan_index) {
                    target.masks.remove(at);
                }
            } else {
                plan.wanted[at].1 = bits;
            }
        }
        true
    }

    /// Applies one pair added to or removed from the set of session `id`
    /// (see [`Routing::pair_changed`]); `false` when it cannot be applied
    /// in place and the index needs a rebuild.
    fn apply(
        &mut self,
        id: SessionId,
        channel: Channel,
        symbol: &Symbol,
        added: bool,
        generator: &mut Generator,
    ) -> bool {
        let Ok(target) = self.targets.binary_search_by_key(&id, |t| t.id) else {
            return false;
        };
        let plan_index = self.targets[target].plan;
        if symbol.is_wildcard()
            || self
                .targets
                .iter()
                .any(|t| t.plan == plan_index && t.wildcards != 0)
        {
            return false;
        }
        let plan = &mut self.plans[plan_index];
        let endpoint = plan.endpoint;
        let Some(position) = endpoint.channels().iter().position(|c| *c == channel) else {
            return true; // a channel the endpoint lacks wants nothing
        };
        if endpoint == Endpoint::Test && symbol.as_bytes() != TEST_SYMBOL.as_bytes() {
            return true; // the test stream only serves its own symbol
        }
        let bit = 1u32 << position;
        let has_instruments = endpoint.kind() != Kind::News;
        // Without a `*`, a symbol's channels are those its sessions hold it on.
        match plan.wanted.binary_search_by(|(s, _)| s.cmp(symbol)) {
            Ok(at) if added => {
                plan.wanted[at].1 |= bit;
                self.targets[target].masks[at] |= bit;
            }
            Err(at) if added => {
                plan.wanted.insert(at, (symbol.clone(), bit));
                if has_instruments {
                    let instrument = generator.instrument(endpoint, symbol);
                    plan.instruments.insert(at, instrument);
                }
                for member in self.targets.iter_mut().filter(|t| t.plan == plan_index) {
                    member.masks.insert(at, 0);
                }
                self.targets[target].masks[at] = bit;
            }
            Ok(at) => {
                self.targets[target].masks[at] &= !bit;
                let members = || self.targets.iter().filter(|t| t.plan == plan_index);
                let bits = members().fold(0, |bits, m| bits | m.masks[at]);
                if bits == 0 {
                    plan.wanted.remove(at);
                    if has_instruments {
                        plan.instruments.remove(at);
                    }
                    for member in self.targets.iter_mut().filter(|t| t.plan == plan_index) {
                        member.masks.remove(at);
                    }
                } else {
                    plan.wanted[at].1 = bits;
                }
            }
            Err(_) => {} // removed a pair that was not wanted
        }
        true
    }
}

/// No session: a symbol of the universe, wanted through a `*`.
const UNIVERSE: usize = usize::MAX;

/// The plan of one endpoint from the sets of its sessions (`members`, by
/// index in `targets`), filling in their masks; `known` is an earlier plan
/// of the endpoint, if any.
///
/// Every symbol held on one of the endpoint's channels is wanted on it,
/// and with a `*` on a channel every symbol of the universe is wanted too;
/// a channel held with `*` is wanted for every wanted symbol. The test
/// stream only serves its own symbol.
fn plan(
    endpoint: Endpoint,
    index: usize,
    members: &[(usize, &Session)],
    known: Option<&Plan>,
    generator: &mut Generator,
    targets: &mut [Target],
) -> Plan {
    let channels = endpoint.channels();
    // (sort key, symbol, channel bit, member)
    let subscribed: usize = members.iter().map(|(_, s)| s.subscriptions.len()).sum();
    let mut pairs: Vec<(u64, &Symbol, u32, usize)> = Vec::with_capacity(subscribed);
    let mut everywhere = 0u32;
    // Per member, its `*` channels.
    let mut wildcards: Vec<u32> = Vec::with_capacity(members.len());
    for (member, s) in members {
        let mut wildcard = 0u32;
        for (channel, symbol) in s.subscriptions.iter() {
            let Some(bit) = channels.iter().position(|c| *c == channel) else {
                continue;
            };
            if symbol.is_wildcard() {
                wildcard |= 1 << bit;
            } else {
                pairs.push((prefix(symbol), symbol, 1 << bit, *member));
            }
        }
        everywhere |= wildcard;
        wildcards.push(wildcard);
        targets[*member].wildcards = wildcard;
    }
    if everywhere != 0 {
        pairs.extend(
            generator
                .universe(endpoint)
                .iter()
                .map(|s| (prefix(s), s, 0, UNIVERSE)),
        );
    }
    if endpoint == Endpoint::Test {
        pairs.retain(|(_, s, _, _)| s.as_bytes() == TEST_SYMBOL.as_bytes());
    }
    // The prefixes decide most comparisons; equal ones fall back to the symbols.
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let distinct = pairs.len() - pairs.windows(2).filter(|w| w[0].1 == w[1].1).count();
    let mut wanted: Vec<(Symbol, u32)> = Vec::with_capacity(distinct);
    for (member, _) in members {
        targets[*member].masks = Vec::with_capacity(distinct);
    }
    for (_, symbol, bit, member) in pairs {
        if wanted.last().is_none_or(|(last, _)| last != symbol) {
            wanted.push((symbol.clone(), everywhere));
            for ((m, _), wildcard) in members.iter().zip(&wildcards) {
                targets[*m].masks.push(*wildcard);
            }
        }
        if let Some(last) = wanted.last_mut() {
            last.1 |= bit;
        }
        if member != UNIVERSE {
            if let Some(mask) = targets[member].masks.last_mut() {
                *mask |= bit;
            }
        }
    }
    debug_assert!(members.iter().all(|(m, _)| targets[*m].plan == index));
    let instruments = instruments(endpoint, &wanted, known, generator);
    Plan::new(endpoint, wanted, instruments)
}

/// The generator's instrument of each wanted symbol (none on news
/// endpoints): from `known`, an earlier plan of the endpoint, where it has
/// the symbol, else from the generator. Both symbol lists are sorted.
fn instruments(
    endpoint: Endpoint,
    wanted: &[(Symbol, u32)],
    known: Option<&Plan>,
    generator: &mut Generator,
) -> Vec<InstrumentId> {
    if endpoint.kind() == Kind::News {
        return Vec::new();
    }
    let (known_symbols, known_ids) = known.map_or((&[][..], &[][..]), |p| {
        (p.wanted.as_slice(), p.instruments.as_slice())
    });
    let mut next = 0;
    wanted
        .iter()
        .map(|(symbol, _)| {
            while known_symbols.get(next).is_some_and(|(s, _)| s < symbol) {
                next += 1;
            }
            match known_symbols.get(next) {
                Some((s, _)) if s == symbol => known_ids[next],
                _ => generator.instrument(endpoint, symbol),
            }
        })
        .collect()
}

/// The first eight bytes of a symbol as one integer, zero-padded: ordering
/// by it, then by the symbol, is the symbols' order (a shorter prefix sorts
/// first, as zero is the least byte).
fn prefix(symbol: &Symbol) -> u64 {
    let mut word = [0u8; 8];
    let bytes = symbol.as_bytes();
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tickwire_core::Frame;

    use super::super::{Account, Exchange, ExchangeConfig};
    use super::*;

    /// Opens, authenticates, subscribes, unsubscribes and closes at random
    /// on sessions of several endpoints; after every step the index,
    /// updated in place or rebuilt, equals one built from scratch.
    #[test]
    fn changes_applied_in_place_match_a_rebuild() {
        let now = Instant::now();
        let account = Account::new("KEY", "SECRET")
            .with_endpoints(Endpoint::ALL)
            .with_symbol_limit(None)
            .with_connections_max(1_000);
        let mut ex = Exchange::new(ExchangeConfig::new(5).with_account(account), now);
        let auth = [
            ("APCA-API-KEY-ID".to_owned(), "KEY".to_owned()),
            ("APCA-API-SECRET-KEY".to_owned(), "SECRET".to_owned()),
        ];
        let paths = [
            "/v2/sip",
            "/v2/iex",
            "/v2/test",
            "/v1beta1/news",
            "/v1beta3/crypto/us",
            "/stream",
        ];
        let symbols = ["AAPL", "AMD", "BTC/USD", "FAKEPACA", "MSFT", "SPY", "*"];
        let channels = ["trades", "quotes", "bars", "orderbooks", "news"];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut draw = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut sessions: Vec<SessionId> = Vec::new();
        let mut in_place = 0;
        for _ in 0..3_000 {
            match draw(12) {
                0..=2 if sessions.len() < 8 => {
                    // Mostly authenticated by headers, now and then not at all.
                    let headers = if draw(5) == 0 { &[][..] } else { &auth[..] };
                    if let Ok(id) = ex.open(now, paths[draw(paths.len())], headers) {
                        sessions.push(id);
                    }
                }
                3 | 4 if !sessions.is_empty() => {
                    let id = sessions.swap_remove(draw(sessions.len()));
                    if draw(2) == 0 {
                        ex.handle_close(now, id);
                    } else {
                        ex.handle_lost(now, id);
                    }
                }
                _ if !sessions.is_empty() => {
                    let session = sessions[draw(sessions.len())];
                    // Mostly plain symbols, now and then a `*`.
                    let plain = usize::from(draw(40) != 0);
                    let symbol = symbols[draw(symbols.len() - plain)];
                    let channel = channels[draw(channels.len())];
                    let action = ["subscribe", "unsubscribe"][draw(2)];
                    let request = format!(r#"{{"action":"{action}","{channel}":["{symbol}"]}}"#);
                    ex.handle_frame(now, session, Frame::text(request));
                }
                _ => {}
            }
            while ex.poll_output().is_some() {}
            sessions.retain(|id| ex.endpoint(*id).is_some());
            if !ex.routing.stale {
                in_place += 1;
            }
            ex.routing.refresh(&ex.sessions, &mut ex.generator);
            let fresh = Index::build(&ex.sessions, &mut ex.generator, &Index::default());
            assert_eq!(ex.routing.index, fresh);
        }
        assert!(
            in_place > 1_500,
            "only {in_place} steps were applied in place"
        );
    }

    #[test]
    fn prefix_then_symbol_is_the_symbol_order() {
        let texts = [
            "",
            "A",
            "AA",
            "AAPL",
            "AAPL\0",
            "AAPL\0\0\0\0X",
            "AAPLAAPL",
            "AAPLAAPLA",
            "AAPLAAPL\0",
            "AB",
            "BTC/USD",
            "SPY250620P00500000",
            "SPY250620C00200000",
            "\u{7f}",
            "é",
            "*",
        ];
        for a in texts {
            for b in texts {
                let (a, b) = (Symbol::from_server(a), Symbol::from_server(b));
                let by_prefix = prefix(&a).cmp(&prefix(&b)).then_with(|| a.cmp(&b));
                assert_eq!(by_prefix, a.cmp(&b), "{a:?} {b:?}");
            }
        }
    }
}
