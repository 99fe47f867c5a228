//! Sample messages shared by the codec test suites.

#![allow(dead_code, unreachable_pub)]

use tickwire_alpaca::{
    Bar, CancelError, Channel, Conditions, Correction, Decimal, Imbalance, Luld, MarketData, News,
    Order, OrderClass, OrderSide, OrderStatus, OrderType, Orderbook, OrderbookLevel, Quote,
    TimeInForce, Trade, TradeEvent, TradeUpdate, TradingStatus,
};
use tickwire_core::{Symbol, Timestamp};

pub mod documented_ack;
pub mod inbound_kinds;
pub mod mutation;

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("valid test symbol")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("valid test timestamp")
}

pub fn conditions(codes: &[&str]) -> Conditions {
    codes.iter().copied().collect()
}

/// One of every market data message, stock and crypto flavours.
pub fn every_market_message() -> Vec<MarketData> {
    let t = ts("2024-01-02T15:04:05.123456789Z");
    let bar = Bar {
        symbol: sym("AAPL"),
        open: 189.0,
        high: 190.5,
        low: 188.25,
        close: 190.0,
        volume: 12_345.0,
        vwap: Some(189.7),
        trade_count: Some(321),
        timestamp: ts("2024-01-02T15:04:00Z"),
    };
    vec![
        MarketData::Trade(Trade {
            symbol: sym("AAPL"),
            id: Some(52_983_525_029_461),
            exchange: Some("V".into()),
            price: 189.11,
            size: 100.0,
            conditions: conditions(&["@", "I"]),
            timestamp: t,
            tape: Some("C".into()),
            taker_side: None,
        }),
        MarketData::Trade(Trade {
            symbol: sym("BTC/USD"),
            id: Some(7),
            exchange: None,
            price: 42_000.5,
            size: 0.0125,
            conditions: Conditions::new(),
            timestamp: t,
            tape: None,
            taker_side: Some("B".into()),
        }),
        MarketData::Quote(Quote {
            symbol: sym("AAPL"),
            bid_exchange: Some("U".into()),
            bid_price: 189.1,
            bid_size: 1.0,
            ask_exchange: Some("Q".into()),
            ask_price: 189.12,
            ask_size: 2.0,
            conditions: conditions(&["R"]),
            timestamp: t,
            tape: Some("C".into()),
        }),
        MarketData::Quote(Quote {
            symbol: sym("ETH/USD"),
            bid_exchange: None,
            bid_price: 2_300.25,
            bid_size: 1.5,
            ask_exchange: None,
            ask_price: 2_300.75,
            ask_size: 0.25,
            conditions: Conditions::new(),
            timestamp: ts("2024-01-02T15:04:05Z"),
            tape: None,
        }),
        MarketData::Bar(bar.clone()),
        MarketData::DailyBar(Bar {
            timestamp: ts("2024-01-02T05:00:00Z"),
            ..bar.clone()
        }),
        MarketData::UpdatedBar(Bar {
            vwap: None,
            trade_count: None,
            ..bar
        }),
        MarketData::Correction(Correction {
            symbol: sym("META"),
            exchange: Some("Z".into()),
            original_id: 3_574,
            original_price: 127.4,
            original_size: 100.0,
            original_conditions: conditions(&[" ", "7", "V"]),
            corrected_id: 3_575,
            corrected_price: 127.44,
            corrected_size: 100.0,
            corrected_conditions: conditions(&[" ", "7", "V"]),
            timestamp: t,
            tape: Some("C".into()),
        }),
        MarketData::CancelError(CancelError {
            symbol: sym("MSFT"),
            id: 1_407,
            exchange: Some("M".into()),
            price: 400.5,
            size: 10.0,
            action: "C".into(),
            timestamp: t,
            tape: Some("C".into()),
        }),
        MarketData::Status(TradingStatus {
            symbol: sym("GME"),
            status_code: "H".into(),
            status_message: "Trading Halt".into(),
            reason_code: "LUDP".into(),
            reason_message: "Volatility Trading Pause".into(),
            timestamp: t,
            tape: Some("A".into()),
        }),
        MarketData::Luld(Luld {
            symbol: sym("GME"),
            limit_up_price: 25.5,
            limit_down_price: 20.25,
            indicator: "B".into(),
            timestamp: t,
            tape: Some("A".into()),
        }),
        MarketData::Imbalance(Imbalance {
            symbol: sym("IBM"),
            price: 160.0,
            timestamp: t,
            tape: Some("N".into()),
        }),
        MarketData::Orderbook(Orderbook {
            symbol: sym("BTC/USD"),
            bids: vec![
                OrderbookLevel {
                    price: 42_000.0,
                    size: 0.5,
                },
                OrderbookLevel {
                    price: 41_999.5,
                    size: 0.0,
                },
            ],
            asks: vec![OrderbookLevel {
                price: 42_001.0,
                size: 1.25,
            }],
            reset: true,
            timestamp: t,
        }),
        MarketData::News(News {
            id: 24_918_784,
            headline: "Apple \"ships\" a thing — ünïcode".into(),
            summary: "Summary".into(),
            author: "Benzinga Insights".into(),
            created_at: ts("2022-01-05T22:00:37Z"),
            updated_at: ts("2022-01-05T22:00:38Z"),
            content: String::new(),
            url: Some("https://example.invalid/news/1".into()),
            symbols: vec![sym("AAPL"), sym("MSFT")],
            source: "benzinga".into(),
        }),
    ]
}

/// A fill with the full REST order object.
pub fn fill() -> TradeUpdate {
    let created = ts("2021-03-16T18:38:01.942282Z");
    TradeUpdate {
        event: TradeEvent::Fill,
        execution_id: Some("2f63ea93-423d-4169-b3f6-3fdafc10c418".into()),
        order: Order {
            id: "7b7653c4-7468-494a-aeb3-d5f255789473".into(),
            client_order_id: "7d5ee2e1-4fdd-4b7f-8c92-7d6a2a1d0e10".into(),
            created_at: created,
            updated_at: ts("2021-03-16T18:38:02.000001Z"),
            submitted_at: created,
            filled_at: Some(ts("2021-03-16T18:38:02Z")),
            expired_at: None,
            expires_at: None,
            canceled_at: None,
            failed_at: None,
            replaced_at: None,
            replaced_by: None,
            replaces: None,
            asset_id: Some("b0b6dd9d-8b9b-48a9-ba46-b9d54906e415".into()),
            symbol: Some(sym("AAPL")),
            asset_class: Some("us_equity".into()),
            notional: None,
            qty: Some(Decimal::new("1")),
            filled_qty: Some(Decimal::new("1")),
            filled_avg_price: Some(Decimal::new("189.12")),
            order_class: OrderClass::Simple,
            order_type: Some(OrderType::Market),
            r#type: Some(OrderType::Market),
            side: Some(OrderSide::Buy),
            position_intent: Some("buy_to_open".into()),
            time_in_force: TimeInForce::Day,
            limit_price: None,
            stop_price: None,
            status: OrderStatus::Filled,
            extended_hours: false,
            legs: None,
            trail_percent: None,
            trail_price: None,
            hwm: None,
            ratio_qty: None,
        },
        timestamp: Some(ts("2021-03-16T18:38:02.000001Z")),
        price: Some(Decimal::new("189.12")),
        qty: Some(Decimal::new("1")),
        position_qty: Some(Decimal::new("1")),
    }
}
