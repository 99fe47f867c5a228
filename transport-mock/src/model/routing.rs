//! Who wants what: the market demand of the authenticated sessions, kept
//! between ticks as one [`Plan`] per endpoint, which the generator walks,
//! and one [`Target`] per session, which sending reads. The common changes
//! are applied in place: a market data session authenticating
//! ([`Routing::session_authenticated`]), a pair added to or removed from a
//! set ([`Routing::pair_changed`]), a session going away
//! ([`Routing::session_removed`]). Any other change to a session's set or
//! phase marks the index stale ([`Routing::invalidate`]), and the next tick
//! rebuilds it; so does any change the index cannot apply in place, or one
//! made while the index is set aside for sending.

use std::collections::BTreeMap;

use tickwire_alpaca::Channel;
use tickwire_core::Symbol;

use super::endpoint::Kind;
use super::generator::{Event, Generator, Route, TEST_SYMBOL};
use super::plan::{InstrumentId, Plan, PlanSymbol};
use super::session::Session;
use super::{Endpoint, SessionId};

/// One (channel, symbol) pair added to or removed from the set of an
/// authenticated market data session (the set already holds the change).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairChange<'a> {
    /// The session.
    pub(crate) id: SessionId,
    /// The pair's channel.
    pub(crate) channel: Channel,
    /// The pair's symbol.
    pub(crate) symbol: &'a Symbol,
    /// Added, or removed.
    pub(crate) added: bool,
}

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

    /// A pair of a session's set changed. Applied in place unless the index is stale anyway, the pair is a
    /// `*`, or a session of the endpoint holds a `*` (whose universe makes
    /// the plan a matter for a rebuild).
    pub(crate) fn pair_changed(&mut self, change: PairChange<'_>, generator: &mut Generator) {
        if !self.is_current() || !self.index.apply(change, generator) {
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
///
/// Every target holds one mask per symbol of its plan, and a symbol is
/// wanted on the union of its members' masks, never on nothing. Only
/// [`insert_symbol`](Self::insert_symbol), [`hold`](Self::hold),
/// [`release`](Self::release) and
/// [`remove_symbol_if_unwanted`](Self::remove_symbol_if_unwanted) change a
/// plan's symbols or a target's masks, and they keep both in step.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    /// In endpoint order.
    plans: Vec<Plan>,
    /// In session order.
    targets: Vec<Target>,
    /// Whether any session subscribes to anything.
    any_demand: bool,
}

impl Index {
    /// The plans, in endpoint order; [`Event`]s and [`Target`]s index them.
    pub(crate) fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The targets, in session order.
    pub(crate) fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Whether any session subscribes to anything.
    pub(crate) fn any_demand(&self) -> bool {
        self.any_demand
    }
}

/// One authenticated market data session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    id: SessionId,
    /// Index of its endpoint's plan.
    plan: usize,
    /// The channel bits the session holds `*` on.
    wildcards: u32,
    /// Per symbol of the plan, the channel bits the session holds it on
    /// (its own symbol or `*`).
    masks: Vec<u32>,
}

impl Target {
    /// The target of session `id` on plan `plan`, holding none of its
    /// `symbols` symbols.
    fn new(id: SessionId, plan: usize, symbols: usize) -> Self {
        Self {
            id,
            plan,
            wildcards: 0,
            masks: vec![0; symbols],
        }
    }

    pub(crate) fn id(&self) -> SessionId {
        self.id
    }

