//! Market data frames written directly, byte for byte as serde writes
//! `[MarketData]`: `T` first, then the fields in declaration order, with the
//! optional ones left out as `skip_serializing_if` leaves them out.

use compact_str::CompactString;

use crate::model::conditions::Conditions;
use crate::model::market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, OrderbookLevel,
    Quote, Trade, TradingStatus,
};
use crate::server::writer::{JsonWriter, MsgPackWriter, ServerWriter};
use crate::{Encoding, Frame, Symbol, Timestamp};

/// One frame carrying `messages` in order, as serde writes the slice.
pub(super) fn data_frame(encoding: Encoding, messages: &[&MarketData]) -> Frame {
    match encoding {
        Encoding::Json => {
            let mut w = JsonWriter::new();
            write_messages(&mut w, messages);
            Frame::Text(w.into_bytes().into())
        }
        Encoding::MsgPack => {
            let mut w = MsgPackWriter::new();
            write_messages(&mut w, messages);
            Frame::Binary(w.into_bytes().into())
        }
    }
}

fn write_messages<W: ServerWriter>(w: &mut W, messages: &[&MarketData]) {
    w.array(messages.len());
    for message in messages {
        w.element();
        write_message(w, message);
    }
    w.end_array();
}

fn write_message<W: ServerWriter>(w: &mut W, message: &MarketData) {
    let tag = message.tag();
    match message {
        MarketData::Trade(m) => trade(w, tag, m),
        MarketData::Quote(m) => quote(w, tag, m),
        MarketData::Bar(m) | MarketData::DailyBar(m) | MarketData::UpdatedBar(m) => bar(w, tag, m),
        MarketData::Correction(m) => correction(w, tag, m),
        MarketData::CancelError(m) => cancel_error(w, tag, m),
        MarketData::Status(m) => status(w, tag, m),
        MarketData::Luld(m) => luld(w, tag, m),
        MarketData::Imbalance(m) => imbalance(w, tag, m),
        MarketData::Orderbook(m) => orderbook(w, tag, m),
        MarketData::News(m) => news(w, tag, m),
    }
    w.end_map();
}

/// A field's value as the market data writers below write it.
trait FieldValue {
    /// Whether the field is written at all: serde skips `None`s (and the
    /// writers pass empty conditions of trades and quotes as `None`).
    fn is_written(&self) -> bool {
        true
    }

    /// Writes the value (the key is written already).
    fn write<W: ServerWriter>(&self, w: &mut W);
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn is_written(&self) -> bool {
        self.is_some()
    }

    fn write<W: ServerWriter>(&self, w: &mut W) {
        if let Some(value) = self {
            value.write(w);
        }
    }
}

impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn is_written(&self) -> bool {
        T::is_written(self)
    }

    fn write<W: ServerWriter>(&self, w: &mut W) {
        T::write(self, w);
    }
}

/// Implements [`FieldValue`] for values written by one writer call.
macro_rules! written_by {
    ($($ty:ty => |$value:ident, $w:ident| $write:expr;)+) => {$(
        impl FieldValue for $ty {
            fn write<W: ServerWriter>(&self, $w: &mut W) {
                let $value = self;
                $write;
            }
        }
    )+};
}

written_by! {
    f64 => |value, w| w.f64(*value);
    u64 => |value, w| w.u64(*value);
    bool => |value, w| w.bool(*value);
    Timestamp => |value, w| w.timestamp(*value);
    Symbol => |value, w| w.symbol(value);
    String => |value, w| w.str(value);
    CompactString => |value, w| w.str(value);
    Conditions => |value, w| w.strs(value.len(), value.iter());
    Vec<Symbol> => |value, w| w.symbols(value.len(), value.iter());
}

impl FieldValue for Vec<OrderbookLevel> {
    fn write<W: ServerWriter>(&self, w: &mut W) {
        w.array(self.len());
        for level in self {
            let OrderbookLevel { price, size } = level;
            w.element();
            w.map(2);
            field(w, "p", price);
            field(w, "s", size);
            w.end_map();
        }
        w.end_array();
    }
}

/// Writes `key` and `value`, unless the value is not written at all.
// Inlined so that each key's length is a constant.
#[inline(always)]
fn field<W: ServerWriter>(w: &mut W, key: &'static str, value: impl FieldValue) {
    if value.is_written() {
        w.key(key);
        value.write(w);
    }
}

