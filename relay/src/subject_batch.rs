//! The data messages of one read of the upstream, gathered per subject so
//! that each subject gets one NATS message, not one per data message
//! (sans-I/O).
//!
//! A NATS message costs the relay's client, nats-server and each
//! consumer's client about as much as the relay's whole work on the data
//! message it carries, and Alpaca's framing is an array of messages
//! anyway: a subject's messages of one read are written as one array, in
//! the order they came, exactly as Alpaca frames them (any Alpaca
//! MessagePack decoder reads it). Nothing waits for a batch to fill: the
//! relay hands over what the upstream had already read, then drains. A
//! batch is handed over early once it holds [`BATCH_MESSAGES_MAX`]
//! messages or [`BATCH_BYTES_MAX`] bytes, far below NATS's payload limit.

use std::collections::HashMap;
use std::hash::Hash;

use async_nats::Subject;
use bytes::{Bytes, BytesMut};

/// Most data messages in one NATS message.
pub(crate) const BATCH_MESSAGES_MAX: usize = 256;

/// Most bytes of messages in one NATS message (a single larger message
/// still goes, alone).
pub(crate) const BATCH_BYTES_MAX: usize = 64 * 1024;

/// One subject's messages so far: their MessagePack maps, back to back.
#[derive(Debug)]
struct Batch {
    subject: Subject,
    count: usize,
    body: Vec<u8>,
}

/// Data messages per subject, waiting for the end of the read; `K` names
/// a subject (the relay's: its channel and symbol).
///
/// Inputs [`push`](Self::push) (one message's frame, for each subject it
/// goes to); outputs the payloads to publish from `push` (a full batch)
/// and [`drain`](Self::drain) (the rest, subjects in the order first seen).
#[derive(Debug)]
pub(crate) struct SubjectBatches<K> {
    messages_max: usize,
    bytes_max: usize,
    batches: Vec<Batch>,
    by_subject: HashMap<K, usize>,
    /// Emptied bodies, reused by the next read's batches.
    spare: Vec<Vec<u8>>,
    /// Where payloads are written; each is split off it.
    arena: BytesMut,
}

impl<K: Hash + Eq + Clone> Default for SubjectBatches<K> {
    fn default() -> Self {
        Self::with_bounds(BATCH_MESSAGES_MAX, BATCH_BYTES_MAX)
    }
}

impl<K: Hash + Eq + Clone> SubjectBatches<K> {
    /// Batches of at most `messages_max` messages and `bytes_max` bytes of
    /// them (at least one message each).
    fn with_bounds(messages_max: usize, bytes_max: usize) -> Self {
        Self {
            messages_max: messages_max.max(1),
            bytes_max,
            batches: Vec::new(),
            by_subject: HashMap::new(),
            spare: Vec::new(),
            arena: BytesMut::new(),
        }
    }

    /// Adds the message framed alone in `frame` (a one-element MessagePack
    /// array, as [`payload`](crate::payload) writes it) to the batch of
    /// `subject`, named `key`. Returns the batch's payload to publish
    /// first when the message would take it past its bounds.
    pub(crate) fn push(&mut self, key: &K, subject: &Subject, frame: &[u8]) -> Option<Bytes> {
        let map = frame.get(1..).unwrap_or_default();
        let index = match self.by_subject.get(key) {
            Some(index) => *index,
            None => {
                let body = self.spare.pop().unwrap_or_default();
                self.batches.push(Batch {
                    subject: subject.clone(),
                    count: 0,
                    body,
                });
                self.by_subject.insert(key.clone(), self.batches.len() - 1);
                self.batches.len() - 1
            }
        };
        let batch = &mut self.batches[index];
        let full = batch.count > 0
            && (batch.count >= self.messages_max || batch.body.len() + map.len() > self.bytes_max);
        let ready = full.then(|| write(&mut self.arena, batch));
        batch.body.extend_from_slice(map);
        batch.count += 1;
        ready
    }

    /// Hands each batch's payload to `publish`, subjects in the order first
    /// seen since the last drain; then nothing waits.
    pub(crate) fn drain(&mut self, mut publish: impl FnMut(Subject, Bytes)) {
        self.by_subject.clear();
        for mut batch in self.batches.drain(..) {
            if batch.count > 0 {
                let payload = write(&mut self.arena, &mut batch);
                publish(batch.subject, payload);
            }
            self.spare.push(batch.body);
        }
    }

    /// Whether no message waits.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.batches.iter().all(|batch| batch.count == 0)
    }
}

