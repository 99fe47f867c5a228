//! Decoding market data frames: read `T` first, then decode the right type
//! straight from the rest of the map, with no intermediate `Value`.
//!
//! Three tiers, each taken only when the one before gives up:
//! 1. the hand-written [fast path](super::fast_market) for frames of quotes,
//!    trades, bars and control messages (read by
//!    [`JsonReader`](crate::wire::json_reader::JsonReader) or
//!    [`MsgPackReader`](crate::wire::msgpack_reader::MsgPackReader), and
//!    [`fast_control`](super::fast_control));
//! 2. serde over the whole frame in one pass;
//! 3. if anything in it fails (a bad message, `T` not first, a syntax
//!    error), the frame is decoded again message by message from raw slices,
//!    so one bad message costs only itself: it becomes [`Inbound::Malformed`]
//!    and its neighbours still decode.
//!
//! Every tier produces exactly what the last would: the fast path only
//! accepts what it decodes the same way, and leaves everything else to serde.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::client::fast_market;
use crate::client::market_message::MarketMessage;
use crate::model::cow_str::CowStr;
use crate::model::market::{
    Bar, CancelError, Correction, Imbalance, Luld, MarketData, News, Orderbook, Quote, Trade,
    TradingStatus, market_tags,
};
use crate::wire::frame::Wire;
use crate::wire::seed::Seed;
use crate::{Channel, Frame, SubscriptionSet, Symbol};
use tickwire_core::protocol::{DecodeError, Inbound, MESSAGES_PER_FRAME_MAX};

/// Decodes one frame into `out`; see the module docs. Each tier decodes at
/// most [`MESSAGES_PER_FRAME_MAX`] messages: the first two give up on a
/// frame with more, the third counts the rest as [`Inbound::Skipped`].
pub(crate) fn decode_market_frame(frame: &Frame, out: &mut Vec<Inbound<MarketData, Channel>>) {
    decode_market_frame_expecting(frame, None, out);
}

/// [`decode_market_frame`], with the set a subscription acknowledgement is
/// expected to list (see `Dialect::decode_expecting`).
pub(crate) fn decode_market_frame_expecting(
    frame: &Frame,
    expected: Option<&SubscriptionSet>,
    out: &mut Vec<Inbound<MarketData, Channel>>,
) {
    let Some((wire, bytes)) = Wire::detect(frame) else {
        return;
    };
    let start = out.len();
    if !fast_market::decode_frame_expecting(wire, bytes, expected, out) {
        out.truncate(start);
        decode_with_serde(wire, bytes, out);
    }
}

/// Tiers 2 and 3 of the module docs: serde, whole frame then message by message.
pub(crate) fn decode_with_serde(
    wire: Wire,
    bytes: &[u8],
    out: &mut Vec<Inbound<MarketData, Channel>>,
) {
    let start = out.len();
    let probe = Probe::default();
    if wire
        .decode_seed(bytes, Seed::any(FrameSeed { out, probe: &probe }))
        .is_ok()
    {
        return;
    }
    out.truncate(start);
    wire.decode_each(bytes, out, |element| match decode_message(wire, element) {
        Ok(message) => message.into_inbound(),
        Err(error) => Inbound::Malformed(error),
    });
}

/// Decodes one message's bytes, wherever its `T` is.
pub(crate) fn decode_message(wire: Wire, bytes: &[u8]) -> Result<MarketMessage, DecodeError> {
    let probe = Probe::default();
    let error = match wire.decode_seed(
        bytes,
        Seed::map(MessageSeed {
            tag: None,
            probe: &probe,
        }),
    ) {
        Ok(message) => return Ok(message),
        Err(detail) => DecodeError {
            what: probe.what.get(),
            detail,
        },
    };
    if !probe.tag_not_first.get() {
        return Err(error);
    }
    // Rare: `T` is not the first key. Find it, then decode the map again with
    // the tag known (the typed structs ignore the `T` entry).
    let tag = wire
        .decode_seed(bytes, Seed::map(TagScanSeed))
        .map_err(|detail| DecodeError {
            what: "message",
            detail,
        })?
        .ok_or(DecodeError {
            what: "message",
            detail: "no \"T\" field".to_owned(),
        })?;
    let probe = Probe::default();
    wire.decode_seed(
        bytes,
        Seed::map(MessageSeed {
            tag: Some(&tag),
            probe: &probe,
        }),
    )
    .map_err(|detail| DecodeError {
        what: probe.what.get(),
        detail,
    })
}

/// Side channel from inside serde visitors to the caller.
struct Probe {
    /// The message's first key was not `T`.
    tag_not_first: Cell<bool>,
    /// What was being decoded when it failed.
    what: Cell<&'static str>,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            tag_not_first: Cell::new(false),
            what: Cell::new("message"),
        }
    }
}

struct FrameSeed<'o, 'p> {
    out: &'o mut Vec<Inbound<MarketData, Channel>>,
    probe: &'p Probe,
}

