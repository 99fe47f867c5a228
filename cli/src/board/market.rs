//! The quote board's state: one row per symbol with its best bid and ask,
//! last trade, volume seen and update rate, updated by the stream's events.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use compact_str::CompactString;
use tickwire_alpaca::MarketData;
use tickwire_core::Symbol;
use tickwire_ws::StreamEvent;

use super::state::{Direction, Flashing, Health, HealthSnapshot, RateMeter};
use crate::output::Clock;

/// The orders the rows can be sorted in; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MarketSort {
    /// By symbol, A to Z.
    #[default]
    Symbol,
    /// Busiest first (updates per second).
    Rate,
    /// Most volume seen first.
    Volume,
    /// Most recently updated first.
    Recent,
}

impl MarketSort {
    /// The next order in the cycle.
    pub(crate) const fn next(self) -> Self {
        match self {
            Self::Symbol => Self::Rate,
            Self::Rate => Self::Volume,
            Self::Volume => Self::Recent,
            Self::Recent => Self::Symbol,
        }
    }

    /// Its name, for the footer.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Symbol => "symbol",
            Self::Rate => "updates/s",
            Self::Volume => "volume",
            Self::Recent => "most recent",
        }
    }
}

/// One symbol's row as it is being updated.
#[derive(Debug, Clone, Default)]
struct Row {
    bid: Flashing,
    bid_size: f64,
    ask: Flashing,
    ask_size: f64,
    last: Flashing,
    last_size: f64,
    last_exchange: Option<CompactString>,
    volume: f64,
    rate: RateMeter,
    updated_at: Option<Instant>,
}

/// The quote board: what `watch` shows on a terminal.
#[derive(Debug, Clone)]
pub(crate) struct MarketBoard {
    feed: String,
    health: Health,
    rows: HashMap<Symbol, Row>,
    sort: MarketSort,
}

/// One row at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowSnapshot {
    /// The symbol.
    pub(crate) symbol: Symbol,
    /// Best bid price and size.
    pub(crate) bid: Option<(f64, f64)>,
    /// Best ask price and size.
    pub(crate) ask: Option<(f64, f64)>,
    /// Ask minus bid.
    pub(crate) spread: Option<f64>,
    /// Last trade: price, size and exchange.
    pub(crate) last: Option<(f64, f64, Option<CompactString>)>,
    /// Volume of the trades seen since the board started.
    pub(crate) volume: f64,
    /// Updates per second.
    pub(crate) rate: f64,
    /// Time since the last update.
    pub(crate) age: Option<Duration>,
    /// A recent change of the bid, the ask, the last price.
    pub(crate) flashes: [Option<Direction>; 3],
}

/// The whole board at one moment: what [`render`](super::render) draws.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MarketSnapshot {
    /// The feed's name.
    pub(crate) feed: String,
    /// Header and event pane.
    pub(crate) health: HealthSnapshot,
    /// The rows, sorted.
    pub(crate) rows: Vec<RowSnapshot>,
    /// The sort order.
    pub(crate) sort: MarketSort,
}

impl MarketBoard {
    /// An empty board for `feed`, with a row for each of `symbols` (a `*`
    /// makes none: rows then appear as symbols do).
    pub(crate) fn new(feed: impl Into<String>, symbols: &[Symbol]) -> Self {
        let rows = symbols
            .iter()
            .filter(|s| s.as_str() != "*")
            .map(|s| (s.clone(), Row::default()))
            .collect();
        Self {
            feed: feed.into(),
            health: Health::default(),
            rows,
            sort: MarketSort::default(),
        }
    }

    /// Takes one event of the stream.
    pub(crate) fn apply(&mut self, event: &StreamEvent<MarketData>, clock: &Clock) {
        self.health.apply(event, clock);
        let Some(data) = event.data() else {
            return;
        };
        let Some(symbol) = data.symbol() else {
            return;
        };
        let now = clock.now;
        let row = match self.rows.get_mut(symbol) {
            Some(row) => row,
            None => self.rows.entry(symbol.clone()).or_default(),
        };
        // A snapshot is the price already standing, not a new message:
        // it fills the row but is no tick of its rate.
        if !matches!(event, StreamEvent::Snapshot(_)) {
            row.rate.count();
        }
        row.updated_at = Some(now);
        match data {
            MarketData::Quote(quote) => {
                row.bid.set(quote.bid_price, now);
                row.bid_size = quote.bid_size;
                row.ask.set(quote.ask_price, now);
                row.ask_size = quote.ask_size;
            }
            MarketData::Trade(trade) => {
                row.last.set(trade.price, now);
                row.last_size = trade.size;
                row.last_exchange.clone_from(&trade.exchange);
                row.volume += trade.size;
            }
            _ => {}
        }
    }

