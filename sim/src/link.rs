//! The simulated network between the machines and the exchange model.
//!
//! Each connection is two FIFO pipes (client → server, server → client) with
//! latency and jitter; frames in one direction never overtake each other, as
//! on TCP. What the link adds on its own: latency, resets that both ends see,
//! silent hangs (a black hole in both directions) and garbage bytes. Faults
//! the exchange model knows itself (ack games, 429/401, restarts, silence,
//! clean closes) are left to the model's knobs.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tickwire_core::machine::ConnectionEpoch;
use tickwire_core::{Frame, TransportError};
use tickwire_mock::SessionId;

use super::checks::ClientDecode;
use super::workload::RngExt as _;

/// Identifies one connection on the link (one per machine connection attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Latency and jitter of the link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way latency.
    pub latency: Duration,
    /// Extra random delay per frame, uniform in `[0, jitter]` (order is kept).
    pub jitter: Duration,
    /// Time to open a connection (TCP, TLS, upgrade), on top of the round trip.
    pub dial: Duration,
}

impl LinkConfig {
    /// A fast, steady link.
    pub fn perfect() -> Self {
        Self {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            dial: Duration::from_millis(2),
        }
    }

    /// A link drawn from the seed's generator.
    pub fn draw(rng: &mut ChaCha8Rng) -> Self {
        let latency = Duration::from_micros(rng.below(80_000));
        let jitter = if rng.chance(0.5) {
            Duration::from_micros(rng.below(50_000))
        } else {
            Duration::ZERO
        };
        let dial = Duration::from_micros(rng.below(300_000));
        Self {
            latency,
            jitter,
            dial,
        }
    }

    /// The one-way delay of the next frame.
    pub fn delay(&self, rng: &mut ChaCha8Rng) -> Duration {
        if self.jitter.is_zero() {
            self.latency
        } else {
            self.latency + rng.duration_up_to(self.jitter)
        }
    }
}

/// Something the link will hand to one end at a given time.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The dial of a connection completes: the upgrade reaches the server.
    Dialed,
    /// A frame reaches the server, with its decode if it is a message
    /// (boxed, so that every other delivery stays small in the queue).
    ToServer(Frame, Option<Box<ClientDecode>>),
    /// The client's close reaches the server.
    CloseToServer,
    /// The server notices that a connection died without a close (after a
    /// hang), and frees the session the way a lost connection is freed.
    LostToServer,
    /// A frame reaches the client.
    ToClient(Frame),
    /// The connection ends for the client with this error.
    EndToClient(TransportError),
}

/// One connection as the link sees it.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The stream (index in the engine) that asked for it.
    pub stream: usize,
    /// The machine's attempt.
    pub epoch: ConnectionEpoch,
    /// The exchange's session, once the upgrade was accepted.
    pub session: Option<SessionId>,
    /// The client still holds the connection (it has not closed it or been told it ended).
    pub client_open: bool,
    /// The server still holds the connection.
    pub server_open: bool,
    /// A black hole: nothing is delivered either way any more.
    pub hung: bool,
    last_to_server: Duration,
    last_to_client: Duration,
}

/// A delivery in the queue, ordered by time then by scheduling order.
#[derive(Debug)]
struct Scheduled {
    at: Duration,
    seq: u64,
    conn: ConnId,
    delivery: Delivery,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Every connection and every delivery in flight.
#[derive(Debug, Default)]
pub struct Link {
    conns: BTreeMap<ConnId, Conn>,
    by_session: BTreeMap<SessionId, ConnId>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    next_seq: u64,
    next_conn: u64,
}

impl Link {
    /// The earliest pending delivery.
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// Takes the earliest delivery if it is due at `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<(ConnId, Delivery)> {
        if self.queue.peek()?.0.at > now {
            return None;
        }
        let Reverse(scheduled) = self.queue.pop()?;
        Some((scheduled.conn, scheduled.delivery))
    }

    /// Opens a connection record for a machine's connect action.
    pub fn open(&mut self, stream: usize, epoch: ConnectionEpoch) -> ConnId {
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(
            id,
            Conn {
                stream,
                epoch,
                session: None,
                client_open: true,
                server_open: false,
                hung: false,
                last_to_server: Duration::ZERO,
                last_to_client: Duration::ZERO,
            },
        );
        id
    }

    /// A connection record.
    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    /// A connection record, mutable.
    pub fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(&id)
    }

    /// The connection of an exchange session.
    pub fn by_session(&self, session: SessionId) -> Option<ConnId> {
        self.by_session.get(&session).copied()
    }

    /// The connection a stream's machine knows as `epoch`.
    pub fn find(&self, stream: usize, epoch: ConnectionEpoch) -> Option<ConnId> {
        self.conns
            .iter()
            .rev()
            .find(|(_, c)| c.stream == stream && c.epoch == epoch)
            .map(|(id, _)| *id)
    }

    /// Records the exchange's session for a connection.
    pub fn attach(&mut self, id: ConnId, session: SessionId) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.session = Some(session);
            conn.server_open = true;
            self.by_session.insert(session, id);
        }
    }

    /// Connections both ends have let go of are forgotten.
    pub fn forget_if_done(&mut self, id: ConnId) {
        let done = self
            .conns
            .get(&id)
            .is_some_and(|c| !c.client_open && !c.server_open);
        let pending = self.queue.iter().any(|Reverse(s)| s.conn == id);
        if done
            && !pending
            && let Some(conn) = self.conns.remove(&id)
            && let Some(session) = conn.session
        {
            self.by_session.remove(&session);
        }
    }

    /// Ids of connections that are open at both ends and not hung.
    pub fn healthy(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.client_open && c.server_open && !c.hung)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every connection id.
    pub fn ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// Schedules a delivery towards the server after the one-way delay (in order).
    pub fn to_server(&mut self, now: Duration, delay: Duration, id: ConnId, delivery: Delivery) {
        self.in_order(now + delay, id, delivery, |conn| &mut conn.last_to_server);
    }

    /// Schedules a delivery towards the client after the one-way delay (in order).
    pub fn to_client(&mut self, now: Duration, delay: Duration, id: ConnId, delivery: Delivery) {
        self.in_order(now + delay, id, delivery, |conn| &mut conn.last_to_client);
    }

    /// Schedules a delivery at `due`, or after the last one in the same
    /// direction (`last` names that direction's time); nothing on a hung
    /// or unknown connection.
    fn in_order(
        &mut self,
        due: Duration,
        id: ConnId,
        delivery: Delivery,
        last: fn(&mut Conn) -> &mut Duration,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.hung {
            return;
        }
        let last = last(conn);
        let at = due.max(*last);
        *last = at;
        self.push(at, id, delivery);
    }

    /// Schedules a delivery towards the server even on a hung connection
    /// (the server's own detection of a dead peer).
    pub fn to_server_forced(&mut self, at: Duration, id: ConnId, delivery: Delivery) {
        if self.conns.contains_key(&id) {
            self.push(at, id, delivery);
        }
    }

    /// Drops everything in flight on a connection (a reset loses what was unsent).
    pub fn discard_in_flight(&mut self, id: ConnId) {
        self.queue.retain(|Reverse(s)| s.conn != id);
    }

    /// Number of deliveries in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    fn push(&mut self, at: Duration, id: ConnId, delivery: Delivery) {
        self.next_seq += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.next_seq,
            conn: id,
            delivery,
        }));
    }
}
