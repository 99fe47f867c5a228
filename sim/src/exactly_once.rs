//! Rule 14: what the exchange produced while the application wanted it is
//! delivered exactly once, live or recovered.
//!
//! A [`Ledger`] keeps, for one stream, every record the exchange produced
//! (from its journal), every record the stream delivered, the spans in
//! which the stream could not have delivered live (before its first `Live`,
//! and from each gap's last data message to its `Resumed`) and the times it
//! said a recovery failed. It is generic over the record's key: an order
//! state is (order id, status, filled quantity), its lineage the order; a
//! trade is its `TradeKey` (symbol, exchange, trade id), with no lineage,
//! since nothing supersedes a trade. A market stream's trades are owed only
//! over the spans it [wanted](super::wanted) their symbol; a trade of the
//! tape delivered outside them is *allowed* (once), not owed.
//!
//! The rule, precisely:
//!
//! - **never twice**: no key is delivered twice, whatever the stream's state;
//! - **nothing forged**: every key delivered was produced;
//! - **nothing missing**: for a stream that is neither shut down nor failed
//!   at the end, every key produced from the stream's start until the cut
//!   (the end of the liveness phase; everything in flight is then given time
//!   to arrive) is delivered, unless it was produced inside a dark span and
//!   either a later record of its lineage was delivered (the REST list
//!   holds each order's latest state only: a state entered and left while
//!   the stream was cut cannot be recovered), or the stream surfaced a
//!   `RecoveryFailed` at or after that span's end (the window was given up,
//!   and the application was told); or it was *withheld*: produced while
//!   the exchange withheld data from the stream's open connection (silenced,
//!   its WebSocket layer still answering pings; or its client treated as
//!   not reading, before the 407), which nothing on the client's side can
//!   tell from a quiet account (it is recovered only if the stream later
//!   loses the connection: a data silence timeout, a reset). For trades,
//!   a link that hung loses what was in flight and what follows, which is
//!   withheld too, until the stream notices: a `Gap` ends the excuse, and
//!   what the gap hid is the recovery's to deliver; a withholding that
//!   ended before a trade arrived live is not what a later gap hid (its
//!   window starts at the last trade delivered), and stays excused (see
//!   [`Withheld`](super::withheld::Withheld)). A dark span starts at
//!   the gap's last data message, but never before the stream last went
//!   live or resumed, nor after the loss. A stream shut down or failed owes
//!   nothing more (its deliveries still count for *never twice*).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use tickwire_core::Timestamp;

use super::checks::Violation;

/// The rule's number in docs/ARCHITECTURE.md.
pub const RULE: u8 = 14;

/// One record the exchange produced.
#[derive(Debug, Clone)]
struct Produced {
    at: Timestamp,
    /// The lineage (an order's id) and the record's place in it.
    lineage: Option<(String, u64)>,
    /// Withheld from a connection the stream could not notice it on.
    withheld: bool,
    /// Whether the stream owes it (else it may be delivered, once).
    owed: bool,
    delivered: u32,
}

/// The exactly-once bookkeeping of one stream.
#[derive(Debug)]
pub struct Ledger<K: Ord + Clone + Debug> {
    stream: usize,
    /// What a record is, for the messages.
    name: &'static str,
    /// When the stream last went live (wall clock).
    caught_up: Timestamp,
    produced: BTreeMap<K, Produced>,
    /// The newest place of each lineage that was delivered.
    lineage_delivered: BTreeMap<String, u64>,
    next_place: u64,
    /// Spans (wall clock) in which nothing could be delivered live.
    dark: Vec<(Timestamp, Timestamp)>,
    /// When the stream said a recovery failed.
    failures: Vec<Timestamp>,
    /// Whether the stream owes what was produced (not shut down, not failed).
    owing: bool,
}

