//! A market stream's trade backfill in virtual time: the sans-I/O
//! [`MarketBackfill`] driven as the production stage drives it (stream
//! events in, data out to the application), its requests carried by
//! [`Fetches`] to the simulated REST API's trades, read from the tape the
//! stream reads. The trades the application receives, live or backfilled,
//! go to the stream's [`Ledger`] (rule 14); what it owed is read off the
//! tape over the spans it [wanted](super::wanted) each symbol.

use std::time::{Duration, Instant};

use tickwire_alpaca::{
    Backfill, BackfillOutput, Channel, DataFetch, MarketBackfill, MarketData, SubscriptionSet,
    Trade, TradeKey, trade_key,
};
use tickwire_core::Timestamp;
use tickwire_core::machine::{Event, MachineConfig, State};
use tickwire_mock::{Endpoint, Exchange};
use tickwire_recovery::RecoveryConfig;

use super::checks::Violation;
use super::exactly_once::Ledger;
use super::rest_fetch::{Fetches, RestWorld, Settled};
use super::sabotage::Sabotage;
use super::trace::Trace;
use super::wanted::Wanted;
use super::withheld::Withheld;

/// A page of trades that holds none and ends the window.
const EMPTY_TRADES_PAGE: &[u8] = br#"{"trades":{},"next_page_token":null}"#;

/// The trade backfill of one market stream and what its application got.
#[derive(Debug)]
pub struct MarketRecovery {
    stream: usize,
    /// The feed the stream reads (its tape).
    endpoint: Endpoint,
    backfill: MarketBackfill,
    fetches: Fetches<DataFetch>,
    wanted: Wanted,
    /// What the stream could not notice missing.
    withheld: Withheld,
    ledger: Ledger<TradeKey>,
    /// Trades delivered, of them backfilled, and windows given up.
    counts: [u64; 3],
    sabotage: Option<Sabotage>,
}

impl MarketRecovery {
    /// The backfill of stream `stream` (machine configuration `config`) on
    /// `endpoint`'s feed, which starts at `start` (wall clock), asking for
    /// `page_limit` trades a page.
    pub fn new(
        stream: usize,
        config: MachineConfig,
        start: Timestamp,
        endpoint: Endpoint,
        page_limit: usize,
    ) -> Self {
        let feed = match endpoint {
            Endpoint::Sip => "sip",
            _ => "iex",
        };
        Self {
            stream,
            endpoint,
            backfill: MarketBackfill::new(Backfill::TRADES, feed, RecoveryConfig::default())
                .with_page_limit(page_limit),
            fetches: Fetches::new(stream, config),
            wanted: Wanted::default(),
            withheld: Withheld::default(),
            ledger: Ledger::new(stream, start).named("trade"),
            counts: [0; 3],
            sabotage: None,
        }
    }

    /// The stream's index.
    pub fn stream(&self) -> usize {
        self.stream
    }

    /// Whether the exchange withholds data from the stream's open
    /// connection (or its link loses it) at `wall`.
    pub fn note_withheld(&mut self, withheld: bool, wall: Timestamp) {
        self.withheld.note(withheld, wall);
    }

    /// Breaks the backfill on purpose (see [`Sabotage`]).
    pub fn sabotage(&mut self, sabotage: Sabotage) {
        self.sabotage = Some(sabotage);
    }

    /// The application shut the stream down: it wants nothing more.
    pub fn release(&mut self) {
        self.ledger.released();
        self.fetches.clear();
    }

    /// When the next fetch leg is due.
    pub fn next_due(&self) -> Option<Duration> {
        self.fetches.next_due()
    }

    /// Whether no fetch is under way.
    pub fn is_idle(&self) -> bool {
        self.fetches.is_idle()
    }

    /// Trades delivered, of them backfilled, and windows given up so far.
    pub fn counts(&self) -> [u64; 3] {
        self.counts
    }

    /// One input's outcome: what the application wants now, and the
    /// stream's events; `wall` is the wall clock now.
    pub fn handle_events(
        &mut self,
        at: Duration,
        wall: Timestamp,
        desired: &SubscriptionSet,
        events: &[Event<MarketData, Channel>],
        tape: (&Exchange, Instant),
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        if !self.ledger.is_owing() {
            return Ok(());
        }
        self.wanted.desired(desired, wall);
        for event in events {
            self.wanted.event(event, wall);
            match event {
                Event::StateChanged(State::Failed { .. } | State::Closed) => {
                    self.release();
                    return Ok(());
                }
                Event::Data(MarketData::Trade(_)) => self.withheld.trade_received(wall),
                Event::StateChanged(State::Live { .. }) => {
                    self.ledger.went_live(wall);
                    self.backfill.handle_went_live(wall);
                }
                Event::Gap {
                    lost_at,
                    last_data_at,
                    ..
                } => {
                    let dark_since = self.ledger.gap(*lost_at, *last_data_at);
                    self.withheld.noticed(dark_since);
                }
                Event::Resumed {
                    lost_at,
                    resumed_at,
                    last_data_at,
                    ..
                } => self
                    .ledger
                    .gap_resumed(*lost_at, *resumed_at, *last_data_at),
                _ => {}
            }
            self.backfill.handle_event(event);
            self.drain(at, wall, tape, trace)?;
        }
        Ok(())
    }

