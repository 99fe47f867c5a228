//! The sans-I/O `OrderReconciler` against the exchange model itself, in
//! virtual time: an account trades while its stream is cut; after the
//! resume every order ends in the state the exchange holds, nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tickwire_alpaca::{
    Channel, Order, OrderReconciler, ReconcileOutput, TradeUpdate, order_state_key as key,
};
use tickwire_core::machine::{ConnectionEpoch, Event};
use tickwire_mock::{Account, Exchange, ExchangeConfig, Output, TradingConfig};
use tickwire_recovery::RecoveryConfig;

const KEY: &str = "PKRECONCILE";
const SECRET: &str = "reconcile-secret";

/// What the application saw: each update with whether it was reconciled.
type Seen = Vec<(TradeUpdate, bool)>;

fn drain(reconciler: &mut OrderReconciler, exchange: &Exchange, seen: &mut Seen) -> usize {
    let mut fetches = 0;
    while let Some(output) = reconciler.poll_output() {
        match output {
            ReconcileOutput::Deliver { update, reconciled } => seen.push((*update, reconciled)),
            ReconcileOutput::Fetch(fetch) => {
                fetches += 1;
                let query = fetch.path_and_query.trim_start_matches("/v2/orders?");
                let answer = exchange.rest_orders(KEY, SECRET, query);
                assert_eq!(
                    answer.status, 200,
                    "{}: {}",
                    fetch.path_and_query, answer.body
                );
                reconciler.handle_page(&fetch, answer.body.as_bytes());
            }
            ReconcileOutput::Abandoned(why) => panic!("{why}"),
        }
    }
    fetches
}

/// An account trading for `span` with the stream down during `gap`, its
/// reconciler asking for `page_limit` orders a page:
/// what the application saw, and the exchange at the end.
fn run(
    seed: u64,
    page_limit: usize,
    span: Duration,
    gap: (Duration, Duration),
) -> (Seen, Exchange, usize) {
    let now = Instant::now();
    let mut trading = TradingConfig::default();
    trading.order_interval = Duration::from_millis(700);
    // Orders that live long: many are placed before a gap and change in it.
    trading.step_delay_max = Duration::from_secs(15);
    let config = ExchangeConfig::new(seed)
        .with_account(Account::new(KEY, SECRET))
        .with_trading(trading);
    let mut exchange = Exchange::new(config, now);
    exchange
        .open_trading_listener(now, KEY, SECRET)
        .expect("listens");
    let mut reconciler =
        OrderReconciler::new(RecoveryConfig::default()).with_page_limit(page_limit);
    let (mut seen, mut fetches, mut resumed) = (Vec::new(), 0, false);
    let mut last_data_at = None;
    while let Some(t) = exchange.poll_timeout().filter(|t| *t <= now + span) {
        let in_gap = t >= now + gap.0 && t < now + gap.1;
        if !resumed && t >= now + gap.1 {
            resumed = true;
            let lost_at = Some(exchange.wall_clock(now + gap.0));
            let resume: Event<TradeUpdate, Channel> = Event::Resumed {
                epoch: ConnectionEpoch::default(),
                gap_since: now + gap.0,
                lost_for: gap.1 - gap.0,
                lost_at,
                resumed_at: Some(exchange.wall_clock(t)),
                last_data_at,
            };
            reconciler.handle_event(&resume);
            fetches += drain(&mut reconciler, &exchange, &mut seen);
        }
        exchange.handle_timeout(t);
        while let Some((_, output)) = exchange.poll_output() {
            let Output::Frame(frame) = output else {
                continue;
            };
            let message: serde_json::Value = serde_json::from_slice(frame.payload()).expect("JSON");
            if message["stream"] != "trade_updates" || in_gap {
                continue;
            }
            let update: TradeUpdate =
                serde_json::from_value(message["data"].clone()).expect("a trade update");
            last_data_at = update.timestamp.or(last_data_at);
            reconciler.handle_live(update);
            fetches += drain(&mut reconciler, &exchange, &mut seen);
        }
    }
    (seen, exchange, fetches)
}

#[test]
fn after_a_gap_every_order_ends_in_its_latest_state_and_nothing_comes_twice() {
    let (mut reconciled_total, mut paged) = (0, false);
    for seed in 0..12 {
        // Odd seeds page three orders at a time.
        let page_limit = if seed % 2 == 0 { 500 } else { 3 };
        let (seen, exchange, fetches) = run(
            seed,
            page_limit,
            Duration::from_secs(90),
            (Duration::from_secs(30), Duration::from_secs(60)),
        );
        assert!(
            fetches >= 1,
            "seed {seed}: the resume fetched the order list"
        );
        if page_limit == 3 {
            paged |= fetches > 1;
        }
        let mut keys = BTreeSet::new();
        for (update, _) in &seen {
            assert!(
                keys.insert(key(update)),
                "seed {seed}: twice: {:?}",
                key(update)
            );
        }
        let mut last: BTreeMap<String, &TradeUpdate> = BTreeMap::new();
        for (update, _) in &seen {
            last.insert(update.order.id.clone(), update);
        }
        let listed = exchange.rest_orders(KEY, SECRET, "status=all&limit=500");
        let orders: Vec<Order> = serde_json::from_str(&listed.body).expect("orders");
        for order in &orders {
            let delivered = last
                .get(&order.id)
                .unwrap_or_else(|| panic!("seed {seed}: order {} never delivered", order.id));
            assert_eq!(
                (delivered.order.status.as_str(), &delivered.order.filled_qty),
                (order.status.as_str(), &order.filled_qty),
                "seed {seed}: order {} ends in its latest state",
                order.id
            );
        }
        reconciled_total += seen.iter().filter(|(_, reconciled)| *reconciled).count();
    }
    assert!(
        reconciled_total > 0,
        "the gaps hid updates that were reconciled"
    );
    assert!(paged, "small pages were followed to the end");
}
