//! Trading stream (`trade_updates`) messages: order events and the REST order
//! object they carry.
//!
//! Field types follow alpaca-py's pydantic models (`alpaca/trading/models.py`),
//! which validate strictly: the fields it requires are plain (non-`Option`)
//! here, optional ones serialize as `null` like the REST API, decimal amounts
//! are strings, and enum-like fields keep unknown values in `Other` instead of
//! failing.

use std::fmt;

use compact_str::{CompactString, ToCompactString};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::fields::wire_struct;
use crate::model::wire_enum::wire_enum;
use crate::{Symbol, Timestamp};

/// The trading stream's fields and wire keys, declared once (see
/// [`fields`](super::fields)), as [`market_fields!`](super::market) does for
/// market data; the keys are the fields' names.
macro_rules! trading_fields {
    (TradeUpdate => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// An order or fill event on the account stream (`stream: "trade_updates"`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        TradeUpdate {
            /// What happened.
            required event: TradeEvent;
            /// Id of the execution, on fills.
            optional execution_id: Option<String>;
            /// The order as it is after the event.
            required order: Order;
            /// When the event happened (alpaca-py requires it when parsing).
            optional timestamp: Option<Timestamp>;
            /// Fill price, on fills.
            optional price: Option<Decimal>;
            /// Fill quantity, on fills.
            optional qty: Option<Decimal>;
            /// Position size after the fill.
            optional position_qty: Option<Decimal>;
        }
    } };
    (Order => $callback:ident $($extra:tt)*) => { $callback! { $($extra)*
        /// The REST order object, as carried by [`TradeUpdate::order`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        Order {
            /// Order id (a UUID).
            required id: String;
            /// Client order id.
            required client_order_id: String;
            /// Creation time.
            required created_at: Timestamp;
            /// Last update.
            required updated_at: Timestamp;
            /// Submission time.
            required submitted_at: Timestamp;
            /// Fill time.
            or_default filled_at: Option<Timestamp>;
            /// Expiry time.
            or_default expired_at: Option<Timestamp>;
            /// Time of the automatic cancel, if any.
            or_default expires_at: Option<Timestamp>;
            /// Cancel time.
            or_default canceled_at: Option<Timestamp>;
            /// Failure time.
            or_default failed_at: Option<Timestamp>;
            /// Replace time.
            or_default replaced_at: Option<Timestamp>;
            /// Id of the order that replaced this one.
            or_default replaced_by: Option<String>;
            /// Id of the order this one replaced.
            or_default replaces: Option<String>;
            /// Asset id (a UUID); absent at the top of multi-leg orders.
            or_default asset_id: Option<String>;
            /// Symbol; absent at the top of multi-leg orders.
            or_default symbol: Option<Symbol>;
            /// Asset class.
            or_default asset_class: Option<AssetClass>;
            /// Notional amount (instead of `qty`).
            or_default notional: Option<Decimal>;
            /// Quantity ordered.
            or_default qty: Option<Decimal>;
            /// Quantity filled.
            or_default filled_qty: Option<Decimal>;
            /// Average fill price.
            or_default filled_avg_price: Option<Decimal>;
            /// Order class (`simple` when absent or empty).
            #[serde(deserialize_with = "order_class_or_simple")]
            or_default order_class: OrderClass;
            /// Order type (deprecated twin of `type`).
            or_default order_type: Option<OrderType>;
            /// Order type.
            or_default r#type: Option<OrderType> = "type";
            /// Side.
            or_default side: Option<OrderSide>;
            /// Position intent.
            or_default position_intent: Option<PositionIntent>;
            /// Time in force.
            required time_in_force: TimeInForce;
            /// Limit price.
            or_default limit_price: Option<Decimal>;
            /// Stop price.
            or_default stop_price: Option<Decimal>;
            /// Status.
            required status: OrderStatus;
            /// Whether the order may execute outside regular hours.
            or_default extended_hours: bool;
            /// Legs of bracket, OCO, OTO and multi-leg orders.
            or_default legs: Option<Vec<Order>>;
            /// Trailing stop distance in percent.
            or_default trail_percent: Option<Decimal>;
            /// Trailing stop distance in dollars.
            or_default trail_price: Option<Decimal>;
            /// High (low) water mark of a trailing stop.
            or_default hwm: Option<Decimal>;
            /// Ratio of a leg in a multi-leg order.
            or_default ratio_qty: Option<Decimal>;
        }
    } };

}

