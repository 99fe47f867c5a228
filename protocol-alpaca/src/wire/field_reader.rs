//! What the fast paths need from a wire reader: [`FieldReader`], which the
//! JSON and MessagePack readers implement, and [`put`], which fills a field
//! once.
//!
//! The contract, for both readers: **whenever a fast path returns a value,
//! the serde path would have returned the same value.** Every method returns
//! `None` to give up on anything it is not sure about, and the caller then
//! decodes the whole frame again with serde.

use crate::Timestamp;
use crate::model::conditions::Conditions;

/// What the fast paths need from a wire reader. Every method returns
/// `None` to give up; `Some(None)` means `null` (or "end of map" for keys).
pub(crate) trait FieldReader<'a>: Clone {
    /// Walks a frame's messages — one message map, or an array of them —
    /// reading each one's first key, which must be `T`, and passing its tag
    /// to `each` with the reader at the next key; then requires that nothing
    /// but (JSON) whitespace is left.
    fn messages(&mut self, each: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()>;
    /// The next key of the current message, or `Some(None)` at its end.
    fn next_key(&mut self) -> Option<Option<&'a [u8]>>;
    /// A string.
    fn str(&mut self) -> Option<&'a str>;
    /// A number, converted to `f64` exactly as the serde path converts it.
    fn f64(&mut self) -> Option<f64>;
    /// A non-negative integer.
    fn u64(&mut self) -> Option<u64>;
    /// Condition codes: an array of strings, one string, or `null`.
    fn conditions(&mut self) -> Option<Conditions>;
    /// An array of strings, each passed to `each`, or `null` (none).
    fn strings(&mut self, each: impl FnMut(&'a str)) -> Option<()>;
    /// A timestamp in the wire's native form.
    fn timestamp(&mut self) -> Option<Timestamp>;
    /// `null`, consumed if it is next: `Some(true)`; `Some(false)` if
    /// something else is next.
    fn null(&mut self) -> Option<bool>;
    /// `true` or `false`.
    fn bool(&mut self) -> Option<bool>;
    /// A map, each of whose entries is read by `entry` (given its key,
    /// the reader at its value). Keys may hold anything but escapes.
    fn map(&mut self, entry: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()>;
    /// An array, each of whose elements is read by `element`.
    fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()>;
    /// Skips a string, a number, a boolean or `null`, checked as serde
    /// checks a value it ignores; gives up on anything else.
    fn skip_scalar(&mut self) -> Option<()>;
    /// Whether nothing but (JSON) whitespace is left of the frame.
    fn at_end(&mut self) -> bool;
    /// How many bytes of the frame are left to read: room to reserve for
    /// what they hold.
    fn bytes_left(&self) -> usize;

    /// An array of strings (or `null`) checked against the texts `next`
    /// gives, one per string: `Some(true)` when each string was its text,
    /// `Some(false)` when one was not or `next` had none for it (the reader
    /// then anywhere: the caller gives up on it). By default through
    /// [`Self::strings`].
    fn strings_as<'e>(&mut self, mut next: impl FnMut() -> Option<&'e [u8]>) -> Option<bool> {
        let mut agrees = true;
        self.strings(|text| {
            agrees = agrees && next().is_some_and(|expected| same_bytes(expected, text.as_bytes()));
        })?;
        Some(agrees)
    }

    /// A string or `null`.
    #[inline(always)]
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        if self.null()? {
            return Some(None);
        }
        self.str().map(Some)
    }

    /// A number or `null`.
    #[inline(always)]
    fn opt_f64(&mut self) -> Option<Option<f64>> {
        if self.null()? {
            return Some(None);
        }
        self.f64().map(Some)
    }

    /// A non-negative integer or `null`.
    #[inline(always)]
    fn opt_u64(&mut self) -> Option<Option<u64>> {
        if self.null()? {
            return Some(None);
        }
        self.u64().map(Some)
    }

    /// The entries of a map, each read by `entry` as [`Self::map`] reads
    /// them: the map the reader is at, or with `rest_of_message` the keys
    /// left of the current message (see [`Self::messages`]).
    #[inline(always)]
    fn entries(
        &mut self,
        rest_of_message: bool,
        mut entry: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()>
    where
        Self: Sized,
    {
        if !rest_of_message {
            return self.map(entry);
        }
        while let Some(key) = self.next_key()? {
            entry(self, key)?;
        }
        Some(())
    }
}

/// Nesting deeper than this is refused by the readers' `skip_value` and
/// frame walks (no message of ours comes close).
pub(crate) const DEPTH_MAX: usize = 64;

/// Fills a field once; a second occurrence gives up (serde reports
/// duplicate fields as errors).
#[inline(always)]
pub(crate) fn put<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// `a == b` for a symbol's few bytes, inline: `==` on slices calls
/// `memcmp`, which costs more than the comparison for lists of thousands.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}
