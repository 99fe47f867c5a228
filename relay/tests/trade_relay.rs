//! The trade-update relay with a real nats-server, in front of the
//! simulated exchange: a relay publishes the account's order updates to
//! JetStream, is killed while orders keep filling, and a second relay takes
//! over; every order state the exchange produced reaches the stream exactly
//! once (live or reconciled), as it does when a standby takes over from a
//! dead leader and when NATS restarts; and a consumer that stops and
//! starts again after its last sequence reads the rest, each once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use tickwire_alpaca::{TradeUpdate, order_state_key};
use tickwire_core::Credentials;
use tickwire_mock::{
    Account, Endpoint, ExchangeConfig, LoopbackConfig, LoopbackServer, OrderChange, TradingConfig,
};
use tickwire_nats_server::NatsServer;
use tickwire_relay::{
    DEFAULT_LEADER_BUCKET, DEFAULT_TRADE_STREAM, RelayEvent, RelayRole, RelayedTradeUpdate,
    TradeRelay, TradeRelayConfig, TradeUpdates, TradeUpdatesStart,
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

/// The leadership key's TTL in these tests: a dead leader's key expires
/// soon.
const LEADER_TTL: Duration = Duration::from_secs(2);

fn relay_config(nats: &NatsServer, server: &LoopbackServer) -> TradeRelayConfig {
    TradeRelayConfig::new(
        nats.url(),
        TradingEndpoint::Custom(server.url("/stream")),
        Credentials::new(KEY, SECRET),
        ACCOUNT,
    )
    .expect("a valid account name")
    .with_leadership(DEFAULT_LEADER_BUCKET, LEADER_TTL)
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
    let all = every_state_once(&nats, &server, journal, first_end, second).await;

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

/// Waits until `second` leads, then until every order state `journal` and
/// the exchange hold 1.5 s later reached the stream (or was superseded
/// after `first_end`, the last state published before the takeover),
/// stops `second`, and asserts that none was published twice or forged
/// and some came from reconciliation. Returns what the stream holds.
async fn every_state_once(
    nats: &NatsServer,
    server: &LoopbackServer,
    mut journal: Vec<TradeUpdate>,
    first_end: usize,
    second: TradeRelay,
) -> Vec<(u64, StateKey, bool)> {
    until_role(&second, "the second relay to lead", |role| {
        *role == RelayRole::Leading
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    journal.extend(take_changes(server));
    let owed = journal.len();
    // Everything produced up to now is owed (in flight included): wait
    // until each state is published, or superseded by a later state of
    // its order that was (the journal grows meanwhile: a state the takeover
    // hid may be superseded only by one made after `owed`).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let waited = loop {
        journal.extend(take_changes(server));
        let keys: BTreeSet<StateKey> = published(nats).await.into_iter().map(|p| p.1).collect();
        let all_there = journal[..owed].iter().enumerate().all(|(i, update)| {
            keys.contains(&order_state_key(update)) || superseded(&journal, &keys, i, first_end)
        });
        if all_there {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second
        .shutdown()
        .await
        .expect("the second relay stops cleanly");
    journal.extend(take_changes(server));
    let all = published(nats).await;
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
    let keys: BTreeSet<StateKey> = counts.keys().map(|key| (*key).clone()).collect();
    let missing: Vec<(usize, StateKey)> = journal[..owed]
        .iter()
        .enumerate()
        .map(|(i, update)| (i, order_state_key(update)))
        .filter(|(i, key)| !keys.contains(key) && !superseded(&journal, &keys, *i, first_end))
        .collect();
    assert!(
        waited && missing.is_empty(),
        "order states produced but neither published nor superseded within {PATIENCE:?} \
         (journal index, state; the first relay's last published is at {first_end}): \
         {missing:?}"
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
    all
}

/// Waits until `relay` stands as `wanted` says, or fails naming `what`.
async fn until_role(relay: &TradeRelay, what: &str, wanted: impl Fn(&RelayRole) -> bool) {
    let mut role = relay.role();
    let waited = tokio::time::timeout(PATIENCE, role.wait_for(|role| wanted(role)))
        .await
        .is_ok_and(|changed| changed.is_ok());
    assert!(waited, "timed out waiting for {what}: {:?}", *role.borrow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_trade_relay_takes_over_from_a_dead_leader_and_every_state_arrives_once() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;

    let first = TradeRelay::start(relay_config(&nats, &server).with_relay_id("trades-a"))
        .await
        .expect("the first relay starts");
    until_role(&first, "the first relay to lead", |role| {
        *role == RelayRole::Leading
    })
    .await;
    let second = TradeRelay::start(relay_config(&nats, &server).with_relay_id("trades-b"))
        .await
        .expect("the standby starts");
    until_role(
        &second,
        "the second relay to stand by",
        |role| matches!(role, RelayRole::StandingBy { leader: Some(l) } if l == "trades-a"),
    )
    .await;
    until_published(&nats, 20, "the leader's first 20 updates").await;

    // The leader dies without releasing its key; orders keep stepping
    // until the standby leads.
    let mut journal = take_changes(&server);
    drop(first);
    let killed_at = std::time::Instant::now();
    let by_first: BTreeSet<StateKey> = published(&nats).await.into_iter().map(|p| p.1).collect();
    let first_end = journal
        .iter()
        .rposition(|update| by_first.contains(&order_state_key(update)))
        .expect("the leader published states the journal holds");
    until_role(&second, "the standby to lead", |role| {
        *role == RelayRole::Leading
    })
    .await;
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= LEADER_TTL + Duration::from_secs(5),
        "the standby led {takeover:?} after the leader died"
    );
    journal.extend(take_changes(&server));
    assert!(
        journal.len() > first_end + 10,
        "too few order changes during the takeover to exercise it: {}",
        journal.len() - first_end - 1
    );
    let all = every_state_once(&nats, &server, journal, first_end, second).await;
    let stats = server.exchange().with(|ex, _| ex.stats().clone());
    assert_eq!(
        stats.open_peak.get(&Endpoint::Trading),
        Some(&1),
        "never two trading streams of the account at once: {stats:?}"
    );
    assert_eq!(stats.errors_sent.get(&406), None, "no 406: {stats:?}");
    tracing::info!(
        takeover_s = takeover.as_secs_f64(),
        published = all.len(),
        "the standby took the trade updates over"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_state_reaches_the_stream_once_across_a_nats_restart() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = TradeRelay::start(relay_config(&nats, &server))
        .await
        .expect("the relay starts");
    until_published(&nats, 20, "the first 20 updates").await;
    let journal = take_changes(&server);
    let before: BTreeSet<StateKey> = published(&nats).await.into_iter().map(|p| p.1).collect();
    let first_end = journal
        .iter()
        .rposition(|update| before.contains(&order_state_key(update)))
        .expect("the relay published states the journal holds");
    let mut events = relay.events();

    // NATS crashes for longer than the leadership key lives, and comes
    // back with its store; orders step meanwhile.
    let nats = tokio::task::spawn_blocking(move || {
        let mut nats = nats;
        nats.restart(LEADER_TTL + Duration::from_secs(1))
            .map(|()| nats)
    })
    .await
    .expect("the restart's thread panicked")
    .unwrap_or_else(|error| panic!("nats-server did not restart: {error}"));
    let all = every_state_once(&nats, &server, journal, first_end, relay).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let lost = seen.iter().position(|e| *e == RelayEvent::LeadershipLost);
    let led = seen.iter().rposition(|e| *e == RelayEvent::Leading);
    assert!(
        matches!((lost, led), (Some(lost), Some(led)) if lost < led),
        "the relay gave the lead up while NATS was down and took it again: {seen:?}"
    );
    tracing::info!(
        published = all.len(),
        "every order state once across a NATS restart"
    );
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
