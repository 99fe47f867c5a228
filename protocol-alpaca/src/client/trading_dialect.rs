//! [`AlpacaTrading`]: the trading stream (`trade_updates`) as a [`Dialect`].
//!
//! A frame holding one trade update is read by the
//! [fast path](crate::client::fast_trading); anything it gives up on is decoded
//! through serde, in one pass when `stream` comes before `data`.

use std::fmt;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, Visitor};

use crate::Encoding;
use crate::client::fast_trading;
use crate::client::request::{AuthForm, RequestForm, encode_auth, encode_subscription};
use crate::model::cow_str::CowStr;
use crate::model::trading::TradeUpdate;
use crate::model::verdicts::verdict_for_trading_error;
use crate::wire::frame::Wire;
use crate::wire::seed::Seed;
use crate::{Channel, Credentials, Frame, SubscriptionSet, Symbol, Timestamp};
use tickwire_core::protocol::{
    DecodeError, Dialect, EncodeError, EncodedRequest, Inbound, ServerError, SubscriptionRequest,
};

/// Alpaca's trading stream: order and fill events of one account.
///
/// There is no greeting: the client authenticates right after the upgrade,
/// then names its streams with `listen`. The subscription the machine tracks
/// is `{trade_updates: {*}}`: a `listening` ack naming `trade_updates`
/// decodes to that set. Messages are single JSON objects, usually in binary
/// frames; JSON in text frames and MessagePack decode too.
///
/// ```
/// use tickwire_alpaca::Channel;
/// use tickwire_core::{Frame, Symbol};
/// use tickwire_core::protocol::{Dialect, Inbound};
/// use tickwire_alpaca::{AlpacaTrading, Encoding};
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
    type Channel = Channel;

    /// The account's order updates: `trade_updates`, every symbol.
    fn account_subscriptions(&self) -> SubscriptionSet {
        SubscriptionSet::from_iter([(Channel::TradeUpdates, Symbol::WILDCARD)])
    }

    fn expects_greeting(&self) -> bool {
        false
    }

    fn connect_headers(&self) -> Vec<(String, String)> {
        self.encoding.connect_headers()
    }

    fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<TradeUpdate, Channel>>) {
        decode_trading_frame(frame, out);
    }

    /// The event's `timestamp`, else its order's `updated_at`.
    fn data_timestamp(&self, data: &TradeUpdate) -> Option<Timestamp> {
        Some(data.timestamp.unwrap_or(data.order.updated_at))
    }

    fn encode_auth(&self, credentials: &Credentials) -> Frame {
        encode_auth(self.encoding, self.auth_form, credentials)
    }

    /// Encodes `listen` with the streams of `request.target` (all items fit).
    fn encode_subscription(
        &self,
        request: SubscriptionRequest<'_, Channel>,
        frame_bytes_max: usize,
    ) -> Result<EncodedRequest, EncodeError> {
        encode_subscription(RequestForm::Listen, self.encoding, request, frame_bytes_max)
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

fn decode_trading_frame(frame: &Frame, out: &mut Vec<Inbound<TradeUpdate, Channel>>) {
    let Some((wire, bytes)) = Wire::detect(frame) else {
        return;
    };
    match fast_trading::decode_frame(wire, bytes) {
        Some(update) => out.push(Inbound::Data(update)),
        None => decode_with_serde(wire, bytes, out),
    }
}

/// The frame's messages through serde: what decides whenever the fast path
/// gives up.
fn decode_with_serde(wire: Wire, bytes: &[u8], out: &mut Vec<Inbound<TradeUpdate, Channel>>) {
    wire.decode_each(bytes, out, |element| {
        match decode_trading_message(wire, element) {
            Ok(message) => into_inbound(message),
            Err(error) => Inbound::Malformed(error),
        }
    });
}

fn into_inbound(message: TradingMessage) -> Inbound<TradeUpdate, Channel> {
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

/// Decodes one message: in [one pass](OnePassSeed) when `stream` comes
/// before `data`, as servers write it; otherwise in two, the envelope first,
/// then its `data` decoded as the type the envelope names. The one pass
/// gives up on anything else, errors included, so that the two passes
/// decide every doubtful case and word every error.
fn decode_trading_message(wire: Wire, bytes: &[u8]) -> Result<TradingMessage, DecodeError> {
    if let Ok(Some(message)) = wire.decode_seed(bytes, Seed::map(OnePassSeed)) {
        return Ok(message);
    }
    decode_in_two_passes(wire, bytes)
}

/// The envelope, then `data` as the type it names.
fn decode_in_two_passes(wire: Wire, bytes: &[u8]) -> Result<TradingMessage, DecodeError> {
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

/// One pass over a message map, the type of `data` known from a `stream`
/// read before it; `None` when the two passes must decide: `data` before
/// `stream`, no `stream`, no `data`, or a repeated key.
struct OnePassSeed;

impl<'de> Visitor<'de> for OnePassSeed {
    type Value = Option<TradingMessage>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The same checks as `Envelope` and `WithData`: one `stream`, one
        // `action`, both strings or null; one `data`.
        let (mut stream, mut action_seen) = (None::<Option<String>>, false);
        let mut message = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match &*key.0 {
                "stream" if stream.is_none() => stream = Some(map.next_value()?),
                "action" if !action_seen => {
                    map.next_value::<Option<String>>()?;
                    action_seen = true;
                }
                "data" if message.is_none() => {
                    let Some(Some(stream)) = &stream else {
                        return Ok(None);
                    };
                    message = Some(match stream.as_str() {
                        "authorization" => {
                            let auth: AuthorizationData = map.next_value()?;
                            TradingMessage::Authorization {
                                authorized: auth.status == "authorized",
                                message: auth.message,
                            }
                        }
                        "listening" => {
                            TradingMessage::Listening(map.next_value::<ListeningData>()?.streams)
                        }
                        "trade_updates" => TradingMessage::TradeUpdate(Box::new(map.next_value()?)),
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            TradingMessage::Unknown(other.to_owned())
                        }
                    });
                }
                "stream" | "action" | "data" => return Ok(None),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::client::fast_market::tests::{both_wires, mutate_all, mutation};
    use crate::strategies::{Entries, any_trade_update};
    use crate::{TradingServerMessage, encode_trading_frame};
    use tickwire_core::protocol::Verdict;

    const FILL: &str = r#"{"event":"fill","execution_id":"2f63ea93-423d-4169-b3f6-3fdafc10c418","order":{"id":"7b7653c4-7468-494a-aeb3-d5f255789473","client_order_id":"7d5ee2e1","created_at":"2021-03-16T18:38:01.942282Z","updated_at":"2021-03-16T18:38:01.942282Z","submitted_at":"2021-03-16T18:38:01.937734Z","filled_at":"2021-03-16T18:38:02Z","expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","asset_class":"us_equity","notional":null,"qty":"1","filled_qty":"1","filled_avg_price":"189.12","order_class":"","order_type":"market","type":"market","side":"buy","time_in_force":"day","limit_price":null,"stop_price":null,"status":"filled","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null},"timestamp":"2021-03-16T18:38:02.000001Z","price":"189.12","qty":"1","position_qty":"1"}"#;

    /// If the one pass decodes `bytes`, the two passes decode it the same.
    /// Returns whether the one pass did.
    fn agree(wire: Wire, bytes: &[u8]) -> bool {
        let Ok(Some(one)) = wire.decode_seed(bytes, Seed::map(OnePassSeed)) else {
            return false;
        };
        let two = decode_in_two_passes(wire, bytes);
        assert_eq!(
            format!("{:?}", Ok::<_, DecodeError>(into_inbound(one))),
            format!("{:?}", two.map(into_inbound)),
            "one and two passes disagree on {:?}",
            String::from_utf8_lossy(bytes)
        );
        true
    }

    /// If the fast path decodes `bytes`, the serde path decodes them to that
    /// same update alone. Returns whether the fast path did.
    fn fast_agrees(wire: Wire, bytes: &[u8]) -> bool {
        let Some(update) = fast_trading::decode_frame(wire, bytes) else {
            return false;
        };
        let mut serde = Vec::new();
        decode_with_serde(wire, bytes, &mut serde);
        assert_eq!(
            format!("{serde:?}"),
            format!("{:?}", [Inbound::<_, Channel>::Data(update)]),
            "the fast path and serde disagree on {:?}",
            String::from_utf8_lossy(bytes)
        );
        true
    }

    fn data() -> impl Strategy<Value = Value> {
        let fill: Value = serde_json::from_str(FILL).unwrap();
        prop_oneof![
            Just(fill.clone()),
            Just(fill.as_object().map_or(Value::Null, |o| {
                let mut o = o.clone();
                o.remove("order");
                Value::Object(o)
            })),
            Just(json!({"status": "authorized", "action": "authenticate"})),
            Just(json!({"status": "unauthorized", "message": "access key verification failed"})),
            Just(json!({"status": 1})),
            Just(json!({"streams": ["trade_updates"]})),
            Just(json!({"streams": ["trade_updates", "account_updates", 3]})),
            Just(json!({"streams": null})),
            Just(json!({"error_message": "internal failure"})),
            Just(json!({})),
            Just(Value::Null),
            Just(json!([1, "a"])),
        ]
    }

    fn entries() -> impl Strategy<Value = Vec<(String, Value)>> {
        let stream = prop_oneof![
            Just(json!("authorization")),
            Just(json!("listening")),
            Just(json!("trade_updates")),
            Just(json!("account_updates")),
            Just(Value::Null),
            Just(json!(7)),
        ];
        let action = prop_oneof![
            Just(json!("error")),
            Just(json!("listen")),
            Just(Value::Null)
        ];
        let key = prop_oneof![
            Just("stream"),
            Just("action"),
            Just("data"),
            Just("zz"),
            Just("T")
        ];
        (
            proptest::option::weighted(0.9, stream),
            proptest::option::weighted(0.2, action),
            proptest::option::weighted(0.95, data()),
            proptest::option::weighted(0.2, (key, data())),
            any::<u64>(),
        )
            .prop_map(|(stream, action, data, extra, order)| {
                let mut entries: Vec<(String, Value)> = Vec::new();
                entries.extend(stream.map(|v| ("stream".to_owned(), v)));
                entries.extend(action.map(|v| ("action".to_owned(), v)));
                entries.extend(data.map(|v| ("data".to_owned(), v)));
                entries.extend(extra.map(|(k, v)| (k.to_owned(), v)));
                // Mostly in server order; now and then rotated.
                if order % 4 == 0 && !entries.is_empty() {
                    let by = (order / 4) as usize % entries.len();
                    entries.rotate_left(by);
                }
                entries
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]


    #[test]
        fn one_pass_agrees_with_two(entries in entries()) {
            for (wire, bytes) in both_wires(&Entries(entries)) {
                agree(wire, &bytes);
                fast_agrees(wire, &bytes);
            }
        }

        #[test]
        fn mutated_messages_agree_or_fall_back(
            entries in entries(),
            mutations in vec(mutation(), 1..6),
        ) {
            for (wire, mut bytes) in both_wires(&Entries(entries)) {
                mutate_all(wire, &mut bytes, &mutations);
                agree(wire, &bytes);
                fast_agrees(wire, &bytes);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every trade update the server writes takes the fast path, in
        /// MessagePack always and in JSON unless a string needed an escape,
        /// and decodes as serde decodes it, whole or mutated.
        #[test]
        fn server_trade_updates_take_the_fast_path(
            update in any_trade_update(),
            mutations in vec(mutation(), 1..4),
        ) {
            let message = TradingServerMessage::TradeUpdate(Box::new(update));
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let frame = encode_trading_frame(encoding, &message);
                let (wire, bytes) = Wire::detect(&frame).unwrap();
                let mut serde = Vec::new();
                decode_with_serde(wire, bytes, &mut serde);
                let decodes = matches!(serde[..], [Inbound::Data(_)]);
                let plain = wire == Wire::MsgPack || !bytes.contains(&b'\\');
                prop_assert_eq!(fast_agrees(wire, bytes), decodes && plain);

                let mut mutated = bytes.to_vec();
                mutate_all(wire, &mut mutated, &mutations);
                fast_agrees(wire, &mutated);
            }
        }
    }

    /// `update` with every string made plain (nothing JSON escapes), so that
    /// its JSON can take the fast path; `None` if it then does not decode
    /// (a timestamp outside RFC 3339, for one).
    fn plain(update: TradeUpdate) -> Option<TradeUpdate> {
        fn walk(value: &mut Value) {
            match value {
                Value::String(text) => {
                    *text = text
                        .chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || "_.:-+ ".contains(c) {
                                c
                            } else {
                                'x'
                            }
                        })
                        .collect();
                }
                Value::Array(items) => items.iter_mut().for_each(walk),
                Value::Object(fields) => fields.values_mut().for_each(walk),
                _ => {}
            }
        }
        let mut value = serde_json::to_value(&update).ok()?;
        walk(&mut value);
        serde_json::from_value(value).ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Trade updates without escapes take the JSON fast path (and agree
        /// with serde), whole; mutated, they agree or fall back.
        #[test]
        fn plain_trade_updates_take_the_json_fast_path(
            update in any_trade_update().prop_filter_map("does not decode", plain),
            mutations in vec(mutation(), 1..4),
        ) {
            let message = TradingServerMessage::TradeUpdate(Box::new(update));
            let frame = encode_trading_frame(Encoding::Json, &message);
            let (wire, bytes) = Wire::detect(&frame).unwrap();
            prop_assert!(fast_agrees(wire, bytes), "{}", String::from_utf8_lossy(bytes));
            let mut mutated = bytes.to_vec();
            mutate_all(wire, &mut mutated, &mutations);
            fast_agrees(wire, &mutated);
        }
    }

    /// An empty key misread by the fast path's short-key scan must not
    /// let it accept a frame serde refuses.
    #[test]
    fn an_empty_key_is_not_misread() {
        let frame = format!(
            r#"{{"stream":"trade_updates","data":{{"":":1,""":2,{}}}"#,
            &FILL[1..]
        );
        assert!(!fast_agrees(Wire::Json, frame.as_bytes()));
        let mut serde = Vec::new();
        decode_with_serde(Wire::Json, frame.as_bytes(), &mut serde);
        assert!(matches!(serde[..], [Inbound::Malformed(_)]), "{serde:?}");
    }

    #[test]
    fn server_messages_take_one_pass() {
        let update: TradeUpdate = serde_json::from_str(FILL).unwrap();
        for message in [
            TradingServerMessage::Authorized,
            TradingServerMessage::Unauthorized {
                message: Some("access key verification failed".to_owned()),
            },
            TradingServerMessage::Listening(vec!["trade_updates".to_owned()]),
            TradingServerMessage::TradeUpdate(Box::new(update)),
        ] {
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let frame = encode_trading_frame(encoding, &message);
                let (wire, bytes) = Wire::detect(&frame).unwrap();
                assert!(agree(wire, bytes), "{frame:?}");
                let update = matches!(message, TradingServerMessage::TradeUpdate(_));
                assert_eq!(fast_agrees(wire, bytes), update, "{frame:?}");
            }
        }
    }

    fn decode(frame: Frame) -> Vec<Inbound<TradeUpdate, Channel>> {
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

    #[test]
    fn a_frame_past_the_cap_is_decoded_to_it_and_the_rest_counted() {
        use tickwire_core::protocol::MESSAGES_PER_FRAME_MAX;
        let max = MESSAGES_PER_FRAME_MAX;
        let text = format!("[{}]", vec!["null"; max + 4].join(","));
        let mut out = Vec::new();
        decode_trading_frame(&Frame::text(text), &mut out);
        assert_eq!(out.len(), max + 1);
        assert!(
            out[..max]
                .iter()
                .all(|m| matches!(m, Inbound::Malformed(_)))
        );
        assert_eq!(out[max], Inbound::Skipped { messages: 4 });
    }
}
