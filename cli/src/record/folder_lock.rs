//! One recording per folder: a second one would take the first one's open
//! Parquet files for ones a killed recording left behind, and repair them
//! under its feet.
//!
//! The lock is a file, `.tickwire-record.lock`, holding the recording's
//! process id; it is removed when the recording ends. A lock whose process
//! is gone (a killed recording) is taken over. Whether a process is alive is
//! read from `/proc`; where there is none, every lock counts as stale.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The lock file's name in the folder.
pub(crate) const LOCK_FILE: &str = ".tickwire-record.lock";

/// The folder's lock, held while recording; removed on drop.
#[derive(Debug)]
pub(crate) struct FolderLock {
    path: PathBuf,
}

impl FolderLock {
    /// Takes the lock of `dir` for this process.
    ///
    /// # Errors
    /// A message naming the other recording when one is writing into `dir`,
    /// or the error when the lock file cannot be written.
    pub(crate) fn take(dir: &Path) -> Result<Self, String> {
        let path = dir.join(LOCK_FILE);
        if let Ok(text) = fs::read_to_string(&path)
            && let Ok(pid) = text.trim().parse::<u32>()
            && pid != std::process::id()
            && alive(pid)
        {
            return Err(format!(
                "another tickwire record (process {pid}) is writing into {}; record into another folder",
                dir.display()
            ));
        }
        fs::write(&path, std::process::id().to_string())
            .map_err(|e: io::Error| format!("cannot write {}: {e}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether process `pid` is running (per `/proc`).
fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::temporary_dir;

    #[test]
    fn a_live_recording_keeps_the_folder_and_a_dead_one_does_not() {
        let dir = temporary_dir("lock");
        let lock = dir.join(LOCK_FILE);

        // Process 1 (init) is always alive.
        fs::write(&lock, "1").unwrap();
        let error = FolderLock::take(&dir).unwrap_err();
        assert!(error.contains("process 1"), "{error}");

        // A process id that no running process has: taken over.
        fs::write(&lock, u32::MAX.to_string()).unwrap();
        let taken = FolderLock::take(&dir).unwrap();
        assert_eq!(
            fs::read_to_string(&lock).unwrap(),
            std::process::id().to_string()
        );
        drop(taken);
        assert!(!lock.exists(), "released on drop");
        fs::remove_dir_all(dir).unwrap();
    }
}
