//! [`Leadership`] of two relays over a model key-value server with expiry,
//! on one virtual clock: messages delayed, lost and cut by partitions,
//! relays crashing, restarting and shutting down, timers firing late and
//! upstream connections taking time to close. Safety: no two relays ever
//! hold the upstream at the same instant. Liveness: once the network
//! heals, a relay leads; when it crashes, the other leads within the TTL
//! and 5 s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::leadership::{KeyView, LeaderTiming, Leadership, LeadershipAction, WriteResult};

const TTL: Duration = Duration::from_secs(5);

/// How long a request waits for its answer before the driver reports a
/// failure (JetStream's default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The chaos lasts this long; then the network heals and every relay runs.
const CHAOS_END: Duration = Duration::from_secs(60);

/// When the leader is crashed, after the healing.
const LEADER_CRASH: Duration = Duration::from_secs(80);

/// The end of the run.
const RUN_END: Duration = Duration::from_secs(100);

/// The relays.
const NODES: usize = 2;

/// A request of a relay to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Read,
    Create(String),
    Update(String, u64),
    Delete(u64),
}

/// What happens at one instant.
#[derive(Debug, Clone)]
enum Ev {
    /// A relay's timer (stale once `generation` moved on).
    Timer {
        node: usize,
        incarnation: u32,
        generation: u64,
    },
    /// A request reaches the server.
    Arrive {
        node: usize,
        incarnation: u32,
        request: Request,
    },
    /// An answer reaches a relay (a read's, or a write's).
    Answer {
        node: usize,
        incarnation: u32,
        answer: Answer,
    },
    /// A watch event reaches a relay.
    Watched {
        node: usize,
        incarnation: u32,
        key: KeyView,
    },
    /// The server expires the write at `revision`, if still the latest.
    Expire {
        revision: u64,
    },
    Chaos(Chaos),
}

#[derive(Debug, Clone)]
enum Answer {
    Read(Option<KeyView>),
    Write(WriteResult),
}

/// A fault injected at some time.
#[derive(Debug, Clone, Copy)]
enum Chaos {
    Crash(usize),
    Restart(usize),
    Shutdown(usize),
    Partition { node: usize, ms: u64 },
}

/// The key-value server's one key.
#[derive(Debug, Default)]
struct Server {
    /// The stream's last sequence.
    sequence: u64,
    /// The live value: holder and revision.
    value: Option<(String, u64)>,
    /// The last delete or expiry marker.
    marker: Option<u64>,
}

impl Server {
    fn view(&self) -> KeyView {
        match (&self.value, self.marker) {
            (Some((holder, revision)), _) => KeyView::Held {
                revision: *revision,
                holder: holder.clone(),
            },
            (None, Some(revision)) => KeyView::Gone { revision },
            (None, None) => KeyView::Absent,
        }
    }

    fn write(&mut self, holder: &str) -> u64 {
        self.sequence += 1;
        self.value = Some((holder.to_owned(), self.sequence));
        self.sequence
    }

    fn remove(&mut self) {
        self.sequence += 1;
        self.value = None;
        self.marker = Some(self.sequence);
    }
}

/// One relay process.
#[derive(Debug)]
struct Node {
    incarnation: u32,
    leadership: Option<Leadership>,
    timer_generation: u64,
    partitioned_until: Duration,
    /// Since when it holds the upstream, if it does.
    upstream_since: Option<Duration>,
    /// Until when its driver closes the upstream and handles nothing else.
    busy_until: Duration,
}

/// Pseudo-random delays drawn from proptest's list, cyclically.
struct Noise {
    values: Vec<u16>,
    next: usize,
}

impl Noise {
    /// A value in `0..=max_ms` milliseconds.
    fn ms(&mut self, max_ms: u64) -> Duration {
        let value = self.values[self.next % self.values.len()];
        self.next += 1;
        Duration::from_millis(u64::from(value) % (max_ms + 1))
    }
}

