//! The tape: every trade of every instrument, a pure function of the
//! exchange's seed, the instrument and the tick — whoever subscribes, and
//! whether anyone does.
//!
//! Ticks sit on a grid: tick `n` happens `n` ticks after the exchange
//! started (`n >= 1`), on the wall clock at `wall_clock_start + n * tick`.
//! The mid price of an instrument at a tick is value noise over the tick
//! index (no walk to replay), and the trades of a tick are drawn from a
//! generator seeded by (seed, endpoint, symbol, tick). So the stream and
//! the historical REST API read the same tape: a trade streamed at tick
//! `n` is the trade REST lists for that time, with the same id, price,
//! size and timestamp, and a minute bar is the aggregate of the tape's
//! trades in its minute.

use std::time::Duration;

use rand_core::RngCore;
use tickwire_alpaca::{Bar, Conditions, Trade};
use tickwire_core::{Symbol, Timestamp};

use super::Endpoint;
use super::endpoint::Kind;
use super::generator::{initial_price, symbol_hash};
use super::rng::RngExt;

/// Most trades of one instrument in one tick; a larger `trade_chance` is cut here.
pub(crate) const TRADES_PER_TICK_MAX: u32 = 512;
/// Trade ids of tick `n` are `n * TRADE_IDS_PER_TICK + j`; corrections use
/// `+ TRADES_PER_TICK_MAX`, so no two ids of an instrument meet.
const TRADE_IDS_PER_TICK: u64 = 2 * TRADES_PER_TICK_MAX as u64;
/// Nanoseconds between the trades of one tick (the first is this long after the tick).
const TRADE_SPACING_NANOS: i128 = 1_000;
/// The delayed feed's lag.
const DELAYED_SIP_LAG_NANOS: i128 = 15 * 60 * 1_000_000_000;

/// Value-noise octaves of the mid price: (period in ticks, amplitude).
const OCTAVES: [(u64, f64); 4] = [(20, 0.0005), (300, 0.002), (3_000, 0.006), (36_000, 0.015)];

/// The tape of one exchange: its seed, tick grid and trade rate.
#[derive(Debug, Clone)]
pub(crate) struct Tape {
    seed: u64,
    tick_nanos: i128,
    wall_start_nanos: i128,
    trade_chance: f64,
}

/// Which instrument a tape entry is of: its endpoint and symbol, hashed once.
#[derive(Debug, Clone)]
pub(crate) struct TapeKey {
    endpoint: Endpoint,
    symbol: Symbol,
    hash: u64,
}

impl TapeKey {
    pub(crate) fn new(endpoint: Endpoint, symbol: &Symbol) -> Self {
        let name = symbol_hash(symbol);
        Self {
            endpoint,
            symbol: symbol.clone(),
            hash: mix(name ^ mix(endpoint as u64 + 1)),
        }
    }
}

impl Tape {
    pub(crate) fn new(seed: u64, tick: Duration, wall_start: Timestamp, trade_chance: f64) -> Self {
        Self {
            seed,
            tick_nanos: tick.as_nanos().max(1) as i128,
            wall_start_nanos: wall_start.unix_nanos(),
            trade_chance,
        }
    }

    /// The tick's length in nanoseconds.
    pub(crate) fn tick_nanos(&self) -> i128 {
        self.tick_nanos
    }

    /// The wall-clock time of tick `n` on `endpoint` (the delayed feed's lags).
    pub(crate) fn wall(&self, endpoint: Endpoint, n: u64) -> Timestamp {
        let lag = if endpoint == Endpoint::DelayedSip {
            DELAYED_SIP_LAG_NANOS
        } else {
            0
        };
        nanos(self.wall_start_nanos + i128::from(n) * self.tick_nanos - lag)
    }

    /// The first tick whose trades may be stamped at or after `at` on `endpoint`.
    pub(crate) fn first_tick_from(&self, endpoint: Endpoint, at: Timestamp) -> u64 {
        let base = self.wall(endpoint, 0).unix_nanos();
        let before = at.unix_nanos() - base - i128::from(TRADES_PER_TICK_MAX) * TRADE_SPACING_NANOS;
        let n = before.div_euclid(self.tick_nanos);
        u64::try_from(n.max(1)).unwrap_or(u64::MAX)
    }

    /// The last tick at or before `at` on `endpoint` (0: none).
    pub(crate) fn last_tick_until(&self, endpoint: Endpoint, at: Timestamp) -> u64 {
        let base = self.wall(endpoint, 0).unix_nanos();
        let n = (at.unix_nanos() - base).div_euclid(self.tick_nanos);
        u64::try_from(n.max(0)).unwrap_or(0)
    }

