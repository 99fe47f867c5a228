//! One-shot faults thrown at random moments: the link's own (reset, hang,
//! garbage bytes) and the exchange model's knobs (clean close, silence,
//! garbage, slow-client, refused upgrades, restart). Rates and the mix are
//! drawn per seed; the steady fault rates of the model (ack games, drops…)
//! are [`tickwire_mock::Faults`], drawn alongside.

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use tickwire_mock::Faults;

use super::workload::RngExt;

/// A one-shot fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shot {
    /// The link resets a connection: the client sees an I/O error, the
    /// exchange a lost connection (its slot lingers: 406 for a while).
    LinkReset,
    /// The link becomes a black hole both ways (the server notices much later).
    LinkHang,
    /// The link hands the client random bytes.
    LinkGarbage,
    /// The exchange closes a connection cleanly.
    ServerClose,
    /// The exchange stops sending on a connection (socket left open).
    ServerSilence,
    /// The exchange sends an undecodable frame.
    ServerGarbage,
    /// The exchange treats a client as not reading (407 follows).
    ServerStopReading,
    /// The next upgrade is refused with HTTP 429.
    Refuse429,
    /// The next upgrade is refused with HTTP 401 (fatal for the stream).
    Refuse401,
    /// The exchange restarts, dropping every connection.
    Restart,
}

impl Shot {
    /// Every shot, in the order of [`FaultMix::weights`].
    pub const ALL: [Self; 10] = [
        Self::LinkReset,
        Self::LinkHang,
        Self::LinkGarbage,
        Self::ServerClose,
        Self::ServerSilence,
        Self::ServerGarbage,
        Self::ServerStopReading,
        Self::Refuse429,
        Self::Refuse401,
        Self::Restart,
    ];
}

/// The faults of one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultMix {
    /// The model's steady fault rates.
    pub model: Faults,
    /// Mean virtual time between one-shot faults; `None`: none.
    pub shot_every: Option<Duration>,
    /// Relative weights of the shots, in the order of [`Shot::ALL`].
    pub weights: [u32; 10],
}

impl FaultMix {
    /// No faults.
    pub fn none() -> Self {
        Self {
            model: Faults::NONE,
            shot_every: None,
            weights: [0; 10],
        }
    }

    /// A mix drawn from the seed's generator; `intensity` in `[0, 1]` scales every rate.
    pub fn draw(rng: &mut ChaCha8Rng, intensity: f64) -> Self {
        let k = intensity.clamp(0.0, 1.0);
        if k <= 0.0 {
            return Self::none();
        }
        let mut model = Faults::draw(rng.next_u64(), k);
        // 401 is fatal: keep it rare, or most seeds end with failed streams.
        model.refuse_401 = if rng.chance(0.2) {
            model.refuse_401 * 0.2
        } else {
            0.0
        };
        let shot_every = rng
            .chance(0.8)
            .then(|| Duration::from_millis(500 + rng.below(60_000)).div_f64(k));
        let mut weights = [0; 10];
        for (i, weight) in weights.iter_mut().enumerate() {
            let fatal = Shot::ALL[i] == Shot::Refuse401;
            *weight = match (fatal, rng.chance(if fatal { 0.1 } else { 0.6 })) {
                (_, false) => 0,
                (true, true) => 1,
                (false, true) => 1 + rng.below(5) as u32,
            };
        }
        Self {
            model,
            shot_every,
            weights,
        }
    }

    /// The delay before the next shot, if shots are on.
    pub fn next_delay(&self, rng: &mut ChaCha8Rng) -> Option<Duration> {
        let every = self.shot_every?;
        (self.weights.iter().sum::<u32>() > 0).then(|| rng.duration_up_to(every * 2))
    }

    /// Picks a shot by weight.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> Option<Shot> {
        let total: u32 = self.weights.iter().sum();
        let mut pick = rng.below(u64::from(total)) as u32;
        for (shot, weight) in Shot::ALL.into_iter().zip(self.weights) {
            if pick < weight {
                return Some(shot);
            }
            pick -= weight;
        }
        None
    }
}
