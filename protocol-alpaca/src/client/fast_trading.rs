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

use crate::model::trading::{Decimal, Order, OrderClass, TradeEvent, TradeUpdate};
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
        b"data" if stream_read => put(&mut update, trade_update(r)?),
        _ => None,
    })?;
    let update = update?;
    r.at_end().then_some(update)
}

fn trade_update<'a, R: FieldReader<'a>>(r: &mut R) -> Option<TradeUpdate> {
    let (mut event, mut execution_id, mut order, mut timestamp) = (None, None, None, None);
    let (mut price, mut qty, mut position_qty) = (None, None, None);
    r.map(|r, key| match key {
        b"event" => put(&mut event, TradeEvent::from(r.str()?)),
        b"execution_id" => put(&mut execution_id, opt_string(r)?),
        b"order" => put(&mut order, self::order(r, 0)?),
        b"timestamp" => put(&mut timestamp, opt_timestamp(r)?),
        b"price" => put(&mut price, opt_decimal(r)?),
        b"qty" => put(&mut qty, opt_decimal(r)?),
        b"position_qty" => put(&mut position_qty, opt_decimal(r)?),
        other => ignored(r, other),
    })?;
    Some(TradeUpdate {
        event: event?,
        execution_id: execution_id.flatten(),
        order: order?,
        timestamp: timestamp.flatten(),
        price: price.flatten(),
        qty: qty.flatten(),
        position_qty: position_qty.flatten(),
    })
}

/// The order's fields as read so far: each `None` until its key is met.
#[derive(Default)]
struct OrderFields {
    id: Option<String>,
    client_order_id: Option<String>,
    created_at: Option<Timestamp>,
    updated_at: Option<Timestamp>,
    submitted_at: Option<Timestamp>,
    filled_at: Option<Option<Timestamp>>,
    expired_at: Option<Option<Timestamp>>,
    expires_at: Option<Option<Timestamp>>,
    canceled_at: Option<Option<Timestamp>>,
    failed_at: Option<Option<Timestamp>>,
    replaced_at: Option<Option<Timestamp>>,
    replaced_by: Option<Option<String>>,
    replaces: Option<Option<String>>,
    asset_id: Option<Option<String>>,
    symbol: Option<Option<Symbol>>,
    asset_class: Option<Option<crate::model::trading::AssetClass>>,
    notional: Option<Option<Decimal>>,
    qty: Option<Option<Decimal>>,
    filled_qty: Option<Option<Decimal>>,
    filled_avg_price: Option<Option<Decimal>>,
    order_class: Option<OrderClass>,
    order_type: Option<Option<crate::model::trading::OrderType>>,
    r#type: Option<Option<crate::model::trading::OrderType>>,
    side: Option<Option<crate::model::trading::OrderSide>>,
    position_intent: Option<Option<crate::model::trading::PositionIntent>>,
    time_in_force: Option<crate::model::trading::TimeInForce>,
    limit_price: Option<Option<Decimal>>,
    stop_price: Option<Option<Decimal>>,
    status: Option<crate::model::trading::OrderStatus>,
    extended_hours: Option<bool>,
    legs: Option<Option<Vec<Order>>>,
    trail_percent: Option<Option<Decimal>>,
    trail_price: Option<Option<Decimal>>,
    hwm: Option<Option<Decimal>>,
    ratio_qty: Option<Option<Decimal>>,
}

