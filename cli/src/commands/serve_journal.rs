//! Every order state change `tickwire serve --admin` saw, for tests that
//! check what reached a client run as a separate process.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tickwire_alpaca::order_state_key;
use tickwire_mock::{OrderChange, SharedExchange};

/// Changes kept at most (about 100 bytes each); past it the oldest go, and
/// the answer says how many.
const JOURNAL_MAX: usize = 100_000;

/// How often the exchange's own journal is emptied into the kept lines, so
/// that it never grows while nobody asks.
const ABSORB_EVERY: Duration = Duration::from_secs(1);

/// The order state changes since the admin endpoint started, as JSON lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderJournal {
    kept: Arc<Mutex<Kept>>,
}

#[derive(Debug, Default)]
struct Kept {
    lines: std::collections::VecDeque<String>,
    dropped: u64,
}

impl OrderJournal {
    /// Starts the exchange's journal (changes made before are not kept)
    /// and a task emptying it every second.
    pub(crate) fn start(exchange: &SharedExchange) -> Self {
        exchange.with(|ex, _| ex.keep_journal());
        let journal = Self::default();
        let (absorbing, exchange) = (journal.clone(), exchange.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ABSORB_EVERY);
            loop {
                every.tick().await;
                absorbing.absorb(&exchange);
            }
        });
        journal
    }

    /// Moves the exchange's new changes into the kept lines.
    fn absorb(&self, exchange: &SharedExchange) {
        let mut changes: Vec<OrderChange> = Vec::new();
        exchange.with(|ex, _| ex.take_order_changes(&mut changes));
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            let (order_id, status, filled_qty) = order_state_key(&change.update);
            kept.lines.push_back(
                serde_json::json!({
                    "key_id": change.key_id,
                    "order_id": order_id,
                    "status": status,
                    "filled_qty": filled_qty,
                })
                .to_string(),
            );
            if kept.lines.len() > JOURNAL_MAX {
                kept.lines.pop_front();
                kept.dropped += 1;
            }
        }
    }

    /// JSON lines, one per change in the order made:
    /// `{"key_id":"…","order_id":"…","status":"filled","filled_qty":"1"}`;
    /// a first line `{"dropped":N}` when more than 100,000 were made.
    pub(crate) fn render(&self, exchange: &SharedExchange) -> String {
        self.absorb(exchange);
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        if kept.dropped > 0 {
            let _ = writeln!(out, "{{\"dropped\":{}}}", kept.dropped);
        }
        for line in &kept.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}
