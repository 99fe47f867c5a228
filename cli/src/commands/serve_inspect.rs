//! What `tickwire serve --admin` shows of the exchange's inside, for tests
//! of clients, proxies and relays run as separate processes: each open
//! session's subscriptions, and every order state change made.

use std::sync::{Arc, Mutex, PoisonError};

use tickwire_alpaca::{Channel, order_state_key};
use tickwire_mock::{Exchange, OrderChange, SharedExchange};

/// Order state changes the admin endpoint keeps at most; past it the
/// oldest go (and the answer says how many).
const JOURNAL_MAX: usize = 1_000_000;

/// JSON lines, one per open session: `{"endpoint":"/v2/iex","quotes":["AAPL"],…}`
/// (channels by their wire names; channels without symbols left out).
pub(crate) fn subscriptions(ex: &Exchange) -> String {
    let mut out = String::new();
    let sessions: Vec<_> = ex.sessions().collect();
    for id in sessions {
        let mut line = serde_json::Map::new();
        let endpoint = ex.endpoint(id).map_or("?", |e| e.path());
        line.insert("endpoint".into(), endpoint.into());
        if let Some(set) = ex.subscriptions(id) {
            for channel in Channel::ALL {
                let symbols: Vec<serde_json::Value> =
                    set.symbols(channel).map(|s| s.as_str().into()).collect();
                if !symbols.is_empty() {
                    line.insert(channel.wire_name().into(), symbols.into());
                }
            }
        }
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
}

/// Every order state change the exchange made since the admin endpoint
/// started, kept beside it (the exchange's own journal is taken as it
/// grows).
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderJournal {
    kept: Arc<Mutex<Kept>>,
}

#[derive(Debug, Default)]
struct Kept {
    lines: Vec<String>,
    dropped: u64,
}

impl OrderJournal {
    /// Starts the exchange's journal; changes made before are not kept.
    pub(crate) fn start(exchange: &SharedExchange) -> Self {
        exchange.with(|ex, _| ex.keep_journal());
        Self::default()
    }

    /// JSON lines, one per change in the order made:
    /// `{"key_id":"…","order_id":"…","status":"filled","filled_qty":"1"}`;
    /// a first line `{"dropped":N}` when more than a million were made.
    pub(crate) fn render(&self, exchange: &SharedExchange) -> String {
        let mut changes: Vec<OrderChange> = Vec::new();
        exchange.with(|ex, _| ex.take_order_changes(&mut changes));
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            let (order_id, status, filled_qty) = order_state_key(&change.update);
            kept.lines.push(
                serde_json::json!({
                    "key_id": change.key_id,
                    "order_id": order_id,
                    "status": status,
                    "filled_qty": filled_qty,
                })
                .to_string(),
            );
        }
        if kept.lines.len() > JOURNAL_MAX {
            let excess = kept.lines.len() - JOURNAL_MAX;
            kept.lines.drain(..excess);
            kept.dropped += excess as u64;
        }
        let mut out = String::new();
        if kept.dropped > 0 {
            out.push_str(&format!("{{\"dropped\":{}}}\n", kept.dropped));
        }
        for line in &kept.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
