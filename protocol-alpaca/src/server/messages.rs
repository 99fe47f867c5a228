//! The server side of both Alpaca streams, for the simulated exchange and
//! tests: encoding what servers send (decoding what clients send is in
//! [`request_decode`](super::request_decode)).

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::Encoding;
use crate::model::market::MarketData;
use crate::model::trading::TradeUpdate;
use crate::server::market_data;
use crate::server::trade_updates;
use crate::server::writer::{JsonWriter, MsgPackWriter, ServerWriter, dyn_frame};
use crate::{Channel, Feed, Frame, SubscriptionSet};

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

/// Channels a subscription ack always names (with `[]` when empty), as
/// Alpaca's stock feeds do: their channels but `imbalances`, then the two
/// that follow `trades`. Other channels appear only when non-empty.
fn ack_channels() -> impl Iterator<Item = Channel> {
    Feed::Iex
        .channels()
        .iter()
        .copied()
        .filter(|c| *c != Channel::Imbalances)
        .chain([Channel::Corrections, Channel::CancelErrors])
}

/// The channels of `set` that [`ack_channels`] leaves out (the account's aside).
fn extra_channels(set: &SubscriptionSet) -> impl Iterator<Item = Channel> {
    set.channels()
        .filter(|c| *c != Channel::TradeUpdates && !ack_channels().any(|a| a == *c))
}

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
                let entries = ack_channels().count() + extra_channels(set).count();
                let mut m = serializer.serialize_map(Some(1 + entries))?;
                m.serialize_entry("T", "subscription")?;
                for channel in ack_channels().chain(extra_channels(set)) {
                    m.serialize_entry(channel.wire_name(), &Symbols(set, channel))?;
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
/// use tickwire_alpaca::{Encoding, ServerMessage, encode_market_frame};
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
    /// use tickwire_alpaca::{
    ///     Encoding, Imbalance, MarketData, ServerMessage, encode_market_frame,
    /// };
    /// use tickwire_core::{Frame, Symbol, Timestamp};
    /// let imbalance = MarketData::Imbalance(Imbalance {
    ///     symbol: Symbol::new("AAPL")?,
    ///     price: 189.5,
    ///     timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
    ///     tape: Some("C".into()),
    /// });
    /// assert_eq!(
    ///     ServerMessage::data_frame(Encoding::Json, &[&imbalance]),
    ///     Frame::text(r#"[{"T":"i","S":"AAPL","p":189.5,"t":"2023-11-14T22:13:20Z","z":"C"}]"#),
    /// );
    /// for encoding in [Encoding::Json, Encoding::MsgPack] {
    ///     assert_eq!(
    ///         ServerMessage::data_frame(encoding, &[&imbalance]),
    ///         encode_market_frame(encoding, &[ServerMessage::Data(imbalance.clone())]),
    ///     );
    /// }
    /// # Ok::<(), tickwire_core::InvalidSymbol>(())
    /// ```
    pub fn data_frame(encoding: Encoding, messages: &[&MarketData]) -> Frame {
        market_data::data_frame(encoding, messages)
    }

    /// Appends the payload of [`ServerMessage::data_frame`] to `out`, so a
    /// caller writing many frames reuses one buffer instead of allocating
    /// one per frame.
    ///
    /// ```
    /// use tickwire_alpaca::{Encoding, Imbalance, MarketData, ServerMessage};
    /// use tickwire_core::{Symbol, Timestamp};
    /// let imbalance = MarketData::Imbalance(Imbalance {
    ///     symbol: Symbol::new("AAPL")?,
    ///     price: 189.5,
    ///     timestamp: Timestamp::from_unix_nanos(1_700_000_000_000_000_000),
    ///     tape: None,
    /// });
    /// let mut out = b"before".to_vec();
    /// ServerMessage::append_data_frame(Encoding::MsgPack, &[&imbalance], &mut out);
    /// let frame = ServerMessage::data_frame(Encoding::MsgPack, &[&imbalance]);
    /// assert_eq!(&out[..6], b"before");
    /// assert_eq!(&out[6..], &frame.payload()[..]);
    /// # Ok::<(), tickwire_core::InvalidSymbol>(())
    /// ```
    pub fn append_data_frame(encoding: Encoding, messages: &[&MarketData], out: &mut Vec<u8>) {
        market_data::append_data_frame(encoding, messages, out);
    }

    /// The subscription ack of `set`, as [`encode_market_frame`] writes
    /// [`ServerMessage::Subscription`]; with `trade_followers`, the `trades`
    /// symbols are also listed under `corrections` and `cancelErrors`, as
    /// Alpaca's stock feeds acknowledge them. The set is not copied.
    ///
    /// ```
    /// use tickwire_alpaca::{Channel, SubscriptionSet};
    /// use tickwire_core::{Frame, Symbol};
    /// use tickwire_alpaca::{Encoding, ServerMessage};
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
    dyn_frame(encoding, CONTROL_FRAME_BYTES, |w| {
        open_control(w, "success", 1);
        w.key("msg");
        w.str(msg);
        close_control(w);
    })
}

