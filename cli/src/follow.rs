//! Following a stream: hand its events to a [`Sink`] (printed lines, the
//! board, a recording) until a limit, Ctrl-C, SIGTERM, a quit request or a
//! fatal verdict, then shut it down cleanly.
//!
//! Shared by `watch`, `trades` and `record`; the stream kind only changes the
//! data type, the sink what becomes of each event.

use std::future::Future;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use tickwire_core::machine::{Event, State};
use tickwire_ws::{StreamEvent, StreamHandle};
use tokio::time::Instant;

use crate::error::CliError;
use crate::target::Limits;

/// Most events printed before the output is flushed.
const BATCH_EVENTS_MAX: usize = 1024;

/// How often the sink is flushed when no event comes (a recording's time
/// bound holds on a quiet stream too).
const IDLE_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// What ended a follow that went well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `--count` data events were printed.
    Count,
    /// `--duration` passed.
    Duration,
    /// Ctrl-C.
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// The user asked to quit (`q` on the board).
    Quit,
    /// Stdout was closed (e.g. piped into `head`).
    OutputClosed,
}

/// Why a [`Sink`] cannot take more events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkError {
    /// The reader went away (e.g. stdout piped into `head`): stop quietly.
    Closed,
    /// Writing failed; the message says what and where.
    Failed(String),
}

/// Where the events of a followed stream go.
pub(crate) trait Sink<T> {
    /// Takes one event (it may be buffered until [`flush`](Self::flush)).
    ///
    /// # Errors
    /// [`SinkError`] when the events cannot be written; following stops.
    fn event(&mut self, event: &StreamEvent<T>) -> Result<(), SinkError>;

    /// Writes out what is buffered; called after each run of ready events.
    ///
    /// # Errors
    /// As for [`event`](Self::event).
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// Hands `events` to `sink` until a limit, Ctrl-C, SIGTERM, `quit`, a fatal
/// error or the stream's end, then flushes the sink and shuts the stream down.
///
/// # Errors
/// [`CliError::Fatal`] on a fatal server verdict, [`CliError::Runtime`] when
/// the endpoint cannot be reached (the stream gave up, by the library's
/// [`connect_attempts_max`](tickwire_core::machine::MachineConfig::connect_attempts_max)),
/// the stream ends unexpectedly or the sink fails.
pub(crate) async fn follow<T, S, K>(
    handle: &StreamHandle,
    events: &mut S,
    sink: &mut K,
    limits: Limits,
    endpoint: &str,
    quit: impl Future<Output = ()>,
) -> Result<Stop, CliError>
where
    S: Stream<Item = StreamEvent<T>> + Unpin,
    K: Sink<T>,
{
    let mut tracker = Tracker::new(limits.count, endpoint);
    let deadline = limits.duration.map(|d| Instant::now() + d);
    let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(far_future));
    tokio::pin!(sleep);
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let terminate = terminated();
    tokio::pin!(terminate);
    tokio::pin!(quit);
    let mut idle_flush = tokio::time::interval(IDLE_FLUSH_INTERVAL);
    idle_flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let outcome = loop {
        let first = tokio::select! {
            biased;
            _ = &mut interrupt => break Ok(Stop::Interrupted),
            () = &mut terminate => break Ok(Stop::Terminated),
            () = &mut quit => break Ok(Stop::Quit),
            () = &mut sleep, if deadline.is_some() => break Ok(Stop::Duration),
            event = events.next() => event,
            _ = idle_flush.tick() => {
                if let Err(error) = sink.flush() {
                    break sink_error(error);
                }
                continue;
            }
        };
        let Some(first) = first else {
            break Err(ended(handle, endpoint));
        };
        // Print this event and whatever else is ready, then flush once.
        let mut next = Some(first);
        let mut verdict = None;
        let mut printed = 0;
        while let Some(event) = next.take() {
            if let Some(done) = tracker.handle(&event, sink) {
                verdict = Some(done);
                break;
            }
            printed += 1;
            if printed < BATCH_EVENTS_MAX {
                next = events.next().now_or_never().flatten();
            }
        }
        if let Err(error) = sink.flush() {
            verdict.get_or_insert(sink_error(error));
        }
        if let Some(verdict) = verdict {
            break verdict;
        }
    };
    let outcome = match (sink.flush(), outcome) {
        (Err(SinkError::Failed(message)), Ok(_)) => Err(CliError::runtime(message)),
        (_, outcome) => outcome,
    };
    if let Err(error) = tokio::time::timeout(Duration::from_secs(6), handle.shutdown()).await {
        tracing::warn!("shutdown did not finish: {error}");
    }
    outcome
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Resolves on SIGTERM (never where there is no such signal, or when it
/// cannot be watched: then the default action, ending the process, stays).
pub(crate) async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut signal) = signal(SignalKind::terminate()) {
            signal.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

fn sink_error(error: SinkError) -> Result<Stop, CliError> {
    match error {
        SinkError::Closed => Ok(Stop::OutputClosed),
        SinkError::Failed(message) => Err(CliError::runtime(message)),
    }
}

/// The stream's events ended without a fatal error event.
fn ended(handle: &StreamHandle, endpoint: &str) -> CliError {
    match handle.state() {
        State::Failed { error } => CliError::stream_failed(&error, endpoint),
        _ => CliError::runtime("the stream stopped unexpectedly"),
    }
}

/// Counts data lines while printing.
#[derive(Debug)]
struct Tracker<'e> {
    count_max: Option<u64>,
    data_printed: u64,
    /// Named by the error when the stream gives up.
    endpoint: &'e str,
}

impl<'e> Tracker<'e> {
    fn new(count_max: Option<u64>, endpoint: &'e str) -> Self {
        Self {
            count_max,
            data_printed: 0,
            endpoint,
        }
    }

    /// Hands one event to the sink; `Some` when following must stop.
    fn handle<T, K: Sink<T>>(
        &mut self,
        event: &StreamEvent<T>,
        sink: &mut K,
    ) -> Option<Result<Stop, CliError>> {
        let written = sink.event(event);
        match event {
            StreamEvent::Machine(Event::Data(_))
            | StreamEvent::Recovered(_)
            | StreamEvent::Snapshot(_) => {
                self.data_printed += 1;
            }
            StreamEvent::Machine(Event::Error { error, fatal: true }) => {
                return Some(Err(CliError::stream_failed(error, self.endpoint)));
            }
            StreamEvent::Machine(
                Event::StateChanged(_)
                | Event::Error { fatal: false, .. }
                | Event::Subscription { .. }
                | Event::Confirmed(_)
                | Event::Refused { .. }
                | Event::Gap { .. }
                | Event::Resumed { .. }
                | Event::Unknown { .. },
            )
            | StreamEvent::Dropped { .. }
            | StreamEvent::RecoveryFailed { .. } => {}
        }
        if let Err(error) = written {
            return Some(sink_error(error));
        }
        if self.count_max.is_some_and(|max| self.data_printed >= max) {
            return Some(Ok(Stop::Count));
        }
        None
    }
}
