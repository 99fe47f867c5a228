//! Interest by leases, sans-I/O: which lease keys are live, and what that
//! means for the fan-out hub's clients.
//!
//! Each consumer id is one client of the hub, joined with its first lease
//! and gone with its last; each live lease is one (channel, symbol) in its
//! client's set. A lease lives from its put until it is deleted, purged or
//! expires: the bucket's TTL after it was written (the entry's age is given
//! with each put), so a consumer that dies without cleaning up is
//! forgotten even if the server's expiry notice never arrives.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use tickwire_alpaca::{Channel, Feed};
use tickwire_core::Symbol;
use tickwire_fanout::{ClientId, FanoutHub};

use crate::lease::{LeaseError, LeaseKey};

/// A change of the hub's clients, to apply in order (see [`apply`](Self::apply)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterestChange {
    /// A consumer's first lease: a new client.
    Join(ClientId),
    /// A lease began.
    Subscribe {
        /// The consumer's client.
        client: ClientId,
        /// The lease's channel.
        channel: Channel,
        /// The lease's symbol.
        symbol: Symbol,
    },
    /// A lease ended.
    Unsubscribe {
        /// The consumer's client.
        client: ClientId,
        /// The lease's channel.
        channel: Channel,
        /// The lease's symbol.
        symbol: Symbol,
    },
    /// A consumer's last lease ended: the client is gone.
    Leave(ClientId),
}

impl InterestChange {
    /// Applies the change to `hub`.
    pub fn apply(self, hub: &mut FanoutHub<Channel>) {
        // Every change names a client joined by an earlier change, so the
        // hub knows it; a client the hub dropped meanwhile is moot.
        let _ = match self {
            Self::Join(client) => {
                hub.handle_join(client);
                Ok(())
            }
            Self::Subscribe {
                client,
                channel,
                symbol,
            } => hub.handle_subscribe(client, channel, [symbol]),
            Self::Unsubscribe {
                client,
                channel,
                symbol,
            } => hub.handle_unsubscribe(client, channel, std::slice::from_ref(&symbol)),
            Self::Leave(client) => {
                hub.handle_leave(client);
                Ok(())
            }
        };
    }
}

/// Applies `changes` to `hub` in order, each run of subscribes (or
/// unsubscribes) of one client and channel as one request: a burst of a
/// consumer's leases becomes one upstream subscribe, not one per lease.
pub(crate) fn apply_all(
    changes: impl IntoIterator<Item = InterestChange>,
    hub: &mut FanoutHub<Channel>,
) {
    /// A run being gathered: (subscribe?, client, channel, symbols).
    type Run = (bool, ClientId, Channel, Vec<Symbol>);
    fn flush(run: Option<Run>, hub: &mut FanoutHub<Channel>) {
        // Every change names a client joined by an earlier change.
        let _ = match run {
            Some((true, client, channel, symbols)) => {
                hub.handle_subscribe(client, channel, symbols)
            }
            Some((false, client, channel, symbols)) => {
                hub.handle_unsubscribe(client, channel, &symbols)
            }
            None => Ok(()),
        };
    }
    let mut run: Option<Run> = None;
    for change in changes {
        let (subscribe, client, channel, symbol) = match change {
            InterestChange::Subscribe {
                client,
                channel,
                symbol,
            } => (true, client, channel, symbol),
            InterestChange::Unsubscribe {
                client,
                channel,
                symbol,
            } => (false, client, channel, symbol),
            other => {
                flush(run.take(), hub);
                other.apply(hub);
                continue;
            }
        };
        match &mut run {
            Some((s, c, ch, symbols)) if *s == subscribe && *c == client && *ch == channel => {
                symbols.push(symbol);
            }
            _ => {
                flush(run.take(), hub);
                run = Some((subscribe, client, channel, vec![symbol]));
            }
        }
    }
    flush(run, hub);
}

/// One live lease.
#[derive(Debug)]
struct Lease {
    client: ClientId,
    channel: Channel,
    symbol: Symbol,
    consumer: String,
    expires_at: Instant,
}

/// One consumer with live leases.
#[derive(Debug)]
struct Consumer {
    client: ClientId,
    leases: usize,
}

/// The live leases of one feed, and the hub changes they make.
///
/// Inputs `handle_put`, `handle_delete`, `handle_timeout` (each taking
/// `now` where time matters); outputs [`poll_change`](Self::poll_change)
/// and [`poll_timeout`](Self::poll_timeout). After every input, take every
/// change and apply it to the hub in order; call `handle_timeout` at
/// `poll_timeout` (early or twice is harmless).
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickwire_alpaca::{Channel, Feed};
/// use tickwire_fanout::FanoutHub;
/// use tickwire_relay::Interest;
///
/// let now = Instant::now();
/// let mut interest = Interest::new(Feed::Iex, Duration::from_secs(10));
/// let mut hub = FanoutHub::new();
/// interest.handle_put(now, "iex.quotes.AAPL.a", Duration::ZERO)?;
/// interest.handle_put(now, "iex.quotes.MSFT.b", Duration::ZERO)?;
/// while let Some(change) = interest.poll_change() {
///     change.apply(&mut hub);
/// }
/// assert_eq!(hub.upstream_desired().symbols(Channel::Quotes).count(), 2);
/// interest.handle_timeout(now + Duration::from_secs(10)); // neither was refreshed
/// while let Some(change) = interest.poll_change() {
///     change.apply(&mut hub);
/// }
/// assert!(hub.is_idle());
/// # Ok::<(), tickwire_relay::LeaseError>(())
/// ```
#[derive(Debug)]
pub struct Interest {
    feed: Feed,
    ttl: Duration,
    leases: HashMap<String, Lease>,
    /// (expiry, key) of every live lease: the next expiry is the first.
    expiries: BTreeSet<(Instant, String)>,
    consumers: HashMap<String, Consumer>,
    names: HashMap<ClientId, String>,
    next_client: u64,
    changes: VecDeque<InterestChange>,
}