impl<K: Ord + Clone + Debug> Ledger<K> {
    /// The ledger of stream `stream`, which starts at `start` (wall clock):
    /// dark until its first `Live`.
    pub fn new(stream: usize, start: Timestamp) -> Self {
        Self {
            stream,
            name: "record",
            caught_up: start,
            produced: BTreeMap::new(),
            lineage_delivered: BTreeMap::new(),
            next_place: 0,
            dark: vec![(start, Timestamp::from_unix_nanos(i64::MAX))],
            failures: Vec::new(),
            owing: true,
        }
    }

    /// Names what a record is in the messages (`"order state"`, `"trade"`).
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The exchange produced `key` at `at`, owed to the stream; `lineage`
    /// names what a later record may supersede it in (an order's id);
    /// `withheld` when the exchange withheld data from the stream's
    /// connection then. A key known already keeps what it had.
    pub fn produced(&mut self, key: K, at: Timestamp, lineage: Option<String>, withheld: bool) {
        self.next_place += 1;
        let lineage = lineage.map(|l| (l, self.next_place));
        self.produced.entry(key).or_insert(Produced {
            at,
            lineage,
            withheld,
            owed: true,
            delivered: 0,
        });
    }

    /// The exchange produced `key` at `at`, not owed to the stream (it did
    /// not want it then): it may be delivered, once.
    pub fn allowed(&mut self, key: K, at: Timestamp) {
        self.produced.entry(key).or_insert(Produced {
            at,
            lineage: None,
            withheld: false,
            owed: false,
            delivered: 0,
        });
    }

    /// Whether `key` was produced (owed or not).
    pub fn knows(&self, key: &K) -> bool {
        self.produced.contains_key(key)
    }

    /// The stream is live at `at`: ends the open dark span.
    pub fn live(&mut self, at: Timestamp) {
        if let Some(span) = self.dark.last_mut()
            && span.1.unix_nanos() == i64::MAX as i128
        {
            span.1 = at;
        }
    }

    /// The stream went live at `at`: ends the open dark span, and a later
    /// gap without data is dark from here.
    pub fn went_live(&mut self, at: Timestamp) {
        self.live(at);
        self.caught_up = at;
    }

    /// A `Gap` with these times: dark from its last data message (else
    /// from when the stream last went live, and at the latest from the
    /// loss) until it resumes; returns where the dark span starts.
    pub fn gap(
        &mut self,
        lost_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) -> Timestamp {
        let since = self.dark_since(lost_at, last_data_at);
        self.live(since);
        self.dark
            .push((since, Timestamp::from_unix_nanos(i64::MAX)));
        since
    }

    /// A `Resumed` with these times: dark as its gap, to the resume.
    pub fn gap_resumed(
        &mut self,
        lost_at: Option<Timestamp>,
        resumed_at: Option<Timestamp>,
        last_data_at: Option<Timestamp>,
    ) {
        let since = self.dark_since(lost_at, last_data_at);
        if let Some(until) = resumed_at {
            self.resumed(since, until);
            self.caught_up = until;
        }
    }

    /// Where a gap's dark span starts: its last data message, but not
    /// before the stream last went live or resumed (a message older than
    /// that came before an earlier gap, or before the stream went idle),
    /// and not after the loss.
    fn dark_since(&self, lost_at: Option<Timestamp>, last_data_at: Option<Timestamp>) -> Timestamp {
        let since = last_data_at.map_or(self.caught_up, |last| last.max(self.caught_up));
        lost_at.map_or(since, |lost| since.min(lost))
    }

    /// A gap resumed: nothing could be delivered live from `since` to `until`.
    pub fn resumed(&mut self, since: Timestamp, until: Timestamp) {
        self.live(until);
        self.dark.push((since, until));
    }

    /// The stream told the application a recovery failed, at `at`.
    pub fn recovery_failed(&mut self, at: Timestamp) {
        self.failures.push(at);
    }

    /// The stream was shut down or failed: it owes nothing more.
    pub fn released(&mut self) {
        self.owing = false;
    }

