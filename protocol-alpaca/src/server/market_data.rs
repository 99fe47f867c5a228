//! Market data frames written directly, byte for byte as serde writes
//! `[MarketData]`: `T` first, then the fields in declaration order, with the
//! optional ones left out as `skip_serializing_if` leaves them out.

use crate::model::conditions::Conditions;
use crate::model::market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, OrderbookLevel,
    Quote, Trade, TradingStatus,
};
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

/// 1 for a field that is written, 0 for one that is skipped.
fn present(written: bool) -> usize {
    usize::from(written)
}

/// Opens the message's map of `fields` fields besides `T`, and writes `T`.
// Inlined, like the keys below, so that each key's length is a constant.
#[inline(always)]
fn open<W: ServerWriter>(w: &mut W, tag: &'static str, fields: usize) {
    w.map(1 + fields);
    w.key("T");
    w.str(tag);
}

#[inline(always)]
fn opt_str_field<W: ServerWriter>(w: &mut W, key: &'static str, value: Option<&str>) {
    if let Some(value) = value {
        w.key(key);
        w.str(value);
    }
}

fn conditions<W: ServerWriter>(w: &mut W, conditions: &Conditions) {
    w.strs(conditions.len(), conditions.iter());
}

// Each writer below names every field of its message, so that a new field
// stops compilation where the message is written; debug builds check the
// counts given to `open`.

fn trade<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Trade) {
    let Trade {
        symbol,
        id,
        exchange,
        price,
        size,
        conditions: trade_conditions,
        timestamp,
        tape,
        taker_side,
    } = m;
    let fields = 4
        + present(id.is_some())
        + present(exchange.is_some())
        + present(!trade_conditions.is_empty())
        + present(tape.is_some())
        + present(taker_side.is_some());
    open(w, tag, fields);
    w.key("S");
    w.symbol(symbol);
    if let Some(id) = *id {
        w.key("i");
        w.u64(id);
    }
    opt_str_field(w, "x", exchange.as_deref());
    w.key("p");
    w.f64(*price);
    w.key("s");
    w.f64(*size);
    if !trade_conditions.is_empty() {
        w.key("c");
        conditions(w, trade_conditions);
    }
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
    opt_str_field(w, "tks", taker_side.as_deref());
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
        conditions: quote_conditions,
        timestamp,
        tape,
    } = m;
    let fields = 6
        + present(bid_exchange.is_some())
        + present(ask_exchange.is_some())
        + present(!quote_conditions.is_empty())
        + present(tape.is_some());
    open(w, tag, fields);
    w.key("S");
    w.symbol(symbol);
    opt_str_field(w, "bx", bid_exchange.as_deref());
    w.key("bp");
    w.f64(*bid_price);
    w.key("bs");
    w.f64(*bid_size);
    opt_str_field(w, "ax", ask_exchange.as_deref());
    w.key("ap");
    w.f64(*ask_price);
    w.key("as");
    w.f64(*ask_size);
    if !quote_conditions.is_empty() {
        w.key("c");
        conditions(w, quote_conditions);
    }
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
}

fn bar<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Bar) {
    let Bar {
        symbol,
        open: open_price,
        high,
        low,
        close,
        volume,
        vwap,
        trade_count,
        timestamp,
    } = m;
    open(
        w,
        tag,
        7 + present(vwap.is_some()) + present(trade_count.is_some()),
    );
    w.key("S");
    w.symbol(symbol);
    w.key("o");
    w.f64(*open_price);
    w.key("h");
    w.f64(*high);
    w.key("l");
    w.f64(*low);
    w.key("c");
    w.f64(*close);
    w.key("v");
    w.f64(*volume);
    if let Some(vwap) = *vwap {
        w.key("vw");
        w.f64(vwap);
    }
    if let Some(count) = *trade_count {
        w.key("n");
        w.u64(count);
    }
    w.key("t");
    w.timestamp(*timestamp);
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
    open(
        w,
        tag,
        10 + present(exchange.is_some()) + present(tape.is_some()),
    );
    w.key("S");
    w.symbol(symbol);
    opt_str_field(w, "x", exchange.as_deref());
    w.key("oi");
    w.u64(*original_id);
    w.key("op");
    w.f64(*original_price);
    w.key("os");
    w.f64(*original_size);
    w.key("oc");
    conditions(w, original_conditions);
    w.key("ci");
    w.u64(*corrected_id);
    w.key("cp");
    w.f64(*corrected_price);
    w.key("cs");
    w.f64(*corrected_size);
    w.key("cc");
    conditions(w, corrected_conditions);
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
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
    open(
        w,
        tag,
        6 + present(exchange.is_some()) + present(tape.is_some()),
    );
    w.key("S");
    w.symbol(symbol);
    w.key("i");
    w.u64(*id);
    opt_str_field(w, "x", exchange.as_deref());
    w.key("p");
    w.f64(*price);
    w.key("s");
    w.f64(*size);
    w.key("a");
    w.str(action);
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
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
    open(w, tag, 6 + present(tape.is_some()));
    w.key("S");
    w.symbol(symbol);
    w.key("sc");
    w.str(status_code);
    w.key("sm");
    w.str(status_message);
    w.key("rc");
    w.str(reason_code);
    w.key("rm");
    w.str(reason_message);
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
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
    open(w, tag, 5 + present(tape.is_some()));
    w.key("S");
    w.symbol(symbol);
    w.key("u");
    w.f64(*limit_up_price);
    w.key("d");
    w.f64(*limit_down_price);
    w.key("i");
    w.str(indicator);
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
}

fn imbalance<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Imbalance) {
    let Imbalance {
        symbol,
        price,
        timestamp,
        tape,
    } = m;
    open(w, tag, 3 + present(tape.is_some()));
    w.key("S");
    w.symbol(symbol);
    w.key("p");
    w.f64(*price);
    w.key("t");
    w.timestamp(*timestamp);
    opt_str_field(w, "z", tape.as_deref());
}

fn orderbook<W: ServerWriter>(w: &mut W, tag: &'static str, m: &Orderbook) {
    let Orderbook {
        symbol,
        bids,
        asks,
        reset,
        timestamp,
    } = m;
    open(w, tag, 5);
    w.key("S");
    w.symbol(symbol);
    w.key("b");
    levels(w, bids);
    w.key("a");
    levels(w, asks);
    w.key("r");
    w.bool(*reset);
    w.key("t");
    w.timestamp(*timestamp);
}

fn levels<W: ServerWriter>(w: &mut W, levels: &[OrderbookLevel]) {
    w.array(levels.len());
    for level in levels {
        let OrderbookLevel { price, size } = level;
        w.element();
        w.map(2);
        w.key("p");
        w.f64(*price);
        w.key("s");
        w.f64(*size);
        w.end_map();
    }
    w.end_array();
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
    open(w, tag, 9 + present(url.is_some()));
    w.key("id");
    w.u64(*id);
    w.key("headline");
    w.str(headline);
    w.key("summary");
    w.str(summary);
    w.key("author");
    w.str(author);
    w.key("created_at");
    w.timestamp(*created_at);
    w.key("updated_at");
    w.timestamp(*updated_at);
    w.key("content");
    w.str(content);
    opt_str_field(w, "url", url.as_deref());
    w.key("symbols");
    w.symbols(symbols.len(), symbols.iter());
    w.key("source");
    w.str(source);
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
