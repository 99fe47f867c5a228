//! Subjects and lease keys, and how a symbol becomes one token of them.
//!
//! Every name the relay uses on NATS is built here: the data subjects
//! `tickwire.<feed>.<channel>.<SYMBOL>`, the lease keys
//! `<feed>.<channel>.<SYMBOL>.<consumer>`, the consumers' control subjects
//! `tickwire.<feed>.control.<consumer>`, the snapshot requests'
//! `tickwire.<feed>.snapshot.<channel>` and the trade-update subjects
//! `tickwire.account.<account>.trade_updates`. A symbol may hold `.`, `:` and
//! `*` (`BRK.B`, the wildcard), which NATS reads as token separators and
//! wildcards; each byte outside `A–Z a–z 0–9 _ - /` is written `=` and two
//! upper-case hex digits (`BRK.B` → `BRK=2EB`, `*` → `=2A`). The escape is
//! canonical: a token that decodes but is not written exactly so is
//! refused, so that one symbol has one subject and one key.

use std::fmt::Write as _;

use tickwire_alpaca::{Channel, Feed};
use tickwire_core::Symbol;

/// First token of every data subject.
pub const SUBJECT_ROOT: &str = "tickwire";

/// The JetStream subject of an account's trade updates:
/// `tickwire.account.<account>.trade_updates` (`*` as `account` matches
/// every account's).
///
/// ```
/// assert_eq!(
///     tickwire_relay::subject::trade_updates_subject("paper"),
///     "tickwire.account.paper.trade_updates"
/// );
/// ```
pub fn trade_updates_subject(account: &str) -> String {
    format!("{SUBJECT_ROOT}.account.{account}.trade_updates")
}

/// Longest account name in a trade-update subject.
pub const ACCOUNT_NAME_MAX: usize = 64;

/// Checks that `account` can name an account in a subject: 1 to
/// [`ACCOUNT_NAME_MAX`] bytes of `A–Z a–z 0–9 _ -`.
///
/// ```
/// use tickwire_relay::subject::check_account_name;
/// assert!(check_account_name("paper-1").is_ok());
/// assert!(check_account_name("a.b").is_err());
/// ```
///
/// # Errors
/// Why it cannot, naming the rule.
pub fn check_account_name(account: &str) -> Result<(), String> {
    let plain = account
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if account.is_empty() || account.len() > ACCOUNT_NAME_MAX || !plain {
        return Err(format!(
            "{account:?} cannot name an account on NATS: use 1 to {ACCOUNT_NAME_MAX} of A-Z a-z 0-9 _ -"
        ));
    }
    Ok(())
}

/// Whether `byte` stands for itself in a token.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'/')
}

/// Appends `symbol` to `out` as one token.
fn push_symbol(out: &mut String, symbol: &Symbol) {
    for &byte in symbol.as_bytes() {
        if is_plain(byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "={byte:02X}");
        }
    }
}

/// `symbol` as one subject or key token, e.g. `BRK=2EB` for `BRK.B`.
///
/// ```
/// use tickwire_core::Symbol;
/// use tickwire_relay::subject::{symbol_from_token, symbol_token};
/// let brk = Symbol::new("BRK.B")?;
/// assert_eq!(symbol_token(&brk), "BRK=2EB");
/// assert_eq!(symbol_from_token("BRK=2EB"), Ok(brk));
/// assert_eq!(symbol_token(&Symbol::new("BTC/USD")?), "BTC/USD");
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn symbol_token(symbol: &Symbol) -> String {
    let mut token = String::with_capacity(symbol.as_str().len() + 2);
    push_symbol(&mut token, symbol);
    token
}

/// Why a token names no symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A `=` not followed by two hex digits, or a byte that should have been escaped.
    #[error("{0:?} is not an escaped symbol (bytes other than A-Z a-z 0-9 _ - / are written =XX)")]
    BadEscape(String),
    /// Escaped, but not as the relay writes it (e.g. `=2e`, or `=41` for `A`).
    #[error("{token:?} is not written canonically; write {canonical:?}")]
    NotCanonical {
        /// The token.
        token: String,
        /// How the relay writes its symbol.
        canonical: String,
    },
    /// It decodes to text that is no valid symbol.
    #[error("{token:?} decodes to no valid symbol: {reason}")]
    InvalidSymbol {
        /// The token.
        token: String,
        /// Why the text is not a symbol.
        reason: String,
    },
}

/// The symbol a token stands for; the inverse of [`symbol_token`].
///
/// # Errors
/// A malformed or non-canonical escape, or text that is no valid symbol.
pub fn symbol_from_token(token: &str) -> Result<Symbol, TokenError> {
    let bad = || TokenError::BadEscape(token.to_owned());
    let bytes = token.as_bytes();
    let mut text = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'=' {
            let hex = bytes.get(at + 1..at + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            text.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            at += 3;
        } else if is_plain(byte) {
            text.push(byte);
            at += 1;
        } else {
            return Err(bad());
        }
    }
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let symbol = Symbol::new(&text).map_err(|e| TokenError::InvalidSymbol {
        token: token.to_owned(),
        reason: e.to_string(),
    })?;
    let canonical = symbol_token(&symbol);
    if canonical != token {
        return Err(TokenError::NotCanonical {
            token: token.to_owned(),
            canonical,
        });
    }
    Ok(symbol)
}

