//! Two relays of one feed with a real nats-server in front of the simulated
//! exchange: one leads, the other stands by; when the leader dies without
//! cleaning up, the standby takes over after the leadership key expired
//! and publishes the consumer's symbols, and the exchange never sees two
//! connections of the account at once. A clean shutdown hands over at once;
//! a leader cut off from NATS closes its upstream before its key expires,
//! and leads again when NATS comes back.

mod support;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use support::{
    Doomed, PATIENCE, event, exchange, exchange_with, nats_server, relay_config, until_upstream,
};
use tickwire_alpaca::Quote;
use tickwire_core::Timestamp;
use tickwire_mock::{Endpoint, ExchangeConfig, ExchangeStats, LoopbackServer};
use tickwire_nats_server::NatsServer;
use tickwire_relay::{DEFAULT_BUCKET, Relay, RelayConfig, RelayEvent, RelayRole};
use tokio::sync::broadcast;

/// Consumers' leases outlive the test: nobody refreshes them.
const LEASE_TTL: Duration = Duration::from_secs(60);

/// The relay configuration with leadership TTL `leader_ttl` and this id.
fn config(
    nats: &NatsServer,
    server: &LoopbackServer,
    id: &str,
    leader_ttl: Duration,
) -> RelayConfig {
    relay_config(nats, server, LEASE_TTL)
        .with_relay_id(id)
        .with_leadership("tickwire-leader", leader_ttl)
}

/// Waits until `relay` stands as `check` wants.
async fn until_role(relay: &Relay, what: &str, check: impl Fn(&RelayRole) -> bool) -> RelayRole {
    let mut role = relay.role();
    let waited = tokio::time::timeout(PATIENCE, async {
        role.wait_for(|r| check(r)).await.map(|r| r.clone())
    })
    .await;
    match waited {
        Ok(Ok(role)) => role,
        Ok(Err(_)) => panic!("the relay stopped while waiting for {what}"),
        Err(_) => panic!(
            "timed out waiting for {what}; the relay is {:?}",
            *role.borrow()
        ),
    }
}

async fn leading(relay: &Relay, who: &str) {
    until_role(relay, &format!("{who} to lead"), |r| {
        *r == RelayRole::Leading
    })
    .await;
}

/// Waits until `relay` stands by and returns the leader it saw.
async fn standing_by(relay: &Relay) -> Option<String> {
    match until_role(relay, "the second relay to see the leader", |r| {
        matches!(r, RelayRole::StandingBy { leader: Some(_) })
    })
    .await
    {
        RelayRole::StandingBy { leader } => leader,
        other => panic!("not standing by: {other:?}"),
    }
}

/// Starts `relay-b` while `relay-a` leads: it stands by, and its events
/// are watched from then on.
async fn standby(
    nats: &NatsServer,
    server: &LoopbackServer,
    leader_ttl: Duration,
) -> (Relay, broadcast::Receiver<RelayEvent>) {
    let relay = Relay::start(config(nats, server, "relay-b", leader_ttl))
        .await
        .expect("the second relay starts");
    let events = relay.events();
    assert_eq!(standing_by(&relay).await.as_deref(), Some("relay-a"));
    (relay, events)
}

/// Waits for the standby's [`RelayEvent::Leading`].
async fn took_over(events: &mut broadcast::Receiver<RelayEvent>) {
    event(events, "the standby to lead", |e| {
        (*e == RelayEvent::Leading).then_some(())
    })
    .await;
}

/// A consumer: leases AAPL's quotes and subscribes to their subject.
async fn consumer(nats: &NatsServer) -> async_nats::Subscriber {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let quotes = client
        .subscribe("tickwire.iex.quotes.AAPL")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    jetstream::new(client)
        .get_key_value(DEFAULT_BUCKET)
        .await
        .expect("the relays created the lease bucket")
        .put("iex.quotes.AAPL.consumer-1", "".into())
        .await
        .expect("write a lease");
    quotes
}

