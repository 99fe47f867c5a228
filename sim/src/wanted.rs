//! When a market stream *wanted* the trades of a symbol (rule 14 for
//! trades), from what the application did and what its stream told it.
//!
//! A symbol's trades are wanted at a time (wall clock) when, all at once:
//!
//! - the application wants the symbol on the `trades` channel by name (it
//!   is in the machine's desired set; a `*` wants no symbol in particular);
//! - a `Confirmed` set that names it on `trades` has reached the stream
//!   since the application last added it (the subscription was
//!   acknowledged: the exchange streams it), and no `Confirmed` set that
//!   leaves it out has while the stream was live (the exchange dropped it);
//! - the stream is live, or in a gap (between a `Gap` and its `Resumed`):
//!   before its first `Live`, and between connections that never went live
//!   without a gap open, nothing told the application data could be missing.

use std::collections::{BTreeMap, BTreeSet};

use tickwire_alpaca::{Channel, MarketData, SubscriptionSet};
use tickwire_core::machine::{Event, State};
use tickwire_core::{Symbol, Timestamp};

/// The spans in which one stream wanted each symbol's trades.
#[derive(Debug, Default)]
pub struct Wanted {
    /// Symbols the application wants on `trades`, by name.
    desired: BTreeSet<Symbol>,
    /// Of them, those acknowledged since they were added.
    acked: BTreeSet<Symbol>,
    /// The last `Confirmed` set's symbols on `trades`.
    confirmed: BTreeSet<Symbol>,
    live: bool,
    gap_open: bool,
    /// Closed and open spans, by symbol.
    spans: BTreeMap<Symbol, Vec<(Timestamp, Option<Timestamp>)>>,
}

impl Wanted {
    /// What the application wants now (after an input), at `wall`.
    pub fn desired(&mut self, desired: &SubscriptionSet, wall: Timestamp) {
        let named = || {
            desired
                .symbols(Channel::Trades)
                .filter(|s| !s.is_wildcard())
        };
        if named().eq(self.desired.iter()) {
            return;
        }
        self.desired = named().cloned().collect();
        self.acked.retain(|s| self.desired.contains(s));
        self.update(wall);
    }

    /// One of the stream's events, at `wall`.
    pub fn event(&mut self, event: &Event<MarketData, Channel>, wall: Timestamp) {
        match event {
            Event::Confirmed(set) => {
                self.confirmed = set
                    .symbols(Channel::Trades)
                    .filter(|s| !s.is_wildcard())
                    .cloned()
                    .collect();
                let newly = self
                    .desired
                    .intersection(&self.confirmed)
                    .cloned()
                    .collect::<Vec<_>>();
                self.acked.extend(newly);
                if self.live {
                    self.acked.retain(|s| self.confirmed.contains(s));
                }
            }
            Event::StateChanged(state) => {
                self.live = matches!(state, State::Live { .. });
                if self.live {
                    // Live: every request settled, the last set is whole.
                    self.acked.retain(|s| self.confirmed.contains(s));
                }
                if matches!(state, State::Failed { .. } | State::Closed) {
                    self.gap_open = false;
                }
            }
            Event::Gap { .. } => self.gap_open = true,
            Event::Resumed { .. } => self.gap_open = false,
            _ => return,
        }
        self.update(wall);
    }

    /// Opens and closes spans for what is wanted now.
    fn update(&mut self, wall: Timestamp) {
        let on = self.live || self.gap_open;
        for (symbol, spans) in &mut self.spans {
            let wanted = on && self.acked.contains(symbol);
            match spans.last_mut() {
                Some((_, end @ None)) if !wanted => *end = Some(wall),
                _ => {}
            }
        }
        if !on {
            return;
        }
        for symbol in &self.acked {
            let spans = self.spans.entry(symbol.clone()).or_default();
            if !matches!(spans.last(), Some((_, None))) {
                spans.push((wall, None));
            }
        }
    }

    /// Each symbol's spans, an open one ending at `end`.
    pub fn spans(&self, end: Timestamp) -> impl Iterator<Item = (&Symbol, Timestamp, Timestamp)> {
        self.spans.iter().flat_map(move |(symbol, spans)| {
            spans
                .iter()
                .map(move |(from, until)| (symbol, *from, until.unwrap_or(end)))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tickwire_core::machine::ConnectionEpoch;

    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_nanos(s * 1_000_000_000)
    }

    fn set(symbols: &[&str]) -> SubscriptionSet {
        let mut set = SubscriptionSet::new();
        for symbol in symbols {
            set.insert(Channel::Trades, Symbol::from_server(symbol));
        }
        set
    }

    fn live() -> Event<MarketData, Channel> {
        Event::StateChanged(State::Live {
            epoch: ConnectionEpoch::default(),
            since: Instant::now(),
        })
    }

    fn spans(wanted: &Wanted) -> Vec<(String, i64, i64)> {
        let secs = |t: Timestamp| (t.unix_nanos() / 1_000_000_000) as i64;
        wanted
            .spans(t(100))
            .map(|(s, from, until)| (s.as_str().to_owned(), secs(from), secs(until)))
            .collect()
    }

    #[test]
    fn wanted_from_the_acknowledgement_while_live_until_removed() {
        let mut wanted = Wanted::default();
        wanted.desired(&set(&["AAPL", "MSFT"]), t(1));
        wanted.event(&Event::Confirmed(set(&["AAPL"])), t(2));
        assert!(spans(&wanted).is_empty(), "not live yet");
        wanted.event(&live(), t(3));
        wanted.event(&Event::Confirmed(set(&["AAPL", "MSFT"])), t(4));
        wanted.desired(&set(&["MSFT"]), t(5));
        assert_eq!(
            spans(&wanted),
            [("AAPL".into(), 3, 5), ("MSFT".into(), 4, 100)]
        );
    }

    #[test]
    fn a_gap_keeps_it_wanted_and_a_set_that_leaves_it_out_ends_it() {
        let mut wanted = Wanted::default();
        wanted.desired(&set(&["AAPL"]), t(1));
        wanted.event(&Event::Confirmed(set(&["AAPL"])), t(2));
        wanted.event(&live(), t(3));
        wanted.event(
            &Event::Gap {
                epoch: ConnectionEpoch::default(),
                since: Instant::now(),
                lost_at: Some(t(4)),
                last_data_at: None,
            },
            t(4),
        );
        wanted.event(
            &Event::StateChanged(State::Subscribed {
                reconnect_at: Instant::now() + Duration::from_secs(1),
            }),
            t(4),
        );
        wanted.event(&Event::Confirmed(set(&[])), t(6));
        wanted.event(&live(), t(7));
        assert_eq!(spans(&wanted), [("AAPL".into(), 3, 7)]);
    }
}
