//! A market-data stream with backfill on, against the exchange model
//! (scripted WebSocket transport, paused time) and an HTTP server on
//! 127.0.0.1 that answers the historical API from the same exchange — or
//! badly, as a test scripts it. Every trade and minute bar of the tape
//! arrives once, live or backfilled; bad answers become `RecoveryFailed`
//! events after bounded work while live data keeps flowing.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tickwire_alpaca::MarketData;
use tickwire_core::{Symbol, Timestamp};
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, Fault, FaultPlan, Faults, ScriptedTransport, SharedExchange,
};
use tickwire_ws::{
    Backfill, Channel, Encoding, Error, Event, Feed, MarketDataEvent, MarketDataStream, StreamEvent,
};
use tokio::time::Instant;

const KEY: &str = "PKBACKFILL";
const SECRET: &str = "backfill-secret";
const SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

/// Longest any wait may take (virtual time) before the test fails.
const PATIENCE: Duration = Duration::from_secs(600);

/// How the data API answers request `n` (from 0) for `path_and_query`:
/// a whole HTTP response, or `None` to answer from the exchange.
type Script = Arc<dyn Fn(usize, &str) -> Option<String> + Send + Sync>;

/// An exchange whose wall clock is this machine's, as the stream's is.
fn exchange() -> SharedExchange {
    let mut config = ExchangeConfig::new(17).with_account(Account::new(KEY, SECRET));
    config.wall_clock_start = Timestamp::from(SystemTime::now());
    SharedExchange::new(config)
}

/// The historical data API on 127.0.0.1, answering as `script` says;
/// its base URL and the count of requests.
async fn data_api(exchange: SharedExchange, script: Script) -> (String, Arc<AtomicUsize>) {
    support::serve(move |n, target| {
        script(n, target).or_else(|| {
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let answer = exchange.with(|ex, now| match path {
                "/v2/stocks/trades" => ex.rest_trades(KEY, SECRET, query, now),
                _ => ex.rest_bars(KEY, SECRET, query, now),
            });
            Some(http(answer.status, "", &answer.body))
        })
    })
    .await
}