    /// Moves the earliest fetch due at `at` one leg on, and reads what settled.
    pub fn step(
        &mut self,
        at: Duration,
        wall: Timestamp,
        rest: &mut RestWorld<'_>,
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        match self.fetches.step(at, rest, trace) {
            None => return Ok(()),
            Some(Settled::Page(fetch, _)) if self.sabotage == Some(Sabotage::DropTradePages) => {
                self.backfill.handle_page(&fetch, EMPTY_TRADES_PAGE);
            }
            Some(Settled::Page(fetch, body)) => self.backfill.handle_page(&fetch, body.as_bytes()),
            Some(Settled::Failed(fetch, why)) => self.backfill.handle_fetch_failed(&fetch, &why),
        }
        self.drain(at, wall, (rest.exchange, rest.now), trace)
    }

    /// Hands the backfill's outputs on: trades to the application (and the
    /// ledger), fetches to the REST API, failures to the application.
    fn drain(
        &mut self,
        at: Duration,
        wall: Timestamp,
        tape: (&Exchange, Instant),
        trace: &mut Trace,
    ) -> Result<(), Violation> {
        let stream = self.stream as u64;
        while let Some(output) = self.backfill.poll_output() {
            match output {
                BackfillOutput::Deliver {
                    data: MarketData::Trade(trade),
                    backfilled,
                } => {
                    self.counts[0] += 1;
                    self.counts[1] += u64::from(backfilled);
                    trace.record(at, 0x1700 | stream, &[u8::from(backfilled)]);
                    if backfilled {
                        trace.log(at, || {
                            format!(
                                "s{stream} application gets backfilled {:?}",
                                trade_key(&trade)
                            )
                        });
                    }
                    let twice =
                        backfilled && self.sabotage == Some(Sabotage::DeliverBackfilledTradesTwice);
                    for _ in 0..1 + usize::from(twice) {
                        self.deliver(&trade, at, tape)?;
                    }
                }
                BackfillOutput::Deliver { .. } => {}
                BackfillOutput::Fetch(fetch) => {
                    trace.log(at, || format!("s{stream} GET {}", fetch.path_and_query));
                    self.fetches.start(at, fetch);
                }
                BackfillOutput::Abandoned(why) => {
                    self.counts[2] += 1;
                    trace.record(at, 0x1600 | stream, &[]);
                    trace.log(at, || {
                        format!("s{stream} application gets RecoveryFailed: {why}")
                    });
                    self.ledger.recovery_failed(wall);
                }
            }
        }
        Ok(())
    }

    /// The application got `trade`: once, and a trade of the tape (one it
    /// did not want counts as produced, not owed).
    fn deliver(
        &mut self,
        trade: &Trade,
        at: Duration,
        (exchange, now): (&Exchange, Instant),
    ) -> Result<(), Violation> {
        let key = trade_key(trade);
        if !self.ledger.knows(&key) {
            let stamp = trade.timestamp;
            let on_tape = exchange
                .tape_trades(self.endpoint, &trade.symbol, stamp, stamp, now)
                .iter()
                .any(|t| t.id == trade.id);
            if on_tape {
                self.ledger.allowed(key.clone(), stamp);
            }
        }
        self.ledger.delivered(&key, at)
    }

    /// Rule 14 at the end of the run (`now`): every trade of the tape the
    /// stream wanted before `cut` (wall clock) was delivered or is excused.
    pub fn check_complete(
        &mut self,
        cut: Timestamp,
        at: Duration,
        exchange: &Exchange,
        now: Instant,
    ) -> Result<(), Violation> {
        if !self.ledger.is_owing() {
            return Ok(());
        }
        let spans: Vec<_> = self
            .wanted
            .spans(cut)
            .map(|(symbol, from, until)| (symbol.clone(), from, until.min(cut)))
            .collect();
        for (symbol, from, until) in spans {
            if from > until {
                continue;
            }
            // One call reads a million ticks, far more than a run lasts.
            for trade in exchange.tape_trades(self.endpoint, &symbol, from, until, now) {
                let withheld = self.withheld.covers(trade.timestamp);
                self.ledger
                    .produced(trade_key(&trade), trade.timestamp, None, withheld);
            }
        }
        self.ledger.check_complete(cut, at)
    }
}
