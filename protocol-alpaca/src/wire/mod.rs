//! The bytes on the wire, for either side: telling JSON from MessagePack and
//! splitting frames ([`frame`]), one module per encoding holding its only
//! walker ([`json_reader`], [`msgpack_reader`]: a hand-written
//! [`FieldReader`](field_reader::FieldReader) for the fast paths and the
//! frame walk that [`frame`] splits with), and string writers
//! ([`write`](mod@write)).
//!
//! Imports point one way: the [`model`](crate::model) below, the client and
//! the server above.

pub(crate) mod field_reader;
pub(crate) mod frame;
pub(crate) mod json_reader;
pub(crate) mod msgpack_reader;
pub(crate) mod seed;
pub(crate) mod write;
