//! Market data messages (stocks, crypto, options, news), named as in Rust and
//! renamed to their one- and two-letter wire keys.
//!
//! Every type ignores fields it does not know, so Alpaca adding a field never
//! breaks decoding. Fields some feeds omit (crypto has no exchange or tape on
//! quotes, options send no tape…) are `Option`s.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::Conditions;
use crate::{Symbol, Timestamp};

/// A trade (`T: "t"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Trade id (`i`).
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Exchange code (`x`); absent on crypto.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<CompactString>,
    /// Price (`p`).
    #[serde(rename = "p")]
    pub price: f64,
    /// Size (`s`).
    #[serde(rename = "s")]
    pub size: f64,
    /// Condition codes (`c`).
    #[serde(rename = "c", default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
    /// Time of the trade (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`); absent on crypto.
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
    /// Taker side, `B` or `S` (`tks`); crypto only.
    #[serde(rename = "tks", default, skip_serializing_if = "Option::is_none")]
    pub taker_side: Option<CompactString>,
}

/// A quote (`T: "q"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Bid exchange (`bx`); absent on crypto.
    #[serde(rename = "bx", default, skip_serializing_if = "Option::is_none")]
    pub bid_exchange: Option<CompactString>,
    /// Bid price (`bp`).
    #[serde(rename = "bp")]
    pub bid_price: f64,
    /// Bid size (`bs`).
    #[serde(rename = "bs")]
    pub bid_size: f64,
    /// Ask exchange (`ax`); absent on crypto.
    #[serde(rename = "ax", default, skip_serializing_if = "Option::is_none")]
    pub ask_exchange: Option<CompactString>,
    /// Ask price (`ap`).
    #[serde(rename = "ap")]
    pub ask_price: f64,
    /// Ask size (`as`).
    #[serde(rename = "as")]
    pub ask_size: f64,
    /// Condition codes (`c`).
    #[serde(rename = "c", default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
    /// Time of the quote (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`); absent on crypto.
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// A bar: minute (`T: "b"`), daily (`"d"`) or updated (`"u"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Open (`o`).
    #[serde(rename = "o")]
    pub open: f64,
    /// High (`h`).
    #[serde(rename = "h")]
    pub high: f64,
    /// Low (`l`).
    #[serde(rename = "l")]
    pub low: f64,
    /// Close (`c`).
    #[serde(rename = "c")]
    pub close: f64,
    /// Volume (`v`).
    #[serde(rename = "v")]
    pub volume: f64,
    /// Volume-weighted average price (`vw`).
    #[serde(rename = "vw", default, skip_serializing_if = "Option::is_none")]
    pub vwap: Option<f64>,
    /// Number of trades (`n`).
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub trade_count: Option<u64>,
    /// Start of the bar (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
}

/// A trade correction (`T: "c"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Exchange code (`x`).
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<CompactString>,
    /// Original trade id (`oi`).
    #[serde(rename = "oi")]
    pub original_id: u64,
    /// Original price (`op`).
    #[serde(rename = "op")]
    pub original_price: f64,
    /// Original size (`os`).
    #[serde(rename = "os")]
    pub original_size: f64,
    /// Original conditions (`oc`).
    #[serde(rename = "oc", default)]
    pub original_conditions: Conditions,
    /// Corrected trade id (`ci`).
    #[serde(rename = "ci")]
    pub corrected_id: u64,
    /// Corrected price (`cp`).
    #[serde(rename = "cp")]
    pub corrected_price: f64,
    /// Corrected size (`cs`).
    #[serde(rename = "cs")]
    pub corrected_size: f64,
    /// Corrected conditions (`cc`).
    #[serde(rename = "cc", default)]
    pub corrected_conditions: Conditions,
    /// Time of the correction (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`).
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// A trade cancel or error (`T: "x"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelError {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Id of the trade cancelled (`i`).
    #[serde(rename = "i")]
    pub id: u64,
    /// Exchange code (`x`).
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<CompactString>,
    /// Price of the trade (`p`).
    #[serde(rename = "p")]
    pub price: f64,
    /// Size of the trade (`s`).
    #[serde(rename = "s")]
    pub size: f64,
    /// `C` for a cancel, `E` for an error (`a`).
    #[serde(rename = "a")]
    pub action: CompactString,
    /// Time (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`).
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// A trading status change: halt, resume… (`T: "s"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradingStatus {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Status code (`sc`).
    #[serde(rename = "sc")]
    pub status_code: CompactString,
    /// Status message (`sm`).
    #[serde(rename = "sm", default)]
    pub status_message: String,
    /// Reason code (`rc`).
    #[serde(rename = "rc", default)]
    pub reason_code: CompactString,
    /// Reason message (`rm`).
    #[serde(rename = "rm", default)]
    pub reason_message: String,
    /// Time (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`).
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// Limit up / limit down price bands (`T: "l"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Luld {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Limit up price (`u`).
    #[serde(rename = "u")]
    pub limit_up_price: f64,
    /// Limit down price (`d`).
    #[serde(rename = "d")]
    pub limit_down_price: f64,
    /// Indicator (`i`).
    #[serde(rename = "i", default)]
    pub indicator: CompactString,
    /// Time (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`).
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// An order imbalance (`T: "i"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imbalance {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Reference price (`p`).
    #[serde(rename = "p")]
    pub price: f64,
    /// Time (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
    /// Tape (`z`).
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub tape: Option<CompactString>,
}

