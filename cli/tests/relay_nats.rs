//! `tickwire relay` with a real nats-server and the embedded simulated
//! exchange: a lease written by a plain NATS client brings that symbol's
//! quotes on its subject.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use support::{line_reader, spawn_tickwire};
use tickwire_nats_server::NatsServer;

/// The most any wait in this test lasts.
const PATIENCE: Duration = Duration::from_secs(20);

/// Kills the relay process when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_brings_its_quotes_from_the_relay_command() {
    let nats =
        tokio::task::spawn_blocking(|| NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR"))))
            .await
            .expect("the thread starting nats-server panicked")
            .unwrap_or_else(|error| panic!("no nats-server for the relay test: {error}"));
    let url = nats.url();
    let mut relay = Killed(spawn_tickwire(
        &["relay", "--nats", &url, "--lease-ttl", "5"],
        Stdio::null(),
        Stdio::piped(),
    ));
    let stderr = relay.0.stderr.take().expect("piped stderr");
    let lines = line_reader(stderr, Some);
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("relay of feed iex") => break,
            Ok(line) => seen.push(line),
            Err(RecvTimeoutError::Timeout) => panic!("no banner within {PATIENCE:?}: {seen:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the relay exited: {seen:?}"),
        }
    }

    let client = async_nats::connect(&url).await.expect("connect");
    let mut quotes = client
        .subscribe("tickwire.iex.quotes.>")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let leases = jetstream::new(client.clone())
        .get_key_value("tickwire-interest")
        .await
        .expect("the relay created the lease bucket");
    leases
        .put("iex.quotes.AAPL.cli-test", "".into())
        .await
        .expect("write a lease");
    let message = tokio::time::timeout(PATIENCE, quotes.next())
        .await
        .expect("a quote within the patience")
        .expect("the subscription ended");
    assert_eq!(message.subject.as_str(), "tickwire.iex.quotes.AAPL");
    assert_eq!(
        message.payload.first(),
        Some(&0x91),
        "a one-element MessagePack array"
    );
    assert!(
        relay.0.try_wait().expect("wait").is_none(),
        "the relay still runs"
    );
}
