//! What every board shows besides its rows: the connection's health, the
//! last lifecycle lines, and the small clocks (rates, flashes) rows use.
//!
//! Plain code over `Instant`s passed in, unit tested without a terminal.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tickwire_core::machine::{Event, State};
use tickwire_ws::StreamEvent;

use crate::output::Clock;
use crate::output::human::{self, HumanData};

/// How long a rate is counted before it is shown (and counted anew).
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(1);

/// How long a changed price stays highlighted.
pub(crate) const FLASH_FOR: Duration = Duration::from_millis(600);

/// Lifecycle lines kept for the event pane.
pub(crate) const EVENT_LINES_MAX: usize = 5;

/// Events per second, counted over [`RATE_WINDOW`] and shown for the last
/// complete window.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateMeter {
    window_start: Option<Instant>,
    count: u64,
    rate: f64,
}

impl RateMeter {
    /// Counts one event.
    pub(crate) fn count(&mut self) {
        self.count += 1;
    }

    /// The rate of the last complete window; starts a new window when the
    /// current one is over.
    pub(crate) fn rate(&mut self, now: Instant) -> f64 {
        match self.window_start {
            None => {
                self.window_start = Some(now);
            }
            Some(start) => {
                let elapsed = now.saturating_duration_since(start);
                if elapsed >= RATE_WINDOW {
                    #[allow(clippy::cast_precision_loss)]
                    let rate = self.count as f64 / elapsed.as_secs_f64();
                    self.rate = rate;
                    self.count = 0;
                    self.window_start = Some(now);
                }
            }
        }
        self.rate
    }
}

/// Which way a value moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// It went up (shown green).
    Up,
    /// It went down (shown red).
    Down,
}

/// A value that remembers when and which way it last changed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flashing {
    value: Option<f64>,
    changed: Option<(Direction, Instant)>,
}

impl Flashing {
    /// Sets the value; a change from a previous value starts a flash.
    pub(crate) fn set(&mut self, value: f64, now: Instant) {
        if let Some(old) = self.value {
            if value > old {
                self.changed = Some((Direction::Up, now));
            } else if value < old {
                self.changed = Some((Direction::Down, now));
            }
        }
        self.value = Some(value);
    }

    /// The value, if any was set.
    pub(crate) fn value(&self) -> Option<f64> {
        self.value
    }

    /// The direction of a change less than [`FLASH_FOR`] ago.
    pub(crate) fn flash(&self, now: Instant) -> Option<Direction> {
        let (direction, at) = self.changed?;
        (now.saturating_duration_since(at) < FLASH_FOR).then_some(direction)
    }
}

/// The connection's health, as the board's header shows it.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    state: &'static str,
    connection: u64,
    messages: u64,
    rate: RateMeter,
    gaps: u64,
    dropped: u64,
    last_message_at: Option<Instant>,
    events: VecDeque<String>,
}

/// The header and event pane at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HealthSnapshot {
    /// The state's name (`live`, `connecting`…).
    pub(crate) state: &'static str,
    /// The current or last connection's number (0: none yet).
    pub(crate) connection: u64,
    /// Data messages per second.
    pub(crate) messages_per_second: f64,
    /// Data messages in all.
    pub(crate) messages: u64,
    /// Gaps (live lost) so far.
    pub(crate) gaps: u64,
    /// Data events dropped by the slow-consumer policy so far.
    pub(crate) dropped: u64,
    /// Time since the last data message, if there was one.
    pub(crate) since_last_message: Option<Duration>,
    /// The last lifecycle lines (`*`/`!`), oldest first.
    pub(crate) events: Vec<String>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: State::Idle.name(),
            connection: 0,
            messages: 0,
            rate: RateMeter::default(),
            gaps: 0,
            dropped: 0,
            last_message_at: None,
            events: VecDeque::with_capacity(EVENT_LINES_MAX + 1),
        }
    }
}

