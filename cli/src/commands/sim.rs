//! `tickwire sim`: the deterministic simulation sweep of tickwire-sim.
//!
//! The summary is a pure function of the arguments (seeds, steps, rule
//! checks, liveness, trace hash); only the final timing line varies.

use std::io::{self, Write};
use std::time::Instant;

use tickwire_sim::{SimConfig, SweepConfig, SweepReport, run_sweep, shrink};

use crate::args::SimArgs;
use crate::error::CliError;

/// Runs the sweep (or batches of it until `--for` runs out) and prints its
/// summary, each failed seed shrunk to its shortest failing run first.
///
/// # Errors
/// [`CliError::Runtime`] (exit code 1) when any seed fails; the summary on
/// stdout names each failed seed and the command that replays it.
pub(crate) fn run(args: SimArgs) -> Result<(), CliError> {
    let mut sim = SimConfig::default();
    if let Some(steps) = args.steps {
        sim.steps = steps;
    }
    let started = Instant::now();
    let mut first_seed = args.seed;
    loop {
        let config = SweepConfig {
            first_seed,
            seeds: args.seeds,
            sim: sim.clone(),
            threads: 0,
        };
        let batch_started = Instant::now();
        let report = run_sweep(&config);
        let elapsed = batch_started.elapsed();
        let shortest: Vec<Shortest> = report
            .failures
            .iter()
            .map(|failure| Shortest {
                seed: failure.seed,
                steps_before: failure.steps_asked,
                steps: shrink(failure, &config.sim).steps_asked,
            })
            .collect();
        print_report(&config, &report, &shortest, elapsed)?;
        if let Some(first) = shortest.first() {
            return Err(CliError::runtime(format!(
                "{} of {} seeds failed; replay the first with: {}",
                report.failures.len(),
                report.seeds,
                replay(first.seed, first.steps)
            )));
        }
        first_seed = first_seed.saturating_add(args.seeds);
        match args.budget {
            Some(budget) if started.elapsed() < budget => continue,
            _ => return Ok(()),
        }
    }
}

/// A failed seed and the fewest safety steps that still fail it.
struct Shortest {
    seed: u64,
    steps_before: u64,
    steps: u64,
}

/// The command that replays one seed.
fn replay(seed: u64, steps: u64) -> String {
    format!("tickwire sim --seed {seed} --seeds 1 --steps {steps}")
}

/// Prints a sweep's summary and, for each failed seed, its shortest replay.
fn print_report(
    config: &SweepConfig,
    report: &SweepReport,
    shortest: &[Shortest],
    elapsed: std::time::Duration,
) -> Result<(), CliError> {
    let steps = config.sim.steps;
    let mut text = format!(
        "tickwire sim: seeds {}..={}, {steps} safety steps each\n{report}\n",
        config.first_seed,
        config.first_seed.saturating_add(config.seeds - 1)
    );
    for failure in shortest {
        text.push_str(&format!(
            "replay seed {} (shrunk from {} to {} steps): {}\n",
            failure.seed,
            failure.steps_before,
            failure.steps,
            replay(failure.seed, failure.steps)
        ));
    }
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = report.machine_steps as f64 / seconds.max(1e-9);
    text.push_str(&format!(
        "took {seconds:.2} s wall time ({rate:.0} machine inputs/s)\n"
    ));
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))
}
