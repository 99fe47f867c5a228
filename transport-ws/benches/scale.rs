//! How cost grows with the number of symbols and of streams, and what a
//! quiet stream costs:
//!
//! - `subscribe`: one subscribe of N symbols (N = 1, 100, 1 000, 10 000, in
//!   no particular order) on a live machine, JSON: the machine's and the
//!   codec's CPU time from the call to the processed acknowledgement,
//!   encoding the requests (split at the frame size, rule 7) and decoding the
//!   exchange's acknowledgements (each lists the whole set, as Alpaca's do)
//!   included; and the frames and bytes sent. Single-threaded, no I/O: the
//!   acknowledgements are prepared by a first pass.
//! - `idle`: K live streams with nothing to deliver in one process (K = 1,
//!   10, 100, 1 000) against the loopback exchange (`tickwire-mock`):
//!   resident memory per added stream, and CPU time and wake-ups per stream
//!   over an idle window that holds two keep-alive pings per stream (`ping=0`:
//!   none, to count the wake-ups that are not pings). Each K
//!   runs in a child process of its own (this binary, `idle-child`), so that
//!   memory the allocator keeps from one K does not hide the next; the
//!   exchange stays in the parent.
//! - `trickle`: CPU time per message at 100 quotes/s over 30 s, tickwire
//!   beside the naive client in the same run; counted from the first quote
//!   to the last, over every thread but the exchange's.
//!
//! ```text
//! cargo bench -p tickwire-ws --bench scale -- [subscribe] [idle] [trickle] [symbols=1,100,1000,10000] [streams=1,10,100,1000] [window=10] [ping=5] [seconds=30] [rounds=2] [--json]
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{Value, json};
use support::args::{Args, init_tracing};
use support::clients::{Client, Consumer, run_consumer};
use support::exchange::{BenchExchange, EXCHANGE_THREAD, Job, Plan};
use support::proc_stats::{CpuUse, all_threads, rss_bytes, threads_except};
use support::report::Report;
use support::runtime;
use tickwire_alpaca::{
    AlpacaMarketData, Channel, ClientMessage, ServerMessage, SubscriptionSet,
    decode_client_message, encode_market_frame,
};
use tickwire_core::machine::{Action, ConnectionEpoch, Event, Machine, MachineConfig};
use tickwire_core::{Credentials, Frame, Symbol, Timestamp};
use tickwire_mock::{Account, ExchangeConfig, LoopbackConfig, LoopbackServer, MarketConfig};
use tickwire_ws::{Encoding, Feed, MarketDataStream};

/// The key pair the idle streams use.
const KEY: (&str, &str) = ("bench", "bench");

/// Keep-alive ping interval of the idle streams, seconds (`ping=`, 0 for
/// none): the default window holds two.
const IDLE_PING_INTERVAL_S: f64 = 5.0;

/// The longest a stream may take to go live.
const LIVE_PATIENCE: Duration = Duration::from_secs(60);

/// Time for the streams to settle between going live and the idle window.
const SETTLE: Duration = Duration::from_secs(1);

fn main() {
    init_tracing();
    let args = Args::from_env();
    if args.has("idle-child") {
        idle_child(&args);
        return;
    }
    let sections = ["subscribe", "idle", "trickle"];
    if args.wants("subscribe", &sections) {
        subscribe(&args);
    }
    if args.wants("idle", &sections) {
        idle(&args);
    }
    if args.wants("trickle", &sections) {
        trickle(&args);
    }
}

// ------------------------------------------------------------------ subscribe

/// `n` distinct four-letter symbols in a scrambled order (a user's list is
/// rarely sorted).
fn symbol_names(n: usize) -> Vec<Symbol> {
    const SPACE: usize = 26 * 26 * 26 * 26;
    (0..n)
        .map(|i| {
            // 7 919 is prime and does not divide 26⁴: every i maps to its own name.
            let mut code = (i * 7_919 + 1) % SPACE;
            let mut name = [b'A'; 4];
            for letter in name.iter_mut().rev() {
                *letter = b'A' + (code % 26) as u8;
                code /= 26;
            }
            Symbol::from_server(std::str::from_utf8(&name).expect("ASCII"))
        })
        .collect()
}

