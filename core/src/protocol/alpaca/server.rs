//! The server side of both Alpaca streams, for the simulated exchange and
//! tests: decoding what clients send and encoding what servers send.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::Encoding;
use super::market::MarketData;
use super::trading::TradeUpdate;
use super::wire::{CowStr, Wire};
use crate::protocol::DecodeError;
use crate::{Channel, Credentials, Frame, SubscriptionSet, Symbol};

/// A message from a client, as a server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Authentication, in either form (`auth` or legacy `authenticate`).
    Auth {
        /// The credentials sent (redacted in `Debug`).
        credentials: Credentials,
    },
    /// Add these pairs (market data).
    Subscribe(SubscriptionSet),
    /// Remove these pairs (market data).
    Unsubscribe(SubscriptionSet),
    /// The complete list of streams wanted (trading stream).
    Listen(Vec<String>),
}

/// Decodes a client message: JSON in a text or binary frame, or MessagePack.
///
/// Keys may come in any order (alpaca-py puts `action` last). Symbols are
/// validated with [`Symbol::new`]; an invalid one fails the whole message,
/// as Alpaca answers such a request with error 400. Channel names that are
/// not channels are ignored.
///
/// ```
/// use tickwire_core::{Channel, Frame, Symbol};
/// use tickwire_core::protocol::alpaca::{ClientMessage, decode_client_message};
/// let frame = Frame::text(r#"{"action":"subscribe","quotes":["AAPL"],"bars":["*"]}"#);
/// let Ok(ClientMessage::Subscribe(set)) = decode_client_message(&frame) else { panic!() };
/// assert!(set.contains(Channel::Bars, &Symbol::WILDCARD));
/// assert_eq!(set.len(), 2);
/// ```
pub fn decode_client_message(frame: &Frame) -> Result<ClientMessage, DecodeError> {
    let Some((wire, bytes)) = Wire::detect(frame) else {
        return Err(DecodeError {
            what: "client message",
            detail: "a control frame carries no message".to_owned(),
        });
    };
    let raw = wire
        .decode_seed(bytes, RawClientSeed)
        .map_err(|detail| DecodeError {
            what: "client message",
            detail,
        })?;
    raw.into_message()
}

#[derive(Default)]
struct RawClient {
    action: Option<String>,
    key: Option<String>,
    secret: Option<String>,
    key_id: Option<String>,
    secret_key: Option<String>,
    streams: Option<Vec<String>>,
    channels: Vec<(Channel, Vec<String>)>,
}

impl RawClient {
    fn into_message(self) -> Result<ClientMessage, DecodeError> {
        let error = |detail: &str| DecodeError {
            what: "client message",
            detail: detail.to_owned(),
        };
        match self.action.as_deref() {
            Some("auth") => match (self.key, self.secret) {
                (Some(key), Some(secret)) => Ok(ClientMessage::Auth {
                    credentials: Credentials::new(key, secret),
                }),
                _ => Err(error("auth needs \"key\" and \"secret\"")),
            },
            Some("authenticate") => match (self.key_id, self.secret_key) {
                (Some(key), Some(secret)) => Ok(ClientMessage::Auth {
                    credentials: Credentials::new(key, secret),
                }),
                _ => Err(error(
                    "authenticate needs \"data\" with \"key_id\" and \"secret_key\"",
                )),
            },
            Some(op @ ("subscribe" | "unsubscribe")) => {
                let mut set = SubscriptionSet::new();
                for (channel, symbols) in self.channels {
                    for symbol in symbols {
                        let symbol = Symbol::new(&symbol).map_err(|e| DecodeError {
                            what: "subscription request",
                            detail: e.to_string(),
                        })?;
                        set.insert(channel, symbol);
                    }
                }
                Ok(if op == "subscribe" {
                    ClientMessage::Subscribe(set)
                } else {
                    ClientMessage::Unsubscribe(set)
                })
            }
            Some("listen") => Ok(ClientMessage::Listen(self.streams.unwrap_or_default())),
            Some(other) => Err(error(&format!(
                "unknown action {:?}",
                other.chars().take(32).collect::<String>()
            ))),
            None => Err(error("no \"action\"")),
        }
    }
}

struct RawClientSeed;

