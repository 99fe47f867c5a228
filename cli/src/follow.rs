//! Following a stream: print its events until a limit, Ctrl-C or a fatal
//! verdict, then shut it down cleanly.
//!
//! Shared by `watch` and `trades`; the stream kind only changes the data
//! type, which the [`output`](crate::output) formatters know how to print.

use std::io::{self, Write};
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use tickwire_core::machine::{Event, State, StreamError};
use tickwire_ws::{StreamEvent, StreamHandle};
use tokio::time::Instant;

use crate::error::CliError;
use crate::output::{Clock, Printable, Printer, Style};
use crate::target::Limits;

/// Errors in a row, before the stream was ever live, after which the
/// endpoint is declared unreachable (exit code 1) instead of retried forever.
const FAILURES_BEFORE_LIVE_MAX: u32 = 3;

/// Most events printed before the output is flushed.
const BATCH_EVENTS_MAX: usize = 1024;

/// What ended a follow that went well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `--count` data events were printed.
    Count,
    /// `--duration` passed.
    Duration,
    /// Ctrl-C.
    Interrupted,
    /// Stdout was closed (e.g. piped into `head`).
    OutputClosed,
}

/// Prints `events` until a limit, Ctrl-C, a fatal error or the stream's end,
/// then shuts the stream down.
///
/// # Errors
/// [`CliError::Fatal`] on a fatal server verdict, [`CliError::Runtime`] when
/// the endpoint cannot be reached or the stream ends unexpectedly.
pub(crate) async fn follow<T: Printable, S>(
    handle: &StreamHandle,
    events: &mut S,
    limits: Limits,
    json: bool,
    endpoint: &str,
) -> Result<Stop, CliError>
where
    S: Stream<Item = StreamEvent<T>> + Unpin,
{
    let style = if json { Style::Json } else { Style::Human };
    let mut printer = Printer::new(
        style,
        io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
    );
    let mut tracker = Tracker::new(limits.count);
    let deadline = limits.duration.map(|d| Instant::now() + d);
    let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(far_future));
    tokio::pin!(sleep);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);

    let outcome = loop {
        let first = tokio::select! {
            biased;
            _ = &mut interrupt => break Ok(Stop::Interrupted),
            () = &mut sleep, if deadline.is_some() => break Ok(Stop::Duration),
            event = events.next() => event,
        };
        let Some(first) = first else {
            break Err(ended(handle));
        };
        // Print this event and whatever else is ready, then flush once.
        let mut next = Some(first);
        let mut verdict = None;
        let mut printed = 0;
        while let Some(event) = next.take() {
            if let Some(done) = tracker.handle(&event, &mut printer) {
                verdict = Some(done);
                break;
            }
            printed += 1;
            if printed < BATCH_EVENTS_MAX {
                next = events.next().now_or_never().flatten();
            }
        }
        if let Err(error) = printer.flush() {
            verdict.get_or_insert(output_error(&error));
        }
        if let Some(verdict) = verdict {
            break verdict;
        }
        if tracker.unreachable() {
            break Err(CliError::runtime(format!(
                "cannot connect to {endpoint}: {} (gave up after {FAILURES_BEFORE_LIVE_MAX} attempts)",
                tracker.last_error.as_deref().unwrap_or("no answer")
            )));
        }
    };
    let _ = printer.flush();
    drop(printer);
    if let Err(error) = tokio::time::timeout(Duration::from_secs(6), handle.shutdown()).await {
        tracing::warn!("shutdown did not finish: {error}");
    }
    outcome
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

fn output_error(error: &io::Error) -> Result<Stop, CliError> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(Stop::OutputClosed)
    } else {
        Err(CliError::runtime(format!(
            "cannot write to stdout: {error}"
        )))
    }
}

/// The stream's events ended without a fatal error event.
fn ended(handle: &StreamHandle) -> CliError {
    match handle.state() {
        State::Failed { error } => CliError::fatal(&error),
        _ => CliError::runtime("the stream stopped unexpectedly"),
    }
}

/// Counts data lines and connection failures while printing.
#[derive(Debug)]
struct Tracker {
    count_max: Option<u64>,
    data_printed: u64,
    ever_live: bool,
    failures_before_live: u32,
    last_error: Option<String>,
}

impl Tracker {
    fn new(count_max: Option<u64>) -> Self {
        Self {
            count_max,
            data_printed: 0,
            ever_live: false,
            failures_before_live: 0,
            last_error: None,
        }
    }

    fn unreachable(&self) -> bool {
        !self.ever_live && self.failures_before_live >= FAILURES_BEFORE_LIVE_MAX
    }

    /// Prints one event; `Some` when following must stop.
    fn handle<T: Printable, W: Write>(
        &mut self,
        event: &StreamEvent<T>,
        printer: &mut Printer<W>,
    ) -> Option<Result<Stop, CliError>> {
        let written = printer.print(event, &Clock::now());
        match event {
            StreamEvent::Machine(Event::Data(_)) => self.data_printed += 1,
            StreamEvent::Machine(Event::StateChanged(state)) => {
                if state.is_live() {
                    self.ever_live = true;
                }
            }
            StreamEvent::Machine(Event::Error { error, fatal: true }) => {
                return Some(Err(CliError::fatal(error)));
            }
            StreamEvent::Machine(Event::Error {
                error,
                fatal: false,
            }) => self.note_failure(error),
            StreamEvent::Machine(
                Event::Subscription { .. }
                | Event::Confirmed(_)
                | Event::Refused { .. }
                | Event::Gap { .. }
                | Event::Resumed { .. }
                | Event::Unknown { .. },
            )
            | StreamEvent::Dropped { .. } => {}
        }
        if let Err(error) = written {
            return Some(output_error(&error));
        }
        if self.count_max.is_some_and(|max| self.data_printed >= max) {
            return Some(Ok(Stop::Count));
        }
        None
    }

    fn note_failure(&mut self, error: &StreamError) {
        if !self.ever_live && !matches!(error, StreamError::Malformed(_)) {
            self.failures_before_live += 1;
            self.last_error = Some(error.to_string());
        }
    }
}
