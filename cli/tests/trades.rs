//! `tickwire trades` against the embedded exchange's simulated order flow.

mod support;

use support::{Server, exits_with, json_lines, succeeds, tickwire};

#[test]
fn json_trade_updates_carry_event_and_symbol() {
    let output = succeeds(tickwire().args(["trades", "--json", "--count", "3"]));
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
    let stderr = exits_with(
        tickwire()
            .args(["trades", "--url", &server.trading_url])
            .args(["--key", "PKBAD", "--secret", "bad"]),
        3,
    );
    assert!(stderr.contains("fatal"), "{stderr}");
}
