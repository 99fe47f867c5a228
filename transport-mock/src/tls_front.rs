//! A `wss://` front for a loopback server, with a certificate authority of
//! its own: for testing how clients trust private CAs (corporate TLS
//! proxies, local TLS sandboxes).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::limits::AcceptBackoff;

/// Terminates TLS on `127.0.0.1` with a certificate for `localhost` issued
/// by a CA generated at start, and forwards each connection's bytes to a
/// backend (e.g. a [`LoopbackServer`](crate::LoopbackServer)). Clients
/// trust it only when given [`ca_pem`](Self::ca_pem).
///
/// ```
/// use tickwire_mock::{ExchangeConfig, LoopbackConfig, LoopbackServer, TlsFront};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let server = LoopbackServer::start(LoopbackConfig::new(ExchangeConfig::new(1))).await?;
/// let front = TlsFront::start(server.local_addr()).await?;
/// assert!(front.url("/v2/iex").starts_with("wss://localhost:"));
/// assert!(front.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// front.shutdown();
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TlsFront {
    addr: SocketAddr,
    ca_pem: String,
    acceptor: JoinHandle<()>,
}

impl TlsFront {
    /// Generates the CA and the server certificate, binds a port on
    /// `127.0.0.1` and starts forwarding to `backend`.
    ///
    /// # Errors
    /// When the port cannot be bound or the certificates cannot be made.
    pub async fn start(backend: SocketAddr) -> io::Result<Self> {
        let (ca_pem, server_config) = certificates().map_err(io::Error::other)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(server_config));
        let acceptor = tokio::spawn(accept_loop(listener, acceptor, backend));
        Ok(Self {
            addr,
            ca_pem,
            acceptor,
        })
    }

    /// The `wss://` URL of a path on the front, by the name its certificate
    /// carries (`localhost`).
    pub fn url(&self, path: &str) -> String {
        format!("wss://localhost:{}{path}", self.addr.port())
    }

    /// The CA certificate, PEM-encoded.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate to `path`, for clients that read a file.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_ca_file(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    /// Stops accepting; open connections end with their tasks.
    pub fn shutdown(self) {
        self.acceptor.abort();
    }
}

/// A fresh CA (PEM) and a server configuration with a `localhost`
/// certificate it issued.
fn certificates() -> Result<(String, rustls::ServerConfig), Box<dyn std::error::Error + Send + Sync>>
{
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let server_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok((ca_cert.pem(), config))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr) {
    let mut backoff = AcceptBackoff::default();
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(error) => {
                let delay = backoff.failed();
                tracing::warn!(%error, ?delay, "TLS front: accept failed; trying again after a pause");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(error) = forward(client, &acceptor, backend).await {
                tracing::debug!(%peer, %error, "TLS front: connection ended");
            }
        });
    }
}

/// The TLS handshake with the client, then bytes both ways to the backend.
async fn forward(client: TcpStream, acceptor: &TlsAcceptor, backend: SocketAddr) -> io::Result<()> {
    let mut client = acceptor.accept(client).await?;
    let mut server = TcpStream::connect(backend).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
