//! What a data message is on NATS: Alpaca's own MessagePack framing of
//! that one message.

use bytes::{Bytes, BytesMut};
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

/// Room taken at once for the payloads of many messages: they share one
/// allocation, each [`Bytes`] a slice of it, freed when the last is sent.
const ARENA_BYTES: usize = 64 * 1024;

/// Writes payloads as [`payload`] does, into one shared buffer instead of
/// an allocation per message. Each payload keeps its whole buffer alive:
/// one kept for long (a cache of last values) should be copied out
/// (`Bytes::copy_from_slice`) so that it holds only its own bytes.
#[derive(Debug)]
pub(crate) struct PayloadWriter {
    /// One message's frame, reused.
    scratch: Vec<u8>,
    /// Where the payloads live; each is split off it.
    arena: BytesMut,
    /// Bytes taken at once when the arena is full.
    arena_bytes: usize,
}

impl Default for PayloadWriter {
    fn default() -> Self {
        Self::with_arena(ARENA_BYTES)
    }
}

impl PayloadWriter {
    /// A writer taking `arena_bytes` at once (or one payload's, if larger).
    fn with_arena(arena_bytes: usize) -> Self {
        Self {
            scratch: Vec::new(),
            arena: BytesMut::new(),
            arena_bytes,
        }
    }

    /// The payload of `message`, byte for byte [`payload`]'s.
    pub(crate) fn payload(&mut self, message: &MarketData) -> Bytes {
        self.scratch.clear();
        ServerMessage::append_data_frame(Encoding::MsgPack, &[message], &mut self.scratch);
        if self.arena.capacity() < self.scratch.len() {
            self.arena.reserve(self.arena_bytes.max(self.scratch.len()));
        }
        self.arena.extend_from_slice(&self.scratch);
        self.arena.split().freeze()
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
        /// Each payload is byte for byte the one written alone, and stays
        /// so while later ones are written, whether the shared buffer is
        /// smaller or larger than the payloads.
        #[test]
        fn shared_payloads_are_the_payloads(
            messages in prop::collection::vec(any_message(), 0..60),
            arena_bytes in 0usize..600,
        ) {
            let mut writer = PayloadWriter::with_arena(arena_bytes);
            let written: Vec<Bytes> = messages.iter().map(|m| writer.payload(m)).collect();
            for (message, bytes) in messages.iter().zip(&written) {
                prop_assert_eq!(bytes, &payload(message));
            }
        }
    }
}
