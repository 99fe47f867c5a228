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
//! Alpaca's own MessagePack framing, byte for byte what Alpaca's
//! MessagePack streams send: each NATS message is an array of the maps of
//! one or more data messages of its subject, in order — those the relay
//! read from its upstream at once, up to 256 messages or 64 KiB, with no
//! waiting for a batch to fill (a message alone is [`payload`]'s
//! one-element array). Any Alpaca MessagePack decoder, tickwire's
//! included, reads it. One NATS message per subject and read, not per
//! data message, because a NATS message costs the relay's client,
//! nats-server and each consumer's client about what the relay's whole
//! work on a data message costs.
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
//! # Leadership
//!
//! Several relays of one feed may run on the same NATS (on several
//! machines): one leads and holds the upstream connection, the others
//! stand by with none, so the account never has two connections on the
//! feed. Leadership is a key of its own bucket (default `tickwire-leader`,
//! [`RelayConfig::leader_bucket`]; the key is the feed's name, the value
//! the relay's id, [`RelayConfig::relay_id`]) living
//! [`RelayConfig::leader_ttl`] (default 5 s, the bucket's `max_age`) after
//! each write (an existing bucket keeps its `max_age`, and every relay
//! times itself by it). A relay leads once it created the key while absent, and
//! renews it by compare-and-set on the revision it wrote; [`leadership`]
//! (sans-I/O, property-tested with two relays, crashes, partitions and late
//! messages) decides, and its docs give the timing argument: a leader that
//! cannot renew closes its upstream a margin (a quarter of the TTL) before
//! its key could expire, by its own clock, so a standby, which can only
//! create the key once it is gone, never overlaps it.
//!
//! A standby keeps watching the leases, so on taking over it subscribes
//! their union at once: consumers' leases carry over without any call of
//! theirs (they see no data while no relay leads). When the leader dies,
//! the standby leads within about a second of the key's expiry (the
//! server's expiry marker, or its next read): within one TTL and a second
//! of the death. A relay that shuts down closes its upstream and then
//! deletes the key, and the standby leads at once. [`Relay::role`] and
//! [`RelayEvent::Leading`], [`RelayEvent::StandingBy`] and
//! [`RelayEvent::LeadershipLost`] tell where a relay stands.
//!
//! Limits: a leader frozen longer than the margin (SIGSTOP, a suspended
//! machine) or the key deleted by hand can overlap; and an exchange that
//! keeps a vanished connection's slot for a while (a leader killed without
//! closing its socket) may refuse the new leader with 406 until it frees
//! it, the upstream retrying meanwhile.
//!
//! The relays of one account's trade updates elect their leader the same
//! way, by the key `trade_updates.<account>` of the same bucket.
//!
//! # Trade updates: JetStream, each order state once
//!
//! A [`TradeRelay`] holds the account's trading stream (reconciling after
//! every gap) and publishes each update to the JetStream stream
//! [`DEFAULT_TRADE_STREAM`] on `tickwire.account.<account>.trade_updates`
//! ([`subject::trade_updates_subject`]): the update as Alpaca's JSON trade
//! update object, with the headers `Nats-Msg-Id` ([`trade_message_id`]:
//! `<order id>:<status>:<filled quantity>`) and [`SOURCE_HEADER`] (`live`
//! or `reconciled`). Publishing waits for the server's acknowledgement and
//! retries until it has it ([`TradeOutbox`], sans-I/O), so an update the
//! stream delivered is stored unless the relay dies first; and a relay
//! that starts leading (a standby taking over, or one started afterwards)
//! reconciles from the last update stored, skipping the states already
//! there (by id, and JetStream drops a repeated id within its duplicate
//! window). A relay that stops leading drops what it has not published:
//! published late, it could land after the new leader's newer states of
//! the same orders; the new leader reconciles it instead. Consumers read with [`TradeUpdates`], from the
//! start, from now, or after the last sequence they handled: a consumer
//! that was down reads what it missed, each update once.
//!
//! An order state entered and left while no relay listened is not
//! recovered (the REST order list holds each order's latest state only);
//! its latest state is. And a new leader asks the REST order list for
//! orders submitted from shortly (2 s) before the last update stored: an
//! order submitted earlier that changes during a takeover (a
//! good-till-canceled order filling then) is not reconciled; its next
//! change arrives live.
//!
//! # Consumers: the stream API over NATS
//!
//! A consumer is an ordinary [`MarketDataStream`](tickwire_ws::MarketDataStream)
//! built with [`RelayStreams::relay`]:
//!
//! ```no_run
//! use tickwire_relay::RelayStreams;
//! use tickwire_ws::{Channel, Feed, MarketDataStream};
//! # #[tokio::main] async fn main() -> Result<(), tickwire_ws::Error> {
//! let stream = MarketDataStream::builder(Feed::Iex)
//!     .relay("nats://127.0.0.1:4222")
//!     .build()?;
//! let verdict = stream.subscribe(Channel::Quotes, ["AAPL"]).await?;
//! # Ok(()) }
//! ```
//!
//! tickwire's machine runs unchanged over a [`RelayTransport`], which
//! presents the relay as Alpaca's socket of the feed speaking MessagePack
//! (no credentials needed: the relay holds the account's):
//!
//! - connecting reaches NATS and fails, so that the machine backs off and
//!   retries, while no relay leads the feed (no leadership key);
//! - a subscribe listens to its pairs' subjects and writes their leases
//!   with the value [`ASK`]; the leading relay applies them, subscribes
//!   upstream, and publishes the consumer's [`ConsumerState`] (the lease
//!   revision it applied, the pairs acknowledged, the pairs refused, from
//!   its hub's answers) on `tickwire.<feed>.control.<consumer>`
//!   ([`subject::control_subject`]); [`ConsumerSession`] (sans-I/O)
//!   answers the machine from it once every pair asked for is settled,
//!   with Alpaca's subscription frame, after an error frame carrying the
//!   upstream's code for a refused pair, so `subscribe` resolves as on a
//!   direct stream;
//! - leases are rewritten every third of the bucket's TTL while held,
//!   deleted on unsubscribe and when the stream lets the connection go;
//!   after a lost connection they are kept, and those the machine does not
//!   ask for again lapse;
//! - when the leadership key changes or goes (a takeover), or the NATS
//!   connection is lost, the connection ends: the stream reports
//!   [`Event::Gap`](tickwire_core::machine::Event::Gap), reconnects once a
//!   relay leads, resubscribes by itself and reports
//!   [`Event::Resumed`](tickwire_core::machine::Event::Resumed) once the
//!   new leader's upstream acknowledged;
//! - a ping is answered once a read of the leadership key came back (a
//!   round trip to NATS) showing the same relay leading;
//! - once a `quotes` subscription is acknowledged, its symbols' latest
//!   quotes are asked of the leading relay and delivered as
//!   [`StreamEvent::Snapshot`](tickwire_ws::StreamEvent::Snapshot) (see
//!   below).
//!
//! Limits: a consumer holding `*` and a symbol of the same channel gets
//! that symbol's messages twice (both subjects match); backfill needs
//! credentials and is not available to a consumer; the relay's state for a
//! consumer lists every refused pair with the last refusal's code.
//!
//! # Last-value snapshots on join
//!
//! The leading relay keeps the latest quote it published of each symbol
//! leased by name on `quotes` ([`LastQuotes`]: the published bytes,
//! shared; a slot per leased symbol, gone with its last lease or the lead)
//! and answers requests on `tickwire.<feed>.snapshot.quotes` with them
//! ([`snapshot`] gives the request and the reply). A consumer asks once a
//! `quotes` subscription is acknowledged, and its stream delivers each
//! answer as [`StreamEvent::Snapshot`](tickwire_ws::StreamEvent::Snapshot),
//! before any live quote of the symbol delivered after it, or not at all
//! when a live quote of it went by first, so a snapshot is never older
//! than live data already delivered. A missing answer (no reply within
//! 2 s, an error reply) is logged and costs only those snapshots.
//!
//! Not JetStream or a key-value bucket (`max_msgs_per_subject = 1`): that
//! would be a JetStream write per quote on the publish path. Limits: a
//! standby that takes over starts with no values (a symbol's first
//! snapshot is then its first quote since); `*` subscriptions get none.
//!
//! # Guarantees and limits
//!
//! Publishing market data is core NATS: at most once, and a subscriber too
//! slow for its pending limit loses messages.
//!
//! A NATS server that goes away and comes back with its store (a restart,
//! a crash) stops nothing: a leader that cannot renew its key gives the
//! lead up and closes its upstream, and once NATS is back the relays elect
//! again; the new leader subscribes the leases still alive and a trade
//! relay reconciles from the last update stored (tested with a real
//! server killed for 3 s under a relay leading a feed and one leading an
//! account). If the upstream stream fails for good (for
//! example, credentials refused), the relay stops with that error.

