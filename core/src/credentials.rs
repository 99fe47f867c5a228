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

/// Environment variable holding the key id.
pub const KEY_ID_ENV: &str = "APCA_API_KEY_ID";
/// Environment variable holding the secret key.
pub const SECRET_KEY_ENV: &str = "APCA_API_SECRET_KEY";

/// Why credentials could not be read from the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// Neither variable is set.
    #[error("no credentials: set {KEY_ID_ENV} and {SECRET_KEY_ENV}, or pass a key and secret")]
    Missing,
    /// Only one of the two is set.
    #[error(
        "incomplete credentials: {missing} is not set (both {KEY_ID_ENV} and {SECRET_KEY_ENV} are needed)"
    )]
    Incomplete {
        /// The variable (or argument) that is missing.
        missing: &'static str,
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

    /// Reads `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`.
    pub fn from_env() -> Result<Self, CredentialsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Builds credentials from a variable lookup (the environment, a config file…).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CredentialsError> {
        match (lookup(KEY_ID_ENV), lookup(SECRET_KEY_ENV)) {
            (Some(key), Some(secret)) => Ok(Self::new(key, secret)),
            (None, None) => Err(CredentialsError::Missing),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                missing: SECRET_KEY_ENV,
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                missing: KEY_ID_ENV,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_or_says_which_is_missing() {
        let env = |k: &str| (k == KEY_ID_ENV).then(|| "KEY".to_owned());
        assert_eq!(
            Credentials::from_lookup(env),
            Err(CredentialsError::Incomplete {
                missing: SECRET_KEY_ENV
            })
        );
        assert_eq!(
            Credentials::from_lookup(|_| None),
            Err(CredentialsError::Missing)
        );
        let both = Credentials::from_lookup(|k| Some(format!("{k}-value"))).unwrap();
        assert_eq!(both.secret(), "APCA_API_SECRET_KEY-value");
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Credentials::new("PKTESTKEY123", "s3cr3t-value");
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(!d.contains("PKTESTKEY123"), "{d}");
    }
}
