//! Backfill over a real socket: a market-data stream with trade backfill
//! on, against the loopback exchange, which serves the historical API on
//! the stream's own port. After a gap of refused reconnects, every trade of
//! the exchange's tape between the first live trade and the first live
//! trade after the resume arrives once, live or backfilled. Real time: the
//! gap is a few hundred milliseconds.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tickwire_alpaca::MarketData;
use tickwire_core::{Symbol, Timestamp};
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, Fault, LoopbackConfig, LoopbackServer, MarketConfig,
};
use tickwire_ws::{Backfill, Channel, Event, Feed, MarketDataEvent, MarketDataStream, StreamEvent};

const KEY: &str = "PKBACKFILLSOCKET";
const SECRET: &str = "backfill-socket-secret";

/// Longest any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

async fn next(stream: &mut MarketDataStream, what: &str) -> MarketDataEvent {
    match tokio::time::timeout(PATIENCE, stream.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the stream ended while waiting for {what}"),
        Err(_) => panic!("no event within {PATIENCE:?} while waiting for {what}"),
    }
}

/// AAPL trades every 10 ms, on this machine's wall clock.
fn busy_market() -> ExchangeConfig {
    let mut market = MarketConfig::default();
    (market.tick, market.trade_chance) = (Duration::from_millis(10), 1.0);
    let mut config = ExchangeConfig::new(29)
        .with_account(Account::new(KEY, SECRET))
        .with_market(market);
    config.wall_clock_start = Timestamp::from(SystemTime::now());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_hidden_by_a_gap_are_backfilled_from_the_exchanges_own_port() {
    let server = LoopbackServer::start(LoopbackConfig::new(busy_market()))
        .await
        .expect("loopback exchange");
    let exchange = server.exchange().clone();
    // The data API's address is the stream's own (`Feed::data_rest_url`).
    let mut stream = MarketDataStream::builder(Feed::Custom(server.url("/v2/iex")))
        .key_pair(KEY, SECRET)
        .backoff(Duration::from_millis(100), Duration::from_millis(400))
        .backoff_floor_after_limit(Duration::ZERO)
        .backfill(Backfill::TRADES)
        .build()
        .expect("build");
    stream
        .subscribe(Channel::Trades, ["AAPL"])
        .await
        .expect("subscribed");

    // (trade id, time) → how often delivered, and how often backfilled.
    let mut delivered: BTreeMap<u64, (Timestamp, u32, u32)> = BTreeMap::new();
    let mut take = |event: &MarketDataEvent| {
        if let Some(MarketData::Trade(trade)) = event.data() {
            let entry = delivered
                .entry(trade.id.expect("stock trades have ids"))
                .or_insert((trade.timestamp, 0, 0));
            entry.1 += 1;
            entry.2 += u32::from(matches!(event, StreamEvent::Recovered(_)));
            return Some(trade.timestamp);
        }
        None
    };
    let mut first_live = None;
    let mut live_before = 0;
    while live_before < 10 {
        let event = next(&mut stream, "live trades").await;
        if let Some(at) = take(&event) {
            first_live.get_or_insert(at);
            live_before += 1;
        }
    }
    // The gap: the connection closed, the next reconnects refused.
    exchange.with(|ex, now| {
        for _ in 0..3 {
            ex.refuse_next(503);
        }
        let session = ex.sessions().next().expect("the stream's session");
        let reason = "going away".to_owned();
        ex.inject(now, session, Fault::Close { code: 1001, reason });
    });
    let (mut resumed, mut first_live_after, mut backfilled) = (false, None, 0);
    let mut failures = Vec::new();
    while first_live_after.is_none() || backfilled == 0 {
        let event = next(&mut stream, "the resume and backfilled trades").await;
        match &event {
            StreamEvent::Machine(Event::Resumed { .. }) => resumed = true,
            StreamEvent::RecoveryFailed { reason } => failures.push(reason.clone()),
            _ => {}
        }
        let at = take(&event);
        match &event {
            StreamEvent::Recovered(_) => backfilled += 1,
            StreamEvent::Machine(Event::Data(_)) if resumed => {
                first_live_after = first_live_after.or(at);
            }
            _ => {}
        }
        assert!(failures.is_empty(), "{failures:?}");
    }
    // The window reaches to the resume: wait until its pages are in (a
    // backfilled trade later than the first live one after the resume, or
    // a second of live data).
    let first_live_after = first_live_after.expect("live again");
    let (mut settled, mut live_after) = (false, 0);
    while !settled && live_after < 100 {
        let event = next(&mut stream, "the rest of the backfill").await;
        if let (Some(at), StreamEvent::Machine(_)) = (take(&event), &event) {
            live_after += 1;
            settled = at > first_live_after.saturating_add_nanos(500_000_000);
        }
    }
    stream.shutdown().await.expect("shutdown");

    let (from, to) = (first_live.expect("a first trade"), first_live_after);
    let tape = exchange
        .with(|ex, now| ex.tape_trades(Endpoint::Iex, &Symbol::from_server("AAPL"), from, to, now));
    assert!(
        tape.len() > 20,
        "the tape holds the gap's trades: {}",
        tape.len()
    );
    for trade in &tape {
        let id = trade.id.expect("tape trades have ids");
        let (_, count, _) = delivered
            .get(&id)
            .unwrap_or_else(|| panic!("tape trade {id} at {} never arrived", trade.timestamp));
        assert_eq!(*count, 1, "tape trade {id} arrived {count} times");
    }
    let recovered = delivered.values().filter(|(_, _, b)| *b > 0).count();
    assert!(recovered > 0, "nothing was backfilled");
    server.shutdown().await;
}
