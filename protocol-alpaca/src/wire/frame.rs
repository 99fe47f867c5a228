//! Wire plumbing shared by the Alpaca codecs: telling JSON from MessagePack,
//! splitting a frame into its messages (walked by each encoding's reader),
//! and decoding one message's bytes.

use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed};

use super::json_reader;
use super::msgpack_reader::MsgPackReader;
use crate::{Channel, Frame};
use tickwire_core::protocol::{DecodeError, Inbound, MESSAGES_PER_FRAME_MAX};

/// How a payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Json,
    MsgPack,
}

impl Wire {
    /// Text frames are JSON; binary frames are JSON when they start like JSON
    /// (`[`, `{` or whitespace), MessagePack otherwise. `None` for control frames.
    pub(crate) fn detect(frame: &Frame) -> Option<(Self, &[u8])> {
        match frame {
            Frame::Text(bytes) => Some((Self::Json, bytes)),
            Frame::Binary(bytes) => Some((Self::of_binary(bytes), bytes)),
            Frame::Ping(_) | Frame::Pong(_) => None,
        }
    }

    pub(crate) fn of_binary(bytes: &[u8]) -> Self {
        match bytes.first() {
            Some(b'[' | b'{' | b' ' | b'\t' | b'\n' | b'\r') => Self::Json,
            _ => Self::MsgPack,
        }
    }

    /// Decodes one complete value from `bytes` with `seed`, requiring that
    /// nothing follows it.
    pub(crate) fn decode_seed<'a, S: DeserializeSeed<'a>>(
        self,
        bytes: &'a [u8],
        seed: S,
    ) -> Result<S::Value, String> {
        match self {
            // Validating UTF-8 once for the whole payload lets serde_json skip
            // it for every string (`from_str`); invalid UTF-8 is left to
            // `from_slice` to report.
            Self::Json => match std::str::from_utf8(bytes) {
                Ok(text) => json_seed(serde_json::Deserializer::from_str(text), seed),
                Err(_) => json_seed(serde_json::Deserializer::from_slice(bytes), seed),
            },
            Self::MsgPack => {
                let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
                let value = seed.deserialize(&mut de).map_err(|e| e.to_string())?;
                // rmp-serde exposes no position for borrowed input: probe for
                // one more value instead; only a clean end-of-input is fine.
                match de::IgnoredAny::deserialize(&mut de) {
                    Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
                        if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                    {
                        Ok(value)
                    }
                    _ => Err("bytes after the end of the message".to_owned()),
                }
            }
        }
    }

    /// Splits a frame into the raw bytes of its messages: the elements of a
    /// top-level array, or the frame itself when it is a single object.
    /// Elements before a structural error are kept; the error comes second.
    ///
    /// The walk is each encoding's reader's
    /// ([`json_reader::frame_elements`], [`MsgPackReader::frame_elements`]).
    #[cfg(test)]
    pub(crate) fn split(self, bytes: &[u8]) -> (Vec<&[u8]>, Option<DecodeError>) {
        let (elements, _, error) = self.split_capped(bytes, usize::MAX);
        (elements, error)
    }

    /// [`split`](Self::split), keeping the first `elements_max` elements
    /// and only counting the others (the second value): the walk goes on to
    /// the end of the frame, so the count and the error are the same.
    pub(crate) fn split_capped(
        self,
        bytes: &[u8],
        elements_max: usize,
    ) -> (Vec<&[u8]>, u64, Option<DecodeError>) {
        let mut elements = Vec::new();
        let mut skipped = 0u64;
        let mut each = |span: Range<usize>| {
            if elements.len() < elements_max {
                elements.push(&bytes[span]);
            } else {
                skipped += 1;
            }
        };
        let walked = match self {
            Self::Json => json_reader::frame_elements(bytes, &mut each),
            Self::MsgPack => MsgPackReader::new(bytes).frame_elements(&mut each),
        };
        let error = walked.err().map(|detail| DecodeError {
            what: "frame",
            detail: detail.to_owned(),
        });
        (elements, skipped, error)
    }

    /// Decodes a frame message by message with `decode`, so that a bad
    /// message costs only itself: at most [`MESSAGES_PER_FRAME_MAX`]
    /// messages (a structural error counting as one), then one
    /// [`Inbound::Skipped`] for those past it.
    pub(crate) fn decode_each<T>(
        self,
        bytes: &[u8],
        out: &mut Vec<Inbound<T, Channel>>,
        mut decode: impl FnMut(&[u8]) -> Inbound<T, Channel>,
    ) {
        let (mut elements, mut skipped, error) = self.split_capped(bytes, MESSAGES_PER_FRAME_MAX);
        if error.is_some() && elements.len() == MESSAGES_PER_FRAME_MAX {
            elements.pop();
            skipped += 1;
        }
        out.extend(elements.into_iter().map(&mut decode));
        if let Some(error) = error {
            out.push(Inbound::Malformed(error));
        }
        if skipped > 0 {
            out.push(Inbound::Skipped { messages: skipped });
        }
    }
}

