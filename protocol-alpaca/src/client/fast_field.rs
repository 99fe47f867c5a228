//! The fast path's side of the field tables ([`fields`](crate::model::fields)):
//! [`FastField`], how one value of a field's type is read, and
//! [`fast_struct!`], which expands a table entry into [`FastStruct`], a
//! reader of the whole struct that matches each key the table declares.
//!
//! The fast path's contract holds field by field: each reader gives up
//! (`None`) on anything the serde path might read differently.

use compact_str::CompactString;

use crate::model::conditions::Conditions;
use crate::wire::field_reader::FieldReader;
use crate::{Symbol, Timestamp};

/// A value the fast path reads: what follows a key of this type.
///
/// Reading and building are apart so that a message's strings are only
/// copied once all its keys are read and none gave up.
pub(crate) trait FastField<'a>: Sized {
    /// What is read: the value itself, or the text it is built of.
    type Raw;
    /// Reads the value, `depth` maps below the message (for nested orders).
    fn read<R: FieldReader<'a>>(r: &mut R, depth: usize) -> Option<Self::Raw>;
    /// The value of what was read.
    fn build(raw: Self::Raw) -> Self;
}

/// A struct the fast path reads, as a [table](crate::model::fields) declares it.
pub(crate) trait FastStruct: Sized {
    /// Reads the struct's fields: the entries of the map the reader is at,
    /// or with `rest_of_message` those left of a message whose tag was read.
    fn read_fields<'a, R: FieldReader<'a>>(
        r: &mut R,
        depth: usize,
        rest_of_message: bool,
    ) -> Option<Self>;
}

/// Implements [`FastField`] for types read by one reader expression, the
/// value itself (`T => |r| read`) or text it is built of once the message is
/// read (`T as Raw => |r| read, build`); `$lt` names the frame's lifetime.
macro_rules! read_by {
    ($lt:lifetime; $($ty:ty $(as $raw:ty)? => |$r:ident| $read:expr $(, $build:expr)?;)+) => {$(
        impl<$lt> FastField<$lt> for $ty {
            type Raw = $crate::client::fast_field::read_by!(@raw $ty $(, $raw)?);
            #[inline(always)]
            fn read<R: FieldReader<$lt>>($r: &mut R, _depth: usize) -> Option<Self::Raw> {
                $read
            }
            #[inline(always)]
            fn build(raw: Self::Raw) -> Self {
                $crate::client::fast_field::read_by!(@build raw $(, $build)?)
            }
        }
    )+};
    (@raw $ty:ty) => { $ty };
    (@raw $ty:ty, $raw:ty) => { $raw };
    (@build $raw:ident) => { $raw };
    (@build $raw:ident, $build:expr) => { ($build)($raw) };
}

pub(crate) use read_by;

read_by! { 'a;
    f64 => |r| r.f64();
    Option<f64> => |r| r.opt_f64();
    Option<u64> => |r| r.opt_u64();
    bool => |r| r.bool();
    Timestamp => |r| r.timestamp();
    Option<Timestamp> => |r| opt(r, R::timestamp);
    Conditions => |r| r.conditions();
    Symbol as &'a str => |r| r.str(), Symbol::from_server;
    Option<Symbol> as Option<&'a str> => |r| opt(r, R::str), |raw: Option<&str>| {
        raw.map(Symbol::from_server)
    };
    String as &'a str => |r| r.str(), str::to_owned;
    Option<String> as Option<&'a str> => |r| r.opt_str(), |raw: Option<&str>| {
        raw.map(str::to_owned)
    };
    Option<CompactString> as Option<&'a str> => |r| r.opt_str(), |raw: Option<&str>| {
        raw.map(CompactString::new)
    };
}

/// `null` as `None`, or what `value` reads.
#[inline(always)]
pub(crate) fn opt<'a, R: FieldReader<'a>, T>(
    r: &mut R,
    value: impl FnOnce(&mut R) -> Option<T>,
) -> Option<Option<T>> {
    if r.null()? {
        return Some(None);
    }
    value(r).map(Some)
}

/// A key the table does not declare, as `policy` says: `give_up`, or
/// `skip_scalars` — skip it when the key is text and the value a scalar
/// (what the serde path checks of a field it ignores).
macro_rules! unknown_key {
    (give_up, $r:ident, $key:ident) => {{
        let _ = ($r, $key);
        None
    }};
    (skip_scalars, $r:ident, $key:ident) => {{
        ::std::str::from_utf8($key).ok()?;
        $r.skip_scalar()
    }};
}

/// A field's value once the map is read, as its shape says.
macro_rules! finish_field {
    (required, $ty:ty, $raw:ident) => {
        <$ty as $crate::client::fast_field::FastField>::build($raw?)
    };
    ($shape:ident, $ty:ty, $raw:ident) => {
        $raw.map(<$ty as $crate::client::fast_field::FastField>::build)
            .unwrap_or_default()
    };
}

/// Expands a table entry into its [`FastStruct`]; `$unknown` is the
/// [policy](unknown_key) for keys the entry does not declare. Each key is
/// read once at most (a repeat gives up, as serde reports duplicates).
macro_rules! fast_struct {
    ($unknown:ident $(#[$meta:meta])* $name:ident {
        $($(#[$attr:meta])* $shape:ident $field:ident: $ty:ty $(= $key:literal)?;)*
    }) => {
        impl $crate::client::fast_field::FastStruct for $name {
            // Always inlined: the hot messages' readers were hand-written
            // into the decode loop before the tables, and stay as fast.
            #[inline(always)]
            fn read_fields<'a, R: $crate::wire::field_reader::FieldReader<'a>>(
                r: &mut R,
                depth: usize,
                rest_of_message: bool,
            ) -> Option<Self> {
                #[allow(non_upper_case_globals)]
                mod keys {
                    $(pub(super) const $field: &[u8] =
                        $crate::model::fields::wire_key!($field $(= $key)?).as_bytes();)*
                }
                $(let mut $field: Option<
                    <$ty as $crate::client::fast_field::FastField<'a>>::Raw
                > = None;)*
                r.entries(rest_of_message, |r, key| match key {
                    $(keys::$field => $crate::wire::field_reader::put(
                        &mut $field,
                        <$ty as $crate::client::fast_field::FastField>::read(r, depth)?,
                    ),)*
                    other => $crate::client::fast_field::unknown_key!($unknown, r, other),
                })?;
                Some(Self {
                    $($field: $crate::client::fast_field::finish_field!($shape, $ty, $field),)*
                })
            }
        }
    };
}

pub(crate) use {fast_struct, finish_field, unknown_key};
