//! An account stream reconciles after a gap, against the loopback exchange
//! (its REST order list on the stream's own port): the order states the gap
//! hid arrive once, as `StreamEvent::Recovered`, and each order ends in the
//! state the exchange holds. Real time: the gap is a few hundred
//! milliseconds of refused reconnects.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use tickwire_alpaca::{Order, TradeUpdate};
use tickwire_mock::{
    Account, ExchangeConfig, Fault, LoopbackConfig, LoopbackServer, SharedExchange, TradingConfig,
};
use tickwire_ws::{Event, State, StreamEvent, TradingEndpoint, TradingEvent, TradingStream};

const KEY: &str = "PKRECONCILE";
const SECRET: &str = "reconcile-secret";

/// Longest any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

async fn next(stream: &mut TradingStream, what: &str) -> TradingEvent {
    match tokio::time::timeout(PATIENCE, stream.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the stream ended while waiting for {what}"),
        Err(_) => panic!("no event within {PATIENCE:?} while waiting for {what}"),
    }
}

fn key(update: &TradeUpdate) -> (String, String, Option<String>) {
    let order = &update.order;
    let filled = order.filled_qty.as_ref().map(ToString::to_string);
    (order.id.clone(), order.status.to_string(), filled)
}

fn latest_orders(exchange: &SharedExchange) -> Vec<Order> {
    let answer = exchange.with(|ex, _| ex.rest_orders(KEY, SECRET, "status=all&limit=500"));
    serde_json::from_str(&answer.body).expect("an order list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_states_hidden_by_a_gap_are_delivered_once_marked_recovered() {
    let mut trading = TradingConfig::default();
    trading.order_interval = Duration::from_millis(20);
    // Orders that live long enough to change while the stream is away.
    trading.step_delay_max = Duration::from_millis(1500);
    let config = ExchangeConfig::new(21)
        .with_account(Account::new(KEY, SECRET))
        .with_trading(trading);
    let server = LoopbackServer::start(LoopbackConfig::new(config))
        .await
        .expect("loopback exchange");
    let exchange = server.exchange().clone();
    let mut stream = TradingStream::builder(TradingEndpoint::Custom(server.url("/stream")))
        .key_pair(KEY, SECRET)
        .backoff(Duration::from_millis(100), Duration::from_millis(400))
        .backoff_floor_after_limit(Duration::ZERO)
        .build()
        .expect("build");

    let mut delivered: Vec<(TradeUpdate, bool)> = Vec::new();
    while delivered.len() < 20 {
        if let StreamEvent::Machine(Event::Data(update)) = next(&mut stream, "live updates").await {
            delivered.push((update, false));
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
    let (mut resumed, mut failures) = (false, Vec::new());
    let mut recovered_after_resume = 0;
    while !(resumed && recovered_after_resume > 0 && delivered.len() > 80) {
        match next(&mut stream, "the resume and recovered updates").await {
            StreamEvent::Machine(Event::Data(update)) => delivered.push((update, false)),
            StreamEvent::Recovered(update) => {
                assert!(resumed, "recovered before the resume: {update:?}");
                recovered_after_resume += 1;
                delivered.push((update, true));
            }
            StreamEvent::Machine(Event::Resumed { .. }) => resumed = true,
            StreamEvent::RecoveryFailed { reason } => failures.push(reason),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
    stream.shutdown().await.expect("shutdown");
    // Whatever is still queued is part of what was delivered.
    while let Some(event) = stream.next().await {
        if let Some(update) = event.data() {
            delivered.push((update.clone(), matches!(event, StreamEvent::Recovered(_))));
        }
    }

    let mut keys = BTreeSet::new();
    for (update, _) in &delivered {
        assert!(
            keys.insert(key(update)),
            "delivered twice: {:?}",
            key(update)
        );
    }
    // Each order the stream ever reported ends in a state the exchange had
    // for it: its latest, or one it passed through after the stream stopped.
    let mut last: BTreeMap<String, &TradeUpdate> = BTreeMap::new();
    for (update, _) in &delivered {
        last.insert(update.order.id.clone(), update);
    }
    let latest: BTreeMap<String, Order> = latest_orders(&exchange)
        .into_iter()
        .map(|order| (order.id.clone(), order))
        .collect();
    for (id, update) in &last {
        let order = latest
            .get(id)
            .expect("the exchange lists every order it reported");
        assert!(
            update.order.updated_at <= order.updated_at,
            "order {id}: delivered a state newer than the exchange's"
        );
    }
    assert!(recovered_after_resume > 0);
    let state = stream.state();
    assert!(matches!(state, State::Closed), "{state:?}");
    server.shutdown().await;
}