pub(crate) use trading_fields;

trading_fields!(TradeUpdate => wire_struct);
trading_fields!(Order => wire_struct);

wire_enum! {
    /// The kind of a [`TradeUpdate`]; unknown names are kept, never an error.
    pub enum TradeEvent {
        /// The order was routed to the exchange.
        New = "new",
        /// The order was completely filled.
        Fill = "fill",
        /// The order was partially filled.
        PartialFill = "partial_fill",
        /// The order was cancelled.
        Canceled = "canceled",
        /// The order expired.
        Expired = "expired",
        /// The order is done for the day.
        DoneForDay = "done_for_day",
        /// The order was replaced.
        Replaced = "replaced",
        /// The order was accepted but not yet routed.
        Accepted = "accepted",
        /// The order was rejected.
        Rejected = "rejected",
        /// The order was received but not yet accepted.
        PendingNew = "pending_new",
        /// The order was stopped (a fill is guaranteed).
        Stopped = "stopped",
        /// A cancel was requested.
        PendingCancel = "pending_cancel",
        /// A replace was requested.
        PendingReplace = "pending_replace",
        /// The order is done and its settlement is being calculated.
        Calculated = "calculated",
        /// The order was suspended.
        Suspended = "suspended",
        /// A replace request was rejected.
        OrderReplaceRejected = "order_replace_rejected",
        /// A cancel request was rejected.
        OrderCancelRejected = "order_cancel_rejected",
        /// The order was restated.
        Restated = "restated",
    }
}

wire_enum! {
    /// Order class (`simple` by default).
    #[derive(Default)]
    pub enum OrderClass {
        /// A single order.
        #[default]
        Simple = "simple",
        /// A multi-leg options order.
        Mleg = "mleg",
        /// Entry plus take-profit and stop-loss.
        Bracket = "bracket",
        /// One cancels other.
        Oco = "oco",
        /// One triggers other.
        Oto = "oto",
    }
}

wire_enum! {
    /// Order type.
    pub enum OrderType {
        /// Market.
        Market = "market",
        /// Limit.
        Limit = "limit",
        /// Stop.
        Stop = "stop",
        /// Stop limit.
        StopLimit = "stop_limit",
        /// Trailing stop.
        TrailingStop = "trailing_stop",
    }
}

wire_enum! {
    /// Order side.
    pub enum OrderSide {
        /// Buy.
        Buy = "buy",
        /// Sell.
        Sell = "sell",
    }
}

wire_enum! {
    /// Time in force.
    pub enum TimeInForce {
        /// Day.
        Day = "day",
        /// Good till cancelled.
        Gtc = "gtc",
        /// At the open.
        Opg = "opg",
        /// At the close.
        Cls = "cls",
        /// Immediate or cancel.
        Ioc = "ioc",
        /// Fill or kill.
        Fok = "fok",
    }
}

wire_enum! {
    /// Order status.
    pub enum OrderStatus {
        /// New.
        New = "new",
        /// Partially filled.
        PartiallyFilled = "partially_filled",
        /// Filled.
        Filled = "filled",
        /// Done for the day.
        DoneForDay = "done_for_day",
        /// Cancelled.
        Canceled = "canceled",
        /// Expired.
        Expired = "expired",
        /// Replaced.
        Replaced = "replaced",
        /// Cancel pending.
        PendingCancel = "pending_cancel",
        /// Replace pending.
        PendingReplace = "pending_replace",
        /// Accepted.
        Accepted = "accepted",
        /// Received, not yet accepted.
        PendingNew = "pending_new",
        /// Accepted for bidding.
        AcceptedForBidding = "accepted_for_bidding",
        /// Stopped.
        Stopped = "stopped",
        /// Rejected.
        Rejected = "rejected",
        /// Suspended.
        Suspended = "suspended",
        /// Calculated.
        Calculated = "calculated",
        /// Held (a leg waiting for its trigger).
        Held = "held",
    }
}

impl OrderStatus {
    /// Whether the order can change no more: filled, canceled, expired,
    /// replaced or rejected (what the REST list's `status=closed` returns).
    /// `done_for_day` is not: the order may trade again the next day.
    ///
    /// ```
    /// use tickwire_alpaca::OrderStatus;
    /// assert!(OrderStatus::Filled.is_closed());
    /// assert!(!OrderStatus::DoneForDay.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Expired | Self::Replaced | Self::Rejected
        )
    }
}

