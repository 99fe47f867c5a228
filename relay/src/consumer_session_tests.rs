//! The consumer session against a model relay: every request answered once,
//! in order, with what the relay decided; refused pairs released.

use proptest::prelude::*;
use tickwire_alpaca::AlpacaMarketData;
use tickwire_core::protocol::{Dialect, Inbound};

use super::*;
use crate::RefusedPair;

const SYMBOLS: [&str; 4] = ["AAPL", "MSFT", "ZZZZ", "ZYX"];

fn sym(text: &str) -> Symbol {
    Symbol::new(text).expect("valid")
}

fn set(pairs: &[(Channel, &str)]) -> SubscriptionSet {
    pairs.iter().map(|(c, s)| (*c, sym(s))).collect()
}

/// What the machine reads in an answer: the set acknowledged (without the
/// channels following `trades`), or the error code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Set(SubscriptionSet),
    Error(Option<u16>),
}

fn read(frame: &Frame) -> Answer {
    let mut out = Vec::new();
    AlpacaMarketData::new(Encoding::MsgPack).decode(frame, &mut out);
    match out.as_slice() {
        [Inbound::SubscriptionAck(set)] => Answer::Set(set.without_server_managed()),
        [Inbound::Error(error)] => Answer::Error(error.code),
        other => panic!("not an answer: {other:?}"),
    }
}

/// The model relay: refuses symbols starting with `Z` (410), acknowledges
/// the others; applies leases at increasing revisions.
#[derive(Debug, Default)]
struct Relay {
    revision: u64,
    leases: SubscriptionSet,
}

impl Relay {
    fn state(&self) -> ConsumerState {
        let mut state = ConsumerState {
            revision: self.revision,
            ..ConsumerState::default()
        };
        for (channel, symbol) in self.leases.iter() {
            if symbol.as_str().starts_with('Z') {
                state.refused.push(RefusedPair {
                    channel,
                    symbol: symbol.clone(),
                    code: Some(410),
                    message: "invalid symbol".into(),
                });
            } else {
                state.acked.insert(channel, symbol.clone());
            }
        }
        state
    }
}

/// Performs the session's actions on the relay; returns the answers.
fn drain(session: &mut ConsumerSession, relay: &mut Relay, leased: &mut Vec<u64>) -> Vec<Answer> {
    let mut answers = Vec::new();
    while let Some(action) = session.poll_action() {
        match action {
            SessionAction::Lease(pairs) => {
                for (channel, symbol) in pairs {
                    relay.leases.insert(channel, symbol);
                    relay.revision += 1;
                }
                leased.push(relay.revision);
            }
            SessionAction::Release(pairs) => {
                for (channel, symbol) in pairs {
                    relay.leases.remove(channel, &symbol);
                    relay.revision += 1;
                }
            }
            SessionAction::Answer(frame) => answers.push(read(&frame)),
            SessionAction::Snapshot(_) => {}
        }
    }
    answers
}

#[test]
fn a_subscribe_is_answered_once_the_relay_settled_every_pair() {
    let mut session = ConsumerSession::new(Feed::Iex);
    session.handle_subscribe(set(&[(Channel::Quotes, "AAPL"), (Channel::Quotes, "MSFT")]));
    let Some(SessionAction::Lease(pairs)) = session.poll_action() else {
        panic!("leases first")
    };
    assert_eq!(pairs.len(), 2);
    session.handle_leased(8);
    let mut state = ConsumerState {
        revision: 7,
        acked: set(&[(Channel::Quotes, "AAPL"), (Channel::Quotes, "MSFT")]),
        refused: Vec::new(),
    };
    session.handle_state(state.clone());
    assert_eq!(
        session.poll_action(),
        None,
        "the relay has not seen revision 8"
    );
    state.revision = 8;
    state.acked = set(&[(Channel::Quotes, "AAPL")]);
    session.handle_state(state.clone());
    assert_eq!(
        session.poll_action(),
        None,
        "MSFT still awaits the upstream"
    );
    state.acked = set(&[(Channel::Quotes, "AAPL"), (Channel::Quotes, "MSFT")]);
    session.handle_state(state);
    assert_eq!(
        session.poll_action(),
        Some(SessionAction::Snapshot(vec![sym("AAPL"), sym("MSFT")])),
        "the acknowledged quotes' snapshots are asked for, before the answer"
    );
    let Some(SessionAction::Answer(frame)) = session.poll_action() else {
        panic!("answered")
    };
    assert_eq!(
        read(&frame),
        Answer::Set(set(&[(Channel::Quotes, "AAPL"), (Channel::Quotes, "MSFT")]))
    );
}

