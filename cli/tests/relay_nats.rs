//! `tickwire relay` with a real nats-server and the embedded simulated
//! exchange: a lease written by a plain NATS client brings that symbol's
//! quotes on its subject; of two relays one leads, and the other takes
//! over when the leader is killed.

mod support;

use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use support::processes::{Killed, line_with, nats_server};
use support::{line_reader, spawn_tickwire};

/// The most any wait in this test lasts.
const PATIENCE: Duration = Duration::from_secs(20);

/// `tickwire relay` with `args` after `--nats URL`, its stderr read line
/// by line.
fn relay(url: &str, args: &[&str]) -> (Killed, Receiver<String>) {
    let mut all = vec!["relay", "--nats", url];
    all.extend_from_slice(args);
    let mut relay = Killed(spawn_tickwire(&all, Stdio::null(), Stdio::piped()));
    let stderr = relay.0.stderr.take().expect("piped stderr");
    (relay, line_reader(stderr, Some))
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

/// Runs `tickwire trades --relay` with `extra`, returns its JSON lines and
/// the last sequence it says it read.
fn trades_from_relay(url: &str, extra: &[&str]) -> (Vec<String>, u64) {
    let mut args = vec!["trades", "--relay", url, "--account", "sim", "--json"];
    args.extend(extra);
    let mut child = Killed(spawn_tickwire(&args, Stdio::piped(), Stdio::piped()));
    let stdout = child.0.stdout.take().expect("piped stdout");
    let stderr = child.0.stderr.take().expect("piped stderr");
    let out = line_reader(stdout, Some);
    let err = line_reader(stderr, Some);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "`tickwire {}` did not end within {PATIENCE:?}",
            args.join(" ")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let notices: Vec<String> = err.try_iter().collect();
    assert!(status.success(), "{status}: {notices:?}");
    let last = notices
        .iter()
        .find_map(|line| line.split("last sequence read: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no last sequence in {notices:?}"));
    (out.try_iter().collect(), last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_updates_go_through_jetstream_and_a_reader_resumes_after_its_last_sequence() {
    let nats = nats_server().await;
    let url = nats.url();
    let (_relay, lines) = relay(&url, &["--trade-updates", "sim"]);
    line_with(&lines, "tickwire.account.sim.trade_updates", PATIENCE);

    let url_for_thread = url.clone();
    let (first, last) =
        tokio::task::spawn_blocking(move || trades_from_relay(&url_for_thread, &["--count", "3"]))
            .await
            .expect("first reader");
    assert_eq!(first.len(), 3, "{first:?}");
    for line in &first {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(value["order"]["id"].is_string(), "{line}");
    }
    let after = (last - 1).to_string();
    let (second, _) = tokio::task::spawn_blocking(move || {
        trades_from_relay(&url, &["--after", &after, "--count", "2"])
    })
    .await
    .expect("second reader");
    assert_eq!(second.len(), 2, "{second:?}");
    assert_eq!(
        second[0],
        first[2],
        "after sequence {} comes the first reader's last update",
        last - 1
    );
    assert!(!first.contains(&second[1]), "read twice: {}", second[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_takes_its_quotes_from_the_relay() {
    let nats = nats_server().await;
    let url = nats.url();
    let (_relay, lines) = relay(&url, &[]);
    line_with(&lines, "leading:", PATIENCE);

    let args = [
        "watch",
        "--relay",
        &url,
        "--channels",
        "quotes",
        "--count",
        "3",
        "--json",
        "AAPL",
    ];
    let mut watch = Killed(spawn_tickwire(&args, Stdio::piped(), Stdio::piped()));
    let out = line_reader(watch.0.stdout.take().expect("piped stdout"), Some);
    let err = line_reader(watch.0.stderr.take().expect("piped stderr"), Some);
    let waited = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = watch.0.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("the waiting thread");
    let notices: Vec<String> = err.try_iter().collect();
    let status = waited.unwrap_or_else(|| panic!("watch did not end: {notices:?}"));
    assert!(status.success(), "{status}: {notices:?}");
    assert!(
        notices.iter().any(|n| n.contains("relays on NATS")),
        "{notices:?}"
    );
    let quotes: Vec<serde_json::Value> = out
        .try_iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .filter(|value| value.to_string().contains("AAPL"))
        .collect();
    assert!(quotes.len() >= 3, "{quotes:?} {notices:?}");
}
