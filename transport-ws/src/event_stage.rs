//! A step between a stream's queue and its application that may hold
//! events back and add its own: an account stream's reconciliation.

use std::fmt;
use std::task::{Context, Poll};

use tickwire_core::machine::MachineConfig;

use crate::builder::Options;
use crate::{Events, StreamEvent};

/// What a step does with the queue's events.
pub(crate) trait Stage<T, C>: Send + Sync {
    /// The next event for the application, taking from `queue` as needed
    /// ([`Events::poll_queue`]); `Ready(None)` once the queue has ended.
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        queue: &mut Events<T, C>,
    ) -> Poll<Option<StreamEvent<T, C>>>;
}

/// A step between a stream's queue and its application, made by its
/// [`StreamProfile`](crate::StreamProfile) (see
/// [`StreamProfile::event_stage`](crate::StreamProfile::event_stage)).
pub struct EventStage<T, C>(pub(crate) Box<dyn Stage<T, C>>);

impl<T, C> fmt::Debug for EventStage<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventStage")
    }
}

/// What a profile may read when it makes its [`EventStage`]: the stream's
/// settings.
#[derive(Debug)]
pub struct StageSetup<'a> {
    pub(crate) options: &'a Options,
    pub(crate) config: &'a MachineConfig,
    pub(crate) runtime: tokio::runtime::Handle,
}
