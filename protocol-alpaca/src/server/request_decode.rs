//! The server side's decoding of what clients send on either Alpaca stream:
//! a fast path for the compact requests clients write, serde for the rest.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;

use crate::model::cow_str::CowStr;
use crate::wire::field_reader::FieldReader;
use crate::wire::frame::Wire;
use crate::wire::json_reader::JsonReader;
use crate::wire::msgpack_reader::MsgPackReader;
use crate::wire::seed::Seed;
use crate::{Channel, Credentials, Frame, SubscriptionSet, Symbol};
use tickwire_core::protocol::DecodeError;

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
/// use tickwire_alpaca::Channel;
/// use tickwire_core::{Frame, Symbol};
/// use tickwire_alpaca::{ClientMessage, decode_client_message};
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
    wire.decode_seed(bytes, Seed::map(RawClientSeed))
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

/// Reads into `raw` a client message in the shape clients write (`action`,
/// `key`, `secret` and channel keys, plain strings), through the fast
/// path's readers, without serde and without copying its strings: what
/// serde's [`RawClient`] would hold. `None` for anything else (`raw` then
/// holds whatever was read), which serde then decodes (or refuses) as usual.
fn fast_client<'a>(wire: Wire, bytes: &'a [u8], raw: &mut FastRaw<'a>) -> Option<()> {
    match wire {
        Wire::Json => client_request(&mut JsonReader::new(bytes)?, raw),
        Wire::MsgPack => client_request(&mut MsgPackReader::new(bytes), raw),
    }
}

/// A whole frame holding one client message, read by `r` into `raw`; a
/// later repeat of a key wins, as with serde.
fn client_request<'a, R: FieldReader<'a>>(r: &mut R, raw: &mut FastRaw<'a>) -> Option<()> {
    r.map(|r, key| {
        match key {
            b"action" => raw.action = Some(r.str()?),
            b"key" => raw.key = Some(r.str()?),
            b"secret" => raw.secret = Some(r.str()?),
            name => {
                let channel = Channel::from_wire_bytes(name)?;
                r.strings(|symbol| raw.pairs.push((channel, symbol)))?;
            }
        }
        Some(())
    })?;
    r.at_end().then_some(())
}

/// What [`fast_client`] read: strings borrowed from the frame, and the
/// requested pairs in order (empty and `null` lists add none).
#[derive(Default)]
pub(super) struct FastRaw<'a> {
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
                "data" => map.next_value_seed(Seed::map(RawDataSeed(&mut raw)))?,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::strategies::{Entries, any_text};

    /// Requests in the shapes clients write, and some they do not: keys in
    /// any order (`action` last, as alpaca-py writes it) and repeated.
    fn any_request() -> impl Strategy<Value = Entries> {
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
        prop::collection::vec((key, value), 0..6).prop_map(Entries)
    }

    /// (Un)subscribe requests with valid symbols on several channels, keys
    /// in any order: whole subscriptions, which [`any_request`] seldom makes.
    fn subscription_request() -> impl Strategy<Value = Entries> {
        let channel =
            prop::sample::select(Channel::ALL.to_vec()).prop_map(|c| c.wire_name().to_owned());
        let symbols = prop::collection::vec("[A-Z]{1,5}", 0..6).prop_map(serde_json::Value::from);
        (
            prop::sample::select(vec!["subscribe", "unsubscribe"]),
            prop::collection::vec((channel, symbols), 1..5),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(action, mut entries, at)| {
                let at = at.index(entries.len() + 1);
                entries.insert(at, ("action".to_owned(), serde_json::Value::from(action)));
                Entries(entries)
            })
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
            request in prop_oneof![any_request(), subscription_request()],
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
    fn repeated_keys_and_action_last_match_serde() {
        let requests = [
            vec![
                ("trades", json!(["A"])),
                ("trades", json!(["B"])),
                ("action", json!("subscribe")),
            ],
            vec![
                ("action", json!("auth")),
                ("key", json!("K")),
                ("secret", json!("S")),
                ("action", json!("subscribe")),
            ],
            vec![
                ("key", json!("K")),
                ("key", json!("L")),
                ("secret", json!("S")),
                ("action", json!("auth")),
            ],
        ];
        for request in requests {
            let request = Entries(
                request
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            );
            for (wire, bytes) in [
                (Wire::Json, serde_json::to_vec(&request).unwrap()),
                (Wire::MsgPack, rmp_serde::to_vec_named(&request).unwrap()),
            ] {
                let mut raw = FastRaw::default();
                assert!(fast_client(wire, &bytes, &mut raw).is_some(), "{request:?}");
                let (fast, serde) = both(&Frame::binary(bytes.clone()));
                assert!(fast.is_ok(), "{request:?}");
                assert_eq!(fast, serde, "{request:?}");
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
}
