//! What the live board costs: CPU time of `tickwire watch` drawing the
//! board (in a tmux terminal) beside `tickwire watch --lines > /dev/null`,
//! both following the same `tickwire serve` at the same time for the same
//! wall time, so a busy machine slows both alike.
//!
//! ```text
//! cargo bench -p tickwire-cli --bench board_cpu            # 20,000 quotes/s, 10 s
//! cargo bench -p tickwire-cli --bench board_cpu -- secs=20 rounds=3
//! ```
//!
//! The load: quotes only for 30 symbols (the simulated free plan's limit per
//! channel), 1,000 messages/s asked of each, of which two thirds are quotes:
//! 20,000 quotes/s per client (the simulated exchange sends 200 ticks a
//! second, several quotes per symbol each). The board's own header
//! measures the rate delivered, printed beside the figures. Each client has
//! an account of its own (one connection per account). Budget: board CPU
//! ≤ 1.5 × lines CPU. Needs tmux (installed if missing, as root).

#![allow(clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
#[allow(unreachable_pub)]
mod support;

use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use support::Server;
use support::tmux::Tmux;

/// The symbols each client follows (30: the simulated free plan's limit).
const SYMBOLS: [&str; 30] = [
    "AAPL", "AMZN", "GOOG", "META", "MSFT", "NVDA", "QQQ", "SPY", "TSLA", "IWM", "AMD", "INTC",
    "NFLX", "ORCL", "CRM", "ADBE", "PYPL", "UBER", "SHOP", "SQ", "DIS", "KO", "PEP", "WMT", "JPM",
    "BAC", "XOM", "CVX", "PFE", "MRK",
];

/// Messages per second asked per symbol: two thirds quotes, so 20,000
/// quotes/s over the 30 symbols.
const RATE_PER_SYMBOL: &str = "1000";

/// The budget: board CPU over lines CPU.
const RATIO_MAX: f64 = 1.5;

const BINARY: &str = env!("CARGO_BIN_EXE_tickwire");

fn main() {
    let mut seconds = 10_u64;
    let mut rounds = 1_u32;
    for arg in std::env::args().skip(1) {
        if let Some(value) = arg.strip_prefix("secs=") {
            seconds = value.parse().expect("secs=N");
        } else if let Some(value) = arg.strip_prefix("rounds=") {
            rounds = value.parse().expect("rounds=N");
        }
    }
    let server = Server::start(&[
        "--rate",
        RATE_PER_SYMBOL,
        "--key",
        "board",
        "--secret",
        "board",
        "--key",
        "lines",
        "--secret",
        "lines",
    ]);
    println!(
        "board_cpu: quotes for {} symbols, {RATE_PER_SYMBOL} messages/s asked each (2/3 quotes), {seconds} s per round",
        SYMBOLS.len()
    );
    let mut worst: f64 = 0.0;
    for round in 1..=rounds {
        let (board, lines, rate) = measure(&server.iex_url, Duration::from_secs(seconds), round);
        let ratio = board / lines.max(1e-9);
        worst = worst.max(ratio);
        println!(
            "round {round}: {rate} quotes/s delivered; board {board:.2} s CPU, lines {lines:.2} s CPU: \
             ratio {ratio:.2} (budget <= {RATIO_MAX})"
        );
    }
    println!(
        "board_cpu: worst ratio {worst:.2} {}",
        if worst <= RATIO_MAX {
            "(within budget)"
        } else {
            "(OVER BUDGET)"
        }
    );
}

/// Runs both clients for `wall`; their CPU seconds (board, lines) and the
/// rate the board's header showed at the end.
fn measure(url: &str, wall: Duration, round: u32) -> (f64, f64, String) {
    let client = |account: &'static str| {
        let mut args = vec![
            "watch",
            "--url",
            url,
            "--key",
            account,
            "--secret",
            account,
            "--channels",
            "quotes",
        ];
        args.extend(SYMBOLS);
        args
    };
    let board = Tmux::run(
        &format!("tickwire-bench-board-{round}"),
        BINARY,
        &client("board"),
    );
    let mut lines_args = client("lines");
    lines_args.push("--lines");
    let mut lines = support::spawn_tickwire(&lines_args, Stdio::null(), Stdio::null());
    // Let both connect and go live before counting.
    thread::sleep(Duration::from_secs(2));
    let (board_before, lines_before) = (cpu_seconds(board.pid), cpu_seconds(lines.id()));
    thread::sleep(wall);
    let (board_after, lines_after) = (cpu_seconds(board.pid), cpu_seconds(lines.id()));
    let screen = board.screen();
    let rate = screen
        .lines()
        .nth(1)
        .and_then(|header| header.split_whitespace().next())
        .unwrap_or("?")
        .to_owned();
    board.keys("q");
    let _ = board.wait_exit(Duration::from_secs(20));
    stop(&mut lines);
    (board_after - board_before, lines_after - lines_before, rate)
}

/// User plus system CPU time of a running process, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("process {pid} is not running ({e})"));
    // Fields after the command name (which is in parentheses): state is
    // field 3; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    #[allow(clippy::cast_precision_loss)]
    let seconds = ticks as f64 / clock_ticks_per_second();
    seconds
}

/// `getconf CLK_TCK` (100 on Linux).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
