//! Running seeds: one ([`run_seed`]), or many in parallel ([`run_sweep`]),
//! with the outcome of each and the command that replays a failure.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::checks::Violation;
use super::engine::{Stop, World};
use super::recording::Recording;
use super::sabotage::Sabotage;
use super::scenario::Scenario;
use super::trace::Trace;

/// Settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Steps of the safety phase (faults on).
    pub steps: u64,
    /// Scale of every fault rate, in `[0, 1]`; 0 runs without faults.
    pub intensity: f64,
    /// Virtual time the liveness phase may take.
    pub liveness_bound: Duration,
    /// Keep a readable log of the run (slower; for replays).
    pub record_trace: bool,
    /// Break every recovery on purpose, for tests that rule 14 can fail
    /// (a replay command does not carry it).
    pub sabotage: Option<Sabotage>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            steps: 1_000,
            intensity: 1.0,
            liveness_bound: Duration::from_secs(600),
            record_trace: false,
            sabotage: None,
        }
    }
}

/// Why a seed failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A rule was broken in the safety or liveness phase.
    Violation(Violation),
    /// Some stream did not settle in the liveness phase.
    NotLive(String),
    /// Something panicked (rule 12 if it was the machine).
    Panic(String),
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Violation(v) => write!(f, "{v}"),
            Self::NotLive(why) => write!(f, "liveness: {why}"),
            Self::Panic(message) => write!(f, "panic (rule 12 if in the machine): {message}"),
        }
    }
}

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Safety-phase steps asked for.
    pub steps_asked: u64,
    /// Steps taken, both phases.
    pub steps: u64,
    /// Inputs given to machines.
    pub machine_steps: u64,
    /// Individual rule checks that passed.
    pub checks: u64,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// How long the liveness phase took to settle every stream, if it did.
    pub liveness: Option<Duration>,
    /// Streams in the run.
    pub streams: usize,
    /// Streams shut down or failed (excused from liveness).
    pub streams_excused: usize,
    /// Symbols the exchange rejected (reported to the application).
    pub rejected: u64,
    /// Data events delivered between a `Gap` and its `Resumed`.
    pub data_before_resumed: u64,
    /// Order states delivered to the application, of them reconciled, and
    /// recoveries reported failed (rule 14).
    pub order_states: [u64; 3],
    /// Trades delivered to the application by streams with a backfill, of
    /// them backfilled, and backfills reported failed (rule 14).
    pub trades: [u64; 3],
    /// The trace: its hash, and the readable log if kept.
    pub trace: Trace,
    /// Why it failed, if it did.
    pub failure: Option<FailureKind>,
}

impl SeedOutcome {
    /// Whether every check held and liveness was reached.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The hash of everything that happened.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// The command that replays this seed exactly.
    pub fn replay_command(&self) -> String {
        replay_command(self.seed, self.steps_asked)
    }
}

impl fmt::Display for SeedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {} steps ({} machine inputs), {} checks, {:.1}s virtual, {} streams ({} excused), trace {:016x}",
            self.seed,
            self.steps,
            self.machine_steps,
            self.checks,
            self.virtual_time.as_secs_f64(),
            self.streams,
            self.streams_excused,
            self.trace.hash()
        )?;
        match (&self.failure, self.liveness) {
            (Some(failure), _) => write!(
                f,
                "\n  FAILED: {failure}\n  replay: {}",
                self.replay_command()
            ),
            (None, Some(live)) => write!(
                f,
                ", settled {:.1}s after faults stopped",
                live.as_secs_f64()
            ),
            (None, None) => Ok(()),
        }
    }
}

/// The command that replays `seed` with `steps` safety steps, with a readable trace.
///
/// ```
/// let command = tickwire_sim::replay_command(1234, 1000);
/// assert!(command.starts_with("TICKWIRE_SIM_SEED=1234 TICKWIRE_SIM_STEPS=1000 "));
/// ```
pub fn replay_command(seed: u64, steps: u64) -> String {
    format!(
        "TICKWIRE_SIM_SEED={seed} TICKWIRE_SIM_STEPS={steps} TICKWIRE_SIM_TRACE=sim-{seed}.trace \
         cargo test -p tickwire-sim --test simulation replay -- --nocapture"
    )
}

/// Runs one seed with the default settings and `steps` safety steps.
///
/// ```
/// let outcome = tickwire_sim::run_seed(7, 200);
/// assert!(outcome.passed(), "{outcome}");
/// assert_eq!(outcome.trace_hash(), tickwire_sim::run_seed(7, 200).trace_hash());
/// ```
pub fn run_seed(seed: u64, steps: u64) -> SeedOutcome {
    run_seed_with(
        seed,
        &SimConfig {
            steps,
            ..SimConfig::default()
        },
    )
}

