//! tickwire-tests: cross-crate suites and the deterministic simulation.
//!
//! [`sim`] couples tickwire's connection machines to the exchange model of
//! `tickwire-mock` over a faulty simulated link, in virtual time, and checks
//! DESIGN.md's rules after every step. The sweep test and `tickwire sim` run it:
//!
//! ```text
//! cargo test -p tickwire-tests --test simulation            # 20,000 seeds × 1,000 steps
//! TICKWIRE_SIM_SEEDS=100000 TICKWIRE_SIM_FIRST_SEED=20000 \
//!   cargo test --release -p tickwire-tests --test simulation sweep -- --nocapture   # a long soak
//! TICKWIRE_SIM_SEED=1234 TICKWIRE_SIM_TRACE=sim-1234.trace \
//!   cargo test -p tickwire-tests --test simulation replay -- --nocapture           # replay one seed
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
//! (`cargo run -p tickwire-tests --example faulty_exchange [seed]`). For a
//! driver of your own around the sans-I/O machine, [`sim::engine::World`]
//! shows the whole loop: feed inputs with `now`, drain actions and events,
//! jump to the earliest `poll_timeout`.

#![warn(missing_docs)]

pub mod sim;
