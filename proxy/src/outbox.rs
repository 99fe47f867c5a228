//! A client's bounded outgoing queue, and the one way to end its connection.

use std::sync::Arc;

use tickwire_alpaca::Encoding;
use tickwire_core::Frame;
use tokio::sync::{mpsc, watch};

/// Why the proxy ends a client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Farewell {
    /// The last frame to send (Alpaca's error), if any.
    pub(crate) frame: Option<Frame>,
    /// Why, for logs and metrics (`slow`, `upstream_failed`…).
    pub(crate) reason: &'static str,
}

/// The sending side of a client's queue, held by the tasks that feed it.
///
/// Bounded at [`Limits::client_queue_frames`](crate::Limits::client_queue_frames);
/// when full, the client is too slow: it is told 407 and disconnected, and
/// no other client waits for it.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    frames: mpsc::Sender<Frame>,
    encoding: Encoding,
    farewell: Arc<FarewellSlot>,
}

/// Set once; wakes the connection's writer and session.
#[derive(Debug)]
pub(crate) struct FarewellSlot {
    farewell: watch::Sender<Option<Farewell>>,
}

/// The connection's side: frames to write, and the farewell to watch for.
#[derive(Debug)]
pub(crate) struct Inbox {
    pub(crate) frames: mpsc::Receiver<Frame>,
    pub(crate) farewell: Arc<FarewellSlot>,
}

/// What a full queue means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// The queue was full (the client is being dropped) or the client is gone.
    Refused,
}

impl Outbox {
    /// A queue of `capacity` frames for a client speaking `encoding`.
    pub(crate) fn new(capacity: usize, encoding: Encoding) -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let farewell = Arc::new(FarewellSlot::new());
        (
            Self {
                frames: tx,
                encoding,
                farewell: Arc::clone(&farewell),
            },
            Inbox {
                frames: rx,
                farewell,
            },
        )
    }

    /// The client's encoding.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Queues a frame without waiting. A full queue ends the client with
    /// Alpaca's 407 (`slow client`).
    pub(crate) fn push(&self, frame: Frame) -> Pushed {
        match self.frames.try_send(frame) {
            Ok(()) => Pushed::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let slow = crate::downstream::market_error(self.encoding, 407, "slow client");
                self.close(Farewell {
                    frame: Some(slow),
                    reason: "slow",
                });
                Pushed::Refused
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Refused,
        }
    }

    /// Ends the connection with `farewell` (the first farewell wins).
    pub(crate) fn close(&self, farewell: Farewell) {
        self.farewell.set(farewell);
    }

    /// Waits until the connection is ending (a farewell was set).
    pub(crate) async fn closing(&self) -> Farewell {
        self.farewell.wait().await
    }

    /// Whether the connection is ending or ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.frames.is_closed() || self.farewell.is_set()
    }
}

impl FarewellSlot {
    fn new() -> Self {
        Self {
            farewell: watch::Sender::new(None),
        }
    }

    fn set(&self, farewell: Farewell) {
        self.farewell.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            *slot = Some(farewell);
            true
        });
    }

    fn is_set(&self) -> bool {
        self.farewell.borrow().is_some()
    }

    /// Waits until a farewell is set; returns it.
    pub(crate) async fn wait(&self) -> Farewell {
        let mut watch = self.farewell.subscribe();
        match watch.wait_for(Option::is_some).await {
            Ok(farewell) => farewell.clone().unwrap_or(Farewell {
                frame: None,
                reason: "closed",
            }),
            // The sender lives in `self`: it cannot be gone while we wait.
            Err(_) => Farewell {
                frame: None,
                reason: "closed",
            },
        }
    }
}
