//! The boundary between the machine and a vendor's wire protocol.
//!
//! The machine speaks in [`Inbound`] messages and subscription requests; a
//! [`Dialect`] turns frames into the former and the latter into frames. Each
//! vendor's protocol is a crate of its own implementing [`Dialect`] (and
//! [`ChannelKind`] for its channels), with no change to
//! the machine.

mod verdict;

use std::fmt;

pub use verdict::{ServerError, Verdict};

use crate::{ChannelKind, Credentials, Frame, SubscriptionSet, Symbol, Timestamp};

/// A message from the server, as the machine needs to see it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Inbound<D, C> {
    /// The server's greeting after the upgrade (`connected`).
    Greeting,
    /// Authentication succeeded.
    Authenticated,
    /// Authentication was refused (without an error code of its own).
    AuthRejected {
        /// The server's explanation, if any.
        message: String,
    },
    /// An error reported by the server, with the dialect's verdict on it.
    Error(ServerError),
    /// The server's complete current subscription set.
    SubscriptionAck(SubscriptionSet<C>),
    /// Application data (quotes, trades, order updates…).
    Data(D),
    /// A message of a type this dialect does not know; passed through.
    Unknown {
        /// The message's type tag, as sent.
        tag: String,
    },
    /// One message (or the whole frame) could not be decoded.
    Malformed(DecodeError),
    /// Messages of the frame past [`MESSAGES_PER_FRAME_MAX`], walked over
    /// but not decoded.
    Skipped {
        /// How many.
        messages: u64,
    },
}

/// The most messages a [`Dialect`] decodes from one frame; the rest are
/// only counted ([`Inbound::Skipped`]).
///
/// It bounds the memory and work one frame can cost, whatever its size:
/// every decoded message becomes an event, and an event (~250 bytes for a
/// quote) can be far larger than the bytes it came from (one byte for a
/// MessagePack `nil`). No real server comes near it: market-data servers
/// batch a few hundred messages per frame at most.
pub const MESSAGES_PER_FRAME_MAX: usize = 16_384;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not decode {what}: {detail}")]
pub struct DecodeError {
    /// What was being decoded, e.g. `"frame"` or `"quote"`.
    pub what: &'static str,
    /// What was wrong, from the parser.
    pub detail: String,
}

/// Why a request could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A single item does not fit in a frame of the configured size.
    #[error(
        "a subscription request for one symbol needs {needed_bytes} bytes but frames are limited to {frame_bytes_max}; raise the frame size"
    )]
    FrameTooSmall {
        /// Bytes one item needs.
        needed_bytes: usize,
        /// The configured limit.
        frame_bytes_max: usize,
    },
    /// The request has nothing in it.
    #[error("empty subscription request")]
    Empty,
}

/// Direction of a subscription request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionOp {
    /// Add the items to the server's set.
    Subscribe,
    /// Remove the items from the server's set.
    Unsubscribe,
}

/// A subscription change for a dialect to encode.
#[derive(Debug)]
pub struct SubscriptionRequest<'a, C> {
    /// Add or remove.
    pub op: SubscriptionOp,
    /// The pairs to add or remove, ordered by channel then symbol.
    pub items: &'a [(C, Symbol)],
    /// The complete set the stream wants once this change is applied, for
    /// dialects whose requests name the whole set (an account stream's
    /// `listen`, say).
    pub target: &'a SubscriptionSet<C>,
}

impl<C> Clone for SubscriptionRequest<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for SubscriptionRequest<'_, C> {}

/// An encoded subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRequest {
    /// The frame to send.
    pub frame: Frame,
    /// How many of the request's items (a prefix) the frame carries; the rest
    /// did not fit under the frame size and go in a later request.
    pub items_included: usize,
}

/// A vendor's wire protocol for one kind of stream.
pub trait Dialect: fmt::Debug + Send + 'static {
    /// The data messages delivered to the application.
    type Data: fmt::Debug + Clone + Send + 'static;

    /// The channels this protocol subscribes to.
    type Channel: ChannelKind;

    /// What an account stream holds from the start, without any command:
    /// the account itself is the subscription. Symbol streams start empty
    /// and never call this; the default is an empty set.
    fn account_subscriptions(&self) -> SubscriptionSet<Self::Channel> {
        SubscriptionSet::new()
    }

    /// Whether the server greets the client before authentication.
    fn expects_greeting(&self) -> bool;

    /// Headers for the upgrade request (content type, user agent). Never credentials.
    fn connect_headers(&self) -> Vec<(String, String)>;

    /// Decodes one frame, appending its messages to `out` in order.
    ///
    /// Never fails as a whole and never panics: undecodable messages become
    /// [`Inbound::Malformed`] and the rest of the frame is still decoded.
    /// Appends at most [`MESSAGES_PER_FRAME_MAX`] messages; those past it
    /// are counted in one [`Inbound::Skipped`] at the end, so the work and
    /// memory a frame costs stay bounded by its size.
    fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<Self::Data, Self::Channel>>);

    /// [`Self::decode`], told the set a subscription acknowledgement in
    /// this frame is expected to list (the set once the request in flight
    /// takes effect; its server-managed channels left out).
    ///
    /// A dialect whose acknowledgements list the whole set may check an
    /// acknowledgement against `expected` as it reads it and, when they
    /// agree, hand over a clone of `expected` (which shares its pairs)
    /// instead of building a set of its own: a large set split into many
    /// requests then costs each acknowledgement a read, not a new set. The
    /// messages appended must be those [`Self::decode`] would append. By
    /// default, [`Self::decode`].
    fn decode_expecting(
        &self,
        frame: &Frame,
        expected: Option<&SubscriptionSet<Self::Channel>>,
        out: &mut Vec<Inbound<Self::Data, Self::Channel>>,
    ) {
        let _ = expected;
        self.decode(frame, out);
    }

    /// The time a data message carries of its own (when the server made
    /// it), if any: the gap events report the last one, so an application
    /// can ask for exactly what followed it. The default knows none.
    fn data_timestamp(&self, data: &Self::Data) -> Option<Timestamp> {
        let _ = data;
        None
    }

    /// The authentication message.
    fn encode_auth(&self, credentials: &Credentials) -> Frame;

    /// Encodes as long a prefix of the request as fits in `frame_bytes_max`.
    fn encode_subscription(
        &self,
        request: SubscriptionRequest<'_, Self::Channel>,
        frame_bytes_max: usize,
    ) -> Result<EncodedRequest, EncodeError>;
}
