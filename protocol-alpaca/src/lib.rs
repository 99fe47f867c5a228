//! Alpaca's market data v2 and trading (`trade_updates`) streams.
//!
//! - [`AlpacaMarketData`] and [`AlpacaTrading`]: the client side, as
//!   [`Dialect`](tickwire_core::protocol::Dialect)s for the machine.
//! - [`MarketData`] and [`TradeUpdate`]: the typed messages they deliver.
//! - [`decode_client_message`], [`encode_market_frame`] and
//!   [`encode_trading_frame`]: the server side, for simulated exchanges.
//!
//! Both directions speak JSON or MessagePack ([`Encoding`]); decoders accept
//! either whatever the configured encoding, telling them apart by the first
//! byte. In MessagePack, timestamps are the Timestamp extension (type -1).

mod channel;
mod conditions;
mod credentials;
mod errors;
mod fast;
mod fast_control;
mod fast_json;
mod fast_msgpack;
mod fast_trading;
mod market;
mod market_decode;
mod market_dialect;
mod request;
mod server;
mod server_data;
mod server_decode;
mod server_trading;
mod server_writer;
#[cfg(test)]
mod strategies;
mod trading;
mod trading_dialect;
mod wire;
mod wire_enum;
mod wire_write;

pub use channel::{Channel, UnknownChannel};
pub use conditions::Conditions;
pub use credentials::{CREDENTIAL_VARS, KEY_ID_ENV, SECRET_KEY_ENV, credentials_from_env};
pub use errors::{verdict_for_code, verdict_for_trading_error};
pub use market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, OrderbookLevel,
    Quote, Trade, TradingStatus,
};
pub use market_dialect::AlpacaMarketData;
pub use request::AuthForm;
pub use server::{ServerMessage, TradingServerMessage, encode_market_frame, encode_trading_frame};
pub use server_decode::{ClientMessage, decode_client_message};
pub use trading::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate,
};
pub use trading_dialect::AlpacaTrading;

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
