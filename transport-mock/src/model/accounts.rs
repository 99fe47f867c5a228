//! Accounts (keys, entitlements, limits) and the connection slots they hold.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tickwire_core::Credentials;

use super::{Endpoint, SessionId};

/// Symbols allowed on `trades` + `quotes` by the free (IEX) plan.
pub const FREE_PLAN_SYMBOL_LIMIT: usize = 30;

/// A configured account: its key pair, what it may stream, and its limits.
///
/// ```
/// use tickwire_mock::{Account, Endpoint};
/// let free = Account::new("PKTEST", "secret").with_endpoints([Endpoint::Iex]);
/// assert!(free.is_entitled(Endpoint::Iex));
/// assert!(!free.is_entitled(Endpoint::Sip));
/// assert!(free.is_entitled(Endpoint::Test)); // always on
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The key id (`APCA-API-KEY-ID`).
    pub key_id: String,
    /// The secret key.
    pub secret: String,
    /// Market data endpoints the plan includes (`/v2/test` and `/stream` are always allowed).
    pub endpoints: BTreeSet<Endpoint>,
    /// Most pairs on `trades` and `quotes` together, across the account's
    /// sessions on one endpoint (`None`: unlimited). A wildcard counts as one.
    pub symbol_limit: Option<usize>,
    /// Most simultaneous connections per endpoint.
    pub connections_max: usize,
}

impl Account {
    /// An account entitled to every endpoint, with the free plan's symbol
    /// limit and one connection per endpoint.
    pub fn new(key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            secret: secret.into(),
            endpoints: Endpoint::ALL.into_iter().collect(),
            symbol_limit: Some(FREE_PLAN_SYMBOL_LIMIT),
            connections_max: 1,
        }
    }

    /// Restricts the entitled endpoints.
    pub fn with_endpoints(mut self, endpoints: impl IntoIterator<Item = Endpoint>) -> Self {
        self.endpoints = endpoints.into_iter().collect();
        self
    }

    /// Sets the symbol limit (`None`: unlimited).
    pub fn with_symbol_limit(mut self, limit: Option<usize>) -> Self {
        self.symbol_limit = limit;
        self
    }

    /// Sets the connection limit per endpoint.
    pub fn with_connections_max(mut self, connections_max: usize) -> Self {
        self.connections_max = connections_max;
        self
    }

    /// Whether the plan includes `endpoint`.
    pub fn is_entitled(&self, endpoint: Endpoint) -> bool {
        endpoint.always_entitled() || self.endpoints.contains(&endpoint)
    }

    /// The account's credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(&self.key_id, &self.secret)
    }
}

/// Index of an account in the exchange's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AccountId(pub(crate) usize);

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// Unknown key or wrong secret.
    BadCredentials,
}

/// The configured accounts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Accounts {
    list: Vec<Account>,
}

impl Accounts {
    pub(crate) fn new(list: Vec<Account>) -> Self {
        Self { list }
    }

    pub(crate) fn get(&self, id: AccountId) -> &Account {
        // Ids are only made by `authenticate`, from indices into this list,
        // which never shrinks.
        &self.list[id.0]
    }

    pub(crate) fn authenticate(
        &self,
        key_id: &str,
        secret: &str,
    ) -> Result<AccountId, AuthFailure> {
        self.list
            .iter()
            .position(|a| a.key_id == key_id && a.secret == secret)
            .map(AccountId)
            .ok_or(AuthFailure::BadCredentials)
    }
}

/// One held connection slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Holder {
    session: SessionId,
    /// Set once the connection vanished without a close: the slot is freed
    /// when the server "notices", at this time.
    reap_at: Option<Instant>,
}

/// Connection slots per account and endpoint (error 406 when full).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    held: BTreeMap<(AccountId, Endpoint), Vec<Holder>>,
    /// The earliest `reap_at` of the holders, updated by every change to
    /// them (so most calls to [`reap`](Self::reap) find nothing due at once).
    next_reap: Option<Instant>,
}

impl Slots {
    /// Takes a slot for `session` if fewer than `max` are held.
    pub(crate) fn try_take(
        &mut self,
        account: AccountId,
        endpoint: Endpoint,
        max: usize,
        session: SessionId,
    ) -> bool {
        let holders = self.held.entry((account, endpoint)).or_default();
        if holders.iter().any(|h| h.session == session) {
            return true;
        }
        if holders.len() >= max {
            return false;
        }
        holders.push(Holder {
            session,
            reap_at: None,
        });
        true
    }

