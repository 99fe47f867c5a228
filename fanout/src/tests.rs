//! The hub against a reference model: random joins, leaves, subscribes,
//! unsubscribes, upstream verdicts and refusals; invariants after every step.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;
use tickwire_alpaca::Channel;
use tickwire_core::machine::SubscriptionOutcome;
use tickwire_core::{SubscriptionSet, Symbol};

const SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "SPY", "TSLA", "*"];
const CHANNELS: [Channel; 3] = [Channel::Trades, Channel::Quotes, Channel::Bars];
const CLIENTS: u64 = 5;

type Pair = (Channel, Symbol);

#[derive(Debug, Clone)]
enum Op {
    Join(u64),
    Leave(u64),
    Subscribe(u64, usize, Vec<usize>),
    Unsubscribe(u64, usize, Vec<usize>),
    /// Settle the n-th upstream subscribe in flight: acknowledge, or refuse
    /// the symbols picked by the mask.
    Settle {
        index: usize,
        refuse_mask: u8,
        abandon: bool,
    },
    /// The upstream refused pairs on its own (e.g. after a reconnect).
    Refused(usize, Vec<usize>),
    /// Ask where a message goes.
    Route(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS;
    let channel = 0..CHANNELS.len();
    let symbols = prop::collection::vec(0..SYMBOLS.len(), 1..4);
    prop_oneof![
        2 => client.clone().prop_map(Op::Join),
        1 => client.clone().prop_map(Op::Leave),
        4 => (client.clone(), channel.clone(), symbols.clone())
            .prop_map(|(c, ch, s)| Op::Subscribe(c, ch, s)),
        2 => (client, channel.clone(), symbols.clone())
            .prop_map(|(c, ch, s)| Op::Unsubscribe(c, ch, s)),
        3 => (0..4usize, any::<u8>(), prop::bool::weighted(0.1))
            .prop_map(|(index, refuse_mask, abandon)| Op::Settle { index, refuse_mask, abandon }),
        1 => (channel.clone(), symbols).prop_map(|(ch, s)| Op::Refused(ch, s)),
        2 => (channel, 0..SYMBOLS.len()).prop_map(|(ch, s)| Op::Route(ch, s)),
    ]
}

fn symbol(index: usize) -> Symbol {
    Symbol::new(SYMBOLS[index]).expect("test symbols are valid")
}

/// The reference: each client's set, recomputed unions, and which upstream
/// subscribe each pair waits for.
#[derive(Debug, Default)]
struct Model {
    clients: HashMap<ClientId, BTreeSet<Pair>>,
    awaiting: HashMap<Pair, UpstreamToken>,
    /// Upstream subscribes in flight: token, channel, symbols.
    in_flight: Vec<(UpstreamToken, Channel, Vec<Symbol>)>,
    /// What the upstream was told, applied in order.
    upstream: BTreeSet<Pair>,
    /// Each client's last ack.
    last_ack: HashMap<ClientId, SubscriptionSet<Channel>>,
}

impl Model {
    fn union(&self) -> BTreeSet<Pair> {
        self.clients.values().flatten().cloned().collect()
    }

    fn holders(&self, pair: &Pair) -> usize {
        self.clients
            .values()
            .filter(|set| set.contains(pair))
            .count()
    }

