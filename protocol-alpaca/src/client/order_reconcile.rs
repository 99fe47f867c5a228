//! Reconciling an account stream after a gap: the order states the stream
//! did not report, fetched from the REST order list (sans-I/O).
//!
//! The REST list filters and sorts by *submission* time, not by change
//! time, and holds each order's latest state only. So a window asks for
//! every order submitted after the earlier of its start and the submission
//! of the oldest order still open when the gap began (an order placed long
//! ago may fill during the gap), pages by moving `after` to just before the
//! last order listed (orders can share a submission time; repeats are
//! dropped), and keeps the orders changed since the window's start. Each is
//! delivered as one update of its latest state, once: live updates and
//! fetched states are deduplicated by (order id, status, filled quantity).
//! States an order passed through during the gap and left again (a partial
//! fill before the final fill) are not in the list and cannot be recovered.

use std::collections::BTreeMap;

use crate::{Order, OrderStatus, TradeEvent, TradeUpdate};
use tickwire_core::Timestamp;
use tickwire_core::machine::Event;
use tickwire_recovery::{
    Fetch, Page, Recoverable, Recovery, RecoveryConfig, RecoveryOutput, Source,
};

/// Orders asked for per REST page (the API's maximum).
pub const ORDERS_PAGE_LIMIT: usize = 500;

/// An order state as the reconciler compares it.
#[derive(Debug, Clone, PartialEq)]
struct OrderState(TradeUpdate);

/// What identifies one order state: (order id, status, filled quantity),
/// the key live and fetched updates are deduplicated by (a `partial_fill`
/// event repeats with each fill, so the event alone names no single state).
pub type OrderStateKey = (String, String, String);

/// The [`OrderStateKey`] of `update`'s order.
pub fn order_state_key(update: &TradeUpdate) -> OrderStateKey {
    let order = &update.order;
    let filled = order
        .filled_qty
        .as_ref()
        .map_or_else(String::new, ToString::to_string);
    (order.id.clone(), order.status.as_str().to_owned(), filled)
}

impl Recoverable for OrderState {
    type Key = OrderStateKey;

    fn key(&self) -> Self::Key {
        order_state_key(&self.0)
    }

    fn timestamp(&self) -> Timestamp {
        self.0.order.updated_at
    }
}

/// What the reconciler hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum ReconcileOutput {
    /// An update for the application; `reconciled` when it was fetched.
    Deliver {
        /// The update.
        update: Box<TradeUpdate>,
        /// Whether it came from the REST list rather than the stream.
        reconciled: bool,
    },
    /// A REST request to make (`GET` this path and query); answer with
    /// [`OrderReconciler::handle_page`] or [`OrderReconciler::handle_fetch_failed`].
    Fetch(OrderFetch),
    /// A window was given up: what it would have recovered may be missing.
    Abandoned(String),
}

/// A REST page to fetch, and what the reconciler needs to read its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFetch {
    /// `/v2/orders?…`, to append to the REST base URL.
    pub path_and_query: String,
    fetch: Fetch,
}

/// The reconciler of one account stream, sans-I/O: stream events in,
/// updates to deliver and REST requests to make out (see the module
/// docs for what it can and cannot recover). Drive it with any HTTP
/// client (`tickwire_ws::RestClient` is one); here `get` stands for it:
///
/// ```
/// use tickwire_alpaca::{Channel, OrderReconciler, ReconcileOutput, TradeUpdate};
/// use tickwire_core::machine::Event;
/// use tickwire_recovery::RecoveryConfig;
///
/// fn run(events: &[Event<TradeUpdate, Channel>], get: impl Fn(&str) -> Result<Vec<u8>, String>) {
///     let mut reconciler = OrderReconciler::new(RecoveryConfig::default());
///     for event in events {
///         reconciler.handle_event(event);
///         while let Some(output) = reconciler.poll_output() {
///             match output {
///                 ReconcileOutput::Deliver { update, reconciled } => {
///                     tracing::info!(reconciled, order = %update.order.id, "order update");
///                 }
///                 ReconcileOutput::Fetch(fetch) => match get(&fetch.path_and_query) {
///                     Ok(body) => reconciler.handle_page(&fetch, &body),
///                     Err(error) => reconciler.handle_fetch_failed(&fetch, &error),
///                 },
///                 ReconcileOutput::Abandoned(why) => tracing::warn!(%why, "gave up"),
///             }
///         }
///     }
/// }
/// run(&[], |_| Ok(b"[]".to_vec()));
/// ```
#[derive(Debug)]
pub struct OrderReconciler {
    recovery: Recovery<OrderState>,
    /// Orders seen in an open state, with their submission times.
    open: BTreeMap<String, Timestamp>,
    /// The earliest open submission when each window opened, by window.
    reach_back: BTreeMap<tickwire_recovery::WindowId, Timestamp>,
    /// Orders asked for per page.
    page_limit: usize,
}

