//! Real alpaca-py (0.44) through `tickwire proxy` in front of `tickwire
//! serve`: three `StockDataStream` processes with different and
//! overlapping symbols and one `TradingStream`.
//!
//! Every part is its own process: the exchange is the built `tickwire
//! serve` (its `--admin` endpoint counts its connections and injects the
//! drop), the proxy the built `tickwire proxy`, the clients
//! `tests/proxy_alpaca_py/client.py`. Checked: the exchange sees exactly
//! one market-data and one trading connection, never two at once, and no
//! 406; each client receives exactly its symbols; when one client
//! unsubscribes a symbol another still holds, the other keeps receiving
//! it; an upstream drop (a TCP reset of both upstream connections) is
//! survived by every client without a reconnect of its own.
//!
//! The first run creates a virtualenv under the target directory and
//! installs alpaca-py from PyPI. Without Python 3, its venv module, pip or
//! PyPI, the test fails and says what to install; it never skips.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Server;

/// The exchange's account (the proxy's upstream credentials).
const UPSTREAM_KEY: &str = "tickwire";
const UPSTREAM_SECRET: &str = "upstream-s3cret-never-shown";
/// The proxy's client key pair.
const CLIENT_KEY: &str = "PKPROXY";
const CLIENT_SECRET: &str = "proxy-secret";

/// Bound on the virtualenv setup, a first-time install from PyPI included.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Bound on each wait once everything runs.
const PATIENCE: Duration = Duration::from_secs(20);

/// The data clients: name and symbols.
const DATA_CLIENTS: [(&str, &[&str]); 3] = [
    ("d1", &["AAPL", "MSFT"]),
    ("d2", &["MSFT", "SPY"]),
    ("d3", &["SPY", "TSLA"]),
];

#[test]
fn alpaca_py_clients_share_one_upstream_through_tickwire_proxy() {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("alpaca-py-venv");
    setup_venv(&venv);

    let server = start_exchange();
    let mut proxy = Proxy::start(server.base_url());
    let base = proxy.base.clone();

    let mut clients: BTreeMap<&str, Client> = DATA_CLIENTS
        .iter()
        .map(|(name, symbols)| {
            let url = format!("{base}/v2/iex");
            let args = ["data", &url, CLIENT_KEY, CLIENT_SECRET, &symbols.join(",")];
            (*name, Client::spawn(name, &venv, &args))
        })
        .collect();
    let trading_url = format!("{base}/stream");
    clients.insert(
        "t1",
        Client::spawn(
            "t1",
            &venv,
            &["trading", &trading_url, CLIENT_KEY, CLIENT_SECRET],
        ),
    );

    // Every client gets going: its symbols flow, trade updates arrive.
    wait_all(
        &mut clients,
        "the first quotes and trade updates",
        |name, r| enough(name, r, &BTreeMap::new(), 5),
    );
    assert_one_upstream_each(&server, "after the clients connected");
    assert_eq!(
        proxy.metric_line("tickwire_proxy_clients{endpoint=\"/v2/iex\"}"),
        Some("tickwire_proxy_clients{endpoint=\"/v2/iex\"} 3".to_owned()),
        "the proxy's /metrics counts the three data clients"
    );

    // d1 lets MSFT go; d2 still holds it and keeps receiving it.
    clients
        .get_mut("d1")
        .expect("d1")
        .command("unsubscribe MSFT");
    clients
        .get_mut("d1")
        .expect("d1")
        .wait_for("d1's unsubscribe", |line| line["event"] == "unsubscribed");
    thread::sleep(Duration::from_millis(500));
    let settled = snapshot(&mut clients);
    // d2 gets 10 more MSFT; d1 10 more AAPL (its report is fresh, then).
    wait_all(
        &mut clients,
        "d2's MSFT and d1's AAPL after d1 let MSFT go",
        |name, r| match name {
            "d2" => quotes(r, "MSFT") >= quotes(&settled["d2"], "MSFT") + 10,
            "d1" => quotes(r, "AAPL") >= quotes(&settled["d1"], "AAPL") + 10,
            _ => true,
        },
    );
    let d1_after = clients.get_mut("d1").expect("d1").latest();
    assert_eq!(
        quotes(&d1_after, "MSFT"),
        quotes(&settled["d1"], "MSFT"),
        "d1 still received MSFT after unsubscribing it"
    );

    // An upstream drop: both upstream connections reset by the exchange.
    let reset = server.admin("POST", "/faults/reset");
    assert_eq!(reset, "reset: applied to 2 sessions\n", "the drop");
    let dropped = snapshot(&mut clients);
    wait_all(
        &mut clients,
        "data and trade updates after the upstream drop",
        |name, r| enough(name, r, &dropped, 10),
    );
    assert_one_upstream_each(&server, "after the upstream drop");
    let metrics = server.metrics();
    for endpoint in ["/v2/iex", "/stream"] {
        assert_eq!(
            metric(
                &metrics,
                "tickwire_exchange_sessions_opened_total",
                endpoint
            ),
            2.0,
            "the {endpoint} upstream did not reconnect exactly once: {metrics:#?}"
        );
        assert_eq!(
            metric(&metrics, "tickwire_exchange_sessions_peak", endpoint),
            1.0,
            "two {endpoint} upstream connections at once: {metrics:#?}"
        );
    }
    assert!(
        !metrics
            .keys()
            .any(|k| k.starts_with("tickwire_exchange_errors_sent_total")),
        "the exchange sent errors (406: two connections): {metrics:#?}"
    );
    for endpoint in ["/v2/iex", "/stream"] {
        let series = format!("tickwire_proxy_upstream_reconnects_total{{endpoint=\"{endpoint}\"}}");
        assert_eq!(
            proxy.metric_line(&series),
            Some(format!("{series} 1")),
            "the proxy's /metrics counts the upstream drop"
        );
    }

    // Stop: each client's last report.
    let mut finals = BTreeMap::new();
    for (name, client) in &mut clients {
        finals.insert(*name, client.stop());
    }
    let stderr = proxy.stop();
    drop(server);

    // What the proxy printed: never the upstream secret; status lines
    // (`--json`) that counted the three data clients at some point.
    assert!(
        !stderr.iter().any(|l| l.contains(UPSTREAM_SECRET)),
        "the upstream secret was printed: {stderr:#?}"
    );
    let counted_three = stderr.iter().any(|line| {
        let Some(json) = line.strip_prefix("tickwire: ") else {
            return false;
        };
        let Ok(status) = serde_json::from_str::<Value>(json) else {
            return false;
        };
        status["type"] == "proxy_status"
            && status["endpoints"].as_array().is_some_and(|e| {
                e.iter()
                    .any(|e| e["path"] == "/v2/iex" && e["clients"] == 3)
            })
    });
    assert!(
        counted_three,
        "no status line counted 3 clients on /v2/iex: {stderr:#?}"
    );

    for (name, report) in &finals {
        assert_eq!(
            report["connects"], 1,
            "{name} reconnected on its side: {report}"
        );
        assert_eq!(
            report["errors"],
            Value::Array(Vec::new()),
            "{name} logged errors: {report}"
        );
    }
    for (name, symbols) in DATA_CLIENTS {
        let received: BTreeSet<&str> = finals[name]["quotes"]
            .as_object()
            .expect("quotes")
            .keys()
            .map(String::as_str)
            .collect();
        let wanted: BTreeSet<&str> = symbols.iter().copied().collect();
        assert_eq!(
            received, wanted,
            "{name} received other symbols than its own"
        );
    }
}

