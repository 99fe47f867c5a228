//! Bad input: exit code 2 and one clear message, never a panic or a debug dump.

mod support;

use support::tickwire;

fn assert_usage_error(args: &[&str], mentions: &str) {
    let output = tickwire().args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(mentions),
        "{args:?} should mention {mentions:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("Error {") && !stderr.contains("Usage(\""),
        "debug dump: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Each bad command line and what its message must mention.
const USAGE_ERRORS: &[(&[&str], &str)] = &[
    (&["watch", "--feed", "nasdaq"], "nasdaq"),
    (
        &["watch", "--channels", "quotes,ticks"],
        "unknown channel \"ticks\"",
    ),
    (
        &["watch", "--feed", "crypto", "--channels", "lulds"],
        "not available on the crypto feed",
    ),
    (&["watch", "--url", "http://example.com/v2/iex"], "ws://"),
    (&["trades", "--url", "wss://"], "no host"),
    (&["watch", "--key", "PK123"], "--secret"),
    (&["trades", "--secret", "s3cret"], "--key"),
    (
        &["watch", "--url", "ws://127.0.0.1:9/v2/iex"],
        "credentials",
    ),
    (
        &[
            "watch",
            "--url",
            "ws://example.com/v2/iex",
            "--key",
            "K",
            "--secret",
            "S",
        ],
        "refusing to send credentials",
    ),
    (
        &["watch", "--feed", "crypto", "--backfill", "trades"],
        "cannot backfill the crypto feed",
    ),
    (
        &[
            "watch",
            "--feed",
            "options",
            "--backfill",
            "trades,bars",
            "AAPL250620C00200000",
        ],
        "cannot backfill the options feed",
    ),
    (
        &[
            "watch",
            "--url",
            "ws://127.0.0.1:9/v1beta3/crypto/us",
            "--key",
            "K",
            "--secret",
            "S",
            "--backfill",
            "bars",
        ],
        "drop --backfill",
    ),
    (
        &[
            "watch",
            "--relay",
            "nats://127.0.0.1:9",
            "--backfill",
            "trades",
        ],
        "--relay",
    ),
    (&["watch", "--count", "0"], "--count"),
    (&["watch", "--duration", "soon"], "seconds"),
    (&["trades", "--paper", "--live"], "--live"),
    (&["serve", "--key", "A"], "--secret"),
    (&["watch", "bad symbol"], "bad symbol"),
    (&["frobnicate"], "frobnicate"),
    (&["proxy", "--listen", "0.0.0.0:0"], "--allow-remote"),
    (
        &["proxy", "--upstream", "ws://127.0.0.1:9"],
        "needs its credentials",
    ),
    (&["proxy", "--client-key", "onlykey"], "KEY:SECRET"),
    (&["relay"], "--nats"),
    (
        &[
            "relay",
            "--nats",
            "nats://127.0.0.1:9",
            "--upstream",
            "ws://127.0.0.1:9",
        ],
        "needs its credentials",
    ),
    (
        &["relay", "--nats", "nats://127.0.0.1:9", "--feed", "nasdaq"],
        "nasdaq",
    ),
    (
        &["relay", "--nats", "nats://127.0.0.1:9", "--live"],
        "--trade-updates",
    ),
    (
        &[
            "relay",
            "--nats",
            "nats://127.0.0.1:9",
            "--trade-updates",
            "main",
            "--live",
            "--upstream",
            "ws://127.0.0.1:9",
        ],
        "--upstream",
    ),
    (
        &[
            "relay",
            "--nats",
            "nats://127.0.0.1:9",
            "--trade-updates",
            "main",
            "--live",
        ],
        "needs the account's key pair",
    ),
];

#[test]
fn bad_input_is_a_usage_error() {
    for (args, mentions) in USAGE_ERRORS {
        assert_usage_error(args, mentions);
    }
}

#[test]
fn a_relay_without_a_nats_server_says_so_and_exits_1() {
    let output = tickwire()
        .args(["relay", "--nats", "nats://127.0.0.1:9"])
        .args([
            "--upstream",
            "ws://127.0.0.1:9",
            "--key",
            "K",
            "--secret",
            "S",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to NATS at nats://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_and_version_exit_0() {
    tickwire().arg("--help").assert().success();
    tickwire().args(["watch", "--help"]).assert().success();
    tickwire().arg("--version").assert().success();
}
