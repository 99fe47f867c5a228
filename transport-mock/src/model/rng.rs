//! Small helpers over the seeded generator (rand 0.9's distributions are not a dependency).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Independent random streams of one exchange, so that traffic on one concern
/// (faults) does not shift the draws of another (the market).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Faults = 1,
    Market = 2,
    Orders = 3,
}

/// A generator for one stream of a seed.
pub(crate) fn stream(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Extension methods used by the model.
pub(crate) trait RngExt {
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64;
    /// `true` with probability `p` (`p <= 0` never draws a number, so a
    /// disabled knob does not shift the stream).
    fn chance(&mut self, p: f64) -> bool;
    /// How many times something expected `expected` times happens: the
    /// whole part always, one more by [`chance`](Self::chance) of the
    /// fraction (so `expected <= 1` is exactly `chance(expected)`).
    fn times(&mut self, expected: f64) -> u32;
    /// Uniform in `[0, n)`; `n == 0` gives 0.
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in `[lo, hi)`.
    fn between(&mut self, lo: f64, hi: f64) -> f64;
    /// A random version-4 UUID in its canonical text form.
    fn uuid(&mut self) -> String;
}

impl<R: RngCore> RngExt for R {
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.unit() < p
    }

    fn times(&mut self, expected: f64) -> u32 {
        let whole = expected.max(0.0).floor();
        // Saturates for absurd knobs; a tick's work stays bounded by the config.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole_times = whole.min(f64::from(u32::MAX - 1)) as u32;
        whole_times + u32::from(self.chance(expected - whole))
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (index, byte) in b.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                at += 1; // the dash already there
            }
            text[at] = HEX[usize::from(byte >> 4)];
            text[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        String::from_utf8(text.to_vec()).expect("hex digits and dashes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| stream(7, Stream::Faults).next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            stream(7, Stream::Faults).next_u64(),
            stream(7, Stream::Market).next_u64()
        );
        let u = stream(1, Stream::Orders).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn times_below_one_draws_as_chance_does_and_above_one_counts_the_whole_part() {
        for p in [0.0, 0.3, 0.999, 1.0] {
            let (mut a, mut b) = (stream(5, Stream::Market), stream(5, Stream::Market));
            for _ in 0..100 {
                assert_eq!(a.times(p), u32::from(b.chance(p)), "p = {p}");
            }
            assert_eq!(a.next_u64(), b.next_u64(), "p = {p}: the streams diverged");
        }
        let mut rng = stream(5, Stream::Market);
        let draws: Vec<u32> = (0..10_000).map(|_| rng.times(2.5)).collect();
        assert!(draws.iter().all(|n| (2..=3).contains(n)));
        let mean = f64::from(draws.iter().sum::<u32>()) / 10_000.0;
        assert!((mean - 2.5).abs() < 0.05, "mean {mean}");
        assert_eq!(rng.times(4.0), 4);
        assert_eq!(rng.times(-1.0), 0);
        assert_eq!(rng.times(f64::INFINITY), u32::MAX - 1);
    }

    #[test]
    fn uuids_are_the_drawn_bytes_in_hex_groups() {
        let mut rng = stream(3, Stream::Orders);
        let mut copy = rng.clone();
        let u = rng.uuid();
        let mut b = [0u8; 16];
        copy.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let expected = [
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32],
        ]
        .join("-");
        assert_eq!(u, expected);
    }
}
