//! REST fetches in virtual time, for any sans-I/O recovery (an account
//! stream's order reconciliation, a market stream's trade backfill): each
//! request crosses the link, is answered by the simulated REST API
//! ([`super::rest`]) with its faults, crosses back (or the client's deadline
//! passes first), and is retried by [`FetchRetry`] as the production stages
//! retry it. What settles is handed back to the recovery to read.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use tickwire_core::machine::MachineConfig;
use tickwire_mock::Exchange;
use tickwire_recovery::{Attempt, FETCH_ATTEMPTS_MAX_DEFAULT, FetchRetry, Retry};

use super::link::LinkConfig;
use super::rest::{self, REST_ATTEMPT_TIMEOUT, RestAnswer, RestFaults};
use super::trace::Trace;

/// A request a recovery asked for.
pub trait RestRequest {
    /// The path and query to `GET`.
    fn path_and_query(&self) -> &str;
}

impl RestRequest for tickwire_alpaca::OrderFetch {
    fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

impl RestRequest for tickwire_alpaca::DataFetch {
    fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

/// What the REST API looks like for one step: the exchange that answers,
/// the link, the faults, and the REST generator.
#[derive(Debug)]
pub struct RestWorld<'a> {
    /// Answers the requests.
    pub exchange: &'a Exchange,
    /// The present instant (what has happened on the tape by now).
    pub now: Instant,
    /// Delays the requests and answers.
    pub link: &'a LinkConfig,
    /// The API's faults.
    pub faults: &'a RestFaults,
    /// Whether the faults are on.
    pub faults_on: bool,
    /// REST draws.
    pub rng: &'a mut ChaCha8Rng,
}

/// How a fetch ended, for its recovery to read.
#[derive(Debug)]
pub enum Settled<F> {
    /// A page arrived (after any retries): read this body.
    Page(F, String),
    /// The fetch was given up, and why.
    Failed(F, String),
}

/// Where one fetch is.
#[derive(Debug)]
enum Leg {
    /// The request reaches the server.
    ToServer,
    /// The answer reaches the client.
    ToClient(RestAnswer),
    /// The client stops waiting.
    TimedOut,
    /// The request is sent (again).
    Retry,
}

#[derive(Debug)]
struct InFlight<F> {
    fetch: F,
    /// When the present attempt was sent.
    sent_at: Duration,
    retry: FetchRetry,
    leg: Leg,
}

/// The fetches of one stream under way, by (due time, sequence).
#[derive(Debug)]
pub struct Fetches<F> {
    stream: usize,
    config: MachineConfig,
    in_flight: BTreeMap<(Duration, u64), InFlight<F>>,
    next_seq: u64,
}

impl<F: RestRequest> Fetches<F> {
    /// The fetches of stream `stream`, retried by its machine's `config`.
    pub fn new(stream: usize, config: MachineConfig) -> Self {
        Self {
            stream,
            config,
            in_flight: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Sends `fetch` at `at`.
    pub fn start(&mut self, at: Duration, fetch: F) {
        let flight = InFlight {
            fetch,
            sent_at: at,
            retry: FetchRetry::new(&self.config, FETCH_ATTEMPTS_MAX_DEFAULT),
            leg: Leg::Retry,
        };
        self.schedule(at, flight);
    }

    /// When the next leg is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.in_flight.keys().next().map(|(due, _)| *due)
    }

    /// Whether no fetch is under way.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Forgets every fetch (the stream was shut down).
    pub fn clear(&mut self) {
        self.in_flight.clear();
    }

    /// Moves the earliest fetch due at `at` one leg on; what settled, if
    /// one did.
    pub fn step(
        &mut self,
        at: Duration,
        rest: &mut RestWorld<'_>,
        trace: &mut Trace,
    ) -> Option<Settled<F>> {
        let entry = self.in_flight.first_entry().filter(|e| e.key().0 <= at)?;
        let mut flight = entry.remove();
        let stream = self.stream as u64;
        match std::mem::replace(&mut flight.leg, Leg::Retry) {
            Leg::Retry => {
                trace.record(
                    at,
                    0x1300 | stream,
                    flight.fetch.path_and_query().as_bytes(),
                );
                flight.leg = Leg::ToServer;
                flight.sent_at = at;
                let arrives = at + rest::delay(rest.link, rest.rng);
                self.schedule(arrives, flight);
                None
            }
            Leg::ToServer => {
                let answer = rest::answer(
                    rest.exchange,
                    rest.now,
                    flight.fetch.path_and_query(),
                    rest.faults,
                    rest.faults_on,
                    rest.rng,
                );
                let back = at + answer.server_time + rest::delay(rest.link, rest.rng);
                let deadline = flight.sent_at + REST_ATTEMPT_TIMEOUT;
                if back > deadline {
                    flight.leg = Leg::TimedOut;
                    self.schedule(deadline, flight);
                } else {
                    flight.leg = Leg::ToClient(answer);
                    self.schedule(back, flight);
                }
                None
            }
            Leg::ToClient(answer) => {
                trace.record(at, 0x1400 | stream, &answer.status.to_le_bytes());
                let attempt = Attempt::Status {
                    code: answer.status,
                    retry_after: answer.retry_after,
                };
                self.settle(at, flight, &attempt, answer.body)
            }
            Leg::TimedOut => {
                trace.record(at, 0x1400 | stream, &[]);
                self.settle(at, flight, &Attempt::TimedOut, String::new())
            }
        }
    }

    /// What follows an attempt's end: the page, a retry, or giving up.
    fn settle(
        &mut self,
        at: Duration,
        mut flight: InFlight<F>,
        attempt: &Attempt,
        body: String,
    ) -> Option<Settled<F>> {
        match flight.retry.next(attempt) {
            Retry::Done => Some(Settled::Page(flight.fetch, body)),
            Retry::After(delay) => {
                flight.leg = Leg::Retry;
                self.schedule(at + delay, flight);
                None
            }
            Retry::GiveUp(why) => Some(Settled::Failed(flight.fetch, why)),
        }
    }

    fn schedule(&mut self, due: Duration, flight: InFlight<F>) {
        self.next_seq += 1;
        self.in_flight.insert((due, self.next_seq), flight);
    }
}