impl OrderReconciler {
    /// A reconciler with nothing open; `config` bounds its windows, pages
    /// and memory.
    pub fn new(config: RecoveryConfig) -> Self {
        Self {
            recovery: Recovery::new(config),
            open: BTreeMap::new(),
            reach_back: BTreeMap::new(),
            page_limit: ORDERS_PAGE_LIMIT,
        }
    }

    /// Asks for `limit` orders per page (2 to [`ORDERS_PAGE_LIMIT`], the
    /// default): smaller pages cost more requests, as tests of paging want.
    /// Pages move on by submission time, so a page needs two orders
    /// submitted at different times to move at all.
    #[must_use]
    pub fn with_page_limit(mut self, limit: usize) -> Self {
        self.page_limit = limit.clamp(2, ORDERS_PAGE_LIMIT);
        self
    }

    /// A stream event: data goes through the deduplication, each
    /// `Resumed` opens a window.
    pub fn handle_event<C>(&mut self, event: &Event<TradeUpdate, C>) {
        match event {
            Event::Data(update) => self.handle_live(update.clone()),
            other => self.recovery.handle_event(other),
        }
    }

    /// Opens a window from `since` to `now` (wall clock), as after a gap:
    /// what changed since a start time the application gives, fetched once
    /// the stream is first live.
    pub fn handle_start(&mut self, since: Timestamp, now: Timestamp) {
        self.recovery.handle_resumed(Some(since), Some(now), None);
    }

    /// A live update.
    pub fn handle_live(&mut self, update: TradeUpdate) {
        self.note(&update.order);
        self.recovery.handle_live(OrderState(update));
    }

    /// The next thing to do or deliver.
    pub fn poll_output(&mut self) -> Option<ReconcileOutput> {
        Some(match self.recovery.poll_output()? {
            RecoveryOutput::Deliver(delivery) => ReconcileOutput::Deliver {
                update: Box::new(delivery.record.0),
                reconciled: matches!(delivery.source, Source::Recovered(_)),
            },
            RecoveryOutput::Fetch(fetch) => {
                let earliest_open = self.open.values().min().copied();
                let reach = *self
                    .reach_back
                    .entry(fetch.window)
                    .or_insert_with(|| earliest_open.map_or(fetch.from, |t| t.min(fetch.from)));
                let after = match &fetch.page_token {
                    Some(token) => token.clone(),
                    // `after` is exclusive: one nanosecond earlier keeps an
                    // order submitted exactly at the reach.
                    None => reach.saturating_add_nanos(-1).to_string(),
                };
                ReconcileOutput::Fetch(OrderFetch {
                    path_and_query: format!(
                        "/v2/orders?status=all&direction=asc&limit={}&after={}",
                        self.page_limit,
                        query_escaped(&after)
                    ),
                    fetch,
                })
            }
            RecoveryOutput::Done { window, .. } => {
                self.reach_back.remove(&window);
                return self.poll_output();
            }
            RecoveryOutput::Abandoned { window, error } => {
                if let Some(window) = window {
                    self.reach_back.remove(&window);
                }
                ReconcileOutput::Abandoned(format!("order reconciliation gave up: {error}"))
            }
        })
    }

