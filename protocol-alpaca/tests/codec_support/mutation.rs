//! Random edits of a frame's bytes, for the decoders' fuzz tests: the
//! integration suites' and, included by path, the crate's own unit tests.

use proptest::prelude::*;

/// One edit; each index is taken modulo the frame's length.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// XORs a byte with the value.
    Flip(usize, u8),
    /// Inserts a snippet (the second number picks it) at a position.
    Insert(usize, usize),
    /// Removes a byte.
    Delete(usize),
    /// Cuts the frame at a position.
    Truncate(usize),
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, s)| Mutation::Insert(i, s)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies one edit to a non-empty frame, inserting one of `snippets`.
pub(crate) fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation, snippets: &[impl AsRef<[u8]>]) {
    if bytes.is_empty() {
        return;
    }
    match *mutation {
        Mutation::Flip(i, b) => {
            let i = i % bytes.len();
            bytes[i] ^= b;
        }
        Mutation::Insert(i, s) => {
            let at = i % (bytes.len() + 1);
            let snippet = snippets[s % snippets.len()].as_ref();
            bytes.splice(at..at, snippet.iter().copied());
        }
        Mutation::Delete(i) => {
            bytes.remove(i % bytes.len());
        }
        Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
    }
}
