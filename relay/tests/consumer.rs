//! Consumers built with the ordinary stream API over a relay, with a real
//! nats-server and the simulated exchange: `subscribe` resolves with the
//! relay upstream's verdict (a refusal as a direct stream gets it), data
//! comes for exactly the symbols asked, leases outlive their TTL while
//! held; a relay takeover is a gap then a resume, without a call of the
//! consumer's, and so is losing NATS for a while; pings are answered; a
//! malformed payload is an error event and the stream runs on; without a
//! leading relay, subscribe fails saying so.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use support::{
    Doomed, KEY, PATIENCE, SECRET, consumer, exchange, exchange_with, leading, leading_relay,
    nats_server, relay_config, until_upstream,
};
use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::machine::{Event, SubscriptionOutcome};
use tickwire_mock::{Account, ExchangeConfig, LoopbackServer};
use tickwire_nats_server::NatsServer;
use tickwire_relay::{Relay, RelayStreams};
use tickwire_ws::{Feed, MarketDataStream, StreamEvent};

/// Short, so that the leases must be refreshed within the test.
const LEASE_TTL: Duration = Duration::from_secs(2);

/// Reads quotes until each of `symbols` came `count` times; returns the
/// quotes seen per symbol and every other event.
async fn quotes(
    stream: &mut MarketDataStream,
    symbols: &[&str],
    count: usize,
) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut others = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        while symbols
            .iter()
            .any(|s| seen.get(*s).copied().unwrap_or(0) < count)
        {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Data(MarketData::Quote(quote))) => {
                    *seen.entry(quote.symbol.as_str().to_owned()).or_default() += 1;
                }
                other => others.push(format!("{other:?}")),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "timed out reading quotes; saw {seen:?} and {others:?}"
    );
    (seen, others)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_gets_its_verdicts_and_exactly_its_symbols() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;

    let mut stream = consumer(&nats, "strategy-1");
    let verdict = stream
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    until_upstream(
        &server,
        "the relay to subscribe AAPL and MSFT",
        |sessions| sessions.len() == 1 && sessions[0].len() == 2,
    )
    .await;
    let (seen, _) = quotes(&mut stream, &["AAPL", "MSFT"], 5).await;
    assert_eq!(
        seen.keys().map(String::as_str).collect::<Vec<_>>(),
        ["AAPL", "MSFT"],
        "only the symbols asked for"
    );

    // Twice the leases' TTL later, they are still held (refreshed).
    tokio::time::sleep(LEASE_TTL * 2).await;
    let (seen, _) = quotes(&mut stream, &["AAPL", "MSFT"], 5).await;
    assert_eq!(seen.len(), 2, "{seen:?}");

    let verdict = stream
        .unsubscribe(Channel::Quotes, ["MSFT"])
        .await
        .expect("unsubscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    until_upstream(&server, "the relay to let MSFT go", |sessions| {
        sessions.iter().all(|s| s.len() == 1 && s.contains("AAPL"))
    })
    .await;

    stream.shutdown().await.expect("shutdown");
    until_upstream(
        &server,
        "the leases' deletion to empty the upstream",
        |sessions| sessions.iter().all(std::collections::BTreeSet::is_empty),
    )
    .await;
    relay.shutdown().await.expect("the relay stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_held_by_name_and_under_the_wildcard_comes_once() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let mut stream = consumer(&nats, "strategy-w");
    for symbols in [["AAPL"], ["*"]] {
        let verdict = stream
            .subscribe(Channel::Quotes, symbols)
            .await
            .expect("subscribe");
        assert_eq!(verdict, SubscriptionOutcome::Acknowledged, "{symbols:?}");
    }
    // From the wildcard's settled subscribe on (what came while both were
    // switching may repeat), each AAPL quote once.
    let mut settled = 0;
    let mut aapl: Vec<(i128, String)> = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        while aapl.len() < 40 {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Subscription { .. }) => settled += 1,
                StreamEvent::Machine(Event::Data(MarketData::Quote(quote)))
                    if settled >= 2 && quote.symbol.as_str() == "AAPL" =>
                {
                    aapl.push((quote.timestamp.unix_nanos(), format!("{quote:?}")));
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "timed out: {} AAPL quotes", aapl.len());
    let mut seen = std::collections::BTreeSet::new();
    let repeated: Vec<&String> = aapl
        .iter()
        .filter(|quote| !seen.insert(*quote))
        .map(|(_, text)| text)
        .collect();
    assert!(
        repeated.is_empty(),
        "AAPL quotes delivered twice: {repeated:?}"
    );

    // The wildcard let go, AAPL's own forwarder brings it again.
    let verdict = stream
        .unsubscribe(Channel::Quotes, ["*"])
        .await
        .expect("unsubscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    let (seen, _) = quotes(&mut stream, &["AAPL"], 5).await;
    assert!(seen["AAPL"] >= 5, "{seen:?}");
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

/// The exchange with a symbol limit of 2 on the relay's account.
async fn limited_exchange() -> LoopbackServer {
    let account = Account::new(KEY, SECRET).with_symbol_limit(Some(2));
    exchange_with(ExchangeConfig::new(12).with_account(account)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_has_the_outcome_a_direct_stream_gets() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    // A direct stream's outcome, for reference.
    let direct_server = limited_exchange().await;
    let direct = MarketDataStream::builder(Feed::Custom(direct_server.url("/v2/iex")))
        .key_pair(KEY, SECRET)
        .build()
        .expect("a direct stream");
    direct
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .expect("subscribe");
    let expected = direct
        .subscribe(Channel::Quotes, ["TSLA"])
        .await
        .expect("subscribe");
    assert!(
        matches!(
            &expected,
            SubscriptionOutcome::Rejected {
                code: Some(405),
                ..
            }
        ),
        "{expected:?}"
    );
    direct.shutdown().await.expect("shutdown");

    let nats = nats_server().await;
    let server = limited_exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let mut stream = consumer(&nats, "strategy-2");
    let verdict = stream
        .subscribe(Channel::Quotes, ["AAPL", "MSFT"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    let verdict = stream
        .subscribe(Channel::Quotes, ["TSLA"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, expected, "the same outcome as a direct stream");

    // Asked with another that fits, the refused one is found out and the
    // other kept.
    stream
        .unsubscribe(Channel::Quotes, ["MSFT"])
        .await
        .expect("unsubscribe");
    let verdict = stream
        .subscribe(Channel::Quotes, ["SPY", "QQQ"])
        .await
        .expect("subscribe");
    let SubscriptionOutcome::Rejected {
        code: Some(405),
        symbols,
        ..
    } = &verdict
    else {
        panic!("one of the two is over the limit: {verdict:?}")
    };
    assert_eq!(symbols.len(), 1, "{verdict:?}");
    let kept = if symbols[0].as_str() == "SPY" {
        "QQQ"
    } else {
        "SPY"
    };
    // Quotes the machine passed on before the unsubscribe was settled may
    // still wait in the stream: count from this refusal's event on (not
    // TSLA's, earlier in the stream).
    let settled = tokio::time::timeout(PATIENCE, async {
        loop {
            if let StreamEvent::Machine(Event::Subscription {
                outcome: SubscriptionOutcome::Rejected { symbols, .. },
                ..
            }) = stream.next().await.expect("the stream ended")
                && symbols.iter().any(|s| ["SPY", "QQQ"].contains(&s.as_str()))
            {
                return;
            }
        }
    })
    .await;
    assert!(settled.is_ok(), "the refusal never reached the stream");
    let (seen, _) = quotes(&mut stream, &["AAPL", kept], 3).await;
    assert_eq!(seen.len(), 2, "only AAPL and {kept}: {seen:?}");
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

/// How the first leader ends.
#[derive(Debug, Clone, Copy)]
enum Death {
    /// Dropped: it closes its upstream and releases the key.
    Dropped,
    /// Killed: its tasks dropped, nothing released; the key expires.
    Killed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_from_a_dropped_leader_is_a_gap_then_a_resume() {
    takeover(Death::Dropped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_from_a_killed_leader_is_a_gap_then_a_resume() {
    takeover(Death::Killed).await;
}

/// A consumer subscribed through the leader; the leader ends as `death`
/// says, the standby leads, and the consumer sees a gap, a resume and its
/// quotes again, with no call of its own.
async fn takeover(death: Death) {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    // The exchange frees a vanished connection's slot after 1 s, before
    // the dead leader's key expires (else it refuses the new leader, 406).
    let mut exchange_config = ExchangeConfig::new(11);
    exchange_config.reap_after = Duration::from_secs(1);
    let server = exchange_with(exchange_config).await;
    let leader_ttl = Duration::from_secs(2);
    let config = |id: &str| {
        relay_config(&nats, &server, LEASE_TTL)
            .with_relay_id(id)
            .with_leadership("tickwire-leader", leader_ttl)
    };
    let first = Doomed::start(config("relay-a")).await;
    leading(&first.relay).await;
    let second = Relay::start(config("relay-b"))
        .await
        .expect("the second relay starts");

    let mut stream = consumer(&nats, "strategy-3");
    let verdict = stream
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    quotes(&mut stream, &["AAPL"], 3).await;

    let runtime = match death {
        Death::Dropped => Some(first.drop_relay()),
        Death::Killed => {
            first.kill();
            None
        }
    };
    leading(&second).await;
    // A gap, then a resume, then AAPL's quotes again: no call of ours.
    let mut gap = false;
    let mut resumed = false;
    let mut after = 0;
    let read = tokio::time::timeout(PATIENCE * 2, async {
        while after < 5 {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Gap { .. }) => gap = true,
                StreamEvent::Machine(Event::Resumed { .. }) => {
                    assert!(gap, "a resume comes after a gap");
                    resumed = true;
                }
                StreamEvent::Machine(Event::Data(MarketData::Quote(quote))) if resumed => {
                    assert_eq!(quote.symbol.as_str(), "AAPL");
                    after += 1;
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "{death:?}: timed out: gap {gap}, resumed {resumed}, quotes after {after}"
    );
    stream.shutdown().await.expect("shutdown");
    second
        .shutdown()
        .await
        .expect("the second relay stops cleanly");
    if let Some(runtime) = runtime {
        runtime.shutdown_background();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_payload_is_an_error_event_and_the_stream_runs_on() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let mut stream = consumer(&nats, "strategy-4");
    stream
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    quotes(&mut stream, &["AAPL"], 2).await;

    let client = async_nats::connect(nats.url()).await.expect("connect");
    client
        .publish("tickwire.iex.quotes.AAPL", "not msgpack".into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");

    let mut errors = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Error { error, fatal }) => {
                    assert!(!fatal, "{error}");
                    errors.push(error.to_string());
                }
                StreamEvent::Machine(Event::Data(MarketData::Quote(_))) if !errors.is_empty() => {
                    break;
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "timed out; errors {errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

/// A consumer that gives up after two attempts, quickly.
fn impatient(nats: &NatsServer) -> MarketDataStream {
    MarketDataStream::builder(Feed::Iex)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .connect_attempts_max(Some(2))
        .relay(nats.url())
        .build()
        .expect("a consumer stream")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_leading_relay_subscribe_fails_saying_so() {
    let nats = nats_server().await;
    // No relay ever ran: no buckets.
    let error = impatient(&nats)
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect_err("no relay");
    let text = error.to_string();
    assert!(
        text.contains("no bucket") && text.contains("tickwire relay"),
        "{text}"
    );

    // A relay ran and stopped: nobody leads.
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    relay.shutdown().await.expect("the relay stops cleanly");
    let error = impatient(&nats)
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect_err("no leader");
    let text = error.to_string();
    assert!(text.contains("no relay leads feed iex"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_nats_is_a_gap_and_its_return_a_resume() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let mut nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let mut stream = consumer(&nats, "strategy-5");
    stream
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    quotes(&mut stream, &["AAPL"], 2).await;

    // NATS is down for 2 s, then back on the same port with its store.
    let restart = tokio::task::spawn_blocking(move || {
        nats.restart(Duration::from_secs(2))
            .expect("nats-server restarts");
        nats
    });
    let mut gap = false;
    let mut resumed = false;
    let mut after = 0;
    let read = tokio::time::timeout(PATIENCE * 2, async {
        while after < 3 {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Gap { .. }) => gap = true,
                StreamEvent::Machine(Event::Resumed { .. }) => {
                    assert!(gap, "a resume comes after a gap");
                    resumed = true;
                }
                StreamEvent::Machine(Event::Data(MarketData::Quote(_))) if resumed => after += 1,
                _ => {}
            }
        }
    })
    .await;
    let _nats = restart.await.expect("the restarting thread");
    assert!(
        read.is_ok(),
        "timed out: gap {gap}, resumed {resumed}, quotes after {after}"
    );
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_so_the_stream_stays_live() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    // A ping every 50 ms, each to be answered within 500 ms.
    let mut stream = MarketDataStream::builder(Feed::Iex)
        .ping_interval(Some(Duration::from_millis(50)))
        .pong_timeout(Duration::from_millis(500))
        .relay(nats.url())
        .consumer_id("strategy-6")
        .build()
        .expect("a consumer stream");
    // A quiet channel: no data frame answers for a pong.
    stream
        .subscribe(Channel::DailyBars, ["AAPL"])
        .await
        .expect("subscribe");
    // Four pong timeouts long: an unanswered ping would have cut the stream.
    let window = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(window);
    loop {
        tokio::select! {
            () = &mut window => break,
            event = stream.next() => {
                let event = event.expect("the stream ended");
                assert!(
                    !matches!(event, StreamEvent::Machine(Event::Gap { .. })),
                    "a gap: a ping went unanswered"
                );
            }
        }
    }
    assert!(stream.state().is_live(), "{:?}", stream.state());
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}
