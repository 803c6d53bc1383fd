//! Media types of the descriptors in OCI and Docker schema 2 manifests and indexes.

use std::fmt;

/// A descriptor's media type; anything unrecognised is kept as [`MediaType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    OciIndex,
    OciManifest,
    OciConfig,
    OciLayer,
    OciLayerGzip,
    OciLayerZstd,
    OciLayerNondistributable,
    OciLayerNondistributableGzip,
    OciLayerNondistributableZstd,
    DockerManifest,
    DockerManifestList,
    DockerConfig,
    DockerLayer,
    DockerLayerGzip,
    DockerLayerZstd,
    DockerForeignLayer,
    Other(String),
}

const KNOWN: [(MediaType, &str); 16] = [
    (
        MediaType::OciIndex,
        "application/vnd.oci.image.index.v1+json",
    ),
    (
        MediaType::OciManifest,
        "application/vnd.oci.image.manifest.v1+json",
    ),
    (
        MediaType::OciConfig,
        "application/vnd.oci.image.config.v1+json",
    ),
    (
        MediaType::OciLayer,
        "application/vnd.oci.image.layer.v1.tar",
    ),
    (
        MediaType::OciLayerGzip,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    ),
    (
        MediaType::OciLayerZstd,
        "application/vnd.oci.image.layer.v1.tar+zstd",
    ),
    (
        MediaType::OciLayerNondistributable,
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
    ),
    (
        MediaType::OciLayerNondistributableGzip,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ),
    (
        MediaType::OciLayerNondistributableZstd,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    ),
    (
        MediaType::DockerManifest,
        "application/vnd.docker.distribution.manifest.v2+json",
    ),
    (
        MediaType::DockerManifestList,
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ),
    (
        MediaType::DockerConfig,
        "application/vnd.docker.container.image.v1+json",
    ),
    (
        MediaType::DockerLayer,
        "application/vnd.docker.image.rootfs.diff.tar",
    ),
    (
        MediaType::DockerLayerGzip,
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ),
    (
        MediaType::DockerLayerZstd,
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    ),
    (
        MediaType::DockerForeignLayer,
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ),
];

impl MediaType {
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Other(s) => s,
            known => KNOWN
                .iter()
                .find(|(m, _)| m == known)
                .map_or("", |(_, s)| s),
        }
    }

    /// An index of manifests (OCI index, Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    /// One image's manifest.
    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    /// A layer blob layerscope can read.
    pub fn is_layer(&self) -> bool {
        !matches!(
            self,
            MediaType::OciIndex
                | MediaType::OciManifest
                | MediaType::OciConfig
                | MediaType::DockerManifest
                | MediaType::DockerManifestList
                | MediaType::DockerConfig
                | MediaType::Other(_)
        )
    }

    /// A layer whose blob is fulfilled elsewhere and may be absent (foreign, nondistributable).
    pub fn is_foreign(&self) -> bool {
        matches!(
            self,
            MediaType::OciLayerNondistributable
                | MediaType::OciLayerNondistributableGzip
                | MediaType::OciLayerNondistributableZstd
                | MediaType::DockerForeignLayer
        )
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> MediaType {
        KNOWN
            .iter()
            .find(|(_, text)| *text == s)
            .map_or_else(|| MediaType::Other(s.to_string()), |(m, _)| m.clone())
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MediaType, D::Error> {
        Ok(MediaType::from(String::deserialize(d)?.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_round_trip_and_classify() {
        for (m, s) in &KNOWN {
            assert_eq!(&MediaType::from(*s), m);
            assert_eq!(m.as_str(), *s);
        }
        assert!(MediaType::from("application/vnd.oci.image.index.v1+json").is_index());
        assert!(MediaType::DockerManifest.is_manifest());
        assert!(MediaType::OciLayerZstd.is_layer());
        assert!(!MediaType::OciConfig.is_layer());
        assert!(MediaType::DockerForeignLayer.is_foreign());
        assert!(!MediaType::DockerLayerGzip.is_foreign());
        let other = MediaType::from("text/plain");
        assert_eq!(other, MediaType::Other("text/plain".into()));
        assert!(!other.is_layer());
        assert_eq!(other.to_string(), "text/plain");
    }
}
