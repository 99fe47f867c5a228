//! The market data fast path for the stream's control
//! messages: `success`, `error` and `subscription`.
//!
//! Each is read into the same [`MarketMessage`] the serde path builds, then
//! turned into an [`Inbound`] by the same code. The readers accept only the
//! keys the serde path gives a meaning to, each at most once (a channel may
//! repeat, as it merges there too); any other key, a value of an unexpected
//! type or an escape makes them give up, and serde decides.

use crate::client::market_message::MarketMessage;
use crate::model::market::MarketData;
use crate::wire::field_reader::{FieldReader, put};
use crate::{Channel, SubscriptionSet, Symbol};
use tickwire_core::protocol::Inbound;

/// Decodes the rest of a control message whose `T` was `tag`, if the fast
/// path knows it.
#[inline(never)]
pub(super) fn message<'a, R: FieldReader<'a>>(
    reader: &mut R,
    tag: &[u8],
    expected: Option<&SubscriptionSet>,
) -> Option<Inbound<MarketData, Channel>> {
    let message = match tag {
        b"success" => success(reader)?,
        b"error" => error(reader)?,
        b"subscription" => subscription(reader, expected)?,
        _ => return None,
    };
    Some(message.into_inbound())
}

/// `{"T":"success","msg":…}`; a missing `msg` is empty, as in the serde path.
fn success<'a, R: FieldReader<'a>>(r: &mut R) -> Option<MarketMessage> {
    let mut msg = None;
    while let Some(key) = r.next_key()? {
        match key {
            b"msg" => put(&mut msg, r.str()?)?,
            _ => return None,
        }
    }
    Some(MarketMessage::Success(msg.unwrap_or_default().to_owned()))
}

/// `{"T":"error","code":…,"msg":…}`; the code may be `null` or missing.
fn error<'a, R: FieldReader<'a>>(r: &mut R) -> Option<MarketMessage> {
    let (mut code, mut msg) = (None, None);
    while let Some(key) = r.next_key()? {
        match key {
            b"code" => {
                let value = match r.opt_u64()? {
                    Some(n) => Some(u16::try_from(n).ok()?),
                    None => None,
                };
                put(&mut code, value)?;
            }
            b"msg" => put(&mut msg, r.str()?)?,
            _ => return None,
        }
    }
    Some(MarketMessage::Error {
        code: code.flatten(),
        message: msg.unwrap_or_default().to_owned(),
    })
}

/// `{"T":"subscription","trades":[…],…}`: every key must name a channel;
/// its symbols (`null` counts as none) join the set unvalidated.
fn subscription<'a, R: FieldReader<'a>>(
    r: &mut R,
    expected: Option<&SubscriptionSet>,
) -> Option<MarketMessage> {
    if let Some(expected) = expected {
        let mut attempt = r.clone();
        if let Some(set) = as_expected(&mut attempt, expected) {
            *r = attempt;
            return Some(MarketMessage::Subscription(set));
        }
    }
    // Room for every symbol the rest of the frame can hold at the size of a
    // typical one: an acknowledgement lists the whole set, thousands of
    // symbols for some users, and growing the list step by step would copy
    // it about as many times as it doubles.
    let mut pairs = Vec::with_capacity(r.bytes_left() / SYMBOL_WIRE_BYTES_TYPICAL);
    while let Some(key) = r.next_key()? {
        let channel = Channel::from_wire_bytes(key)?;
        r.strings(|symbol| pairs.push((channel, Symbol::from_server(symbol))))?;
    }
    // A frame of long symbols leaves much of that room unused.
    if pairs.capacity() / 2 > pairs.len() {
        pairs.shrink_to_fit();
    }
    Some(MarketMessage::Subscription(
        pairs.into_iter().collect::<SubscriptionSet>(),
    ))
}

/// `expected`, shared, if the rest of a subscription message lists exactly
/// its pairs in its order — which is then the set the message makes (in
/// order and without repeats, it needs no sorting): each symbol is compared
/// where it lies in the frame, and no set is built.
fn as_expected<'a, R: FieldReader<'a>>(
    r: &mut R,
    expected: &SubscriptionSet,
) -> Option<SubscriptionSet> {
    let mut pairs = expected.iter();
    while let Some(key) = r.next_key()? {
        let channel = Channel::from_wire_bytes(key)?;
        let agrees = r.strings_as(|| {
            let (c, s) = pairs.next()?;
            (c == channel).then(|| s.as_bytes())
        })?;
        if !agrees {
            return None;
        }
    }
    pairs.next().is_none().then(|| expected.clone())
}

/// Bytes a typical symbol takes in a list, for sizing one: `"AAPL",` in
/// JSON is 7, MessagePack's `\xa4AAPL` 5.
const SYMBOL_WIRE_BYTES_TYPICAL: usize = 6;

