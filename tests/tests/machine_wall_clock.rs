//! The wall-clock times of `Gap` and `Resumed`: the loss, the resume and
//! the last data message's own timestamp, across reconnects and unsubscribes.

#[path = "machine_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;
use tickwire_alpaca::{AlpacaMarketData, Channel, Encoding, MarketData};
use tickwire_core::machine::{ConnectionEpoch, Event, Machine, State};
use tickwire_core::{Timestamp, TransportError, WallClock};

/// The wall-clock time of the fixture's start.
const START: &str = "2024-01-02T14:30:00Z";

fn start() -> Timestamp {
    START.parse().expect("test timestamp")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

/// A market-data fixture whose machine reads `START` at the fixture's `now`.
fn market_on_the_wall_clock() -> Fixture<AlpacaMarketData> {
    let now = Instant::now();
    let mut config = config();
    config.wall_clock = Some(WallClock::new(now, start()));
    Fixture::new(
        Machine::symbol_stream(config, AlpacaMarketData::new(Encoding::Json)),
        now,
    )
}

/// The wall-clock time `elapsed` after the start.
fn wall_after(elapsed: Duration) -> Timestamp {
    Timestamp::from_unix_nanos((start().unix_nanos() + elapsed.as_nanos() as i128) as i64)
}

fn wall(seconds: u64) -> Timestamp {
    wall_after(Duration::from_secs(seconds))
}

fn trade_at(f: &mut Fixture<AlpacaMarketData>, epoch: ConnectionEpoch, id: u64, time: &str) {
    f.server(epoch, &format!("[{}]", trade_json("AAPL", id, at(time))));
}

fn lose(f: &mut Fixture<AlpacaMarketData>, epoch: ConnectionEpoch) {
    f.transport_error(epoch, &TransportError::Io("reset".into()));
}

/// Waits (in virtual time) until the machine dials again, then completes
/// the connection; returns its epoch.
fn reconnect(f: &mut Fixture<AlpacaMarketData>) -> ConnectionEpoch {
    for _ in 0..10_000 {
        if matches!(f.state(), State::Connecting { .. }) {
            break;
        }
        f.advance_stepwise(Duration::from_millis(100));
    }
    f.complete_connection()
}

/// The wall-clock time the fixture's machine should give `f.now`.
fn wall_now(f: &Fixture<AlpacaMarketData>, started: Instant) -> Timestamp {
    wall_after(f.now - started)
}

type Times = (Option<Timestamp>, Option<Timestamp>);

/// The gaps' `(lost_at, last_data_at)`, in order.
fn gaps(events: &[Event<MarketData, Channel>]) -> Vec<Times> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Gap {
                lost_at,
                last_data_at,
                ..
            } => Some((*lost_at, *last_data_at)),
            _ => None,
        })
        .collect()
}

/// The resumes' `(lost_at, resumed_at, last_data_at)`, in order.
fn resumes(events: &[Event<MarketData, Channel>]) -> Vec<(Times, Option<Timestamp>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Resumed {
                lost_at,
                resumed_at,
                last_data_at,
                ..
            } => Some(((*lost_at, *last_data_at), *resumed_at)),
            _ => None,
        })
        .collect()
}

