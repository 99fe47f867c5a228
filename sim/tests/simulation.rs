//! The simulation sweep, the determinism test and the replay entry point.
//!
//! - `cargo test -p tickwire-sim --test simulation` runs the sweep
//!   (20,000 seeds × 1,000 steps by default: 40 to 75 s on the 2-core
//!   machine, about 60 s of CPU, a third of it rule 14's trade backfill; a
//!   machine bug that broke one seed in 1,200 got through the 2,000 seeds
//!   this once ran), a sweep of 10,000 short runs (30 steps) and the
//!   determinism tests.
//! - Long soaks: `TICKWIRE_SIM_SEEDS=100000 TICKWIRE_SIM_FIRST_SEED=20000
//!   cargo test --release -p tickwire-sim --test simulation sweep -- --nocapture`.
//! - Replay one seed with a readable trace: `TICKWIRE_SIM_SEED=1234
//!   TICKWIRE_SIM_TRACE=sim.trace cargo test -p tickwire-sim --test simulation replay -- --nocapture`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::time::Instant;

use tickwire_sim::{SimConfig, SweepConfig, run_seed, run_seed_with, run_sweep};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Writes the readable traces of failed seeds (re-running them with a log)
/// to `TICKWIRE_SIM_TRACE_DIR`, if set.
fn write_failure_traces(report: &tickwire_sim::SweepReport, steps: u64) {
    let Ok(dir) = std::env::var("TICKWIRE_SIM_TRACE_DIR") else {
        return;
    };
    for failure in report.failures.iter().take(5) {
        let config = SimConfig {
            steps,
            record_trace: true,
            ..SimConfig::default()
        };
        let outcome = run_seed_with(failure.seed, &config);
        let path = Path::new(&dir).join(format!("sim-{}.trace", failure.seed));
        match outcome.trace.write_to(&path) {
            Ok(()) => eprintln!(
                "trace of seed {} written to {}",
                failure.seed,
                path.display()
            ),
            Err(error) => eprintln!("could not write {}: {error}", path.display()),
        }
    }
}

#[test]
fn sweep() {
    let seeds = env_u64("TICKWIRE_SIM_SEEDS").unwrap_or(20_000);
    let steps = env_u64("TICKWIRE_SIM_STEPS").unwrap_or(1_000);
    let config = SweepConfig {
        first_seed: env_u64("TICKWIRE_SIM_FIRST_SEED").unwrap_or(0),
        seeds,
        sim: SimConfig {
            steps,
            ..SimConfig::default()
        },
        threads: env_u64("TICKWIRE_SIM_THREADS").map_or(0, |t| t as usize),
    };
    let started = Instant::now();
    let report = run_sweep(&config);
    let elapsed = started.elapsed();
    println!("{report}");
    println!(
        "wall time {:.1}s, {:.0} steps/s, {:.0} machine inputs/s",
        elapsed.as_secs_f64(),
        report.steps as f64 / elapsed.as_secs_f64(),
        report.machine_steps as f64 / elapsed.as_secs_f64()
    );
    write_failure_traces(&report, steps);
    assert!(
        report.passed(),
        "{} seeds failed; replay commands above",
        report.failures.len()
    );
    assert!(report.checks > report.seeds * 100, "the checks did not run");
    if report.seeds >= 1_000 {
        assert!(
            report.order_states[1] > 0 && report.order_states[0] > report.order_states[1],
            "rule 14 saw no reconciled order state (or nothing live): {:?}",
            report.order_states
        );
        assert!(
            report.trades[1] > 0 && report.trades[0] > report.trades[1],
            "rule 14 saw no backfilled trade (or nothing live): {:?}",
            report.trades
        );
    }
}

/// Short runs (30 steps) end their faults while streams are still early:
/// a silence lifted just before a loss, say, which long runs rarely reach
/// (seed 3226 at 30 steps once misjudged such a withheld trade as lost).
#[test]
fn short_runs_sweep() {
    let steps = 30;
    let config = SweepConfig {
        first_seed: 0,
        seeds: 10_000,
        sim: SimConfig {
            steps,
            ..SimConfig::default()
        },
        threads: 0,
    };
    let report = run_sweep(&config);
    println!("{report}");
    write_failure_traces(&report, steps);
    assert!(
        report.passed(),
        "{} seeds failed at {steps} steps; replay commands above",
        report.failures.len()
    );
    assert!(
        report.trades[1] > 0,
        "no trade was backfilled: {:?}",
        report.trades
    );
}

#[test]
fn same_seed_same_trace_and_different_seeds_differ() {
    let a = run_seed(11, 1_000);
    let b = run_seed(11, 1_000);
    assert!(a.passed(), "{a}");
    assert_eq!(
        a.trace_hash(),
        b.trace_hash(),
        "seed 11 did not replay identically"
    );
    assert_eq!(a.steps, b.steps);
    assert_eq!(a.checks, b.checks);
    let others: Vec<u64> = (12..16)
        .map(|seed| run_seed(seed, 1_000).trace_hash())
        .collect();
    assert!(
        others.iter().all(|h| *h != a.trace_hash()),
        "different seeds gave the same trace"
    );
}

#[test]
fn a_recorded_trace_is_the_same_run() {
    let plain = run_seed(21, 500);
    let config = SimConfig {
        steps: 500,
        record_trace: true,
        ..SimConfig::default()
    };
    let recorded = run_seed_with(21, &config);
    assert_eq!(
        plain.trace_hash(),
        recorded.trace_hash(),
        "keeping a log changed the run"
    );
    assert!(recorded.trace.lines().is_some_and(|l| l.len() > 10));
}

