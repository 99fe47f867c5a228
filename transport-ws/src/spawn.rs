//! Starting a stream's task.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};

use tickwire_core::machine::{Machine, MachineConfig, StreamKind};
use tickwire_core::{Timestamp, Transport, WallClock};

use crate::builder::Options;
use crate::driver::{self, Driver, DriverChannels};
use crate::event_queue::event_queue;
use crate::event_stage::StageSetup;
use crate::profile::{EventsOf, HandleOf, StreamProfile};
use crate::{Error, StreamHandle};

/// Commands waiting for the task; senders wait (briefly) beyond this.
const COMMANDS_CAPACITY: usize = 64;

/// Creates the machine and spawns its driver on the current tokio runtime.
pub(crate) fn spawn<P: StreamProfile, T: Transport + 'static>(
    endpoint: &P::Endpoint,
    dialect: P::Dialect,
    mut config: MachineConfig,
    transport: T,
    options: &Options,
) -> Result<(HandleOf<P>, EventsOf<P>), Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let name: Arc<str> = options.name_for(&config.url).into();
    let span = tracing::info_span!("tickwire", stream = %name);
    // The machine reads no clock: one reading of both, taken here, anchors
    // the wall-clock times of its gap events.
    config
        .wall_clock
        .get_or_insert_with(|| WallClock::new(driver::now(), Timestamp::from(SystemTime::now())));
    let setup = StageSetup {
        options,
        config: &config,
        runtime: runtime.clone(),
    };
    let stage = span.in_scope(|| P::event_stage(endpoint, &setup))?;
    let machine = span.in_scope(|| match P::KIND {
        StreamKind::Symbols => Machine::symbol_stream(config, dialect),
        StreamKind::Account => Machine::account_stream(config, dialect, driver::now()),
    });
    let (commands_tx, commands_rx) = mpsc::channel(COMMANDS_CAPACITY);
    let (state_tx, state_rx) = watch::channel(machine.state().clone());
    let dropped = Arc::new(AtomicU64::new(0));
    let (queue, mut events) = event_queue(
        options.queue_capacity,
        options.queue_bytes_max,
        options.slow_consumer,
        Arc::clone(&dropped),
    );
    if let Some(stage) = stage {
        events.set_stage(stage);
    }
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