impl Interest {
    /// No leases yet, for `feed`, each living `ttl` after it was written.
    pub fn new(feed: Feed, ttl: Duration) -> Self {
        Self {
            feed,
            ttl,
            leases: HashMap::new(),
            expiries: BTreeSet::new(),
            consumers: HashMap::new(),
            names: HashMap::new(),
            next_client: 0,
            changes: VecDeque::new(),
        }
    }

    /// The feed.
    pub fn feed(&self) -> Feed {
        self.feed
    }

    /// How long a lease lives after it was written.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Number of live leases.
    pub fn lease_count(&self) -> usize {
        self.leases.len()
    }

    /// Number of consumers holding a live lease.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// The consumer id behind a client, while it holds a lease.
    pub fn consumer(&self, client: ClientId) -> Option<&str> {
        self.names.get(&client).map(String::as_str)
    }

    /// The client of a consumer id, while it holds a lease.
    pub fn client_of(&self, consumer: &str) -> Option<ClientId> {
        self.consumers.get(consumer).map(|c| c.client)
    }

    /// The pairs a client's live leases name, in no particular order.
    pub fn leases_of(&self, client: ClientId) -> impl Iterator<Item = (Channel, &Symbol)> + '_ {
        self.leases
            .values()
            .filter(move |lease| lease.client == client)
            .map(|lease| (lease.channel, &lease.symbol))
    }

    /// The lease `key` was written `age` ago (the entry's age when it
    /// arrived): it lives until `now + ttl - age`. A new lease subscribes
    /// its pair for its consumer; a known one is prolonged. One already
    /// older than the TTL ends (or is ignored).
    ///
    /// # Errors
    /// A [`LeaseError`] when `key` is malformed or of another feed; nothing
    /// changes then.
    pub fn handle_put(&mut self, now: Instant, key: &str, age: Duration) -> Result<(), LeaseError> {
        let parsed = LeaseKey::parse(key)?;
        if parsed.feed != self.feed {
            return Err(LeaseError::OtherFeed {
                key: key.to_owned(),
                feed: parsed.feed.name(),
            });
        }
        let Some(left) = self.ttl.checked_sub(age).filter(|left| !left.is_zero()) else {
            self.end(key);
            return Ok(());
        };
        let expires_at = now + left;
        if let Some(lease) = self.leases.get_mut(key) {
            self.expiries.remove(&(lease.expires_at, key.to_owned()));
            lease.expires_at = expires_at;
            self.expiries.insert((expires_at, key.to_owned()));
            return Ok(());
        }
        let client = match self.consumers.get_mut(&parsed.consumer) {
            Some(consumer) => {
                consumer.leases += 1;
                consumer.client
            }
            None => {
                self.next_client += 1;
                let client = ClientId(self.next_client);
                self.consumers
                    .insert(parsed.consumer.clone(), Consumer { client, leases: 1 });
                self.names.insert(client, parsed.consumer.clone());
                self.changes.push_back(InterestChange::Join(client));
                client
            }
        };
        self.changes.push_back(InterestChange::Subscribe {
            client,
            channel: parsed.channel,
            symbol: parsed.symbol.clone(),
        });
        self.expiries.insert((expires_at, key.to_owned()));
        self.leases.insert(
            key.to_owned(),
            Lease {
                client,
                channel: parsed.channel,
                symbol: parsed.symbol,
                consumer: parsed.consumer,
                expires_at,
            },
        );
        Ok(())
    }

    /// The lease `key` was deleted or purged (or its expiry noticed by the
    /// server). An unknown key changes nothing.
    pub fn handle_delete(&mut self, key: &str) {
        self.end(key);
    }

    /// Ends every lease whose time is up at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, key)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.end(&key);
        }
    }

    /// Forgets the changes not yet taken and queues, instead, those that
    /// make a new, empty hub hold every live lease: each consumer's join,
    /// then its leases. For a relay that takes the lead with a fresh hub.
    pub fn replay(&mut self) {
        self.changes.clear();
        let mut consumers: Vec<&Consumer> = self.consumers.values().collect();
        consumers.sort_by_key(|c| c.client);
        self.changes.extend(
            consumers
                .into_iter()
                .map(|c| InterestChange::Join(c.client)),
        );
        let mut leases: Vec<(&String, &Lease)> = self.leases.iter().collect();
        leases.sort_by_key(|(key, _)| *key);
        self.changes.extend(
            leases
                .into_iter()
                .map(|(_, lease)| InterestChange::Subscribe {
                    client: lease.client,
                    channel: lease.channel,
                    symbol: lease.symbol.clone(),
                }),
        );
    }

    /// When the next lease expires.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// The next change for the hub.
    #[must_use]
    pub fn poll_change(&mut self) -> Option<InterestChange> {
        self.changes.pop_front()
    }

    /// Ends the lease `key`, if live; its consumer leaves with its last.
    fn end(&mut self, key: &str) {
        let Some(lease) = self.leases.remove(key) else {
            return;
        };
        self.expiries.remove(&(lease.expires_at, key.to_owned()));
        self.changes.push_back(InterestChange::Unsubscribe {
            client: lease.client,
            channel: lease.channel,
            symbol: lease.symbol,
        });
        let last = self.consumers.get_mut(&lease.consumer).is_some_and(|c| {
            c.leases -= 1;
            c.leases == 0
        });
        if last {
            self.consumers.remove(&lease.consumer);
            self.names.remove(&lease.client);
            self.changes.push_back(InterestChange::Leave(lease.client));
        }
    }
}
