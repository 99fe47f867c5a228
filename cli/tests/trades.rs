//! `tickwire trades` against the embedded exchange's simulated order flow.

mod support;

use support::{Server, json_lines, tickwire};

#[test]
fn json_trade_updates_carry_event_and_symbol() {
    let output = tickwire()
        .args(["trades", "--json", "--count", "3"])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output.stdout);
    let updates: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "trade_update")
        .collect();
    assert_eq!(updates.len(), 3, "{lines:#?}");
    for update in updates {
        assert!(update["event"].is_string(), "{update}");
        assert!(update["symbol"].is_string(), "{update}");
        assert!(update["order"]["id"].is_string(), "{update}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "state" && l["state"] == "live")
    );
}

#[test]
fn a_rejected_key_exits_3() {
    let server = Server::start(&[]);
    let output = tickwire()
        .args([
            "trades",
            "--url",
            &server.trading_url,
            "--key",
            "PKBAD",
            "--secret",
            "bad",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "stderr: {stderr}");
    assert!(stderr.contains("fatal"), "{stderr}");
}