/// Conditions as trades and quotes carry them: omitted when empty.
fn non_empty(conditions: &Conditions) -> Option<&Conditions> {
    (!conditions.is_empty()).then_some(conditions)
}

/// Writes a message's map: `T` (the tag) first, then each field in order,
/// the map's length counting exactly the fields written.
macro_rules! message {
    ($w:ident, $tag:ident, { $($key:literal: $value:expr),+ $(,)? }) => {{
        $w.map(1 $(+ usize::from(FieldValue::is_written(&$value)))+);
        $w.key("T");
        $w.str($tag);
        $(field($w, $key, $value);)+
    }};
}

// Each writer below names every field of its message, so that a new field
// stops compilation where the message is written; debug builds check the
// counts the maps declare.

fn trade<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Trade) {
    let Trade {
        symbol,
        id,
        exchange,
        price,
        size,
        conditions,
        timestamp,
        tape,
        taker_side,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "i": id,
        "x": exchange,
        "p": price,
        "s": size,
        "c": non_empty(conditions),
        "t": timestamp,
        "z": tape,
        "tks": taker_side,
    });
}

fn quote<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Quote) {
    let Quote {
        symbol,
        bid_exchange,
        bid_price,
        bid_size,
        ask_exchange,
        ask_price,
        ask_size,
        conditions,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "bx": bid_exchange,
        "bp": bid_price,
        "bs": bid_size,
        "ax": ask_exchange,
        "ap": ask_price,
        "as": ask_size,
        "c": non_empty(conditions),
        "t": timestamp,
        "z": tape,
    });
}

fn bar<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Bar) {
    let Bar {
        symbol,
        open,
        high,
        low,
        close,
        volume,
        vwap,
        trade_count,
        timestamp,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "o": open,
        "h": high,
        "l": low,
        "c": close,
        "v": volume,
        "vw": vwap,
        "n": trade_count,
        "t": timestamp,
    });
}

fn correction<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Correction) {
    let Correction {
        symbol,
        exchange,
        original_id,
        original_price,
        original_size,
        original_conditions,
        corrected_id,
        corrected_price,
        corrected_size,
        corrected_conditions,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "x": exchange,
        "oi": original_id,
        "op": original_price,
        "os": original_size,
        "oc": original_conditions,
        "ci": corrected_id,
        "cp": corrected_price,
        "cs": corrected_size,
        "cc": corrected_conditions,
        "t": timestamp,
        "z": tape,
    });
}

fn cancel_error<W: ServerWriter>(w: &mut W, tag: &'static str, m: &CancelError) {
    let CancelError {
        symbol,
        id,
        exchange,
        price,
        size,
        action,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "i": id,
        "x": exchange,
        "p": price,
        "s": size,
        "a": action,
        "t": timestamp,
        "z": tape,
    });
}

fn status<W: ServerWriter>(w: &mut W, tag: &'static str, m: &TradingStatus) {
    let TradingStatus {
        symbol,
        status_code,
        status_message,
        reason_code,
        reason_message,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "sc": status_code,
        "sm": status_message,
        "rc": reason_code,
        "rm": reason_message,
        "t": timestamp,
        "z": tape,
    });
}

fn luld<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Luld) {
    let Luld {
        symbol,
        limit_up_price,
        limit_down_price,
        indicator,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "u": limit_up_price,
        "d": limit_down_price,
        "i": indicator,
        "t": timestamp,
        "z": tape,
    });
}

fn imbalance<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Imbalance) {
    let Imbalance {
        symbol,
        price,
        timestamp,
        tape,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "p": price,
        "t": timestamp,
        "z": tape,
    });
}

fn orderbook<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Orderbook) {
    let Orderbook {
        symbol,
        bids,
        asks,
        reset,
        timestamp,
    } = m;
    message!(w, tag, {
        "S": symbol,
        "b": bids,
        "a": asks,
        "r": reset,
        "t": timestamp,
    });
}

fn news<W: ServerWriter>(w: &mut W, tag: &'static str, m: &News) {
    let News {
        id,
        headline,
        summary,
        author,
        created_at,
        updated_at,
        content,
        url,
        symbols,
        source,
    } = m;
    message!(w, tag, {
        "id": id,
        "headline": headline,
        "summary": summary,
        "author": author,
        "created_at": created_at,
        "updated_at": updated_at,
        "content": content,
        "url": url,
        "symbols": symbols,
        "source": source,
    });
}

#[cfg(test)]
mod tests {
    use compact_str::CompactString;
    use proptest::prelude::*;