#[test]
fn snapshots_are_asked_for_acknowledged_named_quotes_only() {
    let mut session = ConsumerSession::new(Feed::Iex);
    session.handle_subscribe(set(&[
        (Channel::Quotes, "AAPL"),
        (Channel::Quotes, "MSFT"),
        (Channel::Quotes, "*"),
        (Channel::Trades, "TSLA"),
    ]));
    assert!(matches!(
        session.poll_action(),
        Some(SessionAction::Lease(_))
    ));
    session.handle_leased(4);
    session.handle_state(ConsumerState {
        revision: 4,
        acked: set(&[
            (Channel::Quotes, "AAPL"),
            (Channel::Quotes, "*"),
            (Channel::Trades, "TSLA"),
        ]),
        refused: vec![RefusedPair {
            channel: Channel::Quotes,
            symbol: sym("MSFT"),
            code: Some(410),
            message: "invalid symbol".to_owned(),
        }],
    });
    let mut snapshots = Vec::new();
    while let Some(action) = session.poll_action() {
        if let SessionAction::Snapshot(symbols) = action {
            snapshots.push(symbols);
            // The request leaves after the next answer: the subscription
            // frame, not the (droppable) error frame of the refusal.
            let next = session.poll_action();
            assert!(
                matches!(&next, Some(SessionAction::Answer(frame)) if matches!(read(frame), Answer::Set(_))),
                "the subscription frame follows the ask: {next:?}"
            );
        }
    }
    assert_eq!(snapshots, vec![vec![sym("AAPL")]]);
    // An unsubscribe asks for none.
    session.handle_unsubscribe(&set(&[(Channel::Quotes, "AAPL")]));
    while let Some(action) = session.poll_action() {
        assert!(!matches!(action, SessionAction::Snapshot(_)), "{action:?}");
    }
}

#[test]
fn a_refused_pair_is_released_and_its_retry_answered_at_once() {
    let mut session = ConsumerSession::new(Feed::Iex);
    let mut relay = Relay::default();
    let mut leased = Vec::new();
    session.handle_subscribe(set(&[(Channel::Trades, "AAPL"), (Channel::Trades, "ZZZZ")]));
    assert!(drain(&mut session, &mut relay, &mut leased).is_empty());
    session.handle_leased(leased[0]);
    session.handle_state(relay.state());
    let answers = drain(&mut session, &mut relay, &mut leased);
    assert_eq!(
        answers,
        [
            Answer::Error(Some(410)),
            Answer::Set(set(&[(Channel::Trades, "AAPL")]))
        ]
    );
    assert!(
        !relay.leases.contains(Channel::Trades, &sym("ZZZZ")),
        "released"
    );
    // The machine asks for the refused pair alone: refused again, at once.
    session.handle_subscribe(set(&[(Channel::Trades, "ZZZZ")]));
    let answers = drain(&mut session, &mut relay, &mut leased);
    assert_eq!(
        answers,
        [
            Answer::Error(Some(410)),
            Answer::Set(set(&[(Channel::Trades, "AAPL")]))
        ]
    );
    assert_eq!(leased.len(), 1, "no lease written for it");
}

#[test]
fn a_channel_the_feed_lacks_is_refused_like_alpaca_does() {
    let mut session = ConsumerSession::new(Feed::Iex);
    session.handle_subscribe(set(&[(Channel::Orderbooks, "AAPL")]));
    let Some(SessionAction::Answer(frame)) = session.poll_action() else {
        panic!("answered at once")
    };
    assert_eq!(read(&frame), Answer::Error(Some(410)));
    assert_eq!(session.poll_action(), None);
}

