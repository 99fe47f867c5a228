//! Alpaca's side: the messages a stream delivers, its channels, and where
//! its credentials live.
//!
//! From `tickwire-alpaca`. The exchange's side of the wire (request
//! decoding, frame encoding) stays there; the simulated exchange uses it.

// Market data messages.
pub use tickwire_alpaca::{
    Bar, CancelError, Conditions, Correction, Imbalance, Luld, MarketData, News, Orderbook,
    OrderbookLevel, Quote, Trade, TradingStatus,
};

// An account's trade updates.
pub use tickwire_alpaca::{
    AssetClass, Decimal, Order, OrderClass, OrderSide, OrderStatus, OrderType, PositionIntent,
    TimeInForce, TradeEvent, TradeUpdate,
};

// Channels, encodings, credentials.
pub use tickwire_alpaca::{
    CREDENTIAL_VARS, Channel, Encoding, KEY_ID_ENV, SECRET_KEY_ENV, SubscriptionSet,
    UnknownChannel, credentials_from_env,
};

// The dialects, for a driver of your own around the machine.
pub use tickwire_alpaca::{AlpacaMarketData, AlpacaTrading};
