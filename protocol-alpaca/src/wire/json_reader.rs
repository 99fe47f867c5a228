//! A hand-written JSON reader for the fast paths: quotes, trades, bars,
//! control messages, trade updates and client requests, read in one pass
//! over already-validated text, with no serde visitor and no intermediate
//! value.
//!
//! It accepts a strict subset of what serde_json accepts — strings without
//! escapes, numbers without exponents whose conversion is exact — and gives
//! up on anything else, so the serde path decides every doubtful case.
//!
//! The same module walks a frame's structure for the serde path
//! ([`frame_elements`], [`value_end`]): over bytes not yet known to be
//! UTF-8, tracking only strings and nesting, so that serde_json then
//! decodes (and reports on) each message on its own.

use std::ops::Range;

use super::field_reader::{DEPTH_MAX, FieldReader, same_bytes};
use crate::Timestamp;
use crate::model::conditions::Conditions;

/// Powers of ten that are exact in an `f64` (10^22 is the last).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Any integer of this many decimal digits fits in a `u64` (19 may not).
const DIGITS_MAX: usize = 18;

/// Significands up to 2^53 are exact in an `f64`.
const SIGNIFICAND_EXACT_MAX: u64 = 1 << 53;

/// The index of the first byte that ends or interrupts a JSON string's
/// plain run: a quote, a backslash or a control character.
///
/// Eight bytes at a time while eight are left (SWAR: a byte of `x` is zero
/// iff `(x - 0x01…) & !x & 0x80…` has its high bit, and the lowest such
/// byte is exact), then byte by byte.
#[inline(always)]
fn string_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_ne_bytes([0x20; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // Bytes below 0x20: `x - 0x20` borrows into their high bit.
        let stops = zero_bytes(x ^ QUOTES)
            | zero_bytes(x ^ BACKSLASHES)
            | (x.wrapping_sub(SPACES) & !x & HIGHS);
        if stops != 0 {
            return Some(at + (stops.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f))
        .map(|i| at + i)
}

/// A cursor over one frame's text.
#[derive(Clone)]
pub(crate) struct JsonReader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> JsonReader<'a> {
    /// A reader at the start of `bytes`, if they are UTF-8 (checked once for
    /// the whole frame, so every string can be a slice of it).
    pub(crate) fn new(bytes: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        Some(Self { text, at: 0 })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        // Every byte that can start a token is above the space character.
        match self.bytes().get(self.at) {
            Some(&b) if b > b' ' => Some(b),
            _ => self.peek_after_whitespace(),
        }
    }

    #[cold]
    #[inline(never)]
    fn peek_after_whitespace(&mut self) -> Option<u8> {
        self.at = skip_whitespace(self.bytes(), self.at);
        self.bytes().get(self.at).copied()
    }

    /// Skips whitespace and consumes `expected`.
    #[inline(always)]
    fn expect(&mut self, expected: u8) -> Option<()> {
        if self.peek()? != expected {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// Consumes `close` if it is next.
    #[inline(always)]
    fn closes(&mut self, close: u8) -> Option<bool> {
        let closed = self.peek()? == close;
        if closed {
            self.at += 1;
        }
        Some(closed)
    }

    /// After an element of a container that `close` ends: `Some(true)` at
    /// its end, `Some(false)` after the comma before another element.
    #[inline(always)]
    fn element_end(&mut self, close: u8) -> Option<bool> {
        if self.closes(close)? {
            return Some(true);
        }
        self.expect(b',')?;
        Some(false)
    }

    /// One message whose first key is `T`, its tag passed to `each`.
    fn message(&mut self, each: &mut impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.name()? != b"T" {
            return None;
        }
        self.expect(b':')?;
        let tag = self.name()?;
        each(self, tag)
    }

    /// Where the contents of the next string start and end, if it has no
    /// escapes or control characters.
    #[inline(always)]
    fn string_span(&mut self) -> Option<(usize, usize)> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = self.bytes().get(start..)?;
        let len = string_stop(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        Some((start, start + len))
    }

    /// The bytes of a string (a key, a tag, a timestamp: compared or parsed
    /// as bytes, so not sliced as text).
    #[inline(always)]
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let (start, end) = self.string_span()?;
        self.bytes().get(start..end)
    }

    /// A key (or a tag). When 1 to 3 bytes long, which covers every key
    /// and tag of the data messages, it is found by its closing quote alone;
    /// longer ones are [read as strings](Self::long_name).
    ///
    /// Sound without checking for escapes or control characters as long as
    /// the result is only compared with known names, none of which holds a
    /// quote, a backslash or a control character: a span cut short by an
    /// escaped quote holds its backslash, and one that runs past an empty
    /// key's closing quote holds that quote, so neither matches. A caller
    /// that accepts other keys (see [`FieldReader::map`]) must refuse those
    /// bytes itself.
    #[inline(always)]
    fn name(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let len = match self.bytes().get(start..)?.first_chunk::<4>() {
            Some([_, b'"', _, _]) => 1,
            Some([_, _, b'"', _]) => 2,
            Some([_, _, _, b'"']) => 3,
            _ => return self.long_name(start),
        };
        self.at = start + len + 1;
        self.bytes().get(start..start + len)
    }

    /// A name that is not 1 to 3 bytes long (control messages' keys and
    /// tags), whose contents start at `start`: a string without escapes.
    /// Out of line, away from the data messages' loops.
    #[inline(never)]
    fn long_name(&mut self, start: usize) -> Option<&'a [u8]> {
        // Back to the opening quote, which `name` consumed.
        self.at = start - 1;
        self.str_bytes()
    }

    /// `word` (a literal such as `null` or `true`), consumed if it is next:
    /// `Some(false)` if another token is, `None` if the token starts like
    /// `word` but is not it.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<bool> {
        if self.peek()? != word[0] {
            return Some(false);
        }
        if !self.bytes()[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(true)
    }

    /// A JSON number without exponent: its sign, its digits as one integer
    /// and how many of them follow the decimal point. Gives up beyond
    /// [`DIGITS_MAX`] digits, so the integer cannot overflow.
    #[inline(always)]
    fn number(&mut self) -> Option<(bool, u64, usize)> {
        let bytes = self.bytes();
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut significand: u64 = 0;
        match *bytes.get(self.at)? {
            // One leading zero, never followed by a digit (the caller's next
            // expected byte rejects a digit here).
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                while let Some(&b @ b'0'..=b'9') = bytes.get(self.at) {
                    significand = significand
                        .wrapping_mul(10)
                        .wrapping_add(u64::from(b - b'0'));
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let mut fraction_digits = 0;
        if bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            let fraction_start = self.at;
            while let Some(&b @ b'0'..=b'9') = bytes.get(self.at) {
                significand = significand
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(b - b'0'));
                self.at += 1;
            }
            fraction_digits = self.at - fraction_start;
            if fraction_digits == 0 {
                return None;
            }
        }
        // Digits read, the decimal point aside.
        let digits = self.at - start - usize::from(fraction_digits > 0);
        if digits > DIGITS_MAX || matches!(bytes.get(self.at), Some(b'e' | b'E')) {
            return None;
        }
        Some((negative, significand, fraction_digits))
    }
}

impl<'a> FieldReader<'a> for JsonReader<'a> {
    fn messages(&mut self, mut each: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        match self.peek()? {
            b'[' => self.array(|r| r.message(&mut each))?,
            b'{' => self.message(&mut each)?,
            _ => return None,
        }
        // Only whitespace may follow.
        self.at_end().then_some(())
    }

    #[inline(always)]
    fn next_key(&mut self) -> Option<Option<&'a [u8]>> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                let key = self.name()?;
                self.expect(b':')?;
                Some(Some(key))
            }
            b'}' => {
                self.at += 1;
                Some(None)
            }
            _ => None,
        }
    }

    /// A string without escapes or control characters.
    #[inline(always)]
    fn str(&mut self) -> Option<&'a str> {
        let (start, end) = self.string_span()?;
        // Both ends are at ASCII bytes, so on character boundaries.
        self.text.get(start..end)
    }

    /// As serde_json (without `float_roundtrip`) converts: an integer as
    /// `u64`/`i64` then `as f64`; a decimal as `significand as f64 / 10^k`.
    /// Limited to exact significands and exact powers, where that is also the
    /// correctly rounded value.
    #[inline(always)]
    fn f64(&mut self) -> Option<f64> {
        let (negative, significand, fraction_digits) = self.number()?;
        if significand > SIGNIFICAND_EXACT_MAX {
            return None;
        }
        let magnitude = significand as f64 / *POW10.get(fraction_digits)?;
        Some(if negative { -magnitude } else { magnitude })
    }

    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        match self.number()? {
            (false, value, 0) => Some(value),
            _ => None,
        }
    }

    #[inline(always)]
    fn conditions(&mut self) -> Option<Conditions> {
        let mut conditions = Conditions::new();
        match self.peek()? {
            b'[' => self.array(|r| {
                conditions.0.push(r.str()?.into());
                Some(())
            })?,
            b'"' => conditions.0.push(self.str()?.into()),
            b'n' if self.null()? => {}
            _ => return None,
        }
        Some(conditions)
    }

    fn strings(&mut self, mut each: impl FnMut(&'a str)) -> Option<()> {
        match self.peek()? {
            b'[' => self.array(|r| {
                each(r.str()?);
                Some(())
            }),
            b'n' if self.null()? => Some(()),
            _ => None,
        }
    }

    /// Compares each element where it lies, `"` + its text + `"` then `,`
    /// or `]`, without scanning for where the string ends: sound for texts
    /// that hold no quote, backslash or control byte, as such a run is then
    /// the whole string. Anything else (whitespace, an escape, `null`) is
    /// `Some(false)`.
    #[inline(always)]
    fn strings_as<'e>(&mut self, mut next: impl FnMut() -> Option<&'e [u8]>) -> Option<bool> {
        if !self.closes(b'[')? {
            return Some(false);
        }
        let bytes = self.bytes();
        if bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Some(true);
        }
        loop {
            let Some(expected) = next() else {
                return Some(false);
            };
            let start = self.at + 1;
            let end = start + expected.len();
            let stops = expected.iter().fold(false, |stop, &b| {
                stop | (b < 0x20) | (b == b'"') | (b == b'\\')
            });
            let listed = bytes.get(self.at) == Some(&b'"')
                && bytes.get(end) == Some(&b'"')
                && bytes
                    .get(start..end)
                    .is_some_and(|text| same_bytes(text, expected));
            if stops || !listed {
                return Some(false);
            }
            self.at = end + 2;
            match bytes.get(end + 1) {
                Some(b',') => {}
                Some(b']') => return Some(true),
                _ => return Some(false),
            }
        }
    }

    #[inline(always)]
    fn timestamp(&mut self) -> Option<Timestamp> {
        Timestamp::from_rfc3339_bytes(self.str_bytes()?)
    }

    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        self.literal(b"null")
    }

    fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true")? {
            return Some(true);
        }
        self.literal(b"false")?.then_some(false)
    }

    fn map(&mut self, mut entry: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.closes(b'}')? {
            return Some(());
        }
        loop {
            let key = self.name()?;
            // `name` may misread a key: cut short at an escaped quote (it
            // then holds the backslash) or run on past the closing quote of
            // an empty key (it then holds that quote). Such keys, and keys
            // with control characters, are given up on.
            if key.iter().any(|&b| matches!(b, b'\\' | b'"' | 0x00..=0x1f)) {
                return None;
            }
            self.expect(b':')?;
            entry(self, key)?;
            if self.element_end(b'}')? {
                return Some(());
            }
        }
    }

    #[inline(always)]
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.closes(b']')? {
            return Some(());
        }
        loop {
            element(self)?;
            if self.element_end(b']')? {
                return Some(());
            }
        }
    }

    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.str().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b'n' => self.null()?.then_some(()),
            _ => self.bool().map(drop),
        }
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn bytes_left(&self) -> usize {
        self.text.len().saturating_sub(self.at)
    }
}

