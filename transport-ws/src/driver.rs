//! The task that drives one stream: it owns the machine and the transport,
//! moves bytes and time between them, and makes no protocol decision.
//!
//! The drain rule, as the machine documents it: after every input (command,
//! frame, transport outcome, timeout) take every action and every event until
//! none is left; then wait for the next input or for `poll_timeout`.
//! Actions are performed in order (sends are fed, then flushed once per
//! batch); events go to the application's queue, a whole batch per lock.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Sleep;
use tracing::Instrument;

use tickwire_core::machine::{
    Action, ConnectionEpoch, Event, Machine, RequestId, State, SubscriptionOutcome,
};
use tickwire_core::protocol::{Dialect, SubscriptionOp};
use tickwire_core::{ConnectRequest, Frame, Transport, TransportError};

use crate::command::{Command, Reply};
use crate::event_queue::{EventQueue, Outbox, is_droppable};

/// Frames read back to back, without going through `select!`, while the
/// transport has them ready. Their events reach the queue in one push.
const BURST_FRAMES_MAX: usize = 64;

/// The current time on tokio's clock (paused in tests), as the machine takes it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Everything the driver needs besides the transport, so that the transport
/// can be borrowed by a pending `connect` while commands and timers go on.
struct Core<D: Dialect> {
    machine: Machine<D>,
    commands: mpsc::Receiver<Command<D::Channel>>,
    commands_open: bool,
    queue: EventQueue<D::Data, D::Channel>,
    state: watch::Sender<State>,
    /// Events drained from the machine, not yet in the queue.
    outbox: Outbox<D::Data, D::Channel>,
    /// The outbox already held the queue's worth of events or bytes when
    /// the frame being drained was read: its droppable events are dropped.
    shedding: bool,
    /// Actions drained from the machine, not yet performed.
    actions: VecDeque<Action>,
    replies: Vec<(RequestId, oneshot::Sender<Reply>)>,
    sleep: Pin<Box<Sleep>>,
    deadline: Option<Instant>,
    stream_span: tracing::Span,
    conn_span: tracing::Span,
}

/// One stream's task: a [`Machine`] and a [`Transport`].
pub(crate) struct Driver<D: Dialect, T: Transport> {
    core: Core<D>,
    transport: T,
    /// The connection the transport holds, once open.
    open: Option<ConnectionEpoch>,
    /// The attempt the transport last dialed (open or not): closing it is due.
    dialed: Option<ConnectionEpoch>,
}

/// The ends of the channels a driver serves: `T` is the data type, `C` the channel.
pub(crate) struct DriverChannels<T, C> {
    pub(crate) commands: mpsc::Receiver<Command<C>>,
    pub(crate) queue: EventQueue<T, C>,
    pub(crate) state: watch::Sender<State>,
}

impl<D: Dialect, T: Transport> Driver<D, T> {
    pub(crate) fn new(
        machine: Machine<D>,
        transport: T,
        channels: DriverChannels<D::Data, D::Channel>,
        span: tracing::Span,
    ) -> Self {
        let DriverChannels {
            commands,
            queue,
            state,
        } = channels;
        state.send_replace(machine.state().clone());
        Self {
            core: Core {
                machine,
                commands,
                commands_open: true,
                queue,
                state,
                outbox: Outbox::new(),
                shedding: false,
                actions: VecDeque::new(),
                replies: Vec::new(),
                sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
                deadline: None,
                conn_span: tracing::Span::none(),
                stream_span: span,
            },
            transport,
            open: None,
            dialed: None,
        }
    }

    /// Runs until the stream is closed or failed and its last actions are done.
    pub(crate) async fn run(self) {
        let span = self.core.stream_span.clone();
        self.run_inner().instrument(span).await;
    }