mod answers;
mod config;
mod consumer_builder;
mod consumer_config;
mod consumer_link;
pub mod consumer_session;
mod consumer_transport;
mod control;
mod error;
mod event;
mod interest;
mod last_quotes;
mod leader_kv;
pub mod leadership;
mod lease;
mod lease_book;
mod payload;
mod relay;
pub mod snapshot;
pub mod subject;
mod subject_batch;
mod subject_cache;
mod trade_config;
mod trade_outbox;
mod trade_publish;
mod trade_relay;
mod trade_tail;
mod trade_updates;

pub use config::{
    DEFAULT_BUCKET, DEFAULT_LEADER_BUCKET, DEFAULT_LEADER_TTL, DEFAULT_LEASE_TTL, RelayConfig,
};
pub use consumer_builder::{RelayStreamBuilder, RelayStreams};
pub use consumer_config::ConsumerConfig;
pub use consumer_session::{ConsumerSession, SessionAction};
pub use consumer_transport::RelayTransport;
pub use control::{ASK, ConsumerState, ControlError, RefusedPair};
pub use error::RelayError;
pub use event::{RelayEvent, RelayRole};
pub use interest::{Interest, InterestChange};
pub use last_quotes::LastQuotes;
pub use leadership::{KeyView, LeaderTiming, Leadership, LeadershipAction, WriteResult};
pub use lease::{LeaseError, LeaseKey};
pub use payload::payload;
pub use relay::Relay;
pub use trade_config::{DEFAULT_TRADE_STREAM, TradeRelayConfig};
pub use trade_outbox::{
    KNOWN_IDS_DEFAULT, OutgoingUpdate, Pushed, RETRY_DELAY_MAX, RETRY_DELAY_MIN, TradeOutbox,
    trade_message_id,
};
pub use trade_publish::SOURCE_HEADER;
pub use trade_relay::TradeRelay;
pub use trade_updates::{RelayedTradeUpdate, TradeUpdates, TradeUpdatesStart};

#[cfg(test)]
mod interest_tests;
#[cfg(test)]
mod leadership_tests;