    /// Adds a line of the command's own to the event pane.
    pub(crate) fn note(&mut self, line: String) {
        self.health.note(line);
    }

    /// Switches to the next sort order.
    pub(crate) fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
    }

    /// The board now, rows sorted.
    pub(crate) fn snapshot(&mut self, now: Instant) -> MarketSnapshot {
        let mut rows: Vec<RowSnapshot> = self
            .rows
            .iter_mut()
            .map(|(symbol, row)| row_snapshot(symbol, row, now))
            .collect();
        let by_symbol = |a: &RowSnapshot, b: &RowSnapshot| a.symbol.cmp(&b.symbol);
        let descending = |a: f64, b: f64| b.partial_cmp(&a).unwrap_or(Ordering::Equal);
        match self.sort {
            MarketSort::Symbol => rows.sort_by(by_symbol),
            MarketSort::Rate => {
                rows.sort_by(|a, b| descending(a.rate, b.rate).then_with(|| by_symbol(a, b)));
            }
            MarketSort::Volume => {
                rows.sort_by(|a, b| descending(a.volume, b.volume).then_with(|| by_symbol(a, b)));
            }
            MarketSort::Recent => rows.sort_by(|a, b| {
                let age = |r: &RowSnapshot| r.age.unwrap_or(Duration::MAX);
                age(a).cmp(&age(b)).then_with(|| by_symbol(a, b))
            }),
        }
        MarketSnapshot {
            feed: self.feed.clone(),
            health: self.health.snapshot(now),
            rows,
            sort: self.sort,
        }
    }
}

fn row_snapshot(symbol: &Symbol, row: &mut Row, now: Instant) -> RowSnapshot {
    let bid = row.bid.value().map(|price| (price, row.bid_size));
    let ask = row.ask.value().map(|price| (price, row.ask_size));
    RowSnapshot {
        symbol: symbol.clone(),
        bid,
        ask,
        spread: bid.zip(ask).map(|((bid, _), (ask, _))| ask - bid),
        last: row
            .last
            .value()
            .map(|price| (price, row.last_size, row.last_exchange.clone())),
        volume: row.volume,
        rate: row.rate.rate(now),
        age: row.updated_at.map(|at| now.saturating_duration_since(at)),
        flashes: [row.bid.flash(now), row.ask.flash(now), row.last.flash(now)],
    }
}

#[cfg(test)]
mod tests {
    use tickwire_core::machine::{Event, State};

    use super::*;
    use crate::output::fixtures::{self, clock, data, machine};

    fn symbols(names: &[&str]) -> Vec<Symbol> {
        names.iter().map(|n| Symbol::new(n).unwrap()).collect()
    }

    fn quote(symbol: &str, bid: f64, ask: f64) -> StreamEvent<MarketData> {
        data(fixtures::market(&format!(
            r#"{{"T":"q","S":"{symbol}","bx":"U","bp":{bid},"bs":3,"ax":"Q","ap":{ask},"as":4,"c":["R"],"z":"C","t":"2024-01-02T15:04:05Z"}}"#
        )))
    }

    fn trade(symbol: &str, price: f64, size: u32) -> StreamEvent<MarketData> {
        data(fixtures::market(&format!(
            r#"{{"T":"t","S":"{symbol}","i":1,"x":"V","p":{price},"s":{size},"c":["@"],"t":"2024-01-02T15:04:05Z","z":"B"}}"#
        )))
    }

    /// A board of SPY after one quote, 470.0 bid and 470.5 ask, at the clock.
    fn spy_quoted_at_470() -> (Clock, MarketBoard) {
        let clock = clock();
        let mut board = MarketBoard::new("iex", &symbols(&["SPY"]));
        board.apply(&quote("SPY", 470.0, 470.5), &clock);
        (clock, board)
    }

    #[test]
    fn every_subscribed_symbol_has_a_row_from_the_start() {
        let mut board = MarketBoard::new("iex", &symbols(&["SPY", "AAPL", "*"]));
        let snapshot = board.snapshot(Instant::now());
        let names: Vec<&str> = snapshot.rows.iter().map(|r| r.symbol.as_str()).collect();
        assert_eq!(names, ["AAPL", "SPY"]);
        assert_eq!(snapshot.rows[0].bid, None);
        assert_eq!(snapshot.feed, "iex");
    }

