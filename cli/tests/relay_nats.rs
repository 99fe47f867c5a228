//! `tickwire relay` with a real nats-server and the embedded simulated
//! exchange: a lease written by a plain NATS client brings that symbol's
//! quotes on its subject; of two relays one leads, and the other takes
//! over when the leader is killed.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
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

async fn nats_server() -> NatsServer {
    tokio::task::spawn_blocking(|| NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .await
        .expect("the thread starting nats-server panicked")
        .unwrap_or_else(|error| panic!("no nats-server for the relay test: {error}"))
}

/// `tickwire relay` with `args` after `--nats URL`, its stderr read line
/// by line.
fn relay(url: &str, args: &[&str]) -> (Killed, Receiver<String>) {
    let mut all = vec!["relay", "--nats", url];
    all.extend_from_slice(args);
    let mut relay = Killed(spawn_tickwire(&all, Stdio::null(), Stdio::piped()));
    let stderr = relay.0.stderr.take().expect("piped stderr");
    (relay, line_reader(stderr, Some))
}

/// Waits for a line containing `wanted` within `patience`.
fn line_with(lines: &Receiver<String>, wanted: &str, patience: Duration) -> String {
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
            Err(RecvTimeoutError::Disconnected) => panic!("the relay exited: {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_brings_its_quotes_from_the_relay_command() {
    let nats = nats_server().await;
    let url = nats.url();
    let (mut relay, lines) = relay(&url, &["--lease-ttl", "5"]);
    line_with(&lines, "relay of feed iex", PATIENCE);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_relay_leads_once_the_leader_is_killed() {
    let nats = nats_server().await;
    let url = nats.url();
    let (mut first, first_lines) = relay(&url, &["--leader-ttl", "2"]);
    line_with(&first_lines, "leading:", PATIENCE);
    let (mut second, second_lines) = relay(&url, &["--leader-ttl", "2"]);
    let standing_by = line_with(&second_lines, "standing by: relay relay-", PATIENCE);
    assert!(standing_by.ends_with(" leads"), "{standing_by}");

    // SIGKILL: no release; the key expires after its 2 s.
    first.0.kill().expect("kill the leader");
    let killed_at = Instant::now();
    line_with(&second_lines, "leading:", Duration::from_secs(2 + 5));
    let takeover = killed_at.elapsed();
    assert!(
        takeover >= Duration::from_secs(1),
        "took over after {takeover:?}, before the key could expire"
    );
    assert!(
        second.0.try_wait().expect("wait").is_none(),
        "the new leader still runs"
    );
}
