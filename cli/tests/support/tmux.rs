//! A real terminal for the boards: tmux, each test on a server of its own
//! (`tmux -L <name>`), the command run by a shell that prints its exit
//! status and stays, so the terminal's modes after the command can be read
//! (tmux reports no cursor for a pane whose process has ended).
//!
//! When tmux is missing the helper installs it with `apt-get install -y
//! tmux` (as root), or fails saying what to install; it never skips.

use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

/// Columns and rows of the test terminal.
const SIZE: (u16, u16) = (120, 32);

/// How often the screen is read while waiting for something.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A tmux server with one window running a command; killed on drop.
pub(crate) struct Tmux {
    socket: String,
    pane: String,
    /// The command's process id.
    pub(crate) pid: u32,
}

/// The final state of an exited pane.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ended {
    /// The exit status.
    pub(crate) status: i32,
    /// Whether the alternate screen is still on.
    pub(crate) alternate_screen: bool,
    /// Whether the cursor is visible.
    pub(crate) cursor_visible: bool,
}

impl Tmux {
    /// Runs `program args…` in a fresh terminal on the server `socket`.
    pub(crate) fn run(socket: &str, program: &str, args: &[&str]) -> Self {
        ensure_installed();
        let socket = format!("{socket}-{}", std::process::id());
        let (width, height) = SIZE;
        // A session that outlives the command, so the server stays up.
        tmux(
            &socket,
            &[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "keep",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "sleep 600",
            ],
        );
        let mut command =
            String::from("env -u APCA_API_KEY_ID -u APCA_API_SECRET_KEY -u RUST_LOG -u NO_COLOR");
        for word in std::iter::once(program).chain(args.iter().copied()) {
            command.push(' ');
            command.push_str(&quote(word));
        }
        command.push_str("; echo \"exit status $?\"; exec sleep 600");
        let printed = tmux(
            &socket,
            &[
                "new-window",
                "-d",
                "-t",
                "keep:",
                "-P",
                "-F",
                "#{pane_id} #{pane_pid}",
                &command,
            ],
        );
        let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
        let mut words = printed.split_whitespace();
        let pane = words.next().expect("tmux prints the pane id").to_owned();
        let shell: u32 = words
            .next()
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("tmux printed no pane pid: {printed:?}"));
        let pid = child_of(shell);
        Self { socket, pane, pid }
    }

    /// The visible screen, one line per row.
    pub(crate) fn screen(&self) -> String {
        let output = tmux(&self.socket, &["capture-pane", "-p", "-t", &self.pane]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Reads the screen until `ready` accepts it; fails with the last screen
    /// after `timeout`.
    pub(crate) fn wait_for(&self, timeout: Duration, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {} s; the screen:\n{screen}",
                timeout.as_secs()
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Types keys (tmux `send-keys` names, e.g. `q`, `C-c`).
    pub(crate) fn keys(&self, keys: &str) {
        tmux(&self.socket, &["send-keys", "-t", &self.pane, keys]);
    }

    /// Waits for the command to exit; its status and the terminal's modes then.
    pub(crate) fn wait_exit(&self, timeout: Duration) -> Ended {
        let deadline = Instant::now() + timeout;
        let status = loop {
            let screen = self.screen();
            let status = screen
                .lines()
                .find_map(|line| line.trim().strip_prefix("exit status "))
                .and_then(|code| code.trim().parse().ok());
            if let Some(status) = status {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the command did not exit within {} s; the screen:\n{screen}",
                timeout.as_secs()
            );
            thread::sleep(POLL_INTERVAL);
        };
        let output = tmux(
            &self.socket,
            &[
                "display-message",
                "-p",
                "-t",
                &self.pane,
                "#{alternate_on} #{cursor_flag}",
            ],
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let fields: Vec<&str> = text.split_whitespace().collect();
        Ended {
            status,
            alternate_screen: fields.first() == Some(&"1"),
            cursor_visible: fields.get(1) == Some(&"1"),
        }
    }
}

/// The process the shell `parent` started (found in `/proc`, waited for).
fn child_of(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children = std::fs::read_dir("/proc")
            .expect("reads /proc")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    // The parent is the second field after the command name.
                    stat.rfind(')')
                        .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
                        .is_some_and(|ppid| ppid == parent.to_string())
                })
            })
            .collect::<Vec<u32>>();
        if let Some(child) = children.first() {
            return *child;
        }
        assert!(
            Instant::now() < deadline,
            "the shell {parent} started no command"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `tmux -L socket args…`; fails the test when it fails.
fn tmux(socket: &str, args: &[&str]) -> Output {
    let output = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run tmux: {e}"));
    assert!(
        output.status.success(),
        "tmux {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Single-quotes a word for the shell tmux runs the command with.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Makes sure `tmux` runs: installs it when missing and possible.
fn ensure_installed() {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        if runs("tmux", &["-V"]) {
            return;
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        assert!(
            root,
            "tmux is not installed and this user cannot install it: \
             install tmux (e.g. `apt-get install tmux`) to run the board tests"
        );
        let installed = Command::new("sh")
            .args([
                "-c",
                "DEBIAN_FRONTEND=noninteractive apt-get install -y tmux \
                 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tmux)",
            ])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed && runs("tmux", &["-V"]),
            "tmux is not installed and `apt-get install -y tmux` failed: \
             install tmux to run the board tests"
        );
    });
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
