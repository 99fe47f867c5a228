//! What the exchange produced, kept for a checker: every order state change
//! the desk made, whether or not anyone listened (off unless asked for).
//!
//! A checker of exactly-once delivery compares it with what a client
//! delivered; other kinds of record (the trade tape) can be kept beside the
//! orders the same way.

use tickwire_alpaca::TradeUpdate;

use super::Exchange;
use super::accounts::AccountId;

/// One order state change the desk made.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// The key id of the account it belongs to.
    pub key_id: String,
    /// The update, as the trading stream sends it to listeners.
    pub update: TradeUpdate,
}

/// The changes made since the checker last took them; `None` while off.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    orders: Option<Vec<OrderChange>>,
}

impl Exchange {
    /// Starts keeping every order state change (see
    /// [`take_order_changes`](Self::take_order_changes)); until then none is kept.
    pub fn keep_journal(&mut self) {
        self.journal.orders.get_or_insert_with(Vec::new);
    }

    /// Takes the order state changes made since the last call, in the order
    /// they were made, into `out`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tickwire_mock::{Account, Exchange, ExchangeConfig};
    /// let start = Instant::now();
    /// let config = ExchangeConfig::new(3).with_account(Account::new("key", "secret"));
    /// let mut exchange = Exchange::new(config, start);
    /// exchange.keep_journal();
    /// exchange.open_trading_listener(start, "key", "secret").expect("listens");
    /// exchange.handle_timeout(start + Duration::from_secs(30));
    /// let mut changes = Vec::new();
    /// exchange.take_order_changes(&mut changes);
    /// assert!(changes.iter().any(|c| c.key_id == "key"));
    /// ```
    pub fn take_order_changes(&mut self, out: &mut Vec<OrderChange>) {
        if let Some(orders) = &mut self.journal.orders {
            out.append(orders);
        }
    }

    /// Notes a change the desk made for `account`, when keeping them.
    pub(crate) fn journal_order(&mut self, account: AccountId, update: &TradeUpdate) {
        if let Some(orders) = &mut self.journal.orders {
            orders.push(OrderChange {
                key_id: self.accounts.get(account).key_id.clone(),
                update: update.clone(),
            });
        }
    }
}
