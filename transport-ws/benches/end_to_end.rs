//! End to end: a loopback exchange bursting Alpaca quotes → a client → a
//! consumer task, in quotes per second, for three clients in the same run:
//! tickwire (`MarketDataStream`), a naive client (tokio-tungstenite read
//! loop + serde into a plain struct + tokio mpsc to a consumer task) and the
//! ceiling (a bare tokio-tungstenite read loop that only counts frames), for
//! JSON and MessagePack, one and ten quotes per frame.
//!
//! ```text
//! cargo bench -p tickwire-ws --bench end_to_end -- rounds=5 [--json] [N] [json|msgpack] [per-frame=1]
//! ```
//!
//! `N` is the number of quotes per run (default 2 000 000); each figure is
//! the best of `rounds` (default 3), the clients' runs interleaved. The clock
//! runs from the start of the burst to the consumer's receipt of the last
//! quote (the bare loop's read of the last frame). The exchange
//! (`support::exchange`) writes pre-framed bytes on its own thread.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use serde_json::json;
use support::args::{Args, init_tracing};
use support::clients::{Client, Counter, bare_client, run_consumer};
use support::exchange::{BenchExchange, Job, Plan};
use support::quotes::data_frame;
use support::report::Report;
use tickwire_ws::Encoding;

/// Quotes per second of one run of `client`.
fn run(
    runtime: &tokio::runtime::Runtime,
    exchange: &BenchExchange,
    client: Client,
    encoding: Encoding,
    per_frame: usize,
    quotes: usize,
) -> f64 {
    let frames = quotes / per_frame;
    let quotes = frames * per_frame;
    exchange.submit(Job {
        encoding,
        plan: Plan::Burst {
            frame: data_frame(encoding, per_frame),
            frames,
        },
    });
    let url = exchange.url();
    let done = runtime.block_on(async move {
        match client {
            Client::Bare => bare_client(&url, encoding, frames).await,
            _ => {
                run_consumer(client, &url, encoding, Counter::new(quotes))
                    .await
                    .0
            }
        }
    });
    let started = exchange.served().started;
    quotes as f64 / done.duration_since(started).as_secs_f64()
}

fn main() {
    init_tracing();
    let args = Args::from_env();
    let quotes = args.number(2_000_000, 20_000);
    let rounds: usize = args.sized("rounds", 3, 1);
    let per_frame_only = Some(args.value("per-frame", 0usize)).filter(|n| *n > 0);
    let title = format!(
        "end to end, {quotes} quotes per run, best of {rounds}, runs interleaved (quotes/s)"
    );
    let mut report = Report::new("end_to_end", &args, &title);
    report.context(json!({ "quotes_per_run": quotes, "rounds": rounds }));
    report
        .line("encoding  quotes/frm     tickwire        naive    bare loop   vs naive    of bare");
    let runtime = support::runtime();
    let exchange = BenchExchange::start();
    let clients = [Client::Tickwire, Client::Naive, Client::Bare];
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        let name = format!("{encoding:?}").to_lowercase();
        if !args.wants(&name, &["json", "msgpack"]) {
            continue;
        }
        for per_frame in [1usize, 10] {
            if per_frame_only.is_some_and(|n| n != per_frame) {
                continue;
            }
            let mut best = [0.0f64; 3];
            for _ in 0..rounds {
                for (i, client) in clients.into_iter().enumerate() {
                    if args.wants(client.name(), &["tickwire", "naive", "bare"]) {
                        let rate = run(&runtime, &exchange, client, encoding, per_frame, quotes);
                        best[i] = best[i].max(rate);
                    }
                }
            }
            let [tickwire, naive, bare] = best;
            report.row(
                &format!(
                    "{:<9} {:>10} {:>10.2} M {:>10.2} M {:>10.2} M {:>9.2}x {:>9.0}%",
                    name,
                    per_frame,
                    tickwire / 1e6,
                    naive / 1e6,
                    bare / 1e6,
                    tickwire / naive,
                    100.0 * tickwire / bare
                ),
                json!({
                    "encoding": name,
                    "quotes_per_frame": per_frame,
                    "tickwire_quotes_per_s": tickwire,
                    "naive_quotes_per_s": naive,
                    "bare_quotes_per_s": bare,
                    "bare_frames_per_s": bare / per_frame as f64,
                    "tickwire_vs_naive": tickwire / naive,
                    "tickwire_of_bare": tickwire / bare,
                }),
            );
        }
    }
    report.line("bare loop: tokio-tungstenite reading frames and counting them (quotes/s = frames/s x quotes/frame)");
    report.finish();
}
