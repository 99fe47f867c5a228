//! Writers of server messages straight to bytes: maps, arrays and values in
//! JSON or MessagePack, byte for byte as `serde_json` (compact) and
//! `rmp_serde` (named) write them, without a serializer per message.

use rmp::Marker;

use crate::Encoding;
use crate::wire::write::{
    is_json_plain, json_str, json_symbol, msgpack_str_bytes, quoted, u32_len, written,
};
use crate::{Frame, Symbol, Timestamp};
use tickwire_core::TIMESTAMP_TEXT_BYTES_MAX;

/// Room reserved up front for a frame, as the serde path reserves it.
const FRAME_BYTES_RESERVED: usize = 1024;

/// Writes one frame's values in order; the caller writes keys and values in
/// the order serde would, and declares container lengths up front.
pub(super) trait ServerWriter {
    /// Opens a map of `len` entries.
    fn map(&mut self, len: usize);
    /// Closes the map opened last.
    fn end_map(&mut self);
    /// Opens an array of `len` elements; each element starts with [`Self::element`].
    fn array(&mut self, len: usize);
    /// Closes the array opened last.
    fn end_array(&mut self);
    /// Starts the next element of an array.
    fn element(&mut self);
    /// Starts the next entry of a map: a key that needs no JSON escaping.
    fn key(&mut self, key: &'static str);
    /// A string.
    fn str(&mut self, text: &str);
    /// A symbol, as a string.
    fn symbol(&mut self, symbol: &Symbol);
    /// A float (JSON writes a non-finite one as `null`, as `serde_json` does).
    fn f64(&mut self, value: f64);
    /// An unsigned integer.
    fn u64(&mut self, value: u64);
    /// A boolean.
    fn bool(&mut self, value: bool);
    /// A timestamp: RFC 3339 text, or the MessagePack Timestamp extension.
    fn timestamp(&mut self, value: Timestamp);
    /// `null` / `nil`.
    fn null(&mut self);

    /// An array of `len` items, each written by `write`.
    fn array_of<T>(
        &mut self,
        len: usize,
        items: impl Iterator<Item = T>,
        mut write: impl FnMut(&mut Self, T),
    ) where
        Self: Sized,
    {
        self.array(len);
        for item in items {
            self.element();
            write(self, item);
        }
        self.end_array();
    }

    /// An array of symbols.
    fn symbols<'a>(&mut self, len: usize, symbols: impl Iterator<Item = &'a Symbol>)
    where
        Self: Sized,
    {
        self.array_of(len, symbols, |w, symbol| w.symbol(symbol));
    }

    /// An array of strings.
    fn strs<'a>(&mut self, len: usize, texts: impl Iterator<Item = &'a str>)
    where
        Self: Sized,
    {
        self.array_of(len, texts, |w, text| w.str(text));
    }
}

/// Compact JSON.
pub(super) struct JsonWriter {
    buf: Vec<u8>,
    /// Nothing written yet in the innermost container (no comma needed).
    first: bool,
}

