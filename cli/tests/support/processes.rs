//! Processes the relay tests run beside `tickwire`: a real nats-server,
//! children killed however a test ends, and their lines waited for.

use std::path::Path;
use std::process::Child;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tickwire_nats_server::NatsServer;

/// Kills the process when the test ends, however it ends.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A nats-server with JetStream on a free port; the test fails (saying
/// what to install) without one.
pub(crate) async fn nats_server() -> NatsServer {
    tokio::task::spawn_blocking(|| NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .await
        .expect("the thread starting nats-server panicked")
        .unwrap_or_else(|error| panic!("no nats-server for the relay test: {error}"))
}

/// Waits for a line containing `wanted` within `patience`.
pub(crate) fn line_with(lines: &Receiver<String>, wanted: &str, patience: Duration) -> String {
    let deadline = Instant::now() + patience;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(wanted) => return line,
            Ok(line) => seen.push(line),
            Err(RecvTimeoutError::Timeout) => {
                panic!("no {wanted:?} within {patience:?}: {seen:?}")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the process exited: {seen:?}"),
        }
    }
}
