//! The market-data backfill lives with the Alpaca protocol (sans-I/O, no
//! runtime); the stream's backfill stage reaches it by this path.

pub use tickwire_alpaca::{
    BACKFILL_SYMBOLS_PER_REQUEST, Backfill, BackfillOutput, DataFetch, MARKET_PAGE_LIMIT,
    MarketBackfill, UnknownBackfill,
};
