//! The memory bound, measured: the peak RSS of `tickwire watch --json`
//! against a server sending the worst frames we can build at the largest
//! frame size the client accepts (16 MiB), one after another as fast as the
//! socket takes them, stays below the baseline plus 4× the frame size. The
//! baseline is the peak of the same command against ordinary one-quote
//! frames, measured in the same run.
//!
//! The worst frames: 16 MiB of one-byte `nil`s, of the smallest messages of
//! an unknown type, of valid quotes (each as many events as a frame may
//! yield), and one news article as large as the frame whose body is control
//! characters (one event holding the whole frame, printed six times as
//! large, `\u0001` for each byte).
//!
//! RSS, not time: each run waits (event-driven, with a generous overall
//! timeout) until the command has printed what a number of frames yield,
//! then reads its high-water mark (`VmHWM` in `/proc/<pid>/status`). The
//! figures are printed (`cargo test -p tickwire-cli --test memory_bound --
//! --nocapture`).

#![cfg(target_os = "linux")]
#![allow(clippy::print_stderr)]

mod support;

use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Message;

use support::ws_peer::WsPeer;
use support::{line_reader, spawn_tickwire};

/// The largest frame the client accepts (`WsConfig::max_message_bytes`).
const FRAME_BYTES: usize = 16 << 20;

/// Worst frames each run must have read before its peak is taken.
const FRAMES_READ: usize = 12;

/// The longest one run may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(300);

/// The most messages decoded per frame (`MESSAGES_PER_FRAME_MAX`).
const MESSAGES_PER_FRAME_MAX: usize = 16_384;

const QUOTE: &str = r#"{"T":"q","S":"SPY","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;

/// A MessagePack array of one-byte `nil`s filling the frame: 16.7 M
/// messages, none valid (the frame of finding 1).
fn nils() -> Message {
    let count = FRAME_BYTES - 5;
    let mut bytes = Vec::with_capacity(FRAME_BYTES);
    bytes.push(0xdd);
    bytes.extend_from_slice(&(count as u32).to_be_bytes());
    bytes.resize(FRAME_BYTES, 0xc0);
    Message::binary(bytes)
}

/// A MessagePack array of the smallest messages that decode (`{"T":"?"}`,
/// a type nobody knows: 5 bytes each), filling the frame.
fn unknown_messages() -> Message {
    const MESSAGE: [u8; 5] = [0x81, 0xa1, b'T', 0xa1, b'?'];
    let count = (FRAME_BYTES - 5) / MESSAGE.len();
    let mut bytes = Vec::with_capacity(FRAME_BYTES);
    bytes.push(0xdd);
    bytes.extend_from_slice(&(count as u32).to_be_bytes());
    for _ in 0..count {
        bytes.extend_from_slice(&MESSAGE);
    }
    Message::binary(bytes)
}

/// A JSON array of valid quotes filling the frame (padded with spaces):
/// every message decodes to an event as large as a quote's.
fn quotes() -> Message {
    let mut text = String::with_capacity(FRAME_BYTES);
    text.push('[');
    text.push_str(QUOTE);
    // Room for a comma, the quote and the closing bracket.
    while text.len() + QUOTE.len() + 2 <= FRAME_BYTES {
        text.push(',');
        text.push_str(QUOTE);
    }
    while text.len() + 1 < FRAME_BYTES {
        text.push(' ');
    }
    text.push(']');
    Message::text(text)
}

/// One MessagePack news article filling the frame, its `content` made of
/// `0x01` bytes: valid UTF-8, decoded into a string as large as the frame,
/// and printed as JSON six bytes for one (`\u0001`).
fn huge_news() -> Message {
    let mut bytes = Vec::with_capacity(FRAME_BYTES);
    // An array of one map of seven entries.
    bytes.extend_from_slice(&[0x91, 0x87]);
    let fixstr = |bytes: &mut Vec<u8>, text: &str| {
        bytes.push(0xa0 | text.len() as u8);
        bytes.extend_from_slice(text.as_bytes());
    };
    for (key, value) in [
        ("T", "n"),
        ("headline", "Huge"),
        ("source", "test"),
        ("created_at", "2024-01-02T15:04:06Z"),
        ("updated_at", "2024-01-02T15:04:06Z"),
    ] {
        fixstr(&mut bytes, key);
        fixstr(&mut bytes, value);
    }
    fixstr(&mut bytes, "id");
    bytes.push(0x01);
    fixstr(&mut bytes, "content");
    let length = FRAME_BYTES - bytes.len() - 5;
    bytes.push(0xdb);
    bytes.extend_from_slice(&(length as u32).to_be_bytes());
    bytes.resize(FRAME_BYTES, 0x01);
    Message::binary(bytes)
}

