//! [`AlpacaTrading`]: the trading stream (`trade_updates`) as a [`Dialect`].

use serde::Deserialize;

use super::Encoding;
use super::errors::verdict_for_trading_error;
use super::request::{AuthForm, encode_auth, encode_listen};
use super::trading::TradeUpdate;
use super::wire::Wire;
use crate::protocol::{
    DecodeError, Dialect, EncodeError, EncodedRequest, Inbound, ServerError, SubscriptionRequest,
};
use crate::{Channel, Credentials, Frame, SubscriptionSet, Symbol};

/// Alpaca's trading stream: order and fill events of one account.
///
/// There is no greeting: the client authenticates right after the upgrade,
/// then names its streams with `listen`. The subscription the machine tracks
/// is `{trade_updates: {*}}`: a `listening` ack naming `trade_updates`
/// decodes to that set. Messages are single JSON objects, usually in binary
/// frames; JSON in text frames and MessagePack decode too.
///
/// ```
/// use tickwire_core::{Channel, Frame, Symbol};
/// use tickwire_core::protocol::{Dialect, Inbound};
/// use tickwire_core::protocol::alpaca::{AlpacaTrading, Encoding};
///
/// let dialect = AlpacaTrading::new(Encoding::Json);
/// assert!(!dialect.expects_greeting());
/// let mut out = Vec::new();
/// dialect.decode(&Frame::binary(&br#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#[..]), &mut out);
/// let [Inbound::SubscriptionAck(set)] = &out[..] else { panic!("{out:?}") };
/// assert!(set.contains(Channel::TradeUpdates, &Symbol::WILDCARD));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlpacaTrading {
    encoding: Encoding,
    auth_form: AuthForm,
}

impl AlpacaTrading {
    /// A trading stream dialect sending `encoding`, authenticating in the current form.
    pub const fn new(encoding: Encoding) -> Self {
        Self {
            encoding,
            auth_form: AuthForm::Current,
        }
    }

    /// The same dialect authenticating in `auth_form`.
    #[must_use]
    pub const fn with_auth_form(mut self, auth_form: AuthForm) -> Self {
        self.auth_form = auth_form;
        self
    }

    /// The encoding requests are sent in.
    pub const fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The authentication form.
    pub const fn auth_form(&self) -> AuthForm {
        self.auth_form
    }
}

impl Default for AlpacaTrading {
    /// JSON, current auth form.
    fn default() -> Self {
        Self::new(Encoding::Json)
    }
}

impl Dialect for AlpacaTrading {
    type Data = TradeUpdate;

    fn expects_greeting(&self) -> bool {
        false
    }

    fn connect_headers(&self) -> Vec<(String, String)> {
        self.encoding.connect_headers()
    }

    fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<TradeUpdate>>) {
        decode_trading_frame(frame, out);
    }

    fn encode_auth(&self, credentials: &Credentials) -> Frame {
        encode_auth(self.encoding, self.auth_form, credentials)
    }

    /// Encodes `listen` with the streams of `request.target` (all items fit).
    fn encode_subscription(
        &self,
        request: SubscriptionRequest<'_>,
        frame_bytes_max: usize,
    ) -> Result<EncodedRequest, EncodeError> {
        encode_listen(self.encoding, request, frame_bytes_max)
    }
}

/// One decoded trading stream message.
#[derive(Debug)]
enum TradingMessage {
    Authorization {
        authorized: bool,
        message: Option<String>,
    },
    Listening(Vec<String>),
    TradeUpdate(Box<TradeUpdate>),
    Error(String),
    Unknown(String),
}

fn decode_trading_frame(frame: &Frame, out: &mut Vec<Inbound<TradeUpdate>>) {
    let Some((wire, bytes)) = Wire::detect(frame) else {
        return;
    };
    let (elements, error) = wire.split(bytes);
    for element in elements {
        out.push(match decode_trading_message(wire, element) {
            Ok(message) => into_inbound(message),
            Err(error) => Inbound::Malformed(error),
        });
    }
    if let Some(error) = error {
        out.push(Inbound::Malformed(error));
    }
}

