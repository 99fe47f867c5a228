//! The trade-update relay with a real nats-server, in front of the
//! simulated exchange: a relay publishes the account's order updates to
//! JetStream, is killed while orders keep filling, and a second relay takes
//! over; every order state the exchange produced reaches the stream exactly
//! once (live or reconciled), and a consumer that stops and starts again
//! after its last sequence reads the rest, each once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use tickwire_alpaca::{TradeUpdate, order_state_key};
use tickwire_core::Credentials;
use tickwire_mock::{
    Account, ExchangeConfig, LoopbackConfig, LoopbackServer, OrderChange, TradingConfig,
};
use tickwire_nats_server::NatsServer;
use tickwire_relay::{
    DEFAULT_TRADE_STREAM, RelayedTradeUpdate, TradeRelay, TradeRelayConfig, TradeUpdates,
    TradeUpdatesStart,
};
use tickwire_ws::{StreamEvent, TradingEndpoint};

const KEY: &str = "PKTRADES";
const SECRET: &str = "trade-secret";
const ACCOUNT: &str = "paper";

/// The most any wait in this test lasts.
const PATIENCE: Duration = Duration::from_secs(20);

type StateKey = (String, String, String);

async fn nats_server() -> NatsServer {
    tokio::task::spawn_blocking(|| NatsServer::start(Path::new(env!("CARGO_TARGET_TMPDIR"))))
        .await
        .expect("the thread starting nats-server panicked")
        .unwrap_or_else(|error| panic!("no nats-server for the trade relay tests: {error}"))
}

/// An exchange placing an order every ~40 ms while someone listens, each
/// stepping through its life within 0.6 s, with a journal of every change.
async fn exchange() -> LoopbackServer {
    let mut trading = TradingConfig::default();
    trading.order_interval = Duration::from_millis(40);
    trading.step_delay_max = Duration::from_millis(600);
    let config = ExchangeConfig::new(5)
        .with_account(Account::new(KEY, SECRET))
        .with_trading(trading);
    let server = LoopbackServer::start(LoopbackConfig::new(config))
        .await
        .expect("bind the exchange on 127.0.0.1");
    server.exchange().with(|ex, _| ex.keep_journal());
    server
}

fn relay_config(nats: &NatsServer, server: &LoopbackServer) -> TradeRelayConfig {
    TradeRelayConfig::new(
        nats.url(),
        TradingEndpoint::Custom(server.url("/stream")),
        Credentials::new(KEY, SECRET),
        ACCOUNT,
    )
    .expect("a valid account name")
}

/// The exchange's order changes since the last call, in order.
fn take_changes(server: &LoopbackServer) -> Vec<TradeUpdate> {
    let mut changes: Vec<OrderChange> = Vec::new();
    server
        .exchange()
        .with(|ex, _| ex.take_order_changes(&mut changes));
    changes
        .into_iter()
        .filter(|change| change.key_id == KEY)
        .map(|change| change.update)
        .collect()
}

/// Every message on the account's subject now: (sequence, key, reconciled).
async fn published(nats: &NatsServer) -> Vec<(u64, StateKey, bool)> {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let last = jetstream::new(client)
        .get_stream(DEFAULT_TRADE_STREAM)
        .await
        .expect("the relay created the stream")
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let mut updates = TradeUpdates::subscribe(&nats.url(), ACCOUNT, TradeUpdatesStart::All)
        .await
        .expect("subscribe");
    let mut out = Vec::new();
    while out.last().is_none_or(|(sequence, _, _)| *sequence < last) {
        let Ok(Some(relayed)) = tokio::time::timeout(PATIENCE, updates.next()).await else {
            panic!("the stream's messages up to {last} did not all arrive: {out:?}");
        };
        out.push(key_of(&relayed));
    }
    out
}

fn key_of(relayed: &RelayedTradeUpdate) -> (u64, StateKey, bool) {
    match &relayed.event {
        StreamEvent::Machine(tickwire_ws::Event::Data(update)) => {
            (relayed.sequence, order_state_key(update), false)
        }
        StreamEvent::Recovered(update) => (relayed.sequence, order_state_key(update), true),
        other => panic!("not a trade update at {}: {other:?}", relayed.sequence),
    }
}

