//! The tables `record` writes: which message goes to which table, its
//! columns and their types, and each message's row, column by column.
//!
//! The Parquet and CSV writers share these definitions; a writer only says
//! how to store each kind of value ([`RowWriter`]).
//!
//! Types: times are UTC timestamps with nanoseconds; prices and sizes are
//! 64-bit floats, exactly the numbers the feed sends (Alpaca's prices are
//! JSON numbers, and crypto sizes are fractional); ids are unsigned 64-bit
//! integers; condition codes are lists of strings. Columns that can be
//! missing in a message (a crypto quote has no exchange) are nullable.

use tickwire_alpaca::{Conditions, MarketData};
use tickwire_core::Timestamp;

/// A table: one file per table and UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Table {
    /// `quote` messages.
    Quotes,
    /// `trade` messages.
    Trades,
    /// Minute bars.
    Bars,
    /// Daily bars.
    DailyBars,
    /// Updated (late-corrected) minute bars.
    UpdatedBars,
    /// Trade corrections.
    Corrections,
    /// Trade cancels and errors.
    CancelErrors,
    /// Every other kind (statuses, LULDs, imbalances, order books, news),
    /// each row the message's `--json` line.
    Other,
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A UTC timestamp, nanoseconds.
    Timestamp,
    /// A string.
    Text,
    /// A 64-bit float.
    Float,
    /// An unsigned 64-bit integer.
    Integer,
    /// A list of strings.
    TextList,
}

/// A column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Column {
    /// Its name (the `--json` key of the same value).
    pub(crate) name: &'static str,
    /// What it holds.
    pub(crate) kind: Kind,
    /// Whether a row may leave it empty.
    pub(crate) nullable: bool,
}

const fn required(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
    }
}

const fn optional(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
    }
}

use Kind::{Float, Integer, Text, TextList};

const TIMESTAMP: Column = required("timestamp", Kind::Timestamp);
const SYMBOL: Column = required("symbol", Text);
const TAPE: Column = optional("tape", Text);

const QUOTES: &[Column] = &[
    TIMESTAMP,
    SYMBOL,
    optional("bid_exchange", Text),
    required("bid_price", Float),
    required("bid_size", Float),
    optional("ask_exchange", Text),
    required("ask_price", Float),
    required("ask_size", Float),
    required("conditions", TextList),
    TAPE,
];

const TRADES: &[Column] = &[
    TIMESTAMP,
    SYMBOL,
    optional("id", Integer),
    optional("exchange", Text),
    required("price", Float),
    required("size", Float),
    required("conditions", TextList),
    TAPE,
    optional("taker_side", Text),
];

const BARS: &[Column] = &[
    TIMESTAMP,
    SYMBOL,
    required("open", Float),
    required("high", Float),
    required("low", Float),
    required("close", Float),
    required("volume", Float),
    optional("vwap", Float),
    optional("trade_count", Integer),
];

const CORRECTIONS: &[Column] = &[
    TIMESTAMP,
    SYMBOL,
    optional("exchange", Text),
    required("original_id", Integer),
    required("original_price", Float),
    required("original_size", Float),
    required("original_conditions", TextList),
    required("corrected_id", Integer),
    required("corrected_price", Float),
    required("corrected_size", Float),
    required("corrected_conditions", TextList),
    TAPE,
];

const CANCEL_ERRORS: &[Column] = &[
    TIMESTAMP,
    SYMBOL,
    required("id", Integer),
    optional("exchange", Text),
    required("price", Float),
    required("size", Float),
    required("action", Text),
    TAPE,
];

const OTHER: &[Column] = &[
    TIMESTAMP,
    required("type", Text),
    optional("symbol", Text),
    required("json", Text),
];

impl Table {
    /// The table a message goes to.
    pub(crate) fn of(data: &MarketData) -> Self {
        match data {
            MarketData::Quote(_) => Self::Quotes,
            MarketData::Trade(_) => Self::Trades,
            MarketData::Bar(_) => Self::Bars,
            MarketData::DailyBar(_) => Self::DailyBars,
            MarketData::UpdatedBar(_) => Self::UpdatedBars,
            MarketData::Correction(_) => Self::Corrections,
            MarketData::CancelError(_) => Self::CancelErrors,
            _ => Self::Other,
        }
    }

    /// The start of its file names, e.g. `quotes` in `quotes-2024-01-02.parquet`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Quotes => "quotes",
            Self::Trades => "trades",
            Self::Bars => "bars",
            Self::DailyBars => "daily_bars",
            Self::UpdatedBars => "updated_bars",
            Self::Corrections => "corrections",
            Self::CancelErrors => "cancel_errors",
            Self::Other => "other",
        }
    }

    /// The table of a [`name`](Self::name).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [
            Self::Quotes,
            Self::Trades,
            Self::Bars,
            Self::DailyBars,
            Self::UpdatedBars,
            Self::Corrections,
            Self::CancelErrors,
            Self::Other,
        ]
        .into_iter()
        .find(|table| table.name() == name)
    }

    /// Its columns, in file order.
    pub(crate) const fn columns(self) -> &'static [Column] {
        match self {
            Self::Quotes => QUOTES,
            Self::Trades => TRADES,
            Self::Bars | Self::DailyBars | Self::UpdatedBars => BARS,
            Self::Corrections => CORRECTIONS,
            Self::CancelErrors => CANCEL_ERRORS,
            Self::Other => OTHER,
        }
    }
}