impl<'de> DeserializeSeed<'de> for RawClientSeed {
    type Value = RawClient;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawClient, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawClientSeed {
    type Value = RawClient;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a client message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClient, A::Error> {
        let mut raw = RawClient::default();
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match &*key.0 {
                "action" => raw.action = Some(map.next_value()?),
                "key" => raw.key = Some(map.next_value()?),
                "secret" => raw.secret = Some(map.next_value()?),
                "data" => map.next_value_seed(RawDataSeed(&mut raw))?,
                name => match Channel::from_wire_name(name) {
                    Some(channel) => {
                        let symbols: Option<Vec<String>> = map.next_value()?;
                        raw.channels.push((channel, symbols.unwrap_or_default()));
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        Ok(raw)
    }
}

/// The `data` object of legacy auth and `listen`.
struct RawDataSeed<'r>(&'r mut RawClient);

impl<'de> DeserializeSeed<'de> for RawDataSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawDataSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a data object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match &*key.0 {
                "key_id" => self.0.key_id = Some(map.next_value()?),
                "secret_key" => self.0.secret_key = Some(map.next_value()?),
                "streams" => {
                    self.0.streams =
                        Some(map.next_value::<Option<Vec<String>>>()?.unwrap_or_default())
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<(), A::Error> {
        Err(de::Error::custom("\"data\" must be an object"))
    }
}

/// A market data stream message, as a server sends it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Data is the common variant; boxing it would allocate per message.
#[allow(clippy::large_enum_variant)]
pub enum ServerMessage {
    /// `{"T":"success","msg":"connected"}`.
    Connected,
    /// `{"T":"success","msg":"authenticated"}`.
    Authenticated,
    /// `{"T":"error","code":…,"msg":…}`.
    Error {
        /// The code, e.g. 406.
        code: u16,
        /// The message, e.g. `connection limit exceeded`.
        message: String,
    },
    /// `{"T":"subscription",…}` with the whole current set.
    Subscription(SubscriptionSet),
    /// A data message.
    Data(MarketData),
}

/// Channels a subscription ack always names (with `[]` when empty), like
/// Alpaca's stock feeds; other channels appear only when non-empty.
const ACK_CHANNELS: [Channel; 9] = [
    Channel::Trades,
    Channel::Quotes,
    Channel::Bars,
    Channel::UpdatedBars,
    Channel::DailyBars,
    Channel::Statuses,
    Channel::Lulds,
    Channel::Corrections,
    Channel::CancelErrors,
];

impl Serialize for ServerMessage {
    /// Always with `T` first, as Alpaca's server writes it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Connected | Self::Authenticated => {
                let mut s = serializer.serialize_struct("Success", 2)?;
                s.serialize_field("T", "success")?;
                let msg = if matches!(self, Self::Connected) {
                    "connected"
                } else {
                    "authenticated"
                };
                s.serialize_field("msg", msg)?;
                s.end()
            }
            Self::Error { code, message } => {
                let mut s = serializer.serialize_struct("Error", 3)?;
                s.serialize_field("T", "error")?;
                s.serialize_field("code", code)?;
                s.serialize_field("msg", message)?;
                s.end()
            }
            Self::Subscription(set) => {
                let extra: Vec<Channel> = set
                    .channels()
                    .filter(|c| !ACK_CHANNELS.contains(c) && *c != Channel::TradeUpdates)
                    .collect();
                let mut m = serializer.serialize_map(Some(1 + ACK_CHANNELS.len() + extra.len()))?;
                m.serialize_entry("T", "subscription")?;
                for channel in ACK_CHANNELS.iter().chain(&extra) {
                    m.serialize_entry(channel.wire_name(), &Symbols(set, *channel))?;
                }
                m.end()
            }
            Self::Data(data) => data.serialize(serializer),
        }
    }
}

struct Symbols<'a>(&'a SubscriptionSet, Channel);

impl Serialize for Symbols<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.symbols(self.1))
    }
}

/// One market data frame carrying `messages` in order: a JSON array in a text
/// frame, or a MessagePack array (maps with field names, timestamps as
/// extension -1) in a binary frame.
///
/// ```
/// use tickwire_core::Frame;
/// use tickwire_core::protocol::alpaca::{Encoding, ServerMessage, encode_market_frame};
/// let frame = encode_market_frame(Encoding::Json, &[ServerMessage::Connected]);
/// assert_eq!(frame, Frame::text(r#"[{"T":"success","msg":"connected"}]"#));
/// ```
pub fn encode_market_frame(encoding: Encoding, messages: &[ServerMessage]) -> Frame {
    encoding.frame(messages)
}

/// A trading stream message, as a server sends it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TradingServerMessage {
    /// `{"stream":"authorization","data":{"status":"authorized",…}}`.
    Authorized,
    /// `{"stream":"authorization","data":{"status":"unauthorized",…}}`.
    Unauthorized {
        /// An explanation, if any.
        message: Option<String>,
    },
    /// `{"stream":"listening","data":{"streams":[…]}}`.
    Listening(Vec<String>),
    /// `{"stream":"trade_updates","data":{…}}`.
    TradeUpdate(Box<TradeUpdate>),
    /// `{"action":"error","data":{"error_message":…}}` (then the server closes).
    Error {
        /// The error message.
        message: String,
    },
}

