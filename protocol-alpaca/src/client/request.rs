//! Client requests: authentication, market data (un)subscriptions split to a
//! frame size, and the trading stream's `listen`.

use serde::Serialize;

use crate::Encoding;
use crate::wire::write::{json_symbol, msgpack_symbol};
use crate::{Channel, Credentials, Frame, Symbol};
use tickwire_core::protocol::{EncodeError, EncodedRequest, SubscriptionOp, SubscriptionRequest};

/// How a trading stream client authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthForm {
    /// `{"action":"auth","key":…,"secret":…}` (current).
    #[default]
    Current,
    /// `{"action":"authenticate","data":{"key_id":…,"secret_key":…}}`, as alpaca-py sends.
    Legacy,
}

/// Room reserved up front for an encoded frame: most frames fit, so the
/// buffer is not grown and copied several times on the way.
const FRAME_BYTES_RESERVED: usize = 1024;

impl Encoding {
    /// JSON in a text frame, or MessagePack (maps with field names) in a binary frame.
    pub(crate) fn frame<T: Serialize + ?Sized>(self, value: &T) -> Frame {
        let mut out = Vec::with_capacity(FRAME_BYTES_RESERVED);
        // Our request and server types serialize infallibly to memory
        // (string keys only); a failure here is a bug in this module.
        match self {
            Self::Json => {
                serde_json::to_writer(&mut out, value)
                    .expect("request types always serialize to JSON");
                Frame::Text(out.into())
            }
            Self::MsgPack => {
                rmp_serde::encode::write_named(&mut out, value)
                    .expect("request types always serialize to MessagePack");
                Frame::Binary(out.into())
            }
        }
    }
}

#[derive(Serialize)]
struct Auth<'a> {
    action: &'static str,
    key: &'a str,
    secret: &'a str,
}

#[derive(Serialize)]
struct LegacyAuth<'a> {
    action: &'static str,
    data: LegacyAuthData<'a>,
}

#[derive(Serialize)]
struct LegacyAuthData<'a> {
    key_id: &'a str,
    secret_key: &'a str,
}

/// The authentication message in the given form.
pub(crate) fn encode_auth(encoding: Encoding, form: AuthForm, credentials: &Credentials) -> Frame {
    match form {
        AuthForm::Current => encoding.frame(&Auth {
            action: "auth",
            key: credentials.key_id(),
            secret: credentials.secret(),
        }),
        AuthForm::Legacy => encoding.frame(&LegacyAuth {
            action: "authenticate",
            data: LegacyAuthData {
                key_id: credentials.key_id(),
                secret_key: credentials.secret(),
            },
        }),
    }
}

const fn action_name(op: SubscriptionOp) -> &'static str {
    match op {
        SubscriptionOp::Subscribe => "subscribe",
        SubscriptionOp::Unsubscribe => "unsubscribe",
    }
}

/// Whether a client puts this channel in a market data request (the
/// server-managed ones and `trade_updates` are consumed without being sent).
const fn is_requestable(channel: Channel) -> bool {
    !channel.is_server_managed() && !matches!(channel, Channel::TradeUpdates)
}

/// Which request a subscription change is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestForm {
    /// Market data: `subscribe` / `unsubscribe` with channels and symbols.
    Market,
    /// The trading stream: `listen` with stream names.
    Listen,
}

/// `request` in `form`: [`EncodeError::Empty`] when it has no items.
pub(crate) fn encode_subscription(
    form: RequestForm,
    encoding: Encoding,
    request: SubscriptionRequest<'_, Channel>,
    frame_bytes_max: usize,
) -> Result<EncodedRequest, EncodeError> {
    if request.items.is_empty() {
        return Err(EncodeError::Empty);
    }
    match form {
        RequestForm::Market => encode_market_subscription(encoding, request, frame_bytes_max),
        RequestForm::Listen => encode_listen(encoding, request, frame_bytes_max),
    }
}

/// `{"action":"subscribe","trades":[…],…}` carrying the longest prefix of the
/// request's items that fits in `frame_bytes_max`.
fn encode_market_subscription(
    encoding: Encoding,
    request: SubscriptionRequest<'_, Channel>,
    frame_bytes_max: usize,
) -> Result<EncodedRequest, EncodeError> {
    let action = action_name(request.op);
    match encoding {
        Encoding::Json => encode_json_subscription(action, request, frame_bytes_max),
        Encoding::MsgPack => encode_msgpack_subscription(action, request, frame_bytes_max),
    }
}

fn encode_json_subscription(
    action: &str,
    request: SubscriptionRequest<'_, Channel>,
    frame_bytes_max: usize,
) -> Result<EncodedRequest, EncodeError> {
    let mut out = Vec::with_capacity(frame_bytes_max.min(64 * 1024));
    out.extend_from_slice(b"{\"action\":\"");
    out.extend_from_slice(action.as_bytes());
    out.push(b'"');
    let mut open: Option<Channel> = None;
    let mut included = 0;
    let mut sent = 0;
    for (channel, symbol) in request.items {
        if !is_requestable(*channel) {
            included += 1;
            continue;
        }
        let mark = out.len();
        if open == Some(*channel) {
            out.push(b',');
        } else {
            if open.is_some() {
                out.push(b']');
            }
            out.extend_from_slice(b",\"");
            out.extend_from_slice(channel.wire_name().as_bytes());
            out.extend_from_slice(b"\":[");
        }
        json_symbol(&mut out, symbol);
        // Closing the frame now would add `]}`.
        if out.len() + 2 > frame_bytes_max {
            if sent == 0 {
                return Err(EncodeError::FrameTooSmall {
                    needed_bytes: out.len() + 2,
                    frame_bytes_max,
                });
            }
            out.truncate(mark);
            break;
        }
        open = Some(*channel);
        included += 1;
        sent += 1;
    }
    if open.is_some() {
        out.push(b']');
    }
    out.push(b'}');
    Ok(EncodedRequest {
        frame: Frame::Text(out.into()),
        items_included: included,
    })
}