    fn drop_everywhere(&mut self, pair: &Pair) {
        for set in self.clients.values_mut() {
            set.remove(pair);
        }
        self.awaiting.remove(pair);
    }
}

fn drain(hub: &mut FanoutHub<Channel>, model: &mut Model, fresh: &[Pair]) {
    while let Some(command) = hub.poll_upstream() {
        match command {
            UpstreamCommand::Subscribe {
                token,
                channel,
                symbols,
            } => {
                for s in &symbols {
                    let pair = (channel, s.clone());
                    assert!(
                        fresh.contains(&pair),
                        "subscribed upstream {pair:?}, which a client already held"
                    );
                    assert!(
                        model.upstream.insert(pair.clone()),
                        "subscribed {pair:?} twice upstream"
                    );
                    model.awaiting.insert(pair, token);
                }
                model.in_flight.push((token, channel, symbols));
            }
            UpstreamCommand::Unsubscribe {
                channel, symbols, ..
            } => {
                for s in symbols {
                    let pair = (channel, s);
                    assert_eq!(
                        model.holders(&pair),
                        0,
                        "unsubscribed {pair:?} upstream while held"
                    );
                    assert!(
                        model.upstream.remove(&pair),
                        "unsubscribed {pair:?}, never subscribed"
                    );
                }
            }
        }
    }
    let mut acked_now = HashMap::new();
    while let Some(output) = hub.poll_client() {
        match output {
            ClientOutput::Ack { client, set } => {
                assert!(
                    model.clients.contains_key(&client),
                    "an ack for {client}, who left"
                );
                acked_now.insert(client, set);
            }
            ClientOutput::Refused { client, .. } => {
                assert!(
                    model.clients.contains_key(&client),
                    "a refusal for {client}, who left"
                );
            }
        }
    }
    for (client, set) in acked_now {
        let expected: SubscriptionSet<Channel> = model.clients[&client].iter().cloned().collect();
        assert_eq!(
            set, expected,
            "{client}'s ack does not list exactly its own set"
        );
        model.last_ack.insert(client, set);
    }
}

fn check(hub: &FanoutHub<Channel>, model: &Model) {
    let union = model.union();
    let desired: BTreeSet<Pair> = hub
        .upstream_desired()
        .iter()
        .map(|(c, s)| (c, s.clone()))
        .collect();
    assert_eq!(
        desired, union,
        "upstream desired set is not the union of the clients' sets"
    );
    assert_eq!(
        model.upstream, union,
        "the upstream commands do not sum to the union"
    );
    for channel in CHANNELS {
        for index in 0..SYMBOLS.len() {
            let pair = (channel, symbol(index));
            assert_eq!(
                hub.count(channel, &pair.1),
                model.holders(&pair),
                "count of {pair:?}"
            );
        }
    }
    assert_eq!(hub.pair_count(), union.len());
    assert_eq!(hub.client_count(), model.clients.len());
    for (client, set) in &model.clients {
        let expected: SubscriptionSet<Channel> = set.iter().cloned().collect();
        assert_eq!(hub.client_set(*client), Some(&expected), "{client}'s set");
    }
}

fn run(ops: Vec<Op>) {
    let mut hub = FanoutHub::<Channel>::new();
    let mut model = Model::default();
    let mut routed = Vec::new();
    for op in ops {
        let mut fresh = Vec::new();
        match op {
            Op::Join(c) => {
                hub.handle_join(ClientId(c));
                model.clients.entry(ClientId(c)).or_default();
            }
            Op::Leave(c) => {
                hub.handle_leave(ClientId(c));
                model.clients.remove(&ClientId(c));
                model.last_ack.remove(&ClientId(c));
            }
            Op::Subscribe(c, ch, symbols) => {
                let channel = CHANNELS[ch];
                let symbols: Vec<Symbol> = symbols.into_iter().map(symbol).collect();
                let result = hub.handle_subscribe(ClientId(c), channel, symbols.clone());
                match model.clients.contains_key(&ClientId(c)) {
                    false => assert_eq!(result, Err(UnknownClient(ClientId(c)))),
                    true => {
                        result.expect("a member subscribes");
                        for s in symbols {
                            let pair = (channel, s);
                            if model.holders(&pair) == 0 {
                                fresh.push(pair.clone());
                            }
                            model
                                .clients
                                .get_mut(&ClientId(c))
                                .expect("member")
                                .insert(pair);
                        }
                    }
                }
            }
            Op::Unsubscribe(c, ch, symbols) => {
                let channel = CHANNELS[ch];
                let symbols: Vec<Symbol> = symbols.into_iter().map(symbol).collect();
                let result = hub.handle_unsubscribe(ClientId(c), channel, &symbols);
                match model.clients.get_mut(&ClientId(c)) {
                    None => assert_eq!(result, Err(UnknownClient(ClientId(c)))),
                    Some(set) => {
                        result.expect("a member unsubscribes");
                        for s in symbols {
                            set.remove(&(channel, s));
                        }
                    }
                }
                model
                    .awaiting
                    .retain(|pair, _| model.clients.values().any(|set| set.contains(pair)));
            }
            Op::Settle {
                index,
                refuse_mask,
                abandon,
            } => {
                if model.in_flight.is_empty() {
                    continue;
                }
                let (token, channel, symbols) =
                    model.in_flight.remove(index % model.in_flight.len());
                let refused: Vec<Symbol> = symbols
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| refuse_mask & (1 << (i % 8)) != 0)
                    .map(|(_, s)| s.clone())
                    .collect();
                let outcome = if abandon {
                    SubscriptionOutcome::Abandoned
                } else if refused.is_empty() {
                    SubscriptionOutcome::Acknowledged
                } else {
                    SubscriptionOutcome::Rejected {
                        code: Some(405),
                        message: "symbol limit exceeded".into(),
                        symbols: refused.clone(),
                    }
                };
                hub.handle_upstream_outcome(token, &outcome);
                if !abandon {
                    for s in refused {
                        let pair = (channel, s);
                        if model.awaiting.get(&pair) == Some(&token) {
                            model.drop_everywhere(&pair);
                            // The machine dropped it from its desired set itself.
                            model.upstream.remove(&pair);
                        }
                    }
                }
                model.awaiting.retain(|_, t| *t != token);
            }
            Op::Refused(ch, symbols) => {
                let channel = CHANNELS[ch];
                let symbols: Vec<Symbol> = symbols.into_iter().map(symbol).collect();
                hub.handle_upstream_refused(channel, &symbols, Some(405), "symbol limit exceeded");
                for s in symbols {
                    let pair = (channel, s);
                    if model.upstream.remove(&pair) {
                        model.drop_everywhere(&pair);
                    }
                }
            }
            Op::Route(ch, s) => {
                let channel = CHANNELS[ch];
                let s = symbol(s);
                hub.route(channel, std::slice::from_ref(&s), &mut routed);
                let mut expected: Vec<ClientId> = model
                    .clients
                    .iter()
                    .filter(|(_, set)| {
                        set.contains(&(channel, s.clone()))
                            || set.contains(&(channel, Symbol::WILDCARD))
                    })
                    .map(|(c, _)| *c)
                    .collect();
                expected.sort_unstable();
                assert_eq!(routed, expected, "route of {channel:?} {s}");
            }
        }
        drain(&mut hub, &mut model, &fresh);
        check(&hub, &model);
    }
    // Quiescence: the upstream acknowledges everything in flight; every
    // client's last ack then lists exactly its set.
    while let Some((token, _, _)) = model.in_flight.pop() {
        hub.handle_upstream_outcome(token, &SubscriptionOutcome::Acknowledged);
        drain(&mut hub, &mut model, &[]);
    }
    check(&hub, &model);
    for (client, set) in &model.clients {
        let expected: SubscriptionSet<Channel> = set.iter().cloned().collect();
        let acked = model.last_ack.get(client).cloned().unwrap_or_default();
        assert_eq!(acked, expected, "{client}'s last ack after quiescence");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_hub_matches_its_reference_model(ops in prop::collection::vec(op(), 1..80)) {
        run(ops);
    }
}

#[test]
fn a_symbol_another_client_holds_stays_upstream_and_routed() {
    let (a, b) = (ClientId(1), ClientId(2));
    let aapl = symbol(0);
    let mut hub = FanoutHub::new();
    hub.handle_join(a);
    hub.handle_join(b);
    hub.handle_subscribe(a, Channel::Quotes, [aapl.clone()])
        .expect("member");
    let Some(UpstreamCommand::Subscribe { token, .. }) = hub.poll_upstream() else {
        panic!("the first holder subscribes upstream")
    };
    hub.handle_subscribe(b, Channel::Quotes, [aapl.clone()])
        .expect("member");
    assert!(hub.is_awaiting(Channel::Quotes, &aapl));
    hub.handle_upstream_outcome(token, &SubscriptionOutcome::Acknowledged);
    assert!(!hub.is_awaiting(Channel::Quotes, &aapl));
    hub.handle_unsubscribe(a, Channel::Quotes, [&aapl])
        .expect("member");
    assert_eq!(
        hub.poll_upstream(),
        None,
        "b still holds AAPL: nothing leaves upstream"
    );
    let mut to = Vec::new();
    hub.route(Channel::Quotes, std::slice::from_ref(&aapl), &mut to);
    assert_eq!(to, [b]);
    hub.handle_leave(b);
    assert!(matches!(
        hub.poll_upstream(),
        Some(UpstreamCommand::Unsubscribe { .. })
    ));
    assert!(hub.is_idle());
}

#[test]
fn a_refusal_reaches_only_the_clients_that_asked() {
    let (a, b) = (ClientId(1), ClientId(2));
    let mut hub = FanoutHub::new();
    hub.handle_join(a);
    hub.handle_join(b);
    hub.handle_subscribe(b, Channel::Trades, [symbol(2)])
        .expect("member");
    let Some(UpstreamCommand::Subscribe { token: first, .. }) = hub.poll_upstream() else {
        panic!()
    };
    hub.handle_upstream_outcome(first, &SubscriptionOutcome::Acknowledged);
    while hub.poll_client().is_some() {}
    hub.handle_subscribe(a, Channel::Trades, [symbol(0)])
        .expect("member");
    let Some(UpstreamCommand::Subscribe { token, .. }) = hub.poll_upstream() else {
        panic!()
    };
    let rejected = SubscriptionOutcome::Rejected {
        code: Some(405),
        message: "symbol limit exceeded".into(),
        symbols: vec![symbol(0)],
    };
    hub.handle_upstream_outcome(token, &rejected);
    assert_eq!(
        hub.poll_client(),
        Some(ClientOutput::Refused {
            client: a,
            code: Some(405),
            message: "symbol limit exceeded".into()
        })
    );
    assert_eq!(
        hub.poll_client(),
        None,
        "a's set is unchanged: no ack; b hears nothing"
    );
    assert_eq!(hub.client_set(a), Some(&SubscriptionSet::new()));
}