/// Where the whitespace starting at `at` ends.
pub(super) fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Walks a frame — an array of messages, or a single object that is one
/// message — passing each message's byte span to `each`. Splits on element
/// boundaries without validating the elements (see [`value_end`]). On a
/// structural error the spans before it have been passed, and the error
/// says what went wrong.
pub(crate) fn frame_elements(
    bytes: &[u8],
    mut each: impl FnMut(Range<usize>),
) -> Result<(), &'static str> {
    let mut at = skip_whitespace(bytes, 0);
    match bytes.get(at) {
        Some(b'[') => {
            at = skip_whitespace(bytes, at + 1);
            if bytes.get(at) == Some(&b']') {
                at += 1;
            } else {
                loop {
                    let end = value_end(bytes, at).ok_or("truncated or invalid JSON array")?;
                    each(at..end);
                    at = skip_whitespace(bytes, end);
                    match bytes.get(at) {
                        Some(b',') => at = skip_whitespace(bytes, at + 1),
                        Some(b']') => {
                            at += 1;
                            break;
                        }
                        _ => return Err("expected ',' or ']' between messages"),
                    }
                }
            }
        }
        Some(b'{') => {
            let end = value_end(bytes, at).ok_or("truncated or invalid JSON object")?;
            each(at..end);
            at = end;
        }
        _ => return Err("expected a JSON array or object"),
    }
    if skip_whitespace(bytes, at) != bytes.len() {
        return Err("bytes after the end of the frame");
    }
    Ok(())
}

