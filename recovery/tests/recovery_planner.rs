//! The recovery planner (`tickwire_recovery`): windows from resumes,
//! pages followed, fetched and live records merged, each delivered once.
//!
//! Edge cases one by one, then a property test over random interleavings of
//! live records, losses, resumes and pages (overlapping, repeated, late,
//! looping).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use tickwire_core::Timestamp;
use tickwire_recovery::{
    Fetch, Page, Recoverable, Recovery, RecoveryConfig, RecoveryError, RecoveryOutput, Source,
    WindowId,
};

/// A record of the simulated history: id `n` is stamped `n` microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec(u64);

impl Recoverable for Rec {
    type Key = u64;
    fn key(&self) -> u64 {
        self.0
    }
    fn timestamp(&self) -> Timestamp {
        micros(self.0)
    }
}

fn micros(n: u64) -> Timestamp {
    Timestamp::from_unix_nanos(n as i64 * 1_000)
}

fn config() -> RecoveryConfig {
    let mut config = RecoveryConfig::default();
    config.margin = Duration::from_micros(2);
    config.keep_for = Duration::from_micros(5);
    config.windows_max = 64;
    config.pages_max = 50;
    config
}

/// What the planner put out since the last call, sorted into kinds.
#[derive(Debug, Default)]
struct Drained {
    live: Vec<u64>,
    recovered: Vec<(WindowId, u64)>,
    fetches: Vec<Fetch>,
    done: Vec<(WindowId, u64)>,
    abandoned: Vec<(Option<WindowId>, RecoveryError)>,
}

fn drain(recovery: &mut Recovery<Rec>) -> Drained {
    let mut out = Drained::default();
    while let Some(output) = recovery.poll_output() {
        match output {
            RecoveryOutput::Deliver(d) => match d.source {
                Source::Live => out.live.push(d.record.0),
                Source::Recovered(window) => out.recovered.push((window, d.record.0)),
            },
            RecoveryOutput::Fetch(fetch) => out.fetches.push(fetch),
            RecoveryOutput::Done { window, recovered } => out.done.push((window, recovered)),
            RecoveryOutput::Abandoned { window, error } => out.abandoned.push((window, error)),
        }
    }
    out
}

fn page(ids: impl IntoIterator<Item = u64>, next: Option<&str>) -> Page<Rec> {
    Page {
        records: ids.into_iter().map(Rec).collect(),
        next_page_token: next.map(str::to_owned),
    }
}

/// Live 1..=10, lost at 11, resumed at 20: one window, its first page asked for.
fn after_a_gap(recovery: &mut Recovery<Rec>) -> Fetch {
    for id in 1..=10 {
        recovery.handle_live(Rec(id));
    }
    recovery.handle_resumed(Some(micros(11)), Some(micros(20)), Some(micros(10)));
    let mut out = drain(recovery);
    assert_eq!(out.live, (1..=10).collect::<Vec<_>>());
    assert_eq!(out.fetches.len(), 1);
    out.fetches.remove(0)
}

#[test]
fn the_window_runs_from_the_last_message_to_the_resume_widened_by_the_margin() {
    let mut recovery = Recovery::new(config());
    let fetch = after_a_gap(&mut recovery);
    assert_eq!((fetch.from, fetch.to), (micros(8), micros(22)));
    assert_eq!(fetch.page_token, None);
    assert_eq!(recovery.open_windows(), 1);
}

/// Live data may arrive between a gap and its resume (on the new connection,
/// before it is live): however much, the keys the coming window reaches back
/// to stay remembered, so its page brings nothing twice.
#[test]
fn live_data_between_a_gap_and_its_resume_pushes_out_no_key_the_window_needs() {
    let mut recovery = Recovery::new(config());
    for id in 1..=10 {
        recovery.handle_live(Rec(id));
    }
    recovery.handle_gap(Some(micros(11)), Some(micros(10)));
    // Far more than `keep_for` (5 µs) of live data before the resume.
    for id in 30..=40 {
        recovery.handle_live(Rec(id));
    }
    recovery.handle_resumed(Some(micros(11)), Some(micros(41)), Some(micros(10)));
    let mut out = drain(&mut recovery);
    assert_eq!(
        out.live,
        [(1..=10).collect::<Vec<_>>(), (30..=40).collect()].concat()
    );
    let fetch = out.fetches.remove(0);
    recovery.handle_page(&fetch, page(8..=40, None));
    let out = drain(&mut recovery);
    let recovered: Vec<u64> = out.recovered.iter().map(|(_, id)| *id).collect();
    assert_eq!(recovered, (11..=29).collect::<Vec<_>>());
}