#[test]
fn a_pair_refused_after_its_ack_is_released_and_reported() {
    let mut session = ConsumerSession::new(Feed::Iex);
    session.handle_subscribe(set(&[(Channel::Quotes, "AAPL")]));
    let _ = session.poll_action();
    session.handle_leased(1);
    session.handle_state(ConsumerState {
        revision: 1,
        acked: set(&[(Channel::Quotes, "AAPL")]),
        refused: Vec::new(),
    });
    while session.poll_action().is_some() {}
    session.handle_state(ConsumerState {
        revision: 1,
        acked: SubscriptionSet::new(),
        refused: vec![RefusedPair {
            channel: Channel::Quotes,
            symbol: sym("AAPL"),
            code: Some(406),
            message: "gone".into(),
        }],
    });
    assert!(matches!(
        session.poll_action(),
        Some(SessionAction::Release(_))
    ));
    let Some(SessionAction::Answer(frame)) = session.poll_action() else {
        panic!("reported")
    };
    assert_eq!(read(&frame), Answer::Error(Some(406)));
    assert!(session.leased().is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe(Vec<usize>),
    Unsubscribe(Vec<usize>),
    /// The relay publishes its state (at least as new as any before).
    Publish,
    /// An old state arrives late.
    Stale,
}

fn op() -> impl Strategy<Value = Op> {
    let pick = prop::collection::vec(0..SYMBOLS.len(), 1..4);
    prop_oneof![
        pick.clone().prop_map(Op::Subscribe),
        pick.prop_map(Op::Unsubscribe),
        Just(Op::Publish),
        Just(Op::Stale),
    ]
}

proptest! {
    /// One request at a time, as the machine sends them: each is answered
    /// with exactly one set, after its refusal if a pair was refused; the
    /// set answered is what the relay acknowledged of the leases; refused
    /// pairs end up neither leased nor acknowledged.
    #[test]
    fn every_request_is_answered_once_with_the_relays_verdict(ops in prop::collection::vec(op(), 1..40)) {
        let mut session = ConsumerSession::new(Feed::Iex);
        let mut relay = Relay::default();
        let mut leased = Vec::new();
        let mut outstanding = 0usize;
        let mut answers = Vec::new();
        let mut states = vec![relay.state()];
        for op in ops {
            let pairs = |picks: &[usize]| -> SubscriptionSet {
                picks.iter().map(|i| (Channel::Quotes, sym(SYMBOLS[*i]))).collect()
            };
            match op {
                Op::Subscribe(picks) if outstanding == 0 => {
                    outstanding += 1;
                    session.handle_subscribe(pairs(&picks));
                }
                Op::Unsubscribe(picks) if outstanding == 0 => {
                    outstanding += 1;
                    session.handle_unsubscribe(&pairs(&picks));
                }
                Op::Subscribe(_) | Op::Unsubscribe(_) => {}
                Op::Publish => {
                    states.push(relay.state());
                    session.handle_state(relay.state());
                }
                Op::Stale => {
                    let old = states[states.len() / 2].clone();
                    session.handle_state(old);
                }
            }
            loop {
                let got = drain(&mut session, &mut relay, &mut leased);
                let progress = !got.is_empty() || !leased.is_empty();
                for revision in leased.drain(..) {
                    session.handle_leased(revision);
                }
                for answer in got {
                    if matches!(answer, Answer::Set(_)) {
                        prop_assert!(outstanding > 0 || answers.last() == Some(&Answer::Error(Some(410))), "an answer nobody asked for: {answers:?}");
                        outstanding = outstanding.saturating_sub(1);
                    }
                    answers.push(answer);
                }
                if !progress {
                    break;
                }
            }
        }
        // The relay catches up: every request is answered.
        session.handle_state(relay.state());
        for answer in drain(&mut session, &mut relay, &mut leased) {
            if matches!(answer, Answer::Set(_)) {
                outstanding = outstanding.saturating_sub(1);
            }
            answers.push(answer);
        }
        prop_assert_eq!(outstanding, 0, "unanswered: {:?}", answers);
        for (channel, symbol) in session.leased().iter() {
            prop_assert!(!symbol.as_str().starts_with('Z') || relay.leases.contains(channel, symbol));
        }
        if let Some(Answer::Set(last)) = answers.iter().rev().find(|a| matches!(a, Answer::Set(_))) {
            prop_assert!(last.iter().all(|(_, s)| !s.as_str().starts_with('Z')), "a refused pair acknowledged: {last:?}");
        }
    }
}
