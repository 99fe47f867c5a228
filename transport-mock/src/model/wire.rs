//! The model's only contact with the wire format.
//!
//! Data messages are tickwire-core's Alpaca types
//! ([`MarketData`], [`TradeUpdate`]); every encode and decode call of the
//! model goes through this file.
//
// TEMPORARY: the server-side codec (`tickwire_core::protocol::alpaca::server`)
// has not landed yet; until it does, control messages and client requests are
// encoded/decoded here with serde_json / rmp-serde. Swap these bodies for the
// core functions when they exist; the signatures stay.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tickwire_core::protocol::alpaca::{MarketData, TradeUpdate};
use tickwire_core::{Channel, Frame, SubscriptionSet, Symbol};

use super::market_data::error_message;
use super::{Encoding, Endpoint};

/// A client frame that is not a request the exchange understands (→ 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecodable;

/// A request from a client, on either stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientRequest {
    /// `{"action":"auth","key","secret"}` or the legacy
    /// `{"action":"authenticate","data":{"key_id","secret_key"}}`.
    Auth {
        key_id: String,
        secret: String,
    },
    Subscribe(SubscriptionSet),
    Unsubscribe(SubscriptionSet),
    /// `{"action":"listen","data":{"streams":[…]}}`.
    Listen(Vec<String>),
}

/// A market data control message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Control {
    Connected,
    Authenticated,
    Error {
        code: u16,
    },
    /// The session's whole set, followers included.
    Subscription(SubscriptionSet),
}

impl Control {
    pub(crate) fn error(code: u16) -> Self {
        Self::Error { code }
    }
}

/// Decodes a client frame: text is JSON; binary is JSON when it looks like
/// JSON, the session's encoding otherwise.
pub(crate) fn decode_client(
    frame: &Frame,
    encoding: Encoding,
) -> Result<ClientRequest, Undecodable> {
    let value: Value = match frame {
        Frame::Text(b) => serde_json::from_slice(b).map_err(|_| Undecodable)?,
        Frame::Binary(b) if looks_like_json(b) || encoding == Encoding::Json => {
            serde_json::from_slice(b).map_err(|_| Undecodable)?
        }
        Frame::Binary(b) => rmp_serde::from_slice(b).map_err(|_| Undecodable)?,
        Frame::Ping(_) | Frame::Pong(_) => return Err(Undecodable),
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(Undecodable)
    };
    match value.get("action").and_then(Value::as_str) {
        Some("auth") => Ok(ClientRequest::Auth {
            key_id: text(value.get("key"))?,
            secret: text(value.get("secret"))?,
        }),
        Some("authenticate") => {
            let data = value.get("data").ok_or(Undecodable)?;
            Ok(ClientRequest::Auth {
                key_id: text(data.get("key_id"))?,
                secret: text(data.get("secret_key"))?,
            })
        }
        Some("subscribe") => Ok(ClientRequest::Subscribe(subscription_set(&value)?)),
        Some("unsubscribe") => Ok(ClientRequest::Unsubscribe(subscription_set(&value)?)),
        Some("listen") => {
            let streams = value
                .get("data")
                .and_then(|d| d.get("streams"))
                .and_then(Value::as_array)
                .ok_or(Undecodable)?;
            streams
                .iter()
                .map(|s| text(Some(s)))
                .collect::<Result<_, _>>()
                .map(ClientRequest::Listen)
        }
        _ => Err(Undecodable),
    }
}

fn looks_like_json(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(b'[' | b'{' | b' ' | b'\t' | b'\n' | b'\r')
    )
}

/// The channels of a subscribe/unsubscribe message (unknown keys ignored).
fn subscription_set(value: &Value) -> Result<SubscriptionSet, Undecodable> {
    let Value::Object(fields) = value else {
        return Err(Undecodable);
    };
    let mut set = SubscriptionSet::new();
    for (key, symbols) in fields {
        let Some(channel) = Channel::from_wire_name(key) else {
            continue;
        };
        let symbols = match symbols {
            Value::Array(items) => items,
            Value::Null => continue,
            _ => return Err(Undecodable),
        };
        for symbol in symbols {
            let symbol = symbol.as_str().ok_or(Undecodable)?;
            set.insert(channel, Symbol::from_server(symbol));
        }
    }
    Ok(set)
}

/// Encodes a market data control message as a one-element array.
pub(crate) fn encode_control(encoding: Encoding, endpoint: Endpoint, control: &Control) -> Frame {
    let message = match control {
        Control::Connected => json!({"T": "success", "msg": "connected"}),
        Control::Authenticated => json!({"T": "success", "msg": "authenticated"}),
        Control::Error { code } => json!({"T": "error", "code": code, "msg": error_message(*code)}),
        Control::Subscription(set) => {
            let mut fields = Map::new();
            fields.insert("T".into(), "subscription".into());
            let followers: &[Channel] = if endpoint.has_trade_followers() {
                &[Channel::Corrections, Channel::CancelErrors]
            } else {
                &[]
            };
            for channel in endpoint.channels().iter().chain(followers) {
                let symbols: Vec<Value> =
                    set.symbols(*channel).map(|s| s.as_str().into()).collect();
                fields.insert(channel.wire_name().into(), symbols.into());
            }
            Value::Object(fields)
        }
    };
    market_frame(encoding, &[message])
}

/// Encodes a batch of market data messages as one frame.
pub(crate) fn encode_data(encoding: Encoding, messages: &[MarketData]) -> Frame {
    market_frame(encoding, messages)
}

fn market_frame<T: Serialize>(encoding: Encoding, messages: &[T]) -> Frame {
    match encoding {
        Encoding::Json => Frame::Text(Bytes::from(
            serde_json::to_vec(messages).unwrap_or_default(),
        )),
        Encoding::MsgPack => Frame::Binary(Bytes::from(
            rmp_serde::to_vec_named(messages).unwrap_or_default(),
        )),
    }
}

/// Trading stream frames: single objects, JSON in binary frames (as the
/// paper endpoint sends them), or MessagePack.
fn trading_frame<T: Serialize>(encoding: Encoding, message: &T) -> Frame {
    match encoding {
        Encoding::Json => {
            Frame::Binary(Bytes::from(serde_json::to_vec(message).unwrap_or_default()))
        }
        Encoding::MsgPack => Frame::Binary(Bytes::from(
            rmp_serde::to_vec_named(message).unwrap_or_default(),
        )),
    }
}

pub(crate) fn trading_authorization(encoding: Encoding, authorized: bool) -> Frame {
    let status = if authorized {
        "authorized"
    } else {
        "unauthorized"
    };
    trading_frame(
        encoding,
        &json!({"stream": "authorization", "data": {"status": status, "action": "authenticate"}}),
    )
}

pub(crate) fn trading_listening(encoding: Encoding, streams: &[String]) -> Frame {
    trading_frame(
        encoding,
        &json!({"stream": "listening", "data": {"streams": streams}}),
    )
}

pub(crate) fn trading_error(encoding: Encoding, message: &str) -> Frame {
    trading_frame(
        encoding,
        &json!({"action": "error", "data": {"error_message": message}}),
    )
}

pub(crate) fn trading_update(encoding: Encoding, update: &TradeUpdate) -> Frame {
    #[derive(Serialize)]
    struct Envelope<'a> {
        stream: &'static str,
        data: &'a TradeUpdate,
    }
    trading_frame(
        encoding,
        &Envelope {
            stream: "trade_updates",
            data: update,
        },
    )
}
