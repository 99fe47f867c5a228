//! One trade update on its way into JetStream at a time: sent, then its
//! acknowledgement awaited beside everything else the relay's task waits
//! for, so a slow server never delays the leadership's renewals.

use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture, publish::PublishAck};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::trade_outbox::OutgoingUpdate;

/// The header naming where an update came from: `live` or `reconciled`.
pub const SOURCE_HEADER: &str = "Tickwire-Source";

/// Publishes the account's updates on its subject, one in flight at most.
pub(crate) struct Publisher {
    jetstream: jetstream::Context,
    subject: String,
    in_flight: Option<BoxFuture<'static, Result<PublishAck, String>>>,
}

impl Publisher {
    pub(crate) fn new(jetstream: jetstream::Context, subject: String) -> Self {
        Self {
            jetstream,
            subject,
            in_flight: None,
        }
    }

    /// Whether nothing is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.is_none()
    }

    /// Sends `next` (with its message id and source headers); its outcome
    /// comes from [`outcome`](Self::outcome).
    ///
    /// # Errors
    /// The update cannot be encoded (it was decoded, so this does not
    /// happen; it is never published as garbage).
    pub(crate) fn send(&mut self, next: &OutgoingUpdate) -> Result<(), String> {
        let payload = Bytes::from(serde_json::to_vec(&next.update).map_err(|e| e.to_string())?);
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            next.message_id.as_str(),
        );
        headers.insert(
            SOURCE_HEADER,
            if next.reconciled {
                "reconciled"
            } else {
                "live"
            },
        );
        let (jetstream, subject) = (self.jetstream.clone(), self.subject.clone());
        self.in_flight = Some(
            async move {
                let ack: PublishAckFuture = jetstream
                    .publish_with_headers(subject, headers, payload)
                    .await
                    .map_err(|e| e.to_string())?;
                ack.await.map_err(|e| e.to_string())
            }
            .boxed(),
        );
        Ok(())
    }

    /// The outcome of the update in flight; pending for ever while none
    /// is. Cancel-safe.
    pub(crate) async fn outcome(&mut self) -> Result<PublishAck, String> {
        let Some(in_flight) = &mut self.in_flight else {
            return std::future::pending().await;
        };
        let outcome = in_flight.await;
        self.in_flight = None;
        outcome
    }

    /// Stops waiting for the update in flight (the server may still store
    /// it).
    pub(crate) fn cancel(&mut self) {
        self.in_flight = None;
    }
}