/// `tickwire watch --json` on SPY quotes at `url`, its stdout lines read
/// (and dropped) by a thread that reports each line's `"type"`.
fn watch(url: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = spawn_tickwire(
        &[
            "watch",
            "--json",
            "--channels",
            "quotes",
            "--url",
            url,
            "SPY",
            "--key",
            "PKTEST",
            "--secret",
            "secret",
        ],
        Stdio::piped(),
        Stdio::null(),
    );
    let stdout = child.stdout.take().expect("piped");
    // The tag comes first (`{"type":"quote",…`): no need to parse a 16 MiB
    // line to read it, nor to slow the command down.
    let types = line_reader(stdout, |line| {
        let kind = line.strip_prefix(r#"{"type":""#)?.split('"').next()?;
        Some(kind.to_owned())
    });
    (child, types)
}

/// The peak resident set of process `pid`, in bytes.
fn peak_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reads status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kib * 1024
}

/// Runs `watch` against a server sending `frame` over and over until
/// `done` says (from the counts of line types so far) that enough was
/// read, or its peak RSS passed `stop_above` (the bound is broken anyway:
/// no need to let it take the machine); returns the command's peak RSS then.
async fn peak_against(
    name: &str,
    frame: Message,
    pause: Duration,
    stop_above: u64,
    done: impl Fn(&Counts) -> bool,
) -> u64 {
    let peer = WsPeer::start(vec![frame], pause).await;
    let (mut child, types) = watch(&peer.url("/v2/iex"));
    let mut counts = Counts::default();
    let deadline = Instant::now() + PATIENCE;
    let finished = tokio::task::block_in_place(|| {
        while !done(&counts) && peak_rss_bytes(child.id()) <= stop_above {
            if Instant::now() > deadline {
                return false;
            }
            match types.recv_timeout(Duration::from_millis(50)) {
                Ok(kind) => counts.add(&kind),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    });
    let peak = peak_rss_bytes(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        finished,
        "{name}: too few lines before the timeout: {counts:?}"
    );
    peak
}

/// Whether enough lines were printed.
type Enough = Box<dyn Fn(&Counts) -> bool>;

/// Lines printed so far, by type.
#[derive(Debug, Default)]
struct Counts {
    data: usize,
    news: usize,
    errors: usize,
    unknown: usize,
}

impl Counts {
    fn add(&mut self, kind: &str) {
        match kind {
            "quote" => self.data += 1,
            "news" => self.news += 1,
            "error" => self.errors += 1,
            "unknown" => self.unknown += 1,
            _ => {}
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_rss_stays_below_the_baseline_plus_four_frames() {
    let per_frame = MESSAGES_PER_FRAME_MAX;
    // Ordinary frames (a hundred quotes, as Alpaca batches them) as fast as
    // the socket takes them, until as many quote lines as the worst quote
    // frames below yield.
    let ordinary = format!("[{}]", vec![QUOTE; 100].join(","));
    let baseline = peak_against(
        "baseline",
        Message::text(ordinary),
        Duration::ZERO,
        u64::MAX,
        |c| c.data >= FRAMES_READ * per_frame,
    )
    .await;
    let worst: [(&str, Message, Enough); 4] = [
        ("nils", nils(), Box::new(|c| c.errors >= FRAMES_READ)),
        (
            "unknown messages",
            unknown_messages(),
            Box::new(move |c| c.unknown >= FRAMES_READ * per_frame),
        ),
        (
            "quotes",
            quotes(),
            Box::new(move |c| c.data >= FRAMES_READ * per_frame),
        ),
        (
            "one huge news article",
            huge_news(),
            Box::new(|c| c.news >= FRAMES_READ),
        ),
    ];
    let bound = baseline + 4 * FRAME_BYTES as u64;
    eprintln!(
        "frame {:.1} MiB; baseline peak RSS {:.1} MiB; bound {:.1} MiB",
        mib(FRAME_BYTES as u64),
        mib(baseline),
        mib(bound)
    );
    let mut over = Vec::new();
    for (name, frame, done) in worst {
        let peak = peak_against(name, frame, Duration::ZERO, 2 * bound, done).await;
        eprintln!(
            "{name}: peak RSS {:.1} MiB, {:.2} frames above the baseline",
            mib(peak),
            peak.saturating_sub(baseline) as f64 / FRAME_BYTES as f64
        );
        if peak >= bound {
            over.push((name, mib(peak)));
        }
    }
    assert!(over.is_empty(), "over {:.1} MiB: {over:?}", mib(bound));
}