#[test]
fn gaps_and_resumes_carry_the_wall_clock_across_several_reconnects() {
    let mut f = market_on_the_wall_clock();
    let started = f.now;
    let first = f.live_with(Channel::Trades, &["AAPL"]);
    trade_at(&mut f, first, 1, "2024-01-02T14:29:59.5Z");
    trade_at(&mut f, first, 2, "2024-01-02T14:29:59.8Z");
    f.advance(Duration::from_secs(10));
    lose(&mut f, first);
    let first_gap = (Some(wall(10)), Some(at("2024-01-02T14:29:59.8Z")));
    assert_eq!(gaps(&f.events), [first_gap]);

    // A failed attempt in the middle neither ends the gap nor opens another.
    f.advance_stepwise(Duration::from_secs(2));
    let attempt = f.last_connect().expect("a reconnect");
    assert_ne!(attempt, first);
    f.machine.handle_connected(f.now, attempt);
    lose(&mut f, attempt);
    assert_eq!(gaps(&f.events).len(), 1);
    assert!(resumes(&f.events).is_empty());
    let second = reconnect(&mut f);
    let resumed_at = wall_now(&f, started);
    assert!(resumed_at >= wall(12), "after the failed attempt");
    assert_eq!(resumes(&f.events), [(first_gap, Some(resumed_at))]);

    // The second gap names the data that came since.
    trade_at(&mut f, second, 3, "2024-01-02T14:30:20.25Z");
    f.advance(Duration::from_secs(13));
    let second_lost_at = wall_now(&f, started);
    lose(&mut f, second);
    let second_gap = (Some(second_lost_at), Some(at("2024-01-02T14:30:20.25Z")));
    assert_eq!(gaps(&f.events), [first_gap, second_gap]);
    reconnect(&mut f);
    let resumed = resumes(&f.events);
    assert_eq!(resumed.len(), 2);
    assert_eq!(resumed[1], (second_gap, Some(wall_now(&f, started))));
    assert!(resumed[1].1 > Some(second_lost_at));
}

#[test]
fn a_gap_that_spans_an_unsubscribe_keeps_its_times_until_it_resumes() {
    let mut f = market_on_the_wall_clock();
    let first = f.live_with(Channel::Trades, &["AAPL"]);
    trade_at(&mut f, first, 1, "2024-01-02T14:29:58Z");
    f.advance(Duration::from_secs(1));
    lose(&mut f, first);
    let gap = (Some(wall(1)), Some(at("2024-01-02T14:29:58Z")));
    assert_eq!(gaps(&f.events), [gap]);

    f.machine
        .unsubscribe(f.now, Channel::Trades, [sym("AAPL")])
        .expect("unsubscribe");
    f.drain();
    assert_eq!(f.state(), &State::Idle);
    f.advance_stepwise(Duration::from_secs(600));
    f.live_with(Channel::Trades, &["MSFT"]);
    assert_eq!(resumes(&f.events), [(gap, Some(wall(601)))]);
    assert_eq!(gaps(&f.events).len(), 1, "no second gap");
}

#[test]
fn without_data_or_a_wall_clock_the_times_are_absent() {
    let mut f = market_on_the_wall_clock();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    lose(&mut f, epoch);
    assert_eq!(gaps(&f.events), [(Some(start()), None)], "no data yet");

    let mut f = Fixture::market();
    let epoch = f.live_with(Channel::Trades, &["AAPL"]);
    f.server(epoch, &trades_frame("AAPL", 1, 1));
    lose(&mut f, epoch);
    assert_eq!(gaps(&f.events), [(None, Some(trade_time(1)))]);
    reconnect(&mut f);
    assert_eq!(resumes(&f.events), [((None, Some(trade_time(1))), None)]);
}

#[test]
fn the_wall_clock_reads_before_and_after_its_anchor() {
    let anchor = Instant::now() + Duration::from_secs(10);
    let clock = WallClock::new(anchor, Timestamp::from_unix_nanos(5_000_000_000));
    assert_eq!(clock.at(anchor).unix_nanos(), 5_000_000_000);
    let before = clock.at(anchor - Duration::from_millis(250));
    assert_eq!(before.unix_nanos(), 4_750_000_000);
    let after = clock.at(anchor + Duration::from_nanos(7));
    assert_eq!(after.unix_nanos(), 5_000_000_007);
}

#[test]
fn the_wall_clock_saturates_instead_of_wrapping() {
    let anchor = Instant::now();
    let clock = WallClock::new(anchor, Timestamp::from_unix_nanos(i64::MAX - 1));
    let far = clock.at(anchor + Duration::from_secs(10));
    assert_eq!(far.unix_nanos(), i128::from(i64::MAX));
}
