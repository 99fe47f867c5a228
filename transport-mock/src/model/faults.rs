//! Fault knobs: rates of misbehaviour, and one-shot faults injected by a test.

use std::collections::BTreeMap;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use super::Endpoint;
use super::rng::RngExt;
use tickwire_core::Frame;

/// Rates of misbehaviour. Every rate is a probability in `[0, 1]` per
/// occasion (named on each field); the default is a well-behaved exchange.
///
/// ```
/// use tickwire_mock::Faults;
/// let flaky = Faults { drop: 0.01, ack_delay: 0.5, ..Faults::NONE };
/// assert!(!flaky.is_none());
/// assert!(Faults::default().is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Per upgrade: refuse it with HTTP 429 (too many requests).
    pub refuse_429: f64,
    /// Per upgrade: refuse it with HTTP 401 (unauthorized).
    pub refuse_401: f64,
    /// Per frame sent: end the connection right after it.
    pub drop: f64,
    /// Share of drops that are resets (no close frame) rather than clean closes.
    pub drop_reset_share: f64,
    /// Per frame sent: go silent from then on (the socket stays open, nothing more is sent).
    pub silence: f64,
    /// Per acknowledgement: hold it back for up to [`ack_delay_max`](Self::ack_delay_max).
    pub ack_delay: f64,
    /// Longest delay of a delayed acknowledgement.
    pub ack_delay_max: Duration,
    /// Per acknowledgement: send it twice.
    pub ack_duplicate: f64,
    /// Per acknowledgement: send it after the next one (or after
    /// [`ack_delay_max`](Self::ack_delay_max) if none follows).
    pub ack_reorder: f64,
    /// Per data frame: send an undecodable frame before it.
    pub garbage: f64,
    /// Per data frame: send a frame of
    /// [`ExchangeConfig::oversized_frame_bytes`](crate::ExchangeConfig::oversized_frame_bytes) before it.
    pub oversized: f64,
    /// Per market tick: restart the exchange (forget every session). Read
    /// from the exchange-wide faults only.
    pub restart: f64,
    /// Treat the client as not reading: data piles up until the exchange
    /// sends 407 (slow client) and closes.
    pub not_reading: bool,
}

impl Faults {
    /// No faults at all.
    pub const NONE: Self = Self {
        refuse_429: 0.0,
        refuse_401: 0.0,
        drop: 0.0,
        drop_reset_share: 0.5,
        silence: 0.0,
        ack_delay: 0.0,
        ack_delay_max: Duration::from_secs(2),
        ack_duplicate: 0.0,
        ack_reorder: 0.0,
        garbage: 0.0,
        oversized: 0.0,
        restart: 0.0,
        not_reading: false,
    };

    /// Whether no fault can happen.
    pub fn is_none(&self) -> bool {
        let rates = [
            self.refuse_429,
            self.refuse_401,
            self.drop,
            self.silence,
            self.ack_delay,
            self.ack_duplicate,
            self.ack_reorder,
            self.garbage,
            self.oversized,
            self.restart,
        ];
        rates.iter().all(|r| *r <= 0.0) && !self.not_reading
    }

    /// Rates drawn from a seed: each knob is off or uniform in
    /// `[0, intensity × its ceiling]`, so that seeds explore different mixes.
    /// `intensity` 1.0 gives rough but survivable rates (a drop every ~100 frames).
    pub fn draw(seed: u64, intensity: f64) -> Self {
        let mut rng = super::rng::stream(seed, super::rng::Stream::Faults);
        let k = intensity.clamp(0.0, 1.0);
        let rate = |ceiling: f64, rng: &mut ChaCha8Rng| {
            if rng.chance(0.5) {
                rng.between(0.0, ceiling * k)
            } else {
                0.0
            }
        };
        Self {
            refuse_429: rate(0.2, &mut rng),
            refuse_401: rate(0.05, &mut rng),
            drop: rate(0.01, &mut rng),
            drop_reset_share: rng.unit(),
            silence: rate(0.002, &mut rng),
            ack_delay: rate(0.5, &mut rng),
            ack_delay_max: Duration::from_millis(100 + rng.below(3_000)),
            ack_duplicate: rate(0.2, &mut rng),
            ack_reorder: rate(0.2, &mut rng),
            garbage: rate(0.005, &mut rng),
            oversized: rate(0.001, &mut rng),
            restart: rate(0.0005, &mut rng),
            not_reading: false,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::NONE
    }
}

/// Fault rates scoped to the whole exchange and to single endpoints.
///
/// Per-session rates are set on the [`Exchange`](crate::Exchange) once the
/// session exists ([`Exchange::set_session_faults`](crate::Exchange::set_session_faults)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// Rates for endpoints without their own entry (and the `restart` rate).
    pub default: Faults,
    /// Rates for single endpoints.
    pub endpoints: BTreeMap<Endpoint, Faults>,
}

impl FaultPlan {
    /// The same rates everywhere.
    pub fn uniform(faults: Faults) -> Self {
        Self {
            default: faults,
            endpoints: BTreeMap::new(),
        }
    }

    /// The rates that apply to `endpoint`.
    pub fn for_endpoint(&self, endpoint: Endpoint) -> Faults {
        self.endpoints
            .get(&endpoint)
            .copied()
            .unwrap_or(self.default)
    }
}

/// A one-shot fault, injected into one session by a test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Close the connection with this code and reason.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Drop the connection without a close frame.
    Reset,
    /// Keep the socket open and send nothing from now on.
    Silence,
    /// Speak again after [`Silence`](Self::Silence).
    Resume,
    /// Send one undecodable frame.
    Garbage,
    /// Send this frame as it is (a hostile one, say).
    Frame(Frame),
    /// Send one frame larger than any sane client accepts.
    Oversized,
    /// Treat the client as not reading (407 follows once data piles up).
    StopReading,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_rates_are_reproducible_and_bounded() {
        assert_eq!(Faults::draw(3, 1.0), Faults::draw(3, 1.0));
        let seeds_differ = (0..8).any(|s| Faults::draw(s, 1.0) != Faults::draw(s + 1, 1.0));
        assert!(seeds_differ);
        assert!(Faults::draw(9, 0.0).is_none());
        for s in 0..32 {
            let f = Faults::draw(s, 1.0);
            assert!((0.0..=0.2).contains(&f.refuse_429));
            assert!((0.0..=0.01).contains(&f.drop));
        }
    }
}
