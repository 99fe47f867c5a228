//! The planner: windows from resumes, pages followed, records merged once.

use std::collections::VecDeque;

use super::memory::DeliveredKeys;
use super::{
    Delivery, Fetch, Page, Recoverable, RecoveryConfig, RecoveryError, RecoveryOutput, Source,
    WindowId,
};
use tickwire_core::Timestamp;
use tickwire_core::machine::Event;

/// Decides what to fetch after each gap and merges it with live records,
/// each key delivered once; sans-I/O, like the machine.
///
/// Inputs: [`handle_event`](Self::handle_event) (or
/// [`handle_resumed`](Self::handle_resumed)) with the stream's events,
/// [`handle_live`](Self::handle_live) with each live record,
/// [`handle_page`](Self::handle_page) or
/// [`handle_fetch_failed`](Self::handle_fetch_failed) for each [`Fetch`].
/// After each input, drain [`poll_output`](Self::poll_output).
///
/// What it keeps: the open windows (at most
/// [`RecoveryConfig::windows_max`], each with the page tokens it followed,
/// at most [`RecoveryConfig::pages_max`]), and the keys delivered, for as
/// long as an open window reaches back to them or they are within
/// [`RecoveryConfig::keep_for`] of the newest live record (at most
/// [`RecoveryConfig::keys_max`]). Pages of a window that is closed are
/// ignored.
///
/// ```
/// use std::time::Duration;
/// use tickwire_core::Timestamp;
/// use tickwire_recovery::{Page, Recoverable, Recovery, RecoveryConfig, RecoveryOutput, Source};
/// #[derive(Debug, Clone, PartialEq)]
/// struct Trade { id: u64, at: Timestamp }
/// impl Recoverable for Trade {
///     type Key = u64;
///     fn key(&self) -> u64 { self.id }
///     fn timestamp(&self) -> Timestamp { self.at }
/// }
/// let t = |s: i64| Timestamp::from_unix_nanos(s * 1_000_000_000);
/// let mut recovery = Recovery::new(RecoveryConfig::default());
/// recovery.handle_live(Trade { id: 1, at: t(100) });
/// // Lost at 101 after trade 1, live again at 110: fetch from trade 1's time.
/// recovery.handle_resumed(Some(t(101)), Some(t(110)), Some(t(100)));
/// recovery.handle_live(Trade { id: 4, at: t(110) });
/// let mut fetch = None;
/// while let Some(output) = recovery.poll_output() {
///     if let RecoveryOutput::Fetch(f) = output { fetch = Some(f) }
/// }
/// let fetch = fetch.expect("a window to fetch");
/// assert_eq!(fetch.from, t(98)); // less the 2 s margin
/// let records = [(1, 100), (2, 103), (3, 106), (4, 110)]
///     .map(|(id, at)| Trade { id, at: t(at) })
///     .to_vec();
/// recovery.handle_page(&fetch, Page { records, next_page_token: None });
/// let recovered: Vec<u64> = std::iter::from_fn(|| recovery.poll_output())
///     .filter_map(|o| match o {
///         RecoveryOutput::Deliver(d) if d.source != Source::Live => Some(d.record.id),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(recovered, [2, 3]); // 1 and 4 came live
/// ```
#[derive(Debug)]
pub struct Recovery<R: Recoverable> {
    config: RecoveryConfig,
    windows: Vec<Window>,
    next_window: u64,
    delivered: DeliveredKeys<R::Key>,
    newest_live: Option<Timestamp>,
    /// Between a gap and its resume: how far back the coming window will
    /// reach (live records may arrive meanwhile, before the stream is live
    /// again, and must not push its keys out).
    gap_reach: Option<Timestamp>,
    /// The end of the latest window opened: what the stream is known to
    /// have caught up to, where a gap without any data message starts.
    caught_up_to: Option<Timestamp>,
    outputs: VecDeque<RecoveryOutput<R>>,
}

/// A window being fetched, one page at a time.
#[derive(Debug)]
struct Window {
    id: WindowId,
    from: Timestamp,
    to: Timestamp,
    /// The oldest time its pages named (at most `from`): its keys are kept
    /// back to here while it is open, so a repeated page finds them.
    reach: Timestamp,
    /// The token of the page awaited (`None`: the first).
    awaiting: Option<String>,
    /// Every token followed so far.
    followed: Vec<String>,
    pages: u32,
    recovered: u64,
}

