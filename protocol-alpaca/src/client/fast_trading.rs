//! The fast path for trade updates: a frame holding one
//! `{"stream":"trade_updates","data":{…}}` message, read field by field by
//! either [wire reader](FieldReader) straight into a
//! [`TradeUpdate`], with no serde visitor in between.
//!
//! The contract is the market fast path's: whenever it returns an update,
//! the serde path would have decoded the frame to that same update. It gives
//! up on anything it is not sure of — another stream, `data` before
//! `stream`, a repeated or missing field, a decimal sent as a number, an
//! ignored field holding a container, escapes — and the serde path decides.

use crate::client::fast_field::{FastField, FastStruct, fast_struct, opt, read_by};
use crate::model::trading::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate, trading_fields,
};
use crate::wire::field_reader::{FieldReader, put};
use crate::wire::frame::Wire;
use crate::wire::json_reader::JsonReader;
use crate::wire::msgpack_reader::MsgPackReader;
use crate::{Symbol, Timestamp};

/// Orders nested in legs deeper than this are left to the serde path (real
/// ones nest one level), which keeps the frame well inside the nesting limit.
const LEG_DEPTH_MAX: usize = 4;

/// The whole frame as one trade update, if the fast path is sure of it.
pub(crate) fn decode_frame(wire: Wire, bytes: &[u8]) -> Option<TradeUpdate> {
    match wire {
        Wire::Json => frame(&mut JsonReader::new(bytes)?),
        Wire::MsgPack => frame(&mut MsgPackReader::new(bytes)),
    }
}

/// The whole frame as one trade update, if it is one the fast path is sure of.
fn frame<'a, R: FieldReader<'a>>(r: &mut R) -> Option<TradeUpdate> {
    let mut stream_read = false;
    let mut update = None;
    r.map(|r, key| match key {
        b"stream" if !stream_read => {
            stream_read = true;
            (r.str()? == "trade_updates").then_some(())
        }
        b"data" if stream_read => put(&mut update, TradeUpdate::read_fields(r, 0, false)?),
        _ => None,
    })?;
    let update = update?;
    r.at_end().then_some(update)
}

trading_fields!(TradeUpdate => fast_struct skip_scalars);
trading_fields!(Order => fast_struct skip_scalars);

impl<'a> FastField<'a> for Order {
    type Raw = Self;
    fn read<R: FieldReader<'a>>(r: &mut R, depth: usize) -> Option<Self> {
        Self::read_fields(r, depth, false)
    }
    fn build(raw: Self) -> Self {
        raw
    }
}

impl<'a> FastField<'a> for Option<Vec<Order>> {
    type Raw = Self;
    fn build(raw: Self) -> Self {
        raw
    }
    fn read<R: FieldReader<'a>>(r: &mut R, depth: usize) -> Option<Self> {
        opt(r, |r| {
            if depth >= LEG_DEPTH_MAX {
                return None;
            }
            let mut legs = Vec::new();
            r.array(|r| {
                legs.push(Order::read_fields(r, depth + 1, false)?);
                Some(())
            })?;
            Some(legs)
        })
    }
}

/// Implements [`FastField`] for the string enums, which keep names they do
/// not know, and for their optional fields (`null` as `None`).
macro_rules! named {
    ($($ty:ty),+) => {
        read_by! { 'a; $(
            $ty => |r| r.str().map(<$ty>::from);
            Option<$ty> => |r| opt(r, |r| r.str().map(<$ty>::from));
        )+}
    };
}

named!(
    TradeEvent,
    TimeInForce,
    OrderStatus,
    AssetClass,
    OrderType,
    OrderSide,
    PositionIntent
);

read_by! { 'a;
    // A decimal sent as a string (a number is left to the serde path,
    // which formats it).
    Option<Decimal> => |r| opt(r, |r| r.str().map(Decimal::new));
    // `simple` when `null` or empty, as the serde path reads it.
    OrderClass => |r| Some(match opt(r, |r| r.str().map(OrderClass::from))? {
        None => OrderClass::Simple,
        Some(OrderClass::Other(empty)) if empty.is_empty() => OrderClass::Simple,
        Some(class) => class,
    });
}
