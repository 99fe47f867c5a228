//! Where Alpaca's key pair lives in the environment.

use tickwire_core::{CredentialVars, Credentials, CredentialsError};

/// Environment variable holding the key id.
pub const KEY_ID_ENV: &str = "APCA_API_KEY_ID";
/// Environment variable holding the secret key.
pub const SECRET_KEY_ENV: &str = "APCA_API_SECRET_KEY";

/// Alpaca's two variables, as its own clients read them.
pub const CREDENTIAL_VARS: CredentialVars = CredentialVars {
    key_id: KEY_ID_ENV,
    secret: SECRET_KEY_ENV,
};

/// Reads `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY` (empty counts as unset).
///
/// ```
/// # // The test process does not set them.
/// let error = tickwire_alpaca::credentials_from_env().unwrap_err();
/// assert!(error.to_string().contains("APCA_API_KEY_ID"));
/// ```
pub fn credentials_from_env() -> Result<Credentials, CredentialsError> {
    Credentials::from_env(CREDENTIAL_VARS)
}
