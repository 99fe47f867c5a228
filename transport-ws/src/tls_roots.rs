//! Which certificate authorities a `wss://` connection trusts: the bundled
//! web roots, and on request the system's store and extra PEM bundles
//! (`SSL_CERT_FILE` among them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tickwire_core::TransportError;

/// The environment variable naming an extra PEM bundle of trusted CAs, as
/// OpenSSL and curl read it.
pub const SSL_CERT_FILE_ENV: &str = "SSL_CERT_FILE";

/// The certificate authorities a `wss://` connection trusts.
///
/// Always the web's public roots (bundled, as Alpaca's hosts need); also the
/// operating system's store with [`native`](Self::native), and the CAs in
/// each PEM file of [`extra_ca_files`](Self::extra_ca_files) and in the file
/// `SSL_CERT_FILE` names, for corporate TLS proxies and local sandboxes.
///
/// ```
/// use tickwire_ws::TlsTrust;
///
/// let trust = TlsTrust::default().with_ca_file("/etc/ssl/my-sandbox-ca.pem");
/// assert!(!trust.native);
/// assert_eq!(trust.extra_ca_files.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TlsTrust {
    /// Also trust the operating system's certificate store. Default `false`.
    pub native: bool,
    /// PEM files whose CA certificates are trusted too. Default none.
    pub extra_ca_files: Vec<PathBuf>,
}

impl TlsTrust {
    /// Also trusts the CAs in the PEM file at `path`.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.extra_ca_files.push(path.into());
        self
    }

    /// Also trusts the operating system's store (or not).
    #[must_use]
    pub fn with_native_roots(mut self, native: bool) -> Self {
        self.native = native;
        self
    }

    /// The roots to verify servers with; `ssl_cert_file` is the value of
    /// `SSL_CERT_FILE`, if set.
    ///
    /// # Errors
    /// [`TransportError::Io`] naming the file when a bundle cannot be read
    /// or holds no certificate.
    pub(crate) fn roots(
        &self,
        ssl_cert_file: Option<PathBuf>,
    ) -> Result<RootCertStore, TransportError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if self.native {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::debug!(%error, "a certificate of the system store could not be loaded");
            }
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            tracing::debug!(added, ignored, "system certificate store loaded");
        }
        for file in self.extra_ca_files.iter().chain(ssl_cert_file.as_ref()) {
            for certificate in ca_bundle(file)? {
                roots.add(certificate).map_err(|e| {
                    TransportError::Io(format!("CA bundle {}: {e}", file.display()))
                })?;
            }
        }
        Ok(roots)
    }
}

/// The certificates of a PEM bundle.
fn ca_bundle(file: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        TransportError::Io(format!("cannot read the CA bundle {}: {e}", file.display()))
    };
    let certificates = CertificateDer::pem_file_iter(file)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    if certificates.is_empty() {
        return Err(unreadable(&"no PEM certificate in it"));
    }
    Ok(certificates)
}

/// The client's TLS settings for `trust`, with the ring crypto provider.
pub(crate) fn client_config(trust: &TlsTrust) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let ssl_cert_file = std::env::var_os(SSL_CERT_FILE_ENV)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let roots = trust.roots(ssl_cert_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Io(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS failure as the user needs it: an untrusted certificate says how to
/// trust its CA.
pub(crate) fn describe_tls_error(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        format!(
            "TLS: {text}: the server's certificate is not signed by a trusted CA; trust its CA \
             with {SSL_CERT_FILE_ENV}=<PEM file> (TlsTrust in code, --ca-file on the command line)"
        )
    } else {
        format!("TLS: {text}")
    }
}