    async fn run_inner(mut self) {
        tracing::debug!(
            state = self.core.machine.state().name(),
            "stream task started"
        );
        self.core.drain();
        loop {
            self.perform_actions().await;
            self.core.flush_outbox();
            if self.core.machine.state().is_terminal() && self.core.actions.is_empty() {
                break;
            }
            self.wait_for_input().await;
        }
        self.core.finish();
        tracing::debug!(
            state = self.core.machine.state().name(),
            "stream task stopped"
        );
    }

    /// Waits for one input while no connection attempt is under way, feeds it
    /// to the machine and drains.
    async fn wait_for_input(&mut self) {
        self.core.arm_timer();
        let epoch = self.open;
        let readable = epoch.is_some() && self.core.may_read();
        let core = &mut self.core;
        tokio::select! {
            biased;
            command = core.commands.recv(), if core.commands_open => core.on_command(command),
            () = &mut core.sleep, if core.deadline.is_some() => core.on_timer(),
            () = core.queue.room(core.outbox.share()), if !core.outbox.is_empty() => {},
            received = self.transport.recv(), if readable => {
                if let Some(epoch) = epoch {
                    self.on_received(epoch, received);
                }
            }
        }
    }

    /// Feeds a received frame (and those ready right behind it) to the machine.
    fn on_received(&mut self, epoch: ConnectionEpoch, received: Result<Frame, TransportError>) {
        let span = self.core.conn_span.clone();
        let _entered = span.enter();
        let now = now();
        let mut received = received;
        let mut handled = 0;
        loop {
            match received {
                Ok(frame) => {
                    self.core.on_frame(now, epoch, &frame);
                    self.transport.reclaim(frame);
                }
                Err(error) => {
                    self.lost(now, epoch, &error);
                    return;
                }
            }
            handled += 1;
            if handled == BURST_FRAMES_MAX
                || !self.core.actions.is_empty()
                || !self.core.outbox_is_small()
            {
                return;
            }
            match self.transport.try_recv() {
                Some(next) => received = next,
                None => return,
            }
        }
    }

    /// The connection of `epoch` failed: tell the machine, read no more from it.
    fn lost(&mut self, now: Instant, epoch: ConnectionEpoch, error: &TransportError) {
        tracing::debug!(%epoch, %error, "transport error");
        if self.open == Some(epoch) {
            self.open = None;
        }
        self.core.machine.handle_transport_error(now, epoch, error);
        self.core.drain();
    }

    /// Performs the drained actions in order, flushing sends once at the end.
    async fn perform_actions(&mut self) {
        let mut unflushed: Option<ConnectionEpoch> = None;
        loop {
            while let Some(action) = self.core.actions.pop_front() {
                match action {
                    Action::Send { epoch, frame } => {
                        if self.open != Some(epoch) {
                            tracing::trace!(%epoch, "frame for a closed connection dropped");
                            continue;
                        }
                        match self.transport.send(frame).await {
                            Ok(()) => unflushed = Some(epoch),
                            Err(error) => {
                                unflushed = None;
                                self.lost(now(), epoch, &error);
                            }
                        }
                    }
                    Action::Close { epoch } => {
                        if unflushed.take() == Some(epoch) {
                            // What the machine sent before closing (an unsubscribe) goes out first.
                            let _ = self.transport.flush().await;
                        }
                        if self.dialed == Some(epoch) {
                            self.dialed = None;
                            self.open = None;
                            tracing::debug!(parent: &self.core.conn_span, %epoch, "closing");
                            if let Err(error) = self.transport.close().await {
                                tracing::debug!(parent: &self.core.conn_span, %epoch, %error, "close failed");
                            }
                        }
                    }
                    Action::Connect { epoch, request } => {
                        unflushed = None;
                        self.dial(epoch, request).await;
                    }
                }
            }
            let Some(epoch) = unflushed.take() else {
                break;
            };
            if self.open == Some(epoch)
                && let Err(error) = self.transport.flush().await
            {
                self.lost(now(), epoch, &error);
            }
            if self.core.actions.is_empty() {
                break;
            }
        }
    }

