//! The relay's promise, process by process: a real nats-server, two
//! `tickwire relay --trade-updates` in front of `tickwire serve`, three
//! `tickwire watch --relay` consumers with overlapping symbols and a
//! `tickwire trades --relay` reader. Each consumer gets exactly its
//! symbols; a consumer killed with SIGKILL takes its own symbols off the
//! upstream once its leases expire; the leader is killed with SIGKILL while
//! orders keep changing, the standby takes over, the consumers see a gap
//! and a resume and go on, the exchange never sees two connections of the
//! account on one endpoint, and every order state change the exchange made
//! reaches the reader once (a state entered and left while no relay held
//! the account aside: the REST order list keeps each order's latest state,
//! and that one arrives).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use support::processes::{self, Killed, nats_server};
use support::{Server, line_reader, spawn_tickwire};
use tickwire_alpaca::{TradeUpdate, order_state_key};

/// The most any wait in this test lasts.
const PATIENCE: Duration = Duration::from_secs(30);

/// An order state: (order id, status, filled quantity).
type StateKey = (String, String, String);

/// How long a consumer's lease lives after its last write.
const LEASE_TTL_S: u64 = 3;

/// `tickwire relay` of `server`'s account and iex feed, with the trade
/// updates of account `sim`, a 2 s leadership key and 3 s leases; its
/// stderr read line by line.
fn relay(nats: &str, server: &Server) -> (Killed, Receiver<String>) {
    let lease_ttl = LEASE_TTL_S.to_string();
    let args = [
        "relay",
        "--nats",
        nats,
        "--upstream",
        server.base_url(),
        "--key",
        "tickwire",
        "--secret",
        "tickwire",
        "--trade-updates",
        "sim",
        "--leader-ttl",
        "2",
        "--lease-ttl",
        &lease_ttl,
    ];
    let mut relay = Killed(spawn_tickwire(&args, Stdio::null(), Stdio::piped()));
    let stderr = relay.0.stderr.take().expect("piped stderr");
    (relay, line_reader(stderr, Some))
}

/// Waits for a line containing `wanted`.
fn line_with(lines: &Receiver<String>, wanted: &str) -> String {
    processes::line_with(lines, wanted, PATIENCE)
}

/// A `tickwire watch --relay` of these symbols' quotes: the process and
/// its JSON lines.
struct Consumer {
    process: Killed,
    lines: Receiver<String>,
    symbols: BTreeSet<String>,
    /// Lines read so far, in order: (`type`, `symbol`).
    seen: Vec<(String, String)>,
}

impl Consumer {
    fn start(nats: &str, symbols: &[&str]) -> Self {
        let mut args = vec!["watch", "--relay", nats, "--channels", "quotes", "--json"];
        args.extend_from_slice(symbols);
        let mut process = Killed(spawn_tickwire(&args, Stdio::piped(), Stdio::null()));
        let lines = line_reader(process.0.stdout.take().expect("piped stdout"), Some);
        Self {
            process,
            lines,
            symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
            seen: Vec::new(),
        }
    }

    /// Reads what came; fails on a quote of a symbol it did not ask for.
    fn read(&mut self) {
        for line in self.lines.try_iter() {
            let value: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let kind = value["type"].as_str().unwrap_or_default().to_owned();
            let symbol = value["symbol"].as_str().unwrap_or_default().to_owned();
            assert!(
                kind != "quote" || self.symbols.contains(&symbol),
                "a consumer of {:?} got a quote of {symbol}",
                self.symbols
            );
            self.seen.push((kind, symbol));
        }
    }

