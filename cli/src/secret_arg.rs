//! A secret given on the command line, kept out of `Debug` output.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

/// A secret flag's value (`--secret`): its `Debug` shows only that there is
/// one, so printing the parsed arguments never prints it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretArg(String);

impl SecretArg {
    /// The secret, consumed.
    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

impl FromStr for SecretArg {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self(text.to_owned()))
    }
}

impl From<&str> for SecretArg {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretArg(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret() {
        let secret: SecretArg = "hunter2".parse().unwrap();
        assert_eq!(format!("{secret:?}"), "SecretArg(<redacted>)");
        assert_eq!(secret.into_inner(), "hunter2");
    }
}
