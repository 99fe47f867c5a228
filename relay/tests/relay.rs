//! A relay in front of the simulated exchange, with a real nats-server: a
//! plain NATS client leases two symbols and receives their quotes and
//! nothing else; the leases' end unsubscribes upstream; malformed leases
//! are reported and change nothing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use support::{
    KEY, PATIENCE, SECRET, event, exchange, nats_server, relay_config, until_upstream,
    upstream_quotes,
};
use tickwire_alpaca::{Feed, Quote};
use tickwire_core::Credentials;
use tickwire_mock::Endpoint;
use tickwire_proxy::Upstream;
use tickwire_relay::{DEFAULT_BUCKET, LeaseError, Relay, RelayConfig, RelayEvent};

/// The leases' TTL here: short, so that expiry shows within the test.
const LEASE_TTL: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_symbols_are_published_and_released_upstream() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let config = relay_config(&nats, &server, LEASE_TTL);
    let relay = Relay::start(config).await.expect("the relay starts");
    let mut events = relay.events();

    // A consumer: a plain NATS client.
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let leases = jetstream::new(client.clone())
        .get_key_value(DEFAULT_BUCKET)
        .await
        .expect("the relay created the lease bucket");
    let mut quotes = client
        .subscribe("tickwire.iex.quotes.>")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    assert!(
        upstream_quotes(&server).is_empty(),
        "no lease, no upstream connection"
    );

    for key in ["iex.quotes.AAPL.consumer-1", "iex.quotes.MSFT.consumer-1"] {
        leases.put(key, "".into()).await.expect("write a lease");
    }

    // Their quotes arrive, on their subjects, and no other symbol's.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let read = tokio::time::timeout(PATIENCE, async {
        while seen.len() < 2 || seen.values().any(|n| *n < 5) {
            let message = quotes.next().await.expect("the subscription ended");
            let decoded: Vec<Quote> =
                rmp_serde::from_slice(&message.payload).expect("Alpaca's MessagePack framing");
            assert_eq!(decoded.len(), 1, "one quote per NATS message");
            let symbol = decoded[0].symbol.as_str().to_owned();
            assert_eq!(
                message.subject.as_str(),
                format!("tickwire.iex.quotes.{symbol}")
            );
            *seen.entry(symbol).or_default() += 1;
        }
    })
    .await;
    assert!(read.is_ok(), "timed out reading quotes; saw {seen:?}");
    assert_eq!(
        seen.keys().map(String::as_str).collect::<Vec<_>>(),
        ["AAPL", "MSFT"],
        "only the leased symbols"
    );
    let expected: BTreeSet<String> = ["AAPL", "MSFT"].map(String::from).into();
    assert_eq!(
        upstream_quotes(&server),
        [expected],
        "one upstream, exactly the union"
    );

    // Malformed leases: reported, ignored, nothing crashes.
    for key in ["iex.ticks.AAPL.consumer-2", "iex.quotes.A=20B.consumer-2"] {
        leases.put(key, "".into()).await.expect("write a lease");
    }
    let mut rejected = BTreeSet::new();
    while rejected.len() < 2 {
        let (key, error) = event(
            &mut events,
            "the malformed leases' rejection",
            |e| match e {
                RelayEvent::LeaseRejected { key, error } => Some((key.clone(), error.clone())),
                _ => None,
            },
        )
        .await;
        match key.as_str() {
            "iex.ticks.AAPL.consumer-2" => {
                assert!(
                    matches!(error, LeaseError::UnknownChannel { .. }),
                    "{error}"
                )
            }
            "iex.quotes.A=20B.consumer-2" => {
                assert!(matches!(error, LeaseError::Symbol { .. }), "{error}")
            }
            other => panic!("unexpected rejection of {other}: {error}"),
        }
        rejected.insert(key);
    }
    assert!(!relay.is_finished(), "the relay survives malformed leases");

    // A deleted lease leaves upstream at once.
    leases
        .delete("iex.quotes.MSFT.consumer-1")
        .await
        .expect("delete");
    until_upstream(&server, "MSFT to leave upstream", |sessions| {
        sessions.len() == 1 && sessions[0].iter().eq(["AAPL"].iter())
    })
    .await;

    // The other is not refreshed: it expires, and the upstream lets go.
    until_upstream(
        &server,
        "the expired lease to end the upstream",
        |sessions| sessions.iter().all(BTreeSet::is_empty),
    )
    .await;
    let (leases_left, consumers) = event(&mut events, "the interest to empty", |e| match e {
        RelayEvent::Interest { leases, consumers } if *leases == 0 => Some((*leases, *consumers)),
        _ => None,
    })
    .await;
    assert_eq!((leases_left, consumers), (0, 0));
    until_upstream(
        &server,
        "the upstream connection to close after its linger",
        |sessions| sessions.is_empty(),
    )
    .await;
    assert_eq!(
        server
            .exchange()
            .with(|ex, _| ex.open_sessions(Endpoint::Iex)),
        0
    );

    relay.shutdown().await.expect("a clean shutdown");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_from_before_the_start_count_and_shared_pairs_stay_while_one_holds_them() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let config = relay_config(&nats, &server, Duration::from_secs(30));

    // The bucket and two consumers' leases exist before this relay starts.
    let first = Relay::start(config.clone())
        .await
        .expect("the relay starts");
    first.shutdown().await.expect("a clean shutdown");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let leases = jetstream::new(client.clone())
        .get_key_value(DEFAULT_BUCKET)
        .await
        .expect("the lease bucket");
    for key in [
        "iex.quotes.AAPL.consumer-1",
        "iex.quotes.AAPL.consumer-2",
        "iex.quotes.MSFT.consumer-2",
    ] {
        leases.put(key, "".into()).await.expect("write a lease");
    }

    let relay = Relay::start(config).await.expect("the relay starts again");
    until_upstream(&server, "the earlier leases upstream", |sessions| {
        sessions.len() == 1 && sessions[0].iter().eq(["AAPL", "MSFT"].iter())
    })
    .await;

    // consumer-2 leaves: AAPL stays for consumer-1, MSFT goes.
    leases
        .delete("iex.quotes.AAPL.consumer-2")
        .await
        .expect("delete");
    leases
        .delete("iex.quotes.MSFT.consumer-2")
        .await
        .expect("delete");
    until_upstream(&server, "MSFT alone to leave upstream", |sessions| {
        sessions.len() == 1 && sessions[0].iter().eq(["AAPL"].iter())
    })
    .await;

    relay.shutdown().await.expect("a clean shutdown");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_marks_an_expired_lease_for_watchers() {
    let nats = nats_server().await;
    let config = RelayConfig::new(
        nats.url(),
        Upstream::base("ws://127.0.0.1:9"),
        Credentials::new(KEY, SECRET),
        Feed::Iex,
    )
    .with_lease_ttl(Duration::from_secs(1));
    let relay = Relay::start(config).await.expect("the relay starts");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let leases = jetstream::new(client)
        .get_key_value(DEFAULT_BUCKET)
        .await
        .expect("the lease bucket");
    let mut watch = leases.watch("iex.>").await.expect("watch");
    leases
        .put("iex.quotes.=2A.watcher", "".into())
        .await
        .expect("write a lease");
    let expired = tokio::time::timeout(PATIENCE, async {
        while let Some(entry) = watch.next().await {
            let entry = entry.expect("a watch entry");
            if entry.operation != jetstream::kv::Operation::Put {
                return entry;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the server marks the expiry within the patience");
    assert_eq!(expired.key, "iex.quotes.=2A.watcher");
    assert_eq!(expired.operation, jetstream::kv::Operation::Purge);
    relay.shutdown().await.expect("a clean shutdown");
}
