//! Alpaca's documented subscription acknowledgement (PROTOCOL.md) and the
//! set it names, for the integration suites and, included by path, the
//! crate's own unit tests.

use super::Channel;

/// The acknowledgement as the documentation prints it.
pub(crate) const DOCUMENTED_ACK: &str = r#"[{"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]"#;

/// The `(channel, symbol)` pairs it acknowledges, in the set's order.
pub(crate) const DOCUMENTED_ACK_PAIRS: [(Channel, &str); 6] = [
    (Channel::Trades, "AAPL"),
    (Channel::Quotes, "AMD"),
    (Channel::Quotes, "CLDR"),
    (Channel::Bars, "*"),
    (Channel::Corrections, "AAPL"),
    (Channel::CancelErrors, "AAPL"),
];