const fn msgpack_str_len(len: usize) -> usize {
    len + if len < 32 {
        1
    } else if len < 256 {
        2
    } else if len < 65_536 {
        3
    } else {
        5
    }
}

const fn msgpack_container_header_len(count: usize) -> usize {
    if count < 16 {
        1
    } else if count < 65_536 {
        3
    } else {
        5
    }
}

fn encode_msgpack_subscription(
    action: &str,
    request: SubscriptionRequest<'_, Channel>,
    frame_bytes_max: usize,
) -> Result<EncodedRequest, EncodeError> {
    // Pass 1: find the longest prefix that fits, tracking the exact size.
    let fixed = msgpack_str_len("action".len()) + msgpack_str_len(action.len());
    let mut body = 0usize; // channel names, array headers and symbols
    let mut channels = 0usize;
    let mut open: Option<Channel> = None;
    let mut in_channel = 0usize;
    let mut included = 0usize;
    let mut sent = 0usize;
    for (channel, symbol) in request.items {
        if !is_requestable(*channel) {
            included += 1;
            continue;
        }
        let (next_body, next_channels, next_in_channel) = if open == Some(*channel) {
            (
                body + msgpack_container_header_len(in_channel + 1)
                    - msgpack_container_header_len(in_channel)
                    + msgpack_str_len(symbol.as_bytes().len()),
                channels,
                in_channel + 1,
            )
        } else {
            (
                body + msgpack_str_len(channel.wire_name().len())
                    + msgpack_container_header_len(1)
                    + msgpack_str_len(symbol.as_bytes().len()),
                channels + 1,
                1,
            )
        };
        let total = msgpack_container_header_len(1 + next_channels) + fixed + next_body;
        if total > frame_bytes_max {
            if sent == 0 {
                return Err(EncodeError::FrameTooSmall {
                    needed_bytes: total,
                    frame_bytes_max,
                });
            }
            break;
        }
        (body, channels, in_channel) = (next_body, next_channels, next_in_channel);
        open = Some(*channel);
        included += 1;
        sent += 1;
    }
    // Pass 2: write it.
    let items = &request.items[..included];
    let mut out = Vec::with_capacity(msgpack_container_header_len(1 + channels) + fixed + body);
    write_msgpack_request(&mut out, action, channels, items);
    debug_assert_eq!(
        out.len(),
        msgpack_container_header_len(1 + channels) + fixed + body
    );
    Ok(EncodedRequest {
        frame: Frame::Binary(out.into()),
        items_included: included,
    })
}

fn write_msgpack_request(
    out: &mut Vec<u8>,
    action: &str,
    channels: usize,
    items: &[(Channel, Symbol)],
) {
    use rmp::encode::{write_array_len, write_map_len, write_str};
    let sendable: Vec<&(Channel, Symbol)> =
        items.iter().filter(|(c, _)| is_requestable(*c)).collect();
    // Writes to a Vec cannot fail; counts fit u32 because they are bounded by
    // the frame size.
    let result: Result<(), rmp::encode::ValueWriteError> = (|| {
        write_map_len(out, (1 + channels) as u32)?;
        write_str(out, "action")?;
        write_str(out, action)?;
        for run in sendable.chunk_by(|a, b| a.0 == b.0) {
            write_str(out, run[0].0.wire_name())?;
            write_array_len(out, run.len() as u32)?;
            for (_, symbol) in run {
                msgpack_symbol(out, symbol);
            }
        }
        Ok(())
    })();
    result.expect("writing MessagePack to memory");
}

#[derive(Serialize)]
struct Listen<'a> {
    action: &'static str,
    data: ListenData<'a>,
}

#[derive(Serialize)]
struct ListenData<'a> {
    streams: Vec<&'a str>,
}

/// `{"action":"listen","data":{"streams":[…]}}` naming every stream of the target set.
fn encode_listen(
    encoding: Encoding,
    request: SubscriptionRequest<'_, Channel>,
    frame_bytes_max: usize,
) -> Result<EncodedRequest, EncodeError> {
    let streams = request
        .target
        .channels()
        .filter(|c| *c == Channel::TradeUpdates)
        .map(Channel::wire_name)
        .collect();
    let frame = encoding.frame(&Listen {
        action: "listen",
        data: ListenData { streams },
    });
    if frame.len() > frame_bytes_max {
        return Err(EncodeError::FrameTooSmall {
            needed_bytes: frame.len(),
            frame_bytes_max,
        });
    }
    Ok(EncodedRequest {
        frame,
        items_included: request.items.len(),
    })
}