/// The payload of `batch` (an array of its messages), written into
/// `arena`; the batch is emptied.
fn write(arena: &mut BytesMut, batch: &mut Batch) -> Bytes {
    let mut header = Vec::with_capacity(5);
    put_array_header(&mut header, batch.count);
    let len = header.len() + batch.body.len();
    if arena.capacity() < len {
        arena.reserve(BATCH_BYTES_MAX.max(len));
    }
    arena.extend_from_slice(&header);
    arena.extend_from_slice(&batch.body);
    batch.body.clear();
    batch.count = 0;
    arena.split().freeze()
}

/// Writes the header of a MessagePack array of `count` elements.
pub(crate) fn put_array_header(out: &mut Vec<u8>, count: usize) {
    if count < 16 {
        out.push(0x90 | count as u8);
    } else if let Ok(count) = u16::try_from(count) {
        out.push(0xdc);
        out.extend_from_slice(&count.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tickwire_alpaca::{Encoding, MarketData, Quote, ServerMessage};
    use tickwire_core::{Symbol, Timestamp};

    use super::*;
    use crate::payload;

    fn quote(bid: u32, conditions: usize) -> MarketData {
        MarketData::Quote(Quote {
            symbol: Symbol::new("AAPL").expect("valid"),
            bid_exchange: Some("V".into()),
            bid_price: f64::from(bid),
            bid_size: 1.0,
            ask_exchange: None,
            ask_price: f64::from(bid) + 0.01,
            ask_size: 2.0,
            conditions: std::iter::repeat_n("R", conditions).collect(),
            timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
            tape: None,
        })
    }

    /// The element count a MessagePack array header says, and its length.
    fn array_count(payload: &[u8]) -> (usize, usize) {
        match payload[0] {
            b @ 0x90..=0x9f => (usize::from(b & 0x0f), 1),
            0xdc => (usize::from(u16::from_be_bytes([payload[1], payload[2]])), 3),
            other => panic!("not a short array header: {other:#x}"),
        }
    }

    const SUBJECTS: [&str; 3] = [
        "tickwire.iex.quotes.AAPL",
        "tickwire.iex.quotes.MSFT",
        "x.y",
    ];

    proptest! {
        /// Whatever the order and the bounds, each subject's payloads are
        /// Alpaca's own frames of its next messages, in order, within the
        /// bounds (a message larger than them alone), nothing lost or
        /// repeated.
        #[test]
        fn each_subject_gets_alpacas_frames_of_its_messages_in_order(
            steps in prop::collection::vec(
                (0..SUBJECTS.len(), 0u32..1000, 0usize..40, prop::bool::weighted(0.05)),
                0..400,
            ),
            messages_max in 1usize..40,
            bytes_max in 0usize..3000,
        ) {
            let mut batches = SubjectBatches::with_bounds(messages_max, bytes_max);
            let mut published: Vec<(Subject, Bytes)> = Vec::new();
            let mut sent: Vec<Vec<MarketData>> = vec![Vec::new(); SUBJECTS.len()];
            for (subject, bid, conditions, drain) in steps {
                let message = quote(bid, conditions);
                let subject_name = Subject::from(SUBJECTS[subject]);
                if let Some(full) = batches.push(&subject, &subject_name, &payload(&message)) {
                    published.push((subject_name.clone(), full));
                }
                sent[subject].push(message);
                if drain {
                    batches.drain(|s, p| published.push((s, p)));
                    prop_assert!(batches.is_empty());
                }
            }
            batches.drain(|s, p| published.push((s, p)));
            for (index, name) in SUBJECTS.iter().enumerate() {
                let mut at = 0;
                for (_, payload) in published.iter().filter(|(s, _)| s.as_str() == *name) {
                    let (count, header) = array_count(payload);
                    prop_assert!(count >= 1 && count <= messages_max, "{count} messages");
                    prop_assert!(at + count <= sent[index].len(), "more than was sent");
                    let refs: Vec<&MarketData> = sent[index][at..at + count].iter().collect();
                    let frame = ServerMessage::data_frame(Encoding::MsgPack, &refs);
                    prop_assert_eq!(&frame.payload()[..], &payload[..]);
                    prop_assert!(count == 1 || payload.len() - header <= bytes_max);
                    at += count;
                }
                prop_assert_eq!(at, sent[index].len(), "messages of {} lost", name);
            }
        }
    }

    #[test]
    fn array_headers_are_messagepacks() {
        for count in [0, 1, 15, 16, 65_535, 65_536] {
            let mut header = Vec::new();
            put_array_header(&mut header, count);
            let mut bytes = header.clone();
            // The elements, as nils, so that the whole decodes.
            bytes.resize(header.len() + count, 0xc0);
            let decoded: Vec<()> = rmp_serde::from_slice(&bytes).expect("an array");
            assert_eq!(decoded.len(), count);
        }
    }
}
