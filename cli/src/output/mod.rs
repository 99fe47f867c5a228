//! What `watch` and `trades` print: one line per event, for people
//! ([`human`]) or programs ([`json`]).
//!
//! The formatters take the stream's own [`StreamEvent`]s and a [`Clock`]
//! (the moment of printing), match every kind of event exhaustively, and are
//! pure, so they are unit tested over core's types.

pub(crate) mod human;
pub(crate) mod json;

use std::io::{self, Write};
use std::time::{Instant, SystemTime};

use tickwire_alpaca::Channel;
use tickwire_core::machine::{self, SubscriptionOutcome};
use tickwire_core::{Symbol, Timestamp};
use tickwire_ws::StreamEvent;

use crate::follow::{Sink, SinkError};

#[cfg(doc)]
use tickwire_core::machine::Event;

/// A data message the CLI prints: market data or an account update.
pub(crate) trait Printable: human::HumanData + json::JsonData {}

impl<D: human::HumanData + json::JsonData> Printable for D {}

/// Symbols the server refused: a command's [`SubscriptionOutcome::Rejected`]
/// or an [`Event::Refused`]; both print the same way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rejection<'a> {
    /// The channel of the refused symbols.
    pub(crate) channel: Channel,
    /// The server's code, if it gave one.
    pub(crate) code: Option<u16>,
    /// The server's message, or an explanation.
    pub(crate) message: &'a str,
    /// The refused symbols.
    pub(crate) symbols: &'a [Symbol],
}

impl<'a> Rejection<'a> {
    /// The rejection a verdict on `channel` carries. The other verdicts
    /// print nothing: the subscription set confirmed next shows their effect.
    pub(crate) fn of_verdict(channel: Channel, outcome: &'a SubscriptionOutcome) -> Option<Self> {
        match outcome {
            SubscriptionOutcome::Rejected {
                code,
                message,
                symbols,
            } => Some(Self {
                channel,
                code: *code,
                message,
                symbols,
            }),
            SubscriptionOutcome::Acknowledged
            | SubscriptionOutcome::Superseded
            | SubscriptionOutcome::Abandoned => None,
        }
    }
}

/// The moment of printing, to turn a stream's `Instant`s into wall-clock times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Now, monotonic.
    pub(crate) now: Instant,
    /// Now, wall clock.
    pub(crate) wall: SystemTime,
}

impl Clock {
    /// The current moment.
    pub(crate) fn now() -> Self {
        Self {
            now: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The wall-clock time of an instant (in the past or the future).
    pub(crate) fn wall_time(&self, instant: Instant) -> Timestamp {
        let wall = if instant <= self.now {
            self.wall.checked_sub(self.now - instant)
        } else {
            self.wall.checked_add(instant - self.now)
        };
        Timestamp::from(wall.unwrap_or(self.wall))
    }

    /// The wall-clock times of a gap or a resume: the machine's, or where
    /// it gave none, this clock's reading of the event's `Instant`s.
    pub(crate) fn gap_times<D, C>(&self, event: &machine::Event<D, C>) -> Option<GapTimes> {
        match event {
            machine::Event::Gap {
                since,
                lost_at,
                last_data_at,
                ..
            } => Some(GapTimes {
                lost_at: lost_at.unwrap_or_else(|| self.wall_time(*since)),
                resumed_at: None,
                last_data_at: *last_data_at,
            }),
            machine::Event::Resumed {
                gap_since,
                lost_for,
                lost_at,
                resumed_at,
                last_data_at,
                ..
            } => Some(GapTimes {
                lost_at: lost_at.unwrap_or_else(|| self.wall_time(*gap_since)),
                resumed_at: Some(
                    resumed_at.unwrap_or_else(|| self.wall_time(*gap_since + *lost_for)),
                ),
                last_data_at: *last_data_at,
            }),
            _ => None,
        }
    }
}

/// A gap's wall-clock times, as the output shows them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GapTimes {
    /// When the connection was lost.
    pub(crate) lost_at: Timestamp,
    /// When the stream was live again (`None` for the gap itself).
    pub(crate) resumed_at: Option<Timestamp>,
    /// The own time of the last data message before the loss.
    pub(crate) last_data_at: Option<Timestamp>,
}

/// The output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// The human view.
    Human,
    /// JSON lines.
    Json,
}

/// The most a printer's line buffer keeps between lines: a larger line (a
/// news article's headline) gives its memory back once written.
const LINE_BUFFER_KEEP_BYTES: usize = 64 << 10;

