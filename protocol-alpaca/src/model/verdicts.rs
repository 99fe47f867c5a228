//! What each Alpaca error means for the connection (PROTOCOL.md, "Errors").

use tickwire_core::protocol::Verdict;

/// The verdict on a market data error code.
///
/// | codes | verdict |
/// |---|---|
/// | 402 auth failed, 409 insufficient subscription, 411 insufficient scope, 412 options need MessagePack | [`Verdict::Fatal`] |
/// | 401 not authenticated, 404 auth timeout, 407 slow client, 500 internal error | [`Verdict::Reconnect`] |
/// | 406 connection limit exceeded | [`Verdict::ReconnectSlowly`] |
/// | 400 invalid syntax, 405 symbol limit, 410 invalid action for feed, 413 star on option quotes | [`Verdict::RejectRequest`] |
/// | 403 already authenticated | [`Verdict::Ignore`] |
/// | anything else | [`Verdict::Reconnect`] |
///
/// ```
/// use tickwire_alpaca::verdict_for_code;
/// use tickwire_core::protocol::Verdict;
/// assert_eq!(verdict_for_code(409), Verdict::Fatal);
/// assert_eq!(verdict_for_code(406), Verdict::ReconnectSlowly);
/// ```
pub const fn verdict_for_code(code: u16) -> Verdict {
    match code {
        402 | 409 | 411 | 412 => Verdict::Fatal,
        401 | 404 | 407 | 500 => Verdict::Reconnect,
        406 => Verdict::ReconnectSlowly,
        400 | 405 | 410 | 413 => Verdict::RejectRequest,
        403 => Verdict::Ignore,
        _ => Verdict::Reconnect,
    }
}

/// The verdict on a trading stream error (`{"action":"error",…}`), which
/// carries no code: [`Verdict::Fatal`] when the message says the credentials
/// were refused (it contains "unauthorized", "not authorized", "auth failed",
/// "authentication failed", "access key verification failed" or "forbidden",
/// case-insensitively), [`Verdict::ReconnectSlowly`] when it mentions a
/// connection limit, [`Verdict::Reconnect`] otherwise (the server closes the
/// socket after the error).
pub fn verdict_for_trading_error(message: &str) -> Verdict {
    const FATAL: [&str; 6] = [
        "unauthorized",
        "not authorized",
        "auth failed",
        "authentication failed",
        "access key verification failed",
        "forbidden",
    ];
    let lower = message.to_ascii_lowercase();
    if FATAL.iter().any(|needle| lower.contains(needle)) {
        Verdict::Fatal
    } else if lower.contains("connection limit") {
        Verdict::ReconnectSlowly
    } else {
        Verdict::Reconnect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_its_verdict() {
        let table = [
            (400, Verdict::RejectRequest),
            (401, Verdict::Reconnect),
            (402, Verdict::Fatal),
            (403, Verdict::Ignore),
            (404, Verdict::Reconnect),
            (405, Verdict::RejectRequest),
            (406, Verdict::ReconnectSlowly),
            (407, Verdict::Reconnect),
            (409, Verdict::Fatal),
            (410, Verdict::RejectRequest),
            (411, Verdict::Fatal),
            (412, Verdict::Fatal),
            (413, Verdict::RejectRequest),
            (500, Verdict::Reconnect),
            (599, Verdict::Reconnect),
            (0, Verdict::Reconnect),
        ];
        for (code, verdict) in table {
            assert_eq!(verdict_for_code(code), verdict, "code {code}");
        }
    }

    #[test]
    fn trading_errors_about_credentials_are_fatal() {
        assert_eq!(verdict_for_trading_error("Unauthorized"), Verdict::Fatal);
        assert_eq!(
            verdict_for_trading_error("access key verification failed"),
            Verdict::Fatal
        );
        assert_eq!(
            verdict_for_trading_error("connection limit exceeded"),
            Verdict::ReconnectSlowly
        );
        assert_eq!(
            verdict_for_trading_error("internal error"),
            Verdict::Reconnect
        );
    }
}
