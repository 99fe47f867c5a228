//! What the leading relay tells one consumer about its leases, on the
//! consumer's control subject `tickwire.<feed>.control.<consumer>`
//! ([`subject::control_subject`](crate::subject::control_subject)).
//!
//! A [`ConsumerState`] is a snapshot, not an event: the last lease
//! revision of the consumer the relay has applied, the pairs the upstream
//! acknowledged, and the leased pairs it refused. A consumer that wrote a
//! lease at revision `r` waits for a state of revision `r` or later in
//! which each pair it asked for is either acknowledged or refused. The
//! relay publishes one whenever the consumer's verdicts may have changed,
//! and whenever it applies a lease written with the value [`ASK`].
//!
//! On the wire: JSON, `{"revision":42,"acked":[["quotes","AAPL"]],
//! "refused":[{"channel":"quotes","symbol":"ZZZZ","code":410,"message":"…"}]}`.

use serde::{Deserialize, Serialize};
use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::Symbol;

/// The value of a lease written to ask for an answer: the relay publishes
/// the consumer's state once it applied it (a refresh writes an empty value).
pub const ASK: &[u8] = b"ask";

/// A leased pair the upstream refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPair {
    /// The channel.
    pub channel: Channel,
    /// The symbol.
    pub symbol: Symbol,
    /// The upstream's code (e.g. 410), if it gave one.
    pub code: Option<u16>,
    /// The upstream's message.
    pub message: String,
}

/// One consumer's leases as the leading relay sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// The last revision of the consumer's lease keys the relay applied.
    pub revision: u64,
    /// The leased pairs the upstream acknowledged.
    pub acked: SubscriptionSet,
    /// The leased pairs the upstream refused.
    pub refused: Vec<RefusedPair>,
}

/// Why a control message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed relay control message ({0}); relay and consumer should run the same tickwire version"
)]
pub struct ControlError(String);

#[derive(Serialize, Deserialize)]
struct Wire {
    revision: u64,
    acked: Vec<(String, String)>,
    refused: Vec<WireRefused>,
}

#[derive(Serialize, Deserialize)]
struct WireRefused {
    channel: String,
    symbol: String,
    code: Option<u16>,
    message: String,
}

impl ConsumerState {
    /// The state as JSON.
    pub fn encode(&self) -> Vec<u8> {
        let wire = Wire {
            revision: self.revision,
            acked: self
                .acked
                .iter()
                .map(|(c, s)| (c.wire_name().to_owned(), s.as_str().to_owned()))
                .collect(),
            refused: self
                .refused
                .iter()
                .map(|r| WireRefused {
                    channel: r.channel.wire_name().to_owned(),
                    symbol: r.symbol.as_str().to_owned(),
                    code: r.code,
                    message: r.message.clone(),
                })
                .collect(),
        };
        // Strings and numbers only: serializing cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Reads a state.
    ///
    /// ```
    /// use tickwire_relay::ConsumerState;
    /// let state = ConsumerState { revision: 7, ..Default::default() };
    /// assert_eq!(ConsumerState::decode(&state.encode()), Ok(state));
    /// assert!(ConsumerState::decode(b"{}").is_err());
    /// ```
    ///
    /// # Errors
    /// Not JSON of this shape, or an unknown channel or invalid symbol.
    pub fn decode(bytes: &[u8]) -> Result<Self, ControlError> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(|e| ControlError(e.to_string()))?;
        let pair = |channel: &str, symbol: &str| -> Result<(Channel, Symbol), ControlError> {
            let channel = channel
                .parse()
                .map_err(|_| ControlError(format!("unknown channel {channel:?}")))?;
            let symbol = Symbol::new(symbol).map_err(|e| ControlError(e.to_string()))?;
            Ok((channel, symbol))
        };
        let mut acked = SubscriptionSet::new();
        for (channel, symbol) in &wire.acked {
            let (channel, symbol) = pair(channel, symbol)?;
            acked.insert(channel, symbol);
        }
        let refused = wire
            .refused
            .into_iter()
            .map(|r| {
                let (channel, symbol) = pair(&r.channel, &r.symbol)?;
                Ok(RefusedPair {
                    channel,
                    symbol,
                    code: r.code,
                    message: r.message,
                })
            })
            .collect::<Result<_, ControlError>>()?;
        Ok(Self {
            revision: wire.revision,
            acked,
            refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_bad_ones_say_why() {
        let mut acked = SubscriptionSet::new();
        acked.insert(Channel::Quotes, Symbol::new("BRK.B").expect("valid"));
        let state = ConsumerState {
            revision: 42,
            acked,
            refused: vec![RefusedPair {
                channel: Channel::Trades,
                symbol: Symbol::new("ZZZZ").expect("valid"),
                code: Some(410),
                message: "invalid symbol".into(),
            }],
        };
        assert_eq!(ConsumerState::decode(&state.encode()), Ok(state));
        let unknown = br#"{"revision":1,"acked":[["ticks","AAPL"]],"refused":[]}"#;
        let error = ConsumerState::decode(unknown).expect_err("unknown channel");
        assert!(error.to_string().contains("ticks"), "{error}");
        assert!(ConsumerState::decode(b"\xff").is_err());
    }
}
