//! SIGTERM ends `watch --lines`, `watch --json` and `trades --json` as
//! Ctrl-C does: the server receives a Close frame (so a restart is not
//! refused with 406 while the old connection's slot is held), and the exit
//! code is 0.

#![cfg(unix)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Message;

use support::ws_peer::WsPeer;
use support::{line_reader, spawn_tickwire};

/// The longest any wait here may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

const QUOTE: &str = r#"[{"T":"q","S":"SPY","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#;

/// Whether a stdout line says the stream is live.
type IsLive = fn(&str) -> bool;

/// Starts `tickwire` with `args`, then waits for a stdout line saying the
/// stream is live (`live` tells one).
fn start_live(args: &[&str], live: IsLive) -> Child {
    let mut with_key = args.to_vec();
    with_key.extend(["--key", "PKTEST", "--secret", "secret"]);
    let mut child = spawn_tickwire(&with_key, Stdio::piped(), Stdio::null());
    let lines = line_reader(child.stdout.take().expect("piped"), Some);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if live(&line) => return child,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("{args:?} never went live");
            }
        }
    }
}

/// Sends SIGTERM and returns the exit code.
fn terminate(mut child: Child) -> Option<i32> {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("runs kill");
    assert!(sent.success());
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tickwire did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `peer` has counted `closes` Close frames; false if it never does.
async fn until_closes(peer: &WsPeer, closes: usize) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while peer.closes_received() < closes {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sends_a_close_frame_and_exits_0() {
    let market = WsPeer::start(vec![Message::text(QUOTE)], Duration::from_millis(50)).await;
    let trading = WsPeer::start(Vec::new(), Duration::ZERO).await;
    let market_url = market.url("/v2/iex");
    let trading_url = trading.url("/stream");
    let json_live: IsLive = |line| line.contains(r#""state":"live""#);
    let cases: [(&WsPeer, Vec<&str>, IsLive); 3] = [
        (
            &market,
            vec![
                "watch",
                "--lines",
                "--channels",
                "quotes",
                "--url",
                &market_url,
                "SPY",
            ],
            |line| line.contains("state: live"),
        ),
        (
            &market,
            vec![
                "watch",
                "--json",
                "--channels",
                "quotes",
                "--url",
                &market_url,
                "SPY",
            ],
            json_live,
        ),
        (
            &trading,
            vec!["trades", "--json", "--url", &trading_url],
            json_live,
        ),
    ];
    for (peer, args, live) in cases {
        let before = peer.closes_received();
        let child = tokio::task::block_in_place(|| start_live(&args, live));
        let code = tokio::task::block_in_place(|| terminate(child));
        assert_eq!(code, Some(0), "{args:?}");
        assert!(
            until_closes(peer, before + 1).await,
            "{args:?}: no Close frame reached the server"
        );
    }
}
