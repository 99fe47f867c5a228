//! Last-value snapshots on join, with a real nats-server and the
//! simulated exchange: a consumer subscribing a symbol another already
//! gets is handed the relay's latest quote of it at once, marked as a
//! snapshot, before any live quote of it; under live quotes, no snapshot
//! comes after a newer live quote; a symbol without a quote gets none and
//! the stream goes on; malformed snapshot requests are refused with an
//! error reply, one asking for a reply on the relay's own subjects is
//! ignored, and the relay runs on.

mod support;

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use support::{KEY, PATIENCE, SECRET, consumer, exchange, leading_relay, nats_server};
use tickwire_alpaca::{Channel, MarketData};
use tickwire_core::machine::{Event, SubscriptionOutcome};
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, Fault, LoopbackConfig, LoopbackServer, MarketConfig,
};
use tickwire_relay::RelayStreams;
use tickwire_relay::snapshot::decode_reply;
use tickwire_ws::{Feed, MarketDataEvent, MarketDataStream, StreamEvent};

const LEASE_TTL: Duration = Duration::from_secs(5);

/// How long the relay's quotes must have been quiet to count as settled
/// (the snapshot is then compared with the relay's last published quote,
/// whatever came later).
const QUIET: Duration = Duration::from_millis(300);

/// The next event `pick` accepts, within [`PATIENCE`]; the events passed
/// over are returned too.
async fn next_matching<T>(
    stream: &mut MarketDataStream,
    what: &str,
    pick: impl Fn(&MarketDataEvent) -> Option<T>,
) -> (T, Vec<MarketDataEvent>) {
    let mut passed = Vec::new();
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            let event = stream.next().await.expect("the stream ended");
            if let Some(found) = pick(&event) {
                return found;
            }
            passed.push(event);
        }
    })
    .await;
    match found {
        Ok(found) => (found, passed),
        Err(_) => panic!("timed out waiting for {what}; passed over {passed:?}"),
    }
}

/// The symbol of a quote, if `data` is one.
fn quote_symbol(data: &MarketData) -> Option<&str> {
    match data {
        MarketData::Quote(quote) => Some(quote.symbol.as_str()),
        _ => None,
    }
}

/// The relay's latest AAPL quote, as it answers a snapshot request, with
/// `published` (a subscription of `client` to AAPL's quotes) read up to
/// the answer: the last quote published before it, if any came since the
/// last read (the last of its message), must be the same (the relay publishes and answers in order,
/// on one connection).
async fn relays_latest(
    client: &async_nats::Client,
    published: &mut async_nats::Subscriber,
) -> MarketData {
    let reply = tokio::time::timeout(
        PATIENCE,
        client.request("tickwire.iex.snapshot.quotes", "AAPL".into()),
    )
    .await
    .expect("the relay answers in time")
    .expect("the relay answers");
    let mut answer = decode_reply(&reply.payload).expect("an answer");
    assert_eq!(answer.len(), 1, "one AAPL quote: {answer:?}");
    let latest = answer.remove(0);
    let mut last = None;
    while let Some(Some(message)) = published.next().now_or_never() {
        last = Some(message.payload);
    }
    if let Some(last) = last {
        let last = decode_reply(&last).expect("a published quote decodes");
        // A message may carry several quotes of the symbol: the last counts.
        assert_eq!(
            last.last(),
            Some(&latest),
            "the answer is the last published"
        );
    }
    latest
}

