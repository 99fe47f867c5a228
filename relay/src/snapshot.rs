//! Last-value snapshots on NATS, by request and reply: what a consumer
//! asks the leading relay, and what it answers.
//!
//! - **Subject**: `tickwire.<feed>.snapshot.<channel>`
//!   ([`snapshot_subject`](crate::subject::snapshot_subject)); only `quotes` is served.
//! - **Request**: the symbols' tokens, escaped as in the data subjects
//!   (`AAPL BRK=2EB`), separated by spaces; at most
//!   [`SNAPSHOT_SYMBOLS_MAX`]. From a shell:
//!   `nats req tickwire.iex.snapshot.quotes 'AAPL MSFT'`.
//! - **Reply**: an Alpaca MessagePack frame, as on the data subjects but
//!   holding the latest quote the relay published of each symbol asked for
//!   that has one (an empty array when none has; a symbol no consumer
//!   leases by name has none), each map byte for byte as published. A
//!   malformed request gets a frame of one Alpaca error message (`T`
//!   `error`, code 400, naming the cause and the fix) instead. It goes to
//!   the request's reply subject (the requester's inbox) only if that is
//!   a valid subject outside `tickwire.` ([`check_reply_subject`]);
//!   otherwise the request is logged and ignored.
//!
//! Only the leading relay answers (it alone publishes, so it alone knows
//! the latest); a standby ignores requests, and with no relay leading a
//! request gets no answer. The values live in the leader's memory
//! ([`LastQuotes`]), not in JetStream: writing each quote to a stream or a
//! key-value bucket would cost a JetStream write per quote on the publish
//! path. The price: a standby that takes over starts with no values.

use std::collections::HashSet;

use bytes::{BufMut, Bytes, BytesMut};
use tickwire_alpaca::encode_market_frame;
use tickwire_alpaca::{AlpacaMarketData, Channel, Encoding, MarketData, ServerMessage};
use tickwire_core::protocol::{Dialect, Inbound};
use tickwire_core::{Frame, Symbol};

use crate::LastQuotes;
use crate::subject::{SUBJECT_ROOT, symbol_from_token, symbol_token};

/// Most symbols one snapshot request may name (a reply then stays far
/// below NATS's default 1 MiB payload limit); a consumer splits larger
/// asks.
pub const SNAPSHOT_SYMBOLS_MAX: usize = 1000;

/// The code of the error a malformed request is answered with.
const BAD_REQUEST: u16 = 400;

/// The body of a request for `symbols` (at most [`SNAPSHOT_SYMBOLS_MAX`]
/// of them make a request the relay serves).
///
/// ```
/// use tickwire_core::Symbol;
/// let body = tickwire_relay::snapshot::request_body(&[Symbol::new("AAPL")?, Symbol::new("BRK.B")?]);
/// assert_eq!(&body[..], b"AAPL BRK=2EB");
/// # Ok::<(), tickwire_core::InvalidSymbol>(())
/// ```
pub fn request_body(symbols: &[Symbol]) -> Bytes {
    let tokens: Vec<String> = symbols.iter().map(symbol_token).collect();
    Bytes::from(tokens.join(" "))
}

