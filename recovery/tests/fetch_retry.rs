//! The fetch retry decisions over arbitrary runs of attempts.

use std::time::Duration;

use proptest::prelude::*;
use tickwire_core::Credentials;
use tickwire_core::machine::MachineConfig;
use tickwire_recovery::{Attempt, FetchRetry, Retry};

fn config(seed: u64) -> MachineConfig {
    let mut config = MachineConfig::new("wss://example.invalid", Credentials::new("k", "s"));
    config.seed = seed;
    config.backoff_base = Duration::from_millis(100);
    config.backoff_max = Duration::from_secs(2);
    config
}

fn attempt() -> impl Strategy<Value = Attempt> {
    prop_oneof![
        (100u16..600, proptest::option::of(0u64..120)).prop_map(|(code, after)| {
            Attempt::Status {
                code,
                retry_after: after.map(Duration::from_secs),
            }
        }),
        Just(Attempt::Status {
            code: 429,
            retry_after: None
        }),
        Just(Attempt::Status {
            code: 503,
            retry_after: None
        }),
        Just(Attempt::TimedOut),
        Just(Attempt::Unreachable("connection refused".to_owned())),
    ]
}

fn is_transient(attempt: &Attempt) -> bool {
    match attempt {
        Attempt::Status { code, .. } => *code == 408 || *code == 429 || (500..600).contains(code),
        Attempt::TimedOut | Attempt::Unreachable(_) => true,
    }
}

proptest! {
    #[test]
    fn decisions_follow_the_rules(
        seed: u64,
        attempts_max in 1u32..8,
        attempts in proptest::collection::vec(attempt(), 1..40),
    ) {
        let config = config(seed);
        let mut retry = FetchRetry::new(&config, attempts_max);
        let mut failed_in_a_row = 0u32;
        for attempt in &attempts {
            let decision = retry.next(attempt);
            match attempt {
                Attempt::Status { code, .. } if (200..300).contains(code) => {
                    prop_assert_eq!(&decision, &Retry::Done);
                    failed_in_a_row = 0;
                    continue;
                }
                _ if !is_transient(attempt) => {
                    prop_assert!(matches!(&decision, Retry::GiveUp(why) if !why.is_empty()));
                    continue;
                }
                _ => failed_in_a_row += 1,
            }
            if failed_in_a_row >= attempts_max {
                prop_assert!(matches!(decision, Retry::GiveUp(_)), "{:?}", decision);
                failed_in_a_row = 0;
                retry = FetchRetry::new(&config, attempts_max);
                continue;
            }
            let Retry::After(delay) = decision else {
                return Err(TestCaseError::fail(format!("{attempt:?} gave {decision:?}")));
            };
            match attempt {
                Attempt::Status { code: 429, retry_after: Some(after) } => prop_assert_eq!(delay, *after),
                Attempt::Status { code: 429, retry_after: None } => {
                    prop_assert!(delay >= config.backoff_floor_after_limit);
                    prop_assert!(delay <= config.backoff_floor_after_limit + config.backoff_max);
                }
                _ => prop_assert!(delay <= config.backoff_max),
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays(
        seed: u64,
        attempts in proptest::collection::vec(attempt(), 1..20),
    ) {
        let mut a = FetchRetry::new(&config(seed), 100);
        let mut b = FetchRetry::new(&config(seed), 100);
        for attempt in &attempts {
            prop_assert_eq!(a.next(attempt), b.next(attempt));
        }
    }
}

#[test]
fn delays_grow_until_the_cap_while_failures_repeat() {
    let config = config(7);
    let mut retry = FetchRetry::new(&config, 100);
    let unreachable = Attempt::Unreachable("connection refused".to_owned());
    let delays: Vec<Duration> = (0..12)
        .map(|_| match retry.next(&unreachable) {
            Retry::After(delay) => delay,
            other => panic!("{other:?}"),
        })
        .collect();
    let late = delays[6..].iter().max().copied().unwrap_or_default();
    let early = delays[..2].iter().max().copied().unwrap_or_default();
    assert!(early <= Duration::from_millis(200), "{delays:?}");
    assert!(late > early, "the bound doubles: {delays:?}");
}
