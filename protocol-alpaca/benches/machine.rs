//! The machine's cost per data frame, excluding decode, beside a baseline that
//! only moves the same messages through a queue.

mod fixtures;

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fixtures::{decoded_quote, live_machine};
use tickwire_core::Frame;
use tickwire_core::machine::Event;
use tickwire_core::protocol::Inbound;

const FRAMES: usize = 1000;

fn per_data_frame(c: &mut Criterion) {
    let quote = decoded_quote();
    let mut group = c.benchmark_group("machine per data frame");
    group.throughput(Throughput::Elements(FRAMES as u64));

    let (mut machine, epoch, now) = live_machine();
    let frame = Frame::text("");
    group.bench_function("machine: handle_frame (predecoded) + poll_event", |b| {
        // As `iter_batched`: only the loop is timed, not preloading the messages.
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                machine.dialect().preload(vec![quote.clone(); FRAMES]);
                let start = Instant::now();
                for _ in 0..FRAMES {
                    machine.handle_frame(now, epoch, &frame);
                    while let Some(event) = machine.poll_event() {
                        if let Event::Data(data) = event {
                            black_box(data);
                        }
                    }
                }
                timed += start.elapsed();
            }
            timed
        });
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
