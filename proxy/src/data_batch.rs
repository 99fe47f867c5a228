//! One upstream batch of data messages, encoded once per encoding and
//! assembled into one frame per client holding only that client's messages.

use bytes::{BufMut, Bytes, BytesMut};
use tickwire_alpaca::{Encoding, MarketData, ServerMessage};
use tickwire_core::Frame;

/// The messages of one upstream batch and their encodings, made on first use.
#[derive(Debug, Default)]
pub(crate) struct DataBatch {
    messages: Vec<MarketData>,
    /// Per message: its one-element JSON and MessagePack frames.
    json: Vec<Option<Bytes>>,
    msgpack: Vec<Option<Bytes>>,
}

impl DataBatch {
    /// Empties the batch, keeping its memory.
    pub(crate) fn clear(&mut self) {
        self.messages.clear();
        self.json.clear();
        self.msgpack.clear();
    }

    /// Adds a message; returns its index.
    pub(crate) fn push(&mut self, message: MarketData) -> usize {
        self.messages.push(message);
        self.json.push(None);
        self.msgpack.push(None);
        self.messages.len() - 1
    }

    /// The message at `index`.
    pub(crate) fn get(&self, index: usize) -> &MarketData {
        &self.messages[index]
    }

    /// One frame of the messages at `indices`, in order, as Alpaca frames
    /// data: a JSON array (text) or a MessagePack array (binary).
    pub(crate) fn frame(&mut self, encoding: Encoding, indices: &[usize]) -> Frame {
        if let [only] = indices {
            // One message: its cached one-element frame, shared, not copied.
            let bytes = self.single(encoding, *only).clone();
            return match encoding {
                Encoding::Json => Frame::Text(bytes),
                Encoding::MsgPack => Frame::Binary(bytes),
            };
        }
        let mut size = 8;
        for &i in indices {
            size += self.single(encoding, i).len();
        }
        let mut out = BytesMut::with_capacity(size);
        match encoding {
            Encoding::Json => {
                out.put_u8(b'[');
                for (n, &i) in indices.iter().enumerate() {
                    if n > 0 {
                        out.put_u8(b',');
                    }
                    let single = self.single(encoding, i);
                    // `[` … `]` around the object.
                    out.put_slice(&single[1..single.len() - 1]);
                }
                out.put_u8(b']');
                Frame::Text(out.freeze())
            }
            Encoding::MsgPack => {
                write_msgpack_array_len(&mut out, indices.len());
                for &i in indices {
                    // A fixarray of one (0x91), then the map.
                    out.put_slice(&self.single(encoding, i)[1..]);
                }
                Frame::Binary(out.freeze())
            }
        }
    }

    /// The message at `index` alone in a frame's payload, encoded on first use.
    fn single(&mut self, encoding: Encoding, index: usize) -> &Bytes {
        let slot = match encoding {
            Encoding::Json => &mut self.json[index],
            Encoding::MsgPack => &mut self.msgpack[index],
        };
        slot.get_or_insert_with(|| {
            ServerMessage::data_frame(encoding, &[&self.messages[index]])
                .payload()
                .clone()
        })
    }
}

/// A MessagePack array header for `len` elements.
fn write_msgpack_array_len(out: &mut BytesMut, len: usize) {
    if len < 16 {
        // `len` < 16 fits the fixarray's low nibble.
        out.put_u8(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.put_u8(0xdc);
        out.put_u16(len);
    } else {
        out.put_u8(0xdd);
        out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
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
    fn assembled_frames_equal_the_encoders_own() {
        for count in [1usize, 2, 15, 16, 17, 40] {
            let mut batch = DataBatch::default();
            let messages: Vec<MarketData> =
                (0..count).map(|n| imbalance("AAPL", n as i64)).collect();
            for m in &messages {
                batch.push(m.clone());
            }
            let indices: Vec<usize> = (0..count).collect();
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
