//! `MarketBackfill` against the simulated exchange: whatever a gap hides,
//! every trade and minute bar of the tape reaches the application once,
//! live or backfilled (the exchange's REST API reads the same tape it
//! streams).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tickwire_alpaca::SubscriptionSet;
use tickwire_core::machine::{ConnectionEpoch, Event};
use tickwire_core::{Frame, Symbol};
use tickwire_mock::{Account, Endpoint, Exchange, ExchangeConfig, Output};
use tickwire_recovery::RecoveryConfig;
use tickwire_ws::{Backfill, BackfillOutput, Channel, MarketBackfill, MarketData};

const KEY: &str = "PKBACKFILL";
const SECRET: &str = "backfill-secret";
const SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

/// What the application saw: each message with whether it was backfilled.
type Seen = Vec<(MarketData, bool)>;

/// Hands the backfill's outputs on, answering fetches from `exchange`
/// at `now`; the number of fetches.
fn drain(
    backfill: &mut MarketBackfill,
    exchange: &Exchange,
    now: Instant,
    seen: &mut Seen,
) -> usize {
    let mut fetches = 0;
    while let Some(output) = backfill.poll_output() {
        match output {
            BackfillOutput::Deliver { data, backfilled } => seen.push((data, backfilled)),
            BackfillOutput::Fetch(fetch) => {
                fetches += 1;
                let (path, query) = fetch.path_and_query.split_once('?').expect("a query");
                let answer = match path {
                    "/v2/stocks/trades" => exchange.rest_trades(KEY, SECRET, query, now),
                    _ => exchange.rest_bars(KEY, SECRET, query, now),
                };
                assert_eq!(
                    answer.status, 200,
                    "{}: {}",
                    fetch.path_and_query, answer.body
                );
                backfill.handle_page(&fetch, answer.body.as_bytes());
            }
            BackfillOutput::Abandoned(why) => panic!("{why}"),
        }
    }
    fetches
}

/// A subscriber of AAPL and MSFT trades and bars for `span`, its
/// stream down during `gap`: what the application saw, the exchange
/// and the end.
fn run(seed: u64, span: Duration, gap: (Duration, Duration)) -> (Seen, Exchange, Instant, usize) {
    run_with_early_data(seed, span, gap, Duration::ZERO)
}

