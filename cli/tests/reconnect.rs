//! Reconnects are visible: an exchange restart shows as an error, a gap and
//! a resume, and the data keeps coming.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer};

use support::is_data;

/// Waits for a line matching `wanted`, collecting every line seen into `seen`.
fn wait_for(
    lines: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    wanted: impl Fn(&Value) -> bool,
) -> bool {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let found = wanted(&line);
                seen.push(line);
                if found {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_restart_shows_a_gap_and_a_resume() {
    let exchange = ExchangeConfig::new(3).with_account(Account::new("PKTEST", "secret"));
    let server = LoopbackServer::start(LoopbackConfig::new(exchange))
        .await
        .expect("binds");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["watch", "--json", "--url", &server.url("/v2/iex"), "SPY"])
        .args(["--key", "PKTEST", "--secret", "secret"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("piped");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if sender.send(value).is_err() {
                break;
            }
        }
    });

    let mut seen = Vec::new();
    let found = tokio::task::block_in_place(|| wait_for(&lines, &mut seen, is_data));
    assert!(found, "no data before the restart: {seen:#?}");

    server
        .exchange()
        .with(|exchange, now| exchange.restart(now));

    let resumed =
        tokio::task::block_in_place(|| wait_for(&lines, &mut seen, |l| l["type"] == "resumed"));
    let more_data = resumed && tokio::task::block_in_place(|| wait_for(&lines, &mut seen, is_data));
    let _ = child.kill();
    let _ = child.wait();
    server.shutdown().await;

    assert!(resumed && more_data, "{seen:#?}");
    let position = |kind: &str| seen.iter().position(|l| l["type"] == kind);
    let (gap, resume) = (position("gap"), position("resumed"));
    assert!(
        gap.is_some() && gap < resume,
        "gap {gap:?} then resumed {resume:?}: {seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l["type"] == "error" && l["fatal"] == false),
        "{seen:#?}"
    );
    let gap_line = &seen[gap.unwrap_or_default()];
    assert!(
        gap_line["since"].is_string() && gap_line["epoch"] == 1,
        "{gap_line}"
    );
    let resumed_line = &seen[resume.unwrap_or_default()];
    assert_eq!(resumed_line["epoch"], 2, "{resumed_line}");
}