fn json_seed<'a, R: serde_json::de::Read<'a>, S: DeserializeSeed<'a>>(
    mut de: serde_json::Deserializer<R>,
    seed: S,
) -> Result<S::Value, String> {
    let value = seed.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::field_reader::DEPTH_MAX;

    /// The walkers `split` used before it went through the readers, kept
    /// as the reference model the new split must agree with. The JSON walk
    /// finds each value's end with the reader's own `value_end`, so what it
    /// checks is the frame's structure around the values.
    mod reference {
        use crate::wire::field_reader::DEPTH_MAX;
        use crate::wire::json_reader::{skip_whitespace, value_end};
        use tickwire_core::protocol::DecodeError;

        /// Splits on element boundaries without validating the elements themselves
        /// (each is parsed by serde_json afterwards).
        pub(super) fn split_json(bytes: &[u8]) -> (Vec<&[u8]>, Option<DecodeError>) {
            let malformed = |detail: &str| {
                Some(DecodeError {
                    what: "frame",
                    detail: detail.to_owned(),
                })
            };
            let mut elements = Vec::new();
            let mut at = skip_whitespace(bytes, 0);
            match bytes.get(at) {
                Some(b'[') => {
                    at = skip_whitespace(bytes, at + 1);
                    if bytes.get(at) == Some(&b']') {
                        at += 1;
                    } else {
                        loop {
                            let Some(end) = value_end(bytes, at) else {
                                return (elements, malformed("truncated or invalid JSON array"));
                            };
                            elements.push(&bytes[at..end]);
                            at = skip_whitespace(bytes, end);
                            match bytes.get(at) {
                                Some(b',') => at = skip_whitespace(bytes, at + 1),
                                Some(b']') => {
                                    at += 1;
                                    break;
                                }
                                _ => {
                                    return (
                                        elements,
                                        malformed("expected ',' or ']' between messages"),
                                    );
                                }
                            }
                        }
                    }
                }
                Some(b'{') => match value_end(bytes, at) {
                    Some(end) => {
                        elements.push(&bytes[at..end]);
                        at = end;
                    }
                    None => return (elements, malformed("truncated or invalid JSON object")),
                },
                _ => return (elements, malformed("expected a JSON array or object")),
            }
            if skip_whitespace(bytes, at) != bytes.len() {
                return (elements, malformed("bytes after the end of the frame"));
            }
            (elements, None)
        }

        pub(super) fn split_msgpack(bytes: &[u8]) -> (Vec<&[u8]>, Option<DecodeError>) {
            let malformed = |detail: &str| DecodeError {
                what: "frame",
                detail: detail.to_owned(),
            };
            let mut elements = Vec::new();
            let Some((count, mut at)) = header(bytes, 0).and_then(|(kind, n, at)| match kind {
                Kind::Array => Some((n, at)),
                _ => None,
            }) else {
                // Not an array: a lone map is one message; anything else is malformed.
                return match header(bytes, 0) {
                    Some((Kind::Map, _, _)) => match skip(bytes, 0, 0) {
                        Some(end) if end == bytes.len() => (vec![bytes], None),
                        Some(end) => (
                            vec![&bytes[..end]],
                            Some(malformed("bytes after the end of the message")),
                        ),
                        None => (
                            elements,
                            Some(malformed("truncated or invalid MessagePack")),
                        ),
                    },
                    _ => (
                        elements,
                        Some(malformed("expected a MessagePack array or map")),
                    ),
                };
            };
            for _ in 0..count {
                match skip(bytes, at, 0) {
                    Some(end) => {
                        elements.push(&bytes[at..end]);
                        at = end;
                    }
                    None => {
                        return (
                            elements,
                            Some(malformed("truncated or invalid MessagePack")),
                        );
                    }
                }
            }
            if at != bytes.len() {
                return (
                    elements,
                    Some(malformed("bytes after the end of the array")),
                );
            }
            (elements, None)
        }

        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Kind {
            /// A scalar whose total length (marker included) is known.
            Fixed,
            Array,
            Map,
        }

        /// Reads the header at `at`: its kind, its length (bytes for scalars,
        /// elements or pairs for containers) and where its payload starts.
        fn header(bytes: &[u8], at: usize) -> Option<(Kind, usize, usize)> {
            let marker = *bytes.get(at)?;
            let be = |len: usize| -> Option<usize> {
                let field = bytes.get(at + 1..at + 1 + len)?;
                Some(
                    field
                        .iter()
                        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                )
            };
            let start = at + 1;
            Some(match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (Kind::Fixed, 0, start),
                0x80..=0x8f => (Kind::Map, usize::from(marker & 0x0f), start),
                0x90..=0x9f => (Kind::Array, usize::from(marker & 0x0f), start),
                0xa0..=0xbf => (Kind::Fixed, usize::from(marker & 0x1f), start),
                0xc4 | 0xd9 => (Kind::Fixed, be(1)?, start + 1),
                0xc5 | 0xda => (Kind::Fixed, be(2)?, start + 2),
                0xc6 | 0xdb => (Kind::Fixed, be(4)?, start + 4),
                0xc7 => (Kind::Fixed, be(1)? + 1, start + 1),
                0xc8 => (Kind::Fixed, be(2)? + 1, start + 2),
                0xc9 => (Kind::Fixed, be(4)? + 1, start + 4),
                0xca => (Kind::Fixed, 4, start),
                0xcb => (Kind::Fixed, 8, start),
                0xcc | 0xd0 => (Kind::Fixed, 1, start),
                0xcd | 0xd1 => (Kind::Fixed, 2, start),
                0xce | 0xd2 => (Kind::Fixed, 4, start),
                0xcf | 0xd3 => (Kind::Fixed, 8, start),
                0xd4 => (Kind::Fixed, 2, start),
                0xd5 => (Kind::Fixed, 3, start),
                0xd6 => (Kind::Fixed, 5, start),
                0xd7 => (Kind::Fixed, 9, start),
                0xd8 => (Kind::Fixed, 17, start),
                0xdc => (Kind::Array, be(2)?, start + 2),
                0xdd => (Kind::Array, be(4)?, start + 4),
                0xde => (Kind::Map, be(2)?, start + 2),
                0xdf => (Kind::Map, be(4)?, start + 4),
                0xc1 => return None,
            })
        }

        /// Returns the end of the value starting at `at`, or `None` if it is
        /// truncated, invalid or nested too deep.
        fn skip(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
            if depth > DEPTH_MAX {
                return None;
            }
            let (kind, len, start) = header(bytes, at)?;
            match kind {
                Kind::Fixed => {
                    let end = start.checked_add(len)?;
                    (end <= bytes.len()).then_some(end)
                }
                Kind::Array | Kind::Map => {
                    let items = if kind == Kind::Map {
                        len.checked_mul(2)?
                    } else {
                        len
                    };
                    // Every item takes at least one byte: refuse impossible counts early.
                    if items > bytes.len() - start.min(bytes.len()) {
                        return None;
                    }
                    let mut at = start;
                    for _ in 0..items {
                        at = skip(bytes, at, depth + 1)?;
                    }
                    Some(at)
                }
            }
        }
    }

    #[test]
    fn detects_json_in_binary_frames() {
        assert_eq!(Wire::of_binary(b"[{}]"), Wire::Json);
        assert_eq!(Wire::of_binary(b" {}"), Wire::Json);
        assert_eq!(Wire::of_binary(&[0x91, 0x80]), Wire::MsgPack);
        assert_eq!(Wire::of_binary(b""), Wire::MsgPack);
    }

    #[test]
    fn json_split_keeps_elements_before_an_error() {
        let (elements, error) = Wire::Json.split(br#"[{"a":1}, {"b":[2]} , {"c":"#);
        assert_eq!(elements, vec![&br#"{"a":1}"#[..], &br#"{"b":[2]}"#[..]]);
        assert!(error.is_some());
        let (elements, error) = Wire::Json.split(br#"{"a":1}"#);
        assert_eq!(elements.len(), 1);
        assert!(error.is_none());
    }

    #[test]
    fn msgpack_split_walks_element_boundaries() {
        let value = (
            serde_json::json!({"T":"q","c":["a"],"n":null}),
            serde_json::json!({"x":1.5,"y":-3,"z":[1,2,{"k":"v"}]}),
        );
        let bytes = rmp_serde::to_vec(&value).unwrap();
        let (elements, error) = Wire::MsgPack.split(&bytes);
        assert!(error.is_none());
        assert_eq!(elements.len(), 2);
        let second: serde_json::Value = rmp_serde::from_slice(elements[1]).unwrap();
        assert_eq!(second, value.1);
        let (elements, error) = Wire::MsgPack.split(&bytes[..bytes.len() - 1]);
        assert_eq!(elements.len(), 1);
        assert!(error.is_some());
        // A huge declared count in a tiny frame is refused without allocating.
        let (elements, error) = Wire::MsgPack.split(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x80]);
        assert!(elements.len() <= 1 && error.is_some());
    }

    /// `split` and the reference model agree: the same elements, and an
    /// error (with the same detail) exactly when the model has one.
    fn agrees(wire: Wire, bytes: &[u8]) -> Result<(), TestCaseError> {
        let (elements, error) = wire.split(bytes);
        let (expected, expected_error) = match wire {
            Wire::Json => reference::split_json(bytes),
            Wire::MsgPack => reference::split_msgpack(bytes),
        };
        prop_assert_eq!(elements, expected);
        prop_assert_eq!(
            error.map(|e| (e.what, e.detail)),
            expected_error.map(|e| (e.what, e.detail))
        );
        Ok(())
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A frame as a server sends it: an array of values, or one object.
    fn valid_frame() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            proptest::collection::vec(json_value(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(".{0,3}", json_value(), 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Truncate(usize),
        Replace(usize, u8),
        Insert(usize, u8),
        Remove(usize),
    }

    fn mutation(byte: impl Strategy<Value = u8> + Clone) -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
            (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
            any::<usize>().prop_map(Mutation::Remove),
        ]
    }

    fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
        for m in mutations {
            let len = bytes.len();
            match *m {
                Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
                Mutation::Replace(at, b) if len > 0 => bytes[at % len] = b,
                Mutation::Insert(at, b) => bytes.insert(at % (len + 1), b),
                Mutation::Remove(at) if len > 0 => {
                    bytes.remove(at % len);
                }
                _ => {}
            }
        }
        bytes
    }

    /// Bytes that matter to a JSON walker, and some that do not.
    fn json_byte() -> impl Strategy<Value = u8> + Clone {
        prop_oneof![
            proptest::sample::select(&b"[]{}\",:\\ \t\n\r1-.eantrufl"[..]),
            any::<u8>(),
        ]
    }

    /// Markers that matter to a MessagePack walker, and any byte.
    fn msgpack_byte() -> impl Strategy<Value = u8> + Clone {
        prop_oneof![
            proptest::sample::select(
                &[
                    0x80, 0x81, 0x82, 0x8f, 0x90, 0x91, 0x92, 0x9f, 0xa1, 0xc0, 0xc1, 0xc4, 0xc7,
                    0xc9, 0xcb, 0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x00, 0xff,
                ][..]
            ),
            any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn split_agrees_with_the_reference_on_random_bytes(
            json in proptest::collection::vec(json_byte(), 0..48),
            msgpack in proptest::collection::vec(msgpack_byte(), 0..48),
        ) {
            agrees(Wire::Json, &json)?;
            agrees(Wire::MsgPack, &msgpack)?;
        }

        #[test]
        fn json_split_agrees_with_the_reference_on_mutated_frames(
            frame in valid_frame(),
            pretty in any::<bool>(),
            mutations in proptest::collection::vec(mutation(json_byte()), 0..4),
        ) {
            let bytes = if pretty {
                serde_json::to_vec_pretty(&frame).unwrap()
            } else {
                serde_json::to_vec(&frame).unwrap()
            };
            agrees(Wire::Json, &bytes)?;
            agrees(Wire::Json, &mutate(bytes, &mutations))?;
        }

        #[test]
        fn msgpack_split_agrees_with_the_reference_on_mutated_frames(
            frame in valid_frame(),
            mutations in proptest::collection::vec(mutation(msgpack_byte()), 0..4),
        ) {
            let bytes = rmp_serde::to_vec(&frame).unwrap();
            agrees(Wire::MsgPack, &bytes)?;
            agrees(Wire::MsgPack, &mutate(bytes, &mutations))?;
        }
    }

    #[test]
    fn split_agrees_with_the_reference_at_the_depth_limit() {
        for depth in [DEPTH_MAX - 1, DEPTH_MAX, DEPTH_MAX + 1, DEPTH_MAX + 2] {
            let json = format!("[{}{}]", "[".repeat(depth), "]".repeat(depth));
            agrees(Wire::Json, json.as_bytes()).unwrap();
            let json = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            agrees(Wire::Json, json.as_bytes()).unwrap();
            let mut msgpack = vec![0x91; depth + 1];
            msgpack.push(0x90);
            agrees(Wire::MsgPack, &msgpack).unwrap();
            let mut msgpack = [0x81, 0xa1, b'a'].repeat(depth + 1);
            msgpack.push(0x80);
            agrees(Wire::MsgPack, &msgpack).unwrap();
        }
    }
}