    #[test]
    fn quotes_and_trades_fill_the_row() {
        let (clock, mut board) = spy_quoted_at_470();
        board.apply(&trade("SPY", 470.25, 100), &clock);
        board.apply(&trade("SPY", 470.5, 50), &clock);
        board.apply(&quote("MSFT", 370.0, 370.1), &clock);
        let snapshot = board.snapshot(clock.now + Duration::from_millis(100));
        assert_eq!(snapshot.rows.len(), 2, "a new symbol gets a row");
        let spy = &snapshot.rows[1];
        assert_eq!(spy.symbol.as_str(), "SPY");
        assert_eq!(spy.bid, Some((470.0, 3.0)));
        assert_eq!(spy.ask, Some((470.5, 4.0)));
        assert_eq!(spy.spread, Some(0.5));
        assert_eq!(spy.last, Some((470.5, 50.0, Some("V".into()))));
        assert_eq!(spy.volume, 150.0);
        assert_eq!(spy.age, Some(Duration::from_millis(100)));
        assert_eq!(spy.flashes, [None, None, Some(Direction::Up)]);
        assert_eq!(snapshot.health.messages, 4);
    }

    #[test]
    fn a_snapshot_fills_the_row_but_is_no_tick_of_its_rate() {
        let clock = clock();
        let mut board = MarketBoard::new("iex", &symbols(&["SPY"]));
        let StreamEvent::Machine(Event::Data(standing)) = quote("SPY", 470.0, 470.5) else {
            panic!("a quote")
        };
        // The rate's window starts at the first look.
        let _ = board.snapshot(clock.now);
        board.apply(&StreamEvent::Snapshot(standing), &clock);
        let snapshot = board.snapshot(clock.now + Duration::from_millis(1100));
        assert_eq!(snapshot.rows[0].bid, Some((470.0, 3.0)));
        assert_eq!(snapshot.rows[0].rate, 0.0);
        board.apply(&quote("SPY", 470.0, 470.5), &clock);
        let snapshot = board.snapshot(clock.now + Duration::from_millis(2200));
        assert!(snapshot.rows[0].rate > 0.0, "a live quote is a tick");
    }

    #[test]
    fn changed_prices_flash_then_settle() {
        let (clock, mut board) = spy_quoted_at_470();
        board.apply(&quote("SPY", 469.9, 470.5), &clock);
        let snapshot = board.snapshot(clock.now);
        assert_eq!(
            snapshot.rows[0].flashes,
            [Some(Direction::Down), None, None]
        );
        let snapshot = board.snapshot(clock.now + Duration::from_secs(1));
        assert_eq!(snapshot.rows[0].flashes, [None, None, None]);
    }

    #[test]
    fn s_cycles_the_sort() {
        let clock = clock();
        let mut board = MarketBoard::new("iex", &symbols(&["AAPL", "SPY", "MSFT"]));
        let later = Clock {
            now: clock.now + Duration::from_millis(10),
            ..clock
        };
        board.apply(&trade("SPY", 1.0, 10), &clock);
        board.apply(&trade("MSFT", 1.0, 500), &later);
        board.apply(&trade("MSFT", 1.0, 500), &later);
        let start = clock.now;
        board.snapshot(start);
        let order = |board: &mut MarketBoard| -> Vec<String> {
            board
                .snapshot(start + Duration::from_secs(1))
                .rows
                .iter()
                .map(|r| r.symbol.to_string())
                .collect()
        };
        assert_eq!(order(&mut board), ["AAPL", "MSFT", "SPY"]);
        board.cycle_sort();
        assert_eq!(board.sort, MarketSort::Rate);
        board.cycle_sort();
        assert_eq!(order(&mut board), ["MSFT", "SPY", "AAPL"], "by volume");
        board.cycle_sort();
        assert_eq!(order(&mut board), ["MSFT", "SPY", "AAPL"], "most recent");
        board.cycle_sort();
        assert_eq!(board.sort, MarketSort::Symbol);
    }

    #[test]
    fn lifecycle_goes_to_the_header_and_the_event_pane() {
        let clock = clock();
        let mut board = MarketBoard::new("test", &symbols(&["FAKEPACA"]));
        board.apply(
            &machine::<MarketData>(Event::StateChanged(State::Closed)),
            &clock,
        );
        let snapshot = board.snapshot(clock.now);
        assert_eq!(snapshot.health.state, "closed");
        assert_eq!(snapshot.health.events, ["* state: closed"]);
        assert!(snapshot.rows.iter().all(|r| r.age.is_none()));
    }
}