/// A gap without any data message before it starts where the latest
/// window ended, not at the loss: a hang is noticed long after the
/// connection went quiet.
#[test]
fn a_gap_without_data_starts_where_the_last_window_ended() {
    let mut recovery = Recovery::new(config());
    recovery.handle_resumed(Some(micros(10)), Some(micros(20)), None);
    let first = drain(&mut recovery).fetches.remove(0);
    assert_eq!(first.from, micros(8));
    recovery.handle_page(&first, page([], None));
    drain(&mut recovery);
    // Quiet from 20 on, the loss noticed at 50.
    recovery.handle_resumed(Some(micros(50)), Some(micros(60)), None);
    let second = drain(&mut recovery).fetches.remove(0);
    assert_eq!(second.from, micros(18));
}

#[test]
fn a_fetched_record_identical_to_a_live_one_at_either_edge_is_delivered_once() {
    let mut recovery = Recovery::new(config());
    let fetch = after_a_gap(&mut recovery);
    // Live again: 20 and 21 arrive before the page, which repeats them and 8–10.
    recovery.handle_live(Rec(20));
    recovery.handle_live(Rec(21));
    recovery.handle_page(&fetch, page(8..=22, None));
    // 22 came in the page first; live now repeats it.
    recovery.handle_live(Rec(22));
    let out = drain(&mut recovery);
    assert_eq!(out.live, [20, 21]);
    let recovered: Vec<u64> = out.recovered.iter().map(|(_, id)| *id).collect();
    assert_eq!(recovered, (11..=19).chain([22]).collect::<Vec<_>>());
    assert_eq!(out.done, [(fetch.window, 10)]);
}

#[test]
fn a_repeated_page_delivers_nothing_twice_and_asks_for_nothing_again() {
    let mut recovery = Recovery::new(config());
    let first = after_a_gap(&mut recovery);
    recovery.handle_page(&first, page(11..=14, Some("p2")));
    let out = drain(&mut recovery);
    assert_eq!(out.recovered.len(), 4);
    let second = out.fetches.into_iter().next().expect("the next page");
    assert_eq!(second.page_token.as_deref(), Some("p2"));

    recovery.handle_page(&first, page(11..=14, Some("p2")));
    let out = drain(&mut recovery);
    assert!(
        out.recovered.is_empty() && out.fetches.is_empty(),
        "{out:?}"
    );

    recovery.handle_page(&second, page(15..=19, None));
    recovery.handle_page(&second, page(15..=19, None));
    let out = drain(&mut recovery);
    assert_eq!(out.recovered.len(), 5);
    assert_eq!(out.done, [(first.window, 9)]);
    assert_eq!(recovery.open_windows(), 0);
}

#[test]
fn an_empty_window_is_done_with_nothing_recovered() {
    let mut recovery = Recovery::new(config());
    let fetch = after_a_gap(&mut recovery);
    recovery.handle_page(&fetch, page([], None));
    let out = drain(&mut recovery);
    assert!(out.recovered.is_empty());
    assert_eq!(out.done, [(fetch.window, 0)]);
}

#[test]
fn pages_that_loop_or_never_end_abandon_the_window() {
    let mut recovery = Recovery::new(config());
    let mut fetch = after_a_gap(&mut recovery);
    recovery.handle_page(&fetch, page([11], Some("a")));
    fetch = drain(&mut recovery).fetches.remove(0);
    recovery.handle_page(&fetch, page([12], Some("a")));
    let out = drain(&mut recovery);
    assert_eq!(out.recovered.len(), 1, "the page's records still count");
    assert_eq!(
        out.abandoned,
        [(
            Some(fetch.window),
            RecoveryError::RepeatedPageToken("a".into())
        )]
    );
    // A late page of the abandoned window is ignored.
    recovery.handle_page(&fetch, page([13], None));
    assert!(drain(&mut recovery).recovered.is_empty());

    let mut recovery = Recovery::new(config());
    let mut fetch = after_a_gap(&mut recovery);
    for n in 0.. {
        recovery.handle_page(&fetch, page([], Some(&format!("t{n}"))));
        let mut out = drain(&mut recovery);
        if let Some((_, error)) = out.abandoned.pop() {
            assert_eq!(error, RecoveryError::TooManyPages(50));
            assert_eq!(n, 49);
            break;
        }
        fetch = out.fetches.remove(0);
    }
}

#[test]
fn a_resume_without_wall_clock_times_opens_nothing_and_says_why() {
    let mut recovery = Recovery::<Rec>::new(config());
    recovery.handle_resumed(None, None, None);
    let out = drain(&mut recovery);
    assert_eq!(out.abandoned, [(None, RecoveryError::NoWallClock)]);
    assert_eq!(recovery.open_windows(), 0);
}

#[test]
fn a_failed_fetch_abandons_its_window() {
    let mut recovery = Recovery::new(config());
    let fetch = after_a_gap(&mut recovery);
    recovery.handle_fetch_failed(&fetch, "HTTP 500 five times");
    let out = drain(&mut recovery);
    assert_eq!(
        out.abandoned,
        [(
            Some(fetch.window),
            RecoveryError::Fetch("HTTP 500 five times".into())
        )]
    );
}

