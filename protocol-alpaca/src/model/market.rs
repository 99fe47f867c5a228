//! Market data messages (stocks, crypto, options, news), named as in Rust and
//! renamed to their one- and two-letter wire keys in one table,
//! [`market_fields!`], that the structs, the client's fast path and the
//! exchange's writers all expand.
//!
//! Every type ignores fields it does not know, so Alpaca adding a field never
//! breaks decoding. Fields some feeds omit (crypto has no exchange or tape on
//! quotes, options send no tape…) are `Option`s.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::Conditions;
use crate::model::fields::wire_struct;
use crate::{Symbol, Timestamp};

/// The market data messages' fields and wire keys, declared once (see
/// [`fields`](super::fields)): `market_fields!(Quote => callback extra…)`
/// expands to `callback! { extra… <the quote's entry> }`.
macro_rules! market_fields {
    (Trade => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A trade (`T: "t"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Trade {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Trade id (`i`).
            optional id: Option<u64> = "i";
            /// Exchange code (`x`); absent on crypto.
            optional exchange: Option<CompactString> = "x";
            /// Price (`p`).
            required price: f64 = "p";
            /// Size (`s`).
            required size: f64 = "s";
            /// Condition codes (`c`).
            omit_empty conditions: Conditions = "c";
            /// Time of the trade (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`); absent on crypto.
            optional tape: Option<CompactString> = "z";
            /// Taker side, `B` or `S` (`tks`); crypto only.
            optional taker_side: Option<CompactString> = "tks";
        }
    } };
    (Quote => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A quote (`T: "q"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Quote {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Bid exchange (`bx`); absent on crypto.
            optional bid_exchange: Option<CompactString> = "bx";
            /// Bid price (`bp`).
            required bid_price: f64 = "bp";
            /// Bid size (`bs`).
            required bid_size: f64 = "bs";
            /// Ask exchange (`ax`); absent on crypto.
            optional ask_exchange: Option<CompactString> = "ax";
            /// Ask price (`ap`).
            required ask_price: f64 = "ap";
            /// Ask size (`as`).
            required ask_size: f64 = "as";
            /// Condition codes (`c`).
            omit_empty conditions: Conditions = "c";
            /// Time of the quote (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`); absent on crypto.
            optional tape: Option<CompactString> = "z";
        }
    } };
    (Bar => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A bar: minute (`T: "b"`), daily (`"d"`) or updated (`"u"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Bar {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Open (`o`).
            required open: f64 = "o";
            /// High (`h`).
            required high: f64 = "h";
            /// Low (`l`).
            required low: f64 = "l";
            /// Close (`c`).
            required close: f64 = "c";
            /// Volume (`v`).
            required volume: f64 = "v";
            /// Volume-weighted average price (`vw`).
            optional vwap: Option<f64> = "vw";
            /// Number of trades (`n`).
            optional trade_count: Option<u64> = "n";
            /// Start of the bar (`t`).
            required timestamp: Timestamp = "t";
        }
    } };
    (Correction => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A trade correction (`T: "c"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Correction {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Exchange code (`x`).
            optional exchange: Option<CompactString> = "x";
            /// Original trade id (`oi`).
            required original_id: u64 = "oi";
            /// Original price (`op`).
            required original_price: f64 = "op";
            /// Original size (`os`).
            required original_size: f64 = "os";
            /// Original conditions (`oc`).
            or_default original_conditions: Conditions = "oc";
            /// Corrected trade id (`ci`).
            required corrected_id: u64 = "ci";
            /// Corrected price (`cp`).
            required corrected_price: f64 = "cp";
            /// Corrected size (`cs`).
            required corrected_size: f64 = "cs";
            /// Corrected conditions (`cc`).
            or_default corrected_conditions: Conditions = "cc";
            /// Time of the correction (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`).
            optional tape: Option<CompactString> = "z";
        }
    } };
    (CancelError => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A trade cancel or error (`T: "x"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        CancelError {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Id of the trade cancelled (`i`).
            required id: u64 = "i";
            /// Exchange code (`x`).
            optional exchange: Option<CompactString> = "x";
            /// Price of the trade (`p`).
            required price: f64 = "p";
            /// Size of the trade (`s`).
            required size: f64 = "s";
            /// `C` for a cancel, `E` for an error (`a`).
            required action: CompactString = "a";
            /// Time (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`).
            optional tape: Option<CompactString> = "z";
        }
    } };
    (TradingStatus => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A trading status change: halt, resume… (`T: "s"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        TradingStatus {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Status code (`sc`).
            required status_code: CompactString = "sc";
            /// Status message (`sm`).
            or_default status_message: String = "sm";
            /// Reason code (`rc`).
            or_default reason_code: CompactString = "rc";
            /// Reason message (`rm`).
            or_default reason_message: String = "rm";
            /// Time (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`).
            optional tape: Option<CompactString> = "z";
        }
    } };
    (Luld => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// Limit up / limit down price bands (`T: "l"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Luld {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Limit up price (`u`).
            required limit_up_price: f64 = "u";
            /// Limit down price (`d`).
            required limit_down_price: f64 = "d";
            /// Indicator (`i`).
            or_default indicator: CompactString = "i";
            /// Time (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`).
            optional tape: Option<CompactString> = "z";
        }
    } };
    (Imbalance => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// An order imbalance (`T: "i"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Imbalance {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Reference price (`p`).
            required price: f64 = "p";
            /// Time (`t`).
            required timestamp: Timestamp = "t";
            /// Tape (`z`).
            optional tape: Option<CompactString> = "z";
        }
    } };
    (OrderbookLevel => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// One price level of an order book.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        OrderbookLevel {
            /// Price (`p`).
            required price: f64 = "p";
            /// Size (`s`); zero removes the level in an update.
            required size: f64 = "s";
        }
    } };
    (Orderbook => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A crypto order book snapshot or update (`T: "o"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Orderbook {
            /// Symbol (`S`).
            required symbol: Symbol = "S";
            /// Bids (`b`).
            or_default bids: Vec<OrderbookLevel> = "b";
            /// Asks (`a`).
            or_default asks: Vec<OrderbookLevel> = "a";
            /// Whether this is a full snapshot replacing the book (`r`).
            or_default reset: bool = "r";
            /// Time (`t`).
            required timestamp: Timestamp = "t";
        }
    } };
    (News => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A news article (`T: "n"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        News {
            /// Article id.
            required id: u64;
            /// Headline.
            or_default headline: String;
            /// Summary.
            or_default summary: String;
            /// Author.
            or_default author: String;
            /// Publication time.
            required created_at: Timestamp;
            /// Last update.
            required updated_at: Timestamp;
            /// Body (HTML), often empty.
            or_default content: String;
            /// Link to the article.
            optional url: Option<String>;
            /// Symbols the article is about.
            or_default symbols: Vec<Symbol>;
            /// Source, e.g. `benzinga`.
            or_default source: CompactString;
        }
    } };

}