    /// The answer to `fetch`: a JSON array of orders. A body that is not
    /// one abandons the window, naming why.
    pub fn handle_page(&mut self, fetch: &OrderFetch, body: &[u8]) {
        let orders: Vec<Order> = match serde_json::from_slice(body) {
            Ok(orders) => orders,
            Err(error) => {
                return self.recovery.handle_fetch_failed(
                    &fetch.fetch,
                    format!("the order list is not a JSON array of orders: {error}"),
                );
            }
        };
        let next_page_token = (orders.len() >= self.page_limit)
            .then(|| orders.iter().map(|o| o.submitted_at).max())
            .flatten()
            .map(|last| last.saturating_add_nanos(-1).to_string());
        // Every listed order says whether it is still open, changed in the
        // window or not: an order that closed during an abandoned window
        // must stop pulling later windows back to its submission.
        for order in &orders {
            self.note(order);
        }
        let from = fetch.fetch.from;
        let records = orders
            .into_iter()
            .filter(|order| order.updated_at >= from)
            .map(|order| OrderState(update_of(order)))
            .collect();
        let page = Page {
            records,
            next_page_token,
        };
        self.recovery.handle_page(&fetch.fetch, page);
    }

    /// The driver could not fetch `fetch` (after its retries).
    pub fn handle_fetch_failed(&mut self, fetch: &OrderFetch, reason: &str) {
        self.recovery.handle_fetch_failed(&fetch.fetch, reason);
    }

    /// Keeps track of which orders are open, and since when.
    fn note(&mut self, order: &Order) {
        if order.status.is_closed() {
            self.open.remove(&order.id);
        } else {
            self.open.insert(order.id.clone(), order.submitted_at);
        }
    }
}

/// The update that reports `order`'s latest state: the event its status
/// implies, at its change time; no fill price or quantity of its own (the
/// order carries the cumulative ones).
fn update_of(order: Order) -> TradeUpdate {
    let event = match &order.status {
        OrderStatus::New => TradeEvent::New,
        OrderStatus::PartiallyFilled => TradeEvent::PartialFill,
        OrderStatus::Filled => TradeEvent::Fill,
        OrderStatus::DoneForDay => TradeEvent::DoneForDay,
        OrderStatus::Canceled => TradeEvent::Canceled,
        OrderStatus::Expired => TradeEvent::Expired,
        OrderStatus::Replaced => TradeEvent::Replaced,
        OrderStatus::PendingCancel => TradeEvent::PendingCancel,
        OrderStatus::PendingReplace => TradeEvent::PendingReplace,
        OrderStatus::Accepted => TradeEvent::Accepted,
        OrderStatus::PendingNew => TradeEvent::PendingNew,
        OrderStatus::Stopped => TradeEvent::Stopped,
        OrderStatus::Rejected => TradeEvent::Rejected,
        OrderStatus::Suspended => TradeEvent::Suspended,
        OrderStatus::Calculated => TradeEvent::Calculated,
        other => TradeEvent::Other(other.as_str().to_owned()),
    };
    TradeUpdate {
        event,
        execution_id: None,
        timestamp: Some(order.updated_at),
        price: None,
        qty: None,
        position_qty: None,
        order,
    }
}

