//! [`Seed`]: hands the deserializer a visitor that carries state (where to
//! put what it reads), saying which `deserialize_*` to call.

use serde::de::{DeserializeSeed, Deserializer, Visitor};

/// A visitor used as a seed: for a map, or for whatever comes.
pub(crate) struct Seed<V> {
    visitor: V,
    any: bool,
}

impl<V> Seed<V> {
    /// Deserializes a map (`deserialize_map`) with `visitor`.
    pub(crate) const fn map(visitor: V) -> Self {
        Self {
            visitor,
            any: false,
        }
    }

    /// Deserializes whatever comes (`deserialize_any`) with `visitor`.
    pub(crate) const fn any(visitor: V) -> Self {
        Self { visitor, any: true }
    }
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Seed<V> {
    type Value = V::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        if self.any {
            deserializer.deserialize_any(self.visitor)
        } else {
            deserializer.deserialize_map(self.visitor)
        }
    }
}
