//! `Symbol`: validation, and ordering, equality, hashing and serde as its
//! text's, through the public API.

use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use tickwire_core::{InvalidSymbol, Symbol};

#[test]
fn symbols_are_validated() {
    assert_eq!(Symbol::new(""), Err(InvalidSymbol::Empty));
    assert!(matches!(
        Symbol::new(&"A".repeat(65)),
        Err(InvalidSymbol::TooLong { len: 65 })
    ));
    assert!(matches!(
        Symbol::new("AA\"PL"),
        Err(InvalidSymbol::BadCharacter { character: '"', .. })
    ));
    assert_eq!(Symbol::new("BTC/USD").unwrap().as_str(), "BTC/USD");
    assert_eq!(
        Symbol::from_server("").validate(),
        Err(InvalidSymbol::Empty)
    );
    let long = "A".repeat(65);
    assert_eq!(
        Symbol::from_server(&long).validate(),
        Err(InvalidSymbol::TooLong { len: 65 })
    );
    assert!(Symbol::new("*").unwrap().is_wildcard());
}

/// Texts around the inline limit, with NULs, non-ASCII and shared prefixes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[AB\\x00]{0,4}",
        "[AB\\x00é]{18,26}",
        "A{20,24}[\\x00AZ]{0,2}",
        any::<String>(),
    ]
}

fn std_hash(value: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

proptest! {
    #[test]
    fn symbols_compare_and_hash_as_their_text(a in text(), b in text()) {
        let (x, y) = (Symbol::from_server(&a), Symbol::from_server(&b));
        prop_assert_eq!(x.as_str(), a.as_str());
        prop_assert_eq!(x.as_bytes(), a.as_bytes());
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(y.cmp(&x), b.cmp(&a));
        prop_assert_eq!(x == y, a == b);
        prop_assert_eq!(x.partial_cmp(&y), Some(a.cmp(&b)));
        prop_assert_eq!(std_hash(&x), std_hash(&a.as_str()));
        prop_assert_eq!(x.clone(), x.clone());
        let json = serde_json::to_string(&x).unwrap();
        prop_assert_eq!(&json, &serde_json::to_string(&a).unwrap());
        prop_assert_eq!(serde_json::from_str::<Symbol>(&json).unwrap(), x);
    }

    #[test]
    fn validation_names_the_first_character_not_allowed(text in "[A-Za-z0-9./_:*\\-\"é ]{1,20}") {
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-/_:*".contains(c);
        let expected = match text.chars().find(|c| !allowed(*c)) {
            None => Ok(text.as_str()),
            Some(character) => Err(character),
        };
        let got = match Symbol::new(&text) {
            Ok(symbol) => Ok(symbol.as_str().to_owned()),
            Err(InvalidSymbol::BadCharacter { character, .. }) => Err(character),
            Err(other) => panic!("{other}"),
        };
        prop_assert_eq!(got.as_deref().map_err(|c| *c), expected);
        prop_assert_eq!(
            Symbol::from_server(&text).validate(),
            Symbol::new(&text).map(drop)
        );
    }
}
