//! The order board's state: one row per order with its latest update, for
//! `trades` on a terminal.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tickwire_alpaca::TradeUpdate;
use tickwire_core::Timestamp;
use tickwire_ws::StreamEvent;

use super::state::{Health, HealthSnapshot};
use crate::output::Clock;

/// Orders kept on the board; the least recently updated go first.
pub(crate) const ORDERS_MAX: usize = 500;

/// How long an order's row stays highlighted after an update.
const HIGHLIGHT_FOR: Duration = Duration::from_millis(600);

/// The orders the rows can be sorted in; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OrderSort {
    /// Most recently updated first.
    #[default]
    Recent,
    /// By symbol, then most recent first.
    Symbol,
}

impl OrderSort {
    /// The next order in the cycle.
    pub(crate) const fn next(self) -> Self {
        match self {
            Self::Recent => Self::Symbol,
            Self::Symbol => Self::Recent,
        }
    }

    /// Its name, for the footer.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Recent => "most recent",
            Self::Symbol => "symbol",
        }
    }
}

/// One order's row: its latest state, as text ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderRow {
    /// The order id, shortened to 8 characters.
    pub(crate) id: String,
    /// The symbol (`-` when the update has none).
    pub(crate) symbol: String,
    /// `buy` or `sell`.
    pub(crate) side: String,
    /// Quantity, or `$notional`.
    pub(crate) qty: String,
    /// Filled quantity.
    pub(crate) filled: String,
    /// Average fill price.
    pub(crate) average_price: String,
    /// Order type and limit price.
    pub(crate) kind: String,
    /// The order's status.
    pub(crate) status: String,
    /// The last update's event.
    pub(crate) event: String,
    /// The last update's time (the message's own, else the order's).
    pub(crate) updated: Timestamp,
    /// Whether the row was updated in the last moment.
    pub(crate) highlighted: bool,
}

/// The order board.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderBoard {
    health: Health,
    orders: HashMap<String, (OrderRow, Instant)>,
    sort: OrderSort,
}

/// The order board at one moment: what [`render`](super::render) draws.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderSnapshot {
    /// Header and event pane.
    pub(crate) health: HealthSnapshot,
    /// The rows, sorted.
    pub(crate) rows: Vec<OrderRow>,
    /// The sort order.
    pub(crate) sort: OrderSort,
}

impl OrderBoard {
    /// Takes one event of the stream.
    pub(crate) fn apply(&mut self, event: &StreamEvent<TradeUpdate>, clock: &Clock) {
        self.health.apply(event, clock);
        let Some(update) = event.data() else {
            return;
        };
        let row = order_row(update);
        self.orders
            .insert(update.order.id.clone(), (row, clock.now));
        if self.orders.len() > ORDERS_MAX {
            let oldest = self
                .orders
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.orders.remove(&oldest);
            }
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
    pub(crate) fn snapshot(&mut self, now: Instant) -> OrderSnapshot {
        let mut rows: Vec<(OrderRow, Instant)> = self
            .orders
            .values()
            .map(|(row, at)| {
                let mut row = row.clone();
                row.highlighted = now.saturating_duration_since(*at) < HIGHLIGHT_FOR;
                (row, *at)
            })
            .collect();
        match self.sort {
            OrderSort::Recent => rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.id.cmp(&b.0.id))),
            OrderSort::Symbol => {
                rows.sort_by(|a, b| a.0.symbol.cmp(&b.0.symbol).then(b.1.cmp(&a.1)));
            }
        }
        OrderSnapshot {
            health: self.health.snapshot(now),
            rows: rows.into_iter().map(|(row, _)| row).collect(),
            sort: self.sort,
        }
    }
}