/// `{"T":"error","code":…,"msg":…}` alone in a frame.
fn error_frame(encoding: Encoding, code: u16, message: &str) -> Frame {
    dyn_frame(encoding, CONTROL_FRAME_BYTES, |w| {
        open_control(w, "error", 2);
        w.key("code");
        w.u64(u64::from(code));
        w.key("msg");
        w.str(message);
        close_control(w);
    })
}

/// `{"T":"subscription",…}` alone in a frame; with `followers`, the set's
/// `trades` stand in for its (empty) `corrections` and `cancelErrors`.
fn subscription_frame(encoding: Encoding, set: &SubscriptionSet, followers: bool) -> Frame {
    // Acks are frequent: one copy of the code per encoding.
    match encoding {
        Encoding::Json => {
            let mut w = JsonWriter::with_capacity(CONTROL_FRAME_BYTES);
            subscription(&mut w, set, followers);
            Frame::Text(w.into_bytes().into())
        }
        Encoding::MsgPack => {
            let mut w = MsgPackWriter::with_capacity(CONTROL_FRAME_BYTES);
            subscription(&mut w, set, followers);
            Frame::Binary(w.into_bytes().into())
        }
    }
}

/// The ack of [`subscription_frame`], in its one-element array.
fn subscription<W: ServerWriter>(w: &mut W, set: &SubscriptionSet, followers: bool) {
    let entries = ack_channels().count() + extra_channels(set).count();
    open_control(w, "subscription", entries);
    for channel in ack_channels().chain(extra_channels(set)) {
        w.key(channel.wire_name());
        let listed = if followers && channel.is_server_managed() {
            Channel::Trades
        } else {
            channel
        };
        let symbols = set.symbols(listed);
        w.symbols(symbols.len(), symbols);
    }
    close_control(w);
}

/// Opens the one-element array of a control message, its map of `fields`
/// fields besides `T`, and writes `T`.
fn open_control<W: ServerWriter + ?Sized>(w: &mut W, tag: &'static str, fields: usize) {
    w.array(1);
    w.element();
    w.map(1 + fields);
    w.key("T");
    w.str(tag);
}

/// Closes what [`open_control`] opened.
fn close_control<W: ServerWriter + ?Sized>(w: &mut W) {
    w.end_map();
    w.end_array();
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
/// use tickwire_alpaca::{Encoding, TradingServerMessage, encode_trading_frame};
/// let frame = encode_trading_frame(Encoding::Json, &TradingServerMessage::Authorized);
/// assert_eq!(
///     frame,
///     Frame::binary(&br#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#[..])
/// );
/// ```
pub fn encode_trading_frame(encoding: Encoding, message: &TradingServerMessage) -> Frame {
    if let TradingServerMessage::TradeUpdate(update) = message {
        return trade_updates::trade_update_frame(encoding, update);
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
    /// use tickwire_alpaca::{
    ///     Encoding, TradeUpdate, TradingServerMessage, encode_trading_frame,
    /// };
    /// let update: TradeUpdate = serde_json::from_str(
    ///     r#"{"event":"new","order":{"id":"7b76","client_order_id":"c1",
    ///         "created_at":"2021-03-16T18:38:01Z","updated_at":"2021-03-16T18:38:01Z",
    ///         "submitted_at":"2021-03-16T18:38:01Z","symbol":"AAPL","qty":"1",
    ///         "side":"buy","type":"market","time_in_force":"day","status":"new"}}"#,
    /// )?;
    /// let message = TradingServerMessage::TradeUpdate(Box::new(update.clone()));
    /// for encoding in [Encoding::Json, Encoding::MsgPack] {
    ///     assert_eq!(
    ///         TradingServerMessage::trade_update_frame(encoding, &update),
    ///         encode_trading_frame(encoding, &message),
    ///     );
    /// }
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn trade_update_frame(encoding: Encoding, update: &TradeUpdate) -> Frame {
        trade_updates::trade_update_frame(encoding, update)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Symbol;
    use crate::strategies::any_text;

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
