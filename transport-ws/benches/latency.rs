//! Latency under a steady rate: the exchange writes one-quote JSON frames at
//! a fixed rate, each stamped with the time it was due; the consumer records
//! how long after that time it received the quote. Tickwire and the naive
//! client (tokio-tungstenite + serde_json + tokio mpsc, `support::clients`)
//! side by side in the same run, at 10 k, 100 k and 1 M quotes/s.
//!
//! ```text
//! cargo bench -p tickwire-ws --bench latency -- rounds=3 [seconds=2] [rates=10000,100000,1000000] [--json]
//! ```
//!
//! Measuring from the due time, not the write, accounts for coordinated
//! omission: when the exchange or the client falls behind, every quote
//! waiting behind counts its wait. The first tenth of a second of each run is
//! warm-up and not recorded. Each figure is from the round with the lowest
//! p99 (`rounds`, default 3). "late" is the exchange thread's own p99 delay
//! in writing (part of every client's figure); "rate" is what the consumer
//! received per second, and a run that fell behind the offered rate says so.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::json;
use support::args::{Args, init_tracing};
use support::clients::{Client, Consumer, run_consumer};
use support::exchange::{BenchExchange, Job, Plan};
use support::quotes::StampClock;
use support::report::Report;
use tickwire_core::Timestamp;
use tickwire_ws::Encoding;

/// Records each quote's delay since its stamp, after a warm-up.
#[derive(Debug)]
struct DelayRecorder {
    clock: StampClock,
    warm_up: usize,
    wanted: usize,
    seen: usize,
    delays_ns: Histogram<u64>,
}

impl Consumer for DelayRecorder {
    fn quote(&mut self, _: f64, timestamp: Timestamp) -> bool {
        let delay = self.clock.nanos_since(timestamp);
        self.seen += 1;
        if self.seen > self.warm_up {
            let _ = self.delays_ns.record(delay);
        }
        self.seen >= self.wanted
    }
}

/// One client's run at one rate.
#[derive(Debug)]
struct Run {
    delays_ns: Histogram<u64>,
    exchange_late_ns: Histogram<u64>,
    received_per_s: f64,
}

impl Run {
    fn p(&self, quantile: f64) -> f64 {
        self.delays_ns.value_at_quantile(quantile) as f64 / 1e3
    }
}

fn run(
    runtime: &tokio::runtime::Runtime,
    exchange: &BenchExchange,
    client: Client,
    rate_per_s: f64,
    seconds: f64,
) -> Run {
    let frames = ((rate_per_s * seconds) as usize).max(10);
    exchange.submit(Job {
        encoding: Encoding::Json,
        plan: Plan::Paced { rate_per_s, frames },
    });
    let recorder = DelayRecorder {
        clock: StampClock::get(),
        warm_up: ((rate_per_s / 10.0) as usize).min(frames / 2),
        wanted: frames,
        seen: 0,
        delays_ns: Histogram::new(3).expect("histogram"),
    };
    let url = exchange.url();
    let (done, recorder): (Instant, DelayRecorder) =
        runtime.block_on(async move { run_consumer(client, &url, Encoding::Json, recorder).await });
    let served = exchange.served();
    Run {
        delays_ns: recorder.delays_ns,
        exchange_late_ns: served
            .lateness_ns
            .expect("a paced run reports its lateness"),
        received_per_s: frames as f64 / done.duration_since(served.started).as_secs_f64(),
    }
}

fn main() {
    init_tracing();
    let args = Args::from_env();
    let rounds: usize = args.sized("rounds", 3, 1);
    let seconds: f64 = args.sized("seconds", 2.0, 0.05);
    let rates: Vec<f64> = args
        .value("rates", "10000,100000,1000000".to_owned())
        .split(',')
        .filter_map(|r| r.parse().ok())
        .collect();
    let mut report = Report::new(
        "latency",
        &args,
        &format!(
            "latency from the due time to the consumer, one JSON quote per frame, {seconds} s per run, best p99 of {rounds} (µs)"
        ),
    );
    report.context(json!({ "seconds_per_run": seconds, "rounds": rounds }));
    report.line(" quotes/s client         p50      p99    p99.9       max  late p99       rate");
    let clients = [Client::Tickwire, Client::Naive];
    let runtime = support::runtime_with_workers(args.value("workers", 2));
    let exchange = BenchExchange::start();
    for rate in rates {
        let mut best: [Option<Run>; 2] = [None, None];
        for _ in 0..rounds {
            for (i, client) in clients.into_iter().enumerate() {
                if !args.wants(client.name(), &["tickwire", "naive"]) {
                    continue;
                }
                let this = run(&runtime, &exchange, client, rate, seconds);
                if best[i].as_ref().is_none_or(|b| this.p(0.99) < b.p(0.99)) {
                    best[i] = Some(this);
                }
            }
        }
        for (client, result) in clients.into_iter().zip(&best) {
            let Some(r) = result else { continue };
            let sustained = r.received_per_s >= 0.95 * rate;
            report.row(
                &format!(
                    "{:>9} {:<9} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>8.0} k{}",
                    rate,
                    client.name(),
                    r.p(0.5),
                    r.p(0.99),
                    r.p(0.999),
                    r.delays_ns.max() as f64 / 1e3,
                    r.exchange_late_ns.value_at_quantile(0.99) as f64 / 1e3,
                    r.received_per_s / 1e3,
                    if sustained { "" } else { "  (fell behind)" }
                ),
                json!({
                    "rate_per_s": rate,
                    "client": client.name(),
                    "p50_us": r.p(0.5),
                    "p99_us": r.p(0.99),
                    "p999_us": r.p(0.999),
                    "max_us": r.delays_ns.max() as f64 / 1e3,
                    "samples": r.delays_ns.len(),
                    "exchange_late_p99_us": r.exchange_late_ns.value_at_quantile(0.99) as f64 / 1e3,
                    "received_per_s": r.received_per_s,
                    "sustained": sustained,
                }),
            );
        }
        if let [Some(t), Some(n)] = &best {
            report.line(&format!(
                "{:>9} tickwire p99 / naive p99 = {:.2}",
                "",
                t.p(0.99) / n.p(0.99)
            ));
        }
    }
    report.finish();
}
