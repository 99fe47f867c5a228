//! The data subjects already built, so that publishing a message costs a
//! lookup and a reference count, not a string per message.

use std::collections::HashMap;

use async_nats::Subject;
use tickwire_alpaca::{Channel, Feed};
use tickwire_core::Symbol;

use crate::subject::data_subject;

/// Subjects kept before the cache starts afresh: far more pairs than one
/// upstream connection subscribes, so only a stream of ever-new symbols
/// (a wildcard lease on a busy feed) reaches it, and memory stays bounded.
const SUBJECTS_MAX: usize = 100_000;

/// [`data_subject`] of each (channel, symbol) of one feed, built once.
#[derive(Debug)]
pub(crate) struct SubjectCache {
    feed: Feed,
    subjects: HashMap<Channel, HashMap<Symbol, Subject>>,
    len: usize,
    limit: usize,
}

impl SubjectCache {
    pub(crate) fn new(feed: Feed) -> Self {
        Self::with_limit(feed, SUBJECTS_MAX)
    }

    fn with_limit(feed: Feed, limit: usize) -> Self {
        Self {
            feed,
            subjects: HashMap::new(),
            len: 0,
            limit,
        }
    }

    /// The subject data of `channel` about `symbol` is published on.
    pub(crate) fn subject(&mut self, channel: Channel, symbol: &Symbol) -> Subject {
        if let Some(subject) = self.subjects.get(&channel).and_then(|s| s.get(symbol)) {
            return subject.clone();
        }
        if self.len >= self.limit {
            self.subjects.clear();
            self.len = 0;
        }
        let subject = Subject::from(data_subject(self.feed, channel, symbol));
        self.subjects
            .entry(channel)
            .or_default()
            .insert(symbol.clone(), subject.clone());
        self.len += 1;
        subject
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The cache gives what `data_subject` builds, whatever it held and
        /// however often it started afresh.
        #[test]
        fn cached_subjects_are_the_subjects(
            pairs in prop::collection::vec((0usize..3, "[A-Z]{1,3}(\\.[A-Z])?"), 0..200),
            limit in 1usize..20,
        ) {
            let channels = [Channel::Quotes, Channel::Trades, Channel::Bars];
            let mut cache = SubjectCache::with_limit(Feed::Iex, limit);
            for (channel, text) in pairs {
                let channel = channels[channel];
                let symbol = Symbol::new(&text).expect("a valid symbol");
                let subject = cache.subject(channel, &symbol);
                prop_assert_eq!(subject.as_str(), data_subject(Feed::Iex, channel, &symbol));
                prop_assert!(cache.len <= limit);
            }
        }
    }
}
