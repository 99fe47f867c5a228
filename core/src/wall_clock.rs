//! Wall-clock time derived from the monotonic clock the machine is driven by.

use std::time::Instant;

use crate::Timestamp;

/// Reads wall-clock time off a monotonic `Instant`: one moment known on both
/// clocks (the anchor), and the elapsed time since.
///
/// The machine never reads a clock; a driver reads both once and hands the
/// pair over in [`MachineConfig::wall_clock`](crate::machine::MachineConfig::wall_clock).
/// A simulation gives a fixed pair and stays deterministic.
///
/// ```
/// use std::time::{Duration, Instant};
/// use tickwire_core::{Timestamp, WallClock};
/// let start = Instant::now();
/// let clock = WallClock::new(start, "2024-01-02T14:30:00Z".parse()?);
/// let later = clock.at(start + Duration::from_millis(1500));
/// assert_eq!(later.to_string(), "2024-01-02T14:30:01.5Z");
/// # Ok::<(), tickwire_core::InvalidTimestamp>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    anchor: Instant,
    anchor_wall: Timestamp,
}

impl WallClock {
    /// A clock on which `anchor` reads `anchor_wall`.
    pub const fn new(anchor: Instant, anchor_wall: Timestamp) -> Self {
        Self {
            anchor,
            anchor_wall,
        }
    }

    /// The wall-clock time of `now` (also before the anchor); saturates at
    /// the ends of [`Timestamp::from_unix_nanos`]'s range.
    pub fn at(&self, now: Instant) -> Timestamp {
        let nanos = match now.checked_duration_since(self.anchor) {
            Some(after) => after.as_nanos() as i128,
            None => -((self.anchor - now).as_nanos() as i128),
        };
        self.anchor_wall.saturating_add_nanos(nanos)
    }
}
