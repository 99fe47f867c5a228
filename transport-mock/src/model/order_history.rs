//! Every order as the desk last left it, per account: what the REST order
//! list serves.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use tickwire_alpaca::Order;
use tickwire_core::Timestamp;

use super::accounts::AccountId;

/// Orders kept per account; beyond it the earliest submitted go first.
pub(crate) const ORDERS_KEPT_MAX: usize = 10_000;

/// The latest state of each order, by account, ordered by submission time
/// (the order the REST list uses).
#[derive(Debug, Default)]
pub(crate) struct OrderHistory {
    accounts: BTreeMap<AccountId, AccountOrders>,
}

#[derive(Debug, Default)]
struct AccountOrders {
    latest: BTreeMap<String, Order>,
    by_submission: BTreeSet<(Timestamp, String)>,
}

impl OrderHistory {
    /// Notes `order`'s state after an update of the account's stream.
    pub(crate) fn record(&mut self, account: AccountId, order: &Order) {
        let orders = self.accounts.entry(account).or_default();
        if let Some(old) = orders.latest.insert(order.id.clone(), order.clone()) {
            orders.by_submission.remove(&(old.submitted_at, old.id));
        }
        orders
            .by_submission
            .insert((order.submitted_at, order.id.clone()));
        while orders.by_submission.len() > ORDERS_KEPT_MAX {
            if let Some((_, id)) = orders.by_submission.pop_first() {
                orders.latest.remove(&id);
            }
        }
    }

    /// The account's orders submitted strictly between `after` and `until`
    /// (either open when `None`), earliest first when `ascending`, that pass
    /// `keep`.
    pub(crate) fn submitted<'h>(
        &'h self,
        account: AccountId,
        after: Option<Timestamp>,
        until: Option<Timestamp>,
        ascending: bool,
        keep: impl Fn(&Order) -> bool + 'h,
    ) -> Box<dyn Iterator<Item = &'h Order> + 'h> {
        let Some(orders) = self.accounts.get(&account) else {
            return Box::new(std::iter::empty());
        };
        if let (Some(after), Some(until)) = (after, until)
            && after >= until
        {
            return Box::new(std::iter::empty());
        }
        // Ids are ASCII (UUIDs): each sorts above "" and below a lone
        // `char::MAX`, so both bounds leave out orders submitted exactly then.
        let low = after.map_or(Bound::Unbounded, |t| {
            Bound::Excluded((t, char::MAX.to_string()))
        });
        let high = until.map_or(Bound::Unbounded, |t| Bound::Excluded((t, String::new())));
        let range = orders.by_submission.range((low, high));
        let ids: Box<dyn Iterator<Item = &'h (Timestamp, String)> + 'h> = if ascending {
            Box::new(range)
        } else {
            Box::new(range.rev())
        };
        Box::new(
            ids.filter_map(|(_, id)| orders.latest.get(id))
                .filter(move |order| keep(order)),
        )
    }
}
