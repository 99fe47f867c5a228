//! A minimal exchange for the benchmarks, on its own thread: a
//! tokio-tungstenite server that does Alpaca's handshake (greeting, auth,
//! subscription ack, whatever the client says) and then writes pre-framed
//! WebSocket bytes, so that its own cost stays small and out of the figures.
//!
//! It serves one connection per [`Job`]: either a burst, as fast as TCP
//! takes it, or a paced run of one-quote frames, each stamped with the time
//! it was meant to be sent (measuring from there accounts for coordinated
//! omission: a late write delays the stamp's receipt, it does not move it).

use std::net::SocketAddr;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use tickwire_alpaca::{Channel, ServerMessage, SubscriptionSet, encode_market_frame};
use tickwire_core::{Frame, Symbol};
use tickwire_ws::Encoding;

use super::quotes::{StampClock, StampedQuotes, ws_frame_bytes};

/// The name of the exchange's thread (left out of the clients' CPU time).
pub(crate) const EXCHANGE_THREAD: &str = "bench-exchange";

/// Frames per write of a burst.
const CHUNK_FRAMES: usize = 4096;

/// Below this wait the paced writer spins (yielding) instead of sleeping:
/// a sleep overshoots by tens of microseconds.
const SPIN_BELOW: Duration = Duration::from_millis(2);

/// Paced runs slower than one frame per this period only sleep: a late
/// write of tens of microseconds matters little there, and spinning would
/// take a core from the clients whose CPU time is measured.
const SLEEP_ONLY_PERIOD: Duration = Duration::from_millis(1);

/// What one connection is served.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// `frames` copies of `frame`, written as fast as the socket takes them.
    Burst { frame: Frame, frames: usize },
    /// `frames` one-quote JSON frames, frame `i` due at `i / rate_per_s`
    /// seconds after the start and stamped with that time.
    Paced { rate_per_s: f64, frames: usize },
}

/// One connection's work.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) encoding: Encoding,
    pub(crate) plan: Plan,
}

/// What the exchange reports of a served job.
#[derive(Debug)]
pub(crate) struct Served {
    /// When the first data frame was due (burst: written).
    pub(crate) started: Instant,
    /// Paced runs: how late each write was against its first frame's due time, ns.
    pub(crate) lateness_ns: Option<Histogram<u64>>,
}

/// The exchange's thread, serving jobs in order.
#[derive(Debug)]
pub(crate) struct BenchExchange {
    pub(crate) addr: SocketAddr,
    jobs: std_mpsc::Sender<Job>,
    served: std_mpsc::Receiver<Served>,
}

impl BenchExchange {
    /// Starts the thread and its listener on 127.0.0.1.
    pub(crate) fn start() -> Self {
        let (addr_tx, addr_rx) = std_mpsc::channel();
        let (jobs_tx, jobs_rx) = std_mpsc::channel();
        let (served_tx, served_rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name(EXCHANGE_THREAD.into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("exchange runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                    addr_tx
                        .send(listener.local_addr().expect("addr"))
                        .expect("addr");
                    while let Ok(job) = jobs_rx.recv() {
                        let Ok((socket, _)) = listener.accept().await else {
                            return;
                        };
                        let served = serve(socket, job).await;
                        if served_tx.send(served).is_err() {
                            return;
                        }
                    }
                });
            })
            .expect("exchange thread");
        Self {
            addr: addr_rx.recv().expect("exchange address"),
            jobs: jobs_tx,
            served: served_rx,
        }
    }

    /// Queues the job for the next connection.
    pub(crate) fn submit(&self, job: Job) {
        self.jobs.send(job).expect("exchange alive");
    }

    /// The report of the oldest unreported job (blocks until it is served).
    pub(crate) fn served(&self) -> Served {
        self.served.recv().expect("exchange alive")
    }

    /// The `ws://` URL clients connect to.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/v2/test", self.addr)
    }
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(b) => Message::Text(String::from_utf8_lossy(&b).into_owned().into()),
        other => Message::Binary(other.payload().clone()),
    }
}

