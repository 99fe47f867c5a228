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

#[test]
fn unknown_feed() {
    assert_usage_error(&["watch", "--feed", "nasdaq"], "nasdaq");
}

#[test]
fn unknown_channel() {
    assert_usage_error(
        &["watch", "--channels", "quotes,ticks"],
        "unknown channel \"ticks\"",
    );
}

#[test]
fn channel_not_on_the_feed() {
    assert_usage_error(
        &["watch", "--feed", "crypto", "--channels", "lulds"],
        "not available on the crypto feed",
    );
}

#[test]
fn bad_url() {
    assert_usage_error(&["watch", "--url", "http://example.com/v2/iex"], "ws://");
    assert_usage_error(&["trades", "--url", "wss://"], "no host");
}

#[test]
fn key_without_secret() {
    assert_usage_error(&["watch", "--key", "PK123"], "--secret");
    assert_usage_error(&["trades", "--secret", "s3cret"], "--key");
}

#[test]
fn url_without_credentials() {
    assert_usage_error(
        &["watch", "--url", "ws://127.0.0.1:9/v2/iex"],
        "credentials",
    );
}

#[test]
fn plain_ws_to_another_machine_is_refused() {
    assert_usage_error(
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
    );
}

#[test]
fn bad_numbers_and_conflicts() {
    assert_usage_error(&["watch", "--count", "0"], "--count");
    assert_usage_error(&["watch", "--duration", "soon"], "seconds");
    assert_usage_error(&["trades", "--paper", "--live"], "--live");
    assert_usage_error(&["serve", "--key", "A"], "--secret");
    assert_usage_error(&["watch", "bad symbol"], "bad symbol");
}

#[test]
fn unknown_command() {
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn help_and_version_exit_0() {
    tickwire().arg("--help").assert().success();
    tickwire().args(["watch", "--help"]).assert().success();
    tickwire().arg("--version").assert().success();
}

#[test]
fn proxy_on_a_public_address_needs_allow_remote() {
    assert_usage_error(&["proxy", "--listen", "0.0.0.0:0"], "--allow-remote");
}

#[test]
fn proxy_upstream_without_credentials() {
    assert_usage_error(
        &["proxy", "--upstream", "ws://127.0.0.1:9"],
        "needs its credentials",
    );
}

#[test]
fn proxy_client_key_without_secret() {
    assert_usage_error(&["proxy", "--client-key", "onlykey"], "KEY:SECRET");
}
