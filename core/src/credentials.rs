//! API credentials, kept out of logs and `Debug` output.

use std::fmt;

/// An API key pair.
///
/// `Debug` shows the key id's first four characters only and never the
/// secret, so credentials can sit inside configuration that gets logged.
///
/// ```
/// use tickwire_core::Credentials;
/// let creds = Credentials::new("PKABCDEFGH", "very-secret");
/// let shown = format!("{creds:?}");
/// assert!(!shown.contains("very-secret"));
/// assert!(!shown.contains("PKABCDEFGH"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key_id: String,
    secret: String,
}

/// The names of the two environment variables a vendor keeps a key pair in.
///
/// Each vendor's protocol crate names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialVars {
    /// The variable holding the key id.
    pub key_id: &'static str,
    /// The variable holding the secret.
    pub secret: &'static str,
}

/// Why credentials could not be read from the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Neither variable is set.
    #[error("no credentials: set {} and {}, or pass a key and secret", .vars.key_id, .vars.secret)]
    Missing {
        /// The variables that were looked up.
        vars: CredentialVars,
    },
    /// Only one of the two is set.
    #[error(
        "incomplete credentials: {missing} is not set (both {} and {} are needed)", .vars.key_id, .vars.secret
    )]
    Incomplete {
        /// The variable (or argument) that is missing.
        missing: &'static str,
        /// The variables that were looked up.
        vars: CredentialVars,
    },
}

impl Credentials {
    /// Wraps a key id and secret.
    pub fn new(key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            secret: secret.into(),
        }
    }

    /// Reads the two variables from the process environment (empty counts as unset).
    pub fn from_env(vars: CredentialVars) -> Result<Self, CredentialsError> {
        Self::from_lookup(vars, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    /// Builds credentials from a variable lookup (the environment, a config file…).
    pub fn from_lookup(
        vars: CredentialVars,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialsError> {
        match (lookup(vars.key_id), lookup(vars.secret)) {
            (Some(key), Some(secret)) => Ok(Self::new(key, secret)),
            (None, None) => Err(CredentialsError::Missing { vars }),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                missing: vars.secret,
                vars,
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                missing: vars.key_id,
                vars,
            }),
        }
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The secret. Handle with care: never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.key_id.chars().take(4).collect();
        f.debug_struct("Credentials")
            .field("key_id", &format_args!("{shown}…"))
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}