#[test]
fn memory_is_bounded_by_the_keep_time_and_the_key_limit() {
    let mut recovery = Recovery::new(config());
    for id in 0..10_000 {
        recovery.handle_live(Rec(id));
    }
    // Up to 5 us behind the newest: ids 9994..=9999.
    assert_eq!(recovery.remembered_keys(), 6);

    let mut small = config();
    small.keep_for = Duration::from_secs(3600);
    small.keys_max = 100;
    let mut recovery = Recovery::new(small);
    for id in 0..10_000 {
        recovery.handle_live(Rec(id));
    }
    assert_eq!(recovery.remembered_keys(), 100);
}

/// One step of a random run against a simulated history.
#[derive(Debug, Clone)]
enum Step {
    /// The exchange makes `n` records (the stream delivers them when up).
    Produce(u64),
    /// The connection is lost.
    Lose,
    /// The stream is live again.
    Resume,
    /// The server answers a pending fetch with `size` records, starting
    /// `overlap` records before where the token points.
    Serve {
        pick: usize,
        size: usize,
        overlap: usize,
    },
    /// A page already handled arrives again.
    Repeat(usize),
    /// The server answers a pending fetch naming a token it named before.
    Loop(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..6).prop_map(Step::Produce),
        1 => Just(Step::Lose),
        1 => Just(Step::Resume),
        3 => (any::<usize>(), 0usize..6, 0usize..3)
            .prop_map(|(pick, size, overlap)| Step::Serve { pick, size, overlap }),
        1 => any::<usize>().prop_map(Step::Repeat),
        1 => any::<usize>().prop_map(Step::Loop),
    ]
}

/// The simulated exchange, stream and REST server around one planner.
struct Run {
    recovery: Recovery<Rec>,
    /// The next record the exchange makes (its id is also the time).
    next: u64,
    up: bool,
    lost_at: u64,
    last_live: Option<u64>,
    pending: Vec<Fetch>,
    handled: Vec<(Fetch, Page<Rec>)>,
    windows: BTreeMap<WindowId, (Timestamp, Timestamp)>,
    abandoned: BTreeSet<WindowId>,
    /// Windows done or abandoned.
    closed: BTreeSet<WindowId>,
    /// Every record either source handed the planner.
    seen: BTreeSet<u64>,
    delivered: Vec<u64>,
}

