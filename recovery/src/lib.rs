//! tickwire-recovery: what a stream missed, fetched again; the sans-I/O
//! recovery planner.
//!
//! [`Recovery`] decides, from a stream's [`Event::Resumed`](tickwire_core::machine::Event::Resumed)
//! (with its wall-clock times), which window of history to fetch from a
//! vendor's REST API, follows the pages of each window, and merges the
//! fetched records with the live ones: each record (by its
//! [`Recoverable::key`]) is delivered once, live records at once (a fetch
//! never holds the live stream back), fetched ones marked
//! [`Source::Recovered`]. It performs no request itself: a driver turns each
//! [`Fetch`] into a request (orders changed after `from`; trades or bars of
//! the subscribed symbols in `[from, to]`) and hands the page back.
//!
//! Like the machine it reads no clock and names no vendor: records say what
//! they are through [`Recoverable`].

mod config;
mod memory;
mod output;
mod planner;
mod retry;

pub use config::RecoveryConfig;
pub use output::{Delivery, Fetch, Page, RecoveryError, RecoveryOutput, Source, WindowId};
pub use planner::Recovery;
pub use retry::{Attempt, FETCH_ATTEMPTS_MAX_DEFAULT, FetchRetry, Retry};

use std::fmt;

use tickwire_core::Timestamp;

/// A record that can arrive both live and from a fetch: its identity and
/// its own time.
///
/// The key names one thing the application must see once: a trade by
/// (symbol, trade id), a bar by (symbol, start time), an order's state by
/// (order id, status).
///
/// ```
/// use tickwire_core::Timestamp;
/// use tickwire_recovery::Recoverable;
/// struct Trade { symbol: String, id: u64, at: Timestamp }
/// impl Recoverable for Trade {
///     type Key = (String, u64);
///     fn key(&self) -> Self::Key { (self.symbol.clone(), self.id) }
///     fn timestamp(&self) -> Timestamp { self.at }
/// }
/// ```
pub trait Recoverable {
    /// What identifies the record across sources.
    type Key: Ord + Clone + fmt::Debug;

    /// The record's identity.
    fn key(&self) -> Self::Key;

    /// The record's own time (when the server made it).
    fn timestamp(&self) -> Timestamp;
}