/// Waits until the stream holds at least `count` messages of the account.
async fn until_published(nats: &NatsServer, count: usize, what: &str) {
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            if published(nats).await.len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_state_reaches_the_stream_once_across_a_relay_crash() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;

    // The first relay publishes for a while, then dies without a word.
    let first = TradeRelay::start(relay_config(&nats, &server))
        .await
        .expect("the first relay starts");
    until_published(&nats, 20, "the first relay's first 20 updates").await;
    let mut journal = take_changes(&server);
    drop(first);
    let by_first: BTreeSet<StateKey> = published(&nats).await.into_iter().map(|p| p.1).collect();
    let first_end = journal
        .iter()
        .rposition(|update| by_first.contains(&order_state_key(update)))
        .expect("the first relay published states the journal holds");

    // Orders keep stepping while no relay listens.
    let dark = tokio::time::timeout(PATIENCE, async {
        loop {
            journal.extend(take_changes(&server));
            if journal.len() > first_end + 15 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(dark.is_ok(), "no order changed while no relay listened");

    // The second relay reconciles from the last update published.
    let second = TradeRelay::start(relay_config(&nats, &server))
        .await
        .expect("the second relay starts");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    journal.extend(take_changes(&server));
    let owed: Vec<StateKey> = journal.iter().map(order_state_key).collect();
    // Everything produced up to now is owed (in flight included): wait for it.
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            let keys: BTreeSet<StateKey> =
                published(&nats).await.into_iter().map(|p| p.1).collect();
            let missing: Vec<&StateKey> = owed
                .iter()
                .enumerate()
                .filter(|(i, key)| {
                    !keys.contains(*key) && !superseded(&journal, &keys, *i, first_end)
                })
                .map(|(_, key)| key)
                .collect();
            if missing.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    second
        .shutdown()
        .await
        .expect("the second relay stops cleanly");
    journal.extend(take_changes(&server));
    let all = published(&nats).await;
    let produced: BTreeSet<StateKey> = journal.iter().map(order_state_key).collect();
    let mut counts: BTreeMap<&StateKey, usize> = BTreeMap::new();
    for (_, key, _) in &all {
        *counts.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    let forged: Vec<_> = counts.keys().filter(|k| !produced.contains(**k)).collect();
    assert!(
        forged.is_empty(),
        "published but never produced: {forged:?}"
    );
    assert!(
        waited.is_ok(),
        "order states produced but never published (not superseded): {:?}",
        owed.iter()
            .filter(|key| !counts.contains_key(key))
            .collect::<Vec<_>>()
    );
    let reconciled = all.iter().filter(|p| p.2).count();
    assert!(
        reconciled > 0,
        "no order state came from reconciliation: the takeover was not exercised"
    );
    tracing::info!(
        produced = produced.len(),
        published = all.len(),
        reconciled,
        "every order state once"
    );

    // A consumer that handled up to the middle starts again after it.
    let middle = all[all.len() / 2].0;
    let mut rest = TradeUpdates::subscribe(&nats.url(), ACCOUNT, TradeUpdatesStart::After(middle))
        .await
        .expect("subscribe after a sequence");
    let expected: Vec<u64> = all.iter().map(|p| p.0).filter(|s| *s > middle).collect();
    let mut read = Vec::new();
    while read.len() < expected.len() {
        let Ok(Some(relayed)) = tokio::time::timeout(PATIENCE, rest.next()).await else {
            panic!("after {middle}: read {read:?}, expected {expected:?}");
        };
        read.push(key_of(&relayed).0);
    }
    assert_eq!(read, expected);
}

/// Whether the state at `index` of `journal` may be missing: produced after
/// the first relay's last published state, and a later state of its order
/// was published (the REST order list holds each order's latest state only,
/// so a state entered and left while no relay listened cannot come back).
fn superseded(
    journal: &[TradeUpdate],
    published: &BTreeSet<StateKey>,
    index: usize,
    first_end: usize,
) -> bool {
    let order = &journal[index].order.id;
    index > first_end
        && journal[index + 1..]
            .iter()
            .any(|later| &later.order.id == order && published.contains(&order_state_key(later)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_on_the_subject_is_an_error_event_and_reading_goes_on() {
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = TradeRelay::start(relay_config(&nats, &server))
        .await
        .expect("the relay starts");
    until_published(&nats, 3, "three updates").await;
    relay.shutdown().await.expect("the relay stops");

    let client = async_nats::connect(nats.url()).await.expect("connect");
    let context = jetstream::new(client);
    context
        .publish(
            tickwire_relay::subject::trade_updates_subject(ACCOUNT),
            "{not json".into(),
        )
        .await
        .expect("publish")
        .await
        .expect("stored");
    let mut updates = TradeUpdates::subscribe(&nats.url(), ACCOUNT, TradeUpdatesStart::All)
        .await
        .expect("subscribe");
    let mut seen_error = None;
    let mut updates_read = 0;
    while seen_error.is_none() {
        let Ok(Some(relayed)) = tokio::time::timeout(PATIENCE, updates.next()).await else {
            panic!("the malformed message never came as an error event");
        };
        match relayed.event {
            StreamEvent::Machine(tickwire_ws::Event::Error { error, fatal }) => {
                assert!(!fatal);
                seen_error = Some(error.to_string());
            }
            event => {
                assert!(event.is_data(), "{event:?}");
                updates_read += 1;
            }
        }
    }
    let message = seen_error.expect("set");
    assert!(message.contains("is not a trade update"), "{message}");
    assert!(updates_read >= 3, "{updates_read}");

    // A relay started again skips the malformed tail and goes on publishing.
    let again = TradeRelay::start(relay_config(&nats, &server))
        .await
        .expect("a relay starts over a malformed tail");
    let next = tokio::time::timeout(PATIENCE, updates.next()).await;
    assert!(
        matches!(next, Ok(Some(ref r)) if r.event.is_data()),
        "no update after the malformed one: {next:?}"
    );
    again.shutdown().await.expect("stops");
}