/// Stores the values of one row, in column order; each call fills the next column.
pub(crate) trait RowWriter {
    /// A [`Kind::Timestamp`] value.
    fn timestamp(&mut self, value: Timestamp);
    /// A [`Kind::Text`] value (`None`: null).
    fn text(&mut self, value: Option<&str>);
    /// A [`Kind::Float`] value (`None`: null).
    fn float(&mut self, value: Option<f64>);
    /// A [`Kind::Integer`] value (`None`: null).
    fn integer(&mut self, value: Option<u64>);
    /// A [`Kind::TextList`] value.
    fn list(&mut self, values: &Conditions);

    /// A price and its size: two [`Kind::Float`] values.
    fn price_size(&mut self, price: f64, size: f64) {
        self.float(Some(price));
        self.float(Some(size));
    }
}

/// Writes `data`'s row of [`Table::of`]`(data)`; `json` is its `--json`
/// line, used by [`Table::Other`] only.
pub(crate) fn write_row(data: &MarketData, json: &str, row: &mut dyn RowWriter) {
    row.timestamp(data.timestamp());
    match data {
        MarketData::Quote(q) => {
            row.text(Some(q.symbol.as_str()));
            row.text(q.bid_exchange.as_deref());
            row.price_size(q.bid_price, q.bid_size);
            row.text(q.ask_exchange.as_deref());
            row.price_size(q.ask_price, q.ask_size);
            row.list(&q.conditions);
            row.text(q.tape.as_deref());
        }
        MarketData::Trade(t) => {
            row.text(Some(t.symbol.as_str()));
            row.integer(t.id);
            row.text(t.exchange.as_deref());
            row.price_size(t.price, t.size);
            row.list(&t.conditions);
            row.text(t.tape.as_deref());
            row.text(t.taker_side.as_deref());
        }
        MarketData::Bar(b) | MarketData::DailyBar(b) | MarketData::UpdatedBar(b) => {
            row.text(Some(b.symbol.as_str()));
            row.float(Some(b.open));
            row.float(Some(b.high));
            row.float(Some(b.low));
            row.float(Some(b.close));
            row.float(Some(b.volume));
            row.float(b.vwap);
            row.integer(b.trade_count);
        }
        MarketData::Correction(c) => {
            row.text(Some(c.symbol.as_str()));
            row.text(c.exchange.as_deref());
            row.integer(Some(c.original_id));
            row.price_size(c.original_price, c.original_size);
            row.list(&c.original_conditions);
            row.integer(Some(c.corrected_id));
            row.price_size(c.corrected_price, c.corrected_size);
            row.list(&c.corrected_conditions);
            row.text(c.tape.as_deref());
        }
        MarketData::CancelError(x) => {
            row.text(Some(x.symbol.as_str()));
            row.integer(Some(x.id));
            row.text(x.exchange.as_deref());
            row.price_size(x.price, x.size);
            row.text(Some(x.action.as_str()));
            row.text(x.tape.as_deref());
        }
        other => {
            // The `--json` line starts with its type: `{"type":"luld",…`.
            let kind = json
                .strip_prefix("{\"type\":\"")
                .and_then(|rest| rest.split('"').next())
                .unwrap_or(other.tag());
            row.text(Some(kind));
            row.text(other.symbol().map(|s| s.as_str()));
            row.text(Some(json));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures;

    /// Records the kinds of the values written, in order.
    #[derive(Default)]
    struct Kinds(Vec<(Kind, bool)>);

    impl RowWriter for Kinds {
        fn timestamp(&mut self, _: Timestamp) {
            self.0.push((Kind::Timestamp, false));
        }
        fn text(&mut self, value: Option<&str>) {
            self.0.push((Text, value.is_none()));
        }
        fn float(&mut self, value: Option<f64>) {
            self.0.push((Float, value.is_none()));
        }
        fn integer(&mut self, value: Option<u64>) {
            self.0.push((Integer, value.is_none()));
        }
        fn list(&mut self, _: &Conditions) {
            self.0.push((TextList, false));
        }
    }

    #[test]
    fn every_row_matches_its_table_columns() {
        for (json, _) in fixtures::ALL {
            let data = fixtures::market(json);
            let table = Table::of(&data);
            let mut kinds = Kinds::default();
            write_row(&data, "{}", &mut kinds);
            let columns = table.columns();
            assert_eq!(kinds.0.len(), columns.len(), "{table:?}");
            for ((kind, null), column) in kinds.0.iter().zip(columns) {
                assert_eq!(*kind, column.kind, "{table:?}.{}", column.name);
                assert!(
                    !null || column.nullable,
                    "{table:?}.{} is null",
                    column.name
                );
            }
        }
    }

    #[test]
    fn messages_go_to_their_tables() {
        let table = |json| Table::of(&fixtures::market(json));
        assert_eq!(table(fixtures::QUOTE), Table::Quotes);
        assert_eq!(table(fixtures::TRADE), Table::Trades);
        assert_eq!(table(fixtures::DAILY_BAR), Table::DailyBars);
        assert_eq!(table(fixtures::CANCEL_ERROR), Table::CancelErrors);
        assert_eq!(table(fixtures::NEWS), Table::Other);
        assert_eq!(table(fixtures::ORDERBOOK), Table::Other);
        assert_eq!(Table::UpdatedBars.name(), "updated_bars");
        assert_eq!(Table::from_name("cancel_errors"), Some(Table::CancelErrors));
        assert_eq!(Table::from_name("ticks"), None);
    }
}