impl<'de> Visitor<'de> for FrameSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let probe = self.probe;
        for _ in 0..MESSAGES_PER_FRAME_MAX {
            match seq.next_element_seed(Seed::map(MessageSeed { tag: None, probe }))? {
                Some(message) => self.out.push(message.into_inbound()),
                None => return Ok(()),
            }
        }
        match seq.next_element::<IgnoredAny>()? {
            // Past the cap: tier 3 counts the rest without decoding them.
            Some(_) => Err(de::Error::custom("more messages than the cap per frame")),
            None => Ok(()),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let probe = self.probe;
        let message = MessageSeed { tag: None, probe }.visit_map(map)?;
        self.out.push(message.into_inbound());
        Ok(())
    }
}

/// Decodes one message map. With `tag: None` the first key must be `T`.
struct MessageSeed<'t, 'p> {
    tag: Option<&'t str>,
    probe: &'p Probe,
}

impl<'de> Visitor<'de> for MessageSeed<'_, '_> {
    type Value = MarketMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object with a \"T\" field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MarketMessage, A::Error> {
        if let Some(tag) = self.tag {
            return dispatch(tag, map, self.probe);
        }
        match map.next_key::<CowStr<'de>>()? {
            Some(key) if key.0 == "T" => {
                let tag = map.next_value::<CowStr<'de>>()?;
                dispatch(&tag.0, map, self.probe)
            }
            Some(_) => {
                self.probe.tag_not_first.set(true);
                Err(de::Error::custom("\"T\" is not the first field"))
            }
            None => Err(de::Error::custom("empty message, no \"T\" field")),
        }
    }
}

fn typed<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
    T::deserialize(MapAccessDeserializer::new(map))
}

/// Returns the data message a tag of the [`market_tags!`] table stands for,
/// decoded as its type; other tags fall through.
macro_rules! decode_data {
    ($tag:ident, $map:ident, $probe:ident;
     $($(#[$doc:meta])* $variant:ident($ty:ident) = $t:literal, $what:literal;)+) => {
        match $tag {
            $($t => {
                $probe.what.set($what);
                let data = MarketData::$variant(typed::<$ty, _>($map)?);
                return Ok(MarketMessage::Data(data));
            })+
            _ => {}
        }
    };
}

/// Decodes the rest of a message whose tag is known.
fn dispatch<'de, A: MapAccess<'de>>(
    tag: &str,
    mut map: A,
    probe: &Probe,
) -> Result<MarketMessage, A::Error> {
    market_tags!(decode_data tag, map, probe;);
    let data = |what: &'static str| {
        probe.what.set(what);
    };
    Ok(match tag {
        "success" => {
            data("success message");
            MarketMessage::Success(typed::<SuccessBody, _>(map)?.msg)
        }
        "error" => {
            data("error message");
            let body = typed::<ErrorBody, _>(map)?;
            MarketMessage::Error {
                code: body.code,
                message: body.msg,
            }
        }
        "subscription" => {
            data("subscription message");
            let mut set = SubscriptionSet::new();
            while let Some(key) = map.next_key::<CowStr<'de>>()? {
                match Channel::from_wire_name(&key.0) {
                    Some(channel) => map.next_value_seed(Seed::any(SymbolsSeed {
                        channel,
                        set: &mut set,
                    }))?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            MarketMessage::Subscription(set)
        }
        other => {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            MarketMessage::Unknown(other.to_owned())
        }
    })
}

#[derive(Deserialize)]
struct SuccessBody {
    #[serde(default)]
    msg: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    msg: String,
}

/// Adds a channel's symbol list to a set (`null` counts as empty).
struct SymbolsSeed<'s> {
    channel: Channel,
    set: &'s mut SubscriptionSet,
}

impl<'de> Visitor<'de> for SymbolsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of symbols")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(symbol) = seq.next_element::<CowStr<'de>>()? {
            self.set
                .insert(self.channel, Symbol::from_server(&symbol.0));
        }
        Ok(())
    }
}

/// Finds the value of `T` anywhere in a message map.
struct TagScanSeed;

impl<'de> Visitor<'de> for TagScanSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tag = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            if key.0 == "T" && tag.is_none() {
                tag = Some(map.next_value::<CowStr<'de>>()?.0.into_owned());
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(tag)
    }
}

