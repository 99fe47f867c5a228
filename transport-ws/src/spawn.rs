//! Starting a stream's task.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tickwire_alpaca::Channel;

use tokio::sync::{mpsc, watch};

use tickwire_core::Transport;
use tickwire_core::machine::{Machine, MachineConfig, StreamKind};
use tickwire_core::protocol::Dialect;

use crate::builder::Options;
use crate::driver::{self, Driver, DriverChannels};
use crate::event_queue::event_queue;
use crate::{Error, Events, StreamHandle};

/// Commands waiting for the task; senders wait (briefly) beyond this.
const COMMANDS_CAPACITY: usize = 64;

/// Creates the machine and spawns its driver on the current tokio runtime.
pub(crate) fn spawn<D: Dialect<Channel = Channel>, T: Transport + 'static>(
    kind: StreamKind,
    dialect: D,
    config: MachineConfig,
    transport: T,
    options: &Options,
) -> Result<(StreamHandle, Events<D::Data>), Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let name: Arc<str> = options.name_for(&config.url).into();
    let span = tracing::info_span!("tickwire", stream = %name);
    let now = driver::now();
    let machine = span.in_scope(|| match kind {
        StreamKind::Symbols => Machine::symbol_stream(config, dialect),
        StreamKind::Account => Machine::account_stream(config, dialect, now),
    });
    let (commands_tx, commands_rx) = mpsc::channel(COMMANDS_CAPACITY);
    let (state_tx, state_rx) = watch::channel(machine.state().clone());
    let dropped = Arc::new(AtomicU64::new(0));
    let (queue, events) = event_queue(
        options.queue_capacity,
        options.slow_consumer,
        Arc::clone(&dropped),
    );
    let channels = DriverChannels {
        commands: commands_rx,
        queue,
        state: state_tx,
    };
    let task = runtime.spawn(Driver::new(machine, transport, channels, span).run());
    let handle = StreamHandle::new(
        name,
        commands_tx,
        state_rx,
        dropped,
        task,
        options.shutdown_timeout,
    );
    Ok((handle, events))
}
