//! The live board in a real terminal (tmux) against the embedded exchange:
//! it shows every symbol with prices and the stream `live`, and whatever
//! ends it (`q`, SIGTERM) leaves the terminal as it was: exit code 0, no
//! alternate screen, the cursor visible.

mod support;

use std::process::Command;
use std::time::Duration;

use support::tmux::Tmux;

/// The symbols the board is started with.
const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "SPY"];

/// How long the board may take to show everything (a debug build, 2 busy cores).
const PATIENCE: Duration = Duration::from_secs(30);

/// Starts `tickwire watch` on the board for [`SYMBOLS`] and waits until it
/// shows them all with prices, and `live` in the header.
fn board(socket: &str) -> Tmux {
    let mut args = vec!["watch"];
    args.extend(SYMBOLS);
    let tmux = Tmux::run(socket, env!("CARGO_BIN_EXE_tickwire"), &args);
    tmux.wait_for(
        PATIENCE,
        "board with live prices for every symbol",
        |screen| {
            let header_live = screen.lines().next().is_some_and(|l| l.contains(" live "));
            header_live && SYMBOLS.iter().all(|symbol| has_prices(screen, symbol))
        },
    );
    tmux
}

/// Waits for the board to exit and checks it left the terminal as it was:
/// exit code 0, no alternate screen, the cursor visible.
fn exits_cleanly(tmux: &Tmux) {
    let ended = tmux.wait_exit(PATIENCE);
    assert_eq!(ended.status, 0, "{ended:?}; the screen:\n{}", tmux.screen());
    assert!(!ended.alternate_screen, "{ended:?}");
    assert!(ended.cursor_visible, "{ended:?}");
}

/// Whether the row of `symbol` shows a bid and an ask (two prices).
fn has_prices(screen: &str, symbol: &str) -> bool {
    screen.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some(symbol)
            && words
                .filter(|w| w.contains('.') && w.parse::<f64>().is_ok_and(|p| p > 0.0))
                .count()
                >= 2
    })
}

#[test]
fn q_quits_and_restores_the_terminal() {
    let tmux = board("tickwire-board-q");
    let screen = tmux.screen();
    assert!(screen.contains("feed iex"), "{screen}");
    assert!(screen.contains("connection #1"), "{screen}");
    assert!(
        screen.contains("* state: live (connection #1)"),
        "the event pane shows the lifecycle:\n{screen}"
    );
    assert!(screen.contains("q quit"), "{screen}");
    // Rows are sorted by symbol.
    let row = |symbol: &str| screen.lines().position(|l| l.starts_with(symbol));
    assert!(
        row("AAPL") < row("MSFT") && row("MSFT") < row("SPY"),
        "{screen}"
    );
    tmux.keys("s");
    tmux.wait_for(PATIENCE, "the next sort order", |screen| {
        screen.contains("sort (by updates/s)")
    });

    tmux.keys("q");
    exits_cleanly(&tmux);
}

#[test]
fn sigterm_ends_the_board_cleanly() {
    let tmux = board("tickwire-board-term");
    let killed = Command::new("kill")
        .args(["-TERM", &tmux.pid.to_string()])
        .status()
        .expect("runs kill");
    assert!(killed.success());
    exits_cleanly(&tmux);
}

#[test]
fn lines_on_a_terminal_print_lines_instead() {
    let tmux = Tmux::run(
        "tickwire-board-lines",
        env!("CARGO_BIN_EXE_tickwire"),
        &["watch", "--lines", "--count", "5", "SPY"],
    );
    let ended = tmux.wait_exit(PATIENCE);
    assert_eq!(ended.status, 0, "{ended:?}; the screen:\n{}", tmux.screen());
    let screen = tmux.screen();
    assert!(screen.contains("* state: live (connection #1)"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains(" SPY ") && l.contains("quote")),
        "{screen}"
    );
    assert!(!screen.contains("q quit"), "no board: {screen}");
}

#[test]
fn trades_shows_a_board_of_orders() {
    let tmux = Tmux::run(
        "tickwire-board-trades",
        env!("CARGO_BIN_EXE_tickwire"),
        &["trades"],
    );
    tmux.wait_for(
        PATIENCE,
        "an order on the board of a live account stream",
        |screen| {
            let header_live = screen.lines().next().is_some_and(|l| l.contains(" live "));
            let order_row = screen
                .lines()
                .any(|line| line.split_whitespace().any(|w| matches!(w, "buy" | "sell")));
            header_live && screen.contains("account") && order_row
        },
    );
    tmux.keys("q");
    exits_cleanly(&tmux);
}