/// Runs one seed: draws its scenario, runs the safety phase, then the liveness phase.
pub fn run_seed_with(seed: u64, config: &SimConfig) -> SeedOutcome {
    run_inner(seed, config, None)
}

/// Runs one seed like [`run_seed_with`] with every account stream's
/// reconciliation, or every market stream's trade backfill, broken on
/// purpose (see [`Sabotage`]): rule 14 must fail the seeds where it matters.
pub fn run_seed_sabotaged(seed: u64, config: &SimConfig, sabotage: Sabotage) -> SeedOutcome {
    let config = SimConfig {
        sabotage: Some(sabotage),
        ..config.clone()
    };
    run_inner(seed, &config, None)
}

fn run_inner(seed: u64, config: &SimConfig, recording: Option<&mut Recording>) -> SeedOutcome {
    let record = recording.is_some();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scenario = Scenario::draw(&mut rng, config.intensity);
    scenario.draw_rest(seed, config.intensity);
    let streams = scenario.streams.len();
    let world_seed = rng.next_u64();
    let mut slot = None::<World>;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let world = slot.insert(World::new(world_seed, scenario, config.record_trace));
        if record {
            world.record_inputs();
        }
        if let Some(sabotage) = config.sabotage {
            world.sabotage_recoveries(sabotage);
        }
        world.start()?;
        world.run_safety(config.steps)?;
        let live = world.run_liveness(config.liveness_bound)?;
        world.run_recovery_drain(config.liveness_bound)?;
        Ok(live)
    }));
    let mut world = slot;
    if let (Some(out), Some(world)) = (recording, world.as_mut()) {
        *out = world.take_recording().unwrap_or_default();
    }
    let (failure, liveness) = match result {
        Ok(Ok(live)) => (None, Some(live)),
        Ok(Err(Stop::Violation(v))) => (Some(FailureKind::Violation(v)), None),
        Ok(Err(Stop::NotLive(why))) => (Some(FailureKind::NotLive(why)), None),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".into());
            (Some(FailureKind::Panic(message)), None)
        }
    };
    if let Some(failure) = &failure {
        tracing::warn!(seed, %failure, replay = %replay_command(seed, config.steps), "simulation failed");
    }
    match world {
        Some(world) => {
            let (_, excused) = world.dispositions();
            SeedOutcome {
                seed,
                steps_asked: config.steps,
                steps: world.steps(),
                machine_steps: world.machine_steps(),
                checks: world.checks(),
                virtual_time: world.elapsed(),
                liveness,
                streams,
                streams_excused: excused,
                rejected: world.rejected(),
                data_before_resumed: world.data_before_resumed(),
                order_states: world.order_states(),
                trades: world.trades(),
                trace: world.into_trace(),
                failure,
            }
        }
        None => SeedOutcome {
            seed,
            steps_asked: config.steps,
            steps: 0,
            machine_steps: 0,
            checks: 0,
            virtual_time: Duration::ZERO,
            liveness,
            streams,
            streams_excused: 0,
            rejected: 0,
            data_before_resumed: 0,
            order_states: [0; 3],
            trades: [0; 3],
            trace: Trace::new(false),
            failure,
        },
    }
}

/// Runs one seed like [`run_seed_with`] and returns every input its machines
/// received, for [`replay_machines`](super::recording::replay_machines).
pub fn record_seed(seed: u64, config: &SimConfig) -> (SeedOutcome, Recording) {
    let mut recording = Recording::default();
    let outcome = run_inner(seed, config, Some(&mut recording));
    (outcome, recording)
}

/// Settings of a sweep over many seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepConfig {
    /// The first seed.
    pub first_seed: u64,
    /// How many consecutive seeds.
    pub seeds: u64,
    /// Settings of each run.
    pub sim: SimConfig,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            first_seed: 0,
            seeds: 2_000,
            sim: SimConfig::default(),
            threads: 0,
        }
    }
}

