//! A data message framed alone, as Alpaca frames data on its MessagePack
//! streams: what a snapshot holds, and what the relay gathers per subject
//! into the arrays it publishes ([`crate::subject_batch`]).

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

/// Writes messages framed as [`payload`] frames them, into one buffer
/// reused from message to message (no allocation per message).
#[derive(Debug, Default)]
pub(crate) struct FrameWriter {
    scratch: Vec<u8>,
}

impl FrameWriter {
    /// `message` alone in a frame, byte for byte [`payload`]'s; valid
    /// until the next call.
    pub(crate) fn frame(&mut self, message: &MarketData) -> &[u8] {
        self.scratch.clear();
        ServerMessage::append_data_frame(Encoding::MsgPack, &[message], &mut self.scratch);
        &self.scratch
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tickwire_alpaca::{Imbalance, Quote};
    use tickwire_core::{Symbol, Timestamp};

    use super::*;

    fn any_message() -> impl Strategy<Value = MarketData> {
        let symbol = "[A-Z]{1,5}(\\.[A-Z])?".prop_map(|s| Symbol::new(&s).expect("a valid symbol"));
        let quote = (
            symbol.clone(),
            any::<f64>(),
            any::<f64>(),
            proptest::option::of("[A-Z]{1,3}"),
            prop::collection::vec("[A-Z ]{0,40}", 0..4),
            any::<i64>(),
        )
            .prop_map(|(symbol, bid, ask, tape, conditions, nanos)| {
                MarketData::Quote(Quote {
                    symbol,
                    bid_exchange: Some("V".into()),
                    bid_price: bid,
                    bid_size: 1.0,
                    ask_exchange: None,
                    ask_price: ask,
                    ask_size: 2.0,
                    conditions: conditions.iter().map(String::as_str).collect(),
                    timestamp: Timestamp::from_unix_nanos(nanos),
                    tape: tape.map(Into::into),
                })
            });
        let imbalance = (symbol, any::<f64>(), any::<i64>()).prop_map(|(symbol, price, nanos)| {
            MarketData::Imbalance(Imbalance {
                symbol,
                price,
                timestamp: Timestamp::from_unix_nanos(nanos),
                tape: None,
            })
        });
        prop_oneof![quote, imbalance]
    }

    proptest! {
        /// Each frame is byte for byte the payload written alone.
        #[test]
        fn frames_are_the_payloads(messages in prop::collection::vec(any_message(), 0..60)) {
            let mut writer = FrameWriter::default();
            for message in &messages {
                prop_assert_eq!(writer.frame(message), &payload(message)[..]);
            }
        }
    }
}