    /// The mid price of an instrument at tick `n`.
    pub(crate) fn mid(&self, key: &TapeKey, n: u64) -> f64 {
        let base = initial_price(key.endpoint.kind(), &key.symbol);
        let mut drift = 0.0;
        for (octave, (period, amplitude)) in OCTAVES.iter().enumerate() {
            let knot = n / period;
            let fraction = (n % period) as f64 / *period as f64;
            let smooth = fraction * fraction * (3.0 - 2.0 * fraction);
            let at = |k: u64| {
                let h = mix(self.seed ^ key.hash ^ mix(k ^ ((octave as u64 + 7) << 56)));
                (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            };
            drift += amplitude * (at(knot) + (at(knot + 1) - at(knot)) * smooth);
        }
        (base * drift.exp()).max(0.01)
    }

    /// The trades of an instrument at tick `n` (none at tick 0), appended to `out`.
    pub(crate) fn trades(&self, key: &TapeKey, n: u64, out: &mut Vec<Trade>) {
        if n == 0 || self.trade_chance <= 0.0 {
            return;
        }
        let mut rng = TickRng(mix(self.seed ^ mix(key.hash ^ mix(n))));
        let count = rng.times(self.trade_chance).min(TRADES_PER_TICK_MAX);
        if count == 0 {
            return;
        }
        let mid = self.mid(key, n);
        let kind = key.endpoint.kind();
        let venue = super::generator::venue(key.endpoint, &key.symbol);
        let wall = self.wall(key.endpoint, n).unix_nanos();
        for j in 0..count {
            let price = cents(mid * (1.0 + rng.between(-0.0002, 0.0002)));
            let size = if kind == Kind::Crypto {
                (rng.between(0.001, 2.0) * 1e4).round() / 1e4
            } else {
                (1 + rng.below(300)) as f64
            };
            let taker_side =
                (kind == Kind::Crypto).then(|| if rng.chance(0.5) { "B" } else { "S" }.into());
            out.push(Trade {
                symbol: key.symbol.clone(),
                id: Some(n * TRADE_IDS_PER_TICK + u64::from(j)),
                exchange: venue.exchange.map(Into::into),
                price,
                size,
                conditions: match kind {
                    Kind::Stocks => ["@"].into_iter().collect(),
                    Kind::Options => ["I"].into_iter().collect(),
                    _ => Conditions::new(),
                },
                timestamp: nanos(wall + i128::from(j + 1) * TRADE_SPACING_NANOS),
                tape: venue.tape.map(Into::into),
                taker_side,
            });
        }
    }

    /// The id a correction of trade `id` gives the corrected trade.
    pub(crate) fn corrected_id(id: u64) -> u64 {
        id + u64::from(TRADES_PER_TICK_MAX)
    }

    /// The bar of an instrument over `[start, start + interval)`, from the
    /// tape's trades of ticks `1..=last_tick`; `None` when none traded.
    /// Adds the ticks it read to `ticks_read`.
    pub(crate) fn bar(
        &self,
        key: &TapeKey,
        start: Timestamp,
        interval: Duration,
        last_tick: u64,
        ticks_read: &mut u64,
    ) -> Option<Bar> {
        let end = start.saturating_add_nanos(interval.as_nanos() as i128);
        let first = self.first_tick_from(key.endpoint, start);
        let last = self
            .last_tick_until(key.endpoint, end.saturating_add_nanos(-1))
            .min(last_tick);
        let mut acc = BarAcc::default();
        let mut trades = Vec::new();
        for n in first..=last {
            *ticks_read += 1;
            trades.clear();
            self.trades(key, n, &mut trades);
            for trade in trades
                .iter()
                .filter(|t| t.timestamp >= start && t.timestamp < end)
            {
                acc.add(trade.price, trade.size);
            }
        }
        acc.bar(&key.symbol, start)
    }
}

/// A bar's running aggregate.
#[derive(Debug, Clone, Default)]
pub(crate) struct BarAcc {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    notional: f64,
    trades: u64,
}

impl BarAcc {
    pub(crate) fn add(&mut self, price: f64, size: f64) {
        if self.trades == 0 {
            self.open = price;
            self.high = price;
            self.low = price;
        }
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume += size;
        self.notional += price * size;
        self.trades += 1;
    }

    /// Adds a whole bar (a minute into a day).
    pub(crate) fn merge(&mut self, bar: &Bar) {
        if self.trades == 0 {
            self.open = bar.open;
            self.high = bar.high;
            self.low = bar.low;
        }
        self.high = self.high.max(bar.high);
        self.low = self.low.min(bar.low);
        self.close = bar.close;
        self.volume += bar.volume;
        self.notional += bar.vwap.unwrap_or(bar.close) * bar.volume;
        self.trades += bar.trade_count.unwrap_or(1);
    }

    /// The bar so far, stamped `start`; `None` before any trade.
    pub(crate) fn bar(&self, symbol: &Symbol, start: Timestamp) -> Option<Bar> {
        (self.trades > 0).then(|| Bar {
            symbol: symbol.clone(),
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            vwap: Some(if self.volume > 0.0 {
                cents(self.notional / self.volume)
            } else {
                self.close
            }),
            trade_count: Some(self.trades),
            timestamp: start,
        })
    }
}

/// The start of the `interval` bucket holding `at` (buckets from the Unix epoch).
pub(crate) fn bucket_start(at: Timestamp, interval: Duration) -> Timestamp {
    let width = interval.as_nanos().max(1) as i128;
    nanos(at.unix_nanos().div_euclid(width) * width)
}

/// Rounds a price to cents.
pub(crate) fn cents(price: f64) -> f64 {
    (price * 100.0).round() / 100.0
}

fn nanos(at: i128) -> Timestamp {
    Timestamp::from_unix_nanos(at.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: a cheap generator for the draws of one tick of one instrument.
struct TickRng(u64);

impl RngCore for TickRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}
