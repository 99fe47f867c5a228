//! The tail of an account's subject in the trade-update stream: where a
//! relay that starts leading picks up from.

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use tickwire_alpaca::TradeUpdate;
use tickwire_core::Timestamp;

/// Messages of the stream's tail whose ids are seeded at start.
const TAIL_SEEDED_MAX: u64 = 256;

/// What the stream's tail says.
pub(crate) struct Tail {
    /// The time of the last update published on the subject.
    pub(crate) last_update_at: Option<Timestamp>,
    /// The message ids of the last messages on the subject.
    pub(crate) ids: Vec<String>,
}

/// Reads the messages of the stream's last [`TAIL_SEEDED_MAX`] sequences
/// on `subject`: their ids, and the time of the newest well-formed update
/// among them (a malformed or foreign message is passed over, saying so).
/// One ordered consumer filtered on the subject delivers them, so reading
/// costs a few round trips to NATS, not one per message.
pub(crate) async fn read_tail(stream: &stream::Stream, subject: &str) -> Result<Tail, String> {
    use jetstream::stream::LastRawMessageErrorKind as Kind;
    let last = match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => message.sequence,
        Err(e) if e.kind() == Kind::NoMessageFound => {
            return Ok(Tail {
                last_update_at: None,
                ids: Vec::new(),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let first = last.saturating_sub(TAIL_SEEDED_MAX - 1).max(1);
    let mut messages = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: subject.to_owned(),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: first,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    let mut last_update_at = None;
    loop {
        let message = match messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("the tail's consumer ended before the last message".to_owned()),
        };
        let sequence = message.info().map_err(|e| e.to_string())?.stream_sequence;
        if let Some(id) = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(async_nats::header::NATS_MESSAGE_ID))
        {
            ids.push(id.to_string());
        }
        match serde_json::from_slice::<TradeUpdate>(&message.payload) {
            Ok(update) => {
                last_update_at = Some(update.timestamp.unwrap_or(update.order.updated_at));
            }
            Err(error) => tracing::warn!(
                %error,
                sequence,
                "a malformed message in the trade updates' tail: passed over"
            ),
        }
        if sequence >= last {
            break;
        }
    }
    if last_update_at.is_none() {
        tracing::warn!(
            "no well-formed update in the trade updates' tail: reconciliation has no start time"
        );
    }
    Ok(Tail {
        last_update_at,
        ids,
    })
}
