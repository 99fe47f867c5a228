//! The order reconciler lives with the Alpaca protocol (sans-I/O, no
//! runtime); the stream's reconciliation stage reaches it by this path.

pub use tickwire_alpaca::{ORDERS_PAGE_LIMIT, OrderFetch, OrderReconciler, ReconcileOutput};
