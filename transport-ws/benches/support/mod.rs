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

/// With `--features bench-mimalloc`, every client in the process allocates
/// with mimalloc (as the `tickwire` command does) instead of the system's
/// allocator.
#[cfg(feature = "bench-mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator the process runs on, as reports name it.
pub(crate) const ALLOCATOR: &str = if cfg!(feature = "bench-mimalloc") {
    "mimalloc"
} else {
    "system"
};

/// The runtime the clients run on: two workers, as on the 2-core machine
/// the budgets are set for.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    runtime_with_workers(2)
}

/// The runtime the clients run on, with `workers` worker threads.
pub(crate) fn runtime_with_workers(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}
