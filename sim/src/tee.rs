//! A dialect wrapper that shows the checks what the machine decoded, so a
//! frame is decoded once, not a second time for the checks.
//!
//! Decoding is deterministic, so the messages the wrapper records are the
//! ones a second decode of the same frame would give; the checks keep what
//! they need of each (data in full, control messages by kind).

use std::cell::RefCell;

use tickwire_alpaca::Channel;
use tickwire_core::protocol::{Dialect, EncodeError, EncodedRequest, Inbound, SubscriptionRequest};
use tickwire_core::{Credentials, Frame, SubscriptionSet, Timestamp};

use super::checks::Heard;

/// What the checks keep of one decoded message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen<T> {
    /// Application data, in full (rule 11 compares it with what was delivered).
    Data(T),
    /// Any other message, by kind.
    Control(Heard),
}

impl<T: Clone> Seen<T> {
    fn of(message: &Inbound<T, Channel>) -> Self {
        Self::Control(match message {
            Inbound::Data(data) => return Self::Data(data.clone()),
            Inbound::Greeting => Heard::Greeting,
            Inbound::Authenticated => Heard::Authenticated,
            Inbound::AuthRejected { .. } => Heard::AuthRejected,
            Inbound::SubscriptionAck(_) => Heard::Ack,
            Inbound::Error(error) => Heard::Error(error.verdict),
            Inbound::Malformed(_) => Heard::Malformed,
            _ => Heard::Other,
        })
    }
}

/// `D`, recording what each of its decodes produced.
#[derive(Debug)]
pub(crate) struct Teed<D: Dialect<Channel = Channel>> {
    inner: D,
    seen: RefCell<Vec<Seen<D::Data>>>,
}

impl<D: Dialect<Channel = Channel>> Teed<D> {
    pub(crate) fn new(inner: D) -> Self {
        Self {
            inner,
            seen: RefCell::new(Vec::new()),
        }
    }

    /// Moves what was decoded since the last call into `out` (cleared first).
    pub(crate) fn take_seen(&self, out: &mut Vec<Seen<D::Data>>) {
        out.clear();
        std::mem::swap(&mut *self.seen.borrow_mut(), out);
    }
}

impl<D: Dialect<Channel = Channel>> Dialect for Teed<D> {
    type Data = D::Data;
    type Channel = D::Channel;

    fn account_subscriptions(&self) -> SubscriptionSet<Self::Channel> {
        self.inner.account_subscriptions()
    }

    fn expects_greeting(&self) -> bool {
        self.inner.expects_greeting()
    }

    fn connect_headers(&self) -> Vec<(String, String)> {
        self.inner.connect_headers()
    }

    fn decode(&self, frame: &Frame, out: &mut Vec<Inbound<Self::Data, Self::Channel>>) {
        let start = out.len();
        self.inner.decode(frame, out);
        self.seen
            .borrow_mut()
            .extend(out[start..].iter().map(Seen::of));
    }

    fn data_timestamp(&self, data: &Self::Data) -> Option<Timestamp> {
        self.inner.data_timestamp(data)
    }

    fn encode_auth(&self, credentials: &Credentials) -> Frame {
        self.inner.encode_auth(credentials)
    }

    fn encode_subscription(
        &self,
        request: SubscriptionRequest<'_, Self::Channel>,
        frame_bytes_max: usize,
    ) -> Result<EncodedRequest, EncodeError> {
        self.inner.encode_subscription(request, frame_bytes_max)
    }
}

#[cfg(test)]
mod tests {
    use tickwire_alpaca::{AlpacaMarketData, Encoding};
    use tickwire_core::protocol::Verdict;

    use super::*;

    #[test]
    fn records_each_decode_once_and_hands_it_over() {
        let teed = Teed::new(AlpacaMarketData::new(Encoding::Json));
        let frame = Frame::text(
            r#"[{"T":"success","msg":"connected"},{"T":"q","S":"AAPL","bx":"V","bp":1.5,"bs":1,"ax":"V","ap":1.6,"as":2,"c":["R"],"z":"C","t":"2024-01-02T03:04:05.000000006Z"},{"T":"error","code":405,"msg":"symbol limit exceeded"}]"#,
        );
        let mut out = Vec::new();
        teed.decode(&frame, &mut out);
        let mut seen = Vec::new();
        teed.take_seen(&mut seen);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], Seen::Control(Heard::Greeting));
        assert!(
            matches!(&seen[1], Seen::Data(data) if Some(data) == match &out[1] {
                Inbound::Data(d) => Some(d),
                _ => None,
            })
        );
        assert_eq!(seen[2], Seen::Control(Heard::Error(Verdict::RejectRequest)));
        teed.take_seen(&mut seen);
        assert!(seen.is_empty(), "a decode is handed over once");
    }
}
