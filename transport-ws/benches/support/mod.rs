//! What the benchmarks of this crate share: their arguments and `--json`
//! report, the quotes and frames they send, a minimal exchange on its own
//! thread, the clients they compare, and the process figures (CPU time,
//! wake-ups, resident memory) read from `/proc`.
//!
//! Each benchmark uses part of it.

#![allow(dead_code)]

pub(crate) mod args;
pub(crate) mod clients;
pub(crate) mod exchange;
pub(crate) mod proc_stats;
pub(crate) mod quotes;
pub(crate) mod report;
