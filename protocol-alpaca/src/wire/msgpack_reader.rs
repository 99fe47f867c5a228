//! A hand-written MessagePack reader for the fast paths: quotes, trades,
//! bars, control messages, trade updates and client requests, read marker
//! by marker straight into the typed messages, with no serde visitor in
//! between.
//!
//! It accepts what rmp-serde accepts for these messages when written the
//! usual way (string keys, the Timestamp extension) and converts numbers
//! exactly as rmp-serde and serde do; anything else makes it give up, and the
//! serde path decides.

use std::ops::Range;

use super::field_reader::{DEPTH_MAX, FieldReader};
use crate::model::conditions::Conditions;
use crate::{MSGPACK_TIMESTAMP_EXT_TYPE, Timestamp};

const NIL: u8 = 0xc0;

/// A cursor over one frame's bytes.
#[derive(Clone)]
pub(crate) struct MsgPackReader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Entries of the current message map not read yet.
    entries_left: usize,
}

impl<'a> MsgPackReader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            entries_left: 0,
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    #[inline(always)]
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let taken = *self.bytes.get(self.at..)?.first_chunk::<N>()?;
        self.at += N;
        Some(taken)
    }

    #[inline(always)]
    fn slice(&mut self, len: usize) -> Option<&'a [u8]> {
        let taken = self.bytes.get(self.at..)?.get(..len)?;
        self.at += len;
        Some(taken)
    }

    /// The `NIL` marker, consumed if it is next.
    #[inline(always)]
    fn nil(&mut self) -> bool {
        let nil = self.peek() == Some(NIL);
        if nil {
            self.at += 1;
        }
        nil
    }

    /// A container header of `kind` (`0x80` map, `0x90` array): its length.
    #[inline(always)]
    fn header(&mut self, fixed: u8, wide16: u8, wide32: u8) -> Option<usize> {
        let marker = self.byte()?;
        Some(if marker & 0xf0 == fixed {
            usize::from(marker & 0x0f)
        } else if marker == wide16 {
            usize::from(u16::from_be_bytes(self.take()?))
        } else if marker == wide32 {
            usize::try_from(u32::from_be_bytes(self.take()?)).ok()?
        } else {
            return None;
        })
    }

    fn array_len(&mut self) -> Option<usize> {
        self.header(0x90, 0xdc, 0xdd)
    }

    fn map_len(&mut self) -> Option<usize> {
        self.header(0x80, 0xde, 0xdf)
    }

    /// The bytes of a string (not checked as UTF-8).
    #[inline(always)]
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            marker @ 0xa0..=0xbf => usize::from(marker & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => usize::from(u16::from_be_bytes(self.take()?)),
            0xdb => usize::try_from(u32::from_be_bytes(self.take()?)).ok()?,
            _ => return None,
        };
        self.slice(len)
    }

    /// Skips one value of any kind, checking only its structure: markers,
    /// lengths and counts (strings are not checked as UTF-8). Gives up on a
    /// truncated or invalid value, or one nested more than [`DEPTH_MAX`]
    /// deep. Every item takes at least one byte, so the work is bounded by
    /// the input's size whatever the declared counts.
    pub(crate) fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Option<()> {
        if depth > DEPTH_MAX {
            return None;
        }
        // The payload's length in bytes, for everything but containers.
        let len = match self.byte()? {
            0x00..=0x7f | 0xe0..=0xff | NIL | 0xc2 | 0xc3 => 0,
            marker @ 0x80..=0x8f => return self.skip_items(usize::from(marker & 0x0f) * 2, depth),
            marker @ 0x90..=0x9f => return self.skip_items(usize::from(marker & 0x0f), depth),
            marker @ 0xa0..=0xbf => usize::from(marker & 0x1f),
            0xc4 | 0xd9 => usize::from(self.byte()?),
            0xc5 | 0xda => usize::from(u16::from_be_bytes(self.take()?)),
            0xc6 | 0xdb => usize::try_from(u32::from_be_bytes(self.take()?)).ok()?,
            // Extensions: the type byte, then the data.
            0xc7 => usize::from(self.byte()?) + 1,
            0xc8 => usize::from(u16::from_be_bytes(self.take()?)) + 1,
            0xc9 => usize::try_from(u32::from_be_bytes(self.take()?))
                .ok()?
                .checked_add(1)?,
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 | 0xd4 => 2,
            0xd5 => 3,
            0xca | 0xce | 0xd2 => 4,
            0xd6 => 5,
            0xcb | 0xcf | 0xd3 => 8,
            0xd7 => 9,
            0xd8 => 17,
            0xdc => {
                let items = usize::from(u16::from_be_bytes(self.take()?));
                return self.skip_items(items, depth);
            }
            0xdd => {
                let items = usize::try_from(u32::from_be_bytes(self.take()?)).ok()?;
                return self.skip_items(items, depth);
            }
            0xde => {
                let items = usize::from(u16::from_be_bytes(self.take()?)) * 2;
                return self.skip_items(items, depth);
            }
            0xdf => {
                let pairs = usize::try_from(u32::from_be_bytes(self.take()?)).ok()?;
                return self.skip_items(pairs.checked_mul(2)?, depth);
            }
            0xc1 => return None,
        };
        self.slice(len).map(drop)
    }

    /// Skips `items` values (a container's elements, or its keys and
    /// values) nested one level below `depth`.
    fn skip_items(&mut self, items: usize, depth: usize) -> Option<()> {
        // Every item takes at least one byte: refuse impossible counts early.
        if items > self.bytes.len() - self.at {
            return None;
        }
        for _ in 0..items {
            self.skip_nested(depth + 1)?;
        }
        Some(())
    }

    /// Walks a frame from the start — an array of messages, or a single
    /// map that is one message — passing each message's byte span to
    /// `each`, checked as [`skip_value`](Self::skip_value) checks. On a
    /// structural error the spans before it have been passed, and the
    /// error says what went wrong.
    pub(crate) fn frame_elements(
        &mut self,
        mut each: impl FnMut(Range<usize>),
    ) -> Result<(), &'static str> {
        const NOT_A_FRAME: &str = "expected a MessagePack array or map";
        const INVALID: &str = "truncated or invalid MessagePack";
        let start = self.at;
        match self.peek() {
            Some(0x90..=0x9f | 0xdc | 0xdd) => {
                let count = self.array_len().ok_or(NOT_A_FRAME)?;
                for _ in 0..count {
                    let element = self.at;
                    self.skip_value().ok_or(INVALID)?;
                    each(element..self.at);
                }
                if !self.at_end() {
                    return Err("bytes after the end of the array");
                }
            }
            Some(0x80..=0x8f | 0xde | 0xdf) => {
                self.map_len().ok_or(NOT_A_FRAME)?;
                self.at = start;
                self.skip_value().ok_or(INVALID)?;
                each(start..self.at);
                if !self.at_end() {
                    return Err("bytes after the end of the message");
                }
            }
            _ => return Err(NOT_A_FRAME),
        }
        Ok(())
    }

    /// One message whose first key is `T`, its tag passed to `each`.
    fn message(&mut self, each: &mut impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        let entries = self.map_len()?;
        if entries == 0 || self.str_bytes()? != b"T" {
            return None;
        }
        let tag = self.str_bytes()?;
        self.entries_left = entries - 1;
        each(self, tag)
    }
}

