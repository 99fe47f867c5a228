//! `tickwire record` against the embedded exchange, read back by an
//! independent reader: pyarrow (installed from PyPI into a virtualenv under
//! the target directory by `record_parquet/check.py`) for Parquet, Python's
//! `csv` module for CSV. Without Python 3, its venv module or pip the test
//! fails and says what to install; it never skips.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{spawn_tickwire, succeeds, tickwire};

/// A fresh folder under the target directory.
fn folder(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The summary `record` prints: messages, and rows per file name.
fn summary(stdout: &[u8]) -> (u64, u64, BTreeMap<String, u64>) {
    let text = String::from_utf8_lossy(stdout);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let number = |word: &str| -> u64 {
        let words: Vec<&str> = first.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| w.trim_end_matches(',') == word)
            .unwrap_or_else(|| panic!("no {word:?} in {first:?}"));
        words[at - 1].parse().expect("a count")
    };
    let mut files = BTreeMap::new();
    for line in lines {
        let mut words = line.split_whitespace();
        let (Some(path), Some(rows), Some("rows")) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let name = Path::new(path).file_name().expect("a file name");
        files.insert(
            name.to_string_lossy().into_owned(),
            rows.parse().expect("a row count"),
        );
    }
    (number("messages"), number("dropped"), files)
}