    /// Opens the connection of `epoch`, serving commands and timers meanwhile:
    /// the machine's connect timeout (or a shutdown) ends the attempt.
    async fn dial(&mut self, epoch: ConnectionEpoch, request: ConnectRequest) {
        if let Some(previous) = self.dialed.take() {
            // The machine closes before it reconnects; this is only a safety net.
            tracing::debug!(%previous, "closing a connection the machine did not close");
            let _ = self.transport.close().await;
        }
        self.open = None;
        self.dialed = Some(epoch);
        self.core.conn_span =
            tracing::info_span!(parent: &self.core.stream_span, "connection", epoch = epoch.get());
        let span = self.core.conn_span.clone();
        tracing::debug!(parent: &span, url = %request.url, "connecting");

        let outcome = {
            let core = &mut self.core;
            let connect = self.transport.connect(&request).instrument(span.clone());
            tokio::pin!(connect);
            loop {
                core.arm_timer();
                tokio::select! {
                    biased;
                    result = &mut connect => break Some(result),
                    command = core.commands.recv(), if core.commands_open => core.on_command(command),
                    () = &mut core.sleep, if core.deadline.is_some() => core.on_timer(),
                    () = core.queue.room(core.outbox.share()), if !core.outbox.is_empty() => {},
                }
                core.flush_outbox();
                let abandoned = core
                    .actions
                    .iter()
                    .any(|action| matches!(action, Action::Close { epoch: e } if *e == epoch));
                if abandoned {
                    tracing::debug!(parent: &span, "connection attempt abandoned");
                    break None;
                }
            }
        };
        let _entered = span.enter();
        match outcome {
            Some(Ok(())) => {
                tracing::debug!("connected");
                self.open = Some(epoch);
                self.core.machine.handle_connected(now(), epoch);
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "connection failed");
                self.core
                    .machine
                    .handle_transport_error(now(), epoch, &error);
            }
            None => {}
        }
        self.core.drain();
    }
}

impl<D: Dialect> Core<D> {
    /// Feeds a frame to the machine and drains; its events are charged its
    /// bytes, unless the outbox was already full and they were dropped.
    fn on_frame(&mut self, now: Instant, epoch: ConnectionEpoch, frame: &Frame) {
        self.shedding = !self.outbox_is_small();
        let before = self.outbox.len();
        self.machine.handle_frame(now, epoch, frame);
        self.drain();
        if !self.shedding && self.outbox.len() > before {
            self.outbox.charge(frame.len());
        }
        self.shedding = false;
    }

