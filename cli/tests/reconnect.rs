//! Reconnects, gaps and errors are visible: an exchange restart, a silent
//! socket (with `--stale-after`) and a garbage frame, against a loopback
//! exchange this test controls; with `--backfill trades`, what a restart
//! hid comes back once, marked backfilled.

mod support;

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tickwire_core::{Symbol, Timestamp};
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, Fault, LoopbackConfig, LoopbackServer, MarketConfig,
};

use support::{is_data, line_reader, spawn_tickwire};

/// `tickwire watch --json` on SPY against `server`, its stdout lines parsed.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Watch {
    fn start(server: &LoopbackServer, extra: &[&str]) -> Self {
        let url = server.url("/v2/iex");
        let mut args = vec!["watch", "--json", "--url", &url, "SPY"];
        args.extend(["--key", "PKTEST", "--secret", "secret"]);
        args.extend(extra);
        let mut child = spawn_tickwire(&args, Stdio::piped(), Stdio::null());
        let stdout = child.stdout.take().expect("piped");
        let lines = line_reader(stdout, |line| {
            Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (up to 30 s) for a line matching `wanted`.
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> bool {
        tokio::task::block_in_place(|| {
            loop {
                match self.lines.recv_timeout(Duration::from_secs(30)) {
                    Ok(line) => {
                        let found = wanted(&line);
                        self.seen.push(line);
                        if found {
                            return true;
                        }
                    }
                    Err(_) => return false,
                }
            }
        })
    }

    fn position(&self, kind: &str) -> Option<usize> {
        self.seen.iter().position(|l| l["type"] == kind)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn server() -> LoopbackServer {
    server_of(ExchangeConfig::new(3)).await
}

async fn server_of(exchange: ExchangeConfig) -> LoopbackServer {
    let exchange = exchange.with_account(Account::new("PKTEST", "secret"));
    LoopbackServer::start(LoopbackConfig::new(exchange))
        .await
        .expect("binds")
}

/// An RFC 3339 time of a line.
fn time(line: &Value, key: &str) -> Timestamp {
    line[key]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no RFC 3339 {key}: {line}"))
}

/// Injects `fault` into every open session.
fn inject(server: &LoopbackServer, fault: &Fault) {
    server.exchange().with(|exchange, now| {
        let sessions: Vec<_> = exchange.sessions().collect();
        for session in sessions {
            exchange.inject(now, session, fault.clone());
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_restart_shows_a_gap_and_a_resume() {
    let server = server().await;
    let mut watch = Watch::start(&server, &[]);
    assert!(
        watch.wait_for(is_data),
        "no data before the restart: {:#?}",
        watch.seen
    );

    server
        .exchange()
        .with(|exchange, now| exchange.restart(now));

    let resumed = watch.wait_for(|l| l["type"] == "resumed") && watch.wait_for(is_data);
    assert!(resumed, "{:#?}", watch.seen);
    let (gap, resume) = (watch.position("gap"), watch.position("resumed"));
    assert!(
        gap.is_some() && gap < resume,
        "gap {gap:?} then resumed {resume:?}: {:#?}",
        watch.seen
    );
    assert!(
        watch
            .seen
            .iter()
            .any(|l| l["type"] == "error" && l["fatal"] == false),
        "{:#?}",
        watch.seen
    );
    let gap_line = &watch.seen[gap.unwrap_or_default()];
    assert!(
        gap_line["since"].is_string() && gap_line["epoch"] == 1,
        "{gap_line}"
    );
    let resume_line = &watch.seen[resume.unwrap_or_default()];
    assert_eq!(resume_line["epoch"], 2);
    // The wall-clock window to backfill: from the last data message's own
    // time (the last data line before the gap) to the resume.
    let before_gap = &watch.seen[..gap.unwrap_or_default()];
    let last_data = before_gap.iter().rev().find(|l| is_data(l));
    let dropped = before_gap.iter().any(|l| l["type"] == "dropped");
    if let (Some(last_data), false) = (last_data, dropped) {
        assert_eq!(
            gap_line["last_data_at"], last_data["timestamp"],
            "{gap_line}"
        );
    }
    assert!(gap_line["last_data_at"].is_string(), "{gap_line}");
    assert_eq!(resume_line["gap_since"], gap_line["since"], "{resume_line}");
    assert_eq!(resume_line["last_data_at"], gap_line["last_data_at"]);
    assert!(
        time(resume_line, "resumed_at") >= time(gap_line, "since"),
        "{resume_line}"
    );
    drop(watch);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_after_reconnects_a_silent_socket() {
    let server = server().await;
    let mut watch = Watch::start(&server, &["--stale-after", "1"]);
    assert!(watch.wait_for(is_data), "{:#?}", watch.seen);

    inject(&server, &Fault::Silence);

    let timed_out = watch.wait_for(|l| {
        l["type"] == "error" && l["message"].as_str().is_some_and(|m| m.contains("silent"))
    });
    assert!(timed_out, "{:#?}", watch.seen);
    assert!(
        watch.wait_for(|l| l["type"] == "resumed") && watch.wait_for(is_data),
        "{:#?}",
        watch.seen
    );
    drop(watch);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_frame_is_an_error_line_and_the_stream_carries_on() {
    let server = server().await;
    let mut watch = Watch::start(&server, &[]);
    assert!(watch.wait_for(is_data), "{:#?}", watch.seen);

    inject(&server, &Fault::Garbage);

    assert!(
        watch.wait_for(|l| l["type"] == "error"),
        "{:#?}",
        watch.seen
    );
    let error = watch.seen.last().cloned().unwrap_or_default();
    assert_eq!(error["fatal"], false, "{error}");
    assert!(
        watch.wait_for(is_data),
        "data after the garbage: {:#?}",
        watch.seen
    );
    drop(watch);
    server.shutdown().await;
}

/// A live (not backfilled) `trade` line.
fn is_live_trade(line: &Value) -> bool {
    line["type"] == "trade" && line.get("source").is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the figure a reader of the test output wants
async fn with_backfill_the_trades_a_restart_hid_arrive_once_marked_backfilled() {
    // SPY trades every 10 ms, stamped on this machine's clock (as the
    // stream's gap times are); no quotes.
    let mut market = MarketConfig::default();
    (market.tick, market.trade_chance, market.quote_chance) = (Duration::from_millis(10), 1.0, 0.0);
    let mut exchange = ExchangeConfig::new(41).with_market(market);
    exchange.wall_clock_start = Timestamp::from(SystemTime::now());
    let server = server_of(exchange).await;
    let mut watch = Watch::start(&server, &["--channels", "trades", "--backfill", "trades"]);
    for _ in 0..5 {
        assert!(watch.wait_for(is_live_trade), "{:#?}", watch.seen);
    }

    // The cut: every connection reset, the next three reconnects refused,
    // while the market goes on trading.
    server.exchange().with(|exchange, now| {
        for _ in 0..3 {
            exchange.refuse_next(503);
        }
        exchange.restart(now);
    });

    assert!(
        watch.wait_for(|l| l["type"] == "resumed") && watch.wait_for(is_live_trade),
        "{:#?}",
        watch.seen
    );
    let first_live_after = time(watch.seen.last().expect("a line"), "timestamp");
    // Past the backfill window's end (the resume and its 2 s margin) on
    // live data: every page of the window has long been answered.
    let settled = first_live_after.saturating_add_nanos(3_000_000_000);
    assert!(
        watch.wait_for(|l| is_live_trade(l) && time(l, "timestamp") > settled),
        "{:#?}",
        watch.seen
    );

    let seen = &watch.seen;
    let gap = watch.position("gap").expect("a gap line");
    let resume = watch.position("resumed").expect("a resumed line");
    assert!(gap < resume, "gap at {gap}, resumed at {resume}");
    let last_live_before = seen[..gap]
        .iter()
        .rev()
        .find(|l| is_live_trade(l))
        .map(|l| time(l, "timestamp"))
        .expect("a live trade before the gap");
    // Trade id → (lines, of which backfilled).
    let mut delivered: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for (at, line) in seen.iter().enumerate() {
        if line["type"] != "trade" {
            continue;
        }
        let backfilled = line["source"] == "backfilled";
        assert!(
            !backfilled || at > resume,
            "a backfilled trade before the resume: {line}"
        );
        let id = line["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no id: {line}"));
        let entry = delivered.entry(id).or_default();
        entry.0 += 1;
        entry.1 += u32::from(backfilled);
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, (n, _))| *n > 1).collect();
    assert!(twice.is_empty(), "trades printed more than once: {twice:?}");

    let tape = server.exchange().with(|exchange, now| {
        let spy = Symbol::from_server("SPY");
        exchange.tape_trades(Endpoint::Iex, &spy, last_live_before, first_live_after, now)
    });
    let missing: Vec<_> = tape
        .iter()
        .filter_map(|t| t.id)
        .filter(|id| !delivered.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the {} tape trades from {last_live_before} to {first_live_after} never \
         printed: {missing:?}",
        missing.len(),
        tape.len()
    );
    let backfilled = tape
        .iter()
        .filter_map(|t| t.id)
        .filter(|id| delivered.get(id).is_some_and(|(_, b)| *b > 0))
        .count();
    assert!(
        tape.len() > 3 && backfilled > 0,
        "the cut hid trades that were backfilled: {backfilled} of {} from {last_live_before} to {first_live_after}: {:#?}",
        tape.len(),
        seen
    );
    eprintln!(
        "{} tape trades across the cut checked, {backfilled} backfilled",
        tape.len()
    );
    drop(watch);
    server.shutdown().await;
}