/// The end of the JSON value starting at `at`, found from its structure
/// alone: strings (with their escapes) and nesting are tracked, scalars are
/// not validated. `None` if it is truncated, mismatched or nested more than
/// [`DEPTH_MAX`] deep. One pass, so the work is bounded by the input's size.
pub(super) fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut open: Vec<u8> = Vec::new();
    let mut i = at;
    loop {
        match *bytes.get(i)? {
            b'"' => {
                i += 1;
                loop {
                    match *bytes.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            c @ (b'{' | b'[') => {
                if open.len() >= DEPTH_MAX {
                    return None;
                }
                open.push(if c == b'{' { b'}' } else { b']' });
                i += 1;
            }
            c @ (b'}' | b']') => {
                if open.pop()? != c {
                    return None;
                }
                i += 1;
            }
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if !open.is_empty() => i += 1,
            b',' | b' ' | b'\t' | b'\n' | b'\r' => return (i > at).then_some(i),
            _ => i += 1,
        }
        if open.is_empty() && i > at && !is_scalar_continuation(bytes, i, at) {
            return Some(i);
        }
    }
}

/// Whether a top-level scalar that started at `start` continues at `i`.
fn is_scalar_continuation(bytes: &[u8], i: usize, start: usize) -> bool {
    !matches!(bytes[start], b'"' | b'{' | b'[')
        && bytes
            .get(i)
            .is_some_and(|b| !matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::string_stop;

    fn naive(bytes: &[u8]) -> Option<usize> {
        bytes
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f))
    }

    proptest! {
        #[test]
        fn string_stop_finds_the_first_stop_byte(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..0x80, 0x80u8..=0xff],
                0..40,
            ),
        ) {
            prop_assert_eq!(string_stop(&bytes), naive(&bytes));
        }
    }

    #[test]
    fn string_stop_edge_bytes() {
        for stop in [b'"', b'\\', 0x00, 0x1f] {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 24];
                bytes[at] = stop;
                // Bytes that must not count: just above the limits, high bytes.
                bytes[..at].iter_mut().step_by(3).for_each(|b| *b = 0x20);
                bytes[..at]
                    .iter_mut()
                    .skip(1)
                    .step_by(3)
                    .for_each(|b| *b = 0xff);
                assert_eq!(string_stop(&bytes), Some(at), "{bytes:?}");
            }
        }
        assert_eq!(string_stop(b"abcdefghijklmnop"), None);
    }
}
