//! The live boards of `watch` and `trades` on a terminal.
//!
//! The stream's events update a board's state ([`market`], [`orders`]) in
//! the command's task, one cheap update per event; a thread of its own takes
//! a snapshot of that state at most [`ui::FRAMES_PER_SECOND`] times a second
//! and draws it ([`render`]), and reads the keys. Drawing is never in the
//! data path: a slow terminal delays frames, not messages. The terminal is
//! restored on every exit path ([`terminal_guard`]).

pub(crate) mod market;
pub(crate) mod orders;
pub(crate) mod render;
pub(crate) mod state;
mod terminal_guard;
mod ui;

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use futures::Stream;
use ratatui::Frame;
use tickwire_alpaca::{MarketData, TradeUpdate};
use tickwire_ws::{StreamEvent, StreamHandle};
use tokio::sync::oneshot;

use self::market::{MarketBoard, MarketSnapshot};
use self::orders::{OrderBoard, OrderSnapshot};
use self::render::Palette;
use self::terminal_guard::TerminalGuard;
use crate::commands::connection::Connection;
use crate::error::CliError;
use crate::follow::{Sink, SinkError, Stop};
use crate::output::{Clock, Printable, Printer, Style};
use crate::target::{Limits, View};

/// A board: state updated by a stream's events, drawn from snapshots.
pub(crate) trait Board: Send + 'static {
    /// The stream's data type.
    type Data;
    /// What a frame is drawn from.
    type Snapshot;

    /// Takes one event of the stream.
    fn apply(&mut self, event: &StreamEvent<Self::Data>, clock: &Clock);
    /// Adds a line of the command's own to the event pane.
    fn note(&mut self, line: String);
    /// Switches to the next sort order (the `s` key).
    fn cycle_sort(&mut self);
    /// The board at `now`.
    fn snapshot(&mut self, now: Instant) -> Self::Snapshot;
    /// Draws a snapshot.
    fn render(snapshot: &Self::Snapshot, palette: Palette, frame: &mut Frame<'_>);
}

/// Implements [`Board`] for a board type whose inherent methods have the
/// trait's names, drawn by the given `render` function.
macro_rules! board_by_inherent_methods {
    ($board:ty, $data:ty, $snapshot:ty, $render:path) => {
        impl Board for $board {
            type Data = $data;
            type Snapshot = $snapshot;

            fn apply(&mut self, event: &StreamEvent<$data>, clock: &Clock) {
                Self::apply(self, event, clock);
            }

            fn note(&mut self, line: String) {
                Self::note(self, line);
            }

            fn cycle_sort(&mut self) {
                Self::cycle_sort(self);
            }

            fn snapshot(&mut self, now: Instant) -> $snapshot {
                Self::snapshot(self, now)
            }

            fn render(snapshot: &$snapshot, palette: Palette, frame: &mut Frame<'_>) {
                $render(snapshot, palette, frame);
            }
        }
    };
}

board_by_inherent_methods!(MarketBoard, MarketData, MarketSnapshot, render::market);
board_by_inherent_methods!(OrderBoard, TradeUpdate, OrderSnapshot, render::orders);

/// Whether to show a board: on a terminal, unless lines or JSON were asked for.
fn wanted(view: View) -> bool {
    !view.json && !view.lines && std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// Shows the events of `stream` (its handle and events) on the board
/// `new_board` makes when [`wanted`], else prints them as lines (or JSON),
/// until a limit, Ctrl-C or SIGTERM.
///
/// # Errors
/// As for [`show`] and [`Connection::follow`].
pub(crate) async fn show_or_print<B, S>(
    view: View,
    new_board: impl FnOnce() -> B,
    connection: Connection,
    stream: (StreamHandle, S),
    limits: Limits,
) -> Result<Stop, CliError>
where
    B: Board,
    B::Data: Printable,
    S: Stream<Item = StreamEvent<B::Data>> + Unpin,
{
    let (handle, mut events) = stream;
    if wanted(view) {
        show(new_board(), connection, &handle, &mut events, limits).await
    } else {
        let style = if view.json { Style::Json } else { Style::Human };
        let mut printer = Printer::stdout(style);
        connection
            .follow(&handle, &mut events, &mut printer, limits, pending())
            .await
    }
}

/// Locks a board shared with the drawing thread; a panic there (already
/// reported, terminal restored) does not make the state unusable.
fn lock<B>(board: &Mutex<B>) -> MutexGuard<'_, B> {
    board.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sink that feeds the stream's events to a shared board.
struct Feeder<B>(Arc<Mutex<B>>);

impl<B: Board> Sink<B::Data> for Feeder<B> {
    fn event(&mut self, event: &StreamEvent<B::Data>) -> Result<(), SinkError> {
        lock(&self.0).apply(event, &Clock::now());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Shows `board` fed by `events` until a limit, `q`, Ctrl-C or SIGTERM, then
/// restores the terminal.
///
/// # Errors
/// As for [`Connection::follow`]; also [`CliError::Runtime`] when the
/// terminal cannot be set up or drawn on.
async fn show<B, S>(
    board: B,
    connection: Connection,
    handle: &StreamHandle,
    events: &mut S,
    limits: Limits,
) -> Result<Stop, CliError>
where
    B: Board,
    S: Stream<Item = StreamEvent<B::Data>> + Unpin,
{
    let palette = Palette::from_env(std::env::var("NO_COLOR").ok().as_deref());
    let board = Arc::new(Mutex::new(board));
    let guard = TerminalGuard::enter().map_err(|e| {
        CliError::runtime(format!(
            "cannot set up the terminal for the board: {e} (--lines prints lines instead)"
        ))
    })?;
    let running = Arc::new(AtomicBool::new(true));
    let (quit, quit_requested) = oneshot::channel();
    let drawing = std::thread::Builder::new()
        .name("board".to_owned())
        .spawn({
            let board = Arc::clone(&board);
            let running = Arc::clone(&running);
            move || ui::run(&board, &running, quit, palette)
        })
        .map_err(|e| CliError::runtime(format!("cannot start the board: {e}")))?;

    let mut feeder = Feeder(Arc::clone(&board));
    let stop = connection
        .follow(handle, events, &mut feeder, limits, async {
            // A request, or the drawing thread ended: either way, stop.
            let _ = quit_requested.await;
        })
        .await;
    running.store(false, Ordering::Release);
    let drawn = drawing.join();
    drop(guard);
    match drawn {
        Ok(Ok(())) => stop,
        Ok(Err(error)) => Err(CliError::runtime(format!(
            "cannot draw the board: {error} (--lines prints lines instead)"
        ))),
        Err(_) => Err(CliError::runtime("the board stopped with a panic")),
    }
}
