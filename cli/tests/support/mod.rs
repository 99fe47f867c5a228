//! Helpers for driving the built `tickwire` binary.

#![allow(dead_code)]

pub(crate) mod processes;
pub(crate) mod tmux;
pub(crate) mod ws_peer;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command as StdCommand, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// The longest any one command may run in these tests.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// Data line types of `watch --json` and `trades --json`.
pub(crate) const DATA_TYPES: [&str; 13] = [
    "quote",
    "trade",
    "bar",
    "daily_bar",
    "updated_bar",
    "status",
    "luld",
    "correction",
    "cancel_error",
    "imbalance",
    "orderbook",
    "news",
    "trade_update",
];

/// `tickwire` with the Alpaca credentials removed from its environment.
pub(crate) fn tickwire() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickwire"));
    command
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .env_remove("RUST_LOG")
        .timeout(TIMEOUT);
    command
}

/// Starts `tickwire ARGS` in the background, its environment cleaned as
/// for [`tickwire`] and its stdin closed.
pub(crate) fn spawn_tickwire(args: &[&str], stdout: Stdio, stderr: Stdio) -> Child {
    StdCommand::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(args)
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("tickwire {args:?} does not start: {e}"))
}

/// Reads `source` line by line on a thread of its own, each line through
/// `parse` (`None` passes it over); the receiver ends with `source`. The
/// thread reads on when nobody receives, so the writer never blocks.
pub(crate) fn line_reader<T: Send + 'static>(
    source: impl Read + Send + 'static,
    parse: impl Fn(String) -> Option<T> + Send + 'static,
) -> mpsc::Receiver<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(source).lines().map_while(Result::ok) {
            if let Some(item) = parse(line) {
                let _ = sender.send(item);
            }
        }
    });
    receiver
}

/// Runs `command` to its end; fails the test, showing stderr, unless it succeeded.
pub(crate) fn succeeds(command: &mut Command) -> Output {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "exit {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `command` to its end, requires exit code `code`, and returns its stderr.
pub(crate) fn exits_with(command: &mut Command, code: i32) -> String {
    let output = command.output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    stderr
}

/// Parses every stdout line as a JSON object with a `"type"`.
pub(crate) fn json_lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    text.lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            assert!(value["type"].is_string(), "no type: {line}");
            value
        })
        .collect()
}

/// Whether a JSON line is a data line.
pub(crate) fn is_data(line: &Value) -> bool {
    line["type"]
        .as_str()
        .is_some_and(|t| DATA_TYPES.contains(&t))
}

/// A `tickwire serve` running in the background; killed on drop.
pub(crate) struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    /// The market data URL for IEX, as printed.
    pub(crate) iex_url: String,
    /// The trading stream URL, as printed.
    pub(crate) trading_url: String,
    /// The admin endpoint's `http://` URL, when started with `--admin`.
    pub(crate) admin_url: Option<String>,
}

impl Server {
    /// Starts `tickwire serve` with extra arguments and reads the URLs it prints.
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut command = StdCommand::new(env!("CARGO_BIN_EXE_tickwire"));
        command
            .arg("serve")
            .args(args)
            .env_remove("APCA_API_KEY_ID")
            .env_remove("APCA_API_SECRET_KEY")
            .env_remove("RUST_LOG")
            .stderr(Stdio::inherit());
        Self::start_command(command)
    }

    /// Starts `command`, a `tickwire serve` however wrapped, and reads the
    /// URLs it prints; its stderr is as `command` set it.
    pub(crate) fn start_command(mut command: StdCommand) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("tickwire serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (mut iex_url, mut trading_url, mut admin_url) = (None, None, None);
        let mut line = String::new();
        // The banner ends with "Press Ctrl-C to stop."
        while !line.starts_with("Press Ctrl-C") {
            line.clear();
            let read = stdout.read_line(&mut line).expect("reads the banner");
            assert!(read > 0, "tickwire serve ended before printing its URLs");
            let url = |scheme: &str| {
                line.split_whitespace()
                    .find(|w| w.starts_with(scheme))
                    .map(str::to_owned)
            };
            match line.split_whitespace().next() {
                Some("stocks") => iex_url = url("ws://"),
                Some("trading") => trading_url = url("ws://"),
                Some("admin") => admin_url = url("http://"),
                _ => {}
            }
        }
        Self {
            child,
            _stdout: stdout,
            iex_url: iex_url.expect("tickwire serve printed its stocks URL"),
            trading_url: trading_url.expect("tickwire serve printed its trading URL"),
            admin_url,
        }
    }

    /// The base `ws://HOST:PORT` URL, without a path.
    pub(crate) fn base_url(&self) -> &str {
        self.iex_url.trim_end_matches("/v2/iex")
    }

    /// Sends `METHOD PATH` to the admin endpoint; the body of a `200 OK`.
    pub(crate) fn admin(&self, method: &str, path: &str) -> String {
        let url = self.admin_url.as_deref().expect("started with --admin");
        http_request(url, method, path)
    }

    /// The admin endpoint's `/metrics`, as `name{labels}` → value.
    pub(crate) fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        self.admin("GET", "/metrics")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                Some((name.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// The process id, to send it signals.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr, if `start_command` was told to pipe it (once).
    pub(crate) fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `base` (`http://HOST:PORT`); the body of a
/// `200 OK` (anything else fails the test with the answer).
pub(crate) fn http_request(base: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the admin endpoint");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("a read timeout");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {head}\n{body}"
    );
    body.to_owned()
}