/// A whole HTTP/1.1 response.
fn http(status: u16, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A stream of AAPL and MSFT trades and bars with `backfill`, its data API at `base`.
async fn stream(exchange: &SharedExchange, base: &str, backfill: Backfill) -> MarketDataStream {
    let stream = MarketDataStream::builder(Feed::Custom("ws://127.0.0.1:1/v2/iex".into()))
        .key_pair(KEY, SECRET)
        .encoding(Encoding::Json)
        .seed(3)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .backoff_floor_after_limit(Duration::ZERO)
        .backfill(backfill)
        .data_rest_url(base)
        .build_with_transport(ScriptedTransport::new(exchange.clone()))
        .expect("build");
    for channel in [Channel::Trades, Channel::Bars] {
        stream
            .subscribe(channel, SYMBOLS)
            .await
            .expect("subscribed");
    }
    stream
}

async fn next(stream: &mut MarketDataStream, what: &str) -> MarketDataEvent {
    match tokio::time::timeout(PATIENCE, stream.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the stream ended while waiting for {what}"),
        Err(_) => panic!("no event within {PATIENCE:?} while waiting for {what}"),
    }
}

/// Cuts the stream off: its connection closed, reconnects refused with
/// 429 until `for_` has passed.
async fn cut_for(exchange: &SharedExchange, for_: Duration) {
    let refuse = Faults {
        refuse_429: 1.0,
        ..Faults::default()
    };
    exchange.with(|ex, now| {
        ex.set_fault_plan(FaultPlan::uniform(refuse));
        let session = ex.sessions().next().expect("the stream's session");
        ex.inject(now, session, Fault::Reset);
    });
    tokio::time::sleep(for_).await;
    exchange.with(|ex, _| ex.set_fault_plan(FaultPlan::default()));
}

/// What the application got: trades by (symbol, id) and bars by (symbol,
/// start), each with whether it was backfilled; and failures.
#[derive(Default)]
struct Seen {
    trades: Vec<((Symbol, u64), Timestamp, bool)>,
    bars: Vec<((Symbol, Timestamp), bool)>,
    failures: Vec<String>,
    resumed: bool,
}

impl Seen {
    fn take(&mut self, event: &MarketDataEvent) {
        let backfilled = matches!(event, StreamEvent::Recovered(_));
        match event.data() {
            Some(MarketData::Trade(t)) => {
                let id = t.id.expect("stock trades have ids");
                self.trades
                    .push(((t.symbol.clone(), id), t.timestamp, backfilled));
            }
            Some(MarketData::Bar(b)) => self
                .bars
                .push(((b.symbol.clone(), b.timestamp), backfilled)),
            _ => {}
        }
        match event {
            StreamEvent::RecoveryFailed { reason } => self.failures.push(reason.clone()),
            StreamEvent::Machine(Event::Resumed { .. }) => self.resumed = true,
            _ => {}
        }
    }

    fn live_bars(&self) -> usize {
        self.bars
            .iter()
            .filter(|(_, backfilled)| !backfilled)
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn trades_and_bars_hidden_by_a_gap_arrive_once_live_or_backfilled() {
    let exchange = exchange();
    let (base, _) = data_api(exchange.clone(), Arc::new(|_, _| None)).await;
    let mut stream = stream(&exchange, &base, Backfill::TRADES | Backfill::BARS).await;
    let mut seen = Seen::default();
    while seen.live_bars() < SYMBOLS.len() {
        seen.take(&next(&mut stream, "a first minute bar").await);
    }
    // Ninety seconds away: a minute's bar and hundreds of trades missed.
    cut_for(&exchange, Duration::from_secs(90)).await;
    let before_gap = seen.live_bars();
    while !(seen.resumed && seen.live_bars() >= before_gap + SYMBOLS.len()) {
        seen.take(&next(&mut stream, "the resume and a minute bar after it").await);
    }
    // The pages have long arrived; what is queued is part of what was seen.
    let settle = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(event)) = tokio::time::timeout_at(settle, stream.next()).await {
        seen.take(&event);
    }
    stream.shutdown().await.expect("shutdown");
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);

    let now = SharedExchange::now();
    for symbol in SYMBOLS.map(Symbol::from_server) {
        let trades: Vec<_> = seen
            .trades
            .iter()
            .filter(|((s, _), ..)| *s == symbol)
            .collect();
        let first = trades.iter().map(|(_, t, _)| *t).min().expect("trades");
        let last = trades
            .iter()
            .filter(|(.., b)| !b)
            .map(|(_, t, _)| *t)
            .max()
            .expect("live");
        let tape = exchange.with(|ex, _| ex.tape_trades(Endpoint::Iex, &symbol, first, last, now));
        let expected: BTreeSet<u64> = tape.iter().filter_map(|t| t.id).collect();
        let delivered: Vec<u64> = trades
            .iter()
            .filter(|(_, t, _)| *t <= last)
            .map(|((_, id), ..)| *id)
            .collect();
        let unique: BTreeSet<u64> = delivered.iter().copied().collect();
        assert_eq!(
            unique.len(),
            delivered.len(),
            "{symbol}: a trade came twice"
        );
        assert_eq!(unique, expected, "{symbol}: every trade of the tape, once");
        let backfilled = trades.iter().filter(|(.., b)| *b).count();
        assert!(backfilled > 100, "{symbol}: {backfilled} trades backfilled");

        let bars: Vec<Timestamp> = seen
            .bars
            .iter()
            .filter(|((s, _), _)| *s == symbol)
            .map(|((_, t), _)| *t)
            .collect();
        let unique: BTreeSet<Timestamp> = bars.iter().copied().collect();
        assert_eq!(unique.len(), bars.len(), "{symbol}: a bar came twice");
        let (first, last) = (
            bars.iter().min().expect("bars"),
            bars.iter().max().expect("bars"),
        );
        let tape = exchange.with(|ex, _| ex.tape_bars(Endpoint::Iex, &symbol, *first, *last, now));
        let expected: BTreeSet<Timestamp> = tape.iter().map(|b| b.timestamp).collect();
        assert_eq!(unique, expected, "{symbol}: every minute bar, once");
        assert!(
            seen.bars.iter().any(|((s, _), b)| *s == symbol && *b),
            "{symbol}: the gap hid a bar that was backfilled"
        );
    }
}

/// Cuts a trades-backfilling stream off for a moment with the data API
/// answering as `script` says; what the application saw until live trades
/// flowed again `after` the resume, and how many requests were made.
async fn backfill_against(script: Script, after: Duration) -> (Seen, usize) {
    let exchange = exchange();
    let (base, requests) = data_api(exchange.clone(), script).await;
    let mut stream = stream(&exchange, &base, Backfill::TRADES).await;
    let mut seen = Seen::default();
    while seen.trades.len() < 10 {
        seen.take(&next(&mut stream, "live trades").await);
    }
    cut_for(&exchange, Duration::from_secs(3)).await;
    while !seen.resumed {
        seen.take(&next(&mut stream, "the resume").await);
    }
    let until = Instant::now() + after;
    let live_before = seen.trades.iter().filter(|(.., b)| !b).count();
    while Instant::now() < until {
        seen.take(&next(&mut stream, "live trades after the resume").await);
    }
    let live_after = seen.trades.iter().filter(|(.., b)| !b).count();
    assert!(
        live_after > live_before + 50,
        "live data kept flowing: {live_before} → {live_after}"
    );
    stream.shutdown().await.expect("shutdown");
    (seen, requests.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn a_malformed_body_is_one_clear_error() {
    let script: Script = Arc::new(|_, _| Some(http(200, "", r#"{"trades": "soon"}"#)));
    let (seen, requests) = backfill_against(script, Duration::from_secs(20)).await;
    assert_eq!(requests, 1);
    assert_eq!(seen.failures.len(), 1, "{:?}", seen.failures);
    assert!(
        seen.failures[0].contains("not a page of trades"),
        "{:?}",
        seen.failures
    );
}

#[tokio::test(start_paused = true)]
async fn a_repeated_page_token_stops_the_window() {
    let page = r#"{"trades": {}, "next_page_token": "again"}"#;
    let script: Script = Arc::new(move |_, _| Some(http(200, "", page)));
    let (seen, requests) = backfill_against(script, Duration::from_secs(20)).await;
    assert_eq!(requests, 2, "the first page and the one its token named");
    assert_eq!(seen.failures.len(), 1, "{:?}", seen.failures);
    assert!(
        seen.failures[0].contains("repeated page token"),
        "{:?}",
        seen.failures
    );
}

#[tokio::test(start_paused = true)]
async fn pages_that_never_end_stop_at_the_page_limit() {
    let script: Script = Arc::new(|n, _| {
        let page = format!(r#"{{"trades": {{}}, "next_page_token": "page-{n}"}}"#);
        Some(http(200, "", &page))
    });
    let (seen, requests) = backfill_against(script, Duration::from_secs(20)).await;
    assert_eq!(requests, 1_000, "the planner's page limit");
    assert_eq!(seen.failures.len(), 1, "{:?}", seen.failures);
    assert!(
        seen.failures[0].contains("more than 1000 pages"),
        "{:?}",
        seen.failures
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_is_retried_after_its_retry_after_and_then_backfills() {
    let asked_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let times = Arc::clone(&asked_at);
    let script: Script = Arc::new(move |n, _| {
        times.lock().expect("lock").push(Instant::now());
        (n == 0).then(|| {
            http(
                429,
                "Retry-After: 7\r\n",
                r#"{"message":"too many requests"}"#,
            )
        })
    });
    let (seen, requests) = backfill_against(script, Duration::from_secs(20)).await;
    assert_eq!(requests, 2);
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    let times = asked_at.lock().expect("lock").clone();
    assert!(
        times[1] - times[0] >= Duration::from_secs(7),
        "{:?}",
        times[1] - times[0]
    );
    assert!(
        seen.trades.iter().any(|(.., backfilled)| *backfilled),
        "the gap's trades backfilled"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_give_up_after_the_attempt_limit_naming_the_status() {
    let script: Script = Arc::new(|_, _| Some(http(503, "", r#"{"message":"maintenance"}"#)));
    let (seen, requests) = backfill_against(script, Duration::from_secs(30)).await;
    assert_eq!(requests, 5, "the client's attempts");
    assert_eq!(seen.failures.len(), 1, "{:?}", seen.failures);
    let reason = &seen.failures[0];
    assert!(
        reason.contains("503") && reason.contains("maintenance"),
        "{reason}"
    );
}

#[tokio::test]
async fn backfill_on_a_feed_that_is_not_stocks_is_refused_naming_why() {
    let local_crypto = Feed::Custom("ws://127.0.0.1:1/v1beta3/crypto/us".into());
    for (feed, market) in [
        (Feed::Crypto, "crypto"),
        (local_crypto, "crypto"),
        (Feed::OptionsOpra, "options"),
        (Feed::OptionsIndicative, "options"),
        (Feed::News, "news"),
    ] {
        let builder = MarketDataStream::builder(feed.clone()).key_pair(KEY, SECRET);
        let error = builder
            .clone()
            .backfill(Backfill::BARS)
            .build()
            .expect_err("backfill refused");
        let url = feed.url();
        assert_eq!(error, Error::BackfillUnsupported { url, market });
        let message = error.to_string();
        assert!(
            message.contains(&format!("cannot backfill the {market} feed"))
                && message.contains("stock trades and bars only")
                && message.contains("without `backfill`"),
            "{message}"
        );
        let stream = builder.build().expect("the same stream without backfill");
        stream.shutdown().await.expect("shutdown");
    }
    for feed in [Feed::Sip, Feed::Custom("ws://127.0.0.1:1/v2/iex".into())] {
        let stream = MarketDataStream::builder(feed)
            .key_pair(KEY, SECRET)
            .backfill(Backfill::TRADES | Backfill::BARS)
            .build()
            .expect("stocks backfill");
        stream.shutdown().await.expect("shutdown");
    }
}