    /// Takes every action and event the machine has; events go to the outbox,
    /// outcomes to the commands awaiting them, states to the watch.
    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.actions.push_back(action);
        }
        // Verdicts are handed out after the whole drain, so that a caller who
        // wakes up on one already sees the state that came with it.
        let mut settled = Vec::new();
        let room = self.queue.capacity().saturating_sub(self.outbox.len());
        if !self.shedding && self.machine.pending_events().len() <= room {
            // Everything fits: look at each in place, then move the whole run
            // at once (one copy per event instead of three).
            for event in self.machine.pending_events() {
                observe(event, &self.state, &mut self.replies, &mut settled);
            }
            self.machine.take_events_into(self.outbox.events_mut());
        } else {
            while let Some(event) = self.machine.poll_event() {
                // Only reachable while reading for progress with a full queue
                // (see SlowConsumerPolicy::Backpressure): count, don't hoard.
                if (self.shedding || self.outbox.len() >= self.queue.capacity())
                    && is_droppable(&event)
                {
                    self.queue.note_dropped(1);
                    continue;
                }
                observe(&event, &self.state, &mut self.replies, &mut settled);
                self.outbox.push(event);
            }
        }
        for (reply, outcome) in settled {
            let _ = reply.send(Ok(outcome));
        }
    }

    fn on_command(&mut self, command: Option<Command<D::Channel>>) {
        let span = self.conn_span.clone();
        let _entered = span.enter();
        let now = now();
        match command {
            Some(Command::Subscription {
                op,
                channel,
                symbols,
                reply,
            }) => {
                let result = match op {
                    SubscriptionOp::Subscribe => self.machine.subscribe(now, channel, symbols),
                    SubscriptionOp::Unsubscribe => self.machine.unsubscribe(now, channel, symbols),
                };
                match result {
                    Ok(id) => self.replies.push((id, reply)),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                }
            }
            Some(Command::Shutdown) => {
                tracing::debug!("shutdown requested");
                self.machine.shutdown(now);
            }
            None => {
                tracing::debug!("every handle was dropped: shutting down");
                self.commands_open = false;
                self.machine.shutdown(now);
            }
        }
        self.drain();
    }

    fn on_timer(&mut self) {
        let span = self.conn_span.clone();
        let _entered = span.enter();
        self.deadline = None;
        self.machine.handle_timeout(now());
        self.drain();
    }

    /// Points the timer at the machine's next deadline.
    fn arm_timer(&mut self) {
        match self.machine.poll_timeout() {
            Some(deadline) if self.deadline != Some(deadline) => {
                self.sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(deadline));
                self.deadline = Some(deadline);
            }
            Some(_) => {}
            None => self.deadline = None,
        }
    }

    /// Whether the socket may be read: the queue has room, or reading is needed
    /// for the stream to make progress (see [`crate::SlowConsumerPolicy::Backpressure`]).
    fn may_read(&self) -> bool {
        self.outbox.is_empty() || !self.machine.state().is_live() || !self.replies.is_empty()
    }

    /// Whether the outbox is small enough to keep reading without a push:
    /// below the queue's capacity in events and its bound in bytes, so that
    /// it holds at most those and one more frame.
    fn outbox_is_small(&self) -> bool {
        self.outbox.len() < self.queue.capacity() && self.outbox.bytes() < self.queue.bytes_max()
    }

    fn flush_outbox(&mut self) {
        self.queue.push(&mut self.outbox);
    }

    /// Delivers what is left and releases every waiting command.
    fn finish(&mut self) {
        // Final events (the last state change, abandoned commands) are few:
        // they go in even if the queue is over capacity.
        self.queue.push_final(&mut self.outbox);
        for (_, reply) in self.replies.drain(..) {
            drop(reply);
        }
    }
}

/// What the driver does with an event on its way to the application: the
/// state to the watch, a verdict to the command awaiting it (into `settled`),
/// and a log line for what an operator should see.
fn observe<D, C: std::fmt::Display>(
    event: &Event<D, C>,
    state_watch: &watch::Sender<State>,
    replies: &mut Vec<(RequestId, oneshot::Sender<Reply>)>,
    settled: &mut Vec<(oneshot::Sender<Reply>, SubscriptionOutcome)>,
) {
    match event {
        Event::StateChanged(state) => {
            tracing::info!(state = state.name(), "state");
            state_watch.send_replace(state.clone());
        }
        Event::Subscription {
            request, outcome, ..
        } => {
            if let Some(at) = replies.iter().position(|(id, _)| id == request) {
                let (_, reply) = replies.swap_remove(at);
                settled.push((reply, outcome.clone()));
            }
        }
        Event::Refused {
            channel,
            symbols,
            code,
            ..
        } => {
            tracing::warn!(%channel, count = symbols.len(), ?code, "server refused symbols");
        }
        Event::Error { error, fatal: true } => tracing::error!(%error, "stream failed"),
        Event::Error {
            error,
            fatal: false,
        } => tracing::warn!(%error, "stream error"),
        Event::Gap { epoch, .. } => {
            tracing::info!(%epoch, "gap: the stream is no longer live")
        }
        Event::Resumed {
            epoch, lost_for, ..
        } => {
            tracing::info!(%epoch, lost_ms = lost_for.as_millis() as u64, "resumed");
        }
        Event::Data(_) | Event::Confirmed(_) | Event::Unknown { .. } => {}
    }
}