pub(crate) use market_fields;

market_fields!(Trade => wire_struct);
market_fields!(Quote => wire_struct);
market_fields!(Bar => wire_struct);
market_fields!(Correction => wire_struct);
market_fields!(CancelError => wire_struct);
market_fields!(TradingStatus => wire_struct);
market_fields!(Luld => wire_struct);
market_fields!(Imbalance => wire_struct);
market_fields!(OrderbookLevel => wire_struct);
market_fields!(Orderbook => wire_struct);
market_fields!(News => wire_struct);

/// The market data messages' tags (`T`), declared once: `market_tags!(callback
/// extra…)` expands to `callback! { extra… <one line per variant> }`, each
/// line `Variant(Type) = "tag", "what it is, for errors";`. The enum below,
/// [`MarketData::tag`] and both decoders' dispatch expand it.
macro_rules! market_tags {
    ($callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// A trade (`t`).
        Trade(Trade) = "t", "trade";
        /// A quote (`q`).
        Quote(Quote) = "q", "quote";
        /// A minute bar (`b`).
        Bar(Bar) = "b", "bar";
        /// A daily bar (`d`).
        DailyBar(Bar) = "d", "daily bar";
        /// An updated minute bar (`u`).
        UpdatedBar(Bar) = "u", "updated bar";
        /// A trade correction (`c`).
        Correction(Correction) = "c", "trade correction";
        /// A trade cancel or error (`x`).
        CancelError(CancelError) = "x", "trade cancel/error";
        /// A trading status change (`s`).
        Status(TradingStatus) = "s", "trading status";
        /// LULD bands (`l`).
        Luld(Luld) = "l", "LULD";
        /// An order imbalance (`i`).
        Imbalance(Imbalance) = "i", "imbalance";
        /// A crypto order book (`o`).
        Orderbook(Orderbook) = "o", "order book";
        /// A news article (`n`).
        News(News) = "n", "news";
    } };
}

pub(crate) use market_tags;

/// Makes [`MarketData`], its [`tag`](MarketData::tag) and the tags as bytes
/// ([`tags`]) of the [`market_tags!`] table.
macro_rules! market_data_enum {
    ($($(#[$doc:meta])* $variant:ident($ty:ident) = $tag:literal, $what:literal;)+) => {
        /// Any market data message, tagged on the wire by its `T` field.
        ///
        /// Serializes with `T` first, as Alpaca's server does. Deserializing reads
        /// `T` first and decodes the right type directly; through this `Deserialize`
        /// impl `T` must be the first field (the dialect's decoder has no such limit).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "T")]
        #[non_exhaustive]
        pub enum MarketData {
            $($(#[$doc])* #[serde(rename = $tag)] $variant($ty),)+
        }

        impl MarketData {
            /// The wire tag `T`, e.g. `"q"`.
            pub const fn tag(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $tag,)+
                }
            }
        }

        /// Each variant's tag as bytes, for matching tags read off the wire
        /// (the fast path matches those it decodes; serde the others).
        #[allow(non_upper_case_globals, dead_code)]
        pub(crate) mod tags {
            $(pub(crate) const $variant: &[u8] = $tag.as_bytes();)+
        }
    };
}

market_tags!(market_data_enum);

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