    /// Whether the stream still owes what is produced.
    pub fn is_owing(&self) -> bool {
        self.owing
    }

    /// The stream delivered `key` (virtual time `at`, for the report).
    pub fn delivered(&mut self, key: &K, at: Duration) -> Result<(), Violation> {
        let name = self.name;
        let Some(produced) = self.produced.get_mut(key) else {
            return Err(self.violation(
                at,
                format!("delivered {name} {key:?}, which the exchange never produced"),
            ));
        };
        produced.delivered += 1;
        if produced.delivered > 1 {
            let times = produced.delivered;
            return Err(self.violation(at, format!("delivered {name} {key:?} {times} times")));
        }
        if let Some((lineage, place)) = &produced.lineage {
            let newest = self.lineage_delivered.entry(lineage.clone()).or_default();
            *newest = (*newest).max(*place);
        }
        Ok(())
    }

    /// At the end of the run: every key produced before `cut` (wall clock)
    /// was delivered or is excused (see the module docs).
    pub fn check_complete(&self, cut: Timestamp, at: Duration) -> Result<(), Violation> {
        if !self.owing {
            return Ok(());
        }
        for (key, produced) in &self.produced {
            if produced.delivered > 0 || produced.at >= cut || produced.withheld || !produced.owed {
                continue;
            }
            let Some(span_end) = self
                .dark
                .iter()
                .find(|(from, until)| *from <= produced.at && produced.at <= *until)
                .map(|(_, until)| *until)
            else {
                return Err(self.violation(
                    at,
                    format!(
                        "{} {key:?}, produced at {} while the stream was live, was never delivered",
                        self.name, produced.at
                    ),
                ));
            };
            let superseded = produced.lineage.as_ref().is_some_and(|(lineage, place)| {
                self.lineage_delivered
                    .get(lineage)
                    .is_some_and(|newest| newest > place)
            });
            // A gap never resumed (the stream went idle in it, nothing
            // wanted) told the application by its `Gap` alone.
            let unresumed = span_end.unix_nanos() == i64::MAX as i128;
            let told = unresumed || self.failures.iter().any(|failed| *failed >= span_end);
            if !superseded && !told {
                return Err(self.violation(
                    at,
                    format!(
                        "{} {key:?}, produced at {} in a gap ending at {span_end}, was neither \
                         recovered, nor superseded by a later state delivered, nor reported \
                         as a failed recovery",
                        self.name, produced.at
                    ),
                ));
            }
        }
        Ok(())
    }

