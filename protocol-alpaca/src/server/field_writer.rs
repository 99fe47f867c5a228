//! The exchange's side of the field tables ([`fields`](crate::model::fields)):
//! [`FieldValue`], how a value of a field's type is written, and
//! [`struct_writer!`], which expands a table entry into [`WriteStruct`]:
//! the struct as a map, byte for byte as serde writes it (fields in
//! declaration order, each key written as its shape says).

use compact_str::CompactString;

use crate::model::conditions::Conditions;
use crate::server::writer::ServerWriter;
use crate::{Symbol, Timestamp};

/// A field's value as the writers write it (the key is written already).
pub(super) trait FieldValue {
    /// Writes the value.
    fn write<W: ServerWriter>(&self, w: &mut W);
}

/// A struct the writers write as a map, as a [table](crate::model::fields)
/// declares it.
pub(super) trait WriteStruct {
    /// Writes the map: `T: tag` first when there is a tag, then the fields.
    fn write_map<W: ServerWriter>(&self, w: &mut W, tag: Option<&'static str>);
}

/// `null` for `None` (the `or_default` shape; the `optional` one never
/// writes a `None`).
impl<T: FieldValue> FieldValue for Option<T> {
    fn write<W: ServerWriter>(&self, w: &mut W) {
        match self {
            Some(value) => value.write(w),
            None => w.null(),
        }
    }
}

/// Each element in order.
impl<T: FieldValue> FieldValue for Vec<T> {
    fn write<W: ServerWriter>(&self, w: &mut W) {
        w.array(self.len());
        for element in self {
            w.element();
            element.write(w);
        }
        w.end_array();
    }
}

/// Implements [`FieldValue`] for values written by one writer call.
macro_rules! written_by {
    ($($ty:ty => |$value:ident, $w:ident| $write:expr;)+) => {$(
        impl FieldValue for $ty {
            #[inline(always)]
            fn write<W: ServerWriter>(&self, $w: &mut W) {
                let $value = self;
                $write;
            }
        }
    )+};
}

pub(super) use written_by;

written_by! {
    f64 => |value, w| w.f64(*value);
    u64 => |value, w| w.u64(*value);
    bool => |value, w| w.bool(*value);
    Timestamp => |value, w| w.timestamp(*value);
    Symbol => |value, w| w.symbol(value);
    String => |value, w| w.str(value);
    CompactString => |value, w| w.str(value);
    Conditions => |value, w| w.strs(value.len(), value.iter());
}

/// Whether a field of this shape and value has its key written.
macro_rules! is_written {
    (optional, $value:ident) => {
        $value.is_some()
    };
    (omit_empty, $value:ident) => {
        !$crate::model::fields::OmitWhenEmpty::is_empty($value)
    };
    ($shape:ident, $value:ident) => {
        true
    };
}

/// Expands a table entry into its [`WriteStruct`]; the map's length counts
/// exactly the keys written (debug builds check it).
macro_rules! struct_writer {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$attr:meta])* $shape:ident $field:ident: $ty:ty $(= $key:literal)?;)*
    }) => {
        impl $crate::server::field_writer::WriteStruct for $name {
            #[inline]
            fn write_map<W: $crate::server::writer::ServerWriter>(
                &self,
                w: &mut W,
                tag: Option<&'static str>,
            ) {
                use $crate::server::field_writer::{FieldValue, is_written};
                let Self { $($field),* } = self;
                w.map(usize::from(tag.is_some()) $(+ usize::from(is_written!($shape, $field)))*);
                if let Some(tag) = tag {
                    w.key("T");
                    w.str(tag);
                }
                $(if is_written!($shape, $field) {
                    w.key($crate::model::fields::wire_key!($field $(= $key)?));
                    FieldValue::write($field, w);
                })*
                w.end_map();
            }
        }
    };
}

pub(crate) use {is_written, struct_writer};