/// The summary of a sweep. Its `Display` is identical for the same
/// configuration (it holds no wall-clock timing).
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Seeds run.
    pub seeds: u64,
    /// Steps taken, all seeds.
    pub steps: u64,
    /// Machine inputs, all seeds.
    pub machine_steps: u64,
    /// Rule checks passed, all seeds.
    pub checks: u64,
    /// Seeds whose liveness phase settled every stream.
    pub live_reached: u64,
    /// Streams, all seeds.
    pub streams: u64,
    /// Streams shut down or failed.
    pub streams_excused: u64,
    /// Symbols rejected by the exchange and reported.
    pub rejected: u64,
    /// Longest liveness phase.
    pub liveness_max: Duration,
    /// Virtual time simulated, all seeds.
    pub virtual_time: Duration,
    /// A hash over every seed's trace hash, in seed order.
    pub combined_hash: u64,
    /// Order states delivered, of them reconciled, and recoveries reported
    /// failed, all seeds (rule 14).
    pub order_states: [u64; 3],
    /// Trades delivered by streams with a backfill, of them backfilled,
    /// and backfills reported failed, all seeds (rule 14).
    pub trades: [u64; 3],
    /// Seeds in which data was delivered between a `Gap` and its `Resumed`, and the first.
    pub data_before_resumed: (u64, Option<u64>),
    /// The failed seeds, in seed order.
    pub failures: Vec<SeedOutcome>,
}

impl SweepReport {
    /// Whether every seed passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} seeds, {} steps ({} machine inputs), {} rule checks passed, {:.0}s virtual time",
            self.seeds,
            self.steps,
            self.machine_steps,
            self.checks,
            self.virtual_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "liveness reached by {}/{} seeds (longest {:.1}s); {} streams, {} shut down or failed; {} symbols rejected",
            self.live_reached,
            self.seeds,
            self.liveness_max.as_secs_f64(),
            self.streams,
            self.streams_excused,
            self.rejected
        )?;
        let [delivered, reconciled, failed] = self.order_states;
        writeln!(
            f,
            "rule 14: {delivered} order states delivered once ({reconciled} reconciled), {failed} recoveries reported failed"
        )?;
        let [delivered, backfilled, failed] = self.trades;
        writeln!(
            f,
            "rule 14: {delivered} trades delivered once ({backfilled} backfilled), {failed} backfills reported failed"
        )?;
        if let (seeds, Some(first)) = self.data_before_resumed {
            writeln!(
                f,
                "data delivered between a gap and its resume in {seeds} seeds (first: seed {first}); allowed, noted"
            )?;
        }
        write!(
            f,
            "combined trace hash {:016x}; {} failed",
            self.combined_hash,
            self.failures.len()
        )?;
        for failure in &self.failures {
            write!(f, "\n{failure}")?;
        }
        Ok(())
    }
}

/// Runs `config.seeds` seeds from `config.first_seed` on worker threads.
///
/// ```
/// use tickwire_sim::{SimConfig, SweepConfig, run_sweep};
/// let config = SweepConfig { first_seed: 0, seeds: 4, sim: SimConfig { steps: 100, ..SimConfig::default() }, threads: 1 };
/// let report = run_sweep(&config);
/// assert!(report.passed(), "{report}");
/// assert_eq!(report.seeds, 4);
/// ```
pub fn run_sweep(config: &SweepConfig) -> SweepReport {
    let threads = match config.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let next = AtomicU64::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(
        usize::try_from(config.seeds).unwrap_or(0),
    ));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= config.seeds {
                        break;
                    }
                    let outcome = run_seed_with(config.first_seed.wrapping_add(i), &config.sim);
                    outcomes
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    outcomes.sort_by_key(|o| o.seed);
    let mut report = SweepReport {
        seeds: config.seeds,
        ..SweepReport::default()
    };
    let mut combined = Trace::new(false);
    for outcome in outcomes {
        report.steps += outcome.steps;
        report.machine_steps += outcome.machine_steps;
        report.checks += outcome.checks;
        report.streams += outcome.streams as u64;
        report.streams_excused += outcome.streams_excused as u64;
        report.rejected += outcome.rejected;
        report.virtual_time += outcome.virtual_time;
        for (total, count) in report.order_states.iter_mut().zip(outcome.order_states) {
            *total += count;
        }
        for (total, count) in report.trades.iter_mut().zip(outcome.trades) {
            *total += count;
        }
        combined.record(
            Duration::ZERO,
            outcome.seed,
            &outcome.trace_hash().to_le_bytes(),
        );
        if outcome.data_before_resumed > 0 {
            report.data_before_resumed.0 += 1;
            report.data_before_resumed.1.get_or_insert(outcome.seed);
        }
        if let Some(live) = outcome.liveness {
            report.live_reached += 1;
            report.liveness_max = report.liveness_max.max(live);
        }
        if !outcome.passed() {
            report.failures.push(outcome);
        }
    }
    report.combined_hash = combined.hash();
    report
}
