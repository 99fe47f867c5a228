//! [`Interest`] against a reference model: a map of live keys to their
//! expiry, whose pairs' union the hub must ask upstream for.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tickwire_alpaca::{Channel, Feed, SubscriptionSet};
use tickwire_core::machine::SubscriptionOutcome;
use tickwire_fanout::{FanoutHub, UpstreamCommand};

use crate::lease::LeaseKey;
use crate::{Interest, InterestChange, LeaseError};

const TTL: Duration = Duration::from_millis(1000);

/// Keys the operations draw from: valid leases of three consumers, and
/// malformed ones that must change nothing.
fn keys() -> Vec<String> {
    let mut keys = Vec::new();
    for consumer in ["a", "b", "c-1"] {
        for channel in ["quotes", "trades"] {
            for symbol in ["AAPL", "MSFT", "BRK=2EB", "=2A"] {
                keys.push(format!("iex.{channel}.{symbol}.{consumer}"));
            }
        }
    }
    keys.extend(
        [
            "iex.ticks.AAPL.a",
            "iex.quotes.BRK.B.a",
            "sip.quotes.AAPL.a",
            "iex.quotes.brk=2eb.a",
            "iex.orderbooks.AAPL.a",
        ]
        .map(String::from),
    );
    keys
}

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: usize,
        age_ms: u64,
    },
    Delete {
        key: usize,
    },
    Advance {
        ms: u64,
    },
    /// The relay takes the lead: a fresh hub, built from the leases.
    Replay,
}

fn op() -> impl Strategy<Value = Op> {
    let count = keys().len();
    prop_oneof![
        4 => (0..count, prop_oneof![3 => Just(0_u64), 1 => 0..1200_u64])
            .prop_map(|(key, age_ms)| Op::Put { key, age_ms }),
        2 => (0..count).prop_map(|key| Op::Delete { key }),
        2 => (0..700_u64).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Replay),
    ]
}

/// Applies every change to the hub (in runs, as the relay does) and
/// acknowledges every upstream command.
fn settle(interest: &mut Interest, hub: &mut FanoutHub<Channel>) {
    let mut changes = Vec::new();
    while let Some(change) = interest.poll_change() {
        changes.push(change);
    }
    crate::interest::apply_all(changes, hub);
    while let Some(command) = hub.poll_upstream() {
        let token = match command {
            UpstreamCommand::Subscribe { token, .. }
            | UpstreamCommand::Unsubscribe { token, .. } => token,
        };
        hub.handle_upstream_outcome(token, &SubscriptionOutcome::Acknowledged);
    }
    while hub.poll_client().is_some() {}
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_upstream_wants_exactly_the_live_leases(ops in proptest::collection::vec(op(), 1..60)) {
        let keys = keys();
        let start = Instant::now();
        let mut now = start;
        let mut interest = Interest::new(Feed::Iex, TTL);
        let mut hub = FanoutHub::new();
        let mut model: HashMap<String, Instant> = HashMap::new();
        for op in ops {
            match op {
                Op::Put { key, age_ms } => {
                    let key = &keys[key];
                    let age = Duration::from_millis(age_ms);
                    let result = interest.handle_put(now, key, age);
                    let valid = LeaseKey::parse(key).is_ok_and(|k| k.feed == Feed::Iex);
                    prop_assert_eq!(result.is_ok(), valid, "{}: {:?}", key, result);
                    if valid {
                        if age < TTL {
                            model.insert(key.clone(), now + (TTL - age));
                        } else {
                            model.remove(key);
                        }
                    }
                }
                Op::Delete { key } => {
                    interest.handle_delete(&keys[key]);
                    model.remove(&keys[key]);
                }
                Op::Advance { ms } => {
                    now += Duration::from_millis(ms);
                    interest.handle_timeout(now);
                    model.retain(|_, expires_at| *expires_at > now);
                }
                Op::Replay => {
                    interest.replay();
                    hub = FanoutHub::new();
                }
            }
            settle(&mut interest, &mut hub);

            let expected: SubscriptionSet = model
                .keys()
                .map(|key| {
                    let lease = LeaseKey::parse(key).expect("the model holds valid keys");
                    (lease.channel, lease.symbol)
                })
                .collect();
            prop_assert_eq!(hub.upstream_desired(), expected);
            let consumers: BTreeSet<String> = model
                .keys()
                .map(|key| LeaseKey::parse(key).expect("valid").consumer)
                .collect();
            prop_assert_eq!(hub.client_count(), consumers.len());
            prop_assert_eq!(interest.consumer_count(), consumers.len());
            prop_assert_eq!(interest.lease_count(), model.len());
            prop_assert_eq!(interest.poll_timeout(), model.values().min().copied());
        }
    }
}