wire_enum! {
    /// Asset class.
    pub enum AssetClass {
        /// US equities.
        UsEquity = "us_equity",
        /// US options.
        UsOption = "us_option",
        /// Crypto.
        Crypto = "crypto",
    }
}

wire_enum! {
    /// Position intent of an order.
    pub enum PositionIntent {
        /// Buy to open.
        BuyToOpen = "buy_to_open",
        /// Buy to close.
        BuyToClose = "buy_to_close",
        /// Sell to open.
        SellToOpen = "sell_to_open",
        /// Sell to close.
        SellToClose = "sell_to_close",
    }
}

fn order_class_or_simple<'de, D: Deserializer<'de>>(d: D) -> Result<OrderClass, D::Error> {
    Ok(match Option::<OrderClass>::deserialize(d)? {
        None => OrderClass::Simple,
        Some(OrderClass::Other(empty)) if empty.is_empty() => OrderClass::Simple,
        Some(class) => class,
    })
}

/// A decimal amount kept as text, as the trading API sends it (`"189.1"`).
///
/// Decodes from a string or a number; always encodes as a string.
///
/// ```
/// use tickwire_alpaca::Decimal;
/// let d: Decimal = serde_json::from_str("12.5")?;
/// assert_eq!(d.as_str(), "12.5");
/// assert_eq!(d.to_f64(), Some(12.5));
/// assert_eq!(serde_json::to_string(&Decimal::new("3"))?, "\"3\"");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Decimal(CompactString);

impl Decimal {
    /// Wraps a decimal string (not validated).
    pub fn new(text: impl Into<CompactString>) -> Self {
        Self(text.into())
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as a float, if it parses.
    pub fn to_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<f64> for Decimal {
    fn from(value: f64) -> Self {
        Self(value.to_compact_string())
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecimalVisitor;
        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal as a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
                Ok(Decimal(CompactString::new(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_compact_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_compact_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Ok(Decimal::from(v))
            }
        }
        deserializer.deserialize_any(DecimalVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","client_order_id":"eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4","created_at":"2021-03-16T18:38:01.942282Z","updated_at":"2021-03-16T18:38:01.942282Z","submitted_at":"2021-03-16T18:38:01.937734Z","filled_at":null,"expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","asset_class":"us_equity","notional":"500","qty":null,"filled_qty":"0","filled_avg_price":null,"order_class":"","order_type":"market","type":"market","side":"buy","time_in_force":"day","limit_price":null,"stop_price":null,"status":"accepted","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null,"source":"access_key","subtag":null}"#;

    #[test]
    fn rest_order_object_decodes() {
        let order: Order = serde_json::from_str(ORDER).unwrap();
        assert_eq!(order.symbol.as_ref().map(Symbol::as_str), Some("AAPL"));
        assert_eq!(order.order_class, OrderClass::Simple);
        assert_eq!(order.r#type, Some(OrderType::Market));
        assert_eq!(order.status, OrderStatus::Accepted);
        assert_eq!(order.notional, Some(Decimal::new("500")));
        assert_eq!(order.qty, None);
        assert_eq!(
            order.submitted_at.to_string(),
            "2021-03-16T18:38:01.937734Z"
        );
        let json = serde_json::to_string(&order).unwrap();
        assert!(json.contains(r#""order_class":"simple""#), "{json}");
        assert!(json.contains(r#""filled_at":null"#), "{json}");
        assert_eq!(serde_json::from_str::<Order>(&json).unwrap(), order);
    }

    #[test]
    fn unknown_event_names_are_kept() {
        let e: TradeEvent = serde_json::from_str(r#""brand_new_event""#).unwrap();
        assert_eq!(e, TradeEvent::Other("brand_new_event".into()));
        assert_eq!(serde_json::to_string(&e).unwrap(), r#""brand_new_event""#);
        assert_eq!(
            TradeEvent::from("order_cancel_rejected"),
            TradeEvent::OrderCancelRejected
        );
    }

    #[test]
    fn decimals_accept_numbers() {
        let d: Decimal = serde_json::from_str("7").unwrap();
        assert_eq!(d.as_str(), "7");
        let d: Decimal = rmp_serde::from_slice(&rmp_serde::to_vec(&1.25f64).unwrap()).unwrap();
        assert_eq!(d.as_str(), "1.25");
    }
}
