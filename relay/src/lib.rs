//! tickwire-relay: one upstream Alpaca connection per feed, published on
//! NATS to consumers on any machine.
//!
//! A [`Relay`] holds the feed's single upstream stream (the proxy's: a
//! [`FanoutHub`](tickwire_fanout::FanoutHub) in front of tickwire's machine,
//! [`tickwire_proxy::upstream`]) and publishes what it receives on NATS
//! subjects. It subscribes upstream exactly the union of what consumers
//! hold leases for.
//!
//! # Subjects
//!
//! Each data message is published on
//! `tickwire.<feed>.<channel>.<SYMBOL>` ([`subject::data_subject`]):
//!
//! - `<feed>` is Alpaca's short name of the feed (`iex`, `sip`,
//!   `delayed_sip`, `crypto`, `opra`…: [`Feed::name`](tickwire_alpaca::Feed::name));
//! - `<channel>` is the channel's wire name (`trades`, `quotes`, `bars`,
//!   `updatedBars`, `dailyBars`, `statuses`, `lulds`, `imbalances`,
//!   `orderbooks`, `news`); corrections and cancel errors follow `trades`
//!   and are published there;
//! - `<SYMBOL>` is the symbol with each byte outside `A–Z a–z 0–9 _ - /`
//!   written `=` and two upper-case hex digits: `AAPL`, `BTC/USD`, but
//!   `BRK=2EB` for `BRK.B` (see [`subject`]). So a symbol is always one
//!   token, and `tickwire.iex.quotes.*` or `tickwire.iex.>` subscribe as
//!   NATS wildcards do.
//!
//! A news item is published once on the subject of each symbol it names.
//!
//! # Payload
//!
//! One data message per NATS message, in Alpaca's own MessagePack framing:
//! a one-element array holding the message's map, byte for byte what
//! Alpaca's MessagePack streams send ([`payload`]). Any Alpaca MessagePack
//! decoder, tickwire's included, reads it.
//!
//! # Interest: leases
//!
//! NATS does not tell a publisher who listens, so consumers say so in a
//! JetStream key-value bucket (default `tickwire-interest`): one key per
//! (consumer, channel, symbol), `<feed>.<channel>.<SYMBOL>.<consumer>`
//! ([`subject::lease_key`]), with the same symbol escape; the value is not
//! read. The relay creates the bucket with a `max_age` of
//! [`RelayConfig::lease_ttl`] (default 10 s; consumers rewrite their keys
//! well within it) and server-side expiry markers, watches the keys of its
//! feed, and turns the live ones into the hub's clients' sets
//! ([`Interest`], sans-I/O): a consumer is one client, joined with its
//! first lease and gone with its last. A lease ends when its key is
//! deleted or purged, or when the TTL has passed since it was last
//! written; so a consumer that dies without cleaning up is forgotten
//! within one TTL. A malformed key (unknown channel, invalid symbol,
//! another shape) is ignored with a warning and a
//! [`RelayEvent::LeaseRejected`].
//!
//! # Guarantees and limits
//!
//! Publishing is core NATS: at most once, and a subscriber too slow for its
//! pending limit loses messages. If the upstream stream fails for good (for
//! example, credentials refused), the relay stops with that error.

mod config;
mod error;
mod event;
mod interest;
mod leader_kv;
mod leadership;
mod lease;
mod payload;
mod relay;
pub mod subject;

pub use config::{
    DEFAULT_BUCKET, DEFAULT_LEADER_BUCKET, DEFAULT_LEADER_TTL, DEFAULT_LEASE_TTL, RelayConfig,
};
pub use error::RelayError;
pub use event::{RelayEvent, RelayRole};
pub use interest::{Interest, InterestChange};
pub use leadership::{KeyView, LeaderTiming, Leadership, LeadershipAction, WriteResult};
pub use lease::{LeaseError, LeaseKey};
pub use payload::payload;
pub use relay::Relay;

#[cfg(test)]
mod interest_tests;
#[cfg(test)]
mod leadership_tests;