/// Runs `check.py DIR` in its pyarrow virtualenv; its JSON report.
fn pyarrow_report(dir: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/record_parquet/check.py");
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyarrow-venv");
    let output = match Command::new("python3")
        .arg(&script)
        .arg(dir)
        .env("PYARROW_VENV", &venv)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "python3 is not installed; the Parquet check needs Python 3 with its venv \
             module and pip (e.g. `apt-get install python3 python3-venv`)"
        ),
        Err(error) => panic!("cannot run python3 {}: {error}", script.display()),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "check.py failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "check.py printed no report ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn thirty_seconds_recorded_read_back_by_pyarrow() {
    let dir = folder("record-parquet");
    let out = dir.to_string_lossy().into_owned();
    let output = succeeds(tickwire().args([
        "record",
        "--out",
        &out,
        "--duration",
        "30",
        "SPY",
        "AAPL",
        "MSFT",
    ]));
    let (messages, dropped, files) = summary(&output.stdout);
    assert_eq!(dropped, 0, "--slow-consumer block drops nothing");
    assert!(messages > 100, "only {messages} messages in 30 s");
    assert_eq!(
        files.values().sum::<u64>(),
        messages,
        "every delivered message is a row: {files:?}"
    );

    let report = pyarrow_report(&dir);
    let read = report["files"].as_object().expect("a files object");
    let read_rows: BTreeMap<String, u64> = read
        .iter()
        .map(|(name, file)| (name.clone(), file["rows"].as_u64().expect("rows")))
        .collect();
    assert_eq!(read_rows, files, "pyarrow reads what the stream delivered");
    let quotes = read
        .iter()
        .find(|(name, _)| name.starts_with("quotes-"))
        .map(|(_, file)| file)
        .expect("a quotes file");
    let trades = read
        .iter()
        .find(|(name, _)| name.starts_with("trades-"))
        .map(|(_, file)| file)
        .expect("a trades file");
    for (file, symbols) in [
        (quotes, ["AAPL", "MSFT", "SPY"]),
        (trades, ["AAPL", "MSFT", "SPY"]),
    ] {
        assert_eq!(file["symbols"], serde_json::json!(symbols), "{file}");
        assert_eq!(file["monotonic_per_symbol"], true, "{file}");
        assert_eq!(
            file["types"]["timestamp"], "timestamp[ns, tz=UTC]",
            "{file}"
        );
        assert_eq!(file["types"]["symbol"], "string", "{file}");
        assert_eq!(file["types"]["conditions"], "list<item: string>", "{file}");
    }
    for column in ["bid_price", "bid_size", "ask_price", "ask_size"] {
        assert_eq!(quotes["types"][column], "double", "{column}: {quotes}");
    }
    assert_eq!(trades["types"]["price"], "double", "{trades}");
    assert_eq!(trades["types"]["id"], "uint64", "{trades}");

    let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("the sidecar");
    assert!(
        events.lines().any(|l| l.contains(r#""state":"live""#)),
        "{events}"
    );
}

/// The most a killed recording may lose: the flush interval (2 s) and slack
/// for a busy machine.
const KILL_LOSS_MAX: Duration = Duration::from_secs(5);

#[test]
fn a_killed_recording_is_repaired_and_loses_only_the_last_seconds() {
    let dir = folder("record-killed");
    let out = dir.to_str().expect("a UTF-8 temporary folder");
    let args = ["record", "--out", out, "SPY", "AAPL"];
    let mut recording = spawn_tickwire(&args, Stdio::null(), Stdio::null());
    // Wait for two row groups of quotes in the journal, then kill outright.
    let journal = |dir: &Path| -> usize {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("quotes-") && name.ends_with(".rowgroups")
            })
            .map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .lines()
                    .count()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while journal(&dir) < 2 {
        assert!(
            Instant::now() < deadline,
            "no row groups journaled within 60 s"
        );
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_millis(1500));
    recording.kill().expect("SIGKILL");
    let killed_at = SystemTime::now();
    recording.wait().expect("reaped");

    // The next recording into the folder repairs the file first.
    let output = succeeds(
        tickwire()
            .args(["record", "--count", "1", "--out"])
            .arg(&dir),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("repaired"), "{stderr}");

    let report = pyarrow_report(&dir);
    let (name, quotes) = report["files"]
        .as_object()
        .expect("a files object")
        .iter()
        .find(|(name, _)| name.starts_with("quotes-") && !name.contains(".1."))
        .expect("the killed recording's quotes");
    let rows = quotes["rows"].as_u64().expect("rows");
    assert!(rows > 0, "{name}: {quotes}");
    assert!(stderr.contains(&format!("{rows} rows kept")), "{stderr}");
    let last = quotes["last_timestamp_ns"]
        .as_u64()
        .expect("a last timestamp");
    let killed_ns =
        u64::try_from(killed_at.duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap();
    let lost = Duration::from_nanos(killed_ns.saturating_sub(last));
    assert!(
        lost <= KILL_LOSS_MAX,
        "the last row kept is {lost:?} older than the kill (at most {KILL_LOSS_MAX:?})"
    );
}

#[test]
fn csv_lines_match_the_count() {
    let dir = folder("record-csv");
    let out = dir.to_string_lossy().into_owned();
    let output = succeeds(tickwire().args([
        "record", "--out", &out, "--format", "csv", "--count", "300", "SPY",
    ]));
    let (messages, _, files) = summary(&output.stdout);
    assert_eq!(messages, 300);
    assert_eq!(files.values().sum::<u64>(), 300, "{files:?}");
    for (name, rows) in &files {
        assert!(name.ends_with(".csv"), "{name}");
        // Python's csv module, an independent reader of the quoting.
        let counted = Command::new("python3")
            .args([
                "-c",
                "import csv, sys; rows = list(csv.DictReader(open(sys.argv[1], newline=''))); \
                 assert all(r['timestamp'].endswith('Z') and r['symbol'] == 'SPY' for r in rows); \
                 print(len(rows))",
            ])
            .arg(dir.join(name))
            .output()
            .expect("python3 runs (install python3)");
        assert!(
            counted.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&counted.stderr)
        );
        let counted: u64 = String::from_utf8_lossy(&counted.stdout)
            .trim()
            .parse()
            .expect("a count");
        assert_eq!(counted, *rows, "{name}");
    }
}

#[test]
fn an_unwritable_folder_is_a_clear_error() {
    let output = tickwire()
        .args(["record", "--out", "/proc/no-such-place", "--count", "1"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write into /proc/no-such-place"),
        "{stderr}"
    );
}
