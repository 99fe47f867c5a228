//! The machine's cost per data frame, excluding decode, beside a baseline that
//! only moves the same messages through a queue.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickwire_core::machine::{Action, Event, Machine, MachineConfig};
use tickwire_core::protocol::alpaca::{AlpacaMarketData, Encoding, MarketData};
use tickwire_core::protocol::{Dialect, Inbound};
use tickwire_core::{Channel, Credentials, Frame, Symbol};

const QUOTE: &str = r#"[{"T":"q","S":"AAPL","bx":"U","bp":189.1,"bs":1,"ax":"Q","ap":189.12,"as":2,"c":["R"],"z":"C","t":"2024-01-02T15:04:05.123456789Z"}]"#;
const FRAMES: usize = 1000;

fn live_machine() -> (
    Machine<AlpacaMarketData>,
    tickwire_core::machine::ConnectionEpoch,
    Instant,
) {
    let now = Instant::now();
    let mut config = MachineConfig::new("ws://127.0.0.1:1/v2/test", Credentials::new("k", "s"));
    config.data_silence_timeout = Some(Duration::from_secs(30));
    let mut machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json), now);
    machine
        .subscribe(now, Channel::Quotes, [Symbol::new("AAPL").expect("valid")])
        .expect("subscribe");
    let Some(Action::Connect { epoch, .. }) = machine.poll_action() else {
        panic!("expected a connect")
    };
    machine.handle_connected(now, epoch);
    for text in [
        r#"[{"T":"success","msg":"connected"}]"#,
        r#"[{"T":"success","msg":"authenticated"}]"#,
        r#"[{"T":"subscription","quotes":["AAPL"]}]"#,
    ] {
        machine.handle_frame(now, epoch, &Frame::text(text));
    }
    assert!(machine.state().is_live());
    while machine.poll_action().is_some() {}
    while machine.poll_event().is_some() {}
    (machine, epoch, now)
}

fn decoded_quote() -> Inbound<MarketData> {
    let mut out = Vec::new();
    AlpacaMarketData::new(Encoding::Json).decode(&Frame::text(QUOTE), &mut out);
    out.pop().expect("one message")
}

fn per_data_frame(c: &mut Criterion) {
    let quote = decoded_quote();
    let mut group = c.benchmark_group("machine per data frame");
    group.throughput(Throughput::Elements(FRAMES as u64));

    let (mut machine, epoch, now) = live_machine();
    group.bench_function("machine: handle_decoded + poll_event", |b| {
        b.iter_batched(
            || vec![quote.clone(); FRAMES],
            |messages| {
                for message in messages {
                    machine.handle_decoded(now, epoch, std::iter::once(message));
                    while let Some(event) = machine.poll_event() {
                        if let Event::Data(data) = event {
                            black_box(data);
                        }
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });

    let mut queue = VecDeque::new();
    group.bench_function("baseline: push + pop through a queue", |b| {
        b.iter_batched(
            || vec![quote.clone(); FRAMES],
            |messages| {
                for message in messages {
                    if let Inbound::Data(data) = message {
                        queue.push_back(data);
                    }
                    while let Some(data) = queue.pop_front() {
                        black_box(data);
                    }
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, per_data_frame);
criterion_main!(benches);