    /// Frees the slot of a session that closed cleanly.
    pub(crate) fn release(&mut self, session: SessionId) {
        for holders in self.held.values_mut() {
            holders.retain(|h| h.session != session);
        }
        self.held.retain(|_, h| !h.is_empty());
        self.next_reap = self.earliest_reap();
    }

    /// Keeps the slot of a vanished session until `now + reap_after`.
    pub(crate) fn orphan(&mut self, session: SessionId, now: Instant, reap_after: Duration) {
        for holder in self.held.values_mut().flatten() {
            if holder.session == session && holder.reap_at.is_none() {
                holder.reap_at = Some(now + reap_after);
            }
        }
        self.next_reap = self.earliest_reap();
    }

    /// Frees every orphaned slot whose time has come.
    pub(crate) fn reap(&mut self, now: Instant) {
        if self.next_reap.is_none_or(|t| t > now) {
            return; // none due
        }
        let mut emptied = false;
        for holders in self.held.values_mut() {
            holders.retain(|h| h.reap_at.is_none_or(|t| t > now));
            emptied |= holders.is_empty();
        }
        if emptied {
            self.held.retain(|_, h| !h.is_empty());
        }
        self.next_reap = self.earliest_reap();
    }

    /// The earliest reap time.
    pub(crate) fn next_reap(&self) -> Option<Instant> {
        debug_assert_eq!(
            self.next_reap,
            self.earliest_reap(),
            "the earliest reap time missed a change"
        );
        self.next_reap
    }

    /// The earliest reap time, from the holders.
    fn earliest_reap(&self) -> Option<Instant> {
        self.held.values().flatten().filter_map(|h| h.reap_at).min()
    }

    /// Sessions holding a slot of `account` on `endpoint`, orphans included.
    pub(crate) fn holders(
        &self,
        account: AccountId,
        endpoint: Endpoint,
    ) -> impl Iterator<Item = SessionId> + '_ {
        self.held
            .get(&(account, endpoint))
            .into_iter()
            .flatten()
            .map(|h| h.session)
    }

    pub(crate) fn clear(&mut self) {
        self.held.clear();
        self.next_reap = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A start time, empty slots, and the account and endpoint to take them for.
    fn empty() -> (Instant, Slots, AccountId, Endpoint) {
        (
            Instant::now(),
            Slots::default(),
            AccountId(0),
            Endpoint::Iex,
        )
    }

    #[test]
    fn orphaned_slots_are_held_until_reaped() {
        let (t0, mut slots, a, e) = empty();
        assert!(slots.try_take(a, e, 1, SessionId(1)));
        assert!(!slots.try_take(a, e, 1, SessionId(2)));
        slots.orphan(SessionId(1), t0, Duration::from_secs(90));
        assert_eq!(slots.next_reap(), Some(t0 + Duration::from_secs(90)));
        slots.reap(t0 + Duration::from_secs(89));
        assert!(!slots.try_take(a, e, 1, SessionId(2)));
        slots.reap(t0 + Duration::from_secs(90));
        assert_eq!(slots.next_reap(), None);
        assert!(slots.try_take(a, e, 1, SessionId(2)));
        slots.release(SessionId(2));
        assert_eq!(slots.holders(a, e).count(), 0);
    }

    #[test]
    fn the_earliest_reap_time_follows_orphans_and_releases() {
        let (t0, mut slots, a, e) = empty();
        assert!(slots.try_take(a, e, 3, SessionId(1)));
        assert!(slots.try_take(a, e, 3, SessionId(2)));
        slots.orphan(SessionId(1), t0, Duration::from_secs(90));
        slots.orphan(SessionId(2), t0, Duration::from_secs(30));
        assert_eq!(slots.next_reap(), Some(t0 + Duration::from_secs(30)));
        slots.release(SessionId(2));
        assert_eq!(slots.next_reap(), Some(t0 + Duration::from_secs(90)));
        slots.reap(t0 + Duration::from_secs(60));
        assert_eq!(slots.holders(a, e).count(), 1);
        slots.clear();
        assert_eq!(slots.next_reap(), None);
    }
}
