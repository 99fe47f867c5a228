//! [`AlpacaMarketData`]: the market data stream as a [`Dialect`].

use crate::client::market_decode::{decode_market_frame, decode_market_frame_expecting};
use crate::client::request::{AuthForm, RequestForm, encode_auth, encode_subscription};
use crate::model::market::MarketData;
use crate::{Channel, SubscriptionSet};
use crate::{Credentials, Frame, Timestamp};
use crate::{Encoding, USER_AGENT};
use tickwire_core::protocol::{Dialect, EncodeError, EncodedRequest, Inbound, SubscriptionRequest};

/// Alpaca's market data stream v2 (stocks, crypto, options, news).
///
/// Decoding accepts JSON (text or binary frames) and MessagePack whatever the
/// configured [`Encoding`], which only chooses what the client sends and the
/// `Content-Type` header asking the server for the same.
///
/// ```
/// use tickwire_core::Frame;
/// use tickwire_core::protocol::{Dialect, Inbound};
/// use tickwire_alpaca::{AlpacaMarketData, Encoding, MarketData};
///
/// let dialect = AlpacaMarketData::new(Encoding::Json);
/// let frame = Frame::text(
///     r#"[{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#,
/// );
/// let mut out = Vec::new();
/// dialect.decode(&frame, &mut out);
/// let [Inbound::Data(MarketData::Quote(quote))] = &out[..] else { panic!("{out:?}") };
/// assert_eq!(quote.symbol.as_str(), "AAPL");
/// assert_eq!(quote.ask_price, 189.12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlpacaMarketData {
    encoding: Encoding,
}

impl AlpacaMarketData {
    /// A market data dialect sending (and asking for) `encoding`.
    pub const fn new(encoding: Encoding) -> Self {
        Self { encoding }
    }

    /// The encoding requests are sent in.
    pub const fn encoding(&self) -> Encoding {
        self.encoding
    }
}

impl Default for AlpacaMarketData {
    /// MessagePack, as alpaca-py uses (options feeds require it).
    fn default() -> Self {
        Self::new(Encoding::MsgPack)
    }
}

impl Dialect for AlpacaMarketData {
    type Data = MarketData;
    type Channel = Channel;

    fn expects_greeting(&self) -> bool {
        true
    }

    fn connect_headers(&self) -> Vec<(String, String)> {
        self.encoding.connect_headers()
    }

    fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<MarketData, Channel>>) {
        decode_market_frame(frame, out);
    }

    fn decode_expecting(
        &self,
        frame: &Frame,
        expected: Option<&SubscriptionSet>,
        out: &mut Vec<Inbound<MarketData, Channel>>,
    ) {
        decode_market_frame_expecting(frame, expected, out);
    }

    /// The message's `t` (`updated_at` for news).
    fn data_timestamp(&self, data: &MarketData) -> Option<Timestamp> {
        Some(data.timestamp())
    }

    fn encode_auth(&self, credentials: &Credentials) -> Frame {
        encode_auth(self.encoding, AuthForm::Current, credentials)
    }

    fn encode_subscription(
        &self,
        request: SubscriptionRequest<'_, Channel>,
        frame_bytes_max: usize,
    ) -> Result<EncodedRequest, EncodeError> {
        encode_subscription(RequestForm::Market, self.encoding, request, frame_bytes_max)
    }
}

impl Encoding {
    /// Upgrade headers: the user agent, and the content type for MessagePack.
    pub(crate) fn connect_headers(self) -> Vec<(String, String)> {
        let mut headers = vec![("User-Agent".to_owned(), USER_AGENT.to_owned())];
        if self == Self::MsgPack {
            headers.push(("Content-Type".to_owned(), "application/msgpack".to_owned()));
        }
        headers
    }
}
