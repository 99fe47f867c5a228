//! Who wants what: the market demand of the authenticated sessions, kept
//! between ticks and rebuilt only after a session's set or phase changed.

use std::collections::BTreeMap;

use tickwire_core::{Channel, Symbol};

use super::generator::{Demand, Event, Generator, Plan, Route};
use super::session::Session;
use super::{Endpoint, SessionId};

/// The demand index, and whether it is stale.
#[derive(Debug, Default)]
pub(crate) struct Routing {
    pub(crate) index: Index,
    stale: bool,
}

impl Routing {
    /// A new, stale index (built at the first tick).
    pub(crate) fn new() -> Self {
        Self {
            index: Index::default(),
            stale: true,
        }
    }

    /// A session came, went, authenticated or changed its set.
    pub(crate) fn invalidate(&mut self) {
        self.stale = true;
    }

    /// Rebuilds the index if a session changed since it was built.
    pub(crate) fn refresh(
        &mut self,
        sessions: &BTreeMap<SessionId, Session>,
        generator: &Generator,
    ) {
        if self.stale {
            self.index = Index::build(sessions, generator);
            self.stale = false;
        }
        debug_assert_eq!(
            self.index,
            Index::build(sessions, generator),
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
    /// Per symbol of the plan, the channel bits the session holds it on.
    masks: Vec<u32>,
    /// `news` pairs (news endpoints): `*`, or the symbols.
    news: Vec<Symbol>,
}

impl Target {
    /// Whether the session asked for an event of its endpoint.
    pub(crate) fn wants(&self, event: &Event) -> bool {
        match &event.route {
            Route::Instrument { symbol, bit } => self.masks[*symbol] & bit != 0,
            Route::News(symbols) => self
                .news
                .iter()
                .any(|held| held.is_wildcard() || symbols.contains(held)),
        }
    }
}

impl Index {
    fn build(sessions: &BTreeMap<SessionId, Session>, generator: &Generator) -> Self {
        let served = || {
            sessions
                .iter()
                .filter(|(_, s)| s.is_authenticated() && !s.endpoint.is_trading())
        };
        let mut demand: BTreeMap<Endpoint, Demand> = BTreeMap::new();
        for (_, s) in served() {
            let d = demand.entry(s.endpoint).or_default();
            for (channel, symbol) in s.subscriptions.iter() {
                d.add(channel, symbol);
            }
        }
        let any_demand = demand.values().any(|d| !d.is_empty());
        let plans: Vec<Plan> = demand
            .iter()
            .map(|(endpoint, d)| generator.plan(*endpoint, d))
            .collect();
        let targets = served()
            .map(|(id, s)| {
                let plan = plans
                    .iter()
                    .position(|p| p.endpoint == s.endpoint)
                    .expect("every served endpoint has a plan");
                target(*id, s, plan, &plans[plan])
            })
            .collect();
        Self {
            plans,
            targets,
            any_demand,
        }
    }
}

/// The routing masks of one session: the same answers as looking every
/// event's (channel, symbol) and (channel, `*`) up in the session's set.
fn target(id: SessionId, s: &Session, plan: usize, p: &Plan) -> Target {
    let channels = s.endpoint.channels();
    let bit = |channel: Channel| {
        channels
            .iter()
            .position(|c| *c == channel)
            .map_or(0, |b| 1u32 << b)
    };
    let mut everywhere = 0u32;
    let mut masks = vec![0u32; p.wanted.len()];
    let mut news = Vec::new();
    for (channel, symbol) in s.subscriptions.iter() {
        if channel == Channel::News {
            news.push(symbol.clone());
        }
        if symbol.is_wildcard() {
            everywhere |= bit(channel);
        } else if let Ok(i) = p.wanted.binary_search_by(|(w, _)| w.cmp(symbol)) {
            masks[i] |= bit(channel);
        }
    }
    for mask in &mut masks {
        *mask |= everywhere;
    }
    Target {
        id,
        plan,
        masks,
        news,
    }
}
