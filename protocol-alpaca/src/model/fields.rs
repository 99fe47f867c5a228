//! How a message's fields and wire keys are declared once: the field tables
//! of [`market`](super::market) and [`trading`](super::trading), and
//! [`wire_struct!`], which makes a Rust struct of a table entry.
//!
//! A table is a `macro_rules!` macro with one arm per message. Each arm hands
//! the message's declaration to a *callback* macro named by the caller, so
//! every side expands the same declaration in its own module: the model its
//! struct (serde renames included, here), the client's fast path its field
//! readers (`client/fast_field.rs`), the exchange its writers
//! (`server/field_writer.rs`). Adding a field is one line in a table.
//!
//! An entry reads
//!
//! ```text
//! /// A quote (`T: "q"`).
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! Quote {
//!     /// Bid price (`bp`).
//!     required bid_price: f64 = "bp";
//!     /// Condition codes (`c`).
//!     omit_empty conditions: Conditions = "c";
//!     /// Bid exchange (`bx`); absent on crypto.
//!     optional bid_exchange: Option<CompactString> = "bx";
//! }
//! ```
//!
//! (`= "key"` left out when the key is the field's name), with one of four
//! *shapes* before each field, which says what a missing
//! key means when reading and when the key is written:
//!
//! | shape        | key missing when read      | key written                   |
//! |--------------|----------------------------|-------------------------------|
//! | `required`   | the message is malformed   | always                        |
//! | `optional`   | `None`                     | only when `Some`              |
//! | `omit_empty` | empty                      | only when not empty           |
//! | `or_default` | `Default::default()`       | always (`None` as `null`)     |
//!
//! Attributes on a field (its docs, a serde `deserialize_with`) go to the
//! struct's field as they are.

/// Values a message leaves out when empty (the `omit_empty` shape).
pub(crate) trait OmitWhenEmpty {
    /// Whether the value is empty, so that its key is not written.
    fn is_empty(&self) -> bool;
}

impl OmitWhenEmpty for crate::Conditions {
    fn is_empty(&self) -> bool {
        self.is_empty()
    }
}

/// serde's `skip_serializing_if` for the `omit_empty` shape.
pub(crate) fn is_empty<T: OmitWhenEmpty>(value: &T) -> bool {
    value.is_empty()
}

/// Makes a public struct of a table entry (see the [module](self) docs):
/// its attributes, then each field with its docs and the serde attributes
/// its key and shape call for.
macro_rules! wire_struct {
    ($(#[$meta:meta])* $name:ident { $($fields:tt)* }) => {
        $crate::model::fields::wire_struct!(@field [$(#[$meta])* $name] [] $($fields)*);
    };
    (@field [$(#[$meta:meta])* $name:ident] [$($done:tt)*]) => {
        $(#[$meta])*
        pub struct $name { $($done)* }
    };
    // Each shape's serde attributes, then the field itself.
    (@field $head:tt $done:tt $(#[$attr:meta])* required $($rest:tt)*) => {
        $crate::model::fields::wire_struct!(@key $head $done [$(#[$attr])*] $($rest)*);
    };
    (@field $head:tt $done:tt $(#[$attr:meta])* optional $($rest:tt)*) => {
        $crate::model::fields::wire_struct!(@key $head $done [$(#[$attr])*
            #[serde(default, skip_serializing_if = "Option::is_none")]] $($rest)*);
    };
    (@field $head:tt $done:tt $(#[$attr:meta])* omit_empty $($rest:tt)*) => {
        $crate::model::fields::wire_struct!(@key $head $done [$(#[$attr])*
            #[serde(default, skip_serializing_if = "crate::model::fields::is_empty")]] $($rest)*);
    };
    (@field $head:tt $done:tt $(#[$attr:meta])* or_default $($rest:tt)*) => {
        $crate::model::fields::wire_struct!(@key $head $done [$(#[$attr])* #[serde(default)]] $($rest)*);
    };
    (@key $head:tt [$($done:tt)*] [$($attrs:tt)*]
        $field:ident: $ty:ty $(= $key:literal)?; $($rest:tt)*) => {
        $crate::model::fields::wire_struct!(@field $head [
            $($done)* $($attrs)* $(#[serde(rename = $key)])? pub $field: $ty,
        ] $($rest)*);
    };
}

/// A field's wire key: the one its entry names, or else the field's name.
macro_rules! wire_key {
    ($field:ident = $key:literal) => {
        $key
    };
    ($field:ident) => {
        stringify!($field)
    };
}

pub(crate) use {wire_key, wire_struct};