#[test]
fn a_lease_of_another_feed_is_refused() {
    let mut interest = Interest::new(Feed::Iex, TTL);
    let error = interest
        .handle_put(Instant::now(), "sip.quotes.AAPL.a", Duration::ZERO)
        .expect_err("another feed");
    assert!(matches!(error, LeaseError::OtherFeed { .. }), "{error:?}");
    assert_eq!(interest.poll_change(), None);
}

#[test]
fn a_refreshed_lease_outlives_its_first_ttl() {
    let start = Instant::now();
    let mut interest = Interest::new(Feed::Iex, TTL);
    let mut hub = FanoutHub::new();
    interest
        .handle_put(start, "iex.quotes.AAPL.a", Duration::ZERO)
        .expect("valid");
    settle(&mut interest, &mut hub);
    let later = start + TTL / 2;
    interest
        .handle_put(later, "iex.quotes.AAPL.a", Duration::ZERO)
        .expect("valid");
    assert_eq!(interest.poll_change(), None, "a refresh changes no set");
    interest.handle_timeout(start + TTL);
    assert_eq!(interest.poll_change(), None, "refreshed: still live");
    assert_eq!(interest.poll_timeout(), Some(later + TTL));
    interest.handle_timeout(later + TTL);
    settle(&mut interest, &mut hub);
    assert!(hub.is_idle());
    assert_eq!(interest.consumer_count(), 0);
}

/// A replay drops the changes not yet taken: a fresh hub gets each lease
/// once, with its consumer joined first.
#[test]
fn a_replay_builds_a_fresh_hub_from_the_live_leases() {
    let now = Instant::now();
    let mut interest = Interest::new(Feed::Iex, TTL);
    for key in [
        "iex.quotes.AAPL.a",
        "iex.trades.AAPL.a",
        "iex.quotes.MSFT.b",
    ] {
        interest
            .handle_put(now, key, Duration::ZERO)
            .expect("valid");
    }
    interest.replay();
    let mut changes = Vec::new();
    while let Some(change) = interest.poll_change() {
        changes.push(change);
    }
    let joins = changes
        .iter()
        .filter(|c| matches!(c, InterestChange::Join(_)))
        .count();
    assert_eq!((joins, changes.len()), (2, 5), "{changes:?}");
    assert!(matches!(changes[0], InterestChange::Join(_)));
    let mut hub = FanoutHub::new();
    for change in changes {
        change.apply(&mut hub);
    }
    let expected: SubscriptionSet = [
        (Channel::Quotes, "AAPL"),
        (Channel::Trades, "AAPL"),
        (Channel::Quotes, "MSFT"),
    ]
    .into_iter()
    .map(|(channel, symbol)| (channel, symbol.parse().expect("a symbol")))
    .collect();
    assert_eq!(hub.upstream_desired(), expected);
    assert_eq!(hub.client_count(), 2);
}

#[test]
fn a_burst_of_one_consumers_leases_is_one_upstream_request() {
    let now = Instant::now();
    let mut interest = Interest::new(Feed::Iex, Duration::from_secs(10));
    let mut hub = FanoutHub::new();
    for key in [
        "iex.quotes.AAPL.a",
        "iex.quotes.MSFT.a",
        "iex.trades.AAPL.a",
        "iex.quotes.SPY.b",
    ] {
        interest
            .handle_put(now, key, Duration::ZERO)
            .expect("valid");
    }
    let mut changes = Vec::new();
    while let Some(change) = interest.poll_change() {
        changes.push(change);
    }
    crate::interest::apply_all(changes, &mut hub);
    let mut commands = Vec::new();
    while let Some(command) = hub.poll_upstream() {
        let UpstreamCommand::Subscribe {
            channel, symbols, ..
        } = command
        else {
            panic!("only subscribes")
        };
        let symbols: Vec<&str> = symbols.iter().map(|s| s.as_str()).collect::<Vec<_>>();
        commands.push(format!("{channel} {}", symbols.join(",")));
    }
    assert_eq!(commands, ["quotes AAPL,MSFT", "trades AAPL", "quotes SPY"]);
}