struct Sim {
    base: Instant,
    now: Duration,
    timing: LeaderTiming,
    queue: BTreeMap<(Duration, u64), Ev>,
    seq: u64,
    server: Server,
    nodes: Vec<Node>,
    noise: Noise,
    /// Every upstream hold: (holder, from, to).
    holds: Vec<(String, Duration, Duration)>,
    /// Whether delays are those of a healthy network.
    healed: bool,
}

impl Sim {
    fn new(noise: Vec<u16>) -> Self {
        let mut sim = Self {
            base: Instant::now(),
            now: Duration::ZERO,
            timing: LeaderTiming::new(TTL),
            queue: BTreeMap::new(),
            seq: 0,
            server: Server::default(),
            nodes: Vec::new(),
            noise: Noise {
                values: noise,
                next: 0,
            },
            holds: Vec::new(),
            healed: false,
        };
        for node in 0..NODES {
            sim.nodes.push(Node {
                incarnation: 0,
                leadership: None,
                timer_generation: 0,
                partitioned_until: Duration::ZERO,
                upstream_since: None,
                busy_until: Duration::ZERO,
            });
            sim.start(node);
        }
        sim
    }

    fn at(&mut self, when: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.insert((when, self.seq), ev);
    }

    /// A one-way message delay: up to 2 s in the chaos, 300 ms once healed.
    fn delay(&mut self) -> Duration {
        let max_ms = if self.healed { 300 } else { 2_000 };
        self.noise.ms(max_ms)
    }

    fn reachable(&self, node: usize, at: Duration) -> bool {
        at >= self.nodes[node].partitioned_until
    }

    fn id(node: usize, incarnation: u32) -> String {
        format!("relay-{node}-{incarnation}")
    }

    fn start(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.incarnation += 1;
        let id = Self::id(node, n.incarnation);
        n.leadership = Some(Leadership::new(id, self.timing, self.base + self.now));
        self.settle(node);
    }

    /// The process is gone: its upstream connection closes with it.
    fn kill(&mut self, node: usize) {
        self.end_hold(node, self.now);
        let n = &mut self.nodes[node];
        n.leadership = None;
        n.incarnation += 1;
    }

    fn end_hold(&mut self, node: usize, at: Duration) {
        if let Some(since) = self.nodes[node].upstream_since.take() {
            let holder = Self::id(node, self.nodes[node].incarnation);
            self.holds.push((holder, since, at));
        }
    }

    /// Performs the relay's actions, then arms its timer.
    fn settle(&mut self, node: usize) {
        let incarnation = self.nodes[node].incarnation;
        // The driver closes the upstream before anything after it.
        let mut after_stop = Duration::ZERO;
        loop {
            let Some(leadership) = self.nodes[node].leadership.as_mut() else {
                return;
            };
            let Some(action) = leadership.poll_action() else {
                break;
            };
            let id = leadership.id().to_owned();
            let request = match action {
                LeadershipAction::Read => Request::Read,
                LeadershipAction::Create => Request::Create(id),
                LeadershipAction::Update { revision } => Request::Update(id, revision),
                LeadershipAction::Release { revision } => Request::Delete(revision),
                LeadershipAction::StartUpstream => {
                    assert!(self.nodes[node].upstream_since.is_none(), "started twice");
                    self.nodes[node].upstream_since = Some(self.now);
                    continue;
                }
                LeadershipAction::StopUpstream => {
                    // Closing takes up to half the margin.
                    let close = self.noise.ms(self.timing.margin().as_millis() as u64 / 2);
                    after_stop = close;
                    self.nodes[node].busy_until = self.now + close;
                    self.end_hold(node, self.now + close);
                    continue;
                }
                LeadershipAction::StandingBy { .. } => continue,
            };
            let sent = self.now + after_stop;
            let arrival = sent + self.delay();
            if self.reachable(node, sent) {
                self.at(
                    arrival,
                    Ev::Arrive {
                        node,
                        incarnation,
                        request,
                    },
                );
            } else {
                self.fail(node, incarnation, &request, sent);
            }
        }
        let Some(deadline) = self.nodes[node]
            .leadership
            .as_ref()
            .and_then(Leadership::poll_timeout)
        else {
            return;
        };
        // The driver wakes up to a quarter of the margin late.
        let late = self.noise.ms(self.timing.margin().as_millis() as u64 / 4);
        let when = (deadline - self.base).max(self.now) + late;
        let n = &mut self.nodes[node];
        n.timer_generation += 1;
        let generation = n.timer_generation;
        self.at(
            when,
            Ev::Timer {
                node,
                incarnation,
                generation,
            },
        );
    }