/// Replays `TICKWIRE_SIM_SEED` (with `TICKWIRE_SIM_STEPS` safety steps) and
/// writes its readable trace to `TICKWIRE_SIM_TRACE` if set. Without the
/// variable it replays seed 0, as a smoke test.
#[test]
fn replay() {
    let seed = env_u64("TICKWIRE_SIM_SEED").unwrap_or(0);
    let steps = env_u64("TICKWIRE_SIM_STEPS").unwrap_or(1_000);
    let trace_path = std::env::var("TICKWIRE_SIM_TRACE").ok();
    let config = SimConfig {
        steps,
        record_trace: trace_path.is_some(),
        ..SimConfig::default()
    };
    let outcome = run_seed_with(seed, &config);
    println!("{outcome}");
    if let Some(path) = trace_path {
        match outcome.trace.write_to(Path::new(&path)) {
            Ok(()) => println!("trace written to {path}"),
            Err(error) => println!("could not write the trace to {path}: {error}"),
        }
    }
    assert!(outcome.passed(), "seed {seed} failed: {outcome}");
}

/// The machines alone, fed the inputs recorded in a run, behave the same
/// every time (the benchmark's baseline is this replay).
#[test]
fn recorded_inputs_replay_into_fresh_machines() {
    use tickwire_sim::record_seed;
    use tickwire_sim::recording::replay_machines;
    let config = SimConfig {
        steps: 500,
        ..SimConfig::default()
    };
    let (outcome, recording) = record_seed(5, &config);
    assert!(outcome.passed(), "{outcome}");
    assert_eq!(
        outcome.trace_hash(),
        run_seed_with(5, &config).trace_hash(),
        "recording changed the run"
    );
    assert_eq!(recording.inputs.len() as u64, outcome.machine_steps);
    let first = replay_machines(&recording);
    let second = replay_machines(&recording);
    assert_eq!(first, second);
    assert_eq!(first.inputs, outcome.machine_steps);
    assert!(first.outputs > 0);
}

/// Rule 14 can fail: a reconciliation that reads every page as empty, or
/// hands every update over twice, fails seeds that pass when it works.
#[test]
fn rule_14_catches_a_reconciliation_that_drops_pages_or_delivers_twice() {
    use tickwire_sim::Sabotage;
    use tickwire_sim::{FailureKind, run_seed_sabotaged};
    let config = SimConfig {
        steps: 1_000,
        ..SimConfig::default()
    };
    let rule_14 = |outcome: &tickwire_sim::SeedOutcome| matches!(&outcome.failure, Some(FailureKind::Violation(v)) if v.rule == 14);
    for (sabotage, seeds_wanted) in [(Sabotage::DeliverTwice, 3), (Sabotage::DropPages, 1)] {
        let mut caught = Vec::new();
        for seed in 0..400 {
            let broken = run_seed_sabotaged(seed, &config, sabotage);
            if rule_14(&broken) {
                let sound = run_seed_with(seed, &config);
                assert!(sound.passed(), "{sound}");
                assert!(broken.to_string().contains("replay: TICKWIRE_SIM_SEED="));
                caught.push(seed);
                if caught.len() >= seeds_wanted {
                    break;
                }
            }
        }
        assert_eq!(
            caught.len(),
            seeds_wanted,
            "{sabotage:?} was caught in seeds {caught:?} only"
        );
    }
}

/// Rule 14 can fail for trades: a sweep whose trade backfill reads every
/// page as empty (as if backfill were off), or hands every backfilled trade
/// over twice (as if deduplication were off), reports violations of rule
/// 14, each naming its seed and the command that replays it, in seeds that
/// pass when the backfill works.
#[test]
fn rule_14_catches_a_trade_backfill_that_drops_pages_or_delivers_twice() {
    use tickwire_sim::{FailureKind, Sabotage};
    for sabotage in [
        Sabotage::DropTradePages,
        Sabotage::DeliverBackfilledTradesTwice,
    ] {
        let config = SweepConfig {
            first_seed: 0,
            seeds: 200,
            sim: SimConfig {
                steps: 1_000,
                sabotage: Some(sabotage),
                ..SimConfig::default()
            },
            threads: 0,
        };
        let report = run_sweep(&config);
        let trade_violations: Vec<_> = report
            .failures
            .iter()
            .filter(|failure| {
                matches!(&failure.failure, Some(FailureKind::Violation(v))
                    if v.rule == 14 && v.message.contains("trade ("))
            })
            .collect();
        assert!(
            trade_violations.len() >= 3,
            "{sabotage:?} broke rule 14 for trades in {} of 200 seeds:\n{report}",
            trade_violations.len()
        );
        println!(
            "{sabotage:?}: rule 14 broken for trades in {} of {} seeds",
            trade_violations.len(),
            report.seeds
        );
        let text = report.to_string();
        for failure in trade_violations.iter().take(3) {
            let seed = failure.seed;
            assert!(
                text.contains(&format!("seed {seed}: "))
                    && text.contains(&format!("replay: TICKWIRE_SIM_SEED={seed} ")),
                "the report does not name seed {seed} and its replay:\n{text}"
            );
            let sound = run_seed_with(seed, &SimConfig::default());
            assert!(sound.passed(), "{sound}");
        }
    }
}
