//! What the kernel says of this process: CPU time and times scheduled per
//! thread (`/proc/self/task/*/schedstat`), and resident memory
//! (`/proc/self/status`).

use std::fs;

/// CPU time and wake-ups summed over threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuUse {
    /// Nanoseconds on a CPU.
    pub(crate) cpu_ns: u64,
    /// Times a thread was put on a CPU: wake-ups (and preemptions).
    pub(crate) runs: u64,
}

impl CpuUse {
    /// The use since `earlier` (threads that ended meanwhile are not counted).
    pub(crate) fn since(self, earlier: Self) -> Self {
        Self {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            runs: self.runs.saturating_sub(earlier.runs),
        }
    }
}

/// The use so far of every thread of this process but those named `excluded`.
pub(crate) fn threads_except(excluded: &str) -> CpuUse {
    let mut total = CpuUse::default();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return total;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.trim_end() == excluded {
            continue;
        }
        let Ok(stat) = fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        total.cpu_ns += fields.next().unwrap_or(0);
        let _waiting_ns = fields.next();
        total.runs += fields.next().unwrap_or(0);
    }
    total
}

/// The use so far of every thread of this process.
pub(crate) fn all_threads() -> CpuUse {
    threads_except("")
}

/// Resident memory of this process, in bytes (`VmRSS`).
pub(crate) fn rss_bytes() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}
