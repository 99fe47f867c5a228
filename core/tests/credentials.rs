//! `Credentials`: reading a key pair from the environment, and `Debug`
//! that shows neither half, through the public API.

use tickwire_core::{CredentialVars, Credentials, CredentialsError};
const VARS: CredentialVars = CredentialVars {
    key_id: "VENDOR_KEY",
    secret: "VENDOR_SECRET",
};

#[test]
fn reads_both_or_says_which_is_missing() {
    let env = |k: &str| (k == VARS.key_id).then(|| "KEY".to_owned());
    let incomplete = Credentials::from_lookup(VARS, env).unwrap_err();
    assert_eq!(
        incomplete,
        CredentialsError::Incomplete {
            missing: "VENDOR_SECRET",
            vars: VARS
        }
    );
    assert!(incomplete.to_string().contains("VENDOR_SECRET is not set"));
    let missing = Credentials::from_lookup(VARS, |_| None).unwrap_err();
    assert_eq!(missing, CredentialsError::Missing { vars: VARS });
    assert!(
        missing
            .to_string()
            .contains("set VENDOR_KEY and VENDOR_SECRET")
    );
    let both = Credentials::from_lookup(VARS, |k| Some(format!("{k}-value"))).unwrap();
    assert_eq!(both.secret(), "VENDOR_SECRET-value");
}

#[test]
fn debug_hides_the_secret() {
    let c = Credentials::new("PKTESTKEY123", "s3cr3t-value");
    let d = format!("{c:?}");
    assert!(!d.contains("s3cr3t"), "{d}");
    assert!(!d.contains("PKTESTKEY123"), "{d}");
}
