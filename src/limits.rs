//! The bounds on the work one input may cause: every limit, its default and the flag that raises it, in one
//! place. A small crafted archive must not make the reader allocate or decode without end; past a limit, reading
//! stops with an error that names the limit and its flag.

use std::io;

/// The limits one load works within. [`Limits::default`] holds every default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest tar extension member read into memory: a GNU long name or long link, a PAX record set, a GNU
    /// sparse map (`--max-header-bytes`).
    pub header_bytes: u64,
    /// Total bytes of the non-layer members (manifests, configs, indexes) a stream keeps in memory while it is
    /// read (`--max-metadata-bytes`).
    pub metadata_bytes: u64,
    /// How many members (layers, metadata, links) a stream records while it is read: each costs memory, even
    /// an empty one (`--max-archive-members`).
    pub archive_members: u64,
    /// How many times its compressed size a gzip or zstd stream may expand to, beyond the first
    /// [`EXPANSION_FLOOR`] compressed bytes (`--max-expansion-ratio`).
    pub expansion_ratio: u64,
    /// Longest path of a layer entry, normalised (`--max-path-bytes`): every listing holds each path whole, so
    /// a chain of directories deep enough would make a small input list quadratically much.
    pub path_bytes: u64,
}

/// Compressed bytes below which the expansion ratio is measured as if this many had been read: a small layer
/// may still expand to `ratio x 1 MiB` (about 1 GiB by default) whatever its ratio.
pub const EXPANSION_FLOOR: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A path is at most 4 KiB on Linux; PAX records add a few more (xattrs, ACLs).
            header_bytes: 1 << 20,
            // A config is a few KiB, an index or a manifest list a few MiB at most.
            metadata_bytes: 256 << 20,
            // Docker and OCI archives hold a few files per layer, and an image has at most a few hundred layers.
            archive_members: 100_000,
            // Deflate cannot expand more than 1032 times (a 258-byte match in 2 bits), so no gzip stream ever
            // reaches this; zstd can (runs of zeros compress ~30000 times), see README "Limits".
            expansion_ratio: 2000,
            // Linux's PATH_MAX: an engine cannot create a longer path when it unpacks a layer.
            path_bytes: 4096,
        }
    }
}

/// Which limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    HeaderBytes,
    MetadataBytes,
    ArchiveMembers,
    ExpansionRatio,
    PathBytes,
}

impl Limit {
    /// The command-line flag that sets this limit.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::HeaderBytes => "--max-header-bytes",
            Limit::MetadataBytes => "--max-metadata-bytes",
            Limit::ArchiveMembers => "--max-archive-members",
            Limit::ExpansionRatio => "--max-expansion-ratio",
            Limit::PathBytes => "--max-path-bytes",
        }
    }
}

/// A limit was reached: what went over it, the limit's value and the flag that raises it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}, over the limit of {max} ({flag} raises it)", flag = .limit.flag())]
pub struct LimitExceeded {
    pub limit: Limit,
    /// What went over, as a phrase: `a GNU long name of 5000000 bytes`.
    pub what: String,
    /// The limit's value, with its unit: `1048576 bytes`.
    pub max: String,
}

impl LimitExceeded {
    pub fn new(limit: Limit, what: impl Into<String>, max: impl Into<String>) -> Self {
        LimitExceeded {
            limit,
            what: what.into(),
            max: max.into(),
        }
    }

    /// As an I/O error, to cross a reader boundary (the tar crate, a decoder) intact.
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// The limit an I/O error carries, if it is one.
    pub fn from_io(error: &io::Error) -> Option<&LimitExceeded> {
        error.get_ref()?.downcast_ref::<LimitExceeded>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_survives_an_io_error_and_names_its_flag() {
        let error = LimitExceeded::new(Limit::HeaderBytes, "a GNU long name of 9 bytes", "8 bytes")
            .into_io();
        let limit = LimitExceeded::from_io(&error).unwrap();
        assert_eq!(limit.limit, Limit::HeaderBytes);
        assert_eq!(
            error.to_string(),
            "a GNU long name of 9 bytes, over the limit of 8 bytes (--max-header-bytes raises it)"
        );
        assert!(LimitExceeded::from_io(&io::Error::other("x")).is_none());
    }
}
