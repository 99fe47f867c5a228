//! A deterministic simulation of tickwire's machines against the exchange model.
//!
//! One thread, virtual time, everything drawn from one seed: the streams
//! (market data and account, several sharing one account's connection and
//! symbol limits), the link (latency, jitter, resets, hangs, garbage), the
//! exchange's faults (refused upgrades, delayed/duplicated/reordered acks,
//! drops, silence, restarts, lingering sessions that cause 406) and the
//! application's commands. A run has two phases:
//!
//! 1. **safety**: faults on; DESIGN.md's rules 1–13 are checked after every
//!    machine input, against what the link and the exchange really did;
//! 2. **liveness**: faults off, commands stop; every stream that is neither
//!    shut down nor failed must reach `Live` with confirmed == desired (or
//!    `Idle` with nothing wanted) within a bound of virtual time.
//!
//! A failure names the seed and the command that replays it exactly
//! ([`replay_command`]); the same seed always gives the same
//! [trace hash](SeedOutcome::trace_hash).
//!
//! ```
//! use tickwire_tests::sim::{SimConfig, run_seed_with};
//! let config = SimConfig { steps: 300, record_trace: true, ..SimConfig::default() };
//! let outcome = run_seed_with(42, &config);
//! assert!(outcome.passed(), "{outcome}");
//! assert!(outcome.trace.lines().is_some_and(|lines| !lines.is_empty()));
//! ```
//!
//! Modules, one concern each: [`engine`] (the world and its clock),
//! [`link`] (the network), [`faults`] (one-shot faults), [`workload`] (the
//! application), [`scenario`] (what a seed decides), [`checks`] (the rules),
//! `tee` (shows the checks what a machine decoded), [`trace`] (hash and
//! log), and `run` ([`run_seed`], [`run_sweep`]).

pub mod checks;
pub mod engine;
pub mod faults;
pub mod link;
pub mod recording;
mod run;
pub mod scenario;
mod stream;
mod tee;
pub mod trace;
pub mod workload;

pub use checks::Violation;
pub use run::{
    FailureKind, SeedOutcome, SimConfig, SweepConfig, SweepReport, record_seed, replay_command,
    run_seed, run_seed_with, run_sweep,
};
pub use trace::Trace;
