//! The model's only contact with the wire format: tickwire-alpaca's server-side
//! Alpaca codec ([`decode_client_message`], [`encode_market_frame`],
//! [`encode_trading_frame`]), wrapped in the few calls the model makes.
//!
//! [`decode_client_message`]: tickwire_alpaca::decode_client_message

use tickwire_alpaca::SubscriptionSet;
use tickwire_alpaca::{
    ClientMessage, Encoding, MarketData, ServerMessage, TradeUpdate, TradingServerMessage,
    encode_market_frame, encode_trading_frame,
};
use tickwire_core::Frame;
use tickwire_core::protocol::DecodeError;

/// The message Alpaca sends with an error code.
pub(crate) fn error_message(code: u16) -> &'static str {
    match code {
        400 => "invalid syntax",
        401 => "not authenticated",
        402 => "auth failed",
        403 => "already authenticated",
        404 => "auth timeout",
        405 => "symbol limit exceeded",
        406 => "connection limit exceeded",
        407 => "slow client",
        409 => "insufficient subscription",
        410 => "invalid subscribe action for this feed",
        411 => "insufficient scope",
        412 => "option messages are only available in MsgPack format",
        413 => "star subscription is not allowed for option quotes",
        _ => "internal error",
    }
}

/// A client frame that is not a request the exchange understands (→ 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecodable;

/// A request from a client, on either stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientRequest {
    /// Either auth form.
    Auth {
        key_id: String,
        secret: String,
    },
    Subscribe(SubscriptionSet),
    Unsubscribe(SubscriptionSet),
    /// The complete list of streams wanted.
    Listen(Vec<String>),
}

/// A market data control message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Control {
    Connected,
    Authenticated,
    Error { code: u16 },
}

impl Control {
    pub(crate) fn error(code: u16) -> Self {
        Self::Error { code }
    }
}

/// The request a decoded client frame makes (JSON or MessagePack: see
/// [`decode_client_message`](tickwire_alpaca::decode_client_message)).
pub(crate) fn client_request(
    message: Result<ClientMessage, DecodeError>,
) -> Result<ClientRequest, Undecodable> {
    match message {
        Ok(ClientMessage::Auth { credentials }) => Ok(ClientRequest::Auth {
            key_id: credentials.key_id().to_owned(),
            secret: credentials.secret().to_owned(),
        }),
        Ok(ClientMessage::Subscribe(set)) => Ok(ClientRequest::Subscribe(set)),
        Ok(ClientMessage::Unsubscribe(set)) => Ok(ClientRequest::Unsubscribe(set)),
        Ok(ClientMessage::Listen(streams)) => Ok(ClientRequest::Listen(streams)),
        Ok(other) => {
            tracing::debug!(?other, "unsupported client message");
            Err(Undecodable)
        }
        Err(error) => {
            tracing::debug!(%error, "undecodable client frame");
            Err(Undecodable)
        }
    }
}

/// Encodes a market data control message as a frame of its own.
pub(crate) fn encode_control(encoding: Encoding, control: &Control) -> Frame {
    let message = match control {
        Control::Connected => ServerMessage::Connected,
        Control::Authenticated => ServerMessage::Authenticated,
        Control::Error { code } => ServerMessage::Error {
            code: *code,
            message: error_message(*code).to_owned(),
        },
    };
    encode_market_frame(encoding, &[message])
}

/// Encodes the ack of a session's whole set; with `trade_followers`,
/// `corrections` and `cancelErrors` follow `trades`.
pub(crate) fn subscription_ack(
    encoding: Encoding,
    set: &SubscriptionSet,
    trade_followers: bool,
) -> Frame {
    ServerMessage::subscription_frame(encoding, set, trade_followers)
}

/// Encodes a batch of market data messages as one frame.
pub(crate) fn encode_data(encoding: Encoding, messages: &[&MarketData]) -> Frame {
    ServerMessage::data_frame(encoding, messages)
}

pub(crate) fn trading_authorization(encoding: Encoding, authorized: bool) -> Frame {
    let message = if authorized {
        TradingServerMessage::Authorized
    } else {
        TradingServerMessage::Unauthorized { message: None }
    };
    encode_trading_frame(encoding, &message)
}

pub(crate) fn trading_listening(encoding: Encoding, streams: &[String]) -> Frame {
    encode_trading_frame(encoding, &TradingServerMessage::Listening(streams.to_vec()))
}

pub(crate) fn trading_error(encoding: Encoding, message: &str) -> Frame {
    encode_trading_frame(
        encoding,
        &TradingServerMessage::Error {
            message: message.to_owned(),
        },
    )
}

pub(crate) fn trading_update(encoding: Encoding, update: &TradeUpdate) -> Frame {
    TradingServerMessage::trade_update_frame(encoding, update)
}