/// Silences (or, with `Fault::Resume`, lets speak again) every iex
/// session of the exchange: the relay's upstream.
fn upstream_fault(server: &LoopbackServer, fault: &Fault) {
    server.exchange().with(|ex, now| {
        let ids: Vec<_> = ex
            .sessions()
            .filter(|id| ex.endpoint(*id) == Some(Endpoint::Iex))
            .collect();
        assert!(!ids.is_empty(), "no upstream session to fault");
        for id in ids {
            ex.inject(now, id, fault.clone());
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_consumer_gets_the_latest_quote_as_a_snapshot_first() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let watcher = async_nats::connect(nats.url()).await.expect("NATS");
    let mut published = watcher
        .subscribe("tickwire.iex.quotes.AAPL")
        .await
        .expect("subscribe");

    let mut early = consumer(&nats, "early");
    let verdict = early
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    for _ in 0..3 {
        next_matching(&mut early, "a live AAPL quote", |event| match event {
            StreamEvent::Machine(Event::Data(data)) => quote_symbol(data).map(|_| ()),
            _ => None,
        })
        .await;
    }

    // The market goes quiet.
    upstream_fault(&server, &Fault::Silence);
    let settled = tokio::time::timeout(PATIENCE, async {
        while let Ok(Some(_)) = tokio::time::timeout(QUIET, published.next()).await {}
    })
    .await;
    assert!(settled.is_ok(), "the relay's AAPL quotes never went quiet");

    let mut late = consumer(&nats, "late");
    let verdict = late
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    let (snapshot, passed) = next_matching(&mut late, "AAPL's snapshot", |event| {
        event.data().and_then(quote_symbol)?;
        Some(event.clone())
    })
    .await;
    let StreamEvent::Snapshot(quote) = &snapshot else {
        panic!("the first AAPL quote is not marked a snapshot: {snapshot:?} (after {passed:?})")
    };
    // Whatever was still on its way when the wait above ended, the
    // snapshot is the relay's last published AAPL quote.
    let latest = relays_latest(&watcher, &mut published).await;
    assert_eq!(*quote, latest, "the relay's latest AAPL quote");
    assert!(snapshot.is_data() && snapshot.machine().is_none());

    // A consumer that opted out joins too: no snapshot, live quotes only.
    let mut plain = MarketDataStream::builder(Feed::Iex)
        .connect_timeout(Duration::from_secs(3))
        .relay(nats.url())
        .consumer_id("plain")
        .snapshots(false)
        .build()
        .expect("a consumer stream");
    let verdict = plain
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    assert_eq!(verdict, SubscriptionOutcome::Acknowledged);

    // The market speaks again: live quotes follow, newer than the snapshot.
    upstream_fault(&server, &Fault::Resume);
    let (first, passed) = next_matching(&mut plain, "an AAPL quote", |event| {
        event.data().and_then(quote_symbol)?;
        Some(event.clone())
    })
    .await;
    assert!(
        matches!(first, StreamEvent::Machine(Event::Data(_))),
        "snapshots off, yet {first:?} (after {passed:?})"
    );
    plain.shutdown().await.expect("shutdown");
    let (live, passed) = next_matching(&mut late, "a live AAPL quote", |event| match event {
        StreamEvent::Machine(Event::Data(data)) => quote_symbol(data).map(|_| data.clone()),
        _ => None,
    })
    .await;
    assert!(
        live.timestamp() > quote.timestamp(),
        "{live:?} after {quote:?}"
    );
    assert!(
        !passed.iter().any(|e| matches!(e, StreamEvent::Snapshot(_))),
        "one snapshot only: {passed:?}"
    );

    late.shutdown().await.expect("shutdown");
    early.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

/// An exchange that trades every stock every 10 ms and never quotes.
async fn quoteless_exchange() -> LoopbackServer {
    let mut market = MarketConfig::default();
    market.tick = Duration::from_millis(10);
    market.quote_chance = 0.0;
    market.trade_chance = 1.0;
    let config = ExchangeConfig::new(13)
        .with_account(Account::new(KEY, SECRET))
        .with_market(market);
    LoopbackServer::start(LoopbackConfig::new(config))
        .await
        .expect("bind the exchange on 127.0.0.1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_without_a_quote_gets_no_snapshot_and_the_stream_goes_on() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = quoteless_exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;

    let mut stream = consumer(&nats, "quoteless");
    for channel in [Channel::Quotes, Channel::Trades] {
        let verdict = stream
            .subscribe(channel, ["AAPL"])
            .await
            .expect("subscribe");
        assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
    }
    // The snapshot request went out with the quotes' acknowledgement; 20
    // live trades (200 ms of the market) later, its answer is long in.
    let mut trades = 0;
    let read = tokio::time::timeout(PATIENCE, async {
        while trades < 20 {
            match stream.next().await.expect("the stream ended") {
                StreamEvent::Machine(Event::Data(MarketData::Trade(_))) => trades += 1,
                StreamEvent::Snapshot(data) => panic!("a snapshot of nothing: {data:?}"),
                StreamEvent::Machine(Event::Error { error, .. }) => panic!("an error: {error}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(read.is_ok(), "timed out after {trades} trades");
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_snapshot_requests_are_refused_and_the_relay_runs_on() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    let client = async_nats::connect(nats.url()).await.expect("NATS");
    let ask = |subject: &'static str, body: &'static [u8]| {
        let client = client.clone();
        async move {
            let reply = tokio::time::timeout(PATIENCE, client.request(subject, body.into()))
                .await
                .unwrap_or_else(|_| panic!("no reply to {body:?} on {subject}"))
                .unwrap_or_else(|e| panic!("the request {body:?} on {subject} failed: {e}"));
            decode_reply(&reply.payload)
        }
    };

    // Nobody leases NVDA: an empty answer, not an error.
    assert_eq!(
        ask("tickwire.iex.snapshot.quotes", b"NVDA").await,
        Ok(vec![])
    );
    for (subject, body, says) in [
        ("tickwire.iex.snapshot.quotes", &b"BRK.B"[..], "=XX"),
        ("tickwire.iex.snapshot.quotes", &b"\xff\xfe"[..], "not text"),
        ("tickwire.iex.snapshot.trades", &b"AAPL"[..], "quotes only"),
    ] {
        let refused = ask(subject, body).await.expect_err("refused");
        assert!(refused.contains(says), "{body:?} on {subject}: {refused}");
    }
    // A reply subject under the relay's own is not replied to: checked
    // once the next request's reply is in, which the relay published after
    // (its requests are answered in order, on one connection).
    let mut misdirected = client
        .subscribe("tickwire.iex.quotes.NVDA")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    client
        .publish_with_reply(
            "tickwire.iex.snapshot.quotes",
            "tickwire.iex.quotes.NVDA",
            "NVDA".into(),
        )
        .await
        .expect("publish");
    assert_eq!(
        ask("tickwire.iex.snapshot.quotes", b"NVDA").await,
        Ok(vec![])
    );
    assert!(
        misdirected.next().now_or_never().is_none(),
        "the relay replied on its own data subject"
    );
    // A request nobody can answer (no reply subject) is ignored.
    client
        .publish("tickwire.iex.snapshot.quotes", "AAPL".into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");

    // The relay still serves: a consumer's AAPL lease, then its quote.
    let mut stream = consumer(&nats, "after-garbage");
    stream
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");
    next_matching(&mut stream, "a live AAPL quote", |event| match event {
        StreamEvent::Machine(Event::Data(data)) => quote_symbol(data).map(|_| ()),
        _ => None,
    })
    .await;
    let answered = ask("tickwire.iex.snapshot.quotes", b"AAPL MSFT")
        .await
        .expect("served");
    assert_eq!(
        answered.iter().filter_map(quote_symbol).collect::<Vec<_>>(),
        ["AAPL"],
        "AAPL's latest; MSFT is leased by nobody"
    );
    assert!(!relay.is_finished());
    stream.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_live_quotes_no_snapshot_is_older_than_a_live_quote_before_it() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = leading_relay(&nats, &server, LEASE_TTL).await;
    // Keeps AAPL leased and quoted (every 10 ms) throughout.
    let holder = consumer(&nats, "holder");
    holder
        .subscribe(Channel::Quotes, ["AAPL"])
        .await
        .expect("subscribe");

    let mut stream = consumer(&nats, "joiner");
    // The newest live AAPL quote delivered so far, over every round: an
    // answer to an earlier round's ask may still come in a later one
    // (unless its round's unsubscribe went by first), and must not be older
    // either. Whether a snapshot comes at all under live quotes is a race
    // with them; that one does come is shown with a silent market by
    // `a_later_consumer_gets_the_latest_quote_as_a_snapshot_first`.
    let mut newest_live = None;
    for round in 0..10 {
        let verdict = stream
            .subscribe(Channel::Quotes, ["AAPL"])
            .await
            .expect("subscribe");
        assert_eq!(verdict, SubscriptionOutcome::Acknowledged);
        let mut live = 0;
        let read = tokio::time::timeout(PATIENCE, async {
            while live < 3 {
                match stream.next().await.expect("the stream ended") {
                    StreamEvent::Machine(Event::Data(data)) if quote_symbol(&data).is_some() => {
                        live += 1;
                        newest_live = newest_live.max(Some(data.timestamp()));
                    }
                    StreamEvent::Snapshot(data) => {
                        assert!(
                            newest_live.is_none_or(|newest| data.timestamp() >= newest),
                            "round {round}: a snapshot at {:?} after a live quote at {newest_live:?}",
                            data.timestamp()
                        );
                    }
                    _ => {}
                }
            }
        })
        .await;
        assert!(
            read.is_ok(),
            "round {round}: timed out after {live} live quotes"
        );
        stream
            .unsubscribe(Channel::Quotes, ["AAPL"])
            .await
            .expect("unsubscribe");
    }
    stream.shutdown().await.expect("shutdown");
    holder.shutdown().await.expect("shutdown");
    relay.shutdown().await.expect("the relay stops cleanly");
}