async fn serve(socket: TcpStream, job: Job) -> Served {
    socket.set_nodelay(true).ok();
    let mut ws = tokio_tungstenite::accept_async(socket)
        .await
        .expect("upgrade");
    let control = |m: ServerMessage| to_message(encode_market_frame(job.encoding, &[m]));
    ws.send(control(ServerMessage::Connected))
        .await
        .expect("greeting");
    let _auth = ws.next().await;
    ws.send(control(ServerMessage::Authenticated))
        .await
        .expect("auth");
    let _subscribe = ws.next().await;
    let set = SubscriptionSet::from_iter([(Channel::Quotes, Symbol::new("AAPL").expect("symbol"))]);
    ws.send(control(ServerMessage::Subscription(set)))
        .await
        .expect("ack");
    let mut tcp = ws.into_inner();
    let served = match job.plan {
        Plan::Burst { frame, frames } => burst(&mut tcp, &frame, frames).await,
        Plan::Paced { rate_per_s, frames } => paced(&mut tcp, rate_per_s, frames).await,
    };
    tcp.flush().await.expect("flush");
    // Keep the socket until the client is done (it closes first).
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut sink),
    )
    .await;
    served
}

async fn burst(tcp: &mut TcpStream, frame: &Frame, frames: usize) -> Served {
    let mut chunk = Vec::new();
    for _ in 0..CHUNK_FRAMES {
        ws_frame_bytes(frame, &mut chunk);
    }
    let mut tail = Vec::new();
    for _ in 0..frames % CHUNK_FRAMES {
        ws_frame_bytes(frame, &mut tail);
    }
    let started = Instant::now();
    for _ in 0..frames / CHUNK_FRAMES {
        tcp.write_all(&chunk).await.expect("write");
    }
    tcp.write_all(&tail).await.expect("write");
    Served {
        started,
        lateness_ns: None,
    }
}

/// Writes every frame that is due, stamped with its due time, then waits for
/// the next one: sleeping when it is far (or the rate is low), spinning (and
/// yielding the core) when it is near.
async fn paced(tcp: &mut TcpStream, rate_per_s: f64, frames: usize) -> Served {
    let clock = StampClock::get();
    let quotes = StampedQuotes::default();
    let period_ns = 1e9 / rate_per_s;
    let due =
        |start: Instant, i: usize| start + Duration::from_nanos((i as f64 * period_ns) as u64);
    let mut lateness = Histogram::<u64>::new(3).expect("histogram");
    let mut out = Vec::with_capacity(64 << 10);
    let sleep_only = period_ns >= SLEEP_ONLY_PERIOD.as_nanos() as f64;
    let started = Instant::now() + Duration::from_millis(1);
    let mut sent = 0;
    while sent < frames {
        let next = due(started, sent);
        let mut now = Instant::now();
        if next > now {
            let wait = next - now;
            if sleep_only {
                std::thread::sleep(wait);
            } else if wait > SPIN_BELOW {
                std::thread::sleep(wait - SPIN_BELOW / 2);
            }
            while Instant::now() < next {
                std::thread::yield_now();
            }
            now = Instant::now();
        }
        // Every frame due by now, each stamped with its own due time.
        let elapsed_ns = now.saturating_duration_since(started).as_nanos() as f64;
        let due_count = ((elapsed_ns / period_ns) as usize + 1).min(frames);
        out.clear();
        for i in sent..due_count.max(sent + 1) {
            quotes.push(clock.stamp(due(started, i)), &mut out);
        }
        let _ = lateness.record(now.saturating_duration_since(next).as_nanos() as u64);
        sent = due_count.max(sent + 1);
        tcp.write_all(&out).await.expect("write");
    }
    Served {
        started,
        lateness_ns: Some(lateness),
    }
}
