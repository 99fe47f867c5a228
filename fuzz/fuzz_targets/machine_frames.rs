//! The market data machine with the real Alpaca dialect, fed any frames in
//! any phase: the input is a script of steps (the right server answer, a
//! frame of the input's bytes, a timeout, a lost connection, a command),
//! so every phase meets every kind of frame. Never a panic.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tickwire_alpaca::{AlpacaMarketData, Channel, Encoding};
use tickwire_core::machine::{Action, ConnectionEpoch, Machine, MachineConfig};
use tickwire_core::{Credentials, Frame, Symbol, TransportError};

/// The answers a well-behaved server gives, one per phase.
const ANSWERS: [&str; 4] = [
    r#"[{"T":"success","msg":"connected"}]"#,
    r#"[{"T":"success","msg":"authenticated"}]"#,
    r#"[{"T":"subscription","trades":[],"quotes":["AAPL","MSFT"],"bars":[]}]"#,
    r#"[{"T":"q","S":"AAPL","bp":1.5,"bs":1,"ap":1.6,"as":2,"t":"2024-01-02T15:04:05Z"}]"#,
];

const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "BTC/USD"];

fuzz_target!(|data: &[u8]| {
    let config = MachineConfig::new("wss://fuzz.invalid/v2/iex", Credentials::new("K", "S"));
    let mut machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json));
    let mut now = Instant::now();
    let mut epoch: Option<ConnectionEpoch> = None;
    let _ = machine.subscribe(now, Channel::Quotes, [Symbol::from_server("AAPL")]);
    let mut input = data;
    while let Some((&step, rest)) = input.split_first() {
        input = rest;
        let argument = input.first().copied().unwrap_or(0);
        match step % 8 {
            0 => {
                if let Some(epoch) = epoch {
                    let answer = ANSWERS[usize::from(argument) % ANSWERS.len()];
                    machine.handle_frame(now, epoch, &Frame::text(answer));
                }
            }
            1 | 2 => {
                // A frame of the next `argument` bytes of the input.
                let len = usize::from(argument).min(input.len().saturating_sub(1));
                let bytes = input.get(1..=len).unwrap_or_default().to_vec();
                input = input.get(len + 1..).unwrap_or_default();
                let frame = if step % 8 == 1 {
                    Frame::Text(bytes.into())
                } else {
                    Frame::Binary(bytes.into())
                };
                if let Some(epoch) = epoch {
                    machine.handle_frame(now, epoch, &frame);
                }
            }
            3 => {
                now += Duration::from_millis(u64::from(argument) * 250);
                machine.handle_timeout(now);
            }
            4 => {
                if let Some(epoch) = epoch {
                    let error = match argument % 3 {
                        0 => TransportError::Refused { status: 429 },
                        1 => TransportError::Closed {
                            code: Some(1006),
                            reason: String::new(),
                        },
                        _ => TransportError::Io("reset".into()),
                    };
                    machine.handle_transport_error(now, epoch, &error);
                }
            }
            5 => {
                if let Some(epoch) = epoch {
                    machine.handle_connected(now, epoch);
                }
            }
            6 => {
                let symbol = Symbol::from_server(SYMBOLS[usize::from(argument) % SYMBOLS.len()]);
                let channel = if argument % 2 == 0 {
                    Channel::Quotes
                } else {
                    Channel::Trades
                };
                let _ = machine.subscribe(now, channel, [symbol]);
            }
            _ => {
                let symbol = Symbol::from_server(SYMBOLS[usize::from(argument) % SYMBOLS.len()]);
                let _ = machine.unsubscribe(now, Channel::Quotes, [symbol]);
            }
        }
        if !input.is_empty() && step % 8 != 1 && step % 8 != 2 {
            input = &input[1..];
        }
        // The drain rule: every output, after every input.
        while let Some(action) = machine.poll_action() {
            if let Action::Connect { epoch: next, .. } = action {
                epoch = Some(next);
            }
        }
        while machine.poll_event().is_some() {}
    }
});
