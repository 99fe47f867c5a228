//! The trace of a run: a running hash of everything that happened, in order,
//! and optionally a readable log of it.
//!
//! The hash covers every machine action and event, every frame that crossed
//! the link and every fault, each with its virtual time. Two runs of the same
//! seed must give the same hash; that is what makes a failure replayable.

use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

/// 64-bit FNV-1a offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// 64-bit FNV-1a prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running hash of a run's history, plus an optional text log.
///
/// The hash is FNV-1a over 64-bit words, stable across platforms and compiler
/// versions (unlike `std`'s `DefaultHasher`), so a hash printed in a report
/// can be compared with a later run.
///
/// ```
/// use std::time::Duration;
/// use tickwire_sim::Trace;
/// let mut a = Trace::new(false);
/// let mut b = Trace::new(false);
/// a.record(Duration::from_millis(5), 1, b"hello");
/// b.record(Duration::from_millis(5), 1, b"hello");
/// assert_eq!(a.hash(), b.hash());
/// b.record(Duration::ZERO, 2, b"");
/// assert_ne!(a.hash(), b.hash());
/// ```
#[derive(Clone)]
pub struct Trace {
    hash: u64,
    entries: u64,
    lines: Option<Vec<String>>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &format_args!("{:016x}", self.hash))
            .field("entries", &self.entries)
            .field("lines", &self.lines.as_ref().map(Vec::len))
            .finish()
    }
}

impl Trace {
    /// An empty trace; with `keep_lines` it also keeps a readable log.
    pub fn new(keep_lines: bool) -> Self {
        Self {
            hash: FNV_OFFSET,
            entries: 0,
            lines: keep_lines.then(Vec::new),
        }
    }

    /// The hash of everything recorded so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many entries were recorded.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Whether a readable log is kept.
    pub fn keeps_lines(&self) -> bool {
        self.lines.is_some()
    }

    /// Records one entry: its virtual time, a tag and its bytes.
    pub fn record(&mut self, at: Duration, tag: u64, bytes: &[u8]) {
        self.entries += 1;
        self.mix(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX));
        self.mix(tag);
        self.mix(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.mix(u64::from_le_bytes(tail));
    }

    /// Adds a line to the readable log (if kept); `line` is only called then.
    pub fn log(&mut self, at: Duration, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.lines {
            let mut text = String::new();
            let _ = write!(text, "{:>12.6}s  ", at.as_secs_f64());
            text.push_str(&line());
            lines.push(text);
        }
    }

    /// The readable log, if kept.
    pub fn lines(&self) -> Option<&[String]> {
        self.lines.as_deref()
    }

    /// Writes the readable log (or a note that none was kept) to `path`.
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        let mut text = format!("trace hash {:016x}, {} entries\n", self.hash, self.entries);
        match &self.lines {
            Some(lines) => {
                for line in lines {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            None => text.push_str("(no readable log was kept; run with SimConfig::record_trace)\n"),
        }
        std::fs::write(path, text)
    }

    fn mix(&mut self, word: u64) {
        // FNV-1a over 64-bit words, with a fold so high bits reach low ones.
        self.hash ^= word;
        self.hash = self.hash.wrapping_mul(FNV_PRIME);
        self.hash ^= self.hash >> 29;
    }
}