impl Health {
    /// Takes one event: counts data, follows the state, keeps lifecycle lines.
    pub(crate) fn apply<D: HumanData>(&mut self, event: &StreamEvent<D>, clock: &Clock) {
        match event {
            StreamEvent::Machine(Event::Data(_)) => {
                self.messages += 1;
                self.rate.count();
                self.last_message_at = Some(clock.now);
                return;
            }
            StreamEvent::Machine(Event::StateChanged(state)) => {
                self.state = state.name();
                if let State::Connecting { epoch, .. } | State::Live { epoch, .. } = state {
                    self.connection = epoch.get();
                }
            }
            StreamEvent::Machine(Event::Gap { .. }) => self.gaps += 1,
            StreamEvent::Dropped { total, .. } => self.dropped = *total,
            // Counted, but not as live traffic; its pane shows it.
            StreamEvent::Recovered(_) | StreamEvent::Snapshot(_) => {
                self.messages += 1;
                return;
            }
            StreamEvent::Machine(_) | StreamEvent::RecoveryFailed { .. } => {}
        }
        let mut line = String::new();
        human::format(event, clock, &mut line);
        if !line.is_empty() {
            self.note(line);
        }
    }

    /// Adds a line of the command's own to the event pane.
    pub(crate) fn note(&mut self, line: String) {
        if self.events.len() == EVENT_LINES_MAX {
            self.events.pop_front();
        }
        self.events.push_back(line);
    }

    /// The header and event pane now.
    pub(crate) fn snapshot(&mut self, now: Instant) -> HealthSnapshot {
        HealthSnapshot {
            state: self.state,
            connection: self.connection,
            messages_per_second: self.rate.rate(now),
            messages: self.messages,
            gaps: self.gaps,
            dropped: self.dropped,
            since_last_message: self
                .last_message_at
                .map(|at| now.saturating_duration_since(at)),
            events: self.events.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tickwire_alpaca::MarketData;

    use super::*;
    use crate::output::fixtures::{self, clock, data, machine};

    #[test]
    fn rates_count_over_a_window() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        assert_eq!(meter.rate(start), 0.0);
        for _ in 0..50 {
            meter.count();
        }
        assert_eq!(meter.rate(start + Duration::from_millis(500)), 0.0);
        assert_eq!(meter.rate(start + Duration::from_secs(2)), 25.0);
        // The next window starts empty; the last rate stays until it ends.
        meter.count();
        assert_eq!(meter.rate(start + Duration::from_millis(2500)), 25.0);
        assert_eq!(meter.rate(start + Duration::from_secs(3)), 1.0);
    }

    #[test]
    fn changes_flash_for_a_while() {
        let start = Instant::now();
        let mut price = Flashing::default();
        price.set(10.0, start);
        assert_eq!(price.flash(start), None, "a first value is no change");
        price.set(10.5, start);
        assert_eq!(price.flash(start), Some(Direction::Up));
        assert_eq!(price.flash(start + FLASH_FOR), None);
        let later = start + Duration::from_secs(5);
        price.set(10.5, later);
        assert_eq!(price.flash(later), None, "the same value is no change");
        price.set(9.0, later);
        assert_eq!(price.flash(later), Some(Direction::Down));
        assert_eq!(price.value(), Some(9.0));
    }

    #[test]
    fn health_follows_the_stream() {
        let clock = clock();
        let mut health = Health::default();
        let quote = data(fixtures::market(fixtures::QUOTE));
        health.apply(&quote, &clock);
        health.apply(&quote, &clock);
        health.apply(
            &machine::<MarketData>(Event::Gap {
                epoch: Default::default(),
                since: clock.now,
                lost_at: None,
                last_data_at: None,
            }),
            &clock,
        );
        health.apply(
            &StreamEvent::<MarketData>::Dropped { count: 2, total: 9 },
            &clock,
        );
        health.apply(
            &machine::<MarketData>(Event::StateChanged(State::Closed)),
            &clock,
        );
        let snapshot = health.snapshot(clock.now + Duration::from_millis(300));
        assert_eq!(snapshot.state, "closed");
        assert_eq!(snapshot.messages, 2);
        assert_eq!((snapshot.gaps, snapshot.dropped), (1, 9));
        assert_eq!(
            snapshot.since_last_message,
            Some(Duration::from_millis(300))
        );
        assert_eq!(snapshot.events.len(), 3, "{:?}", snapshot.events);
        assert!(snapshot.events[0].starts_with("! gap"));
        assert_eq!(snapshot.events[2], "* state: closed");
    }

    #[test]
    fn the_event_pane_keeps_the_last_lines() {
        let mut health = Health::default();
        for i in 0..EVENT_LINES_MAX + 3 {
            health.note(format!("* line {i}"));
        }
        let events = health.snapshot(Instant::now()).events;
        assert_eq!(events.len(), EVENT_LINES_MAX);
        assert_eq!(events[0], "* line 3");
        assert_eq!(events[EVENT_LINES_MAX - 1], "* line 7");
    }
}