/// Writes lines to stdout (or any writer), one event per line.
///
/// JSON is serialized straight into the writer: a line is never held whole
/// in memory, however large (a 16 MiB article prints as up to six times
/// that). Human lines are short but for a headline; they are formatted in a
/// buffer first.
#[derive(Debug)]
pub(crate) struct Printer<W: Write> {
    style: Style,
    out: W,
    buffer: String,
}

impl<W: Write> Printer<W> {
    /// A printer in `style` writing to `out`.
    pub(crate) fn new(style: Style, out: W) -> Self {
        Self {
            style,
            out,
            buffer: String::with_capacity(256),
        }
    }

    /// Formats and writes the line of one event (buffered until
    /// [`flush`](Self::flush)); nothing for an event that has no line.
    pub(crate) fn print<D: Printable>(
        &mut self,
        event: &StreamEvent<D>,
        clock: &Clock,
    ) -> io::Result<()> {
        if self.style == Style::Json {
            if json::write(event, clock, &mut self.out)? {
                self.out.write_all(b"\n")?;
            }
            return Ok(());
        }
        self.buffer.clear();
        human::format(event, clock, &mut self.buffer);
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.push('\n');
        let written = self.out.write_all(self.buffer.as_bytes());
        if self.buffer.capacity() > LINE_BUFFER_KEEP_BYTES {
            self.buffer = String::with_capacity(256);
        }
        written
    }
}

impl Printer<io::BufWriter<io::StdoutLock<'static>>> {
    /// A printer in `style` on a buffered stdout.
    pub(crate) fn stdout(style: Style) -> Self {
        Self::new(
            style,
            io::BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
        )
    }
}

impl<W: Write, D: Printable> Sink<D> for Printer<W> {
    fn event(&mut self, event: &StreamEvent<D>) -> Result<(), SinkError> {
        self.print(event, &Clock::now()).map_err(stdout_error)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(stdout_error)
    }
}

/// A failed write to stdout: a closed pipe ends the command quietly.
fn stdout_error(error: io::Error) -> SinkError {
    if error.kind() == io::ErrorKind::BrokenPipe {
        SinkError::Closed
    } else {
        SinkError::Failed(format!("cannot write to stdout: {error}"))
    }
}

