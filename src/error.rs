//! The library's error type: every failure a user can cause, carrying the file, layer or entry it concerns.
//! `main` turns each into one line on stderr and exit code 2.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },

    #[error(
        "{path}: not a container image ({found}); supported: docker save archives (Docker <= 24 and 25+), \
         OCI image layouts (directory or tar), each optionally gzip- or zstd-compressed"
    )]
    UnknownFormat { path: String, found: String },

    #[error("{path}: malformed JSON: {detail}")]
    Json { path: String, detail: String },

    #[error("{path}: {detail}")]
    Invalid { path: String, detail: String },

    #[error("{archive}: {path} is missing{hint}")]
    Missing {
        archive: String,
        path: String,
        hint: String,
    },

    #[error("layer {index} ({path}): {detail}")]
    Layer {
        index: usize,
        path: String,
        detail: String,
    },

    #[error(
        "layer {index} ({path}): content is {actual} but the config's diff_id is {expected} (--no-verify skips this check)"
    )]
    DiffIdMismatch {
        index: usize,
        path: String,
        actual: String,
        expected: String,
    },

    #[error(
        "{path}: content is {actual} but its descriptor says {expected} (--no-verify skips this check)"
    )]
    DigestMismatch {
        path: String,
        actual: String,
        expected: String,
    },

    #[error("{archive}: no image matches {wanted}; available: {available}")]
    ImageNotFound {
        archive: String,
        wanted: String,
        available: String,
    },

    #[error("{archive} holds {count} images; choose one with --image: {choices}")]
    AmbiguousImage {
        archive: String,
        count: usize,
        choices: String,
    },

    #[error("{archive}: platform {wanted} is not in the image; available: {available}")]
    PlatformNotFound {
        archive: String,
        wanted: String,
        available: String,
    },

    #[error("{path}: {source}")]
    Limit {
        path: String,
        #[source]
        source: crate::limits::LimitExceeded,
    },

    #[error("{0}")]
    Usage(String),

    #[error("{path}: {detail}")]
    Config { path: String, detail: String },

    #[error("{path}: {detail}")]
    NotFound { path: String, detail: String },
}

impl Error {
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            detail: detail.into(),
        }
    }

    /// An error reading an archive: a reached limit as [`Error::Limit`], anything else as `{what}: {error}`.
    pub(crate) fn reading(path: &str, error: io::Error, what: &str) -> Self {
        match crate::limits::LimitExceeded::from_io(&error) {
            Some(limit) => Error::Limit {
                path: path.to_string(),
                source: limit.clone(),
            },
            None => Error::invalid(path, format!("{what}: {error}")),
        }
    }

    pub(crate) fn json(path: impl Into<String>, err: &serde_json::Error) -> Self {
        Error::Json {
            path: path.into(),
            detail: err.to_string(),
        }
    }
}
