//! Trade update frames written directly, byte for byte as serde writes
//! `{"stream":"trade_updates","data":TradeUpdate}`: fields in declaration
//! order, the update's optional ones left out, the order's written as `null`.

use super::Encoding;
use super::server_writer::{JsonWriter, MsgPackWriter, ServerWriter};
use super::trading::{Decimal, Order, TradeUpdate};
use crate::Frame;

/// The fields of [`Order`], all always written.
const ORDER_FIELDS: usize = 35;

/// One trade update frame: JSON in a binary frame, or MessagePack.
pub(super) fn trade_update_frame(encoding: Encoding, update: &TradeUpdate) -> Frame {
    let bytes = match encoding {
        Encoding::Json => {
            let mut w = JsonWriter::new();
            stream_message(&mut w, update);
            w.into_bytes()
        }
        Encoding::MsgPack => {
            let mut w = MsgPackWriter::new();
            stream_message(&mut w, update);
            w.into_bytes()
        }
    };
    Frame::Binary(bytes.into())
}

fn stream_message<W: ServerWriter>(w: &mut W, update: &TradeUpdate) {
    w.map(2);
    w.key("stream");
    w.str("trade_updates");
    w.key("data");
    trade_update(w, update);
    w.end_map();
}

fn trade_update<W: ServerWriter>(w: &mut W, u: &TradeUpdate) {
    let fields = 2
        + usize::from(u.execution_id.is_some())
        + usize::from(u.timestamp.is_some())
        + usize::from(u.price.is_some())
        + usize::from(u.qty.is_some())
        + usize::from(u.position_qty.is_some());
    w.map(fields);
    w.key("event");
    w.str(u.event.as_str());
    if let Some(id) = &u.execution_id {
        w.key("execution_id");
        w.str(id);
    }
    w.key("order");
    order(w, &u.order);
    if let Some(timestamp) = u.timestamp {
        w.key("timestamp");
        w.timestamp(timestamp);
    }
    for (key, value) in [
        ("price", &u.price),
        ("qty", &u.qty),
        ("position_qty", &u.position_qty),
    ] {
        if let Some(value) = value {
            w.key(key);
            w.str(value.as_str());
        }
    }
    w.end_map();
}

fn order<W: ServerWriter>(w: &mut W, o: &Order) {
    w.map(ORDER_FIELDS);
    w.key("id");
    w.str(&o.id);
    w.key("client_order_id");
    w.str(&o.client_order_id);
    w.key("created_at");
    w.timestamp(o.created_at);
    w.key("updated_at");
    w.timestamp(o.updated_at);
    w.key("submitted_at");
    w.timestamp(o.submitted_at);
    for (key, value) in [
        ("filled_at", o.filled_at),
        ("expired_at", o.expired_at),
        ("expires_at", o.expires_at),
        ("canceled_at", o.canceled_at),
        ("failed_at", o.failed_at),
        ("replaced_at", o.replaced_at),
    ] {
        w.key(key);
        w.opt_timestamp(value);
    }
    w.key("replaced_by");
    w.opt_str(o.replaced_by.as_deref());
    w.key("replaces");
    w.opt_str(o.replaces.as_deref());
    w.key("asset_id");
    w.opt_str(o.asset_id.as_deref());
    w.key("symbol");
    match &o.symbol {
        Some(symbol) => w.symbol(symbol),
        None => w.null(),
    }
    w.key("asset_class");
    w.opt_str(o.asset_class.as_ref().map(|c| c.as_str()));
    decimal(w, "notional", &o.notional);
    decimal(w, "qty", &o.qty);
    decimal(w, "filled_qty", &o.filled_qty);
    decimal(w, "filled_avg_price", &o.filled_avg_price);
    w.key("order_class");
    w.str(o.order_class.as_str());
    w.key("order_type");
    w.opt_str(o.order_type.as_ref().map(|t| t.as_str()));
    w.key("type");
    w.opt_str(o.r#type.as_ref().map(|t| t.as_str()));
    w.key("side");
    w.opt_str(o.side.as_ref().map(|s| s.as_str()));
    w.key("position_intent");
    w.opt_str(o.position_intent.as_ref().map(|p| p.as_str()));
    w.key("time_in_force");
    w.str(o.time_in_force.as_str());
    decimal(w, "limit_price", &o.limit_price);
    decimal(w, "stop_price", &o.stop_price);
    w.key("status");
    w.str(o.status.as_str());
    w.key("extended_hours");
    w.bool(o.extended_hours);
    w.key("legs");
    match &o.legs {
        Some(legs) => {
            w.array(legs.len());
            for leg in legs {
                w.element();
                order(w, leg);
            }
            w.end_array();
        }
        None => w.null(),
    }
    decimal(w, "trail_percent", &o.trail_percent);
    decimal(w, "trail_price", &o.trail_price);
    decimal(w, "hwm", &o.hwm);
    decimal(w, "ratio_qty", &o.ratio_qty);
    w.end_map();
}

/// A decimal field, as a string or `null`.
// Inlined so that each key's length is a constant.
#[inline(always)]
fn decimal<W: ServerWriter>(w: &mut W, key: &'static str, value: &Option<Decimal>) {
    w.key(key);
    w.opt_str(value.as_ref().map(Decimal::as_str));
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Symbol;
    use crate::protocol::alpaca::TradingServerMessage;
    use crate::protocol::alpaca::server_data::tests::{any_text, any_timestamp};
    use crate::protocol::alpaca::trading::{
        AssetClass, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent, TimeInForce,
        TradeEvent,
    };

    /// A known wire name or any text (kept as `Other`).
    fn any_name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(known).prop_map(str::to_owned),
            1 => any_text(),
        ]
    }

    fn any_decimal() -> impl Strategy<Value = Option<Decimal>> {
        prop::option::of(
            prop_oneof!["[0-9]{1,6}(\\.[0-9]{1,4})?", any_text()].prop_map(Decimal::new),
        )
    }

    fn any_opt_timestamp() -> impl Strategy<Value = Option<crate::Timestamp>> {
        prop::option::of(any_timestamp())
    }

    /// An order whose legs are `legs`.
    fn any_order_with(
        legs: impl Strategy<Value = Option<Vec<Order>>>,
    ) -> impl Strategy<Value = Order> {
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
                any_name(&["market", "limit", "stop_limit"])
                    .prop_map(|s| OrderType::from(s.as_str())),
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

    pub(in crate::protocol::alpaca) fn any_trade_update() -> impl Strategy<Value = TradeUpdate> {
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// The direct writer gives the bytes of serde's trading frame.
        #[test]
        fn trade_update_frames_match_serde(update in any_trade_update()) {
            let message = TradingServerMessage::TradeUpdate(Box::new(update.clone()));
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let serde = match encoding.frame(&message) {
                    Frame::Text(bytes) => Frame::Binary(bytes),
                    other => other,
                };
                prop_assert_eq!(trade_update_frame(encoding, &update), serde);
            }
        }
    }
}