/// The symbols a request on the snapshot subject of `channel_token` asks
/// for, each once, in order.
///
/// # Errors
/// Why the request cannot be served, naming the cause and the fix: a
/// channel other than `quotes`, a body that is not text, a malformed
/// symbol token, too many symbols.
pub fn parse_request(channel_token: &str, body: &[u8]) -> Result<Vec<Symbol>, String> {
    if channel_token != Channel::Quotes.wire_name() {
        return Err(format!(
            "snapshots are served for quotes only, not {channel_token:?}: ask on the subject ending in .quotes"
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        "the request is not text: send symbol tokens separated by spaces, e.g. \"AAPL BRK=2EB\""
            .to_owned()
    })?;
    let mut symbols: Vec<Symbol> = Vec::new();
    let mut seen: HashSet<Symbol> = HashSet::new();
    for token in text.split_ascii_whitespace() {
        if symbols.len() == SNAPSHOT_SYMBOLS_MAX {
            return Err(format!(
                "more than {SNAPSHOT_SYMBOLS_MAX} symbols in one request: split it"
            ));
        }
        let symbol = symbol_from_token(token).map_err(|e| format!("{e}"))?;
        if seen.insert(symbol.clone()) {
            symbols.push(symbol);
        }
    }
    Ok(symbols)
}

/// Checks the reply subject a requester chose before the relay publishes
/// to it: a valid NATS subject (non-empty tokens separated by dots, no
/// whitespace or control characters, no wildcard `*` or `>`) outside the
/// relay's own [`SUBJECT_ROOT`] (a reply there would pass for the relay's
/// data or control messages) and outside the server's `$` subjects (a
/// reply to `$JS.API.…` or `$KV.…` would be a JetStream request or a
/// key-value write made with the relay's permissions). The relay's NATS
/// client skips its own subject checks, so this is the check for the one
/// subject it does not build itself.
///
/// # Errors
/// Why the relay will not reply there.
pub fn check_reply_subject(subject: &str) -> Result<(), String> {
    for token in subject.split('.') {
        if token.is_empty() {
            return Err("a reply subject with an empty token".to_owned());
        }
        if token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '*' || c == '>')
        {
            return Err(
                "a reply subject with whitespace, a control character or a wildcard".to_owned(),
            );
        }
    }
    if subject.starts_with('$') {
        return Err(
            "a reply subject under $ (the server's JetStream, key-value and system subjects)"
                .to_owned(),
        );
    }
    if subject.split('.').next() == Some(SUBJECT_ROOT) {
        return Err(format!(
            "a reply subject under {SUBJECT_ROOT}., where the relay's own subjects are"
        ));
    }
    Ok(())
}

/// The reply to a request for `symbols`: a MessagePack array of the
/// latest quote of each that has one, each as published.
pub fn answer(last: &LastQuotes, symbols: &[Symbol]) -> Bytes {
    let latest: Vec<&[u8]> = symbols.iter().filter_map(|s| last.latest(s)).collect();
    let mut out = BytesMut::with_capacity(5 + latest.iter().map(|p| p.len()).sum::<usize>());
    let count = latest.len();
    if count < 16 {
        out.put_u8(0x90 | count as u8);
    } else if let Ok(count) = u16::try_from(count) {
        out.put_u8(0xdc);
        out.put_u16(count);
    } else {
        out.put_u8(0xdd);
        out.put_u32(u32::try_from(count).unwrap_or(u32::MAX));
    }
    for payload in latest {
        // A published payload is a one-element array: its element follows
        // the header byte 0x91.
        out.put_slice(payload.get(1..).unwrap_or_default());
    }
    out.freeze()
}

/// The reply to a malformed request: one Alpaca error message.
pub fn error_reply(message: &str) -> Bytes {
    let error = ServerMessage::Error {
        code: BAD_REQUEST,
        message: message.to_owned(),
    };
    encode_market_frame(Encoding::MsgPack, &[error])
        .payload()
        .clone()
}

/// The quotes of a reply.
///
/// # Errors
/// The relay's error message, or why the reply cannot be read.
pub fn decode_reply(reply: &Bytes) -> Result<Vec<MarketData>, String> {
    let mut inbound = Vec::new();
    AlpacaMarketData::new(Encoding::MsgPack).decode(&Frame::Binary(reply.clone()), &mut inbound);
    let mut quotes = Vec::with_capacity(inbound.len());
    for message in inbound {
        match message {
            Inbound::Data(data @ MarketData::Quote(_)) => quotes.push(data),
            Inbound::Error(error) => {
                return Err(format!(
                    "the relay refused the snapshot request: {}",
                    error.message
                ));
            }
            Inbound::Malformed(error) => {
                return Err(format!("the relay's snapshot reply is malformed: {error}"));
            }
            other => tracing::debug!(?other, "unexpected message in a snapshot reply ignored"),
        }
    }
    Ok(quotes)
}

#[cfg(test)]
mod tests {
    use tickwire_alpaca::{Conditions, Quote};
    use tickwire_core::Timestamp;
    use tickwire_fanout::ClientId;

    use super::*;
    use crate::{InterestChange, payload};

    fn quote(symbol: &str, bid: f64) -> MarketData {
        MarketData::Quote(Quote {
            symbol: Symbol::new(symbol).expect("valid"),
            bid_exchange: None,
            bid_price: bid,
            bid_size: 1.0,
            ask_exchange: None,
            ask_price: bid + 0.5,
            ask_size: 2.0,
            conditions: Conditions::default(),
            timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
            tape: None,
        })
    }

