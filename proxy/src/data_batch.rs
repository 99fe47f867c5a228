//! One upstream batch of data messages, and frames of any subset of it:
//! each client receives its own messages of the batch in one frame.

use tickwire_alpaca::{Encoding, MarketData, ServerMessage};
use tickwire_core::Frame;

/// The messages of one upstream batch.
#[derive(Debug, Default)]
pub(crate) struct DataBatch {
    messages: Vec<MarketData>,
}

impl DataBatch {
    /// Empties the batch, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.messages.clear();
    }

    /// Adds a message; returns its index.
    pub(crate) fn push(&mut self, message: MarketData) -> usize {
        self.messages.push(message);
        self.messages.len() - 1
    }

    /// The message at `index`.
    pub(crate) fn get(&self, index: usize) -> &MarketData {
        &self.messages[index]
    }

    /// One frame of the messages at `indices`, in order, as Alpaca frames
    /// data: a JSON array (text) or a MessagePack array (binary), written in
    /// one pass into one buffer.
    pub(crate) fn frame(&self, encoding: Encoding, indices: &[usize]) -> Frame {
        let messages: Vec<&MarketData> = indices.iter().map(|&i| &self.messages[i]).collect();
        ServerMessage::data_frame(encoding, &messages)
    }
}

#[cfg(test)]
mod tests {
    use tickwire_alpaca::{Imbalance, encode_market_frame};
    use tickwire_core::{Symbol, Timestamp};

    use super::*;

    fn imbalance(symbol: &str, n: i64) -> MarketData {
        MarketData::Imbalance(Imbalance {
            symbol: Symbol::new(symbol).expect("valid"),
            price: 10.0 + n as f64,
            timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000 + n),
            tape: Some("C".into()),
        })
    }

    #[test]
    fn subset_frames_equal_the_encoders_own() {
        for count in [1usize, 2, 15, 16, 17, 40] {
            let mut batch = DataBatch::default();
            let messages: Vec<MarketData> =
                (0..count).map(|n| imbalance("AAPL", n as i64)).collect();
            for m in &messages {
                batch.push(m.clone());
            }
            // Every other message, in order.
            let indices: Vec<usize> = (0..count).step_by(2).collect();
            let messages: Vec<MarketData> = indices.iter().map(|&i| messages[i].clone()).collect();
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let wrapped: Vec<ServerMessage> =
                    messages.iter().cloned().map(ServerMessage::Data).collect();
                assert_eq!(
                    batch.frame(encoding, &indices),
                    encode_market_frame(encoding, &wrapped),
                    "{count} messages, {encoding:?}"
                );
            }
        }
    }
}