#[cfg(test)]
mod tests {
    //! Differential tests, as in [`fast`](crate::client::fast_market): whenever the
    //! fast path accepts a frame with control messages, serde agrees.

    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde::ser::{Serialize, SerializeMap, Serializer};
    use serde_json::{Value, json};

    use super::*;
    use crate::client::fast_market::tests::{
        agree, both_wires, message as data_message, mutate_all, mutation, text,
    };
    use crate::client::market_decode::{decode_market_frame, decode_market_frame_expecting};
    use crate::documented_ack::{DOCUMENTED_ACK, DOCUMENTED_ACK_PAIRS};
    use crate::inbound_kinds::kinds;
    use crate::wire::frame::Wire;
    use crate::{Encoding, Frame, ServerMessage, encode_market_frame};
    use tickwire_core::protocol::{ServerError, Verdict};

    /// One message of a test frame: a map with its entries in order, or data.
    #[derive(Debug, Clone)]
    enum Message {
        Entries(Vec<(String, Value)>),
        Data(Box<MarketData>),
    }

    impl Serialize for Message {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self {
                Self::Entries(entries) => {
                    let mut map = serializer.serialize_map(Some(entries.len()))?;
                    for (key, value) in entries {
                        map.serialize_entry(key, value)?;
                    }
                    map.end()
                }
                Self::Data(data) => data.serialize(serializer),
            }
        }
    }

    fn symbol() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[A-Z]{1,5}",
            1 => Just("*".to_owned()),
            1 => "[A-Z]{3}/USD",
            1 => text(),
        ]
    }

    fn channel_name() -> impl Strategy<Value = String> {
        proptest::sample::select(Channel::ALL.to_vec()).prop_map(|c| c.wire_name().to_owned())
    }

    /// A value of any type a control field might (wrongly) hold.
    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            text().prop_map(Value::from),
            Just(Value::Null),
            any::<u16>().prop_map(Value::from),
            prop_oneof![Just(65_536u64), Just(u64::MAX)].prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            Just(Value::from(406.0)),
            Just(Value::from(true)),
            vec(symbol(), 0..3).prop_map(Value::from),
            Just(json!({"a": [1]})),
            Just(json!([1, null])),
        ]
    }

    fn any_key() -> impl Strategy<Value = String> {
        prop_oneof![
            channel_name(),
            Just("msg".to_owned()),
            Just("code".to_owned()),
            Just("T".to_owned()),
            Just("zz".to_owned()),
            Just("trades\"".to_owned()),
            Just(String::new()),
            text(),
        ]
    }

    fn success() -> impl Strategy<Value = Vec<(String, Value)>> {
        let msg = prop_oneof![
            Just("connected".to_owned()),
            Just("authenticated".to_owned()),
            text()
        ];
        proptest::option::of(msg).prop_map(|msg| {
            let mut entries = vec![("T".to_owned(), Value::from("success"))];
            entries.extend(msg.map(|m| ("msg".to_owned(), Value::from(m))));
            entries
        })
    }

    fn error() -> impl Strategy<Value = Vec<(String, Value)>> {
        let code = prop_oneof![
            4 => any::<u16>().prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any_value(),
        ];
        (
            proptest::option::of(code),
            proptest::option::of(text()),
            any::<bool>(),
        )
            .prop_map(|(code, msg, msg_first)| {
                let mut fields: Vec<(String, Value)> = Vec::new();
                fields.extend(code.map(|c| ("code".to_owned(), c)));
                fields.extend(msg.map(|m| ("msg".to_owned(), Value::from(m))));
                if msg_first {
                    fields.reverse();
                }
                let mut entries = vec![("T".to_owned(), Value::from("error"))];
                entries.extend(fields);
                entries
            })
    }

    fn subscription() -> impl Strategy<Value = Vec<(String, Value)>> {
        let symbols = prop_oneof![
            8 => vec(symbol(), 0..6).prop_map(Value::from),
            1 => Just(Value::Null),
        ];
        vec((channel_name(), symbols), 0..14).prop_map(|channels| {
            let mut entries = vec![("T".to_owned(), Value::from("subscription"))];
            entries.extend(channels);
            entries
        })
    }

    /// A control message, now and then with a stray entry or `T` moved.
    fn control() -> impl Strategy<Value = Message> {
        let noise = proptest::option::weighted(0.2, (any::<usize>(), any_key(), any_value()));
        (
            prop_oneof![success(), error(), subscription()],
            noise,
            proptest::option::weighted(0.05, any::<usize>()),
        )
            .prop_map(|(mut entries, noise, move_tag)| {
                if let Some((at, key, value)) = noise {
                    entries.insert(at % (entries.len() + 1), (key, value));
                }
                if let Some(to) = move_tag {
                    let tag = entries.remove(0);
                    entries.insert(to % (entries.len() + 1), tag);
                }
                Message::Entries(entries)
            })
    }

    fn frame() -> impl Strategy<Value = Vec<Message>> {
        let message = prop_oneof![
            3 => control(),
            1 => data_message().prop_map(|data| Message::Data(Box::new(data))),
        ];
        vec(message, 1..4)
    }

    /// What a server sends, with texts that need no escape in JSON.
    fn server_message() -> impl Strategy<Value = ServerMessage> {
        let pairs = vec(
            (
                proptest::sample::select(Channel::ALL.to_vec()),
                prop_oneof![4 => "[A-Z]{1,5}", 1 => Just("*".to_owned()), 1 => "[A-Z]{3}/USD"],
            ),
            0..40,
        );
        prop_oneof![
            Just(ServerMessage::Connected),
            Just(ServerMessage::Authenticated),
            (any::<u16>(), "[a-z ]{0,30}")
                .prop_map(|(code, message)| ServerMessage::Error { code, message }),
            pairs.prop_map(|pairs| ServerMessage::Subscription(
                pairs
                    .into_iter()
                    .map(|(c, s)| (c, Symbol::from_server(&s)))
                    .collect()
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn control_frames_agree_or_fall_back(messages in frame()) {
            for (wire, bytes) in both_wires(&messages) {
                agree(wire, &bytes);
            }
        }

        #[test]
        fn server_frames_take_the_fast_path(messages in vec(server_message(), 1..4)) {
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let frame = encode_market_frame(encoding, &messages);
                let (wire, bytes) = Wire::detect(&frame).unwrap();
                prop_assert!(agree(wire, bytes), "{frame:?}");
            }
        }

        /// An expected set, right or wrong, changes nothing decoded: it only
        /// spares building a set that agrees with it.
        #[test]
        fn decoding_against_an_expected_set_changes_nothing(
            messages in vec(server_message(), 1..4),
            guess in vec((proptest::sample::select(Channel::ALL.to_vec()), "[A-Z]{1,5}"), 0..8),
        ) {
            for encoding in [Encoding::Json, Encoding::MsgPack] {
                let frame = encode_market_frame(encoding, &messages);
                let mut plain = Vec::new();
                decode_market_frame(&frame, &mut plain);
                let mut expectations: Vec<SubscriptionSet> = vec![guess
                    .iter()
                    .map(|(c, s)| (*c, Symbol::from_server(s)))
                    .collect()];
                for message in &plain {
                    if let Inbound::SubscriptionAck(set) = message {
                        expectations.push(set.clone());
                        let mut near = set.clone();
                        if let Some((c, s)) = set.iter().last() {
                            near.remove(c, s);
                        }
                        expectations.push(near);
                    }
                }
                for expected in &expectations {
                    let mut out = Vec::new();
                    decode_market_frame_expecting(&frame, Some(expected), &mut out);
                    prop_assert_eq!(&out, &plain, "expecting {:?}", expected);
                }
            }
        }

        /// Checked in place, a JSON acknowledgement gives what decoding it
        /// plainly gives, however it is written: spaces, escapes, `null`,
        /// cut or doubled strings, and symbols a quote, a backslash or a
        /// control byte in them would end early.
        #[test]
        fn checking_an_ack_in_place_agrees_with_decoding_it(
            pairs in vec((proptest::sample::select(Channel::ALL.to_vec()), symbol()), 0..30),
            edits in vec((any::<usize>(), proptest::sample::select(&[" ", "\\u0041", "null", "\"", "\",\"A\"", ",", "]", "\\\\"][..])), 0..3),
            drop_last in any::<bool>(),
        ) {
            let set: SubscriptionSet = pairs
                .iter()
                .map(|(c, s)| (*c, Symbol::from_server(s)))
                .collect();
            let frame = encode_market_frame(Encoding::Json, &[ServerMessage::Subscription(set.clone())]);
            let mut text = String::from_utf8(frame.payload().to_vec()).unwrap();
            for (at, edit) in &edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, edit);
            }
            let frame = Frame::text(text);
            let mut expected = set.without_server_managed();
            if drop_last && let Some((c, s)) = expected.iter().last().map(|(c, s)| (c, s.clone())) {
                expected.remove(c, &s);
            }
            let mut plain = Vec::new();
            decode_market_frame(&frame, &mut plain);
            let mut checked = Vec::new();
            decode_market_frame_expecting(&frame, Some(&expected), &mut checked);
            prop_assert_eq!(&checked, &plain, "{:?} expecting {:?}", frame, expected);
        }

        #[test]
        fn mutated_control_frames_agree_or_fall_back(
            messages in frame(),
            mutations in vec(mutation(), 1..6),
        ) {
            for (wire, mut bytes) in both_wires(&messages) {
                mutate_all(wire, &mut bytes, &mutations);
                agree(wire, &bytes);
            }
        }
    }

    /// Decodes JSON `text` and its MessagePack twin on the fast path, both
    /// accepted and agreeing with serde.
    fn fast(text: &str) -> Vec<Inbound<MarketData, Channel>> {
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(agree(Wire::Json, text.as_bytes()), "{text}");
        assert!(
            agree(Wire::MsgPack, &rmp_serde::to_vec(&value).unwrap()),
            "{text}"
        );
        let mut out = Vec::new();
        crate::client::fast_market::decode_frame(Wire::Json, text.as_bytes(), &mut out);
        out
    }

    #[test]
    fn the_documented_ack_takes_the_fast_path() {
        // Key order survives `Value` only in JSON text; MessagePack gets a
        // sorted map, which is just as valid.
        let out = fast(DOCUMENTED_ACK);
        let expected: SubscriptionSet = DOCUMENTED_ACK_PAIRS
            .into_iter()
            .map(|(c, s)| (c, Symbol::from_server(s)))
            .collect();
        assert_eq!(out, vec![Inbound::SubscriptionAck(expected)]);
    }

    #[test]
    fn greetings_errors_and_merged_channels() {
        assert_eq!(
            fast(r#"[{"T":"success","msg":"connected"}]"#),
            vec![Inbound::Greeting]
        );
        assert_eq!(
            fast(r#"{"T":"success","msg":"authenticated"}"#),
            vec![Inbound::Authenticated]
        );
        assert_eq!(
            fast(r#"[{"T":"success"}]"#),
            vec![Inbound::Unknown {
                tag: "success".to_owned()
            }]
        );
        assert_eq!(
            fast(r#"[{"T":"error","code":402,"msg":"auth failed"}]"#),
            vec![Inbound::Error(ServerError {
                code: Some(402),
                message: "auth failed".to_owned(),
                verdict: Verdict::Fatal,
            })]
        );
        assert!(matches!(
            &fast(r#"[{"T":"error","code":null}]"#)[..],
            [Inbound::Error(ServerError { code: None, .. })]
        ));
        // A channel named twice merges; `null` and duplicates add nothing.
        let out = fast(
            r#"[{"T":"subscription","trades":["A","A"],"quotes":null,"trades":["B"],"trade_updates":["*"]}]"#,
        );
        let [Inbound::SubscriptionAck(set)] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(set.len(), 3);
        assert!(set.contains(Channel::TradeUpdates, &Symbol::WILDCARD));
    }

    #[test]
    fn doubtful_control_messages_are_left_to_serde() {
        for refused in [
            r#"[{"T":"subscription","trades":["A"],"zz":[]}]"#,
            r#"[{"T":"subscription","trades":"A"}]"#,
            r#"[{"T":"subscription","trades":["A\u0042"]}]"#,
            r#"[{"T":"subscription","tr\u0061des":["A"]}]"#,
            r#"[{"trades":["A"],"T":"subscription"}]"#,
            r#"[{"T":"success","msg":"connected","msg":"connected"}]"#,
            r#"[{"T":"success","msg":null}]"#,
            r#"[{"T":"error","code":70000,"msg":"x"}]"#,
            r#"[{"T":"error","code":-1,"msg":"x"}]"#,
            r#"[{"T":"error","code":406.0,"msg":"x"}]"#,
            r#"[{"T":"error","code":406,"msg":"x","extra":1}]"#,
            r#"[{"T":"news","id":1}]"#,
        ] {
            assert!(!agree(Wire::Json, refused.as_bytes()), "{refused}");
        }
    }

    #[test]
    fn mixed_frames_take_the_fast_path() {
        let quote = r#"[{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#;
        let mut out = Vec::new();
        crate::client::fast_market::decode_frame(Wire::Json, quote.as_bytes(), &mut out);
        let [Inbound::Data(quote)] = &out[..] else {
            panic!("{out:?}")
        };
        let messages = [
            ServerMessage::Data(quote.clone()),
            ServerMessage::Subscription(
                [(Channel::Quotes, Symbol::WILDCARD)].into_iter().collect(),
            ),
            ServerMessage::Data(quote.clone()),
            ServerMessage::Error {
                code: 407,
                message: "slow client".to_owned(),
            },
        ];
        for encoding in [Encoding::Json, Encoding::MsgPack] {
            let frame = encode_market_frame(encoding, &messages);
            let (wire, bytes) = Wire::detect(&frame).unwrap();
            assert!(agree(wire, bytes), "{frame:?}");
            let mut out = Vec::new();
            decode_market_frame(&frame, &mut out);
            assert_eq!(
                kinds(&out),
                ["Data", "SubscriptionAck", "Data", "Error"],
                "{out:?}"
            );
        }
    }
}