/// One price level of an order book.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderbookLevel {
    /// Price (`p`).
    #[serde(rename = "p")]
    pub price: f64,
    /// Size (`s`); zero removes the level in an update.
    #[serde(rename = "s")]
    pub size: f64,
}

/// A crypto order book snapshot or update (`T: "o"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orderbook {
    /// Symbol (`S`).
    #[serde(rename = "S")]
    pub symbol: Symbol,
    /// Bids (`b`).
    #[serde(rename = "b", default)]
    pub bids: Vec<OrderbookLevel>,
    /// Asks (`a`).
    #[serde(rename = "a", default)]
    pub asks: Vec<OrderbookLevel>,
    /// Whether this is a full snapshot replacing the book (`r`).
    #[serde(rename = "r", default)]
    pub reset: bool,
    /// Time (`t`).
    #[serde(rename = "t")]
    pub timestamp: Timestamp,
}

/// A news article (`T: "n"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct News {
    /// Article id.
    pub id: u64,
    /// Headline.
    #[serde(default)]
    pub headline: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Publication time.
    pub created_at: Timestamp,
    /// Last update.
    pub updated_at: Timestamp,
    /// Body (HTML), often empty.
    #[serde(default)]
    pub content: String,
    /// Link to the article.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Symbols the article is about.
    #[serde(default)]
    pub symbols: Vec<Symbol>,
    /// Source, e.g. `benzinga`.
    #[serde(default)]
    pub source: CompactString,
}

/// Any market data message, tagged on the wire by its `T` field.
///
/// Serializes with `T` first, as Alpaca's server does. Deserializing reads
/// `T` first and decodes the right type directly; through this `Deserialize`
/// impl `T` must be the first field (the dialect's decoder has no such limit).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "T")]
#[non_exhaustive]
pub enum MarketData {
    /// A trade (`t`).
    #[serde(rename = "t")]
    Trade(Trade),
    /// A quote (`q`).
    #[serde(rename = "q")]
    Quote(Quote),
    /// A minute bar (`b`).
    #[serde(rename = "b")]
    Bar(Bar),
    /// A daily bar (`d`).
    #[serde(rename = "d")]
    DailyBar(Bar),
    /// An updated minute bar (`u`).
    #[serde(rename = "u")]
    UpdatedBar(Bar),
    /// A trade correction (`c`).
    #[serde(rename = "c")]
    Correction(Correction),
    /// A trade cancel or error (`x`).
    #[serde(rename = "x")]
    CancelError(CancelError),
    /// A trading status change (`s`).
    #[serde(rename = "s")]
    Status(TradingStatus),
    /// LULD bands (`l`).
    #[serde(rename = "l")]
    Luld(Luld),
    /// An order imbalance (`i`).
    #[serde(rename = "i")]
    Imbalance(Imbalance),
    /// A crypto order book (`o`).
    #[serde(rename = "o")]
    Orderbook(Orderbook),
    /// A news article (`n`).
    #[serde(rename = "n")]
    News(News),
}

impl MarketData {
    /// The symbol the message is about; `None` for news (see [`News::symbols`]).
    pub fn symbol(&self) -> Option<&Symbol> {
        Some(match self {
            Self::Trade(m) => &m.symbol,
            Self::Quote(m) => &m.symbol,
            Self::Bar(m) | Self::DailyBar(m) | Self::UpdatedBar(m) => &m.symbol,
            Self::Correction(m) => &m.symbol,
            Self::CancelError(m) => &m.symbol,
            Self::Status(m) => &m.symbol,
            Self::Luld(m) => &m.symbol,
            Self::Imbalance(m) => &m.symbol,
            Self::Orderbook(m) => &m.symbol,
            Self::News(_) => return None,
        })
    }

    /// The wire tag `T`, e.g. `"q"`.
    pub const fn tag(&self) -> &'static str {
        match self {
            Self::Trade(_) => "t",
            Self::Quote(_) => "q",
            Self::Bar(_) => "b",
            Self::DailyBar(_) => "d",
            Self::UpdatedBar(_) => "u",
            Self::Correction(_) => "c",
            Self::CancelError(_) => "x",
            Self::Status(_) => "s",
            Self::Luld(_) => "l",
            Self::Imbalance(_) => "i",
            Self::Orderbook(_) => "o",
            Self::News(_) => "n",
        }
    }

    /// The time the message carries (`t`, or `updated_at` for news).
    pub const fn timestamp(&self) -> Timestamp {
        match self {
            Self::Trade(m) => m.timestamp,
            Self::Quote(m) => m.timestamp,
            Self::Bar(m) | Self::DailyBar(m) | Self::UpdatedBar(m) => m.timestamp,
            Self::Correction(m) => m.timestamp,
            Self::CancelError(m) => m.timestamp,
            Self::Status(m) => m.timestamp,
            Self::Luld(m) => m.timestamp,
            Self::Imbalance(m) => m.timestamp,
            Self::Orderbook(m) => m.timestamp,
            Self::News(m) => m.updated_at,
        }
    }
}
