//! tickwire-tests: suites that need several of tickwire's crates at once.
//!
//! The tests live in `tests/`: the machine's rules checked by model-based
//! property tests (`machine_rules`), its transitions one by one
//! (`machine_transitions`), both driven through Alpaca's dialect. The
//! deterministic simulation is the `tickwire-sim` crate.