impl<'de> Deserialize<'de> for MarketData {
    /// Decodes a message whose first field is `T`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let probe = Probe::default();
        match Seed::map(MessageSeed {
            tag: None,
            probe: &probe,
        })
        .deserialize(deserializer)?
        {
            MarketMessage::Data(data) => Ok(data),
            _ => Err(de::Error::custom("not a market data message")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(frame: Frame) -> Vec<Inbound<MarketData, Channel>> {
        let mut out = Vec::new();
        decode_market_frame(&frame, &mut out);
        out
    }

    #[test]
    fn tag_anywhere_in_the_message() {
        let out = decode(Frame::text(
            r#"[{"S":"AAPL","bp":1,"bs":2,"ap":3,"as":4,"t":"2024-01-02T15:04:05Z","T":"q"}]"#,
        ));
        assert!(
            matches!(&out[..], [Inbound::Data(MarketData::Quote(q))] if q.ask_size == 4.0),
            "{out:?}"
        );
    }

    #[test]
    fn one_bad_message_costs_only_itself() {
        let out = decode(Frame::text(
            r#"[{"T":"q","S":"A","bp":"oops"},{"T":"b","S":"B","o":1,"h":2,"l":0.5,"c":1.5,"v":10,"t":"2024-01-02T15:04:00Z"},{"T":"zz","a":[1]},{"x":1}]"#,
        ));
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(matches!(
            &out[0],
            Inbound::Malformed(DecodeError { what: "quote", .. })
        ));
        assert!(matches!(&out[1], Inbound::Data(MarketData::Bar(b)) if b.symbol.as_str() == "B"));
        assert_eq!(out[2], Inbound::Unknown { tag: "zz".into() });
        assert!(matches!(&out[3], Inbound::Malformed(_)));
    }

    #[test]
    fn the_fast_path_takes_well_formed_frames() {
        let quote = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;
        let frame = format!("[{quote},{quote}]");
        let mut out = Vec::new();
        let probe = Probe::default();
        let fast = Wire::Json.decode_seed(
            frame.as_bytes(),
            Seed::any(FrameSeed {
                out: &mut out,
                probe: &probe,
            }),
        );
        assert_eq!(fast, Ok(()));
        assert_eq!(out.len(), 2);
        let Inbound::Data(data) = &out[0] else {
            panic!("{out:?}")
        };
        let msgpack = rmp_serde::to_vec_named(&[data, data]).unwrap();
        out.clear();
        let fast = Wire::MsgPack.decode_seed(
            &msgpack,
            Seed::any(FrameSeed {
                out: &mut out,
                probe: &probe,
            }),
        );
        assert_eq!(fast, Ok(()));
        assert_eq!(out.len(), 2);
    }

    /// A MessagePack array of `n` one-byte `nil`s: `n` messages, none valid.
    fn nils(n: usize) -> Frame {
        let mut bytes = vec![0xdd];
        bytes.extend_from_slice(&(n as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(0xc0, n));
        Frame::binary(bytes)
    }

    fn count(out: &[Inbound<MarketData, Channel>]) -> (usize, usize, Option<u64>) {
        let malformed = out
            .iter()
            .filter(|m| matches!(m, Inbound::Malformed(_)))
            .count();
        let data = out.iter().filter(|m| matches!(m, Inbound::Data(_))).count();
        let skipped = out.iter().find_map(|m| match m {
            Inbound::Skipped { messages } => Some(*messages),
            _ => None,
        });
        (data, malformed, skipped)
    }

    #[test]
    fn messages_up_to_the_cap_are_decoded_and_the_rest_counted() {
        let max = MESSAGES_PER_FRAME_MAX;
        assert_eq!(count(&decode(nils(10_000))), (0, 10_000, None));
        assert_eq!(count(&decode(nils(max))), (0, max, None));
        let out = decode(nils(max + 5));
        assert_eq!(out.len(), max + 1);
        assert_eq!(count(&out), (0, max, Some(5)));
        assert_eq!(out.last(), Some(&Inbound::Skipped { messages: 5 }));
    }

    #[test]
    fn well_formed_frames_past_the_cap_are_cut_at_it() {
        let quote = r#"{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}"#;
        let frame = |n: usize| Frame::text(format!("[{}]", vec![quote; n].join(",")));
        let max = MESSAGES_PER_FRAME_MAX;
        assert_eq!(count(&decode(frame(max))), (max, 0, None));
        assert_eq!(count(&decode(frame(max + 2))), (max, 0, Some(2)));
    }

    #[test]
    fn a_broken_frame_past_the_cap_counts_its_error_within_the_cap() {
        let max = MESSAGES_PER_FRAME_MAX;
        // No closing bracket: a structural error after max + 2 elements.
        let text = format!("[{}", vec!["1"; max + 2].join(","));
        let out = decode(Frame::text(text));
        assert_eq!(out.len(), max + 1);
        assert_eq!(count(&out), (0, max, Some(3)));
        assert!(matches!(
            &out[max - 1],
            Inbound::Malformed(DecodeError { what: "frame", .. })
        ));
    }

    #[test]
    fn not_a_frame_is_one_malformed() {
        assert!(matches!(
            &decode(Frame::text("42"))[..],
            [Inbound::Malformed(_)]
        ));
        assert!(matches!(
            &decode(Frame::binary(vec![0xc1]))[..],
            [Inbound::Malformed(_)]
        ));
        assert!(decode(Frame::Ping(Default::default())).is_empty());
    }
}