    /// A request or its answer was lost: the driver reports a failure
    /// after the request timeout.
    fn fail(&mut self, node: usize, incarnation: u32, request: &Request, sent: Duration) {
        let answer = match request {
            Request::Read => Answer::Read(None),
            Request::Create(_) | Request::Update(..) => Answer::Write(WriteResult::Failed),
            Request::Delete(_) => return,
        };
        self.at(
            sent + REQUEST_TIMEOUT,
            Ev::Answer {
                node,
                incarnation,
                answer,
            },
        );
    }

    /// The server handles a request and answers (the answer may be lost).
    fn serve(&mut self, node: usize, incarnation: u32, request: Request) {
        let before = self.server.sequence;
        let answer = match &request {
            Request::Read => Answer::Read(Some(self.server.view())),
            Request::Create(holder) if self.server.value.is_none() => {
                let revision = self.server.write(holder);
                Answer::Write(WriteResult::Written { revision })
            }
            Request::Update(holder, expected)
                if self.server.value.as_ref().map(|(_, r)| r) == Some(expected) =>
            {
                let revision = self.server.write(holder);
                Answer::Write(WriteResult::Written { revision })
            }
            Request::Create(_) | Request::Update(..) => Answer::Write(WriteResult::Conflict),
            Request::Delete(expected) => {
                if self.server.value.as_ref().map(|(_, r)| r) == Some(expected) {
                    self.server.remove();
                }
                Answer::Write(WriteResult::Conflict)
            }
        };
        if self.server.sequence != before {
            self.changed();
        }
        if matches!(request, Request::Delete(_)) {
            return;
        }
        let back = self.now + self.delay();
        if self.reachable(node, self.now) && self.reachable(node, back) {
            self.at(
                back,
                Ev::Answer {
                    node,
                    incarnation,
                    answer,
                },
            );
        } else {
            self.fail(node, incarnation, &request, self.now);
        }
    }

    /// The key changed: its expiry is scheduled (the server expires up to
    /// 300 ms late) and watchers hear of it, unless the event is lost.
    fn changed(&mut self) {
        if let Some((_, revision)) = self.server.value {
            let late = self.noise.ms(300);
            self.at(self.now + TTL + late, Ev::Expire { revision });
        }
        let key = self.server.view();
        for node in 0..NODES {
            let lost = self.noise.ms(9).as_millis() == 0;
            let delivered = self.now + self.delay();
            if self.nodes[node].leadership.is_some() && !lost && self.reachable(node, delivered) {
                let incarnation = self.nodes[node].incarnation;
                self.at(
                    delivered,
                    Ev::Watched {
                        node,
                        incarnation,
                        key: key.clone(),
                    },
                );
            }
        }
    }

    /// Runs until `until`, checking after every step.
    fn run(&mut self, until: Duration) {
        while let Some(entry) = self.queue.first_entry() {
            let (when, _) = *entry.key();
            if when > until {
                break;
            }
            let ev = entry.remove();
            self.now = when;
            self.step(ev);
        }
        self.now = until;
    }

    fn live(&self, node: usize, incarnation: u32) -> bool {
        self.nodes[node].incarnation == incarnation && self.nodes[node].leadership.is_some()
    }