    /// Waits until a quote of each of its symbols came after the line at
    /// `from`.
    fn until_quotes_after(&mut self, from: usize, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.read();
            let quoted: BTreeSet<&String> = self.seen[from.min(self.seen.len())..]
                .iter()
                .filter(|(kind, _)| kind == "quote")
                .map(|(_, symbol)| symbol)
                .collect();
            if self.symbols.iter().all(|s| quoted.contains(s)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: a consumer of {:?} got quotes of only {quoted:?}",
                self.symbols
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The place of the first line of `kind` at or after `from`, waiting.
    fn until_line(&mut self, kind: &str, from: usize) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.read();
            if let Some(at) = self.seen[from.min(self.seen.len())..]
                .iter()
                .position(|(k, _)| k == kind)
            {
                return from + at;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} line for the consumer of {:?}",
                self.symbols
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The quote symbols of each open `/v2/iex` session of the exchange.
fn upstream_quotes(server: &Server) -> Vec<BTreeSet<String>> {
    server
        .admin("GET", "/subscriptions")
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .filter(|session| session["endpoint"] == "/v2/iex")
        .map(|session| {
            session["quotes"]
                .as_array()
                .map(|symbols| {
                    symbols
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Waits until the exchange's one iex session holds exactly `symbols`;
/// returns how long that took.
fn until_upstream(server: &Server, symbols: &[&str], what: &str) -> Duration {
    let wanted: BTreeSet<String> = symbols.iter().map(|s| (*s).to_owned()).collect();
    let started = Instant::now();
    loop {
        let sessions = upstream_quotes(server);
        if sessions == [wanted.clone()] {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: the exchange's iex sessions hold {sessions:?}, not one with {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The order states the reader printed so far, appended to `read`.
fn read_states(lines: &Receiver<String>, read: &mut Vec<StateKey>) {
    for line in lines.try_iter() {
        let update: TradeUpdate = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a trade update ({e}): {line}"));
        read.push(order_state_key(&update));
    }
}

/// Every order state change the exchange made, in order.
fn journal(server: &Server) -> Vec<StateKey> {
    server
        .admin("GET", "/journal/orders")
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            assert!(
                value.get("dropped").is_none(),
                "the journal dropped changes"
            );
            let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
            (field("order_id"), field("status"), field("filled_qty"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the figures a reader of the test output wants
async fn two_relays_three_consumers_and_a_reader_across_sigkills() {
    let nats = nats_server().await;
    let url = nats.url();
    // The exchange frees a vanished connection's slot after 1 s (Alpaca
    // takes about 90 s to notice one: a standby then waits that long); the
    // leadership key outlives it.
    let server = Server::start(&["--admin", "127.0.0.1:0", "--reap-after", "1"]);

    let (mut first, first_lines) = relay(&url, &server);
    line_with(&first_lines, "leading the trade updates");
    let (mut second, second_lines) = relay(&url, &server);
    line_with(&second_lines, "standing by for the trade updates");

    // Three consumers with overlapping symbols: each gets its own, and the
    // upstream holds their union.
    let mut consumers: HashMap<&str, Consumer> = HashMap::new();
    for (name, symbols) in [
        ("one", &["AAPL", "MSFT"][..]),
        ("two", &["MSFT", "SPY"][..]),
        ("three", &["SPY", "TSLA"][..]),
    ] {
        consumers.insert(name, Consumer::start(&url, symbols));
    }
    for consumer in consumers.values_mut() {
        consumer.until_quotes_after(0, "at start");
    }
    until_upstream(&server, &["AAPL", "MSFT", "SPY", "TSLA"], "the union");

    // A consumer dies without a word: its own symbol leaves the upstream
    // once its leases expire; the shared one stays.
    let mut three = consumers.remove("three").expect("started");
    three.process.0.kill().expect("kill a consumer");
    let forgotten = until_upstream(&server, &["AAPL", "MSFT", "SPY"], "after the kill");
    assert!(
        forgotten <= Duration::from_secs(LEASE_TTL_S + 5),
        "the dead consumer's symbol left the upstream after {forgotten:?}"
    );

    // The reader reads the stream from its start, live, throughout.
    let mut reader = Killed(spawn_tickwire(
        &[
            "trades",
            "--relay",
            &url,
            "--account",
            "sim",
            "--json",
            "--after",
            "0",
        ],
        Stdio::piped(),
        Stdio::null(),
    ));
    let reader_lines = line_reader(reader.0.stdout.take().expect("piped stdout"), Some);
    let mut read = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while read.len() < 8 {
        assert!(
            Instant::now() < deadline,
            "only {} updates: {read:?}",
            read.len()
        );
        std::thread::sleep(Duration::from_millis(50));
        read_states(&reader_lines, &mut read);
    }

    // SIGKILL: no release, no close of its streams but the kernel's.
    first.0.kill().expect("kill the leader");
    let killed_at = Instant::now();
    read_states(&reader_lines, &mut read);
    let before_kill: BTreeSet<StateKey> = read.iter().cloned().collect();
    line_with(&second_lines, "leading the trade updates");
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= Duration::from_secs(2 + 5),
        "the standby led {takeover:?} after the kill"
    );
    // The live consumers see a gap, a resume, and quotes again.
    for consumer in consumers.values_mut() {
        let gap = consumer.until_line("gap", 0);
        let resumed = consumer.until_line("resumed", gap);
        consumer.until_quotes_after(resumed, "after the takeover");
    }
    // Orders go on changing under the new leader for a while.
    std::thread::sleep(Duration::from_secs(2));

    // Everything the exchange made up to now reaches the reader, but
    // states entered and left while no relay held the account.
    let made = journal(&server);
    let first_end = made
        .iter()
        .rposition(|state| before_kill.contains(state))
        .expect("the reader read states the journal holds");
    let missing = |read: &[StateKey]| -> Vec<StateKey> {
        let got: BTreeSet<&StateKey> = read.iter().collect();
        made.iter()
            .enumerate()
            .filter(|(i, state)| {
                let superseded = *i > first_end
                    && made[i + 1..]
                        .iter()
                        .any(|later| later.0 == state.0 && got.contains(later));
                !got.contains(state) && !superseded
            })
            .map(|(_, state)| state.clone())
            .collect()
    };
    let deadline = Instant::now() + PATIENCE;
    while !missing(&read).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        read_states(&reader_lines, &mut read);
    }
    assert!(
        missing(&read).is_empty(),
        "order states made but never read: {:?}",
        missing(&read)
    );
    let mut counts: BTreeMap<&StateKey, usize> = BTreeMap::new();
    for state in &read {
        *counts.entry(state).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read more than once: {twice:?}");
    let all_made: BTreeSet<StateKey> = journal(&server).into_iter().collect();
    let forged: Vec<_> = counts.keys().filter(|k| !all_made.contains(**k)).collect();
    assert!(forged.is_empty(), "read but never made: {forged:?}");
    assert!(
        made.len() > first_end + 3,
        "too few order changes after the kill to exercise the takeover: {}",
        made.len() - first_end - 1
    );

    let metrics = server.metrics();
    for endpoint in ["/stream", "/v2/iex"] {
        assert_eq!(
            metrics.get(&format!(
                "tickwire_exchange_sessions_peak{{endpoint=\"{endpoint}\"}}"
            )),
            Some(&1.0),
            "never two {endpoint} connections of the account at once: {metrics:?}"
        );
    }
    assert_eq!(
        metrics.get("tickwire_exchange_errors_sent_total{code=\"406\"}"),
        None,
        "no 406: {metrics:?}"
    );
    assert!(
        second.0.try_wait().expect("wait").is_none(),
        "the new leader still runs"
    );
    eprintln!(
        "a dead consumer's symbol left the upstream {:.2} s after its SIGKILL (leases {LEASE_TTL_S} s); \
         the standby led {:.2} s after the leader's; {} order states made, {} read, {} made after the kill",
        forgotten.as_secs_f64(),
        takeover.as_secs_f64(),
        made.len(),
        read.len(),
        made.len() - first_end - 1
    );
}