/// A market-data machine live on quotes of one symbol (`ZZZZZ`, named by no
/// list), its outputs drained.
fn live_machine() -> (Machine<AlpacaMarketData>, ConnectionEpoch, Instant) {
    let now = Instant::now();
    let config = MachineConfig::new("ws://127.0.0.1:1/v2/test", Credentials::new("k", "s"));
    let mut machine = Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json));
    let first = Symbol::from_server("ZZZZZ");
    machine
        .subscribe(now, Channel::Quotes, [first.clone()])
        .expect("subscribe");
    let Some(Action::Connect { epoch, .. }) = machine.poll_action() else {
        panic!("a subscribed idle stream connects")
    };
    machine.handle_connected(now, epoch);
    let set = SubscriptionSet::from_iter([(Channel::Quotes, first)]);
    for message in [
        ServerMessage::Connected,
        ServerMessage::Authenticated,
        ServerMessage::Subscription(set),
    ] {
        machine.handle_frame(now, epoch, &encode_market_frame(Encoding::Json, &[message]));
    }
    assert!(machine.state().is_live());
    while machine.poll_action().is_some() {}
    while machine.poll_event().is_some() {}
    (machine, epoch, now)
}

/// What one subscribe cost.
#[derive(Debug, Clone, Copy)]
struct SubscribeCost {
    elapsed: Duration,
    frames: usize,
    bytes: usize,
}

/// Subscribes `symbols` on a live machine and answers each request with the
/// next of `acks`; without `acks`, answers as the exchange would and keeps
/// the answers in `record`.
fn subscribe_once(
    symbols: Vec<Symbol>,
    acks: &[Frame],
    record: Option<&mut Vec<Frame>>,
) -> SubscribeCost {
    let (mut machine, epoch, now) = live_machine();
    let mut record = record;
    let mut server_set =
        SubscriptionSet::from_iter([(Channel::Quotes, Symbol::from_server("ZZZZZ"))]);
    let (mut frames, mut bytes, mut answered) = (0, 0, 0);
    let start = Instant::now();
    let id = machine
        .subscribe(now, Channel::Quotes, symbols)
        .expect("subscribe");
    loop {
        let mut sent = None;
        while let Some(action) = machine.poll_action() {
            if let Action::Send { frame, .. } = action {
                frames += 1;
                bytes += frame.payload().len();
                sent = Some(frame);
            }
        }
        let mut settled = false;
        while let Some(event) = machine.poll_event() {
            settled |= matches!(event, Event::Subscription { request, .. } if request == id);
        }
        if settled {
            break;
        }
        let ack = match record.as_deref_mut() {
            Some(record) => {
                let Ok(ClientMessage::Subscribe(added)) =
                    decode_client_message(&sent.expect("a request"))
                else {
                    panic!("the machine asks for what it was told to subscribe")
                };
                server_set.extend(added.iter().map(|(c, s)| (c, s.clone())));
                let ack = encode_market_frame(
                    Encoding::Json,
                    &[ServerMessage::Subscription(server_set.clone())],
                );
                record.push(ack.clone());
                ack
            }
            None => acks[answered].clone(),
        };
        answered += 1;
        machine.handle_frame(now, epoch, &ack);
    }
    SubscribeCost {
        elapsed: start.elapsed(),
        frames,
        bytes,
    }
}

fn subscribe(args: &Args) {
    let counts: Vec<usize> = args
        .value("symbols", "1,100,1000,10000".to_owned())
        .split(',')
        .filter_map(|n| n.parse().ok())
        .collect();
    let rounds: usize = args.sized("rounds", 20, 1);
    let mut report = Report::new(
        "scale_subscribe",
        args,
        &format!(
            "one subscribe of N symbols on a live machine, JSON, frame_bytes_max 4096: machine + codec CPU from the call to the processed ack (best of {rounds})"
        ),
    );
    report.context(json!({ "rounds": rounds }));
    report.line("      N  frames     bytes         µs    ns/symbol       vs N=100");
    let mut per_symbol_at_100 = None;
    for n in counts {
        let symbols = symbol_names(n);
        let mut acks = Vec::new();
        subscribe_once(symbols.clone(), &[], Some(&mut acks));
        let best = (0..rounds)
            .map(|_| subscribe_once(symbols.clone(), &acks, None))
            .min_by_key(|cost| cost.elapsed)
            .expect("at least one round");
        let per_symbol_ns = best.elapsed.as_nanos() as f64 / n as f64;
        if n == 100 {
            per_symbol_at_100 = Some(per_symbol_ns);
        }
        let ratio = per_symbol_at_100.map(|base| per_symbol_ns / base);
        report.row(
            &format!(
                "{:>7} {:>7} {:>9} {:>10.1} {:>12.0} {:>14}",
                n,
                best.frames,
                best.bytes,
                best.elapsed.as_nanos() as f64 / 1e3,
                per_symbol_ns,
                ratio.map_or("-".to_owned(), |r| format!("{r:.2}x"))
            ),
            json!({
                "symbols": n,
                "frames": best.frames,
                "bytes": best.bytes,
                "cpu_us": best.elapsed.as_nanos() as f64 / 1e3,
                "ns_per_symbol": per_symbol_ns,
                "per_symbol_vs_100": ratio,
            }),
        );
    }
    report.finish();
}

