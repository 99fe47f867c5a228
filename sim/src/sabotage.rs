//! Recoveries broken on purpose, for tests that rule 14 can fail: a sweep
//! with one of them must report violations where the sound run passes.

/// A deliberately broken recovery: the first two break the order
/// reconciliation ([`super::reconcile`]), the last two the trade backfill
/// ([`super::backfill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// Every page of orders is read as an empty list.
    DropPages,
    /// Every order update reaches the application twice.
    DeliverTwice,
    /// Every page of trades is read as holding none (and ending the window).
    DropTradePages,
    /// Every backfilled trade reaches the application twice.
    DeliverBackfilledTradesTwice,
}