/// `tickwire serve` with the proxy's upstream account, a quote of each
/// symbol every 20 ms (75 messages/s: 50 quotes, 25 trades), an order every
/// 700 ms, and slots freed at once after a reset (so that the reconnect is
/// not refused with 406 while a real server would still hold the old one).
fn start_exchange() -> Server {
    Server::start(&[
        "--key",
        UPSTREAM_KEY,
        "--secret",
        UPSTREAM_SECRET,
        "--seed",
        "11",
        "--rate",
        "75",
        "--reap-after",
        "0",
        "--admin",
        "127.0.0.1:0",
    ])
}

/// A metric of one endpoint (0 when absent).
fn metric(metrics: &BTreeMap<String, f64>, name: &str, endpoint: &str) -> f64 {
    metrics
        .get(&format!("{name}{{endpoint=\"{endpoint}\"}}"))
        .copied()
        .unwrap_or(0.0)
}

/// Exactly one market-data and one trading connection are open.
fn assert_one_upstream_each(server: &Server, when: &str) {
    let metrics = server.metrics();
    let open: BTreeMap<&str, f64> = ["/v2/iex", "/stream"]
        .into_iter()
        .map(|e| (e, metric(&metrics, "tickwire_exchange_sessions", e)))
        .collect();
    let others = metrics
        .iter()
        .filter(|(k, v)| {
            k.starts_with("tickwire_exchange_sessions{")
                && !k.contains("\"/v2/iex\"")
                && !k.contains("\"/stream\"")
                && **v > 0.0
        })
        .count();
    assert_eq!(
        (open, others),
        (BTreeMap::from([("/v2/iex", 1.0), ("/stream", 1.0)]), 0),
        "the exchange's connections {when}: {metrics:#?}"
    );
}

/// Quotes of `symbol` in a report.
fn quotes(report: &Value, symbol: &str) -> u64 {
    report["quotes"][symbol].as_u64().unwrap_or(0)
}

/// Whether a client got `more` quotes of each of its symbols (d1: not MSFT
/// once unsubscribed), or `more` trade updates, since `since`.
fn enough(name: &str, report: &Value, since: &BTreeMap<String, Value>, more: u64) -> bool {
    let base = since.get(name);
    if name == "t1" {
        let before = base.map_or(0, |b| b["updates"].as_u64().unwrap_or(0));
        return report["updates"].as_u64().unwrap_or(0) >= before + more.min(3);
    }
    let (_, symbols) = DATA_CLIENTS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a data client");
    symbols
        .iter()
        .filter(|s| !(base.is_some() && name == "d1" && **s == "MSFT"))
        .all(|s| quotes(report, s) >= base.map_or(0, |b| quotes(b, s)) + more)
}

