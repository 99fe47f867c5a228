//! alpaca-py, Alpaca's own Python client, against the loopback server.
//!
//! Serves the exchange in-process and runs `tests/alpaca_py/check.py --url
//! …` with `python3`. The script installs alpaca-py 0.44 from PyPI into a
//! virtualenv under the target directory the first time (reused after) and
//! checks that alpaca-py's `StockDataStream` and `TradingStream` parse what
//! the server sends, and that its `TradingClient` lists the streamed orders
//! over REST (`GET /v2/orders` on the same port). Without Python 3, its venv module, pip or access to
//! PyPI, the test fails and says what to install; it never skips.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, TradingConfig};

/// The key pair `check.py` authenticates with.
const KEY_ID: &str = "PKTICKWIRE";
const SECRET: &str = "tickwire-secret";

/// Bound on the whole check, a first-time install from PyPI included.
const CHECK_TIMEOUT: Duration = Duration::from_secs(600);

/// How often the test looks whether the script has ended.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_py_parses_quotes_and_trade_updates_from_the_loopback_server() {
    let mut trading = TradingConfig::default();
    trading.order_interval = Duration::from_millis(500);
    let exchange = ExchangeConfig::new(7)
        .with_account(Account::new(KEY_ID, SECRET))
        .with_trading(trading);
    let server = LoopbackServer::start(LoopbackConfig::new(exchange))
        .await
        .expect("bind the loopback server on 127.0.0.1");
    let url = format!("ws://{}", server.local_addr());

    let outcome = tokio::task::spawn_blocking(move || run_check(&url))
        .await
        .expect("the thread running check.py panicked");
    server.shutdown().await;

    let (status, stdout, stderr) = outcome;
    assert!(
        status.success(),
        "check.py failed ({status}).\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("alpaca-py check passed") && stdout.contains("orders listed over REST"),
        "check.py exited 0 without its success line.\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Runs the script against `url`; its exit status, stdout and stderr.
fn run_check(url: &str) -> (ExitStatus, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alpaca_py/check.py");
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("alpaca-py-venv");
    let spawned = Command::new("python3")
        .arg(&script)
        .arg("--url")
        .arg(url)
        .env("ALPACA_PY_VENV", &venv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "python3 is not installed; the alpaca-py check needs Python 3 with its venv \
             module and pip (e.g. `apt-get install python3 python3-venv`)"
        ),
        Err(error) => panic!("cannot run python3 {}: {error}", script.display()),
    };
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_bounded(&mut child, CHECK_TIMEOUT);
    let stdout = stdout.join().expect("the stdout reader panicked");
    let stderr = stderr.join().expect("the stderr reader panicked");
    match status {
        Some(status) => (status, stdout, stderr),
        None => panic!(
            "check.py did not finish within {} s (killed).\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            CHECK_TIMEOUT.as_secs()
        ),
    }
}

/// Reads a pipe to its end on a thread of its own, so that neither pipe fills.
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Waits for `child` up to `timeout`; kills it and returns `None` after.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Err(error) => panic!("cannot wait for check.py: {error}"),
        }
    }
}