/// Shared test fixtures: one message of each kind.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::time::{Duration, Instant, SystemTime};

    use tickwire_alpaca::{
        AlpacaMarketData, Channel, Encoding, MarketData, SubscriptionSet, TradeUpdate,
    };
    use tickwire_core::machine::{Event, Machine, MachineConfig, RequestId};
    use tickwire_core::{Credentials, Symbol};
    use tickwire_ws::StreamEvent;

    use super::Clock;

    /// A moment of printing: now, and 2024-01-02T15:04:05Z on the wall clock.
    pub(crate) fn clock() -> Clock {
        Clock {
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_207_845),
        }
    }

    /// The machine's `event`, as a stream delivers it.
    pub(crate) fn machine<D>(event: Event<D, Channel>) -> StreamEvent<D> {
        StreamEvent::Machine(event)
    }

    /// A data event.
    pub(crate) fn data<D>(data: D) -> StreamEvent<D> {
        machine(Event::Data(data))
    }

    /// The event confirming the subscription set of `(channel, symbol)` pairs.
    pub(crate) fn confirmed(pairs: &[(Channel, &str)]) -> StreamEvent<MarketData> {
        let mut set = SubscriptionSet::new();
        for (channel, symbol) in pairs {
            set.insert(*channel, Symbol::new(symbol).expect("valid symbol"));
        }
        machine(Event::Confirmed(set))
    }

    /// A real request id (they are opaque): a machine's first subscribe.
    pub(crate) fn request_id() -> RequestId {
        let config = MachineConfig::new("wss://example.invalid/v2/iex", Credentials::new("k", "s"));
        let mut machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json));
        let symbol = Symbol::new("SPY").expect("valid symbol");
        machine
            .subscribe(Instant::now(), Channel::Quotes, [symbol])
            .expect("the first subscribe is accepted")
    }

    /// Parses a market data message from its wire JSON.
    pub(crate) fn market(json: &str) -> MarketData {
        serde_json::from_str(json).expect("fixture decodes")
    }

    pub(crate) const QUOTE: &str = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;
    pub(crate) const TRADE: &str = r#"{"T":"t","S":"SPY","i":52983525029461,"x":"V","p":470.5,"s":100,"c":["@","I"],"t":"2024-01-02T15:04:05.5Z","z":"B"}"#;
    pub(crate) const BAR: &str = r#"{"T":"b","S":"SPY","o":470.1,"h":471,"l":469.9,"c":470.5,"v":12345,"vw":470.3,"n":87,"t":"2024-01-02T15:04:00Z"}"#;
    pub(crate) const DAILY_BAR: &str = r#"{"T":"d","S":"SPY","o":470.1,"h":471,"l":469.9,"c":470.5,"v":12345,"t":"2024-01-02T05:00:00Z"}"#;
    pub(crate) const UPDATED_BAR: &str = r#"{"T":"u","S":"SPY","o":470.1,"h":471,"l":469.9,"c":470.6,"v":12346,"t":"2024-01-02T15:04:00Z"}"#;
    pub(crate) const CORRECTION: &str = r#"{"T":"c","S":"SPY","x":"V","oi":1,"op":470.5,"os":100,"oc":["@"],"ci":2,"cp":470.4,"cs":100,"cc":["@"],"t":"2024-01-02T15:04:06Z","z":"B"}"#;
    pub(crate) const CANCEL_ERROR: &str = r#"{"T":"x","S":"SPY","i":1,"x":"V","p":470.5,"s":100,"a":"C","t":"2024-01-02T15:04:06Z","z":"B"}"#;
    pub(crate) const STATUS: &str = r#"{"T":"s","S":"SPY","sc":"H","sm":"Trading Halt","rc":"T12","rm":"Trading Halted; For information requested by NASDAQ","t":"2024-01-02T15:04:06Z","z":"B"}"#;
    pub(crate) const LULD: &str =
        r#"{"T":"l","S":"SPY","u":480.2,"d":460.1,"i":"B","t":"2024-01-02T15:04:06Z","z":"B"}"#;
    pub(crate) const IMBALANCE: &str =
        r#"{"T":"i","S":"SPY","p":470.2,"t":"2024-01-02T15:04:06Z","z":"B"}"#;
    pub(crate) const ORDERBOOK: &str = r#"{"T":"o","S":"BTC/USD","b":[{"p":42000.5,"s":0.25},{"p":42000,"s":1}],"a":[{"p":42001,"s":0.5}],"r":true,"t":"2024-01-02T15:04:06Z"}"#;
    pub(crate) const NEWS: &str = r#"{"T":"n","id":24918784,"headline":"Apple shares rise","summary":"","author":"Benzinga","created_at":"2024-01-02T15:04:06Z","updated_at":"2024-01-02T15:04:07Z","content":"","url":"https://example.invalid/news/1","symbols":["AAPL","MSFT"],"source":"benzinga"}"#;

    /// Every data fixture with the `type` its JSON line must carry.
    pub(crate) const ALL: [(&str, &str); 12] = [
        (QUOTE, "quote"),
        (TRADE, "trade"),
        (BAR, "bar"),
        (DAILY_BAR, "daily_bar"),
        (UPDATED_BAR, "updated_bar"),
        (CORRECTION, "correction"),
        (CANCEL_ERROR, "cancel_error"),
        (STATUS, "status"),
        (LULD, "luld"),
        (IMBALANCE, "imbalance"),
        (ORDERBOOK, "orderbook"),
        (NEWS, "news"),
    ];

    /// A fill on the account stream.
    pub(crate) fn fill() -> TradeUpdate {
        serde_json::from_str(
            r#"{"event":"fill","execution_id":"e1","timestamp":"2024-01-02T15:04:05Z","price":"189.1","qty":"10","position_qty":"10",
            "order":{"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","client_order_id":"c1","created_at":"2024-01-02T15:04:00Z","updated_at":"2024-01-02T15:04:05Z","submitted_at":"2024-01-02T15:04:00Z",
            "symbol":"AAPL","qty":"10","filled_qty":"10","filled_avg_price":"189.1","type":"market","side":"buy","time_in_force":"day","status":"filled"}}"#,
        )
        .expect("fixture decodes")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tickwire_alpaca::MarketData;
    use tickwire_core::machine::{Event, State};

    use super::*;

    #[test]
    fn wall_times_follow_the_monotonic_clock() {
        let clock = fixtures::clock();
        let earlier = clock.wall_time(clock.now - Duration::from_millis(1500));
        assert_eq!(earlier.to_string(), "2024-01-02T15:04:03.5Z");
        let later = clock.wall_time(clock.now + Duration::from_secs(2));
        assert_eq!(later.to_string(), "2024-01-02T15:04:07Z");
    }

    #[test]
    fn the_printer_writes_one_line_per_event() {
        let quote = fixtures::data(fixtures::market(fixtures::QUOTE));
        let mut printer = Printer::new(Style::Json, Vec::new());
        let clock = Clock::now();
        printer.print(&quote, &clock).unwrap();
        printer
            .print(
                &fixtures::machine::<MarketData>(Event::StateChanged(State::Closed)),
                &clock,
            )
            .unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }
}