    fn violation(&self, at: Duration, message: String) -> Violation {
        Violation {
            rule: RULE,
            stream: self.stream,
            at,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_nanos(s * 1_000_000_000)
    }

    /// Order "a" goes new (1) → partial (5) → filled (12); order "b" new (6).
    fn ledger() -> Ledger<(String, u32)> {
        let mut ledger = Ledger::new(0, t(0));
        ledger.live(t(1));
        for (id, state, at) in [("a", 1, 1), ("a", 2, 5), ("b", 1, 6), ("a", 3, 12)] {
            ledger.produced((id.to_owned(), state), t(at), Some(id.to_owned()), false);
        }
        ledger
    }

    #[test]
    fn everything_once_passes_and_twice_is_caught() {
        let mut ledger = ledger();
        for key in [("a", 1), ("a", 2), ("b", 1), ("a", 3)] {
            let key = (key.0.to_owned(), key.1);
            ledger.delivered(&key, Duration::ZERO).expect("once");
        }
        ledger
            .check_complete(t(100), Duration::ZERO)
            .expect("complete");
        let again = ledger.delivered(&("b".to_owned(), 1), Duration::ZERO);
        assert!(again.is_err_and(|v| v.rule == RULE && v.message.contains("2 times")));
    }

    #[test]
    fn a_state_missing_while_live_is_caught() {
        let mut ledger = ledger();
        for key in [("a", 1), ("a", 3), ("b", 1)] {
            ledger
                .delivered(&(key.0.to_owned(), key.1), Duration::ZERO)
                .expect("once");
        }
        let missing = ledger.check_complete(t(100), Duration::ZERO);
        assert!(missing.is_err_and(|v| v.message.contains("while the stream was live")));
    }

    #[test]
    fn a_superseded_state_in_a_gap_is_excused_the_latest_is_not() {
        let mut ledger = ledger();
        ledger.resumed(t(4), t(7));
        for key in [("a", 1), ("a", 3)] {
            ledger
                .delivered(&(key.0.to_owned(), key.1), Duration::ZERO)
                .expect("once");
        }
        // ("a", 2) was superseded by ("a", 3); ("b", 1) is b's latest.
        let missing = ledger.check_complete(t(100), Duration::ZERO);
        assert!(missing.is_err_and(|v| v.message.contains("\"b\"")));
        // Told: a failed recovery after the gap excuses it.
        ledger.recovery_failed(t(8));
        ledger
            .check_complete(t(100), Duration::ZERO)
            .expect("excused");
    }

    #[test]
    fn a_dark_span_starts_no_earlier_than_going_live_and_an_allowed_trade_is_not_owed() {
        let mut ledger: Ledger<u32> = Ledger::new(0, t(0)).named("trade");
        ledger.went_live(t(10));
        // The last data message (at 5) came before the stream last went
        // live: the gap is dark from 10 on, not from 5.
        let since = ledger.gap(Some(t(20)), Some(t(5)));
        assert_eq!(since, t(10));
        ledger.gap_resumed(Some(t(20)), Some(t(30)), Some(t(5)));
        ledger.produced(1, t(8), None, false);
        ledger.produced(2, t(15), None, false);
        ledger.allowed(3, t(40));
        ledger.delivered(&2, Duration::ZERO).expect("once");
        ledger.delivered(&3, Duration::ZERO).expect("allowed once");
        let twice = ledger.delivered(&3, Duration::ZERO);
        assert!(twice.is_err_and(|v| v.message.contains("delivered trade 3 2 times")));
        // 1 was produced before the first `Live`: dark, told by nothing yet.
        let missing = ledger.check_complete(t(100), Duration::ZERO);
        assert!(missing.is_err_and(|v| v.message.starts_with("trade 1, produced")));
        ledger.recovery_failed(t(10));
        ledger
            .check_complete(t(100), Duration::ZERO)
            .expect("1 excused, 2 delivered, 3 not owed");
        // Produced after going live, with no data since: in the gap, and a
        // failure told before its resume excuses nothing.
        ledger.produced(4, t(12), None, false);
        let missing = ledger.check_complete(t(100), Duration::ZERO);
        assert!(
            missing.is_err_and(|v| v.message.starts_with("trade 4, produced")
                && v.message.contains("in a gap ending at"))
        );
    }

    #[test]
    fn a_failure_told_before_the_gap_excuses_nothing_and_a_forgery_is_caught() {
        let mut ledger = ledger();
        ledger.recovery_failed(t(3));
        ledger.resumed(t(4), t(7));
        for key in [("a", 1), ("a", 3)] {
            ledger
                .delivered(&(key.0.to_owned(), key.1), Duration::ZERO)
                .expect("once");
        }
        assert!(ledger.check_complete(t(100), Duration::ZERO).is_err());
        // Produced after the cut: not owed yet.
        assert!(ledger.check_complete(t(6), Duration::ZERO).is_ok());
        // Withheld from an open connection: excused.
        ledger.produced(("w".to_owned(), 1), t(2), Some("w".to_owned()), true);
        assert!(ledger.check_complete(t(6), Duration::ZERO).is_ok());
        let forged = ledger.delivered(&("z".to_owned(), 1), Duration::ZERO);
        assert!(forged.is_err_and(|v| v.message.contains("never produced")));
        ledger.released();
        ledger
            .check_complete(t(100), Duration::ZERO)
            .expect("a shut-down stream owes nothing");
    }
}
