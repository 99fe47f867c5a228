//! What the recovery planner asks for and hands out.

use std::fmt;

use tickwire_core::Timestamp;

/// Identifies one window of history being fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowId(pub(crate) u64);

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "window {}", self.0)
    }
}

/// One page to request: the records of `[from, to]` (orders: changed after
/// `from`), continuing at `page_token` when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The window the page belongs to.
    pub window: WindowId,
    /// The window's start (its gap's last data message, less the margin).
    pub from: Timestamp,
    /// The window's end (the resume, plus the margin).
    pub to: Timestamp,
    /// Where to continue; `None` for the first page.
    pub page_token: Option<String>,
}

/// A fetched page, as the driver decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<R> {
    /// The records, in any order.
    pub records: Vec<R>,
    /// The token of the next page; `None` on the last.
    pub next_page_token: Option<String>,
}

/// Where a delivered record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The stream.
    Live,
    /// A fetch of this window.
    Recovered(WindowId),
}

/// A record for the application, delivered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<R> {
    /// The record.
    pub record: R,
    /// Live or recovered.
    pub source: Source,
}

/// Why a window was given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The resume carried no wall-clock times: the stream's machine was
    /// given no wall clock.
    #[error("the resume carries no wall-clock time; give the machine a wall clock")]
    NoWallClock,
    /// The server named a page token it had named before: the pages loop.
    #[error("the server repeated page token {0:?}; the pages would never end")]
    RepeatedPageToken(String),
    /// The window took more pages than allowed.
    #[error("more than {0} pages; giving the window up")]
    TooManyPages(u32),
    /// A page token longer than allowed.
    #[error("a page token of {0} bytes is longer than allowed")]
    PageTokenTooLong(usize),
    /// Too many windows were open at once.
    #[error("{0} windows are open already")]
    TooManyWindows(usize),
    /// The driver could not fetch a page (after its own retries).
    #[error("fetching failed: {0}")]
    Fetch(String),
}

/// What [`Recovery::poll_output`](super::Recovery::poll_output) hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryOutput<R> {
    /// A record for the application.
    Deliver(Delivery<R>),
    /// A page to request; answer with [`Recovery::handle_page`](super::Recovery::handle_page).
    Fetch(Fetch),
    /// Every page of a window arrived.
    Done {
        /// The window.
        window: WindowId,
        /// Records it delivered (not already delivered otherwise).
        recovered: u64,
    },
    /// A window was given up; what it would have recovered may be missing.
    Abandoned {
        /// The window, or `None` when it was never opened.
        window: Option<WindowId>,
        /// Why.
        error: RecoveryError,
    },
}
