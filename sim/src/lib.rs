//! tickwire-sim: a deterministic simulation of tickwire's machines against
//! the exchange model of `tickwire-mock`.
//!
//! One thread, virtual time, everything drawn from one seed: the streams
//! (market data and account, several sharing one account's connection and
//! symbol limits), the link (latency, jitter, resets, hangs, garbage), the
//! exchange's faults (refused upgrades, delayed/duplicated/reordered acks,
//! drops, silence, restarts, lingering sessions that cause 406) and the
//! application's commands. A run has two phases:
//!
//! 1. **safety**: faults on; the machine's rules 1–13 (`docs/ARCHITECTURE.md`) are checked after every
//!    machine input, against what the link and the exchange really did;
//! 2. **liveness**: faults off, commands stop; every stream that is neither
//!    shut down nor failed must reach `Live` with confirmed == desired (or
//!    `Idle` with nothing wanted) within a bound of virtual time.
//! 3. **recovery drain**: the run goes on, faults off, until what was in
//!    flight has arrived and every recovery is idle; then rule 14
//!    ([`exactly_once`]): every order state the exchange produced while the
//!    application wanted an account stream, and every trade of the tape
//!    produced while it wanted a symbol's trades on a market stream with
//!    backfill, was delivered exactly once, live or recovered (a duplicate
//!    fails the seed at once).
//!
//! Each account stream's `OrderReconciler` is driven in virtual time
//! ([`reconcile`]) against the exchange's REST order list, and each market
//! stream with backfill (most, drawn per seed) runs `MarketBackfill` for
//! its trades ([`backfill`]) against the exchange's historical trades,
//! read from the tape it streams, over the spans in which it wanted each
//! symbol ([`wanted`]). Both go through [`rest_fetch`], with REST faults ([`rest`]: 429
//! with or without `Retry-After`, 5xx, slow and malformed answers, repeated
//! pages and page tokens, small pages) drawn from a generator of their own.
//!
//! A failure names the seed and the command that replays it exactly
//! ([`replay_command`]); the same seed always gives the same
//! [trace hash](SeedOutcome::trace_hash).
//!
//! ```
//! use tickwire_sim::{SimConfig, run_seed_with};
//! let config = SimConfig { steps: 300, record_trace: true, ..SimConfig::default() };
//! let outcome = run_seed_with(42, &config);
//! assert!(outcome.passed(), "{outcome}");
//! assert!(outcome.trace.lines().is_some_and(|lines| !lines.is_empty()));
//! ```
//!
//! Modules, one concern each: [`engine`] (the world and its clock),
//! [`link`] (the network), [`faults`] (one-shot faults), [`workload`] (the
//! application), [`scenario`] (what a seed decides), [`checks`] (the rules),
//! [`rest`] (the REST API and its faults), [`rest_fetch`] (REST requests in
//! virtual time), [`reconcile`] (an account stream's reconciliation),
//! [`backfill`] (a market stream's trade backfill), [`wanted`] (when a
//! stream wanted a symbol's trades), [`exactly_once`] (rule 14),
//! [`sabotage`] (recoveries broken on purpose),
//! `tee` (shows the checks what a machine decoded), [`trace`] (hash and
//! log), and `run` ([`run_seed`], [`run_sweep`]).
//!
//! # Running it
//!
//! ```text
//! cargo test -p tickwire-sim --test simulation            # 20,000 seeds × 1,000 steps
//! TICKWIRE_SIM_SEEDS=100000 TICKWIRE_SIM_FIRST_SEED=20000 \
//!   cargo test --release -p tickwire-sim --test simulation sweep -- --nocapture   # a long soak
//! TICKWIRE_SIM_SEED=1234 TICKWIRE_SIM_TRACE=sim-1234.trace \
//!   cargo test -p tickwire-sim --test simulation replay -- --nocapture           # replay one seed
//! tickwire sim --seeds 10000 --seed 0 --steps 1000                                 # the same from the CLI
//! ```
//!
//! Other variables: `TICKWIRE_SIM_STEPS` (safety steps per seed),
//! `TICKWIRE_SIM_THREADS`, `TICKWIRE_SIM_TRACE_DIR` (write the readable traces of failed seeds there).
//!
//! # Running your own code against the simulated exchange
//!
//! The same exchange model, with the same fault knobs, is reachable from the
//! async API your application uses. Build the stream as in production, but
//! over tickwire-mock's in-memory `ScriptedTransport` and a `SharedExchange`,
//! and run on paused tokio time: simulated minutes pass in milliseconds and a
//! seed replays exactly.
//!
//! ```no_run
//! use tickwire_mock::{Account, ExchangeConfig, FaultPlan, Faults, ScriptedTransport, SharedExchange};
//! use tickwire_ws::{Channel, Encoding, Feed, MarketDataStream};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let faults = Faults { drop: 0.01, ack_delay: 0.3, ack_reorder: 0.2, garbage: 0.01, ..Faults::NONE };
//! let exchange = SharedExchange::new(
//!     ExchangeConfig::new(7).with_account(Account::new("KEY", "SECRET")).with_faults(FaultPlan::uniform(faults)),
//! );
//! let stream = MarketDataStream::builder(Feed::Custom("wss://sim.invalid/v2/iex".into()))
//!     .key_pair("KEY", "SECRET")
//!     .encoding(Encoding::Json)
//!     .build_with_transport(ScriptedTransport::new(exchange.clone()))?;
//! stream.subscribe(Channel::Quotes, ["AAPL"]).await?;
//! // … feed `stream.events()` to your code; inject one-shot faults with
//! // `exchange.with(|ex, now| ex.inject(now, session, Fault::Reset))` or `ex.restart(now)`.
//! # Ok(()) }
//! ```
//!
//! `examples/faulty_exchange.rs` is a complete program
//! (`cargo run -p tickwire-sim --example faulty_exchange [seed]`). For a
//! driver of your own around the sans-I/O machine, [`engine::World`]
//! shows the whole loop: feed inputs with `now`, drain actions and events,
//! jump to the earliest `poll_timeout`.

#![warn(missing_docs)]

pub mod backfill;
pub mod checks;
pub mod engine;
pub mod exactly_once;
pub mod faults;
pub mod link;
pub mod reconcile;
pub mod recording;
pub mod rest;
pub mod rest_fetch;
mod run;
pub mod sabotage;
pub mod scenario;
mod shrink;
mod stream;
mod tee;
pub mod trace;
pub mod wanted;
pub mod withheld;
pub mod workload;

pub use checks::Violation;
pub use run::{
    FailureKind, SeedOutcome, SimConfig, SweepConfig, SweepReport, record_seed, replay_command,
    run_seed, run_seed_sabotaged, run_seed_with, run_sweep,
};
pub use sabotage::Sabotage;
pub use shrink::{shrink, smallest_failing};
pub use trace::Trace;
