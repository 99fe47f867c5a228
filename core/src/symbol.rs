//! Symbols: the instrument half of a subscription.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Longest symbol accepted, in bytes (option contracts are about 21).
pub const SYMBOL_BYTES_MAX: usize = 64;

/// Longest symbol stored inline, in bytes; longer ones are shared on the heap.
const INLINE_BYTES_MAX: usize = 22;

/// A validated instrument symbol such as `AAPL`, `BTC/USD` or the wildcard `*`.
///
/// Symbols of up to 22 bytes are stored inline: cloning one does not
/// allocate, and comparing two is a few integer comparisons. Symbols order
/// and hash as their text does.
///
/// ```
/// use tickwire_core::Symbol;
/// let aapl = Symbol::new("AAPL")?;
/// assert_eq!(aapl.as_str(), "AAPL");
/// assert!(Symbol::new("bad symbol").is_err());
/// assert!(Symbol::WILDCARD.is_wildcard());
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
#[derive(Clone)]
pub struct Symbol(Repr);

/// A symbol's text: inline exactly when it fits, so equal texts have equal forms.
#[derive(Clone)]
enum Repr {
    /// The text zero-padded to [`INLINE_BYTES_MAX`] bytes, then its length.
    Inline([u8; INLINE_BYTES_MAX + 1]),
    /// Text longer than [`INLINE_BYTES_MAX`].
    Heap(Arc<str>),
}

const _: () = assert!(size_of::<Symbol>() <= 24);

impl Repr {
    #[inline]
    fn new(text: &str) -> Self {
        if text.len() > INLINE_BYTES_MAX {
            Self::Heap(Arc::from(text))
        } else {
            Self::Inline(inline_gathered(text))
        }
    }
}

/// Which bytes a symbol may hold: letters, digits and `. / - _ : *`.
static SYMBOL_BYTES: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        allowed[byte] =
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b'_' | b':' | b'*');
        byte += 1;
    }
    allowed
};

/// Whether a symbol may hold this byte.
fn is_symbol_byte(byte: u8) -> bool {
    SYMBOL_BYTES[usize::from(byte)]
}

/// The checks of [`Symbol::new`].
fn check(symbol: &str) -> Result<(), InvalidSymbol> {
    if symbol.is_empty() {
        return Err(InvalidSymbol::Empty);
    }
    if symbol.len() > SYMBOL_BYTES_MAX {
        return Err(InvalidSymbol::TooLong { len: symbol.len() });
    }
    if !symbol.bytes().all(is_symbol_byte) {
        // Allowed characters are ASCII, so a byte outside the table
        // belongs to a character outside it.
        let character = symbol
            .chars()
            .find(|c| !c.is_ascii() || !is_symbol_byte(*c as u8))
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(InvalidSymbol::BadCharacter {
            symbol: symbol.to_owned(),
            character,
        });
    }
    Ok(())
}

/// The inline form of `text`, which must fit.
const fn inline(text: &str) -> [u8; INLINE_BYTES_MAX + 1] {
    let bytes = text.as_bytes();
    assert!(bytes.len() <= INLINE_BYTES_MAX, "symbol too long to inline");
    let mut form = [0u8; INLINE_BYTES_MAX + 1];
    let mut index = 0;
    while index < bytes.len() {
        form[index] = bytes[index];
        index += 1;
    }
    form[INLINE_BYTES_MAX] = bytes.len() as u8;
    form
}

/// [`inline`] at run time: the text gathered into three words and stored
/// whole. Copied byte by byte (in effect a `memcpy` of an odd size), the
/// form would then be read back whole from memory written in pieces, which
/// stalls the copy into a list; a server's acknowledgement makes thousands.
#[inline]
fn inline_gathered(text: &str) -> [u8; INLINE_BYTES_MAX + 1] {
    let bytes = text.as_bytes();
    debug_assert!(bytes.len() <= INLINE_BYTES_MAX, "symbol too long to inline");
    let mut words = [0u64; 3];
    for (index, &byte) in bytes.iter().enumerate().take(INLINE_BYTES_MAX) {
        words[index / 8] |= u64::from(byte) << (8 * (index % 8));
    }
    words[INLINE_BYTES_MAX / 8] |= (bytes.len() as u64) << (8 * (INLINE_BYTES_MAX % 8));
    let mut form = [0u8; INLINE_BYTES_MAX + 1];
    let [first, second, third] = words.map(u64::to_le_bytes);
    form[..8].copy_from_slice(&first);
    form[8..16].copy_from_slice(&second);
    form[16..].copy_from_slice(&third[..INLINE_BYTES_MAX + 1 - 16]);
    form
}

/// The inline form of the wildcard `*`.
const WILDCARD_FORM: [u8; INLINE_BYTES_MAX + 1] = inline("*");

/// An inline form as two big-endian integers: bytes 0–15, then bytes 15–22
/// (byte 15 twice, which changes nothing). Comparing them compares the texts
/// byte by byte and then by length, as `str` does: where one text ends, its
/// zero padding sorts before (or ties with) the other's remaining bytes.
#[inline]
fn key(form: &[u8; INLINE_BYTES_MAX + 1]) -> (u128, u64) {
    let (head, _) = form
        .split_first_chunk::<16>()
        .expect("the form is 23 bytes");
    let (_, tail) = form.split_last_chunk::<8>().expect("the form is 23 bytes");
    (u128::from_be_bytes(*head), u64::from_be_bytes(*tail))
}