// ------------------------------------------------------------------ idle

/// An exchange that acknowledges subscriptions and then sends nothing.
fn quiet_exchange() -> ExchangeConfig {
    let mut market = MarketConfig::default();
    market.quote_chance = 0.0;
    market.trade_chance = 0.0;
    market.orderbook_chance = 0.0;
    market.status_chance = 0.0;
    market.luld_chance = 0.0;
    market.imbalance_chance = 0.0;
    market.news_chance = 0.0;
    ExchangeConfig::new(1)
        .with_account(
            Account::new(KEY.0, KEY.1)
                .with_connections_max(usize::MAX)
                .with_symbol_limit(None),
        )
        .with_market(market)
}

fn idle(args: &Args) {
    let counts: Vec<usize> = args
        .value(
            "streams",
            if args.quick { "1,10" } else { "1,10,100,1000" }.to_owned(),
        )
        .split(',')
        .filter_map(|k| k.parse().ok())
        .collect();
    let window: f64 = args.sized("window", 10.0, 0.2);
    let ping_s: f64 = args.value("ping", IDLE_PING_INTERVAL_S);
    let pings_per_s = if ping_s > 0.0 { 1.0 / ping_s } else { 0.0 };
    let runtime = runtime();
    let server = runtime
        .block_on(LoopbackServer::start(LoopbackConfig::new(quiet_exchange())))
        .expect("loopback exchange");
    let url = server.url("/v2/iex");

    let mut report = Report::new(
        "scale_idle",
        args,
        &format!(
            "K idle live streams in one process (a child per K), idle window {window} s, keep-alive ping every {ping_s} s per stream (0: none)"
        ),
    );
    report.context(json!({ "idle_window_s": window, "ping_interval_s": ping_s }));
    report.line(
        "     K     RSS MB    KB/stream  KB/added str.    CPU µs/str./s  wake-ups/str./s   pings/str./s",
    );
    let mut previous: Option<(usize, u64)> = None;
    for k in counts {
        let child = Command::new(std::env::current_exe().expect("own path"))
            .args([
                "idle-child",
                &format!("k={k}"),
                &format!("url={url}"),
                &format!("window={window}"),
                &format!("ping={ping_s}"),
            ])
            .output()
            .expect("child process");
        let stdout = String::from_utf8_lossy(&child.stdout);
        let Some(figures) = stdout
            .lines()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
        else {
            eprintln!(
                "idle child for K={k} failed: {}",
                String::from_utf8_lossy(&child.stderr)
            );
            continue;
        };
        let number = |key: &str| figures[key].as_f64().unwrap_or(f64::NAN);
        let rss_before = number("rss_before") as u64;
        let rss_live = number("rss_live") as u64;
        let per_stream_kb = (rss_live.saturating_sub(rss_before)) as f64 / k as f64 / 1024.0;
        let per_added_kb =
            previous.map(|(k0, rss0)| (rss_live as f64 - rss0 as f64) / (k - k0) as f64 / 1024.0);
        previous = Some((k, rss_live));
        let cpu_us = number("idle_cpu_ns") / 1e3 / k as f64 / window;
        let wakeups = number("idle_runs") / k as f64 / window;
        let pings = pings_per_s;
        report.row(
            &format!(
                "{:>6} {:>10.1} {:>12.1} {:>14} {:>16.2} {:>16.3} {:>14.3}",
                k,
                rss_live as f64 / 1e6,
                per_stream_kb,
                per_added_kb.map_or("-".to_owned(), |v| format!("{v:.1}")),
                cpu_us,
                wakeups,
                pings
            ),
            json!({
                "streams": k,
                "rss_bytes": rss_live,
                "rss_per_stream_kb": per_stream_kb,
                "rss_per_added_stream_kb": per_added_kb,
                "idle_cpu_us_per_stream_s": cpu_us,
                "idle_wakeups_per_stream_s": wakeups,
                "pings_per_stream_s": pings,
            }),
        );
    }
    report.line("KB/stream: (RSS with K live − RSS before the first) / K; KB/added: the step from the K above");
    report.line("wake-ups: times any thread of the process was put on a CPU, over the window");
    report.finish();
    runtime.block_on(server.shutdown());
}

