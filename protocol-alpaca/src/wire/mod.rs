//! The bytes on the wire, for either side: telling JSON from MessagePack and
//! splitting frames ([`frame`]), one hand-written reader per encoding for the
//! fast paths ([`json_reader`], [`msgpack_reader`], both a
//! [`FieldReader`](field_reader::FieldReader)), and string writers ([`write`](mod@write)).
//!
//! Imports point one way: the [`model`](crate::model) below, the client and
//! the server above.

pub(crate) mod field_reader;
pub(crate) mod frame;
pub(crate) mod json_reader;
pub(crate) mod msgpack_reader;
pub(crate) mod write;
