//! The trades a market stream could not notice missing (rule 14): spans in
//! which the exchange withheld data from the stream's open connection, or
//! its link lost it (hung).
//!
//! Such a span is excused until a `Gap` notices it: what the gap hid is the
//! recovery's to deliver. A gap hides only what came after the last record
//! of its kind the stream received (its window starts there), so a span
//! that ended before a trade arrived live stays excused: the connection
//! spoke again, the stream saw it healthy, and nothing on the client's side
//! tells the trades it withheld from a quiet market.

use tickwire_core::Timestamp;

/// One stream's withheld spans (wall clock), not noticed by a `Gap` since.
#[derive(Debug, Default)]
pub struct Withheld {
    /// The spans; the last may be open.
    spans: Vec<(Timestamp, Option<Timestamp>)>,
    /// When the stream last received a trade live.
    last_trade: Option<Timestamp>,
}

impl Withheld {
    /// Whether the exchange withholds data from the stream's open
    /// connection (or its link loses it) at `wall`.
    pub fn note(&mut self, withheld: bool, wall: Timestamp) {
        let open = matches!(self.spans.last(), Some((_, None)));
        if withheld && !open {
            self.spans.push((wall, None));
        } else if !withheld
            && open
            && let Some(span) = self.spans.last_mut()
        {
            span.1 = Some(wall);
        }
    }

    /// The stream received a trade live at `wall`.
    pub fn trade_received(&mut self, wall: Timestamp) {
        self.last_trade = Some(wall);
    }

    /// The stream noticed a loss whose dark span starts at `dark_since`:
    /// what was withheld since is the gap's to recover now, unless a trade
    /// arrived live after the withholding ended (the gap's window starts
    /// after it, see the module docs).
    pub fn noticed(&mut self, dark_since: Timestamp) {
        let last_trade = self.last_trade;
        self.spans.retain(|(_, end)| {
            end.is_some_and(|end| end < dark_since || last_trade.is_some_and(|seen| end < seen))
        });
    }

    /// Whether a trade stamped `at` was withheld unnoticed.
    pub fn covers(&self, at: Timestamp) -> bool {
        self.spans
            .iter()
            .any(|(since, end)| *since <= at && end.is_none_or(|end| at <= end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_nanos(s * 1_000_000_000)
    }

    #[test]
    fn a_gap_notices_a_withholding_that_lasted_until_it() {
        let mut withheld = Withheld::default();
        withheld.trade_received(t(5));
        withheld.note(true, t(10));
        assert!(withheld.covers(t(15)), "open: excused");
        withheld.noticed(t(5));
        assert!(!withheld.covers(t(15)), "the gap's to recover");
    }

    #[test]
    fn a_withholding_that_ended_before_a_trade_arrived_stays_excused() {
        let mut withheld = Withheld::default();
        withheld.note(true, t(10));
        withheld.note(false, t(20));
        withheld.trade_received(t(25));
        // The gap's dark span reaches back before the withholding (its last
        // data message is a bar stamped with its minute's start).
        withheld.noticed(t(5));
        assert!(
            withheld.covers(t(15)),
            "the stream saw the connection speak again"
        );
        assert!(!withheld.covers(t(22)), "after it: delivered live or owed");
    }

    #[test]
    fn a_trade_received_before_the_withholding_ended_does_not_excuse_it() {
        let mut withheld = Withheld::default();
        withheld.note(true, t(10));
        withheld.trade_received(t(12));
        withheld.note(false, t(20));
        withheld.noticed(t(5));
        assert!(!withheld.covers(t(15)));
    }
}