#[derive(Serialize)]
struct StreamMessage<T> {
    stream: &'static str,
    data: T,
}

#[derive(Serialize)]
struct AuthorizationData<'a> {
    status: &'static str,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct ListeningData<'a> {
    streams: &'a [String],
}

#[derive(Serialize)]
struct ActionMessage<T> {
    action: &'static str,
    data: T,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    error_message: &'a str,
}

impl Serialize for TradingServerMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let authorization = |status, message| StreamMessage {
            stream: "authorization",
            data: AuthorizationData {
                status,
                action: "authenticate",
                message,
            },
        };
        match self {
            Self::Authorized => authorization("authorized", None).serialize(serializer),
            Self::Unauthorized { message } => {
                authorization("unauthorized", message.as_deref()).serialize(serializer)
            }
            Self::Listening(streams) => StreamMessage {
                stream: "listening",
                data: ListeningData { streams },
            }
            .serialize(serializer),
            Self::TradeUpdate(update) => StreamMessage {
                stream: "trade_updates",
                data: update,
            }
            .serialize(serializer),
            Self::Error { message } => ActionMessage {
                action: "error",
                data: ErrorData {
                    error_message: message,
                },
            }
            .serialize(serializer),
        }
    }
}

/// One trading stream frame: JSON in a **binary** frame, like the paper
/// endpoint, or MessagePack.
///
/// ```
/// use tickwire_core::Frame;
/// use tickwire_core::protocol::alpaca::{Encoding, TradingServerMessage, encode_trading_frame};
/// let frame = encode_trading_frame(Encoding::Json, &TradingServerMessage::Authorized);
/// assert_eq!(
///     frame,
///     Frame::binary(&br#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#[..])
/// );
/// ```
pub fn encode_trading_frame(encoding: Encoding, message: &TradingServerMessage) -> Frame {
    match encoding.frame(message) {
        Frame::Text(bytes) => Frame::Binary(bytes),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_auth_forms_and_any_key_order() {
        for text in [
            r#"{"action":"auth","key":"K","secret":"S"}"#,
            r#"{"secret":"S","key":"K","action":"auth"}"#,
            r#"{"action":"authenticate","data":{"key_id":"K","secret_key":"S"}}"#,
        ] {
            assert_eq!(
                decode_client_message(&Frame::text(text)),
                Ok(ClientMessage::Auth {
                    credentials: Credentials::new("K", "S")
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        for text in [
            r#"{"action":"subscribe","trades":["AA PL"]}"#,
            r#"{"action":"auth","key":"K"}"#,
            r#"{"action":"dance"}"#,
            r#"{"trades":["AAPL"]}"#,
            r#"[1,2]"#,
            "",
        ] {
            assert!(decode_client_message(&Frame::text(text)).is_err(), "{text}");
        }
    }

    #[test]
    fn listen_and_msgpack_requests() {
        let listen = decode_client_message(&Frame::text(
            r#"{"action":"listen","data":{"streams":["trade_updates"]}}"#,
        ));
        assert_eq!(
            listen,
            Ok(ClientMessage::Listen(vec!["trade_updates".into()]))
        );
        let body = serde_json::json!({"quotes": ["AMD"], "action": "unsubscribe"});
        let frame = Frame::binary(rmp_serde::to_vec_named(&body).unwrap());
        let decoded = decode_client_message(&frame);
        let Ok(ClientMessage::Unsubscribe(set)) = decoded else {
            panic!("{decoded:?}")
        };
        assert!(set.contains(Channel::Quotes, &Symbol::new("AMD").unwrap()));
    }

    #[test]
    fn subscription_ack_names_the_stock_channels() {
        let mut set = SubscriptionSet::new();
        set.insert(Channel::Trades, Symbol::new("AAPL").unwrap());
        set.insert(Channel::News, Symbol::WILDCARD);
        let frame = encode_market_frame(Encoding::Json, &[ServerMessage::Subscription(set)]);
        assert_eq!(
            frame,
            Frame::text(
                r#"[{"T":"subscription","trades":["AAPL"],"quotes":[],"bars":[],"updatedBars":[],"dailyBars":[],"statuses":[],"lulds":[],"corrections":[],"cancelErrors":[],"news":["*"]}]"#
            )
        );
    }
}