/// The subject data of `channel` about `symbol` on `feed` is published on,
/// e.g. `tickwire.iex.quotes.AAPL`.
///
/// ```
/// use tickwire_alpaca::{Channel, Feed};
/// use tickwire_core::Symbol;
/// use tickwire_relay::subject::data_subject;
/// let brk = Symbol::new("BRK.B")?;
/// assert_eq!(data_subject(Feed::Sip, Channel::Trades, &brk), "tickwire.sip.trades.BRK=2EB");
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn data_subject(feed: Feed, channel: Channel, symbol: &Symbol) -> String {
    let mut subject = String::with_capacity(40);
    subject.push_str(SUBJECT_ROOT);
    subject.push('.');
    subject.push_str(feed.name());
    subject.push('.');
    subject.push_str(channel.wire_name());
    subject.push('.');
    push_symbol(&mut subject, symbol);
    subject
}

/// The subject the leading relay publishes `consumer`'s
/// [`ConsumerState`](crate::ConsumerState) on, e.g.
/// `tickwire.iex.control.strategy-1` (`control` is no channel's name).
///
/// ```
/// use tickwire_alpaca::Feed;
/// assert_eq!(
///     tickwire_relay::subject::control_subject(Feed::Iex, "strategy-1"),
///     "tickwire.iex.control.strategy-1"
/// );
/// ```
pub fn control_subject(feed: Feed, consumer: &str) -> String {
    format!("{SUBJECT_ROOT}.{}.control.{consumer}", feed.name())
}

/// The subject snapshots of `channel` on `feed` are asked for, e.g.
/// `tickwire.iex.snapshot.quotes` (`snapshot` is no channel's name; see
/// [`crate::snapshot`]). With `*` as the channel, the leading relay's
/// subscription to every channel's.
///
/// ```
/// use tickwire_alpaca::Feed;
/// assert_eq!(
///     tickwire_relay::subject::snapshot_subject(Feed::Iex, "quotes"),
///     "tickwire.iex.snapshot.quotes"
/// );
/// ```
pub fn snapshot_subject(feed: Feed, channel: &str) -> String {
    format!("{SUBJECT_ROOT}.{}.snapshot.{channel}", feed.name())
}

/// The lease key of `consumer` for `channel` and `symbol` on `feed`, e.g.
/// `iex.quotes.AAPL.strategy-1`; `None` when `consumer` is no valid
/// consumer id (see [`is_consumer_id`]).
///
/// ```
/// use tickwire_alpaca::{Channel, Feed};
/// use tickwire_core::Symbol;
/// use tickwire_relay::subject::lease_key;
/// let key = lease_key(Feed::Iex, Channel::Quotes, &Symbol::new("AAPL")?, "strategy-1");
/// assert_eq!(key.as_deref(), Some("iex.quotes.AAPL.strategy-1"));
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn lease_key(feed: Feed, channel: Channel, symbol: &Symbol, consumer: &str) -> Option<String> {
    if !is_consumer_id(consumer) {
        return None;
    }
    let mut key = String::with_capacity(32 + consumer.len());
    key.push_str(feed.name());
    key.push('.');
    key.push_str(channel.wire_name());
    key.push('.');
    push_symbol(&mut key, symbol);
    key.push('.');
    key.push_str(consumer);
    Some(key)
}

/// Whether `id` may name a consumer in a lease key: 1 to 64 bytes of
/// `A–Z a–z 0–9 _ - = /`.
pub fn is_consumer_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'=' | b'/'))
}

/// The feed whose [`Feed::name`] is `name`.
pub fn feed_by_name(name: &str) -> Option<Feed> {
    Feed::ALL.into_iter().find(|feed| feed.name() == name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn special_bytes_are_escaped_and_others_kept() {
        let cases = [
            ("AAPL", "AAPL"),
            ("BRK.B", "BRK=2EB"),
            ("*", "=2A"),
            ("BTC/USD", "BTC/USD"),
            ("AAPL250117C00150000", "AAPL250117C00150000"),
            ("A:B", "A=3AB"),
        ];
        for (text, token) in cases {
            let symbol = Symbol::new(text).expect("valid");
            assert_eq!(symbol_token(&symbol), token);
            assert_eq!(symbol_from_token(token), Ok(symbol));
        }
    }

    #[test]
    fn malformed_and_non_canonical_tokens_are_refused() {
        for token in ["BRK=2", "BRK=ZZB", "BRK.B", "A B", "=", ""] {
            assert!(symbol_from_token(token).is_err(), "{token:?}");
        }
        assert!(matches!(
            symbol_from_token("BRK=2eB"),
            Err(TokenError::NotCanonical { canonical, .. }) if canonical == "BRK=2EB"
        ));
        assert!(matches!(
            symbol_from_token("=41APL"),
            Err(TokenError::NotCanonical { .. })
        ));
        assert!(matches!(
            symbol_from_token("A=20B"),
            Err(TokenError::InvalidSymbol { .. })
        ));
    }

    #[test]
    fn feeds_are_found_by_name() {
        for feed in Feed::ALL {
            assert_eq!(feed_by_name(feed.name()), Some(feed));
        }
        assert_eq!(feed_by_name("nope"), None);
    }

    proptest! {
        /// Every valid symbol round-trips, and its token is one NATS token
        /// of the bytes NATS keys allow.
        #[test]
        fn tokens_round_trip(text in "[A-Za-z0-9./:_*-]{1,20}") {
            let Ok(symbol) = Symbol::new(&text) else { return Ok(()) };
            let token = symbol_token(&symbol);
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-/=".contains(&b)), "{}", token);
            prop_assert_eq!(symbol_from_token(&token), Ok(symbol));
        }
    }
}