impl<R: Recoverable> Recovery<R> {
    /// A planner with nothing open.
    pub fn new(config: RecoveryConfig) -> Self {
        Self {
            config,
            windows: Vec::new(),
            next_window: 0,
            delivered: DeliveredKeys::default(),
            newest_live: None,
            gap_reach: None,
            caught_up_to: None,
            outputs: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// Windows being fetched.
    pub fn open_windows(&self) -> usize {
        self.windows.len()
    }

    /// Delivered keys remembered for deduplication.
    pub fn remembered_keys(&self) -> usize {
        self.delivered.len()
    }

    // ---- outputs ----

    /// The next record to deliver, page to fetch, or window settled.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<RecoveryOutput<R>> {
        self.outputs.pop_front()
    }

    // ---- inputs ----

    /// A stream event: each [`Event::Resumed`] opens a window; an
    /// [`Event::Gap`] keeps the keys that window will reach back to; the
    /// others change nothing.
    pub fn handle_event<D, C>(&mut self, event: &Event<D, C>) {
        match event {
            Event::Gap {
                lost_at,
                last_data_at,
                ..
            } => self.handle_gap(*lost_at, *last_data_at),
            Event::Resumed {
                lost_at,
                resumed_at,
                last_data_at,
                ..
            } => self.handle_resumed(*lost_at, *resumed_at, *last_data_at),
            _ => {}
        }
    }

    /// The stream lost its connection: until the resume, keys are kept back
    /// to where its window will start (the last data message before the
    /// loss, else the loss, less the margin), however much live data
    /// arrives meanwhile.
    pub fn handle_gap(&mut self, lost_at: Option<Timestamp>, last_data_at: Option<Timestamp>) {
        let Some(start) = self.start_of(lost_at, last_data_at) else {
            return;
        };
        let reach = start.saturating_add_nanos(-(self.config.margin.as_nanos() as i128));
        self.gap_reach = Some(self.gap_reach.map_or(reach, |r| r.min(reach)));
    }

    /// The stream is live again: opens a window from the last data message
    /// before the gap (else the loss) to the resume, each widened by the
    /// margin, and asks for its first page.
    ///
    /// A server clock ahead of ours (the last message stamped after the
    /// loss) widens the end by as much.
    pub fn handle_resumed(
        &mut self,
        lost_at: Option<Timestamp>,
        resumed_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) {
        self.gap_reach = None;
        let start = self.start_of(lost_at, last_data_at);
        let (Some(start), Some(resumed_at)) = (start, resumed_at) else {
            return self.abandon_unopened(RecoveryError::NoWallClock);
        };
        self.caught_up_to = Some(resumed_at);
        if self.windows.len() >= self.config.windows_max {
            return self.abandon_unopened(RecoveryError::TooManyWindows(self.windows.len()));
        }
        let margin = self.config.margin.as_nanos() as i128;
        let server_ahead = match (last_data_at, lost_at) {
            (Some(last), Some(lost)) => (last.unix_nanos() - lost.unix_nanos()).max(0),
            _ => 0,
        };
        let from = start.saturating_add_nanos(-margin);
        let to = resumed_at
            .max(start)
            .saturating_add_nanos(margin + server_ahead);
        self.next_window += 1;
        let id = WindowId(self.next_window);
        tracing::debug!(%id, %from, %to, "recovery window opened");
        self.windows.push(Window {
            id,
            from,
            to,
            reach: from,
            awaiting: None,
            followed: Vec::new(),
            pages: 0,
            recovered: 0,
        });
        self.outputs.push_back(RecoveryOutput::Fetch(Fetch {
            window: id,
            from,
            to,
            page_token: None,
        }));
    }

    /// A live record: delivered at once unless its key was delivered already.
    pub fn handle_live(&mut self, record: R) {
        let at = record.timestamp();
        self.newest_live = Some(self.newest_live.map_or(at, |newest| newest.max(at)));
        if self.delivered.insert(record.key(), at) {
            self.outputs.push_back(RecoveryOutput::Deliver(Delivery {
                record,
                source: Source::Live,
            }));
        }
        self.forget();
    }

    /// The page answering `fetch`: its records not delivered yet are
    /// delivered (oldest first), then the next page is asked for, or the
    /// window is done. A repeated answer delivers nothing twice and asks
    /// for nothing again.
    pub fn handle_page(&mut self, fetch: &Fetch, page: Page<R>) {
        let Some(index) = self.windows.iter().position(|w| w.id == fetch.window) else {
            tracing::debug!(window = %fetch.window, "page of a closed window ignored");
            return;
        };
        let mut records = page.records;
        records.sort_by_cached_key(|r| (r.timestamp(), r.key()));
        if let Some(oldest) = records.first() {
            let reach = &mut self.windows[index].reach;
            *reach = (*reach).min(oldest.timestamp());
        }
        let mut recovered = 0;
        for record in records {
            if self.delivered.insert(record.key(), record.timestamp()) {
                recovered += 1;
                self.outputs.push_back(RecoveryOutput::Deliver(Delivery {
                    record,
                    source: Source::Recovered(fetch.window),
                }));
            }
        }
        let window = &mut self.windows[index];
        window.recovered += recovered;
        if window.awaiting != fetch.page_token {
            return self.forget();
        }
        window.pages += 1;
        let outcome = match page.next_page_token {
            None => Ok(None),
            Some(token) if token.len() > self.config.page_token_bytes_max => {
                Err(RecoveryError::PageTokenTooLong(token.len()))
            }
            Some(token) if window.followed.contains(&token) => {
                Err(RecoveryError::RepeatedPageToken(token))
            }
            Some(_) if window.pages >= self.config.pages_max => {
                Err(RecoveryError::TooManyPages(self.config.pages_max))
            }
            Some(token) => Ok(Some(token)),
        };
        match outcome {
            Ok(Some(token)) => {
                window.followed.push(token.clone());
                window.awaiting = Some(token.clone());
                let fetch = Fetch {
                    window: window.id,
                    from: window.from,
                    to: window.to,
                    page_token: Some(token),
                };
                self.outputs.push_back(RecoveryOutput::Fetch(fetch));
            }
            Ok(None) => {
                let window = self.windows.remove(index);
                tracing::debug!(id = %window.id, recovered = window.recovered, "recovery window done");
                self.outputs.push_back(RecoveryOutput::Done {
                    window: window.id,
                    recovered: window.recovered,
                });
            }
            Err(error) => self.abandon(index, error),
        }
        self.forget();
    }

    /// The driver gave up fetching a page of `fetch`'s window (after its
    /// own retries): the window is abandoned.
    pub fn handle_fetch_failed(&mut self, fetch: &Fetch, reason: impl Into<String>) {
        if let Some(index) = self.windows.iter().position(|w| w.id == fetch.window) {
            self.abandon(index, RecoveryError::Fetch(reason.into()));
            self.forget();
        }
    }

    // ---- internals ----

    /// Where a gap's window starts: its last data message; without one
    /// (none yet, or none the stream ever stamped), where the latest window
    /// ended, since a loss may be noticed long after the connection went
    /// quiet (a hang is found by the ping's timeout); else the loss.
    fn start_of(
        &self,
        lost_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) -> Option<Timestamp> {
        let quiet_since = match (self.caught_up_to, lost_at) {
            (Some(caught_up), Some(lost)) => Some(caught_up.min(lost)),
            (caught_up, lost) => caught_up.or(lost),
        };
        last_data_at.or(quiet_since)
    }

    fn abandon(&mut self, index: usize, error: RecoveryError) {
        let window = self.windows.remove(index);
        tracing::warn!(id = %window.id, %error, "recovery window abandoned");
        self.outputs.push_back(RecoveryOutput::Abandoned {
            window: Some(window.id),
            error,
        });
    }

    fn abandon_unopened(&mut self, error: RecoveryError) {
        tracing::warn!(%error, "no recovery window opened");
        self.outputs.push_back(RecoveryOutput::Abandoned {
            window: None,
            error,
        });
    }

    /// Forgets keys that no open window (nor the window of a gap not yet
    /// resumed) reaches back to and that are older than `keep_for` behind
    /// the newest live record.
    fn forget(&mut self) {
        let keep_for = self.config.keep_for.max(self.config.margin).as_nanos() as i128;
        let tail = self
            .newest_live
            .map(|newest| newest.saturating_add_nanos(-keep_for));
        let horizon = self
            .windows
            .iter()
            .map(|w| w.reach)
            .chain(self.gap_reach)
            .chain(tail)
            .min();
        self.delivered.forget(horizon, self.config.keys_max);
    }
}