    use super::*;
    use crate::strategies::{any_f64, any_text, any_timestamp};
    use crate::{Symbol, Timestamp};

    fn any_compact() -> impl Strategy<Value = CompactString> {
        any_text().prop_map(CompactString::from)
    }

    fn any_opt_compact() -> impl Strategy<Value = Option<CompactString>> {
        prop::option::of(any_compact())
    }

    fn any_symbol() -> impl Strategy<Value = Symbol> {
        any_text().prop_map(|text| Symbol::from_server(&text))
    }

    /// Integers of every MessagePack width.
    fn any_u64() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..300, 0u64..70_000, any::<u64>()]
    }

    fn any_conditions() -> impl Strategy<Value = Conditions> {
        prop::collection::vec(any_compact(), 0..20).prop_map(Conditions::from_iter)
    }

    fn any_trade() -> impl Strategy<Value = Trade> {
        (
            any_symbol(),
            prop::option::of(any_u64()),
            any_opt_compact(),
            (any_f64(), any_f64()),
            any_conditions(),
            any_timestamp(),
            any_opt_compact(),
            any_opt_compact(),
        )
            .prop_map(
                |(symbol, id, exchange, (price, size), conditions, timestamp, tape, taker_side)| {
                    Trade {
                        symbol,
                        id,
                        exchange,
                        price,
                        size,
                        conditions,
                        timestamp,
                        tape,
                        taker_side,
                    }
                },
            )
    }

    fn any_quote() -> impl Strategy<Value = Quote> {
        (
            any_symbol(),
            (any_opt_compact(), any_f64(), any_f64()),
            (any_opt_compact(), any_f64(), any_f64()),
            any_conditions(),
            any_timestamp(),
            any_opt_compact(),
        )
            .prop_map(
                |(
                    symbol,
                    (bid_exchange, bid_price, bid_size),
                    (ask_exchange, ask_price, ask_size),
                    conditions,
                    timestamp,
                    tape,
                )| Quote {
                    symbol,
                    bid_exchange,
                    bid_price,
                    bid_size,
                    ask_exchange,
                    ask_price,
                    ask_size,
                    conditions,
                    timestamp,
                    tape,
                },
            )
    }

    fn any_bar() -> impl Strategy<Value = Bar> {
        (
            any_symbol(),
            (any_f64(), any_f64(), any_f64(), any_f64(), any_f64()),
            prop::option::of(any_f64()),
            prop::option::of(any_u64()),
            any_timestamp(),
        )
            .prop_map(
                |(symbol, (open, high, low, close, volume), vwap, trade_count, timestamp)| Bar {
                    symbol,
                    open,
                    high,
                    low,
                    close,
                    volume,
                    vwap,
                    trade_count,
                    timestamp,
                },
            )
    }

    fn any_correction() -> impl Strategy<Value = Correction> {
        (
            any_symbol(),
            any_opt_compact(),
            (any_u64(), any_f64(), any_f64(), any_conditions()),
            (any_u64(), any_f64(), any_f64(), any_conditions()),
            any_timestamp(),
            any_opt_compact(),
        )
            .prop_map(|(symbol, exchange, original, corrected, timestamp, tape)| {
                Correction {
                    symbol,
                    exchange,
                    original_id: original.0,
                    original_price: original.1,
                    original_size: original.2,
                    original_conditions: original.3,
                    corrected_id: corrected.0,
                    corrected_price: corrected.1,
                    corrected_size: corrected.2,
                    corrected_conditions: corrected.3,
                    timestamp,
                    tape,
                }
            })
    }

    fn any_cancel_error() -> impl Strategy<Value = CancelError> {
        (
            any_symbol(),
            any_u64(),
            any_opt_compact(),
            (any_f64(), any_f64()),
            any_compact(),
            any_timestamp(),
            any_opt_compact(),
        )
            .prop_map(
                |(symbol, id, exchange, (price, size), action, timestamp, tape)| CancelError {
                    symbol,
                    id,
                    exchange,
                    price,
                    size,
                    action,
                    timestamp,
                    tape,
                },
            )
    }

    fn any_status() -> impl Strategy<Value = TradingStatus> {
        (
            any_symbol(),
            (any_compact(), any_text(), any_compact(), any_text()),
            any_timestamp(),
            any_opt_compact(),
        )
            .prop_map(
                |(
                    symbol,
                    (status_code, status_message, reason_code, reason_message),
                    timestamp,
                    tape,
                )| {
                    TradingStatus {
                        symbol,
                        status_code,
                        status_message,
                        reason_code,
                        reason_message,
                        timestamp,
                        tape,
                    }
                },
            )
    }

    fn any_luld() -> impl Strategy<Value = Luld> {
        (
            any_symbol(),
            (any_f64(), any_f64()),
            any_compact(),
            any_timestamp(),
            any_opt_compact(),
        )
            .prop_map(
                |(symbol, (limit_up_price, limit_down_price), indicator, timestamp, tape)| Luld {
                    symbol,
                    limit_up_price,
                    limit_down_price,
                    indicator,
                    timestamp,
                    tape,
                },
            )
    }

    fn any_imbalance() -> impl Strategy<Value = Imbalance> {
        (any_symbol(), any_f64(), any_timestamp(), any_opt_compact()).prop_map(
            |(symbol, price, timestamp, tape)| Imbalance {
                symbol,
                price,
                timestamp,
                tape,
            },
        )
    }

    fn any_levels() -> impl Strategy<Value = Vec<OrderbookLevel>> {
        prop::collection::vec(
            (any_f64(), any_f64()).prop_map(|(price, size)| OrderbookLevel { price, size }),
            0..20,
        )
    }

    fn any_orderbook() -> impl Strategy<Value = Orderbook> {
        (
            any_symbol(),
            any_levels(),
            any_levels(),
            any::<bool>(),
            any_timestamp(),
        )
            .prop_map(|(symbol, bids, asks, reset, timestamp)| Orderbook {
                symbol,
                bids,
                asks,
                reset,
                timestamp,
            })
    }

    fn any_news() -> impl Strategy<Value = News> {
        (
            any_u64(),
            (any_text(), any_text(), any_text(), any_text()),
            (any_timestamp(), any_timestamp()),
            prop::option::of(any_text()),
            prop::collection::vec(any_symbol(), 0..20),
            any_compact(),
        )
            .prop_map(
                |(
                    id,
                    (headline, summary, author, content),
                    (created_at, updated_at),
                    url,
                    symbols,
                    source,
                )| News {
                    id,
                    headline,
                    summary,
                    author,
                    created_at,
                    updated_at,
                    content,
                    url,
                    symbols,
                    source,
                },
            )
    }

    /// Every kind of market data message.
    fn any_market_data() -> impl Strategy<Value = MarketData> {
        prop_oneof![
            any_trade().prop_map(MarketData::Trade),
            any_quote().prop_map(MarketData::Quote),
            any_bar().prop_map(MarketData::Bar),
            any_bar().prop_map(MarketData::DailyBar),
            any_bar().prop_map(MarketData::UpdatedBar),
            any_correction().prop_map(MarketData::Correction),
            any_cancel_error().prop_map(MarketData::CancelError),
            any_status().prop_map(MarketData::Status),
            any_luld().prop_map(MarketData::Luld),
            any_imbalance().prop_map(MarketData::Imbalance),
            any_orderbook().prop_map(MarketData::Orderbook),
            any_news().prop_map(MarketData::News),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The direct writer gives serde's bytes for any batch of any messages
        /// (arrays past 16 elements included).
        #[test]
        fn data_frames_match_serde(messages in prop::collection::vec(any_market_data(), 0..20)) {
            let refs: Vec<&MarketData> = messages.iter().collect();
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                prop_assert_eq!(data_frame(encoding, &refs), encoding.frame(&refs));
            }
        }
    }

    #[test]
    fn a_quote_reads_as_alpaca_writes_it() {
        let quote = MarketData::Quote(Quote {
            symbol: Symbol::new("AAPL").unwrap(),
            bid_exchange: Some("V".into()),
            bid_price: 189.5,
            bid_size: 3.0,
            ask_exchange: None,
            ask_price: 190.0,
            ask_size: 1.0,
            conditions: ["R"].into_iter().collect(),
            timestamp: Timestamp::new(1_700_000_000, 5_000).unwrap(),
            tape: Some("C".into()),
        });
        assert_eq!(
            data_frame(Encoding::Json, &[&quote]),
            Frame::text(
                r#"[{"T":"q","S":"AAPL","bx":"V","bp":189.5,"bs":3.0,"ap":190.0,"as":1.0,"c":["R"],"t":"2023-11-14T22:13:20.000005Z","z":"C"}]"#
            )
        );
    }
}
