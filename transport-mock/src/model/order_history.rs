//! Every order as the desk last left it, per account: what the REST order
//! list serves.

use std::collections::{BTreeMap, BTreeSet};

use tickwire_alpaca::Order;
use tickwire_core::Timestamp;

use super::accounts::AccountId;

/// Orders kept per account; beyond it the least recently changed go first.
pub(crate) const ORDERS_KEPT_MAX: usize = 10_000;

/// Where a listing stands: the change time and id of an order.
pub(crate) type OrderCursor = (Timestamp, String);

/// The latest state of each order, by account, ordered by change time.
#[derive(Debug, Default)]
pub(crate) struct OrderHistory {
    accounts: BTreeMap<AccountId, AccountOrders>,
}

#[derive(Debug, Default)]
struct AccountOrders {
    latest: BTreeMap<String, Order>,
    by_change: BTreeSet<OrderCursor>,
}

impl OrderHistory {
    /// Notes `order`'s state after an update of the account's stream.
    pub(crate) fn record(&mut self, account: AccountId, order: &Order) {
        let orders = self.accounts.entry(account).or_default();
        if let Some(old) = orders.latest.insert(order.id.clone(), order.clone()) {
            orders.by_change.remove(&(old.updated_at, old.id));
        }
        orders
            .by_change
            .insert((order.updated_at, order.id.clone()));
        while orders.by_change.len() > ORDERS_KEPT_MAX {
            if let Some((_, id)) = orders.by_change.pop_first() {
                orders.latest.remove(&id);
            }
        }
    }

    /// The account's orders in change order (`ascending` or not) that pass
    /// `keep`, strictly beyond `start` when given.
    pub(crate) fn changed<'h>(
        &'h self,
        account: AccountId,
        ascending: bool,
        start: Option<&OrderCursor>,
        keep: impl Fn(&Order) -> bool + 'h,
    ) -> Box<dyn Iterator<Item = &'h Order> + 'h> {
        let Some(orders) = self.accounts.get(&account) else {
            return Box::new(std::iter::empty());
        };
        let cursors: Box<dyn Iterator<Item = &'h OrderCursor> + 'h> = match (ascending, start) {
            (true, Some(start)) => Box::new(orders.by_change.range((
                std::ops::Bound::Excluded(start.clone()),
                std::ops::Bound::Unbounded,
            ))),
            (true, None) => Box::new(orders.by_change.iter()),
            (false, Some(start)) => Box::new(orders.by_change.range(..start.clone()).rev()),
            (false, None) => Box::new(orders.by_change.iter().rev()),
        };
        Box::new(
            cursors
                .filter_map(|(_, id)| orders.latest.get(id))
                .filter(move |order| keep(order)),
        )
    }
}
