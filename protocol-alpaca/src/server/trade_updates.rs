//! Trade update frames written directly, byte for byte as serde writes
//! `{"stream":"trade_updates","data":TradeUpdate}`: each struct's fields as
//! its entry in [`trading_fields!`] declares them (the update's optional
//! ones left out, the order's written as `null`).

use crate::Encoding;
use crate::Frame;
use crate::model::trading::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate, trading_fields,
};
use crate::server::field_writer::{FieldValue, WriteStruct, struct_writer, written_by};
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
    update.write_map(w, None);
    w.end_map();
}

trading_fields!(TradeUpdate => struct_writer);
trading_fields!(Order => struct_writer);

/// An order nested in an update or in another order's legs.
impl FieldValue for Order {
    fn write<W: ServerWriter>(&self, w: &mut W) {
        self.write_map(w, None);
    }
}

written_by! {
    Decimal => |value, w| w.str(value.as_str());
    TradeEvent => |value, w| w.str(value.as_str());
    OrderClass => |value, w| w.str(value.as_str());
    OrderType => |value, w| w.str(value.as_str());
    OrderSide => |value, w| w.str(value.as_str());
    PositionIntent => |value, w| w.str(value.as_str());
    TimeInForce => |value, w| w.str(value.as_str());
    OrderStatus => |value, w| w.str(value.as_str());
    AssetClass => |value, w| w.str(value.as_str());
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
