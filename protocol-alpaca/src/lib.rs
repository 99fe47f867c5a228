//! Alpaca's market data v2 and trading (`trade_updates`) streams.
//!
//! - [`AlpacaMarketData`] and [`AlpacaTrading`]: the client side, as
//!   [`Dialect`](tickwire_core::protocol::Dialect)s for the machine.
//! - [`MarketData`] and [`TradeUpdate`]: the typed messages they deliver.
//! - [`Feed`]: the market data feeds, with the channels each offers.
//! - [`OrderReconciler`]: an account stream's order states that a gap hid,
//!   fetched from the REST order list (sans-I/O).
//! - With the `server` feature, `decode_client_message`,
//!   `encode_market_frame` and `encode_trading_frame`: the server side, for
//!   simulated exchanges.
//!
//! Inside, `model` holds the messages, `wire` the bytes of either
//! encoding, and `client` and `server` each side's codecs; imports point
//! from the sides to the wire to the model, never back.
//!
//! Both directions speak JSON or MessagePack ([`Encoding`]); decoders accept
//! either whatever the configured encoding, telling them apart by the first
//! byte. In MessagePack, timestamps are the Timestamp extension (type -1).

mod client;
#[cfg(test)]
#[path = "../tests/codec_support/documented_ack.rs"]
mod documented_ack;
#[cfg(test)]
#[path = "../tests/codec_support/inbound_kinds.rs"]
mod inbound_kinds;
mod model;
#[cfg(test)]
#[path = "../tests/codec_support/mutation.rs"]
mod mutation;
#[cfg(feature = "server")]
mod server;
#[cfg(test)]
mod strategies;
mod wire;

pub use client::backfill::{Backfill, UnknownBackfill};
pub use client::credentials::{CREDENTIAL_VARS, KEY_ID_ENV, SECRET_KEY_ENV, credentials_from_env};
pub use client::market_backfill::{
    BACKFILL_SYMBOLS_PER_REQUEST, BackfillOutput, DataFetch, MARKET_PAGE_LIMIT, MarketBackfill,
    TradeKey, trade_key,
};
pub use client::market_dialect::AlpacaMarketData;
pub use client::order_reconcile::{
    ORDERS_PAGE_LIMIT, OrderFetch, OrderReconciler, OrderStateKey, ReconcileOutput,
    order_state_key, query_escaped,
};
pub use client::request::AuthForm;
pub use client::trading_dialect::AlpacaTrading;
pub use model::channel::{Channel, UnknownChannel};
pub use model::conditions::Conditions;
pub use model::feed::{DATA_HOST, Feed, LIVE_TRADING_URL, PAPER_TRADING_URL, TRADING_PATH};
pub use model::market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, OrderbookLevel,
    Quote, Trade, TradingStatus,
};
pub use model::trading::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate,
};
pub use model::verdicts::{verdict_for_code, verdict_for_trading_error};
#[cfg(feature = "server")]
pub use server::messages::{
    ServerMessage, TradingServerMessage, encode_market_frame, encode_trading_frame,
};
#[cfg(feature = "server")]
pub use server::request_decode::{ClientMessage, decode_client_message};

/// A set of Alpaca (channel, symbol) pairs.
pub type SubscriptionSet = tickwire_core::SubscriptionSet<Channel>;

// Paths inside this crate read `crate::Symbol` etc. as they did in one crate.
use tickwire_core::{Credentials, Frame, MSGPACK_TIMESTAMP_EXT_TYPE, Symbol, Timestamp};

/// The `User-Agent` sent at the upgrade.
pub const USER_AGENT: &str = concat!("tickwire/", env!("CARGO_PKG_VERSION"));

/// How messages are encoded on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// JSON (text frames from the client).
    Json,
    /// MessagePack in binary frames, asked for with `Content-Type: application/msgpack`.
    #[default]
    MsgPack,
}