/// Reads AAPL quotes until one stamped after `after` by the exchange.
async fn quote_after(quotes: &mut async_nats::Subscriber, after: Timestamp) -> Quote {
    let read = tokio::time::timeout(PATIENCE, async {
        loop {
            let message = quotes.next().await.expect("the subscription ended");
            let mut decoded: Vec<Quote> =
                rmp_serde::from_slice(&message.payload).expect("Alpaca's MessagePack framing");
            let quote = decoded.pop().expect("one quote per message");
            if quote.timestamp > after {
                return quote;
            }
        }
    })
    .await;
    read.unwrap_or_else(|_| panic!("no AAPL quote stamped after {after} within {PATIENCE:?}"))
}

/// The exchange's clock now.
fn exchange_time(server: &LoopbackServer) -> Timestamp {
    server.exchange().with(|ex, now| ex.wall_clock(now))
}

fn stats(server: &LoopbackServer) -> ExchangeStats {
    server.exchange().with(|ex, _| ex.stats().clone())
}

/// What the exchange saw of the account's `/v2/iex` connections: never
/// two at once, never a 406, `opened` in all.
fn assert_one_at_a_time(server: &LoopbackServer, opened: u64) {
    let stats = stats(server);
    assert_eq!(
        stats.open_peak.get(&Endpoint::Iex),
        Some(&1),
        "never two upstream connections at once: {stats:?}"
    );
    assert_eq!(stats.errors_sent.get(&406), None, "no 406: {stats:?}");
    assert_eq!(stats.opened.get(&Endpoint::Iex), Some(&opened), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_from_a_dead_leader_without_a_second_connection() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let leader_ttl = Duration::from_secs(2);
    let nats = nats_server().await;
    // The exchange frees a vanished connection's slot after 1 s (Alpaca's
    // own delay is not documented); the key outlives that.
    let mut exchange_config = ExchangeConfig::new(11);
    exchange_config.reap_after = Duration::from_secs(1);
    let server = exchange_with(exchange_config).await;

    let first = Doomed::start(config(&nats, &server, "relay-a", leader_ttl)).await;
    leading(&first.relay, "the first relay").await;
    let (second, mut second_events) = standby(&nats, &server, leader_ttl).await;

    let mut quotes = consumer(&nats).await;
    until_upstream(&server, "the leader's upstream to hold AAPL", |sessions| {
        sessions.len() == 1 && sessions[0].iter().eq(["AAPL"].iter())
    })
    .await;
    quote_after(&mut quotes, Timestamp::default()).await;

    // The leader dies: no release, its key expires.
    first.kill();
    let killed_at = Instant::now();
    until_upstream(
        &server,
        "the dead leader's connection to end",
        <[_]>::is_empty,
    )
    .await;
    let ended_after = killed_at.elapsed();
    took_over(&mut second_events).await;
    let takeover = killed_at.elapsed();
    tracing::info!(
        takeover_s = takeover.as_secs_f64(),
        connection_ended_s = ended_after.as_secs_f64(),
        leader_ttl_s = leader_ttl.as_secs_f64(),
        "the standby leads after the leader died"
    );
    assert!(
        takeover <= leader_ttl + Duration::from_secs(5),
        "takeover after {takeover:?}: more than the TTL and 5 s"
    );

    // The consumer's subscription carries over: the new leader's quotes.
    let led_at = exchange_time(&server);
    until_upstream(
        &server,
        "the new leader's upstream to hold AAPL",
        |sessions| sessions.len() == 1 && sessions[0].iter().eq(["AAPL"].iter()),
    )
    .await;
    let quote = quote_after(&mut quotes, led_at).await;
    assert_eq!(quote.symbol.as_str(), "AAPL");
    assert_one_at_a_time(&server, 2);
    assert!(!second.is_finished());

    second.shutdown().await.expect("a clean shutdown");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_hands_the_lead_over_at_once() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    // Long enough that waiting for the key to expire would show.
    let leader_ttl = Duration::from_secs(10);
    let nats = nats_server().await;
    let server = exchange().await;

    let first = Relay::start(config(&nats, &server, "relay-a", leader_ttl))
        .await
        .expect("the first relay starts");
    leading(&first, "the first relay").await;
    let (second, mut second_events) = standby(&nats, &server, leader_ttl).await;
    let mut quotes = consumer(&nats).await;
    quote_after(&mut quotes, Timestamp::default()).await;

    let stopped_at = Instant::now();
    first.shutdown().await.expect("a clean shutdown");
    took_over(&mut second_events).await;
    let takeover = stopped_at.elapsed();
    tracing::info!(
        takeover_s = takeover.as_secs_f64(),
        "the standby leads after the leader's shutdown began"
    );
    assert!(
        takeover < leader_ttl / 2,
        "takeover after {takeover:?}: the key was not released"
    );
    let led_at = exchange_time(&server);
    quote_after(&mut quotes, led_at).await;
    assert_one_at_a_time(&server, 2);

    second.shutdown().await.expect("a clean shutdown");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_nats_closes_its_upstream_before_its_key_could_expire() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let leader_ttl = Duration::from_secs(2);
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = Relay::start(config(&nats, &server, "relay-a", leader_ttl))
        .await
        .expect("the relay starts");
    leading(&relay, "the relay").await;
    let mut events = relay.events();
    let mut quotes = consumer(&nats).await;
    quote_after(&mut quotes, Timestamp::default()).await;
    until_upstream(&server, "the upstream to hold AAPL", |sessions| {
        sessions.len() == 1
    })
    .await;

    // NATS goes away: no renewal gets through.
    drop(quotes);
    drop(nats);
    let cut_at = Instant::now();
    event(&mut events, "the leadership to be given up", |e| {
        (*e == RelayEvent::LeadershipLost).then_some(())
    })
    .await;
    let given_up = cut_at.elapsed();
    until_upstream(&server, "the upstream connection to close", <[_]>::is_empty).await;
    let closed = cut_at.elapsed();
    tracing::info!(
        given_up_s = given_up.as_secs_f64(),
        closed_s = closed.as_secs_f64(),
        "the cut-off leader let go"
    );
    assert!(
        closed < leader_ttl,
        "the upstream closed {closed:?} after the cut, not within the key's {leader_ttl:?}"
    );
    assert!(
        !relay.is_finished(),
        "the relay stands by, it does not stop"
    );
    assert_eq!(stats(&server).errors_sent.get(&406), None);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_nats_restart_the_relay_leads_again_and_the_consumer_gets_quotes() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let leader_ttl = Duration::from_secs(2);
    let nats = nats_server().await;
    let server = exchange().await;
    let relay = Relay::start(config(&nats, &server, "relay-a", leader_ttl))
        .await
        .expect("the relay starts");
    leading(&relay, "the relay").await;
    let mut events = relay.events();
    let mut quotes = consumer(&nats).await;
    quote_after(&mut quotes, Timestamp::default()).await;

    // The server crashes and comes back on its port with its store after
    // longer than the leadership key lives; a quote stamped after that went
    // through the new server.
    let nats = tokio::task::spawn_blocking(move || {
        let mut nats = nats;
        nats.restart(leader_ttl + Duration::from_secs(1))
            .map(|()| nats)
    })
    .await
    .expect("the restart's thread panicked")
    .unwrap_or_else(|error| panic!("nats-server did not restart: {error}"));
    let restarted_at = exchange_time(&server);

    // Whatever the relay went through meanwhile, it leads and publishes
    // again, and the consumer's client reconnected by itself.
    let quote = quote_after(&mut quotes, restarted_at).await;
    leading(&relay, "the relay after the restart").await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    tracing::info!(?seen, quote_at = %quote.timestamp, "after the restart");
    assert!(!relay.is_finished(), "the relay stopped: {seen:?}");
    let lost = seen.iter().position(|e| *e == RelayEvent::LeadershipLost);
    let led = seen.iter().rposition(|e| *e == RelayEvent::Leading);
    assert!(
        matches!((lost, led), (Some(lost), Some(led)) if lost < led),
        "the relay gave the lead up while NATS was down and took it again: {seen:?}"
    );
    let stats = stats(&server);
    assert!(
        stats
            .open_peak
            .get(&Endpoint::Iex)
            .is_some_and(|peak| *peak == 1),
        "never two upstream connections at once: {stats:?}"
    );
    assert_eq!(stats.errors_sent.get(&406), None, "no 406: {stats:?}");
    relay.shutdown().await.expect("a clean shutdown");
    drop(nats);
    server.shutdown().await;
}
