//! Credentials never reach the logs, at any level of any crate: `serve`,
//! `watch` and `trades` run with `RUST_LOG=trace`, and their whole output is
//! searched for the secret. `trades --since` also lists the orders over
//! REST (the HTTP client's logs included).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command as StdCommand, Stdio};

use support::{succeeds, tickwire};

const KEY: &str = "PKLOGCHECK";
const SECRET: &str = "s3cr3t-that-must-not-leak";

#[test]
fn no_secret_in_trace_logs_of_serve_watch_and_trades() {
    let mut serve = StdCommand::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["serve", "--key", KEY, "--secret", SECRET, "--seed", "3"])
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tickwire serve starts");
    // Read in the background: a full pipe would stall the server.
    let mut serve_stderr = serve.stderr.take().expect("piped stderr");
    let serve_log = std::thread::spawn(move || {
        let mut log = Vec::new();
        serve_stderr.read_to_end(&mut log).map(|_| log)
    });
    let mut banner = BufReader::new(serve.stdout.take().expect("piped stdout"));
    let mut urls = Vec::new();
    let mut line = String::new();
    while urls.len() < 2 {
        line.clear();
        assert!(banner.read_line(&mut line).expect("reads the banner") > 0);
        let trimmed = line.trim_start();
        if trimmed.starts_with("stocks") || trimmed.starts_with("trading") {
            urls.extend(
                line.split_whitespace()
                    .find(|w| w.starts_with("ws://"))
                    .map(str::to_owned),
            );
        }
    }
    let [iex_url, trading_url] = [&urls[0], &urls[1]];

    let mut outputs = Vec::new();
    for (command, url) in [("watch", iex_url), ("trades", trading_url)] {
        let output = succeeds(
            tickwire()
                .args([
                    command, "--json", "--count", "3", "--url", url, "--key", KEY,
                ])
                .args(["--secret", SECRET])
                .args((command == "watch").then_some("SPY"))
                .args(if command == "trades" {
                    &["--since", "2020-01-01T00:00:00Z"][..]
                } else {
                    &[]
                })
                .env("RUST_LOG", "trace"),
        );
        outputs.push((command, output.stdout, output.stderr));
    }
    let _ = serve.kill();
    let _ = serve.wait();
    let serve_log = serve_log
        .join()
        .expect("the log reader ran")
        .expect("reads serve's log");
    assert!(
        String::from_utf8_lossy(&serve_log).contains("REST request answered"),
        "trades --since asked nothing over REST"
    );
    outputs.push(("serve", Vec::new(), serve_log));

    for (command, stdout, stderr) in &outputs {
        let (stdout, stderr) = (
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(stderr),
        );
        // The logs are really on: the WebSocket library's handshake lines and
        // debug lines of our own crates are there.
        assert!(
            stderr.contains("handshake"),
            "{command}: no WebSocket log at all:\n{stderr}"
        );
        assert!(
            stderr.contains("DEBUG"),
            "{command}: no debug lines:\n{stderr}"
        );
        assert!(
            !stdout.contains(SECRET),
            "{command} printed the secret:\n{stdout}"
        );
        assert!(
            !stderr.contains(SECRET),
            "{command} logged the secret:\n{stderr}"
        );
    }
}
