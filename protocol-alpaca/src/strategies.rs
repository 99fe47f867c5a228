//! Proptest strategies shared by the tests of several modules: text, floats
//! and timestamps in every wire form, and whole trade updates.

use proptest::prelude::*;

use crate::model::trading::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate,
};
use crate::{Symbol, Timestamp};

/// Text with control and non-ASCII characters (JSON escapes), or of any
/// MessagePack string length, or a short ticker.
pub(super) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z]{1,5}",
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        prop::collection::vec(prop::char::range('\0', '\u{7f}'), 0..300)
            .prop_map(String::from_iter),
    ]
}

/// Any float, including non-finite ones, whole ones and tiny ones.
pub(super) fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        Just(1e300),
    ]
}

/// Timestamps in every MessagePack layout (4, 8 and 12 bytes) and years
/// outside RFC 3339's range.
pub(super) fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    let seconds = prop_oneof![
        0i64..(1 << 32),
        0i64..(1 << 34),
        -400_000_000_000i64..400_000_000_000,
    ];
    let nanos = prop_oneof![Just(0u32), 0u32..1_000_000_000];
    (seconds, nanos).prop_map(|(s, n)| Timestamp::new(s, n).expect("nanos below 1e9"))
}

/// A known wire name or any text (kept as `Other`).
fn any_name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(known).prop_map(str::to_owned),
        1 => any_text(),
    ]
}

fn any_decimal() -> impl Strategy<Value = Option<Decimal>> {
    prop::option::of(prop_oneof!["[0-9]{1,6}(\\.[0-9]{1,4})?", any_text()].prop_map(Decimal::new))
}

fn any_opt_timestamp() -> impl Strategy<Value = Option<Timestamp>> {
    prop::option::of(any_timestamp())
}

/// An order whose legs are `legs`.
fn any_order_with(legs: impl Strategy<Value = Option<Vec<Order>>>) -> impl Strategy<Value = Order> {
    let ids = (
        any_text(),
        any_text(),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
    );
    let times = (
        (any_timestamp(), any_timestamp(), any_timestamp()),
        (
            any_opt_timestamp(),
            any_opt_timestamp(),
            any_opt_timestamp(),
        ),
        (
            any_opt_timestamp(),
            any_opt_timestamp(),
            any_opt_timestamp(),
        ),
    );
    let what = (
        prop::option::of(any_text().prop_map(|s| Symbol::from_server(&s))),
        prop::option::of(
            any_name(&["us_equity", "us_option", "crypto"])
                .prop_map(|s| AssetClass::from(s.as_str())),
        ),
        any_name(&["simple", "bracket", "oco", "oto", "mleg"])
            .prop_map(|s| OrderClass::from(s.as_str())),
        prop::option::of(
            any_name(&["market", "limit", "stop"]).prop_map(|s| OrderType::from(s.as_str())),
        ),
        prop::option::of(
            any_name(&["market", "limit", "stop_limit"]).prop_map(|s| OrderType::from(s.as_str())),
        ),
        prop::option::of(any_name(&["buy", "sell"]).prop_map(|s| OrderSide::from(s.as_str()))),
        prop::option::of(
            any_name(&["buy_to_open", "sell_to_close"])
                .prop_map(|s| PositionIntent::from(s.as_str())),
        ),
        any_name(&["day", "gtc", "ioc"]).prop_map(|s| TimeInForce::from(s.as_str())),
        any_name(&["new", "filled", "canceled"]).prop_map(|s| OrderStatus::from(s.as_str())),
        any::<bool>(),
    );
    let amounts = (
        (any_decimal(), any_decimal(), any_decimal(), any_decimal()),
        (any_decimal(), any_decimal()),
        (any_decimal(), any_decimal(), any_decimal(), any_decimal()),
    );
    (ids, times, what, amounts, legs).prop_map(|(ids, times, what, amounts, legs)| Order {
        id: ids.0,
        client_order_id: ids.1,
        created_at: times.0.0,
        updated_at: times.0.1,
        submitted_at: times.0.2,
        filled_at: times.1.0,
        expired_at: times.1.1,
        expires_at: times.1.2,
        canceled_at: times.2.0,
        failed_at: times.2.1,
        replaced_at: times.2.2,
        replaced_by: ids.2,
        replaces: ids.3,
        asset_id: ids.4,
        symbol: what.0,
        asset_class: what.1,
        notional: amounts.0.0,
        qty: amounts.0.1,
        filled_qty: amounts.0.2,
        filled_avg_price: amounts.0.3,
        order_class: what.2,
        order_type: what.3,
        r#type: what.4,
        side: what.5,
        position_intent: what.6,
        time_in_force: what.7,
        limit_price: amounts.1.0,
        stop_price: amounts.1.1,
        status: what.8,
        extended_hours: what.9,
        legs,
        trail_percent: amounts.2.0,
        trail_price: amounts.2.1,
        hwm: amounts.2.2,
        ratio_qty: amounts.2.3,
    })
}

/// Orders with no legs, empty legs, or up to 20 legs (arrays past 16).
fn any_order() -> impl Strategy<Value = Order> {
    let leaf = any_order_with(prop::option::of(Just(Vec::new())));
    any_order_with(prop::option::of(prop::collection::vec(leaf, 0..20)))
}

pub(super) fn any_trade_update() -> impl Strategy<Value = TradeUpdate> {
    (
        any_name(&["new", "fill", "partial_fill", "canceled"])
            .prop_map(|s| TradeEvent::from(s.as_str())),
        prop::option::of(any_text()),
        any_order(),
        any_opt_timestamp(),
        (any_decimal(), any_decimal(), any_decimal()),
    )
        .prop_map(
            |(event, execution_id, order, timestamp, (price, qty, position_qty))| TradeUpdate {
                event,
                execution_id,
                order,
                timestamp,
                price,
                qty,
                position_qty,
            },
        )
}

/// A map's entries in the order written, repeated keys included (which a
/// `serde_json::Value` would merge and sort): serialized as one map.
#[derive(Debug, Clone)]
pub(super) struct Entries(pub(super) Vec<(String, serde_json::Value)>);

impl serde::Serialize for Entries {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
