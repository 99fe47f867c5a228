//! Drawing a board snapshot: pure functions of the snapshot and the palette
//! onto a ratatui frame (tested on ratatui's `TestBackend`).
//!
//! Layout, top to bottom: the header (connection health), the table, the
//! event pane (last lifecycle lines), a one-line footer with the keys.

use std::fmt::Write as _;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::market::{MarketSnapshot, RowSnapshot};
use super::orders::OrderSnapshot;
use super::state::{Direction, EVENT_LINES_MAX, HealthSnapshot};
use crate::output::human::{price, size, time_of_day};

/// Colours, or none (`NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Palette {
    /// Whether to use colour at all.
    pub(crate) color: bool,
}

impl Palette {
    /// Colour unless `NO_COLOR` is set to anything non-empty (no-color.org).
    pub(crate) fn from_env(no_color: Option<&str>) -> Self {
        Self {
            color: no_color.is_none_or(str::is_empty),
        }
    }

    fn paint(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A changed price: green up, red down; bold alone without colour.
    fn flash(self, direction: Option<Direction>) -> Style {
        match (direction, self.color) {
            (None, _) => Style::new(),
            (Some(_), false) => Style::new().add_modifier(Modifier::BOLD),
            (Some(Direction::Up), true) => Style::new().fg(Color::Black).bg(Color::Green),
            (Some(Direction::Down), true) => Style::new().fg(Color::White).bg(Color::Red),
        }
    }

    fn state(self, state: &str) -> Style {
        let color = match state {
            "live" => Color::Green,
            "failed" => Color::Red,
            _ => Color::Yellow,
        };
        self.paint(color).add_modifier(Modifier::BOLD)
    }

    fn event_line(self, line: &str) -> Style {
        if line.starts_with('!') {
            self.paint(Color::Red)
        } else {
            self.paint(Color::DarkGray)
        }
    }
}

/// The areas of a board.
struct Areas {
    header: Rect,
    table: Rect,
    events: Rect,
    footer: Rect,
}

fn areas(frame: &Frame<'_>) -> Areas {
    let [header, table, events, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(u16::try_from(EVENT_LINES_MAX).unwrap_or(5) + 1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    Areas {
        header,
        table,
        events,
        footer,
    }
}

/// Draws the quote board.
pub(crate) fn market(snapshot: &MarketSnapshot, palette: Palette, frame: &mut Frame<'_>) {
    let areas = areas(frame);
    header(
        &snapshot.health,
        &format!("feed {}", snapshot.feed),
        palette,
        frame,
        areas.header,
    );
    let head =
        Row::new(MARKET_COLUMNS.map(|(name, width)| Cell::from(right_aligned_name(name, width))))
            .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows = snapshot.rows.iter().map(|row| market_row(row, palette));
    let widths = MARKET_COLUMNS.map(|(_, width)| Constraint::Length(width));
    frame.render_widget(
        Table::new(rows, widths).header(head).column_spacing(1),
        areas.table,
    );
    events(&snapshot.health, palette, frame, areas.events);
    footer(snapshot.sort.name(), frame, areas.footer);
}

/// The quote board's columns and their widths (92 columns in all).
const MARKET_COLUMNS: [(&str, u16); 12] = [
    ("symbol", 9),
    ("bid", 9),
    ("size", 6),
    ("ask", 9),
    ("size", 6),
    ("spread", 6),
    ("last", 9),
    ("size", 6),
    ("ex", 2),
    ("volume", 9),
    ("upd/s", 5),
    ("age", 5),
];

/// Column names over numbers are right-aligned like them.
fn right_aligned_name(name: &str, width: u16) -> String {
    match name {
        "symbol" | "size" | "ex" => name.to_owned(),
        _ => right(name.to_owned(), usize::from(width)),
    }
}

fn market_row(row: &RowSnapshot, palette: Palette) -> Row<'static> {
    let [bid_flash, ask_flash, last_flash] = row.flashes;
    let (bid, bid_size) = pair(row.bid);
    let (ask, ask_size) = pair(row.ask);
    let (last, last_size, exchange) = match &row.last {
        Some((price_value, size_value, exchange)) => (
            price(*price_value),
            format!("× {}", size(*size_value)),
            exchange.as_deref().unwrap_or("").to_owned(),
        ),
        None => ("-".to_owned(), String::new(), String::new()),
    };
    Row::new([
        Cell::from(row.symbol.to_string()).style(Style::new().add_modifier(Modifier::BOLD)),
        Cell::from(right(bid, 9)).style(palette.flash(bid_flash)),
        Cell::from(bid_size),
        Cell::from(right(ask, 9)).style(palette.flash(ask_flash)),
        Cell::from(ask_size),
        Cell::from(right(
            row.spread
                .zip(row.bid)
                .map_or_else(|| "-".to_owned(), |(value, (bid, _))| spread(value, bid)),
            6,
        )),
        Cell::from(right(last, 9)).style(palette.flash(last_flash)),
        Cell::from(last_size),
        Cell::from(exchange),
        Cell::from(right(size(row.volume), 9)),
        Cell::from(right(format!("{:.0}", row.rate), 5)),
        Cell::from(right(row.age.map_or_else(|| "-".to_owned(), age), 5)),
    ])
}

/// Draws the order board.
pub(crate) fn orders(snapshot: &OrderSnapshot, palette: Palette, frame: &mut Frame<'_>) {
    let areas = areas(frame);
    header(&snapshot.health, "account", palette, frame, areas.header);
    let head = Row::new([
        "updated",
        "symbol",
        "side",
        "qty",
        "filled",
        "avg price",
        "type",
        "status",
        "event",
        "order",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows = snapshot.rows.iter().map(|order| {
        let style = if order.highlighted {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let status_color = match order.status.as_str() {
            "filled" => Color::Green,
            "canceled" | "rejected" | "expired" => Color::Red,
            _ => Color::Reset,
        };
        Row::new([
            Cell::from(time_of_day(order.updated)),
            Cell::from(order.symbol.clone()),
            Cell::from(order.side.clone()),
            Cell::from(right(order.qty.clone(), 8)),
            Cell::from(right(order.filled.clone(), 8)),
            Cell::from(right(order.average_price.clone(), 10)),
            Cell::from(order.kind.clone()),
            Cell::from(order.status.clone()).style(palette.paint(status_color)),
            Cell::from(order.event.clone()),
            Cell::from(order.id.clone()),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(13),
        Constraint::Length(16),
        Constraint::Length(14),
        Constraint::Length(8),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(head).column_spacing(1),
        areas.table,
    );
    events(&snapshot.health, palette, frame, areas.events);
    footer(snapshot.sort.name(), frame, areas.footer);
}

fn header(
    health: &HealthSnapshot,
    source: &str,
    palette: Palette,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let mut first = vec![
        Span::styled(
            format!(" {} ", health.state),
            palette.state(health.state).add_modifier(Modifier::REVERSED),
        ),
        Span::raw(" "),
    ];
    if health.connection > 0 {
        first.push(Span::raw(format!("connection #{}  ", health.connection)));
    }
    first.push(Span::raw(source.to_owned()));
    let mut second = String::new();
    let _ = write!(
        second,
        "{:.0} msg/s  {} msgs  gaps {}  dropped {}  last message ",
        health.messages_per_second, health.messages, health.gaps, health.dropped
    );
    match health.since_last_message {
        Some(since) => {
            let _ = write!(second, "{} ago", age(since));
        }
        None => second.push_str("none yet"),
    }
    let gaps_style = if health.gaps > 0 || health.dropped > 0 {
        palette.paint(Color::Red)
    } else {
        Style::new()
    };
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::styled(second, gaps_style)]),
        area,
    );
}

fn events(health: &HealthSnapshot, palette: Palette, frame: &mut Frame<'_>, area: Rect) {
    let lines: Vec<Line<'_>> = health
        .events
        .iter()
        .map(|line| Line::styled(line.as_str(), palette.event_line(line)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().title("events")),
        area,
    );
}

fn footer(sort: &str, frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(
        Paragraph::new(format!("q quit   s sort (by {sort})"))
            .style(Style::new().add_modifier(Modifier::DIM)),
        area,
    );
}

fn pair(value: Option<(f64, f64)>) -> (String, String) {
    value.map_or_else(
        || ("-".to_owned(), String::new()),
        |(p, s)| (price(p), format!("× {}", size(s))),
    )
}

/// Right-aligns `text` in `width` columns.
fn right(text: String, width: usize) -> String {
    format!("{text:>width$}")
}

/// A spread with the decimals of the prices it separates.
fn spread(value: f64, reference_price: f64) -> String {
    if reference_price.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.6}")
    }
}

/// `0.3s`, `12s`, `5m`.
fn age(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 10.0 {
        format!("{seconds:.1}s")
    } else if seconds < 600.0 {
        format!("{seconds:.0}s")
    } else {
        format!("{:.0}m", seconds / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use tickwire_alpaca::MarketData;
    use tickwire_core::Symbol;
    use tickwire_core::machine::{Event, State};

    use super::*;
    use crate::board::market::MarketBoard;
    use crate::board::orders::OrderBoard;
    use crate::output::fixtures::{self, clock, data, machine};

    fn text(buffer: &Buffer) -> String {
        let width = usize::from(buffer.area.width);
        buffer
            .content()
            .chunks(width)
            .map(|line| line.iter().map(|cell| cell.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn draw(draw: impl FnOnce(&mut Frame<'_>)) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(110, 20)).unwrap();
        terminal.draw(draw).unwrap();
        terminal.backend().buffer().clone()
    }

    fn quote_board() -> MarketSnapshot {
        let clock = clock();
        let symbols = [Symbol::new("SPY").unwrap(), Symbol::new("AAPL").unwrap()];
        let mut board = MarketBoard::new("iex", &symbols);
        board.apply(
            &machine::<MarketData>(Event::StateChanged(State::Closed)),
            &clock,
        );
        board.apply(&data(fixtures::market(fixtures::QUOTE)), &clock);
        board.apply(&data(fixtures::market(fixtures::QUOTE)), &clock);
        let mut higher = fixtures::market(fixtures::QUOTE);
        if let MarketData::Quote(q) = &mut higher {
            q.bid_price = 189.11;
        }
        board.apply(&data(higher), &clock);
        board.apply(&data(fixtures::market(fixtures::TRADE)), &clock);
        board.snapshot(clock.now + Duration::from_millis(200))
    }

    #[test]
    fn the_quote_board_shows_header_rows_and_events() {
        let snapshot = quote_board();
        let buffer = draw(|f| market(&snapshot, Palette { color: true }, f));
        let screen = text(&buffer);
        let lines: Vec<&str> = screen.lines().collect();
        assert!(lines[0].contains(" closed "), "{screen}");
        assert!(lines[0].contains("feed iex"), "{screen}");
        assert!(lines[1].contains("4 msgs"), "{screen}");
        assert!(lines[1].contains("last message 0.2s ago"), "{screen}");
        let aapl = lines.iter().find(|l| l.starts_with("AAPL")).expect(&screen);
        assert!(aapl.contains("189.11") && aapl.contains("189.12"), "{aapl}");
        assert!(aapl.contains(" 0.01 "), "spread: {aapl}");
        let spy = lines.iter().find(|l| l.starts_with("SPY")).expect(&screen);
        assert!(spy.contains("470.50") && spy.contains(" V "), "{spy}");
        assert!(
            lines.iter().position(|l| l.starts_with("AAPL"))
                < lines.iter().position(|l| l.starts_with("SPY")),
            "sorted by symbol: {screen}"
        );
        assert!(screen.contains("* state: closed"), "{screen}");
        assert!(screen.contains("q quit"), "{screen}");
        // The raised bid flashes green.
        let row = lines.iter().position(|l| l.starts_with("AAPL")).unwrap();
        let column = lines[row].find("189.11").unwrap();
        let cell = &buffer[(u16::try_from(column).unwrap(), u16::try_from(row).unwrap())];
        assert_eq!(cell.bg, Color::Green, "{cell:?}");
    }

    #[test]
    fn no_color_means_no_colour() {
        let snapshot = quote_board();
        let palette = Palette::from_env(Some("1"));
        assert!(!palette.color);
        let buffer = draw(|f| market(&snapshot, palette, f));
        assert!(
            buffer
                .content()
                .iter()
                .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset),
            "a coloured cell under NO_COLOR"
        );
        assert!(Palette::from_env(Some("")).color);
        assert!(Palette::from_env(None).color);
    }

    #[test]
    fn the_order_board_shows_each_order() {
        let clock = clock();
        let mut board = OrderBoard::default();
        board.apply(&data(fixtures::fill()), &clock);
        let snapshot = board.snapshot(Instant::now());
        let buffer = draw(|f| {
            orders(&snapshot, Palette { color: false }, f);
        });
        let screen = text(&buffer);
        let row = screen.lines().find(|l| l.contains("AAPL")).expect(&screen);
        for word in ["15:04:05.000", "buy", "189.1", "filled", "fill", "61e69015"] {
            assert!(row.contains(word), "{word}: {row}");
        }
    }

    #[test]
    fn ages_and_numbers() {
        assert_eq!(age(Duration::from_millis(300)), "0.3s");
        assert_eq!(age(Duration::from_secs(42)), "42s");
        assert_eq!(age(Duration::from_secs(1200)), "20m");
        assert_eq!(price(0.00012), "0.000120");
        assert_eq!(size(0.5), "0.5");
        assert_eq!(spread(0.01, 189.1), "0.01");
        assert_eq!(spread(0.00005, 0.5), "0.000050");
    }
}