/// A value made safe in a REST query: every byte but the unreserved
/// (`A–Z a–z 0–9 - . _ ~`) percent-encoded, so that no time, symbol list
/// or page token the server handed out can end the value or add a parameter.
///
/// ```
/// assert_eq!(tickwire_alpaca::query_escaped("2026-12-06T10:00:00+01:00"), "2026-12-06T10%3A00%3A00%2B01%3A00");
/// assert_eq!(tickwire_alpaca::query_escaped("a&b=c #"), "a%26b%3Dc%20%23");
/// ```
pub fn query_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tickwire_core::machine::ConnectionEpoch;

    use super::*;
    use crate::Channel;

    fn resumed_at(at: Timestamp) -> Event<TradeUpdate, Channel> {
        Event::Resumed {
            epoch: ConnectionEpoch::default(),
            gap_since: Instant::now(),
            lost_for: Duration::from_secs(1),
            lost_at: Some(at),
            resumed_at: Some(at.saturating_add_nanos(1_000_000_000)),
            last_data_at: None,
        }
    }

    #[test]
    fn a_body_that_is_no_order_list_abandons_the_window_naming_why() {
        let mut reconciler = OrderReconciler::new(RecoveryConfig::default());
        let at: Timestamp = "2026-12-06T10:00:00Z".parse().expect("time");
        reconciler.handle_event(&resumed_at(at));
        let Some(ReconcileOutput::Fetch(fetch)) = reconciler.poll_output() else {
            panic!("a fetch first")
        };
        assert!(
            fetch
                .path_and_query
                .contains("after=2026-12-06T09%3A59%3A57.999999999Z"),
            "{}",
            fetch.path_and_query
        );
        reconciler.handle_page(&fetch, br#"{"orders": "no"}"#);
        let Some(ReconcileOutput::Abandoned(why)) = reconciler.poll_output() else {
            panic!("abandoned")
        };
        assert!(why.contains("not a JSON array of orders"), "{why}");
    }

    #[test]
    fn the_page_limit_is_asked_for_and_kept_within_what_the_api_allows() {
        let at: Timestamp = "2026-12-06T10:00:00Z".parse().expect("time");
        for (asked, sent) in [(0, 2), (3, 3), (500, 500), (9_999, 500)] {
            let mut reconciler =
                OrderReconciler::new(RecoveryConfig::default()).with_page_limit(asked);
            reconciler.handle_event(&resumed_at(at));
            let Some(ReconcileOutput::Fetch(fetch)) = reconciler.poll_output() else {
                panic!("a fetch first")
            };
            assert!(
                fetch.path_and_query.contains(&format!("&limit={sent}&")),
                "{asked}: {}",
                fetch.path_and_query
            );
        }
    }

    /// An order of the REST list, as JSON.
    fn order(id: &str, status: &str, submitted: &str, updated: &str) -> String {
        format!(
            r#"{{"id":"{id}","client_order_id":"c-{id}","created_at":"{submitted}","updated_at":"{updated}","submitted_at":"{submitted}","filled_at":null,"expired_at":null,"canceled_at":null,"failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","asset_class":"us_equity","notional":null,"qty":"1","filled_qty":"0","filled_avg_price":null,"order_class":"","order_type":"market","type":"market","side":"buy","time_in_force":"day","limit_price":null,"stop_price":null,"status":"{status}","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null}}"#
        )
    }

    /// Resumes at `at` and returns the window's first fetch, checking
    /// that it asks for the orders submitted after `after` (escaped).
    fn resume(reconciler: &mut OrderReconciler, at: &str, after: &str) -> OrderFetch {
        reconciler.handle_event(&resumed_at(at.parse().expect("time")));
        let fetch = match reconciler.poll_output() {
            Some(ReconcileOutput::Fetch(fetch)) => fetch,
            other => panic!("a fetch, not {other:?}"),
        };
        let asked = &fetch.path_and_query;
        assert!(asked.contains(&format!("after={after}")), "{asked}");
        fetch
    }

    /// Hands `fetch` a page of `orders` and drains what it delivers.
    fn answer(reconciler: &mut OrderReconciler, fetch: &OrderFetch, orders: &[String]) {
        reconciler.handle_page(fetch, format!("[{}]", orders.join(",")).as_bytes());
        while reconciler.poll_output().is_some() {}
    }

    #[test]
    fn an_order_listed_as_closed_stops_reaching_back_even_if_it_changed_before_the_window() {
        let mut reconciler = OrderReconciler::new(RecoveryConfig::default());
        let placed = "2026-12-06T09:00:00Z";
        // Window 1 lists order A open, placed an hour before.
        let fetch = resume(
            &mut reconciler,
            "2026-12-06T10:00:00Z",
            "2026-12-06T09%3A59%3A57.999999999Z",
        );
        answer(
            &mut reconciler,
            &fetch,
            &[order("A", "new", placed, "2026-12-06T09:59:59Z")],
        );
        // Window 2 reaches back to A's submission, and is given up.
        let fetch = resume(
            &mut reconciler,
            "2026-12-06T10:10:00Z",
            "2026-12-06T08%3A59%3A59.999999999Z",
        );
        reconciler.handle_fetch_failed(&fetch, "503 five times");
        while reconciler.poll_output().is_some() {}
        // Window 3 still reaches back; it lists A, filled before its start
        // (the update lost with window 2).
        let fetch = resume(
            &mut reconciler,
            "2026-12-06T10:20:00Z",
            "2026-12-06T08%3A59%3A59.999999999Z",
        );
        answer(
            &mut reconciler,
            &fetch,
            &[order("A", "filled", placed, "2026-12-06T10:05:00Z")],
        );
        // Window 4 starts where window 3 ended (its gap had no data
        // message): nothing open pulls it back to A's submission.
        resume(
            &mut reconciler,
            "2026-12-06T10:30:00Z",
            "2026-12-06T10%3A19%3A58.999999999Z",
        );
    }
}