fn order_row(update: &TradeUpdate) -> OrderRow {
    let order = &update.order;
    let qty = match (&order.qty, &order.notional) {
        (Some(qty), _) => qty.to_string(),
        (None, Some(notional)) => format!("${notional}"),
        (None, None) => String::new(),
    };
    let mut kind = order
        .r#type
        .as_ref()
        .or(order.order_type.as_ref())
        .map_or_else(String::new, |k| k.as_str().to_owned());
    if let Some(limit) = &order.limit_price {
        kind.push_str(&format!(" {limit}"));
    }
    OrderRow {
        id: order.id.chars().take(8).collect(),
        symbol: order
            .symbol
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string),
        side: order
            .side
            .as_ref()
            .map_or_else(String::new, |s| s.as_str().to_owned()),
        qty,
        filled: order
            .filled_qty
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        average_price: order
            .filled_avg_price
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
        kind,
        status: order.status.as_str().to_owned(),
        event: update.event.as_str().to_owned(),
        updated: update.timestamp.unwrap_or(order.updated_at),
        highlighted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::{self, clock, data};

    #[test]
    fn an_update_shows_the_order_latest_state() {
        let clock = clock();
        let mut board = OrderBoard::default();
        board.apply(&data(fixtures::fill()), &clock);
        let snapshot = board.snapshot(clock.now);
        assert_eq!(snapshot.rows.len(), 1);
        let row = &snapshot.rows[0];
        assert_eq!(row.id, "61e69015");
        assert_eq!(row.symbol, "AAPL");
        assert_eq!(
            (row.side.as_str(), row.qty.as_str(), row.kind.as_str()),
            ("buy", "10", "market")
        );
        assert_eq!(
            (row.filled.as_str(), row.average_price.as_str()),
            ("10", "189.1")
        );
        assert_eq!(
            (row.status.as_str(), row.event.as_str()),
            ("filled", "fill")
        );
        assert!(row.highlighted);
        assert!(!board.snapshot(clock.now + Duration::from_secs(1)).rows[0].highlighted);
        assert_eq!(snapshot.health.messages, 1);
    }

    #[test]
    fn one_row_per_order_newest_first() {
        let clock = clock();
        let mut board = OrderBoard::default();
        let mut first = fixtures::fill();
        first.order.id = "aaaaaaaa-1".into();
        let mut second = fixtures::fill();
        second.order.id = "bbbbbbbb-2".into();
        second.order.symbol = Some(tickwire_core::Symbol::new("MSFT").unwrap());
        board.apply(&data(first.clone()), &clock);
        let later = Clock {
            now: clock.now + Duration::from_millis(5),
            ..clock
        };
        board.apply(&data(second), &later);
        let ids = |board: &mut OrderBoard| -> Vec<String> {
            board
                .snapshot(later.now)
                .rows
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(&mut board), ["bbbbbbbb", "aaaaaaaa"]);
        board.cycle_sort();
        assert_eq!(
            ids(&mut board),
            ["aaaaaaaa", "bbbbbbbb"],
            "AAPL before MSFT"
        );
        // A later update of the first order replaces its row.
        let mut canceled = first;
        canceled.order.status = "canceled".into();
        let latest = Clock {
            now: clock.now + Duration::from_millis(9),
            ..clock
        };
        board.apply(&data(canceled), &latest);
        let snapshot = board.snapshot(latest.now);
        assert_eq!(snapshot.rows.len(), 2);
        assert_eq!(snapshot.rows[0].status, "canceled");
    }

    #[test]
    fn old_orders_make_room() {
        let clock = clock();
        let mut board = OrderBoard::default();
        for i in 0..ORDERS_MAX + 10 {
            let mut update = fixtures::fill();
            update.order.id = format!("{i:08}");
            let at = Clock {
                now: clock.now + Duration::from_micros(i as u64),
                ..clock
            };
            board.apply(&data(update), &at);
        }
        let rows = board.snapshot(clock.now).rows;
        assert_eq!(rows.len(), ORDERS_MAX);
        assert!(rows.iter().all(|r| r.id.as_str() >= "00000010"));
    }
}
