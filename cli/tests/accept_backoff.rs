//! `tickwire serve` and `tickwire proxy` out of file descriptors (finding
//! 3): their accept loops back off instead of spinning, say so in a warning
//! shown by default, once per pause (doubling to a cap), stay up, and serve
//! again once descriptors are free.
//!
//! The descriptors run out for real: the server runs under `ulimit -n`, and
//! the test opens more idle connections than that allows.

#![cfg(unix)]

mod support;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Server, is_data, json_lines, line_reader, succeeds, tickwire};

/// The server's descriptor limit: a few for itself, the rest for clients.
const FILES_MAX: u32 = 64;

/// Idle connections opened: more than the limit lets it accept.
const CONNECTIONS: usize = 2 * FILES_MAX as usize;

/// Waits longer than any pause of the accept loop can take.
const PATIENCE: Duration = Duration::from_secs(30);

/// The pauses (ms) `serve`'s failing accept loop must announce, in order,
/// up to its cap: each warning names the pause that follows it.
const SERVE_PAUSES_MS: [u64; 8] = [10, 20, 40, 80, 160, 320, 640, 1000];

/// The proxy's first pauses (ms), well before its 10 s handshake timeout
/// frees anything.
const PROXY_PAUSES_MS: [u64; 6] = [50, 100, 200, 400, 800, 1600];

/// The pause (ms) an accept-failure warning announces, if `line` is one:
/// `delay=10ms` (`serve`) or `pause_ms=50` (the proxy).
fn accept_pause_ms(line: &str) -> Option<u64> {
    let line = without_colours(line);
    if !(line.contains("WARN") && line.contains("accept failed")) {
        return None;
    }
    line.split_whitespace().find_map(|word| {
        if let Some(ms) = word.strip_prefix("pause_ms=") {
            return ms.parse().ok();
        }
        let delay = word.strip_prefix("delay=")?;
        match delay.strip_suffix("ms") {
            Some(ms) => ms.parse().ok(),
            None => delay
                .strip_suffix('s')?
                .parse::<u64>()
                .ok()
                .map(|s| s * 1000),
        }
    })
}

/// `line` without its ANSI colour sequences (`ESC [ … m`).
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Opens more idle connections to `address` than the server has
/// descriptors for, then reads `lines` until as many accept-failure
/// warnings as `expected` and checks their pauses: a loop that spun would
/// log one pause (or none) over and over.
fn exhaust_and_expect_pauses(
    address: &str,
    lines: &mpsc::Receiver<String>,
    expected: &[u64],
) -> Vec<TcpStream> {
    let idle: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(address).expect("the kernel accepts into the backlog"))
        .collect();
    let mut pauses = Vec::new();
    let mut other_lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while pauses.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("pauses so far {pauses:?}; other lines {other_lines:?}"));
        match accept_pause_ms(&line) {
            Some(pause) => pauses.push(pause),
            None => other_lines.push(line),
        }
    }
    assert_eq!(pauses, expected, "other lines: {other_lines:?}");
    idle
}

/// `sh -c 'ulimit -n FILES_MAX && exec tickwire ARGS…'`, stderr piped.
fn limited(args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(r#"ulimit -n {FILES_MAX} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped());
    command
}

#[test]
fn serve_backs_off_after_accept_errors_and_serves_again() {
    let mut server = Server::start_command(limited(&[
        "serve",
        "--key",
        "PKBACKOFF",
        "--secret",
        "backoff-secret",
    ]));
    let lines = line_reader(server.take_stderr().expect("piped stderr"), Some);
    let address = server
        .iex_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();

    let idle = exhaust_and_expect_pauses(&address, &lines, &SERVE_PAUSES_MS);

    // Free the descriptors: the server closes the idle connections and
    // accepts the next client as before.
    drop(idle);
    let output = succeeds(
        tickwire()
            .args(["watch", "--json", "--count", "3", "--url", &server.iex_url])
            .args(["--key", "PKBACKOFF", "--secret", "backoff-secret", "SPY"]),
    );
    let data = json_lines(&output.stdout)
        .into_iter()
        .filter(is_data)
        .count();
    assert_eq!(data, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_backs_off_after_accept_errors_and_serves_again() {
    let mut command = limited(&[
        "proxy",
        "--upstream",
        "ws://127.0.0.1:9",
        "--key",
        "PKUP",
        "--secret",
        "up-secret",
        "--client-key",
        "client:client-secret",
    ]);
    let mut proxy = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("tickwire proxy starts");
    let lines = line_reader(proxy.stderr.take().expect("piped stderr"), Some);
    let address = tokio::task::block_in_place(|| {
        loop {
            let line = without_colours(&lines.recv_timeout(PATIENCE).expect("the proxy's banner"));
            if let Some((_, rest)) = line.split_once("proxy listening on ") {
                break rest.split(',').next().unwrap_or_default().to_owned();
            }
        }
    });

    let idle = tokio::task::block_in_place(|| {
        exhaust_and_expect_pauses(&address, &lines, &PROXY_PAUSES_MS)
    });

    drop(idle);
    let greeted = tokio::time::timeout(PATIENCE, async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{address}/v2/iex"))
            .await
            .expect("the proxy accepts again");
        futures::StreamExt::next(&mut ws).await
    })
    .await
    .expect("greeted in time");
    let greeting = greeted
        .expect("a message")
        .expect("a frame")
        .into_text()
        .expect("text");
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(greeting.contains("connected"), "{greeting}");
}
