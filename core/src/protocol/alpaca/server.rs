//! The server side of both Alpaca streams, for the simulated exchange and
//! tests: decoding what clients send and encoding what servers send.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use smallvec::SmallVec;

use super::Encoding;
use super::market::MarketData;
use super::server_data;
use super::server_trading;
use super::server_writer::{AnyWriter, ServerWriter};
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
    let mut fast = FastRaw::default();
    if fast_client(wire, bytes, &mut fast).is_some() {
        return fast.parts().into_message(|| subscription_set(fast.pairs));
    }
    decode_raw(wire, bytes).and_then(RawClient::into_message)
}

/// The serde decoding of a client message, for any input.
fn decode_raw(wire: Wire, bytes: &[u8]) -> Result<RawClient, DecodeError> {
    wire.decode_seed(bytes, RawClientSeed)
        .map_err(|detail| DecodeError {
            what: "client message",
            detail,
        })
}

/// The pairs of a subscription request, each symbol checked with
/// [`Symbol::new`]; the first invalid one fails the whole request. The set
/// is built in one go (sorted once if the request is not in order).
fn subscription_set<'s>(
    pairs: impl IntoIterator<Item = (Channel, &'s str)>,
) -> Result<SubscriptionSet, DecodeError> {
    let pairs = pairs.into_iter();
    let mut checked = Vec::with_capacity(pairs.size_hint().0);
    for (channel, symbol) in pairs {
        let symbol = Symbol::new(symbol).map_err(|e| DecodeError {
            what: "subscription request",
            detail: e.to_string(),
        })?;
        checked.push((channel, symbol));
    }
    Ok(checked.into_iter().collect())
}

/// Reads into `raw` a client message in the compact shape clients write
/// (`action`, `key`, `secret` and channel keys; plain strings; no
/// whitespace), without serde and without copying its strings: what serde's
/// [`RawClient`] would hold. `None` for anything else (`raw` then holds
/// whatever was read), which serde then decodes (or refuses) as usual.
fn fast_client<'a>(wire: Wire, bytes: &'a [u8], raw: &mut FastRaw<'a>) -> Option<()> {
    let mut reader = FastClient {
        bytes,
        at: 0,
        text: "",
    };
    match wire {
        Wire::Json => {
            // Checked once here, so each string is a slice of checked text.
            reader.text = std::str::from_utf8(bytes).ok()?;
            reader.json(raw)?;
        }
        Wire::MsgPack => reader.msgpack(raw)?,
    }
    (reader.at == bytes.len()).then_some(())
}

/// What [`fast_client`] read: strings borrowed from the frame, and the
/// requested pairs in order (empty and `null` lists add none).
#[derive(Default)]
struct FastRaw<'a> {
    action: Option<&'a str>,
    key: Option<&'a str>,
    secret: Option<&'a str>,
    pairs: SmallVec<[(Channel, &'a str); 8]>,
}

impl<'a> FastRaw<'a> {
    fn parts(&self) -> Parts<'a> {
        Parts {
            action: self.action,
            key: self.key,
            secret: self.secret,
            key_id: None,
            secret_key: None,
            streams: None,
        }
    }
}

/// A cursor over a client message for [`fast_client`].
struct FastClient<'a> {
    bytes: &'a [u8],
    at: usize,
    /// `bytes` as text, for JSON.
    text: &'a str,
}

