//! The keys already delivered, bounded by age and by count.

use std::collections::{BTreeMap, BTreeSet};

use tickwire_core::Timestamp;

/// Delivered keys with their records' times, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct DeliveredKeys<K> {
    by_key: BTreeMap<K, Timestamp>,
    by_time: BTreeSet<(Timestamp, K)>,
}

impl<K> Default for DeliveredKeys<K> {
    fn default() -> Self {
        Self {
            by_key: BTreeMap::new(),
            by_time: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> DeliveredKeys<K> {
    /// Remembers `key`; `false` when it was remembered already.
    pub(crate) fn insert(&mut self, key: K, at: Timestamp) -> bool {
        if self.by_key.contains_key(&key) {
            return false;
        }
        self.by_key.insert(key.clone(), at);
        self.by_time.insert((at, key));
        true
    }

    /// Forgets keys older than `horizon` (if any), then the oldest beyond `max`.
    pub(crate) fn forget(&mut self, horizon: Option<Timestamp>, max: usize) {
        while let Some((at, _)) = self.by_time.first() {
            let old = horizon.is_some_and(|horizon| *at < horizon);
            if !old && self.by_time.len() <= max {
                break;
            }
            if let Some((_, key)) = self.by_time.pop_first() {
                self.by_key.remove(&key);
            }
        }
    }

    /// How many keys are remembered.
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }
}