fn snapshot(clients: &mut BTreeMap<&str, Client>) -> BTreeMap<String, Value> {
    clients
        .iter_mut()
        .map(|(n, c)| ((*n).to_owned(), c.latest()))
        .collect()
}

/// Waits until `done(name, latest report)` holds for every client.
fn wait_all(clients: &mut BTreeMap<&str, Client>, what: &str, done: impl Fn(&str, &Value) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pending: Vec<String> = clients
            .iter_mut()
            .filter_map(|(name, c)| {
                (!done(name, &c.latest())).then(|| format!("{name}: {}", c.latest()))
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; still waiting: {pending:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proxy_alpaca_py/client.py")
}

fn python(venv: &Path) -> Command {
    let mut command = Command::new("python3");
    command.arg(script()).env("ALPACA_PY_VENV", venv);
    command
}

/// Creates the virtualenv and installs alpaca-py once, before any client runs.
fn setup_venv(venv: &Path) {
    let child = python(venv)
        .arg("setup")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "python3 is not installed; this test needs Python 3 with its venv module and pip \
             (e.g. `apt-get install python3 python3-venv`)"
        ),
        Err(error) => panic!("cannot run python3: {error}"),
    };
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    let output = done_rx
        .recv_timeout(SETUP_TIMEOUT)
        .expect("the alpaca-py setup did not finish in time")
        .expect("wait for the setup");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("ready"),
        "the alpaca-py setup failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `tickwire proxy` process.
struct Proxy {
    child: Child,
    base: String,
    /// The `http://HOST:PORT` of its `/metrics`.
    metrics: String,
    stderr: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Proxy {
    fn start(upstream: &str) -> Self {
        let client_key = format!("{CLIENT_KEY}:{CLIENT_SECRET}");
        let args = [
            "proxy",
            "--upstream",
            upstream,
            "--key",
            UPSTREAM_KEY,
            "--secret",
            UPSTREAM_SECRET,
            "--client-key",
            &client_key,
            "--status-every",
            "1",
            "--json",
        ];
        let mut child = support::spawn_tickwire(&args, Stdio::null(), Stdio::piped());
        let rx = support::line_reader(child.stderr.take().expect("stderr"), Some);
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        let (mut base, mut metrics) = (None, None);
        while base.is_none() || metrics.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!("tickwire proxy printed no address or metrics URL; stderr: {seen:#?}")
            });
            if let Some(rest) = line.split("proxy listening on ").nth(1) {
                let addr = rest.split([',', ' ']).next().expect("an address");
                base = Some(format!("ws://{addr}"));
            } else if line.trim_start().starts_with("metrics") {
                let url = line.split_whitespace().find(|w| w.starts_with("http://"));
                metrics = url.map(|u| u.trim_end_matches("/metrics").to_owned());
            }
            seen.push(line);
        }
        Self {
            child,
            base: base.unwrap_or_default(),
            metrics: metrics.unwrap_or_default(),
            stderr: rx,
            lines: seen,
        }
    }

    /// A line of its Prometheus `/metrics` that starts with `series`.
    fn metric_line(&self, series: &str) -> Option<String> {
        let text = support::http_request(&self.metrics, "GET", "/metrics");
        text.lines()
            .find(|line| line.starts_with(series))
            .map(str::to_owned)
    }

    /// Stops the proxy; every line it printed on stderr.
    fn stop(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends with the pipe.
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.lines.push(line);
        }
        std::mem::take(&mut self.lines)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One alpaca-py client process and its latest report.
struct Client {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    latest: Value,
}

impl Client {
    fn spawn(name: &str, venv: &Path, args: &[&str]) -> Self {
        let mut child = python(venv)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the alpaca-py client");
        let stdout = child.stdout.take().expect("stdout");
        let lines = support::line_reader(stdout, |line| serde_json::from_str(&line).ok());
        Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            latest: Value::Null,
        }
    }

    /// The latest report, after reading every line printed so far.
    fn latest(&mut self) -> Value {
        while let Ok(line) = self.lines.try_recv() {
            if line["event"] == "report" {
                self.latest = line;
            }
        }
        self.latest.clone()
    }

    fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("write to the client");
    }

    /// Waits for a line matching `wanted` (reports seen meanwhile are kept).
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{}: timed out waiting for {what}", self.name));
            if line["event"] == "report" {
                self.latest = line.clone();
            }
            if wanted(&line) {
                return;
            }
        }
    }

    /// Asks the client to stop; its last report.
    fn stop(&mut self) -> Value {
        self.command("stop");
        drop(self.stdin.take());
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "{} exited with {status}", self.name);
                    return self.latest();
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = self.child.kill();
                    panic!("{} did not stop", self.name);
                }
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