impl<'a> FieldReader<'a> for MsgPackReader<'a> {
    fn messages(&mut self, mut each: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        if matches!(self.peek()?, 0x80..=0x8f | 0xde | 0xdf) {
            self.message(&mut each)?;
        } else {
            // Each message takes at least one byte, so a lying count runs out
            // of input (and gives up) before it can loop long.
            for _ in 0..self.array_len()? {
                self.message(&mut each)?;
            }
        }
        self.at_end().then_some(())
    }

    #[inline(always)]
    fn next_key(&mut self) -> Option<Option<&'a [u8]>> {
        if self.entries_left == 0 {
            return Some(None);
        }
        self.entries_left -= 1;
        self.str_bytes().map(Some)
    }

    #[inline(always)]
    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.str_bytes()?).ok()
    }

    /// Any integer or float, `as f64`: what serde's `f64` visitor does with
    /// each of rmp-serde's `visit_*` calls.
    #[inline(always)]
    fn f64(&mut self) -> Option<f64> {
        Some(match self.byte()? {
            marker @ 0x00..=0x7f => f64::from(marker),
            marker @ 0xe0..=0xff => f64::from(marker as i8),
            0xca => f64::from(f32::from_be_bytes(self.take()?)),
            0xcb => f64::from_be_bytes(self.take()?),
            0xcc => f64::from(self.byte()?),
            0xcd => f64::from(u16::from_be_bytes(self.take()?)),
            0xce => f64::from(u32::from_be_bytes(self.take()?)),
            0xcf => u64::from_be_bytes(self.take()?) as f64,
            0xd0 => f64::from(self.byte()? as i8),
            0xd1 => f64::from(i16::from_be_bytes(self.take()?)),
            0xd2 => f64::from(i32::from_be_bytes(self.take()?)),
            0xd3 => i64::from_be_bytes(self.take()?) as f64,
            _ => return None,
        })
    }

    /// Any non-negative integer (serde's `u64` visitor refuses negatives and floats).
    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        match self.byte()? {
            marker @ 0x00..=0x7f => Some(u64::from(marker)),
            0xcc => self.byte().map(u64::from),
            0xcd => Some(u64::from(u16::from_be_bytes(self.take()?))),
            0xce => Some(u64::from(u32::from_be_bytes(self.take()?))),
            0xcf => Some(u64::from_be_bytes(self.take()?)),
            0xd0 => u64::try_from(self.byte()? as i8).ok(),
            0xd1 => u64::try_from(i16::from_be_bytes(self.take()?)).ok(),
            0xd2 => u64::try_from(i32::from_be_bytes(self.take()?)).ok(),
            0xd3 => u64::try_from(i64::from_be_bytes(self.take()?)).ok(),
            _ => None,
        }
    }

    #[inline(always)]
    fn conditions(&mut self) -> Option<Conditions> {
        let mut conditions = Conditions::new();
        match self.peek()? {
            0x90..=0x9f | 0xdc | 0xdd => {
                for _ in 0..self.array_len()? {
                    conditions.0.push(self.str()?.into());
                }
            }
            0xa0..=0xbf | 0xd9..=0xdb => conditions.0.push(self.str()?.into()),
            NIL => self.at += 1,
            _ => return None,
        }
        Some(conditions)
    }

    fn strings(&mut self, mut each: impl FnMut(&'a str)) -> Option<()> {
        if self.nil() {
            return Some(());
        }
        for _ in 0..self.array_len()? {
            each(self.str()?);
        }
        Some(())
    }

    /// The Timestamp extension (type -1) in its 32, 64 or 96-bit layout.
    #[inline(always)]
    fn timestamp(&mut self) -> Option<Timestamp> {
        let len = match self.byte()? {
            0xd6 => 4,
            0xd7 => 8,
            0xc7 => usize::from(self.byte()?),
            _ => return None,
        };
        if self.byte()? as i8 != MSGPACK_TIMESTAMP_EXT_TYPE {
            return None;
        }
        Timestamp::from_msgpack_ext(self.slice(len)?)
    }

    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        Some(self.nil())
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    fn map(&mut self, mut entry: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        for _ in 0..self.map_len()? {
            let key = self.str_bytes()?;
            entry(self, key)?;
        }
        Some(())
    }

    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        for _ in 0..self.array_len()? {
            element(self)?;
        }
        Some(())
    }

    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            NIL | 0xc2 | 0xc3 => self.at += 1,
            0xa0..=0xbf | 0xd9..=0xdb => {
                self.str()?;
            }
            0xca | 0xcb => {
                self.f64()?;
            }
            0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xcf | 0xd0..=0xd3 => {
                self.f64()?;
            }
            _ => return None,
        }
        Some(())
    }

    fn at_end(&mut self) -> bool {
        self.at == self.bytes.len()
    }

    fn bytes_left(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }
}
