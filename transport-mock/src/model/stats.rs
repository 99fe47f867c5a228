//! What the exchange has seen since it started: connections per endpoint
//! and their peak, and the error codes it sent. Read by tests and by
//! `tickwire serve`'s `/metrics`, to check that a client (or a proxy, or a
//! relay) never held two connections where one is allowed.

use std::collections::BTreeMap;

use super::endpoint::Endpoint;

/// Counters of an [`Exchange`](super::Exchange), from its start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeStats {
    /// Sessions opened (upgrades accepted), per endpoint.
    pub opened: BTreeMap<Endpoint, u64>,
    /// The most sessions open at once, per endpoint.
    pub open_peak: BTreeMap<Endpoint, usize>,
    /// Coded error messages sent (`{"T":"error","code":…}`, and the
    /// trading stream's error counted under the code of its cause), per
    /// code: 406 is the connection limit, 407 a slow client. The trading
    /// stream's authentication failures carry no code and are not counted.
    pub errors_sent: BTreeMap<u16, u64>,
}

impl ExchangeStats {
    /// A session opened on `endpoint`; `open_now` sessions are open there,
    /// the new one included.
    pub(crate) fn opened(&mut self, endpoint: Endpoint, open_now: usize) {
        *self.opened.entry(endpoint).or_default() += 1;
        let peak = self.open_peak.entry(endpoint).or_default();
        *peak = (*peak).max(open_now);
    }

    /// An error message with `code` went out.
    pub(crate) fn error_sent(&mut self, code: u16) {
        *self.errors_sent.entry(code).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tickwire_core::Frame;

    use super::*;
    use crate::model::{Account, Exchange, ExchangeConfig};

    #[test]
    fn the_exchange_counts_sessions_their_peak_and_the_406_it_sends() {
        let now = Instant::now();
        let config = ExchangeConfig::new(1).with_account(Account::new("K", "S"));
        let mut ex = Exchange::new(config, now);
        let auth = Frame::text(r#"{"action":"auth","key":"K","secret":"S"}"#);
        let first = ex.open(now, "/v2/iex", &[]).unwrap();
        ex.handle_frame(now, first, auth.clone());
        let second = ex.open(now, "/v2/iex", &[]).unwrap();
        assert_eq!(ex.open_sessions(Endpoint::Iex), 2);
        ex.handle_frame(now, second, auth); // over the limit: 406, closed
        ex.open(now, "/stream", &[]).unwrap();

        let stats = ex.stats();
        assert_eq!(stats.opened[&Endpoint::Iex], 2);
        assert_eq!(stats.open_peak[&Endpoint::Iex], 2);
        assert_eq!(stats.opened[&Endpoint::Trading], 1);
        assert_eq!(stats.errors_sent.get(&406), Some(&1));
        assert_eq!(ex.open_sessions(Endpoint::Iex), 1);
    }

    #[test]
    fn peak_keeps_the_highest_count_and_opened_counts_every_session() {
        let mut stats = ExchangeStats::default();
        stats.opened(Endpoint::Iex, 1);
        stats.opened(Endpoint::Iex, 2);
        stats.opened(Endpoint::Iex, 1);
        stats.opened(Endpoint::Trading, 1);
        stats.error_sent(406);
        stats.error_sent(406);
        assert_eq!(stats.opened[&Endpoint::Iex], 3);
        assert_eq!(stats.open_peak[&Endpoint::Iex], 2);
        assert_eq!(stats.open_peak[&Endpoint::Trading], 1);
        assert_eq!(stats.errors_sent[&406], 2);
    }
}