fn into_inbound(message: TradingMessage) -> Inbound<TradeUpdate> {
    match message {
        TradingMessage::Authorization {
            authorized: true, ..
        } => Inbound::Authenticated,
        TradingMessage::Authorization { message, .. } => Inbound::AuthRejected {
            message: message.unwrap_or_else(|| "unauthorized".to_owned()),
        },
        TradingMessage::Listening(streams) => Inbound::SubscriptionAck(
            streams
                .iter()
                .filter_map(|s| Channel::from_wire_name(s))
                .filter(|c| *c == Channel::TradeUpdates)
                .map(|c| (c, Symbol::WILDCARD))
                .collect::<SubscriptionSet>(),
        ),
        TradingMessage::TradeUpdate(update) => Inbound::Data(*update),
        TradingMessage::Error(message) => Inbound::Error(ServerError {
            code: None,
            verdict: verdict_for_trading_error(&message),
            message,
        }),
        TradingMessage::Unknown(tag) => Inbound::Unknown { tag },
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    action: Option<String>,
}

#[derive(Deserialize)]
struct WithData<T> {
    data: T,
}

#[derive(Deserialize)]
struct AuthorizationData {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ListeningData {
    #[serde(default)]
    streams: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    error_message: String,
}

/// Two passes over a (small, rare) message: the envelope, then its `data`
/// decoded as the type the envelope names.
fn decode_trading_message(wire: Wire, bytes: &[u8]) -> Result<TradingMessage, DecodeError> {
    fn data<'a, T: Deserialize<'a>>(
        wire: Wire,
        bytes: &'a [u8],
        what: &'static str,
    ) -> Result<T, DecodeError> {
        wire.decode_seed(bytes, std::marker::PhantomData::<WithData<T>>)
            .map(|m| m.data)
            .map_err(|detail| DecodeError { what, detail })
    }
    let envelope: Envelope =
        wire.decode_seed(bytes, std::marker::PhantomData)
            .map_err(|detail| DecodeError {
                what: "message",
                detail,
            })?;
    match (envelope.stream.as_deref(), envelope.action.as_deref()) {
        (Some("authorization"), _) => {
            let auth: AuthorizationData = data(wire, bytes, "authorization message")?;
            Ok(TradingMessage::Authorization {
                authorized: auth.status == "authorized",
                message: auth.message,
            })
        }
        (Some("listening"), _) => {
            let listening: ListeningData = data(wire, bytes, "listening message")?;
            Ok(TradingMessage::Listening(listening.streams))
        }
        (Some("trade_updates"), _) => Ok(TradingMessage::TradeUpdate(Box::new(data(
            wire,
            bytes,
            "trade update",
        )?))),
        (Some(other), _) => Ok(TradingMessage::Unknown(other.to_owned())),
        (None, Some("error")) => {
            let error: ErrorData = data(wire, bytes, "error message")?;
            Ok(TradingMessage::Error(error.error_message))
        }
        (None, Some(other)) => Ok(TradingMessage::Unknown(other.to_owned())),
        (None, None) => Err(DecodeError {
            what: "message",
            detail: "neither \"stream\" nor \"action\"".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Verdict;

    fn decode(frame: Frame) -> Vec<Inbound<TradeUpdate>> {
        let mut out = Vec::new();
        AlpacaTrading::default().decode(&frame, &mut out);
        out
    }

    #[test]
    fn authorization_replies() {
        let ok = decode(Frame::binary(
            &br#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#[..],
        ));
        assert_eq!(ok, vec![Inbound::Authenticated]);
        let refused = decode(Frame::text(
            r#"{"stream":"authorization","data":{"status":"unauthorized","action":"authenticate","message":"access key verification failed"}}"#,
        ));
        assert_eq!(
            refused,
            vec![Inbound::AuthRejected {
                message: "access key verification failed".into()
            }]
        );
    }

    #[test]
    fn errors_and_unknown_streams() {
        let out = decode(Frame::text(
            r#"{"action":"error","data":{"error_message":"internal failure"}}"#,
        ));
        assert!(matches!(
            &out[..],
            [Inbound::Error(ServerError {
                code: None,
                verdict: Verdict::Reconnect,
                ..
            })]
        ));
        let out = decode(Frame::text(r#"{"stream":"account_updates","data":{}}"#));
        assert_eq!(
            out,
            vec![Inbound::Unknown {
                tag: "account_updates".into()
            }]
        );
        let out = decode(Frame::text(
            r#"{"stream":"trade_updates","data":{"event":"fill"}}"#,
        ));
        assert!(matches!(
            &out[..],
            [Inbound::Malformed(DecodeError {
                what: "trade update",
                ..
            })]
        ));
    }
}
