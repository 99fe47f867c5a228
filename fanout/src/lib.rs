//! tickwire-fanout: many clients' subscriptions over one upstream stream,
//! the fan-out hub.
//!
//! [`FanoutHub`] is sans-I/O, like the machine. Clients join, subscribe,
//! unsubscribe and leave; the hub keeps a reference count per (channel,
//! symbol) pair and asks the upstream stream for a pair only when its first
//! client wants it, and to drop it only when its last client let it go. The
//! upstream's verdicts come back in, and each client hears about its own set
//! only. Data is routed with [`FanoutHub::route`] to exactly the clients that
//! asked for it (the wildcard `*` included).
//!
//! A proxy (the vendor's own protocol downstream) and a relay (a message bus
//! downstream) drive the same hub; neither makes fan-out decisions itself.

mod client;
mod hub;
mod output;

pub use client::ClientId;
pub use hub::{FanoutHub, UnknownClient};
pub use output::{ClientOutput, UpstreamCommand, UpstreamToken};

#[cfg(test)]
mod tests;