    /// Index of its endpoint's plan.
    pub(crate) fn plan(&self) -> usize {
        self.plan
    }

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
        let targets = served
            .iter()
            .map(|(id, s)| {
                let plan = endpoints
                    .binary_search(&s.endpoint)
                    .expect("every served endpoint has a plan");
                Target::new(*id, plan, 0)
            })
            .collect();
        let mut index = Self {
            plans: endpoints.iter().map(|e| Plan::new(*e)).collect(),
            targets,
            any_demand,
        };
        for (plan, endpoint) in endpoints.iter().enumerate() {
            let members: Vec<(usize, &Session)> = served
                .iter()
                .enumerate()
                .filter(|(_, (_, s))| s.endpoint == *endpoint)
                .map(|(i, (_, s))| (i, *s))
                .collect();
            let known = previous.plans.iter().find(|p| p.endpoint == *endpoint);
            index.fill_plan(plan, &members, known, generator);
        }
        index
    }

    /// Fills in plan `plan`, empty so far, from the sets of its sessions
    /// (`members`, by index in `targets`); `known` is an earlier plan of the
    /// endpoint, if any, whose instruments are reused.
    ///
    /// Every symbol held on one of the endpoint's channels is wanted on it,
    /// and with a `*` on a channel every symbol of the universe is wanted
    /// too; a channel held with `*` is wanted for every wanted symbol. The
    /// test stream only serves its own symbol.
    fn fill_plan(
        &mut self,
        plan: usize,
        members: &[(usize, &Session)],
        known: Option<&Plan>,
        generator: &mut Generator,
    ) {
        let endpoint = self.plans[plan].endpoint;
        let channels = endpoint.channels();
        // (sort key, symbol, channel bit, member)
        let subscribed: usize = members.iter().map(|(_, s)| s.subscriptions.len()).sum();
        let mut pairs: Vec<(u64, &Symbol, u32, usize)> = Vec::with_capacity(subscribed);
        let mut everywhere = 0u32;
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
            self.targets[*member].wildcards = wildcard;
        }
        // Owned, so that instruments can be registered while it is read.
        let universe = if everywhere == 0 {
            Vec::new()
        } else {
            generator.universe(endpoint).to_vec()
        };
        pairs.extend(universe.iter().map(|s| (prefix(s), s, 0, UNIVERSE)));
        if endpoint == Endpoint::Test {
            pairs.retain(|(_, s, _, _)| s.as_bytes() == TEST_SYMBOL.as_bytes());
        }
        // The prefixes decide most comparisons; equal ones fall back to the symbols.
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let distinct = pairs.len() - pairs.windows(2).filter(|w| w[0].1 == w[1].1).count();
        self.plans[plan].symbols.reserve(distinct);
        for (member, _) in members {
            self.targets[*member].masks.reserve(distinct);
        }
        let known = known.map_or(&[][..], Plan::symbols);
        let mut next_known = 0;
        for (_, symbol, bit, member) in pairs {
            let symbols = &self.plans[plan].symbols;
            if symbols.last().is_none_or(|last| last.symbol != *symbol) {
                while known.get(next_known).is_some_and(|k| k.symbol < *symbol) {
                    next_known += 1;
                }
                let instrument = match known.get(next_known) {
                    Some(k) if k.symbol == *symbol => k.instrument,
                    _ => instrument(endpoint, symbol, generator),
                };
                let at = symbols.len();
                self.insert_symbol(plan, at, symbol.clone(), instrument);
            }
            if member != UNIVERSE {
                let at = self.plans[plan].symbols.len() - 1;
                self.hold(member, at, bit);
            }
        }
    }

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
                self.plans.insert(plan, Plan::new(endpoint));
                for target in self.targets.iter_mut().filter(|t| t.plan >= plan) {
                    target.plan += 1;
                }
                plan
            }
        };
        let symbols = self.plans[plan].symbols.len();
        self.targets
            .insert(position, Target::new(id, plan, symbols));
        true
    }

    /// Removes the target of session `id`, if it has one, and the symbols
    /// only it wanted (its plan too when it was the last of its endpoint);
    /// `false` if it cannot.
    fn remove_target(&mut self, id: SessionId) -> bool {
        let Ok(position) = self.targets.binary_search_by_key(&id, |t| t.id) else {
            return true; // not served: unauthenticated, unentitled or trading
        };
        let plan = self.targets[position].plan;
        let members = || self.targets.iter().filter(|t| t.plan == plan);
        if members().any(|t| t.wildcards != 0) {
            return false;
        }
        let last = members().count() == 1;
        let gone = self.targets.remove(position);
        if last {
            self.plans.remove(plan);
            for target in self.targets.iter_mut().filter(|t| t.plan > plan) {
                target.plan -= 1;
            }
            return true;
        }
        // Backwards, so removing a symbol leaves the indices still to visit.
        for (at, mask) in gone.masks.iter().enumerate().rev() {
            if *mask != 0 {
                self.remove_symbol_if_unwanted(plan, at);
            }
        }
        true
    }

    /// Applies one pair added to or removed from the set of session `id`
    /// (see [`Routing::pair_changed`]); `false` when it cannot be applied
    /// in place and the index needs a rebuild.
    fn apply(&mut self, change: PairChange<'_>, generator: &mut Generator) -> bool {
        let PairChange {
            id,
            channel,
            symbol,
            added,
        } = change;
        let Ok(target) = self.targets.binary_search_by_key(&id, |t| t.id) else {
            return false;
        };
        let plan = self.targets[target].plan;
        if symbol.is_wildcard()
            || self
                .targets
                .iter()
                .any(|t| t.plan == plan && t.wildcards != 0)
        {
            return false;
        }
        let endpoint = self.plans[plan].endpoint;
        let Some(position) = endpoint.channels().iter().position(|c| *c == channel) else {
            return true; // a channel the endpoint lacks wants nothing
        };
        if endpoint == Endpoint::Test && symbol.as_bytes() != TEST_SYMBOL.as_bytes() {
            return true; // the test stream only serves its own symbol
        }
        let bit = 1u32 << position;
        let found = self.plans[plan]
            .symbols
            .binary_search_by(|s| s.symbol.cmp(symbol));
        match found {
            Ok(at) if added => self.hold(target, at, bit),
            Err(at) if added => {
                let instrument = instrument(endpoint, symbol, generator);
                self.insert_symbol(plan, at, symbol.clone(), instrument);
                self.hold(target, at, bit);
            }
            Ok(at) => self.release(target, at, bit),
            Err(_) => {} // removed a pair that was not wanted
        }
        true
    }

    /// Inserts `symbol` as symbol `at` of plan `plan`: each member's mask of
    /// it starts as the member's `*` channels, and it is wanted on their
    /// union.
    fn insert_symbol(
        &mut self,
        plan: usize,
        at: usize,
        symbol: Symbol,
        instrument: Option<InstrumentId>,
    ) {
        let mut channels = 0;
        for member in self.targets.iter_mut().filter(|t| t.plan == plan) {
            member.masks.insert(at, member.wildcards);
            channels |= member.wildcards;
        }
        let entry = PlanSymbol {
            symbol,
            channels,
            instrument,
        };
        self.plans[plan].symbols.insert(at, entry);
    }

    /// Target `target` now holds symbol `at` of its plan on channel `bit`.
    fn hold(&mut self, target: usize, at: usize, bit: u32) {
        let target = &mut self.targets[target];
        target.masks[at] |= bit;
        self.plans[target.plan].symbols[at].channels |= bit;
    }

    /// Target `target` no longer holds symbol `at` of its plan on channel
    /// `bit` (which no `*` of its plan's members covers).
    fn release(&mut self, target: usize, at: usize, bit: u32) {
        let target = &mut self.targets[target];
        target.masks[at] &= !bit;
        let plan = target.plan;
        self.remove_symbol_if_unwanted(plan, at);
    }

    /// Sets the channels symbol `at` of plan `plan` is wanted on to the
    /// union of its members' masks, or removes it (and their masks of it)
    /// when that is none.
    fn remove_symbol_if_unwanted(&mut self, plan: usize, at: usize) {
        let members = || self.targets.iter().filter(|t| t.plan == plan);
        let channels = members().fold(0, |bits, t| bits | t.masks[at]);
        if channels == 0 {
            self.plans[plan].symbols.remove(at);
            for member in self.targets.iter_mut().filter(|t| t.plan == plan) {
                member.masks.remove(at);
            }
        } else {
            self.plans[plan].symbols[at].channels = channels;
        }
    }
}

/// No session: a symbol of the universe, wanted through a `*`.
const UNIVERSE: usize = usize::MAX;

/// The generator's instrument of `symbol` on `endpoint`; none on news
/// endpoints, which have none.
fn instrument(
    endpoint: Endpoint,
    symbol: &Symbol,
    generator: &mut Generator,
) -> Option<InstrumentId> {
    (endpoint.kind() != Kind::News).then(|| generator.instrument(endpoint, symbol))
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