impl JsonWriter {
    pub(super) fn new() -> Self {
        Self::with_capacity(FRAME_BYTES_RESERVED)
    }

    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self::appending(Vec::with_capacity(capacity))
    }

    /// A writer appending to `buf`.
    pub(super) fn appending(buf: Vec<u8>) -> Self {
        Self { buf, first: true }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Opens a container with `bracket`; its first entry takes no comma.
    fn open(&mut self, bracket: u8) {
        self.buf.push(bracket);
        self.first = true;
    }

    /// Closes a container with `bracket`; what follows takes a comma.
    fn close(&mut self, bracket: u8) {
        self.buf.push(bracket);
        self.first = false;
    }

    fn comma(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    /// A value `serde_json` writes on its own (numbers, timestamps).
    fn serde_value<T: serde::Serialize>(&mut self, value: &T) {
        serde_json::to_writer(&mut self.buf, value).expect("writing JSON to memory");
    }
}

impl ServerWriter for JsonWriter {
    fn map(&mut self, _len: usize) {
        self.open(b'{');
    }

    fn end_map(&mut self) {
        self.close(b'}');
    }

    fn array(&mut self, _len: usize) {
        self.open(b'[');
    }

    fn end_array(&mut self) {
        self.close(b']');
    }

    fn element(&mut self) {
        self.comma();
    }

    // Inlined so that each key's length is a constant and its copy a move.
    #[inline(always)]
    fn key(&mut self, key: &'static str) {
        debug_assert!(key.bytes().all(is_json_plain));
        self.buf.reserve(key.len() + 4);
        self.comma();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn str(&mut self, text: &str) {
        json_str(&mut self.buf, text);
    }

    fn symbol(&mut self, symbol: &Symbol) {
        json_symbol(&mut self.buf, symbol);
    }

    fn f64(&mut self, value: f64) {
        self.serde_value(&value);
    }

    fn u64(&mut self, value: u64) {
        self.serde_value(&value);
    }

    fn bool(&mut self, value: bool) {
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn timestamp(&mut self, value: Timestamp) {
        // The RFC 3339 text never needs escaping.
        let mut text = [0u8; TIMESTAMP_TEXT_BYTES_MAX];
        quoted(&mut self.buf, value.format_bytes(&mut text));
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(b"null");
    }
}

/// One frame written by `write` through whichever writer `encoding` needs
/// (JSON in a text frame, MessagePack in a binary one), with room for
/// `capacity` bytes: for frames too rare to be worth a copy of their code
/// per encoding.
pub(super) fn dyn_frame(
    encoding: Encoding,
    capacity: usize,
    write: impl FnOnce(&mut dyn ServerWriter),
) -> Frame {
    match encoding {
        Encoding::Json => {
            let mut w = JsonWriter::with_capacity(capacity);
            write(&mut w);
            Frame::Text(w.into_bytes().into())
        }
        Encoding::MsgPack => {
            let mut w = MsgPackWriter::with_capacity(capacity);
            write(&mut w);
            Frame::Binary(w.into_bytes().into())
        }
    }
}

/// MessagePack with named fields (maps), timestamps as extension -1.
pub(super) struct MsgPackWriter {
    buf: Vec<u8>,
    /// Checks that each container gets as many entries as it declared.
    #[cfg(debug_assertions)]
    declared: Declared,
}

impl MsgPackWriter {
    pub(super) fn new() -> Self {
        Self::with_capacity(FRAME_BYTES_RESERVED)
    }

    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self::appending(Vec::with_capacity(capacity))
    }

    /// A writer appending to `buf`.
    pub(super) fn appending(buf: Vec<u8>) -> Self {
        Self {
            buf,
            #[cfg(debug_assertions)]
            declared: Declared::default(),
        }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        #[cfg(debug_assertions)]
        self.declared.finish();
        self.buf
    }

    /// Writes the header of a container of `len` entries: short ones (nearly
    /// all) in one byte written here; `rmp` picks the form of longer ones.
    #[inline]
    fn open(&mut self, container: Container, len: usize) {
        #[cfg(debug_assertions)]
        self.declared.open(container, len);
        if len < 16 {
            let len = len as u8;
            let marker = match container {
                Container::Map => Marker::FixMap(len),
                Container::Array => Marker::FixArray(len),
            };
            self.buf.push(marker.to_u8());
        } else {
            let len = u32_len(len);
            written(match container {
                Container::Map => rmp::encode::write_map_len(&mut self.buf, len),
                Container::Array => rmp::encode::write_array_len(&mut self.buf, len),
            });
        }
    }
}

impl ServerWriter for MsgPackWriter {
    fn map(&mut self, len: usize) {
        self.open(Container::Map, len);
    }

    fn end_map(&mut self) {
        #[cfg(debug_assertions)]
        self.declared.close(Container::Map);
    }

    fn array(&mut self, len: usize) {
        self.open(Container::Array, len);
    }

    fn end_array(&mut self) {
        #[cfg(debug_assertions)]
        self.declared.close(Container::Array);
    }

    fn element(&mut self) {
        #[cfg(debug_assertions)]
        self.declared.entry(Container::Array);
    }

    // Inlined so that each key's length is a constant and its copy a move.
    #[inline(always)]
    fn key(&mut self, key: &'static str) {
        #[cfg(debug_assertions)]
        self.declared.entry(Container::Map);
        self.str(key);
    }

    #[inline(always)]
    fn str(&mut self, text: &str) {
        msgpack_str_bytes(&mut self.buf, text.as_bytes());
    }

    fn symbol(&mut self, symbol: &Symbol) {
        msgpack_str_bytes(&mut self.buf, symbol.as_bytes());
    }

    fn f64(&mut self, value: f64) {
        self.buf.reserve(9);
        self.buf.push(Marker::F64.to_u8());
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn u64(&mut self, value: u64) {
        written(rmp::encode::write_uint(&mut self.buf, value));
    }

    fn bool(&mut self, value: bool) {
        written(rmp::encode::write_bool(&mut self.buf, value));
    }

    fn timestamp(&mut self, value: Timestamp) {
        let (data, len) = value.to_msgpack_ext();
        written(rmp::encode::write_ext_meta(
            &mut self.buf,
            u32_len(len),
            crate::MSGPACK_TIMESTAMP_EXT_TYPE,
        ));
        self.buf.extend_from_slice(&data[..len]);
    }

    fn null(&mut self) {
        written(rmp::encode::write_nil(&mut self.buf));
    }
}

/// A MessagePack container, whose length is written before its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Map,
    Array,
}

/// The entries still to write in each open container, innermost last: the
/// debug check that the lengths declared up front are the lengths written.
#[cfg(debug_assertions)]
#[derive(Default)]
struct Declared(Vec<(Container, usize)>);

#[cfg(debug_assertions)]
impl Declared {
    fn open(&mut self, container: Container, len: usize) {
        self.0.push((container, len));
    }

    /// One entry (a map's key, an array's element) of the innermost container.
    fn entry(&mut self, container: Container) {
        match self.0.last_mut() {
            Some((open, left)) if *open == container && *left > 0 => *left -= 1,
            innermost => {
                panic!("a {container:?} entry past the declared length (innermost: {innermost:?})")
            }
        }
    }

    fn close(&mut self, container: Container) {
        let closed = self.0.pop();
        debug_assert_eq!(
            closed,
            Some((container, 0)),
            "a {container:?} closed with entries declared but not written"
        );
    }

    fn finish(&self) {
        debug_assert!(self.0.is_empty(), "containers left open: {:?}", self.0);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::strategies::any_timestamp;

    proptest! {
        /// Timestamps are written as the serializers write them.
        #[test]
        fn timestamps_match_the_serializers(value in any_timestamp()) {
            let mut json = JsonWriter::new();
            json.timestamp(value);
            prop_assert_eq!(json.into_bytes(), serde_json::to_vec(&value).unwrap());
            let mut msgpack = MsgPackWriter::new();
            msgpack.timestamp(value);
            prop_assert_eq!(msgpack.into_bytes(), rmp_serde::to_vec_named(&value).unwrap());
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "closed with entries declared but not written")]
    fn a_map_short_of_its_declared_length_is_caught() {
        let mut w = MsgPackWriter::new();
        w.map(2);
        w.key("a");
        w.null();
        w.end_map();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "past the declared length")]
    fn an_array_past_its_declared_length_is_caught() {
        let mut w = MsgPackWriter::new();
        w.array(1);
        w.element();
        w.null();
        w.element();
    }
}
