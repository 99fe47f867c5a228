//! The reconnect backoff: bounds that double up to the cap, delays below
//! them, and the same delays from the same seed.

use std::time::Duration;

use tickwire_core::Credentials;
use tickwire_core::machine::{Backoff, MachineConfig};

#[test]
fn bound_doubles_up_to_the_cap_and_delays_stay_below_it() {
    let mut config = MachineConfig::new("ws://x", Credentials::new("k", "s"));
    config.backoff_base = Duration::from_millis(100);
    config.backoff_max = Duration::from_secs(1);
    let mut backoff = Backoff::new(&config);
    let mut bounds = Vec::new();
    for _ in 0..8 {
        let bound = backoff.bound();
        bounds.push(bound.as_millis());
        assert!(backoff.next_delay(false) <= bound);
    }
    assert_eq!(bounds, vec![100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    let after_limit = backoff.next_delay(true);
    assert!(after_limit >= config.backoff_floor_after_limit);
    assert!(after_limit <= config.backoff_floor_after_limit + config.backoff_max);
}

#[test]
fn same_seed_same_delays() {
    let config = MachineConfig::new("ws://x", Credentials::new("k", "s"));
    let mut a = Backoff::new(&config);
    let mut b = Backoff::new(&config);
    for _ in 0..20 {
        assert_eq!(a.next_delay(false), b.next_delay(false));
    }
}
