//! `tickwire watch` against the embedded exchange and a `tickwire serve`.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{Server, exits_with, is_data, json_lines, spawn_tickwire, succeeds, tickwire};

#[test]
fn json_count_prints_exactly_that_many_data_lines() {
    let output = succeeds(tickwire().args(["watch", "--json", "--count", "50", "SPY", "AAPL"]));
    let lines = json_lines(&output.stdout);
    let data: Vec<_> = lines.iter().filter(|l| is_data(l)).collect();
    assert_eq!(data.len(), 50, "{lines:#?}");
    let symbols: BTreeSet<&str> = data
        .iter()
        .map(|l| l["symbol"].as_str().expect("symbol"))
        .collect();
    assert!(
        symbols.is_subset(&BTreeSet::from(["SPY", "AAPL"])),
        "{symbols:?}"
    );
    for line in &data {
        assert!(
            matches!(
                line["type"].as_str(),
                Some("quote" | "trade" | "correction" | "cancel_error")
            ),
            "{line}"
        );
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let quote = data
        .iter()
        .find(|l| l["type"] == "quote")
        .expect("a quote among 50 lines");
    assert!(
        quote["bid_price"].is_number() && quote["ask_price"].is_number(),
        "{quote}"
    );
    // The lifecycle is on stdout too: the stream went live before data came.
    let live = lines
        .iter()
        .position(|l| l["type"] == "state" && l["state"] == "live");
    let first_data = lines.iter().position(is_data);
    assert!(
        live < first_data,
        "live at {live:?}, first data at {first_data:?}"
    );
    assert!(lines.iter().any(|l| l["type"] == "subscription"));
    // The embedded exchange says so on stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("embedded simulated exchange"), "{stderr}");
}

#[test]
fn human_view_shows_quotes_and_state() {
    let output = succeeds(tickwire().args(["watch", "--count", "10", "SPY"]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("* state: live"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("SPY") && (l.contains("quote") || l.contains("trade"))),
        "{stdout}"
    );
}

#[test]
fn duration_stops_the_watch() {
    let started = Instant::now();
    let output = succeeds(tickwire().args(["watch", "--duration", "1", "--feed", "test"]));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAKEPACA"));
}

#[test]
fn a_rejected_key_exits_3_naming_the_code() {
    let server = Server::start(&["--key", "PKGOOD", "--secret", "good"]);
    let stderr = exits_with(
        tickwire()
            .args(["watch", "--url", &server.iex_url, "SPY"])
            .args(["--key", "PKBAD", "--secret", "bad"]),
        3,
    );
    assert!(stderr.contains("402"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        !stderr.contains("bad\""),
        "the secret must not be echoed: {stderr}"
    );
}

#[test]
fn a_served_exchange_streams_with_the_right_key() {
    let server = Server::start(&[
        "--key", "PKGOOD", "--secret", "good", "--seed", "9", "--rate", "50",
    ]);
    let output = succeeds(
        tickwire()
            .args([
                "watch",
                "--json",
                "--count",
                "20",
                "--url",
                &server.iex_url,
                "SPY",
            ])
            .env("APCA_API_KEY_ID", "PKGOOD")
            .env("APCA_API_SECRET_KEY", "good"),
    );
    let lines = json_lines(&output.stdout);
    assert_eq!(lines.iter().filter(|l| is_data(l)).count(), 20);
    assert!(
        lines
            .iter()
            .filter(|l| is_data(l))
            .all(|l| l["symbol"] == "SPY")
    );
}

#[test]
fn an_unreachable_host_exits_1() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let stderr = exits_with(
        tickwire()
            .args(["watch", "--url", "ws://127.0.0.1:1/v2/iex"])
            .args(["--key", "K", "--secret", "S"]),
        1,
    );
    assert!(
        stderr.contains("cannot connect to ws://127.0.0.1:1/v2/iex"),
        "{stderr}"
    );
    // The library's policy, named with the flag that changes it.
    assert!(
        stderr.contains("gave up after 5 failed attempts"),
        "{stderr}"
    );
    assert!(stderr.contains("--connect-attempts"), "{stderr}");
}

#[test]
fn plain_ws_to_another_machine_is_refused_in_the_command_lines_words() {
    for command in ["watch", "trades"] {
        let stderr = exits_with(
            tickwire()
                .args([command, "--url", "ws://192.0.2.1:9/v2/iex"])
                .args(["--key", "K", "--secret", "S"]),
            2,
        );
        assert!(stderr.contains("give a wss:// URL"), "{command}: {stderr}");
        assert!(
            !stderr.contains("allow_insecure"),
            "{command} names a library method: {stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_shuts_down_cleanly() {
    use std::process::{Command, Stdio};
    let args = ["watch", "--json", "SPY"];
    let mut child = spawn_tickwire(&args, Stdio::piped(), Stdio::null());
    std::thread::sleep(Duration::from_millis(1500));
    let Ok(sent) = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
    else {
        let _ = child.kill();
        let _ = child.wait();
        // No `kill` command on this machine: Ctrl-C cannot be sent from here.
        return;
    };
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tickwire did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn other_feeds_and_msgpack_work_against_the_embedded_exchange() {
    let cases: [(&[&str], &[&str], &str); 4] = [
        (
            &["--feed", "crypto", "--channels", "orderbooks,quotes"],
            &["orderbook", "quote"],
            "BTC/USD",
        ),
        (
            &["--encoding", "msgpack", "AAPL"],
            &["quote", "trade", "correction", "cancel_error"],
            "AAPL",
        ),
        (
            &["--feed", "options", "AAPL250620C00200000"],
            &["quote", "trade"],
            "AAPL250620C00200000",
        ),
        (
            &["--feed", "test"],
            &["quote", "trade", "correction", "cancel_error"],
            "FAKEPACA",
        ),
    ];
    for (args, types, symbol) in cases {
        let output = succeeds(
            tickwire()
                .args(["watch", "--json", "--count", "5"])
                .args(args),
        );
        let lines = json_lines(&output.stdout);
        let data: Vec<_> = lines.iter().filter(|l| is_data(l)).collect();
        assert_eq!(data.len(), 5, "{args:?}: {lines:#?}");
        for line in data {
            assert!(
                types.contains(&line["type"].as_str().unwrap_or_default()),
                "{args:?}: {line}"
            );
            assert_eq!(line["symbol"], symbol, "{args:?}: {line}");
        }
    }
}