impl Run {
    fn new() -> Self {
        let mut many_pages = config();
        many_pages.pages_max = 10_000;
        Self {
            recovery: Recovery::new(many_pages),
            next: 1,
            up: true,
            lost_at: 0,
            last_live: None,
            pending: Vec::new(),
            handled: Vec::new(),
            windows: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            closed: BTreeSet::new(),
            seen: BTreeSet::new(),
            delivered: Vec::new(),
        }
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Produce(n) => {
                for _ in 0..n {
                    if self.up {
                        self.seen.insert(self.next);
                        self.last_live = Some(self.next);
                        self.recovery.handle_live(Rec(self.next));
                    }
                    self.next += 1;
                }
            }
            Step::Lose if self.up => {
                self.up = false;
                self.lost_at = self.next;
            }
            Step::Resume if !self.up => {
                self.up = true;
                let last = self.last_live.map(micros);
                let (lost, resumed) = (micros(self.lost_at), micros(self.next));
                self.recovery
                    .handle_resumed(Some(lost), Some(resumed), last);
            }
            Step::Serve {
                pick,
                size,
                overlap,
            } if !self.pending.is_empty() => {
                let fetch = self.pending.remove(pick % self.pending.len());
                let page = self.page_for(&fetch, size, overlap);
                self.handle(fetch, page);
            }
            Step::Repeat(pick) if !self.handled.is_empty() => {
                let (fetch, page) = self.handled[pick % self.handled.len()].clone();
                self.handle(fetch, page);
            }
            Step::Loop(pick) if !self.pending.is_empty() => {
                let fetch = self.pending.remove(pick % self.pending.len());
                let mut page = self.page_for(&fetch, 1, 0);
                page.next_page_token = Some(fetch.page_token.clone().unwrap_or("0".into()));
                self.handle(fetch, page);
            }
            _ => {}
        }
        self.drain();
    }

    /// The server's page: the history of `[from, to]` made so far, `size`
    /// records from the token's offset (less `overlap`).
    fn page_for(&self, fetch: &Fetch, size: usize, overlap: usize) -> Page<Rec> {
        let in_window: Vec<u64> = (1..self.next)
            .filter(|id| (fetch.from..=fetch.to).contains(&micros(*id)))
            .collect();
        let offset: usize = fetch
            .page_token
            .as_deref()
            .map_or(0, |t| t.parse().unwrap());
        let end = (offset + size.max(1)).min(in_window.len());
        let start = offset.saturating_sub(overlap).min(end);
        Page {
            records: in_window[start..end].iter().copied().map(Rec).collect(),
            next_page_token: (end < in_window.len()).then(|| end.to_string()),
        }
    }

    fn handle(&mut self, fetch: Fetch, page: Page<Rec>) {
        if self.closed.contains(&fetch.window) {
            // The planner ignores pages of closed windows; so does the check
            // (what it delivers still counts against "nothing twice").
            self.recovery.handle_page(&fetch, page);
            return;
        }
        self.seen.extend(page.records.iter().map(|r| r.0));
        self.handled.push((fetch.clone(), page.clone()));
        self.recovery.handle_page(&fetch, page);
    }

    fn drain(&mut self) {
        let out = drain(&mut self.recovery);
        for fetch in &out.fetches {
            self.windows.insert(fetch.window, (fetch.from, fetch.to));
        }
        self.pending.extend(out.fetches);
        self.abandoned
            .extend(out.abandoned.iter().filter_map(|(window, _)| *window));
        self.closed.extend(self.abandoned.iter().copied());
        self.closed
            .extend(out.done.iter().map(|(window, _)| *window));
        self.pending.retain(|f| !self.closed.contains(&f.window));
        self.delivered.extend(out.live);
        let mut previous = None;
        for (_, id) in out.recovered {
            assert!(previous <= Some(id), "a page is delivered oldest first");
            previous = Some(id);
            self.delivered.push(id);
        }
    }

    /// Serves every pending fetch to its end, faultlessly.
    fn finish(&mut self) {
        self.apply(&Step::Resume);
        while let Some(fetch) = self.pending.pop() {
            let page = self.page_for(&fetch, 4, 1);
            self.handle(fetch, page);
            self.drain();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_twice_and_nothing_missing(steps in proptest::collection::vec(step(), 1..80)) {
        let mut run = Run::new();
        for step in &steps {
            run.apply(step);
        }
        run.finish();
        let delivered: BTreeSet<u64> = run.delivered.iter().copied().collect();
        prop_assert_eq!(delivered.len(), run.delivered.len(), "delivered twice: {:?}", run.delivered);
        prop_assert!(delivered.is_superset(&run.seen), "missing: {:?}", run.seen.difference(&delivered).collect::<Vec<_>>());
        prop_assert_eq!(run.recovery.open_windows(), 0);
        // Everything the exchange made after the first record is there,
        // unless only an abandoned window would have fetched it.
        for id in 1..run.next {
            let in_abandoned = run.abandoned.iter().any(|w| {
                let (from, to) = run.windows[w];
                (from..=to).contains(&micros(id))
            });
            prop_assert!(delivered.contains(&id) || in_abandoned, "record {} lost", id);
        }
    }
}

proptest! {
    /// The machine's clock (loss and resume times) may be far off the
    /// server's (record times): an hour either way, the window still holds
    /// every record the gap hid, and a page of them recovers each once.
    #[test]
    fn a_clock_an_hour_off_the_servers_still_recovers_the_whole_gap(
        offset_us in -3_600_000_000i64..=3_600_000_000,
        gap_us in 1u64..600_000_000,
    ) {
        let mut recovery = Recovery::new(config());
        let on_machine = |server_us: u64| {
            Timestamp::from_unix_nanos((server_us as i64 + offset_us) * 1_000)
        };
        let last_live = 10_000_000_000u64;
        let resumed = last_live + gap_us + 1;
        recovery.handle_live(Rec(last_live));
        recovery.handle_gap(Some(on_machine(last_live)), Some(micros(last_live)));
        recovery.handle_resumed(
            Some(on_machine(last_live)),
            Some(on_machine(resumed)),
            Some(micros(last_live)),
        );
        recovery.handle_live(Rec(resumed));
        let fetch = drain(&mut recovery).fetches.pop().expect("a window");
        prop_assert!(fetch.from <= micros(last_live + 1), "{fetch:?}");
        prop_assert!(fetch.to >= micros(resumed - 1), "{fetch:?}");
        let hidden: Vec<Rec> = [last_live + 1, last_live + gap_us / 2 + 1, resumed - 1]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(Rec)
            .collect();
        let wanted: Vec<u64> = hidden.iter().map(|r| r.0).collect();
        let mut page = hidden;
        page.push(Rec(last_live));
        page.push(Rec(resumed));
        recovery.handle_page(&fetch, Page { records: page, next_page_token: None });
        let recovered: Vec<u64> = drain(&mut recovery).recovered.into_iter().map(|(_, id)| id).collect();
        prop_assert_eq!(recovered, wanted);
    }
}
