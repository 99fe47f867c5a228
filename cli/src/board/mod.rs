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
use crate::output::Clock;
use crate::target::Limits;

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

impl Board for MarketBoard {
    type Data = MarketData;
    type Snapshot = MarketSnapshot;

    fn apply(&mut self, event: &StreamEvent<MarketData>, clock: &Clock) {
        Self::apply(self, event, clock);
    }

    fn note(&mut self, line: String) {
        Self::note(self, line);
    }

    fn cycle_sort(&mut self) {
        Self::cycle_sort(self);
    }

    fn snapshot(&mut self, now: Instant) -> MarketSnapshot {
        Self::snapshot(self, now)
    }

    fn render(snapshot: &MarketSnapshot, palette: Palette, frame: &mut Frame<'_>) {
        render::market(snapshot, palette, frame);
    }
}

impl Board for OrderBoard {
    type Data = TradeUpdate;
    type Snapshot = OrderSnapshot;

    fn apply(&mut self, event: &StreamEvent<TradeUpdate>, clock: &Clock) {
        Self::apply(self, event, clock);
    }

    fn note(&mut self, line: String) {
        Self::note(self, line);
    }

    fn cycle_sort(&mut self) {
        Self::cycle_sort(self);
    }

    fn snapshot(&mut self, now: Instant) -> OrderSnapshot {
        Self::snapshot(self, now)
    }

    fn render(snapshot: &OrderSnapshot, palette: Palette, frame: &mut Frame<'_>) {
        render::orders(snapshot, palette, frame);
    }
}

/// Whether to show a board: on a terminal, unless lines or JSON were asked for.
pub(crate) fn wanted(json: bool, lines: bool) -> bool {
    !json && !lines && std::io::IsTerminal::is_terminal(&std::io::stdout())
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
pub(crate) async fn show<B, S>(
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