impl<'a> FastClient<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let taken = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(taken)
    }

    /// One field's value into `raw`, read by `string` and `strings`.
    fn field(
        &mut self,
        raw: &mut FastRaw<'a>,
        key: &str,
        string: fn(&mut Self) -> Option<&'a str>,
        strings: fn(&mut Self, Channel, &mut FastRaw<'a>) -> Option<()>,
    ) -> Option<()> {
        match key {
            "action" => raw.action = Some(string(self)?),
            "key" => raw.key = Some(string(self)?),
            "secret" => raw.secret = Some(string(self)?),
            name => strings(self, Channel::from_wire_name(name)?, raw)?,
        }
        Some(())
    }

    /// `{"k":v,…}` with no whitespace.
    fn json(&mut self, raw: &mut FastRaw<'a>) -> Option<()> {
        (self.byte()? == b'{').then_some(())?;
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.json_str()?;
            (self.byte()? == b':').then_some(())?;
            self.field(raw, key, Self::json_str, Self::json_strs)?;
            match self.byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A JSON string without escapes or control characters.
    fn json_str(&mut self) -> Option<&'a str> {
        (self.byte()? == b'"').then_some(())?;
        let start = self.at;
        loop {
            match self.byte()? {
                b'"' => break,
                b'\\' | 0x00..=0x1f => return None,
                _ => {}
            }
        }
        // Both ends are next to a quote, so on character boundaries.
        self.text.get(start..self.at - 1)
    }

    /// `null` (no symbols) or an array of strings, each paired with `channel`.
    fn json_strs(&mut self, channel: Channel, raw: &mut FastRaw<'a>) -> Option<()> {
        if self.bytes[self.at..].starts_with(b"null") {
            self.at += 4;
            return Some(());
        }
        (self.byte()? == b'[').then_some(())?;
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            raw.pairs.push((channel, self.json_str()?));
            match self.byte()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A map of string keys (fixmap or map 16).
    fn msgpack(&mut self, raw: &mut FastRaw<'a>) -> Option<()> {
        let len = match self.byte()? {
            b @ 0x80..=0x8f => usize::from(b & 0x0f),
            0xde => usize::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            _ => return None,
        };
        for _ in 0..len {
            let key = self.msgpack_str()?;
            self.field(raw, key, Self::msgpack_str, Self::msgpack_strs)?;
        }
        Some(())
    }

    /// A string (fixstr, str 8 or str 16) of valid UTF-8.
    fn msgpack_str(&mut self) -> Option<&'a str> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => usize::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            _ => return None,
        };
        std::str::from_utf8(self.take(len)?).ok()
    }

    /// `nil` (no symbols) or an array (fixarray or array 16) of strings,
    /// each paired with `channel`.
    fn msgpack_strs(&mut self, channel: Channel, raw: &mut FastRaw<'a>) -> Option<()> {
        let len = match self.byte()? {
            0xc0 => return Some(()),
            b @ 0x90..=0x9f => usize::from(b & 0x0f),
            0xdc => usize::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            _ => return None,
        };
        for _ in 0..len {
            raw.pairs.push((channel, self.msgpack_str()?));
        }
        Some(())
    }
}

/// A client message as serde reads it, strings owned.
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
    fn into_message(mut self) -> Result<ClientMessage, DecodeError> {
        let parts = Parts {
            action: self.action.as_deref(),
            key: self.key.as_deref(),
            secret: self.secret.as_deref(),
            key_id: self.key_id.as_deref(),
            secret_key: self.secret_key.as_deref(),
            streams: self.streams.take(),
        };
        parts.into_message(|| {
            subscription_set(
                self.channels
                    .iter()
                    .flat_map(|(channel, symbols)| symbols.iter().map(|s| (*channel, s.as_str()))),
            )
        })
    }
}

/// The fields that decide what a client message is, whichever decoder read
/// them; the subscription pairs are checked only for (un)subscribe.
struct Parts<'a> {
    action: Option<&'a str>,
    key: Option<&'a str>,
    secret: Option<&'a str>,
    key_id: Option<&'a str>,
    secret_key: Option<&'a str>,
    streams: Option<Vec<String>>,
}