/// As [`run`], data flowing again `early` before the `Resumed` (as the
/// first acknowledged chunks of a large subscription do).
fn run_with_early_data(
    seed: u64,
    span: Duration,
    gap: (Duration, Duration),
    early: Duration,
) -> (Seen, Exchange, Instant, usize) {
    let start = Instant::now();
    let mut exchange = Exchange::new(
        ExchangeConfig::new(seed).with_account(Account::new(KEY, SECRET)),
        start,
    );
    let session = exchange.open(start, "/v2/iex", &[]).expect("opens");
    let auth = format!(r#"{{"action":"auth","key":"{KEY}","secret":"{SECRET}"}}"#);
    let subscribe = r#"{"action":"subscribe","trades":["AAPL","MSFT"],"bars":["AAPL","MSFT"]}"#;
    for frame in [auth.as_str(), subscribe] {
        exchange.handle_frame(start, session, Frame::text(frame.to_owned()));
    }
    let mut backfill = MarketBackfill::new(
        Backfill::TRADES | Backfill::BARS,
        "iex",
        RecoveryConfig::default(),
    );
    let mut confirmed = SubscriptionSet::new();
    for symbol in SYMBOLS {
        confirmed.insert(Channel::Trades, Symbol::from_server(symbol));
        confirmed.insert(Channel::Bars, Symbol::from_server(symbol));
    }
    backfill.handle_event(&Event::Confirmed(confirmed));
    let (mut seen, mut fetches, mut resumed, mut last_data_at) = (Vec::new(), 0, false, None);
    let mut lost = false;
    let mut now = start;
    loop {
        while let Some((_, output)) = exchange.poll_output() {
            let Output::Frame(frame) = output else {
                continue;
            };
            let in_gap = now >= start + gap.0 && now < start + gap.1 - early;
            let Ok(messages) = serde_json::from_slice::<Vec<MarketData>>(frame.payload()) else {
                continue; // control messages
            };
            for data in messages.into_iter().filter(|_| !in_gap) {
                last_data_at = match &data {
                    MarketData::Trade(t) => Some(t.timestamp),
                    MarketData::Bar(b) => Some(b.timestamp),
                    _ => last_data_at,
                };
                backfill.handle_event(&Event::Data(data));
                fetches += drain(&mut backfill, &exchange, now, &mut seen);
            }
        }
        let Some(t) = exchange.poll_timeout().filter(|t| *t <= start + span) else {
            break;
        };
        if !lost && t >= start + gap.0 {
            lost = true;
            let loss: Event<MarketData, Channel> = Event::Gap {
                epoch: ConnectionEpoch::default(),
                since: start + gap.0,
                lost_at: Some(exchange.wall_clock(start + gap.0)),
                last_data_at,
            };
            backfill.handle_event(&loss);
        }
        if !resumed && t >= start + gap.1 {
            resumed = true;
            let resume: Event<MarketData, Channel> = Event::Resumed {
                epoch: ConnectionEpoch::default(),
                gap_since: start + gap.0,
                lost_for: gap.1 - gap.0,
                lost_at: Some(exchange.wall_clock(start + gap.0)),
                resumed_at: Some(exchange.wall_clock(t)),
                last_data_at,
            };
            backfill.handle_event(&resume);
            fetches += drain(&mut backfill, &exchange, t, &mut seen);
        }
        exchange.handle_timeout(t);
        now = t;
    }
    (seen, exchange, now, fetches)
}

/// Checks that every trade and minute bar of the tape up to `end`
/// was seen once; how many of each were backfilled.
fn check_once_each(
    seen: &Seen,
    exchange: &Exchange,
    end: Instant,
) -> Result<(usize, usize), String> {
    let (mut trades, mut bars) = (BTreeSet::new(), BTreeSet::new());
    let mut backfilled = (0, 0);
    for (data, from_rest) in seen {
        match data {
            MarketData::Trade(t) => {
                if !trades.insert((t.symbol.clone(), t.id)) {
                    return Err(format!("twice: {t:?}"));
                }
                backfilled.0 += usize::from(*from_rest);
            }
            MarketData::Bar(b) => {
                if !bars.insert((b.symbol.clone(), b.timestamp)) {
                    return Err(format!("twice: {b:?}"));
                }
                backfilled.1 += usize::from(*from_rest);
            }
            _ => {}
        }
    }
    // The whole tape up to the end (later ticks have not happened).
    let from = exchange.config().wall_clock_start;
    let to = exchange.wall_clock(end).saturating_add_nanos(1_000_000_000);
    for symbol in SYMBOLS.map(Symbol::from_server) {
        for trade in exchange.tape_trades(Endpoint::Iex, &symbol, from, to, end) {
            if !trades.remove(&(symbol.clone(), trade.id)) {
                return Err(format!("missing {trade:?}"));
            }
        }
        for bar in exchange.tape_bars(Endpoint::Iex, &symbol, from, to, end) {
            if !bars.remove(&(symbol.clone(), bar.timestamp)) {
                return Err(format!("missing {bar:?}"));
            }
        }
    }
    if !(trades.is_empty() && bars.is_empty()) {
        return Err(format!("not on the tape: {trades:?} {bars:?}"));
    }
    Ok(backfilled)
}

#[test]
fn after_a_gap_over_a_minute_boundary_trades_and_bars_are_backfilled() {
    let (seen, exchange, end, fetches) = run(
        4,
        Duration::from_secs(200),
        (Duration::from_secs(50), Duration::from_secs(130)),
    );
    assert_eq!(fetches, 2, "one page of trades, one of bars");
    let (trades, bars) =
        check_once_each(&seen, &exchange, end).unwrap_or_else(|why| panic!("{why}"));
    assert!(
        trades > 300 && bars >= 2,
        "the gap hid data that was backfilled: {trades} trades, {bars} bars"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Wherever a gap falls and however long it lasts, every trade
    /// and bar of the tape arrives once, live or backfilled.
    #[test]
    fn every_trade_and_bar_of_the_tape_arrives_once(
        seed in 0..1_000_u64,
        start_ms in 1_000..150_000_u64,
        length_ms in 5_000..100_000_u64,
    ) {
        let gap = (Duration::from_millis(start_ms), Duration::from_millis(start_ms + length_ms));
        let (seen, exchange, end, _) = run(seed, gap.1 + Duration::from_secs(70), gap);
        let (trades, _) = check_once_each(&seen, &exchange, end).map_err(proptest::test_runner::TestCaseError::fail)?;
        proptest::prop_assert!(trades > 0, "a gap of {length_ms} ms hid trades");
    }

    /// Data that flows again before the `Resumed` (the first chunks of
    /// a large subscription acknowledged) does not move the window
    /// past what the gap hid.
    #[test]
    fn data_before_the_resume_does_not_shorten_the_window(
        seed in 0..1_000_u64,
        start_ms in 1_000..150_000_u64,
        length_ms in 5_000..100_000_u64,
        early_ms in 100..4_000_u64,
    ) {
        let gap = (Duration::from_millis(start_ms), Duration::from_millis(start_ms + length_ms));
        let early = Duration::from_millis(early_ms.min(length_ms - 1_000));
        let (seen, exchange, end, _) =
            run_with_early_data(seed, gap.1 + Duration::from_secs(70), gap, early);
        let (trades, _) = check_once_each(&seen, &exchange, end).map_err(proptest::test_runner::TestCaseError::fail)?;
        proptest::prop_assert!(trades > 0, "a gap of {length_ms} ms hid trades");
    }
}
