//! The lease keys a consumer keeps alive, across its connections. Sans-I/O.
//!
//! The keys of the current connection are refreshed as long as they are
//! held. When a new connection opens, the previous one's keys are carried:
//! refreshed for one lease TTL more, so that the machine's resubscription
//! finds them live (no churn upstream), and let lapse if it does not ask
//! for them again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The keys to refresh.
#[derive(Debug, Default)]
pub(crate) struct LeaseBook {
    keys: BTreeSet<String>,
    carried: BTreeSet<String>,
    carried_until: Option<Instant>,
}

impl LeaseBook {
    /// A new connection opened at `now`: the keys held are carried for `ttl`.
    pub(crate) fn on_connect(&mut self, now: Instant, ttl: Duration) {
        let keys = std::mem::take(&mut self.keys);
        self.carried.extend(keys);
        self.carried_until = Some(now + ttl);
    }

    /// `key` is held.
    pub(crate) fn insert(&mut self, key: String) {
        self.carried.remove(&key);
        self.keys.insert(key);
    }

    /// `key` is let go.
    pub(crate) fn remove(&mut self, key: &str) {
        self.keys.remove(key);
        self.carried.remove(key);
    }

    /// Every key, held or carried, now forgotten (to delete them).
    pub(crate) fn take_all(&mut self) -> Vec<String> {
        let mut all: Vec<String> = std::mem::take(&mut self.keys).into_iter().collect();
        all.extend(std::mem::take(&mut self.carried));
        self.carried_until = None;
        all
    }

    /// The keys to rewrite at `now`; carried keys past their time are dropped.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<String> {
        if self.carried_until.is_some_and(|until| now >= until) {
            self.carried.clear();
            self.carried_until = None;
        }
        self.keys.iter().chain(&self.carried).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_keys_are_refreshed_for_one_ttl_unless_asked_for_again() {
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut book = LeaseBook::default();
        book.insert("a".into());
        book.insert("b".into());
        book.on_connect(now, ttl);
        book.insert("a".into());
        assert_eq!(book.due(now + ttl / 2), ["a", "b"]);
        assert_eq!(book.due(now + ttl), ["a"], "b was not asked for again");
        book.remove("a");
        assert!(book.due(now + ttl).is_empty());
        book.insert("c".into());
        assert_eq!(book.take_all(), ["c"]);
        assert!(book.due(now).is_empty());
    }
}
