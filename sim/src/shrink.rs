//! Shrinking a failing seed before it is reported: the fewest safety steps
//! that still fail it the same way, so that its replay is as short as it
//! can be.

use std::mem::discriminant;

use super::run::{SeedOutcome, SimConfig, run_seed_with};

/// The smallest `steps` in `1..=failing` for which `fails(steps)` holds,
/// given that it holds for `failing`, by bisection: exact when failing is
/// monotone in the steps (a safety violation at step k fails every longer
/// run); otherwise a smaller failing value, never a passing one.
pub fn smallest_failing(failing: u64, mut fails: impl FnMut(u64) -> bool) -> u64 {
    let (mut passing_below, mut failing_at) = (0, failing.max(1));
    while failing_at - passing_below > 1 {
        let middle = passing_below + (failing_at - passing_below) / 2;
        if fails(middle) {
            failing_at = middle;
        } else {
            passing_below = middle;
        }
    }
    failing_at
}

/// `failed` run again with the fewest safety steps that fail it with the
/// same kind of failure (see [`smallest_failing`]); about log₂(steps) runs.
///
/// ```
/// use tickwire_sim::{SimConfig, run_seed_with, shrink};
/// let config = SimConfig { steps: 50, ..SimConfig::default() };
/// let outcome = run_seed_with(7, &config);
/// // A passing seed has nothing to shrink: it comes back as it was.
/// assert_eq!(shrink(&outcome, &config).steps_asked, 50);
/// ```
pub fn shrink(failed: &SeedOutcome, config: &SimConfig) -> SeedOutcome {
    let Some(failure) = &failed.failure else {
        return failed.clone();
    };
    let kind = discriminant(failure);
    let run = |steps: u64| {
        run_seed_with(
            failed.seed,
            &SimConfig {
                steps,
                ..config.clone()
            },
        )
    };
    let same_failure = |outcome: &SeedOutcome| {
        outcome
            .failure
            .as_ref()
            .is_some_and(|f| discriminant(f) == kind)
    };
    let steps = smallest_failing(failed.steps_asked, |steps| same_failure(&run(steps)));
    if steps == failed.steps_asked {
        return failed.clone();
    }
    run(steps)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn finds_the_threshold_of_a_monotone_failure(threshold in 1u64..100_000, extra in 0u64..100_000) {
            let failing = threshold + extra;
            let mut runs = 0;
            let found = smallest_failing(failing, |steps| {
                runs += 1;
                steps >= threshold
            });
            prop_assert_eq!(found, threshold);
            prop_assert!(runs <= 18, "{runs} runs");
        }

        #[test]
        fn never_returns_a_passing_count(failing in 1u64..10_000, pattern in any::<u64>()) {
            // Failing on an arbitrary set of counts that includes `failing`.
            let fails = |steps: u64| steps == failing || (pattern >> (steps % 64)) & 1 == 1;
            let found = smallest_failing(failing, fails);
            prop_assert!(found >= 1 && found <= failing);
            prop_assert!(fails(found));
        }
    }
}
