//! [`MarketMessage`]: one market data stream message as both decoding paths
//! read it, and what it means to the machine.

use crate::model::market::MarketData;
use crate::model::verdicts::verdict_for_code;
use crate::{Channel, SubscriptionSet};
use tickwire_core::protocol::{Inbound, ServerError, Verdict};

/// One decoded market data stream message, before the machine's view of it.
#[derive(Debug)]
// `Data` is the hot variant: boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum MarketMessage {
    Data(MarketData),
    Success(String),
    Error { code: Option<u16>, message: String },
    Subscription(SubscriptionSet),
    Unknown(String),
}

impl MarketMessage {
    pub(crate) fn into_inbound(self) -> Inbound<MarketData, Channel> {
        match self {
            Self::Data(data) => Inbound::Data(data),
            Self::Success(msg) if msg == "connected" => Inbound::Greeting,
            Self::Success(msg) if msg == "authenticated" => Inbound::Authenticated,
            Self::Success(_) => Inbound::Unknown {
                tag: "success".to_owned(),
            },
            Self::Error { code, message } => Inbound::Error(ServerError {
                code,
                message,
                verdict: code.map_or(Verdict::Reconnect, verdict_for_code),
            }),
            Self::Subscription(set) => Inbound::SubscriptionAck(set),
            Self::Unknown(tag) => Inbound::Unknown { tag },
        }
    }
}
