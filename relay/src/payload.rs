//! What a data message is on NATS: Alpaca's own MessagePack framing of
//! that one message.

use bytes::Bytes;
use tickwire_alpaca::{Encoding, MarketData, ServerMessage};

/// The payload of `message`: a MessagePack array holding the message's map,
/// exactly as Alpaca frames data on its MessagePack streams (keys `T`, `S`,
/// `bp`, …), so any Alpaca MessagePack decoder reads it.
///
/// ```
/// use tickwire_alpaca::{Imbalance, MarketData};
/// use tickwire_core::{Symbol, Timestamp};
/// let message = MarketData::Imbalance(Imbalance {
///     symbol: Symbol::new("AAPL")?,
///     price: 10.5,
///     timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
///     tape: None,
/// });
/// let payload = tickwire_relay::payload(&message);
/// assert_eq!(payload[0], 0x91, "a one-element MessagePack array");
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn payload(message: &MarketData) -> Bytes {
    ServerMessage::data_frame(Encoding::MsgPack, &[message])
        .payload()
        .clone()
}