/// Why a string is not a valid [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSymbol {
    /// The symbol was empty.
    #[error("symbol is empty; pass a ticker such as \"AAPL\" or the wildcard \"*\"")]
    Empty,
    /// The symbol was longer than [`SYMBOL_BYTES_MAX`].
    #[error("symbol is {len} bytes long; at most {SYMBOL_BYTES_MAX} are accepted")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The symbol held a character no exchange symbol uses.
    #[error(
        "symbol {symbol:?} contains {character:?}; symbols use letters, digits and . / - _ : * only"
    )]
    BadCharacter {
        /// The offending symbol (truncated to its first 64 bytes).
        symbol: String,
        /// The first character that is not allowed.
        character: char,
    },
}

impl Symbol {
    /// The wildcard: every symbol of a channel.
    pub const WILDCARD: Self = Self(Repr::Inline(WILDCARD_FORM));

    /// Validates and wraps a symbol.
    pub fn new(symbol: &str) -> Result<Self, InvalidSymbol> {
        check(symbol)?;
        Ok(Self(Repr::new(symbol)))
    }

    /// Checks a symbol made by [`from_server`](Self::from_server) as
    /// [`new`](Self::new) would have.
    ///
    /// ```
    /// use tickwire_core::Symbol;
    /// assert!(Symbol::from_server("AAPL").validate().is_ok());
    /// assert!(Symbol::from_server("AA PL").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), InvalidSymbol> {
        let bytes = self.as_bytes();
        if (1..=SYMBOL_BYTES_MAX).contains(&bytes.len()) && bytes.iter().all(|&b| is_symbol_byte(b))
        {
            return Ok(());
        }
        // Refused: the text names the reason (read as text only now).
        check(self.as_str())
    }

    /// Wraps a symbol received from a server without validating it.
    #[inline]
    pub fn from_server(symbol: &str) -> Self {
        Self(Repr::new(symbol))
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(form) => {
                let len = usize::from(form[INLINE_BYTES_MAX]);
                // Inline forms are only made from a whole `&str`.
                std::str::from_utf8(&form[..len]).expect("an inline symbol holds UTF-8")
            }
            Repr::Heap(text) => text,
        }
    }

    /// The symbol's bytes: [`as_str`](Self::as_str) without re-checking
    /// that they are UTF-8, for hashing, ordering and writing out.
    ///
    /// ```
    /// use tickwire_core::Symbol;
    /// assert_eq!(Symbol::from_server("BRK.B").as_bytes(), b"BRK.B");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(form) => &form[..usize::from(form[INLINE_BYTES_MAX])],
            Repr::Heap(text) => text.as_bytes(),
        }
    }

    /// Whether this is the wildcard `*`.
    pub fn is_wildcard(&self) -> bool {
        matches!(&self.0, Repr::Inline(form) if *form == WILDCARD_FORM)
    }
}

impl PartialEq for Symbol {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Inline(a), Repr::Inline(b)) => a == b,
            (Repr::Heap(a), Repr::Heap(b)) => a == b,
            // Each text has one form.
            _ => false,
        }
    }
}

impl Eq for Symbol {}

impl Ord for Symbol {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Inline(a), Repr::Inline(b)) => key(a).cmp(&key(b)),
            _ => self.as_bytes().cmp(other.as_bytes()),
        }
    }
}

impl PartialOrd for Symbol {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Symbol {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SymbolVisitor)
    }
}

/// Reads a symbol from a string, unvalidated like [`Symbol::from_server`].
struct SymbolVisitor;

impl Visitor<'_> for SymbolVisitor {
    type Value = Symbol;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a symbol string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Symbol, E> {
        Ok(Symbol::from_server(text))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Symbol, E> {
        std::str::from_utf8(bytes)
            .map(Symbol::from_server)
            .map_err(|_| E::invalid_value(de::Unexpected::Bytes(bytes), &self))
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Symbol {
    type Err = InvalidSymbol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Symbol {
    type Error = InvalidSymbol;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_inline_forms_match_the_constant_ones() {
        for len in 0..=INLINE_BYTES_MAX {
            let text: String = (0..len).map(|i| char::from(b'A' + i as u8)).collect();
            assert_eq!(inline_gathered(&text), inline(&text), "{text:?}");
        }
    }

    #[test]
    fn short_symbols_are_inline_and_small() {
        assert!(size_of::<Symbol>() <= 24);
        assert!(matches!(
            Symbol::from_server(&"A".repeat(22)).0,
            Repr::Inline(_)
        ));
        assert!(matches!(
            Symbol::from_server(&"A".repeat(23)).0,
            Repr::Heap(_)
        ));
        assert_eq!(Symbol::from_server("*"), Symbol::WILDCARD);
        assert!(!Symbol::from_server("**").is_wildcard());
        assert!(!Symbol::from_server("*\0").is_wildcard());
    }
}
