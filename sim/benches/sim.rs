//! Simulation speed: machine inputs per second of the whole simulation
//! (machines + exchange model + link + rule checks), beside a baseline run
//! in the same process: the same machines fed the same recorded inputs,
//! with no model, no link and no checks. Then a sweep of many seeds on one
//! thread and on every core, as `tickwire sim` runs it.
//!
//! Two counts are reported: **steps**, the simulation's own steps (what
//! `--steps` and the sweep's "1,000 steps per seed" count: one delivery,
//! timer, command or fault each), and **machine inputs**, the calls into
//! the machines among them (about half). Each summary prints both.
//!
//! It allocates through mimalloc, as the `tickwire` command does.
//!
//! `cargo bench -p tickwire-sim --bench sim` (a filter such as `sweep`
//! runs one group, and prints only its summary).

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwire_alpaca::{AlpacaMarketData, Encoding};
use tickwire_core::protocol::Dialect;
use tickwire_sim::recording::{MachineInput, Recording, replay_machines};
use tickwire_sim::{SimConfig, SweepConfig, record_seed, run_seed_with, run_sweep};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const STEPS: u64 = 1_000;
/// Seeds of the sweep: enough for every core to stay busy to the end.
const SWEEP_SEEDS: u64 = 200;

struct Workload {
    recordings: Vec<Recording>,
    /// Machine inputs per pass over every seed.
    inputs: u64,
    /// Engine steps per pass.
    steps: u64,
    /// Messages inside the frames the machines received.
    messages: u64,
}

fn workload() -> Workload {
    let config = SimConfig {
        steps: STEPS,
        ..SimConfig::default()
    };
    let decoder = AlpacaMarketData::new(Encoding::Json);
    let mut decoded = Vec::new();
    let mut out = Workload {
        recordings: Vec::new(),
        inputs: 0,
        steps: 0,
        messages: 0,
    };
    for seed in SEEDS {
        let (outcome, recording) = record_seed(seed, &config);
        assert!(outcome.passed(), "{outcome}");
        assert_eq!(outcome.machine_steps, recording.inputs.len() as u64);
        out.inputs += outcome.machine_steps;
        out.steps += outcome.steps;
        for (_, _, input) in &recording.inputs {
            if let MachineInput::Frame(_, frame) = input {
                decoded.clear();
                decoder.decode(frame, &mut decoded);
                out.messages += decoded.len() as u64;
            }
        }
        out.recordings.push(recording);
    }
    out
}

fn simulate(config: &SimConfig) -> u64 {
    SEEDS
        .iter()
        .map(|seed| run_seed_with(*seed, config).machine_steps)
        .sum()
}

fn baseline(recordings: &[Recording]) -> u64 {
    recordings.iter().map(|r| replay_machines(r).inputs).sum()
}

/// Passes per second of `f`, timed over about `budget`.
fn rate(budget: Duration, mut f: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let mut passes = 0u32;
    while start.elapsed() < budget || passes < 3 {
        black_box(f());
        passes += 1;
    }
    f64::from(passes) / start.elapsed().as_secs_f64()
}

/// Whether a bench named `name` runs: no filter given, or a filter it
/// contains (Criterion's own rule for its positional filter).
fn selected(name: &str) -> bool {
    /// Criterion's options that take a value.
    const WITH_VALUE: [&str; 14] = [
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--output-format",
        "--color",
    ];
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

fn bench(c: &mut Criterion) {
    const NAMES: [&str; 2] = [
        "sim/simulation: machines + exchange + link + checks",
        "sim/baseline: the same machines alone, recorded inputs",
    ];
    if !NAMES.into_iter().any(selected) {
        return;
    }
    let work = workload();
    let config = SimConfig {
        steps: STEPS,
        ..SimConfig::default()
    };
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(work.inputs));
    group.sample_size(10);
    group.bench_function("simulation: machines + exchange + link + checks", |b| {
        b.iter(|| simulate(&config));
    });
    group.bench_function("baseline: the same machines alone, recorded inputs", |b| {
        b.iter(|| baseline(&work.recordings));
    });
    group.finish();

    let sim = rate(Duration::from_secs(3), || simulate(&config));
    let base = rate(Duration::from_secs(3), || baseline(&work.recordings));
    let per_pass = |rate: f64, n: u64| rate * n as f64;
    println!(
        "\nsimulation, one thread: {:.0} steps/s, {:.0} machine inputs/s, {:.0} messages/s",
        per_pass(sim, work.steps),
        per_pass(sim, work.inputs),
        per_pass(sim, work.messages),
    );
    println!(
        "baseline (machines alone): {:.0} machine inputs/s, {:.0} messages/s",
        per_pass(base, work.inputs),
        per_pass(base, work.messages)
    );
    println!(
        "the machines take {:.1}% of the simulation's time; per pass: {} inputs, {} messages, {} steps over {} seeds",
        100.0 * sim / base,
        work.inputs,
        work.messages,
        work.steps,
        SEEDS.len()
    );
}

/// A sweep of [`SWEEP_SEEDS`] seeds on one thread, then on every core: what
/// `tickwire sim` covers. Throughput is in machine inputs.
fn sweep(c: &mut Criterion) {
    let config = |threads| SweepConfig {
        first_seed: 0,
        seeds: SWEEP_SEEDS,
        sim: SimConfig {
            steps: STEPS,
            ..SimConfig::default()
        },
        threads,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runs = [("1 thread".to_owned(), 1), (format!("{cores} cores"), 0)];
    let name = |run: &str| format!("sweep/{SWEEP_SEEDS} seeds x {STEPS} steps, {run}");
    if !runs.iter().any(|(run, _)| selected(&name(run))) {
        return;
    }
    let report = run_sweep(&config(1));
    assert!(report.passed(), "{report}");
    let mut group = c.benchmark_group("sweep");
    group.throughput(Throughput::Elements(report.machine_steps));
    group.sample_size(10);
    for (run, threads) in &runs {
        group.bench_function(name(run).trim_start_matches("sweep/"), |b| {
            b.iter(|| run_sweep(&config(*threads)).machine_steps)
        });
    }
    group.finish();

    println!(
        "\nsweep of {SWEEP_SEEDS} seeds ({} steps, {} machine inputs per sweep; Criterion's elements above are machine inputs):",
        report.steps, report.machine_steps
    );
    for (run, threads) in &runs {
        if !selected(&name(run)) {
            continue;
        }
        let sweeps = rate(Duration::from_secs(5), || {
            run_sweep(&config(*threads)).machine_steps
        });
        println!(
            "  {run}: {:.0} steps/s, {:.0} machine inputs/s",
            sweeps * report.steps as f64,
            sweeps * report.machine_steps as f64
        );
    }
}

criterion_group!(benches, bench, sweep);
criterion_main!(benches);
