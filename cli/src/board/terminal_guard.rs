//! The terminal in board mode (raw, alternate screen, cursor hidden), put
//! back as it was when the guard drops and in the panic hook, so no exit
//! path leaves the screen unusable.

use std::io::{self, Write};
use std::panic;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Whether the terminal is in board mode now.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Owns the terminal's board mode; dropping it restores the terminal.
#[derive(Debug)]
pub(crate) struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Switches stdout's terminal to board mode and makes panics restore it
    /// before their message is printed.
    ///
    /// # Errors
    /// When the terminal cannot be switched (what was switched is undone).
    pub(crate) fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = Self { _private: () };
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and ends raw mode, once;
/// nothing when the terminal is not in board mode.
fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut stdout = io::stdout();
    // Nothing better can be done about a terminal that refuses: go on restoring.
    let _ = execute!(stdout, LeaveAlternateScreen, Show);
    let _ = stdout.flush();
    let _ = disable_raw_mode();
}

/// Restores the terminal first in every panic, then reports it as before.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
