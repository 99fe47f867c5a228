//! The drawing thread: a frame from a fresh snapshot at most
//! [`FRAMES_PER_SECOND`] times a second, and the keys.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::oneshot;

use super::render::Palette;
use super::{Board, lock};

/// The most frames drawn per second.
pub(crate) const FRAMES_PER_SECOND: u32 = 15;

/// Time between frames.
const FRAME_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / FRAMES_PER_SECOND as u64);

/// Draws `board` and reads keys until `running` turns false; `q`, Esc or
/// Ctrl-C sends `quit` (the command then stops and clears `running`).
///
/// # Errors
/// When the terminal cannot be drawn on or read.
pub(super) fn run<B: Board>(
    board: &Mutex<B>,
    running: &AtomicBool,
    quit: oneshot::Sender<()>,
    palette: Palette,
) -> io::Result<()> {
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let mut quit = Some(quit);
    let mut next_frame = Instant::now();
    while running.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= next_frame {
            let snapshot = lock(board).snapshot(now);
            terminal.draw(|frame| B::render(&snapshot, palette, frame))?;
            next_frame = now + FRAME_INTERVAL;
        }
        if !event::poll(next_frame.saturating_duration_since(Instant::now()))? {
            continue;
        }
        match event::read()? {
            Event::Key(key) if key.kind == KeyEventKind::Press => {
                let control_c =
                    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
                if matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) || control_c {
                    if let Some(quit) = quit.take() {
                        lock(board).note("* quitting: closing the connection".to_owned());
                        let _ = quit.send(());
                    }
                } else if key.code == KeyCode::Char('s') {
                    lock(board).cycle_sort();
                }
                next_frame = Instant::now();
            }
            Event::Resize(..) => next_frame = Instant::now(),
            _ => {}
        }
    }
    Ok(())
}
