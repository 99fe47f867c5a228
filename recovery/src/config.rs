//! The recovery planner's settings.

use std::time::Duration;

/// Settings of a [`Recovery`](super::Recovery), with documented defaults.
///
/// ```
/// use std::time::Duration;
/// use tickwire_recovery::RecoveryConfig;
/// let mut config = RecoveryConfig::default();
/// config.margin = Duration::from_secs(5);
/// assert_eq!(config.pages_max, 1_000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecoveryConfig {
    /// Widens each window at both ends, for clocks that disagree and
    /// messages in flight; duplicates it brings are dropped. Default 2 s.
    pub margin: Duration,
    /// How far behind the newest live record delivered keys are kept, so a
    /// later window (which reaches back to its gap's last data message,
    /// less `margin`) finds them; at least `margin`. Default 10 s.
    pub keep_for: Duration,
    /// Pages one window may take before it is abandoned. Default 1,000.
    pub pages_max: u32,
    /// Longest page token accepted, in bytes. Default 4 KiB.
    pub page_token_bytes_max: usize,
    /// Windows open at once; a resume beyond it is abandoned. Default 16.
    pub windows_max: usize,
    /// Delivered keys remembered at most; beyond it the oldest are
    /// forgotten first. Default 1,000,000.
    pub keys_max: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(2),
            keep_for: Duration::from_secs(10),
            pages_max: 1_000,
            page_token_bytes_max: 4096,
            windows_max: 16,
            keys_max: 1_000_000,
        }
    }
}
