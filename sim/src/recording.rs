//! The inputs the machines of a run received, and a replay of them into
//! fresh machines without the exchange, the link or the checks.
//!
//! The machines are deterministic, so the replay reproduces their run
//! exactly ([`replay_machines`] returns a hash of their outputs to prove
//! it). The benchmark uses the replay as its baseline: the cost of the
//! machines alone beside the cost of the whole simulation.

use std::time::{Duration, Instant};

use tickwire_alpaca::{AlpacaMarketData, AlpacaTrading, Channel};
use tickwire_core::machine::{Action, ConnectionEpoch, Event, Machine};
use tickwire_core::protocol::Dialect;
use tickwire_core::{Frame, Timestamp, TransportError, WallClock};

use super::scenario::StreamSpec;
use super::trace::Trace;
use super::workload::Command;

/// One input given to one machine.
#[derive(Debug, Clone, PartialEq)]
pub enum MachineInput {
    /// `handle_timeout`.
    Timeout,
    /// `handle_connected`.
    Connected(ConnectionEpoch),
    /// `handle_frame`.
    Frame(ConnectionEpoch, Frame),
    /// `handle_transport_error`.
    TransportError(ConnectionEpoch, TransportError),
    /// A user command.
    Command(Command),
}

/// Every machine input of a run, in order, with the streams' specifications.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// The streams, by index.
    pub streams: Vec<StreamSpec>,
    /// The wall-clock time of the run's start (the machines' wall clock).
    pub wall_clock_start: Timestamp,
    /// (stream, virtual time, input), in the order given.
    pub inputs: Vec<(usize, Duration, MachineInput)>,
}

/// The outcome of a replay: how many inputs, and a hash of every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Inputs given.
    pub inputs: u64,
    /// Actions and events taken.
    pub outputs: u64,
    /// Hash of every action and event (kind, epoch, frame bytes).
    pub hash: u64,
}

enum AnyMachine {
    Market(Machine<AlpacaMarketData>),
    Account(Machine<AlpacaTrading>),
}

/// Feeds the recorded inputs to fresh machines and drains them, nothing else.
pub fn replay_machines(recording: &Recording) -> Replayed {
    let base = Instant::now();
    let mut machines: Vec<AnyMachine> = recording
        .streams
        .iter()
        .map(|spec| {
            let mut config = spec.config.clone();
            config.wall_clock = Some(WallClock::new(base, recording.wall_clock_start));
            if spec.account {
                let dialect = AlpacaTrading::new(spec.encoding);
                AnyMachine::Account(Machine::account_stream(config, dialect, base))
            } else {
                let dialect = AlpacaMarketData::new(spec.encoding);
                AnyMachine::Market(Machine::symbol_stream(config, dialect))
            }
        })
        .collect();
    let mut out = Replayed {
        inputs: 0,
        outputs: 0,
        hash: 0,
    };
    let mut trace = Trace::new(false);
    for (stream, at, input) in &recording.inputs {
        let now = base + *at;
        out.inputs += 1;
        let Some(machine) = machines.get_mut(*stream) else {
            continue; // an input for a stream the recording does not describe
        };
        match machine {
            AnyMachine::Market(m) => feed(m, now, input, &mut trace, &mut out),
            AnyMachine::Account(m) => feed(m, now, input, &mut trace, &mut out),
        }
    }
    out.hash = trace.hash();
    out
}

fn feed<D: Dialect<Channel = Channel>>(
    machine: &mut Machine<D>,
    now: Instant,
    input: &MachineInput,
    trace: &mut Trace,
    out: &mut Replayed,
) {
    match input {
        MachineInput::Timeout => machine.handle_timeout(now),
        MachineInput::Connected(epoch) => machine.handle_connected(now, *epoch),
        MachineInput::Frame(epoch, frame) => machine.handle_frame(now, *epoch, frame),
        MachineInput::TransportError(epoch, error) => {
            machine.handle_transport_error(now, *epoch, error)
        }
        MachineInput::Command(command) => match command {
            Command::Subscribe { channel, symbols } => {
                let _ = machine.subscribe(now, *channel, symbols.iter().cloned());
            }
            Command::Unsubscribe { channel, symbols } => {
                let _ = machine.unsubscribe(now, *channel, symbols.iter().cloned());
            }
            Command::Churn => {
                let desired: Vec<_> = machine
                    .desired()
                    .iter()
                    .map(|(c, s)| (c, s.clone()))
                    .collect();
                let mut channels: Vec<_> = desired.iter().map(|(c, _)| *c).collect();
                channels.dedup();
                for channel in channels {
                    let symbols = desired
                        .iter()
                        .filter(|(c, _)| *c == channel)
                        .map(|(_, s)| s.clone());
                    let _ = machine.unsubscribe(now, channel, symbols);
                }
            }
            Command::Shutdown => machine.shutdown(now),
        },
    }
    while let Some(action) = machine.poll_action() {
        out.outputs += 1;
        match &action {
            Action::Connect { epoch, .. } => {
                trace.record(Duration::ZERO, 1, &epoch.get().to_le_bytes())
            }
            Action::Send { frame, .. } => trace.record(Duration::ZERO, 2, frame.payload()),
            Action::Close { epoch } => trace.record(Duration::ZERO, 3, &epoch.get().to_le_bytes()),
        }
    }
    while let Some(event) = machine.poll_event() {
        out.outputs += 1;
        let tag = match event {
            Event::Data(_) => 4,
            Event::StateChanged(_) => 5,
            _ => 6,
        };
        trace.record(Duration::ZERO, tag, &[]);
    }
    // A driver arms its timer after every input.
    if let Some(deadline) = machine.poll_timeout() {
        trace.record(deadline.saturating_duration_since(now), 7, &[]);
    }
}