/// One K: `k` streams go live, then the process idles; prints one JSON line.
fn idle_child(args: &Args) {
    let k: usize = args.value("k", 1);
    let url: String = args.value("url", String::new());
    let window = Duration::from_secs_f64(args.value("window", 10.0));
    let ping_s: f64 = args.value("ping", IDLE_PING_INTERVAL_S);
    let ping_interval = (ping_s > 0.0).then(|| Duration::from_secs_f64(ping_s));
    let runtime = runtime();
    let rss_before = rss_bytes();
    let streams = runtime.block_on(async {
        let connecting = (0..k).map(|_| {
            let url = url.clone();
            async move {
                let stream = MarketDataStream::builder(Feed::Custom(url))
                    .key_pair(KEY.0, KEY.1)
                    .encoding(Encoding::MsgPack)
                    .ping_interval(ping_interval)
                    .build()
                    .expect("build");
                let outcome = stream
                    .subscribe(Channel::Quotes, ["AAPL"])
                    .await
                    .expect("subscribe");
                let mut state = stream.state_watch();
                let live =
                    tokio::time::timeout(LIVE_PATIENCE, state.wait_for(|s| s.is_live())).await;
                assert!(
                    matches!(live, Ok(Ok(_))),
                    "a subscribed stream goes live: {outcome:?}, {:?}",
                    stream.state()
                );
                stream
            }
        });
        let streams = join_all(connecting).await;
        tokio::time::sleep(SETTLE).await;
        streams
    });
    let rss_live = rss_bytes();
    let before = all_threads();
    runtime.block_on(async { tokio::time::sleep(window).await });
    let idle = all_threads().since(before);
    println!(
        "{}",
        json!({
            "rss_before": rss_before,
            "rss_live": rss_live,
            "idle_cpu_ns": idle.cpu_ns,
            "idle_runs": idle.runs,
        })
    );
    runtime.block_on(async move { drop(streams) });
}

// ------------------------------------------------------------------ trickle

/// Counts quotes, and the CPU use of the clients from the first to the last.
#[derive(Debug)]
struct CpuMeter {
    wanted: usize,
    seen: usize,
    first: CpuUse,
    last: CpuUse,
}

impl Consumer for CpuMeter {
    fn quote(&mut self, _: f64, _: Timestamp) -> bool {
        self.seen += 1;
        if self.seen == 1 {
            self.first = threads_except(EXCHANGE_THREAD);
        }
        if self.seen >= self.wanted {
            self.last = threads_except(EXCHANGE_THREAD);
            return true;
        }
        false
    }
}

fn trickle(args: &Args) {
    let seconds: f64 = args.sized("seconds", 30.0, 0.5);
    let rate = 100.0;
    let rounds: usize = args.sized("rounds", 2, 1);
    let title = format!(
        "trickle: {rate} quotes/s for {seconds} s, one JSON quote per frame; client CPU from the first quote to the last (best of {rounds})"
    );
    let mut report = Report::new("scale_trickle", args, &title);
    report.context(json!({ "rate_per_s": rate, "seconds": seconds }));
    report.line("client      CPU µs/quote     wake-ups/quote");
    let frames = (rate * seconds) as usize;
    let runtime = runtime();
    let exchange = BenchExchange::start();
    let mut best = [(f64::INFINITY, 0.0f64); 2];
    for _ in 0..rounds {
        for (i, client) in [Client::Tickwire, Client::Naive].into_iter().enumerate() {
            exchange.submit(Job {
                encoding: Encoding::Json,
                plan: Plan::Paced {
                    rate_per_s: rate,
                    frames,
                },
            });
            let meter = CpuMeter {
                wanted: frames,
                seen: 0,
                first: CpuUse::default(),
                last: CpuUse::default(),
            };
            let url = exchange.url();
            let (_, meter) = runtime
                .block_on(async move { run_consumer(client, &url, Encoding::Json, meter).await });
            let _ = exchange.served();
            let used = meter.last.since(meter.first);
            let quotes = (frames - 1) as f64;
            let cpu_us = used.cpu_ns as f64 / 1e3 / quotes;
            if cpu_us < best[i].0 {
                best[i] = (cpu_us, used.runs as f64 / quotes);
            }
        }
    }
    for (client, (cpu_us, runs)) in [Client::Tickwire, Client::Naive].into_iter().zip(best) {
        report.row(
            &format!("{:<9} {:>14.1} {:>18.2}", client.name(), cpu_us, runs),
            json!({
                "client": client.name(),
                "cpu_us_per_quote": cpu_us,
                "wakeups_per_quote": runs,
            }),
        );
    }
    report.line(&format!(
        "tickwire / naive CPU per quote = {:.2}",
        best[0].0 / best[1].0
    ));
    report.finish();
}