    fn leased(symbols: &[&str]) -> LastQuotes {
        let mut last = LastQuotes::default();
        for symbol in symbols {
            last.handle_change(&InterestChange::Subscribe {
                client: ClientId(1),
                channel: Channel::Quotes,
                symbol: Symbol::new(symbol).expect("valid"),
            });
        }
        last
    }

    #[test]
    fn requests_round_trip_and_bad_ones_name_the_fix() {
        let symbols = vec![Symbol::new("AAPL").unwrap(), Symbol::new("BRK.B").unwrap()];
        let body = request_body(&symbols);
        assert_eq!(parse_request("quotes", &body), Ok(symbols.clone()));
        assert_eq!(
            parse_request("quotes", b" AAPL  AAPL\nBRK=2EB "),
            Ok(symbols)
        );
        assert_eq!(parse_request("quotes", b""), Ok(vec![]));
        let trades = parse_request("trades", b"AAPL").unwrap_err();
        assert!(trades.contains("quotes only"), "{trades}");
        let dotted = parse_request("quotes", b"BRK.B").unwrap_err();
        assert!(dotted.contains("=XX"), "{dotted}");
        assert!(parse_request("quotes", &[0xff, 0xfe]).is_err());
        let many: Vec<String> = (0..=SNAPSHOT_SYMBOLS_MAX)
            .map(|i| format!("S{i}"))
            .collect();
        let too_many = parse_request("quotes", many.join(" ").as_bytes()).unwrap_err();
        assert!(too_many.contains("split"), "{too_many}");
    }

    #[test]
    fn only_valid_reply_subjects_outside_the_relays_are_replied_to() {
        for good in [
            "_INBOX.abc.1",
            "replies",
            "app.snap-shot_1.x",
            "tickwire2.x",
        ] {
            assert_eq!(check_reply_subject(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("", "empty token"),
            ("a..b", "empty token"),
            (".a", "empty token"),
            ("a.", "empty token"),
            ("a b", "whitespace"),
            ("a\tb", "whitespace"),
            ("a\r\nPUB x 1", "whitespace"),
            ("a.*", "wildcard"),
            ("a.>", "wildcard"),
            ("a.b*c", "wildcard"),
            ("a\u{0}b", "control"),
            ("tickwire", "under tickwire."),
            ("tickwire.iex.quotes.AAPL", "under tickwire."),
            ("$JS.API.STREAM.DELETE.tickwire-trade-updates", "under $"),
            ("$KV.tickwire-interest.iex.quotes.AAPL.x", "under $"),
        ] {
            let refused = check_reply_subject(bad).expect_err(bad);
            assert!(refused.contains(says), "{bad:?}: {refused}");
        }
    }

    #[test]
    fn a_reply_holds_the_latest_quote_of_each_symbol_that_has_one() {
        let mut last = leased(&["AAPL", "MSFT", "TSLA"]);
        for message in [quote("AAPL", 1.0), quote("MSFT", 2.0), quote("AAPL", 3.0)] {
            last.record(message.symbol().unwrap(), &payload(&message));
        }
        let asked = ["AAPL", "TSLA", "NVDA", "MSFT"].map(|s| Symbol::new(s).unwrap());
        let reply = answer(&last, &asked);
        assert_eq!(
            decode_reply(&reply),
            Ok(vec![quote("AAPL", 3.0), quote("MSFT", 2.0)])
        );
        assert_eq!(decode_reply(&answer(&last, &[])), Ok(vec![]));
    }

    #[test]
    fn large_replies_use_the_longer_array_headers() {
        let names: Vec<String> = (0..300).map(|i| format!("S{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut last = leased(&names);
        let messages: Vec<MarketData> = names.iter().map(|s| quote(s, 1.5)).collect();
        for message in &messages {
            last.record(message.symbol().unwrap(), &payload(message));
        }
        let asked: Vec<Symbol> = names.iter().map(|s| Symbol::new(s).unwrap()).collect();
        assert_eq!(
            decode_reply(&answer(&last, &asked[..20])).unwrap().len(),
            20
        );
        assert_eq!(decode_reply(&answer(&last, &asked)), Ok(messages));
    }

    #[test]
    fn an_error_reply_is_read_as_the_relays_refusal() {
        let refused = decode_reply(&error_reply("too many")).unwrap_err();
        assert!(refused.contains("too many"), "{refused}");
        assert!(decode_reply(&Bytes::from_static(b"\xc1")).is_err());
    }
}
