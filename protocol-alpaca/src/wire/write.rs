//! Writing strings and symbols to JSON and MessagePack, byte for byte as
//! `serde_json` (compact) and `rmp_serde` write them, without going through
//! a serializer for each one.

use rmp::Marker;

use crate::Symbol;

/// Whether `serde_json` writes this byte of a string as it is (it escapes
/// only `"`, `\` and control characters below 0x20).
pub(crate) const fn is_json_plain(byte: u8) -> bool {
    byte >= 0x20 && byte != b'"' && byte != b'\\'
}

/// Appends `text` as a JSON string.
pub(crate) fn json_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(is_json_plain) {
        quoted(out, text.as_bytes());
    } else {
        serde_json::to_writer(out, text).expect("writing JSON to memory");
    }
}

/// Appends `symbol` as a JSON string; plain symbols (all of them, in
/// practice) are copied without re-reading them as text.
pub(crate) fn json_symbol(out: &mut Vec<u8>, symbol: &Symbol) {
    let bytes = symbol.as_bytes();
    if bytes.iter().copied().all(is_json_plain) {
        // A symbol's bytes are UTF-8, and nothing in them needs escaping.
        quoted(out, bytes);
    } else {
        json_str(out, symbol.as_str());
    }
}

/// Appends `bytes` between double quotes, as they are: the caller knows
/// that they are UTF-8 and that none of them needs escaping.
pub(crate) fn quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// Appends `symbol` as a MessagePack string.
pub(crate) fn msgpack_symbol(out: &mut Vec<u8>, symbol: &Symbol) {
    msgpack_str_bytes(out, symbol.as_bytes());
}

/// Appends `bytes`, which are UTF-8, as a MessagePack string: a fixstr
/// written here, longer ones by `rmp`.
// Inlined so that a constant key's length and marker are constants.
#[inline(always)]
pub(crate) fn msgpack_str_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() < 32 {
        out.reserve(1 + bytes.len());
        out.push(Marker::FixStr(bytes.len() as u8).to_u8());
        out.extend_from_slice(bytes);
    } else {
        written(rmp::encode::write_str_len(out, u32_len(bytes.len())));
        out.extend_from_slice(bytes);
    }
}

/// Ends a write of MessagePack to memory, which cannot fail.
pub(crate) fn written<T, E: std::fmt::Debug>(result: Result<T, E>) {
    result.expect("writing MessagePack to memory");
}

/// A MessagePack length; frames are far below 4 GiB.
pub(crate) fn u32_len(len: usize) -> u32 {
    u32::try_from(len).expect("a length below 2^32")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn strings_and_symbols_match_the_serializers(text in "(?s).{0,40}") {
            let mut direct = Vec::new();
            json_str(&mut direct, &text);
            prop_assert_eq!(&direct, &serde_json::to_vec(&text).unwrap());

            let symbol = Symbol::from_server(&text);
            let mut direct = Vec::new();
            json_symbol(&mut direct, &symbol);
            prop_assert_eq!(&direct, &serde_json::to_vec(&text).unwrap());

            let mut direct = Vec::new();
            msgpack_symbol(&mut direct, &symbol);
            prop_assert_eq!(&direct, &rmp_serde::to_vec_named(&text).unwrap());
        }
    }

    #[test]
    fn escapes_what_needs_escaping() {
        let mut out = Vec::new();
        json_symbol(&mut out, &Symbol::from_server("A\"B\\C\n\u{1}é"));
        assert_eq!(out, r#""A\"B\\C\n\u0001é""#.as_bytes());
    }
}
