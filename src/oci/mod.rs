//! The OCI vocabulary as types: a [`Digest`] is parsed and checked once where it enters (a manifest, an index,
//! a store's metadata) and a [`MediaType`] is an enum, so no code compares strings against `"sha256:"` or a
//! media type spelled out by hand.

mod digest;
mod media_type;

pub use digest::{Algorithm, Digest, DigestError};
pub use media_type::MediaType;
