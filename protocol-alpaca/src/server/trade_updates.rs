//! Trade update frames written directly, byte for byte as serde writes
//! `{"stream":"trade_updates","data":TradeUpdate}`: fields in declaration
//! order, the update's optional ones left out, the order's written as `null`.

use crate::Encoding;
use crate::Frame;
use crate::model::trading::{Decimal, Order, TradeUpdate};
use crate::server::writer::{JsonWriter, MsgPackWriter, ServerWriter};

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
    // Every field named, so that a new one stops compilation here.
    let TradeUpdate {
        event,
        execution_id,
        order: o,
        timestamp,
        price,
        qty,
        position_qty,
    } = u;
    let optional = [
        execution_id.is_some(),
        timestamp.is_some(),
        price.is_some(),
        qty.is_some(),
        position_qty.is_some(),
    ];
    w.map(2 + optional.into_iter().filter(|&written| written).count());
    w.key("event");
    w.str(event.as_str());
    if let Some(id) = execution_id {
        w.key("execution_id");
        w.str(id);
    }
    w.key("order");
    order(w, o);
    if let Some(timestamp) = *timestamp {
        w.key("timestamp");
        w.timestamp(timestamp);
    }
    for (key, value) in [
        ("price", price),
        ("qty", qty),
        ("position_qty", position_qty),
    ] {
        if let Some(value) = value {
            w.key(key);
            w.str(value.as_str());
        }
    }
    w.end_map();
}

fn order<W: ServerWriter>(w: &mut W, o: &Order) {
    // Every field named, so that a new one stops compilation here; all 35
    // are written (debug builds check the count).
    let Order {
        id,
        client_order_id,
        created_at,
        updated_at,
        submitted_at,
        filled_at,
        expired_at,
        expires_at,
        canceled_at,
        failed_at,
        replaced_at,
        replaced_by,
        replaces,
        asset_id,
        symbol,
        asset_class,
        notional,
        qty,
        filled_qty,
        filled_avg_price,
        order_class,
        order_type,
        r#type,
        side,
        position_intent,
        time_in_force,
        limit_price,
        stop_price,
        status,
        extended_hours,
        legs,
        trail_percent,
        trail_price,
        hwm,
        ratio_qty,
    } = o;
    w.map(35);
    w.key("id");
    w.str(id);
    w.key("client_order_id");
    w.str(client_order_id);
    w.key("created_at");
    w.timestamp(*created_at);
    w.key("updated_at");
    w.timestamp(*updated_at);
    w.key("submitted_at");
    w.timestamp(*submitted_at);
    for (key, value) in [
        ("filled_at", filled_at),
        ("expired_at", expired_at),
        ("expires_at", expires_at),
        ("canceled_at", canceled_at),
        ("failed_at", failed_at),
        ("replaced_at", replaced_at),
    ] {
        w.key(key);
        w.opt_timestamp(*value);
    }
    w.key("replaced_by");
    w.opt_str(replaced_by.as_deref());
    w.key("replaces");
    w.opt_str(replaces.as_deref());
    w.key("asset_id");
    w.opt_str(asset_id.as_deref());
    w.key("symbol");
    match symbol {
        Some(symbol) => w.symbol(symbol),
        None => w.null(),
    }
    w.key("asset_class");
    w.opt_str(asset_class.as_ref().map(|c| c.as_str()));
    decimal(w, "notional", notional);
    decimal(w, "qty", qty);
    decimal(w, "filled_qty", filled_qty);
    decimal(w, "filled_avg_price", filled_avg_price);
    w.key("order_class");
    w.str(order_class.as_str());
    w.key("order_type");
    w.opt_str(order_type.as_ref().map(|t| t.as_str()));
    w.key("type");
    w.opt_str(r#type.as_ref().map(|t| t.as_str()));
    w.key("side");
    w.opt_str(side.as_ref().map(|s| s.as_str()));
    w.key("position_intent");
    w.opt_str(position_intent.as_ref().map(|p| p.as_str()));
    w.key("time_in_force");
    w.str(time_in_force.as_str());
    decimal(w, "limit_price", limit_price);
    decimal(w, "stop_price", stop_price);
    w.key("status");
    w.str(status.as_str());
    w.key("extended_hours");
    w.bool(*extended_hours);
    w.key("legs");
    match legs {
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
    decimal(w, "trail_percent", trail_percent);
    decimal(w, "trail_price", trail_price);
    decimal(w, "hwm", hwm);
    decimal(w, "ratio_qty", ratio_qty);
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
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::TradingServerMessage;
    use crate::strategies::any_trade_update;

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
