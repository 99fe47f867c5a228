//! Everything a seed decides before the run starts: how many streams of
//! which kind, their configurations, the exchange's accounts and limits,
//! the link, the faults and the workload (swarm testing).

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use tickwire_alpaca::Encoding;
use tickwire_core::Credentials;
use tickwire_core::machine::MachineConfig;
use tickwire_mock::{Account, Endpoint, ExchangeConfig, FaultPlan, MarketConfig, TradingConfig};

use super::faults::FaultMix;
use super::link::LinkConfig;
use super::rest::RestFaults;
use super::workload::{RngExt, WorkloadConfig};

/// The key of the simulated account.
pub const KEY_ID: &str = "PKSIMULATION";
/// The secret of the simulated account.
pub const SECRET: &str = "sim-secret-7f3a9c";
/// The host machines connect to (any host reaches the model).
pub const HOST: &str = "wss://sim.tickwire.invalid";

/// One stream of the scenario.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Market data (symbols) or the account stream.
    pub account: bool,
    /// The wire encoding.
    pub encoding: Encoding,
    /// The machine's configuration.
    pub config: MachineConfig,
    /// A market stream whose trades are backfilled after each gap (see
    /// [`draw_rest`](Scenario::draw_rest)).
    pub trade_backfill: bool,
}

/// What one seed decided.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The streams, market data first.
    pub streams: Vec<StreamSpec>,
    /// The exchange's configuration (its faults start as [`FaultMix::model`]).
    pub exchange: ExchangeConfig,
    /// The link.
    pub link: LinkConfig,
    /// The faults.
    pub faults: FaultMix,
    /// The application's commands.
    pub workload: WorkloadConfig,
    /// The REST API (see [`draw_rest`](Self::draw_rest)).
    pub rest: RestScenario,
}

/// The REST API's side of a seed: its faults, and how many orders the
/// account streams' reconcilers (and trades the market streams'
/// backfills) ask for per page.
#[derive(Debug, Clone, PartialEq)]
pub struct RestScenario {
    /// The faults.
    pub faults: RestFaults,
    /// Orders per page (small pages make windows take many).
    pub page_limit: usize,
    /// Trades per page.
    pub trade_page_limit: usize,
}

impl Default for RestScenario {
    /// No faults, the API's largest pages.
    fn default() -> Self {
        Self {
            faults: RestFaults::NONE,
            page_limit: tickwire_alpaca::ORDERS_PAGE_LIMIT,
            trade_page_limit: tickwire_alpaca::MARKET_PAGE_LIMIT,
        }
    }
}

impl Scenario {
    /// The scenario of a seed, with faults scaled by `intensity` (0 turns them off).
    pub fn draw(rng: &mut ChaCha8Rng, intensity: f64) -> Self {
        let endpoint = if rng.chance(0.5) {
            Endpoint::Iex
        } else {
            Endpoint::Sip
        };
        let markets = 1 + rng.below(3) as usize;
        let accounts = usize::from(rng.chance(0.4));
        let mut streams = Vec::with_capacity(markets + accounts);
        for i in 0..markets + accounts {
            let account = i >= markets;
            let encoding = if rng.chance(0.5) {
                Encoding::Json
            } else {
                Encoding::MsgPack
            };
            let url = if account {
                format!("{HOST}{}", Endpoint::Trading.path())
            } else {
                format!("{HOST}{}", endpoint.path())
            };
            let mut config = MachineConfig::new(url, Credentials::new(KEY_ID, SECRET));
            config.seed = rng.next_u64();
            // The swarm's outages may outlast any attempt limit; the rules
            // are checked on streams that keep trying.
            config.connect_attempts_max = None;
            if rng.chance(0.3) {
                config.frame_bytes_max = 160 + rng.below(400) as usize;
            }
            if rng.chance(0.2) {
                config.data_silence_timeout = Some(Duration::from_secs(20 + rng.below(100)));
            }
            if rng.chance(0.3) {
                config.ping_interval = Some(Duration::from_secs(2 + rng.below(30)));
                config.pong_timeout = Duration::from_secs(1 + rng.below(10));
            }
            if rng.chance(0.3) {
                config.idle_linger = Duration::from_millis(rng.below(10_000));
            }
            if rng.chance(0.3) {
                config.ack_timeout = Duration::from_secs(1 + rng.below(10));
            }
            streams.push(StreamSpec {
                account,
                encoding,
                config,
                trade_backfill: false,
            });
        }
        let symbol_limit = if rng.chance(0.6) {
            Some(3 + rng.below(30) as usize)
        } else {
            None
        };
        let connections_max = markets + usize::from(rng.chance(0.3));
        let account = Account::new(KEY_ID, SECRET)
            .with_symbol_limit(symbol_limit)
            .with_connections_max(connections_max);
        let faults = FaultMix::draw(rng, intensity);
        let mut market = MarketConfig::default();
        // The simulation checks connection logic, not throughput: a thin but
        // steady flow of data (ticks every 0.5–5 s, a few messages per frame)
        // keeps every data rule exercised at a fraction of the cost of the
        // model's default busy market (a tick every 0.1 s, most symbols
        // quoting every tick). Drawn per seed, never zero.
        market.tick = Duration::from_millis(500 + rng.below(4_500));
        market.quote_chance = 0.05 + rng.unit() * 0.35;
        market.trade_chance = 0.02 + rng.unit() * 0.18;
        // Likewise the account stream: an order every 5–20 s (the model's
        // default is every 2 s), each with its whole life cycle.
        let mut trading = TradingConfig::default();
        trading.order_interval = Duration::from_millis(5_000 + rng.below(15_000));
        let mut exchange = ExchangeConfig::new(rng.next_u64())
            .with_trading(trading)
            .with_account(account)
            .with_market(market)
            .with_faults(FaultPlan::uniform(faults.model));
        exchange.reap_after = Duration::from_secs(10 + rng.below(80));
        exchange.slow_client_frames_max = 20 + rng.below(200) as usize;
        // Big enough to be absurd for market data, small enough to simulate fast.
        exchange.oversized_frame_bytes = 64 * 1024 + 1;
        Self {
            streams,
            exchange,
            link: LinkConfig::draw(rng),
            faults,
            workload: WorkloadConfig::draw(rng),
            rest: RestScenario::default(),
        }
    }

    /// Draws the REST side from a generator of its own, seeded by `seed`,
    /// so that every other draw of the seed stays as it was: the faults,
    /// the page sizes, and which market streams backfill trades (most).
    pub fn draw_rest(&mut self, seed: u64, intensity: f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(9);
        let page_limit = if rng.chance(0.5) {
            tickwire_alpaca::ORDERS_PAGE_LIMIT
        } else {
            2 + rng.below(5) as usize
        };
        let faults = RestFaults::draw(&mut rng, intensity);
        let trade_page_limit = if rng.chance(0.5) {
            tickwire_alpaca::MARKET_PAGE_LIMIT
        } else {
            5 + rng.below(100) as usize
        };
        for spec in self.streams.iter_mut().filter(|s| !s.account) {
            spec.trade_backfill = rng.chance(0.7);
        }
        self.rest = RestScenario {
            faults,
            page_limit,
            trade_page_limit,
        };
    }
}