impl Parts<'_> {
    fn into_message(
        self,
        subscription: impl FnOnce() -> Result<SubscriptionSet, DecodeError>,
    ) -> Result<ClientMessage, DecodeError> {
        let error = |detail: &str| DecodeError {
            what: "client message",
            detail: detail.to_owned(),
        };
        match self.action {
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
            Some("subscribe") => Ok(ClientMessage::Subscribe(subscription()?)),
            Some("unsubscribe") => Ok(ClientMessage::Unsubscribe(subscription()?)),
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
    match messages {
        [ServerMessage::Connected] => success_frame(encoding, "connected"),
        [ServerMessage::Authenticated] => success_frame(encoding, "authenticated"),
        [ServerMessage::Error { code, message }] => error_frame(encoding, *code, message),
        [ServerMessage::Subscription(set)] => subscription_frame(encoding, set, false),
        _ => encoding.frame(messages),
    }
}

impl ServerMessage {
    /// One frame of data messages in order: the bytes of [`encode_market_frame`]
    /// with each message wrapped in [`ServerMessage::Data`], without copying them.
    ///
    /// ```
    /// use tickwire_core::protocol::alpaca::{Encoding, MarketData, ServerMessage, encode_market_frame};
    /// # fn check(news: MarketData) {
    /// assert_eq!(
    ///     ServerMessage::data_frame(Encoding::MsgPack, &[&news]),
    ///     encode_market_frame(Encoding::MsgPack, &[ServerMessage::Data(news.clone())]),
    /// );
    /// # }
    /// ```
    pub fn data_frame(encoding: Encoding, messages: &[&MarketData]) -> Frame {
        server_data::data_frame(encoding, messages)
    }

    /// The subscription ack of `set`, as [`encode_market_frame`] writes
    /// [`ServerMessage::Subscription`]; with `trade_followers`, the `trades`
    /// symbols are also listed under `corrections` and `cancelErrors`, as
    /// Alpaca's stock feeds acknowledge them. The set is not copied.
    ///
    /// ```
    /// use tickwire_core::{Channel, Frame, Symbol, SubscriptionSet};
    /// use tickwire_core::protocol::alpaca::{Encoding, ServerMessage};
    /// let set: SubscriptionSet = [(Channel::Trades, Symbol::new("AAPL")?)].into_iter().collect();
    /// let frame = ServerMessage::subscription_frame(Encoding::Json, &set, true);
    /// let text = std::str::from_utf8(frame.payload()).unwrap();
    /// assert!(text.contains(r#""corrections":["AAPL"]"#));
    /// # Ok::<(), tickwire_core::InvalidSymbol>(())
    /// ```
    pub fn subscription_frame(
        encoding: Encoding,
        set: &SubscriptionSet,
        trade_followers: bool,
    ) -> Frame {
        let held_followers = set.symbols(Channel::Corrections).next().is_some()
            || set.symbols(Channel::CancelErrors).next().is_some();
        if trade_followers && held_followers {
            // Rare: merge the followers into a copy rather than on the fly.
            let mut merged = set.clone();
            for symbol in set.symbols(Channel::Trades) {
                merged.insert(Channel::Corrections, symbol.clone());
                merged.insert(Channel::CancelErrors, symbol.clone());
            }
            return subscription_frame(encoding, &merged, false);
        }
        subscription_frame(encoding, set, trade_followers)
    }
}

/// Room reserved for a control frame.
const CONTROL_FRAME_BYTES: usize = 128;

/// `{"T":"success","msg":…}` alone in a frame.
fn success_frame(encoding: Encoding, msg: &str) -> Frame {
    let mut w = AnyWriter::new(encoding, CONTROL_FRAME_BYTES);
    open_control(&mut w, "success", 1);
    w.key("msg");
    w.str(msg);
    close_control(w)
}

/// `{"T":"error","code":…,"msg":…}` alone in a frame.
fn error_frame(encoding: Encoding, code: u16, message: &str) -> Frame {
    let mut w = AnyWriter::new(encoding, CONTROL_FRAME_BYTES);
    open_control(&mut w, "error", 2);
    w.key("code");
    w.u64(u64::from(code));
    w.key("msg");
    w.str(message);
    close_control(w)
}

/// `{"T":"subscription",…}` alone in a frame; with `followers`, the set's
/// `trades` stand in for its (empty) `corrections` and `cancelErrors`.
fn subscription_frame(encoding: Encoding, set: &SubscriptionSet, followers: bool) -> Frame {
    let extra = || {
        set.channels()
            .filter(|c| !ACK_CHANNELS.contains(c) && *c != Channel::TradeUpdates)
    };
    let mut w = AnyWriter::new(encoding, CONTROL_FRAME_BYTES);
    open_control(&mut w, "subscription", ACK_CHANNELS.len() + extra().count());
    for channel in ACK_CHANNELS.iter().copied().chain(extra()) {
        w.key(channel.wire_name());
        let listed = if followers && channel.is_server_managed() {
            Channel::Trades
        } else {
            channel
        };
        w.symbols(set.symbols(listed).count(), set.symbols(listed));
    }
    close_control(w)
}

/// Opens the one-element array of a control message, its map of `fields`
/// fields besides `T`, and writes `T`.
fn open_control(w: &mut AnyWriter, tag: &'static str, fields: usize) {
    w.array(1);
    w.element();
    w.map(1 + fields);
    w.key("T");
    w.str(tag);
}

fn close_control(mut w: AnyWriter) -> Frame {
    w.end_map();
    w.end_array();
    w.into_frame()
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
    if let TradingServerMessage::TradeUpdate(update) = message {
        return server_trading::trade_update_frame(encoding, update);
    }
    match encoding.frame(message) {
        Frame::Text(bytes) => Frame::Binary(bytes),
        other => other,
    }
}

impl TradingServerMessage {
    /// The frame of [`encode_trading_frame`] for a
    /// [`TradingServerMessage::TradeUpdate`] of `update`, without copying it.
    ///
    /// ```
    /// use tickwire_core::protocol::alpaca::{Encoding, TradeUpdate, TradingServerMessage, encode_trading_frame};
    /// # fn check(update: TradeUpdate) {
    /// assert_eq!(
    ///     TradingServerMessage::trade_update_frame(Encoding::Json, &update),
    ///     encode_trading_frame(Encoding::Json, &TradingServerMessage::TradeUpdate(Box::new(update.clone()))),
    /// );
    /// # }
    /// ```
    pub fn trade_update_frame(encoding: Encoding, update: &TradeUpdate) -> Frame {
        server_trading::trade_update_frame(encoding, update)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Text of any length (MessagePack's string forms), with control and
    /// non-ASCII characters (JSON escapes), or a short ticker.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z]{1,5}",
            prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
            prop::collection::vec(prop::char::range('\0', '\u{7f}'), 0..300)
                .prop_map(String::from_iter),
        ]
    }

    /// Sets with up to 40 pairs on any channels (arrays past 16 elements).
    fn any_set() -> impl Strategy<Value = SubscriptionSet> {
        prop::collection::vec(
            (prop::sample::select(Channel::ALL.to_vec()), any_text()),
            0..40,
        )
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(channel, symbol)| (channel, Symbol::from_server(&symbol)))
                .collect()
        })
    }

    fn encodings() -> [Encoding; 2] {
        [Encoding::Json, Encoding::MsgPack]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The direct writer gives serde's bytes for every control message.
        #[test]
        fn direct_control_frames_match_serde(
            set in any_set(),
            code in any::<u16>(),
            message in any_text(),
        ) {
            let messages = [
                ServerMessage::Connected,
                ServerMessage::Authenticated,
                ServerMessage::Error { code, message },
                ServerMessage::Subscription(set),
            ];
            for encoding in encodings() {
                for message in &messages {
                    let one = std::slice::from_ref(message);
                    prop_assert_eq!(encode_market_frame(encoding, one), encoding.frame(one));
                }
            }
        }

        /// Acks with followers give serde's bytes for the set with the followers added.
        #[test]
        fn subscription_frames_match_serde(set in any_set(), followers in any::<bool>()) {
            let mut acked = set.clone();
            if followers {
                for symbol in set.symbols(Channel::Trades) {
                    acked.insert(Channel::Corrections, symbol.clone());
                    acked.insert(Channel::CancelErrors, symbol.clone());
                }
            }
            for encoding in encodings() {
                prop_assert_eq!(
                    ServerMessage::subscription_frame(encoding, &set, followers),
                    encoding.frame(&[ServerMessage::Subscription(acked.clone())])
                );
            }
        }
    }

    /// Requests in the shapes clients write, and some they do not.
    fn any_request() -> impl Strategy<Value = serde_json::Value> {
        let key = prop_oneof![
            Just("action".to_owned()),
            Just("key".to_owned()),
            Just("secret".to_owned()),
            Just("data".to_owned()),
            prop::sample::select(Channel::ALL.to_vec()).prop_map(|c| c.wire_name().to_owned()),
            any_text(),
        ];
        let value = prop_oneof![
            prop::sample::select(vec!["auth", "subscribe", "unsubscribe", "listen", "dance"])
                .prop_map(serde_json::Value::from),
            any_text().prop_map(serde_json::Value::from),
            prop::collection::vec(any_text(), 0..20).prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            Just(serde_json::json!({"key_id": "K", "secret_key": "S"})),
        ];
        prop::collection::vec((key, value), 0..6)
            .prop_map(|fields| serde_json::Value::Object(fields.into_iter().collect()))
    }

    /// `decode_client_message` on a frame, and serde's answer alone.
    fn both(
        frame: &Frame,
    ) -> (
        Result<ClientMessage, DecodeError>,
        Result<ClientMessage, DecodeError>,
    ) {
        let serde = Wire::detect(frame)
            .ok_or(DecodeError {
                what: "client message",
                detail: "a control frame carries no message".to_owned(),
            })
            .and_then(|(wire, bytes)| decode_raw(wire, bytes))
            .and_then(RawClient::into_message);
        (decode_client_message(frame), serde)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// The fast path answers exactly as serde does, whole or cut short or damaged.
        #[test]
        fn fast_client_decoding_matches_serde(
            request in any_request(),
            cut in any::<prop::sample::Index>(),
            flip in any::<(prop::sample::Index, u8)>(),
        ) {
            let json = serde_json::to_vec(&request).unwrap();
            let msgpack = rmp_serde::to_vec_named(&request).unwrap();
            for bytes in [json, msgpack] {
                let cut_short = bytes[..cut.index(bytes.len() + 1)].to_vec();
                let mut damaged = bytes.clone();
                if !damaged.is_empty() {
                    let at = flip.0.index(damaged.len());
                    damaged[at] ^= flip.1;
                }
                for bytes in [bytes, cut_short, damaged] {
                    for frame in [Frame::binary(bytes.clone()), Frame::Text(bytes.clone().into())] {
                        let (fast, serde) = both(&frame);
                        prop_assert_eq!(fast, serde, "{:?}", frame);
                    }
                }
            }
        }
    }

    proptest! {
        /// A request's set, built in one go, is the set its pairs inserted
        /// one by one make (in or out of order, with repeats).
        #[test]
        fn subscription_sets_match_insertion(
            pairs in prop::collection::vec(
                (prop::sample::select(Channel::ALL.to_vec()), "[A-D]{1,2}|\\*"),
                0..40,
            ),
        ) {
            let mut inserted = SubscriptionSet::new();
            for (channel, symbol) in &pairs {
                inserted.insert(*channel, Symbol::new(symbol).unwrap());
            }
            let built = subscription_set(pairs.iter().map(|(c, s)| (*c, s.as_str())));
            prop_assert_eq!(built, Ok(inserted));
        }
    }

    #[test]
    fn client_requests_take_the_fast_path() {
        for text in [
            r#"{"action":"subscribe","trades":["AAPL"],"quotes":[],"bars":null}"#,
            r#"{"action":"auth","key":"K","secret":"S"}"#,
            r#"{"trades":["AAPL","*"],"action":"unsubscribe"}"#,
        ] {
            let mut raw = FastRaw::default();
            assert!(
                fast_client(Wire::Json, text.as_bytes(), &mut raw).is_some(),
                "{text}"
            );
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let packed = rmp_serde::to_vec_named(&value).unwrap();
            let mut raw = FastRaw::default();
            assert!(
                fast_client(Wire::MsgPack, &packed, &mut raw).is_some(),
                "{text}"
            );
        }
    }

    #[test]
    fn every_error_code_matches_serde() {
        for code in [0, 127, 128, 255, 256, 406, 65_535] {
            for encoding in encodings() {
                let one = [ServerMessage::Error {
                    code,
                    message: "\u{1}\"\\/\u{7f}é".to_owned(),
                }];
                assert_eq!(encode_market_frame(encoding, &one), encoding.frame(&one));
            }
        }
    }

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
