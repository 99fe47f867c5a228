//! Market data frames written directly, byte for byte as serde writes
//! `[MarketData]`: `T` first, then each message's fields as its entry in
//! [`market_fields!`] declares them.

use crate::model::market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, OrderbookLevel,
    Quote, Trade, TradingStatus, market_fields,
};
use crate::server::field_writer::{FieldValue, WriteStruct, struct_writer};
use crate::server::writer::{JsonWriter, MsgPackWriter, ServerWriter};
use crate::{Encoding, Frame};

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

/// Appends the frame [`data_frame`] makes to `out`, without the frame's own buffer.
pub(super) fn append_data_frame(encoding: Encoding, messages: &[&MarketData], out: &mut Vec<u8>) {
    let buf = std::mem::take(out);
    *out = match encoding {
        Encoding::Json => {
            let mut w = JsonWriter::appending(buf);
            write_messages(&mut w, messages);
            w.into_bytes()
        }
        Encoding::MsgPack => {
            let mut w = MsgPackWriter::appending(buf);
            write_messages(&mut w, messages);
            w.into_bytes()
        }
    };
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
    let tag = Some(message.tag());
    match message {
        MarketData::Trade(m) => m.write_map(w, tag),
        MarketData::Quote(m) => m.write_map(w, tag),
        MarketData::Bar(m) | MarketData::DailyBar(m) | MarketData::UpdatedBar(m) => {
            m.write_map(w, tag);
        }
        MarketData::Correction(m) => m.write_map(w, tag),
        MarketData::CancelError(m) => m.write_map(w, tag),
        MarketData::Status(m) => m.write_map(w, tag),
        MarketData::Luld(m) => m.write_map(w, tag),
        MarketData::Imbalance(m) => m.write_map(w, tag),
        MarketData::Orderbook(m) => m.write_map(w, tag),
        MarketData::News(m) => m.write_map(w, tag),
    }
}

market_fields!(Trade => struct_writer);
market_fields!(Quote => struct_writer);
market_fields!(Bar => struct_writer);
market_fields!(Correction => struct_writer);
market_fields!(CancelError => struct_writer);
market_fields!(TradingStatus => struct_writer);
market_fields!(Luld => struct_writer);
market_fields!(Imbalance => struct_writer);
market_fields!(OrderbookLevel => struct_writer);
market_fields!(Orderbook => struct_writer);
market_fields!(News => struct_writer);

/// A level of a book, as a map of its own.
impl FieldValue for OrderbookLevel {
    fn write<W: ServerWriter>(&self, w: &mut W) {
        self.write_map(w, None);
    }
}

#[cfg(test)]
mod tests {
    use compact_str::CompactString;
    use proptest::prelude::*;

    use super::*;
    use crate::strategies::{any_f64, any_text, any_timestamp};
    use crate::{Conditions, Symbol, Timestamp};

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

        /// Appended frames are the frames, each after what the buffer held.
        #[test]
        fn appended_frames_follow_what_was_there(
            messages in prop::collection::vec(any_market_data(), 0..8),
            before in prop::collection::vec(any::<u8>(), 0..32),
        ) {
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let mut out = before.clone();
                let mut expected = before.clone();
                for message in &messages {
                    append_data_frame(encoding, &[message], &mut out);
                    expected.extend_from_slice(data_frame(encoding, &[message]).payload());
                }
                prop_assert_eq!(&out, &expected);
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