fn order<'a, R: FieldReader<'a>>(r: &mut R, depth: usize) -> Option<Order> {
    if depth > LEG_DEPTH_MAX {
        return None;
    }
    let mut f = OrderFields::default();
    r.map(|r, key| match key {
        b"id" => put(&mut f.id, r.str()?.to_owned()),
        b"client_order_id" => put(&mut f.client_order_id, r.str()?.to_owned()),
        b"created_at" => put(&mut f.created_at, r.timestamp()?),
        b"updated_at" => put(&mut f.updated_at, r.timestamp()?),
        b"submitted_at" => put(&mut f.submitted_at, r.timestamp()?),
        b"filled_at" => put(&mut f.filled_at, opt_timestamp(r)?),
        b"expired_at" => put(&mut f.expired_at, opt_timestamp(r)?),
        b"expires_at" => put(&mut f.expires_at, opt_timestamp(r)?),
        b"canceled_at" => put(&mut f.canceled_at, opt_timestamp(r)?),
        b"failed_at" => put(&mut f.failed_at, opt_timestamp(r)?),
        b"replaced_at" => put(&mut f.replaced_at, opt_timestamp(r)?),
        b"replaced_by" => put(&mut f.replaced_by, opt_string(r)?),
        b"replaces" => put(&mut f.replaces, opt_string(r)?),
        b"asset_id" => put(&mut f.asset_id, opt_string(r)?),
        b"symbol" => put(
            &mut f.symbol,
            opt(r, |r| Some(Symbol::from_server(r.str()?)))?,
        ),
        b"asset_class" => put(&mut f.asset_class, opt_name(r)?),
        b"notional" => put(&mut f.notional, opt_decimal(r)?),
        b"qty" => put(&mut f.qty, opt_decimal(r)?),
        b"filled_qty" => put(&mut f.filled_qty, opt_decimal(r)?),
        b"filled_avg_price" => put(&mut f.filled_avg_price, opt_decimal(r)?),
        b"order_class" => put(&mut f.order_class, order_class(r)?),
        b"order_type" => put(&mut f.order_type, opt_name(r)?),
        b"type" => put(&mut f.r#type, opt_name(r)?),
        b"side" => put(&mut f.side, opt_name(r)?),
        b"position_intent" => put(&mut f.position_intent, opt_name(r)?),
        b"time_in_force" => put(&mut f.time_in_force, r.str()?.into()),
        b"limit_price" => put(&mut f.limit_price, opt_decimal(r)?),
        b"stop_price" => put(&mut f.stop_price, opt_decimal(r)?),
        b"status" => put(&mut f.status, r.str()?.into()),
        b"extended_hours" => put(&mut f.extended_hours, r.bool()?),
        b"legs" => put(&mut f.legs, opt(r, |r| legs(r, depth))?),
        b"trail_percent" => put(&mut f.trail_percent, opt_decimal(r)?),
        b"trail_price" => put(&mut f.trail_price, opt_decimal(r)?),
        b"hwm" => put(&mut f.hwm, opt_decimal(r)?),
        b"ratio_qty" => put(&mut f.ratio_qty, opt_decimal(r)?),
        other => ignored(r, other),
    })?;
    Some(Order {
        id: f.id?,
        client_order_id: f.client_order_id?,
        created_at: f.created_at?,
        updated_at: f.updated_at?,
        submitted_at: f.submitted_at?,
        filled_at: f.filled_at.flatten(),
        expired_at: f.expired_at.flatten(),
        expires_at: f.expires_at.flatten(),
        canceled_at: f.canceled_at.flatten(),
        failed_at: f.failed_at.flatten(),
        replaced_at: f.replaced_at.flatten(),
        replaced_by: f.replaced_by.flatten(),
        replaces: f.replaces.flatten(),
        asset_id: f.asset_id.flatten(),
        symbol: f.symbol.flatten(),
        asset_class: f.asset_class.flatten(),
        notional: f.notional.flatten(),
        qty: f.qty.flatten(),
        filled_qty: f.filled_qty.flatten(),
        filled_avg_price: f.filled_avg_price.flatten(),
        order_class: f.order_class.unwrap_or_default(),
        order_type: f.order_type.flatten(),
        r#type: f.r#type.flatten(),
        side: f.side.flatten(),
        position_intent: f.position_intent.flatten(),
        time_in_force: f.time_in_force?,
        limit_price: f.limit_price.flatten(),
        stop_price: f.stop_price.flatten(),
        status: f.status?,
        extended_hours: f.extended_hours.unwrap_or_default(),
        legs: f.legs.flatten(),
        trail_percent: f.trail_percent.flatten(),
        trail_price: f.trail_price.flatten(),
        hwm: f.hwm.flatten(),
        ratio_qty: f.ratio_qty.flatten(),
    })
}

fn legs<'a, R: FieldReader<'a>>(r: &mut R, depth: usize) -> Option<Vec<Order>> {
    let mut legs = Vec::new();
    r.array(|r| {
        legs.push(order(r, depth + 1)?);
        Some(())
    })?;
    Some(legs)
}

/// `null` as `None`, or what `value` reads.
fn opt<'a, R: FieldReader<'a>, T>(
    r: &mut R,
    value: impl FnOnce(&mut R) -> Option<T>,
) -> Option<Option<T>> {
    if r.null()? {
        return Some(None);
    }
    value(r).map(Some)
}

fn opt_string<'a, R: FieldReader<'a>>(r: &mut R) -> Option<Option<String>> {
    Some(r.opt_str()?.map(str::to_owned))
}

fn opt_timestamp<'a, R: FieldReader<'a>>(r: &mut R) -> Option<Option<Timestamp>> {
    opt(r, R::timestamp)
}

/// A decimal sent as a string (a number is left to the serde path, which
/// formats it).
fn opt_decimal<'a, R: FieldReader<'a>>(r: &mut R) -> Option<Option<Decimal>> {
    opt(r, |r| r.str().map(Decimal::new))
}

/// One of the string enums, which keep names they do not know.
fn opt_name<'a, R: FieldReader<'a>, T: for<'s> From<&'s str>>(r: &mut R) -> Option<Option<T>> {
    opt(r, |r| r.str().map(T::from))
}

/// `simple` when `null` or empty, as the serde path reads it.
fn order_class<'a, R: FieldReader<'a>>(r: &mut R) -> Option<OrderClass> {
    Some(match opt_name::<R, OrderClass>(r)? {
        None => OrderClass::Simple,
        Some(OrderClass::Other(empty)) if empty.is_empty() => OrderClass::Simple,
        Some(class) => class,
    })
}

/// A field the serde path ignores: skipped when its key is text and its
/// value a scalar (what the serde path would check of it).
fn ignored<'a, R: FieldReader<'a>>(r: &mut R, key: &[u8]) -> Option<()> {
    std::str::from_utf8(key).ok()?;
    r.skip_scalar()
}
