//! `tickwire sim`: the deterministic simulation sweep of tickwire-sim.
//!
//! The summary is a pure function of the arguments (seeds, steps, rule
//! checks, liveness, trace hash); only the final timing line varies.

use std::io::{self, Write};
use std::time::Instant;

use tickwire_sim::{SimConfig, SweepConfig, run_sweep};

use crate::args::SimArgs;
use crate::error::CliError;

/// Runs the sweep and prints its summary.
///
/// # Errors
/// [`CliError::Runtime`] (exit code 1) when any seed fails; the summary on
/// stdout names each failed seed and the command that replays it.
pub(crate) fn run(args: SimArgs) -> Result<(), CliError> {
    let mut sim = SimConfig::default();
    if let Some(steps) = args.steps {
        sim.steps = steps;
    }
    let steps = sim.steps;
    let config = SweepConfig {
        first_seed: args.seed,
        seeds: args.seeds,
        sim,
        threads: 0,
    };
    let started = Instant::now();
    let report = run_sweep(&config);
    let elapsed = started.elapsed();

    let mut text = format!(
        "tickwire sim: seeds {}..={}, {steps} safety steps each\n{report}\n",
        args.seed,
        args.seed.saturating_add(args.seeds - 1)
    );
    for failure in &report.failures {
        text.push_str(&format!(
            "replay seed {}: tickwire sim --seed {} --seeds 1 --steps {steps}\n",
            failure.seed, failure.seed
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
        .map_err(|e| CliError::runtime(format!("cannot write to stdout: {e}")))?;

    match report.failures.first() {
        None => Ok(()),
        Some(first) => Err(CliError::runtime(format!(
            "{} of {} seeds failed; replay the first with: tickwire sim --seed {} --seeds 1 --steps {steps}",
            report.failures.len(),
            report.seeds,
            first.seed
        ))),
    }
}
