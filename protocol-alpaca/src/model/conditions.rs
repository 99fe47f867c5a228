//! Trade and quote condition codes.

use std::fmt;

use compact_str::CompactString;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// Condition codes of a trade or quote (`c`), e.g. `["@", "I"]`.
///
/// Stocks send an array; options send a single string. Both decode, and up to
/// two codes are stored without a heap allocation. Always encoded as an array.
///
/// ```
/// use tickwire_alpaca::Conditions;
/// let from_array: Conditions = serde_json::from_str(r#"["@","I"]"#)?;
/// let from_string: Conditions = serde_json::from_str(r#""I""#)?;
/// assert_eq!(from_array.iter().collect::<Vec<_>>(), ["@", "I"]);
/// assert_eq!(from_string.iter().collect::<Vec<_>>(), ["I"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Conditions(pub SmallVec<[CompactString; 2]>);

impl Conditions {
    /// No conditions.
    pub fn new() -> Self {
        Self(SmallVec::new())
    }

    /// Whether there is no condition.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of conditions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The codes, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(CompactString::as_str)
    }
}

impl<S: Into<CompactString>> FromIterator<S> for Conditions {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

impl<'de> Deserialize<'de> for Conditions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ConditionsVisitor)
    }
}

struct ConditionsVisitor;

impl<'de> Visitor<'de> for ConditionsVisitor {
    type Value = Conditions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of condition codes or a single code")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Conditions, E> {
        let mut codes = SmallVec::new();
        codes.push(CompactString::new(v));
        Ok(Conditions(codes))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Conditions, E> {
        Ok(Conditions::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Conditions, E> {
        Ok(Conditions::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Conditions, A::Error> {
        let mut codes = SmallVec::new();
        while let Some(code) = seq.next_element::<CompactString>()? {
            codes.push(code);
        }
        Ok(Conditions(codes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_string_and_null_decode() {
        let c: Conditions = serde_json::from_str(r#"["@","F","T"]"#).unwrap();
        assert_eq!(c.len(), 3);
        let c: Conditions = serde_json::from_str("null").unwrap();
        assert!(c.is_empty());
        let c: Conditions = rmp_serde::from_slice(&rmp_serde::to_vec("a").unwrap()).unwrap();
        assert_eq!(c, ["a"].into_iter().collect());
        assert!(serde_json::from_str::<Conditions>("3").is_err());
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"["a"]"#);
    }
}