    fn step(&mut self, ev: Ev) {
        let now = self.base + self.now;
        // A relay closing its upstream handles nothing else meanwhile.
        if let Ev::Timer { node, .. } | Ev::Answer { node, .. } | Ev::Watched { node, .. } = ev
            && self.now < self.nodes[node].busy_until
        {
            self.at(self.nodes[node].busy_until, ev);
            return;
        }
        match ev {
            Ev::Timer {
                node,
                incarnation,
                generation,
            } => {
                if self.live(node, incarnation) && self.nodes[node].timer_generation == generation {
                    self.leadership(node).handle_timeout(now);
                    self.settle(node);
                }
            }
            Ev::Arrive {
                node,
                incarnation,
                request,
            } => self.serve(node, incarnation, request),
            Ev::Answer {
                node,
                incarnation,
                answer,
            } => {
                if self.live(node, incarnation) {
                    match answer {
                        Answer::Read(key) => self.leadership(node).handle_read(now, key),
                        Answer::Write(result) => self.leadership(node).handle_write(now, result),
                    }
                    self.settle(node);
                }
            }
            Ev::Watched {
                node,
                incarnation,
                key,
            } => {
                if self.live(node, incarnation) {
                    self.leadership(node).handle_watch(now, key);
                    self.settle(node);
                }
            }
            Ev::Expire { revision } => {
                if self
                    .server
                    .value
                    .as_ref()
                    .is_some_and(|(_, r)| *r == revision)
                {
                    self.server.remove();
                    self.changed();
                }
            }
            Ev::Chaos(chaos) => self.chaos(chaos),
        }
    }

    fn leadership(&mut self, node: usize) -> &mut Leadership {
        self.nodes[node]
            .leadership
            .as_mut()
            .expect("only live relays get inputs")
    }

    fn chaos(&mut self, chaos: Chaos) {
        match chaos {
            Chaos::Crash(node) => self.kill(node),
            Chaos::Restart(node) => {
                if self.nodes[node].leadership.is_none() {
                    self.start(node);
                }
            }
            Chaos::Shutdown(node) => {
                if let Some(leadership) = self.nodes[node].leadership.as_mut() {
                    leadership.handle_shutdown();
                    self.settle(node);
                    // The process exits once its actions are done.
                    let n = &mut self.nodes[node];
                    n.leadership = None;
                    n.incarnation += 1;
                }
            }
            Chaos::Partition { node, ms } => {
                let until = (self.now + Duration::from_millis(ms)).min(CHAOS_END);
                let n = &mut self.nodes[node];
                n.partitioned_until = n.partitioned_until.max(until);
            }
        }
    }

    /// The relay holding the upstream now, if one does.
    fn leader(&self) -> Option<usize> {
        (0..NODES).find(|&node| self.nodes[node].upstream_since.is_some())
    }

    /// Fails if two holders' upstream holds overlap.
    fn check_exclusive(&mut self) {
        let mut holds = self.holds.clone();
        for node in 0..NODES {
            if let Some(since) = self.nodes[node].upstream_since {
                let holder = Self::id(node, self.nodes[node].incarnation);
                holds.push((holder, since, self.now));
            }
        }
        holds.sort_by_key(|(_, from, _)| *from);
        for pair in holds.windows(2) {
            let ((a, _, a_to), (b, b_from, _)) = (&pair[0], &pair[1]);
            assert!(
                a_to <= b_from,
                "{a} held the upstream until {a_to:?}, {b} from {b_from:?}: two at once"
            );
        }
    }
}

