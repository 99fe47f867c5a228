//! What the simulated application does: subscribe, unsubscribe, churn down
//! to nothing and back, shut down — at times and in proportions drawn from
//! the seed.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use tickwire_alpaca::{Channel, SubscriptionSet};
use tickwire_core::Symbol;

/// Small helpers over the seeded generator.
pub trait RngExt {
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64;
    /// `true` with probability `p`.
    fn chance(&mut self, p: f64) -> bool;
    /// Uniform in `[0, n)`; 0 when `n` is 0.
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in `[0, max]`.
    fn duration_up_to(&mut self, max: Duration) -> Duration;
}

impl RngExt for ChaCha8Rng {
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (p >= 1.0 || self.unit() < p)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn duration_up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.below(nanos.saturating_add(1)))
    }
}

/// Channels the workload subscribes to (all served by the stock endpoints).
pub const CHANNELS: [Channel; 3] = [Channel::Trades, Channel::Quotes, Channel::Bars];

/// Symbols the workload draws from (a prefix of this list, sized per seed).
const POOL: [&str; 40] = [
    "AAPL", "MSFT", "AMD", "TSLA", "SPY", "QQQ", "IBM", "NVDA", "AMZN", "GOOG", "META", "NFLX",
    "INTC", "ORCL", "CSCO", "ADBE", "CRM", "PYPL", "UBER", "LYFT", "SHOP", "SQ", "PLTR", "SNOW",
    "COIN", "HOOD", "RIVN", "F", "GM", "T", "VZ", "KO", "PEP", "MCD", "DIS", "BA", "GE", "XOM",
    "CVX", "JPM",
];

/// One user command for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Add symbols to a channel.
    Subscribe {
        /// The channel.
        channel: Channel,
        /// The symbols.
        symbols: Vec<Symbol>,
    },
    /// Remove symbols from a channel.
    Unsubscribe {
        /// The channel.
        channel: Channel,
        /// The symbols.
        symbols: Vec<Symbol>,
    },
    /// Remove everything the stream wants (the next command brings some back).
    Churn,
    /// Shut the stream down for good.
    Shutdown,
}

/// The shape of one seed's workload (swarm testing: each seed its own mix).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadConfig {
    /// Mean virtual time between two commands (to any stream).
    pub command_every: Duration,
    /// Relative weight of subscribes.
    pub subscribe_weight: u32,
    /// Relative weight of unsubscribes.
    pub unsubscribe_weight: u32,
    /// Relative weight of churns to empty.
    pub churn_weight: u32,
    /// Probability that a command is a shutdown instead.
    pub shutdown_chance: f64,
    /// How many symbols of the pool are used.
    pub pool_size: usize,
    /// Most symbols per command.
    pub batch_max: usize,
    /// Whether the wildcard `*` may be subscribed.
    pub wildcard: bool,
}

impl WorkloadConfig {
    /// A workload drawn from the seed's generator.
    pub fn draw(rng: &mut ChaCha8Rng) -> Self {
        Self {
            command_every: Duration::from_millis(20 + rng.below(20_000)),
            subscribe_weight: 2 + rng.below(8) as u32,
            unsubscribe_weight: rng.below(6) as u32,
            churn_weight: rng.below(3) as u32,
            shutdown_chance: if rng.chance(0.3) {
                rng.unit() * 0.02
            } else {
                0.0
            },
            pool_size: 2 + rng.below(POOL.len() as u64 - 1) as usize,
            batch_max: 1 + rng.below(12) as usize,
            wildcard: rng.chance(0.1),
        }
    }

    /// The delay before the next command.
    pub fn next_delay(&self, rng: &mut ChaCha8Rng) -> Duration {
        rng.duration_up_to(self.command_every * 2)
    }

    /// A command for a stream that currently wants `desired`.
    pub fn command(
        &self,
        rng: &mut ChaCha8Rng,
        desired: &SubscriptionSet,
        come_back: bool,
    ) -> Command {
        if rng.chance(self.shutdown_chance) {
            return Command::Shutdown;
        }
        let total = self.subscribe_weight + self.unsubscribe_weight + self.churn_weight;
        let pick = rng.below(u64::from(total.max(1))) as u32;
        if come_back || desired.is_empty() || pick < self.subscribe_weight {
            let channel = CHANNELS[rng.below(CHANNELS.len() as u64) as usize];
            let count = 1 + rng.below(self.batch_max as u64) as usize;
            let mut symbols = Vec::with_capacity(count);
            for _ in 0..count {
                symbols.push(self.symbol(rng));
            }
            return Command::Subscribe { channel, symbols };
        }
        if pick < self.subscribe_weight + self.unsubscribe_weight {
            let (channel, _) = desired
                .iter()
                .nth(rng.below(desired.len() as u64) as usize)
                .expect("an index below the length");
            let in_channel: Vec<&Symbol> = desired.symbols(channel).collect();
            let count = 1 + rng.below(self.batch_max as u64) as usize;
            let mut symbols = Vec::with_capacity(count);
            for _ in 0..count {
                // Mostly symbols it has, sometimes one it never had.
                if rng.chance(0.85) {
                    symbols.push(in_channel[rng.below(in_channel.len() as u64) as usize].clone());
                } else {
                    symbols.push(self.symbol(rng));
                }
            }
            return Command::Unsubscribe { channel, symbols };
        }
        Command::Churn
    }

    fn symbol(&self, rng: &mut ChaCha8Rng) -> Symbol {
        if self.wildcard && rng.chance(0.02) {
            return Symbol::WILDCARD;
        }
        let name = POOL[rng.below(self.pool_size.min(POOL.len()) as u64) as usize];
        Symbol::from_server(name)
    }
}
