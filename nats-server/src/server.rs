//! A running `nats-server` with JetStream on a free loopback port.

use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Error, install};

/// Bound on a start, from spawning the process to its first `INFO` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Pause between two connection attempts while the server starts.
const CONNECT_RETRY: Duration = Duration::from_millis(20);

/// Starts tried when the chosen port was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// Numbers each server's folder within this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A `nats-server` process with JetStream, killed (and its store removed)
/// on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    binary: PathBuf,
    version: String,
}

impl NatsServer {
    /// Installs the server under `target_tmp` if needed (see
    /// [`install`](crate::install())), starts it on a free port of
    /// 127.0.0.1 with JetStream storing into a new folder of `target_tmp`,
    /// and returns once it accepts clients.
    ///
    /// # Errors
    /// The install's errors; the server exiting or not accepting clients
    /// within 20 s (its log is in the message).
    pub fn start(target_tmp: &Path) -> Result<Self, Error> {
        let installed = install(target_tmp)?;
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            match spawn(&installed.binary, target_tmp) {
                Ok((child, port, dir)) => {
                    return Ok(Self {
                        child,
                        port,
                        dir,
                        binary: installed.binary,
                        version: installed.version,
                    });
                }
                Err(Start::PortTaken(log)) => last = Some(log),
                Err(Start::Failed(error)) => return Err(error),
            }
        }
        Err(Error(format!(
            "nats-server found no free port in {PORT_ATTEMPTS} attempts; its last log:\n{}",
            last.unwrap_or_default()
        )))
    }

    /// The URL clients connect to, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id (a new one after [`NatsServer::restart`]), e.g. to
    /// read its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The version it reports, e.g. `2.11.4`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Kills the server (as a crash would: no goodbye to its clients) and,
    /// `down` later, starts it again on the same port with the same
    /// JetStream store, so streams and buckets outlive it as they would a
    /// real restart.
    ///
    /// # Errors
    /// The server not accepting clients again within 20 s (its log is in
    /// the message), or the port taken by another process meanwhile.
    pub fn restart(&mut self, down: Duration) -> Result<(), Error> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child = run(&self.binary, &self.dir, self.port).map_err(|start| match start {
            Start::PortTaken(log) => Error(format!(
                "nats-server could not restart: port {} was taken meanwhile; its log:\n{log}",
                self.port
            )),
            Start::Failed(error) => error,
        })?;
        Ok(())
    }

    /// Its log so far (what it printed on stdout and stderr).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Why one start did not give a server.
enum Start {
    /// The port was taken between choosing and binding it; the log.
    PortTaken(String),
    /// Anything else.
    Failed(Error),
}

/// Spawns the server on a free port in a new folder and waits until it
/// greets a client; on failure the folder is removed.
fn spawn(binary: &Path, target_tmp: &Path) -> Result<(Child, u16, PathBuf), Start> {
    let dir = target_tmp.join(format!(
        "nats-server-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let failed = |what: &str, error: io::Error| Start::Failed(Error(format!("{what}: {error}")));
    fs::create_dir_all(&dir).map_err(|e| failed(&format!("cannot create {}", dir.display()), e))?;
    let port = free_port().map_err(|e| failed("cannot find a free port on 127.0.0.1", e))?;
    match run(binary, &dir, port) {
        Ok(child) => Ok((child, port, dir)),
        Err(start) => {
            let _ = fs::remove_dir_all(&dir);
            Err(start)
        }
    }
}

/// Runs the server on `port` with its store and log in `dir` (the log
/// appended to) and waits until it greets a client; on failure the
/// process is killed.
fn run(binary: &Path, dir: &Path, port: u16) -> Result<Child, Start> {
    let failed = |what: &str, error: io::Error| Start::Failed(Error(format!("{what}: {error}")));
    let log_path = dir.join("server.log");
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| failed("cannot open the server's log", e))?;
    let log_start = log.metadata().map_or(0, |m| m.len());
    let log_err = log
        .try_clone()
        .map_err(|e| failed("cannot share the server's log", e))?;
    let mut child = Command::new(binary)
        .arg("-js")
        .arg("-sd")
        .arg(dir.join("jetstream"))
        .args(["-a", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| failed(&format!("cannot run {}", binary.display()), e))?;
    match wait_ready(&mut child, port) {
        Ok(()) => Ok(child),
        Err(reason) => {
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read(&log_path)
                .map(|bytes| {
                    String::from_utf8_lossy(bytes.get(log_start as usize..).unwrap_or_default())
                        .into_owned()
                })
                .unwrap_or_default();
            if log.contains("address already in use") {
                Err(Start::PortTaken(log))
            } else {
                Err(Start::Failed(Error(format!(
                    "nats-server on port {port} {reason}; its log:\n{log}"
                ))))
            }
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Connects until the server sends its `INFO` greeting; an error says why
/// it never did (exited, or not within [`START_TIMEOUT`]).
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}) before accepting clients"));
        }
        if greets(addr) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "did not accept clients within {} s",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(CONNECT_RETRY);
    }
}

/// Whether a server at `addr` accepts a connection and greets with `INFO`.
fn greets(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .is_err()
    {
        return false;
    }
    let mut first = [0_u8; 4];
    stream.read_exact(&mut first).is_ok() && &first == b"INFO"
}