fn chaos() -> impl Strategy<Value = (u64, Chaos)> {
    let node = 0..NODES;
    let kind = prop_oneof![
        2 => node.clone().prop_map(Chaos::Crash),
        3 => node.clone().prop_map(Chaos::Restart),
        1 => node.clone().prop_map(Chaos::Shutdown),
        3 => (node, 0..12_000_u64).prop_map(|(node, ms)| Chaos::Partition { node, ms }),
    ];
    (0..CHAOS_END.as_millis() as u64, kind)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_two_leaders_and_a_standby_takes_over(
        faults in prop::collection::vec(chaos(), 0..30),
        noise in prop::collection::vec(any::<u16>(), 1..64),
    ) {
        let mut sim = Sim::new(noise);
        for (at_ms, chaos) in faults {
            sim.at(Duration::from_millis(at_ms), Ev::Chaos(chaos));
        }
        sim.run(CHAOS_END);
        sim.check_exclusive();

        // The network heals, every relay runs: one leads within a TTL
        // and 5 s.
        sim.healed = true;
        for node in 0..NODES {
            if sim.nodes[node].leadership.is_none() {
                sim.start(node);
            }
        }
        sim.run(CHAOS_END + TTL + Duration::from_secs(5));
        let leader = sim.leader();
        prop_assert!(leader.is_some(), "no leader after the healing");
        sim.run(LEADER_CRASH);
        sim.check_exclusive();

        // The leader crashes: the other leads within a TTL and 5 s.
        let crashed = sim.leader().expect("a leader stays while nothing fails");
        sim.kill(crashed);
        sim.run(LEADER_CRASH + TTL + Duration::from_secs(5));
        let took_over = sim.leader();
        prop_assert!(
            took_over.is_some_and(|node| node != crashed),
            "no takeover after relay {crashed} crashed"
        );
        sim.run(RUN_END);
        sim.check_exclusive();
    }
}

/// The timing argument's numbers: the leader gives up before the key
/// could expire even when acting as late as the test lets it.
#[test]
fn the_margin_covers_a_late_timer_and_a_slow_close() {
    let timing = LeaderTiming::new(TTL);
    assert_eq!(timing.margin(), Duration::from_millis(1250));
    assert!(timing.renew_every() * 2 < timing.ttl() - timing.margin());
    assert!(timing.check_every() <= Duration::from_secs(1));
    assert!(timing.margin() / 4 + timing.margin() / 2 < timing.margin());
}

/// A standby that sees the leader's key stands by; once the key is gone
/// it creates it and only then starts the upstream.
#[test]
fn a_standby_leads_only_after_winning_the_key() {
    let now = Instant::now();
    let mut leadership = Leadership::new("b", LeaderTiming::new(TTL), now);
    assert_eq!(leadership.poll_action(), Some(LeadershipAction::Read));
    let held = KeyView::Held {
        revision: 3,
        holder: "a".to_owned(),
    };
    leadership.handle_read(now, Some(held));
    assert_eq!(
        leadership.poll_action(),
        Some(LeadershipAction::StandingBy {
            leader: "a".to_owned()
        })
    );
    assert_eq!(leadership.poll_action(), None);
    leadership.handle_watch(now, KeyView::Gone { revision: 4 });
    assert_eq!(leadership.poll_action(), Some(LeadershipAction::Create));
    assert!(
        !leadership.is_leader(),
        "not before the create is confirmed"
    );
    leadership.handle_write(now, WriteResult::Conflict);
    assert_eq!(leadership.poll_action(), Some(LeadershipAction::Read));
    leadership.handle_read(now, Some(KeyView::Gone { revision: 5 }));
    assert_eq!(leadership.poll_action(), Some(LeadershipAction::Create));
    leadership.handle_write(now, WriteResult::Written { revision: 6 });
    assert_eq!(
        leadership.poll_action(),
        Some(LeadershipAction::StartUpstream)
    );
    assert!(leadership.is_leader());

    // A clean shutdown closes the upstream, then releases the key.
    leadership.handle_shutdown();
    assert_eq!(
        leadership.poll_action(),
        Some(LeadershipAction::StopUpstream)
    );
    assert_eq!(
        leadership.poll_action(),
        Some(LeadershipAction::Release { revision: 6 })
    );
    assert_eq!(leadership.poll_timeout(), None);
}
