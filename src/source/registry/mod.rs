//! Images read straight from a registry (OCI Distribution API). The registry is presented as a lazy
//! [`Catalog`]: an `index.json` naming the reference's manifest, and `blobs/sha256/<hex>` fetched on demand
//! (manifests from `/manifests/`, configs and layers from `/blobs/`). Format resolution, platform selection,
//! attestation skipping, parallel scanning and digest checks are then the archives' own ([`super::layout`],
//! [`super::load_catalog`]); layers stream from the network into `layer::scan_blob`, several at once.

mod auth;
mod cache;
mod client;
mod tls;

use crate::source::LoadProgress;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use auth::Credential;
use cache::BlobCache;
pub use cache::{DEFAULT_CACHE_MAX, clean as clean_cache, default_cache_dir};
use client::Client;
#[doc(hidden)]
pub use client::parse_responses;

use super::catalog::{Catalog, META_LIMIT};
use super::reference::Reference;
use super::{ImageSource, LoadOptions, LoadedImage, load_catalog};
use crate::error::{Error, Result};
use crate::image::Format;
use crate::layer::{self, LayerScan, ScanError, ScanOptions};
use crate::oci::{Digest, MediaType};

/// Layers downloaded at once unless `--jobs` says otherwise.
pub const DEFAULT_JOBS: usize = 4;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP or with unverified TLS.
    pub insecure_registries: Vec<String>,
    /// Verify TLS certificates (`--tls-verify=false` turns this off and allows plain HTTP everywhere).
    pub tls_verify: bool,
    /// A PEM file of extra trusted CA certificates, added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Credentials from the command line; otherwise Docker's and podman's credential stores are asked.
    pub credential: Option<Credential>,
    /// Layers downloaded at once.
    pub jobs: usize,
    /// First retry delay (doubling); `None` for the default.
    pub backoff: Option<Duration>,
    /// How long one metadata request (ping, manifest, token) may take in all; `None` for the default.
    pub metadata_timeout: Option<Duration>,
    /// The blob cache's directory (`None`: no cache) and size cap.
    pub cache: Option<PathBuf>,
    pub cache_max: u64,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: Vec::new(),
            tls_verify: true,
            ca_file: None,
            credential: None,
            jobs: DEFAULT_JOBS,
            backoff: None,
            metadata_timeout: None,
            cache: None,
            cache_max: DEFAULT_CACHE_MAX,
        }
    }
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An image in a registry.
pub struct RegistrySource {
    reference: Reference,
    options: RegistryOptions,
    /// Where else the image was looked for, said when the registry does not have it either.
    searched: Option<String>,
}

impl RegistrySource {
    pub fn new(reference: Reference, options: RegistryOptions) -> RegistrySource {
        RegistrySource {
            reference,
            options,
            searched: None,
        }
    }

    /// The registry as the last place a bare reference is looked for, after `searched`.
    pub(crate) fn after(mut self, searched: String) -> RegistrySource {
        self.searched = Some(searched);
        self
    }
}

impl ImageSource for RegistrySource {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let catalog = Client::connect(&self.reference, &self.options)
            .and_then(|client| {
                let cache = self
                    .options
                    .cache
                    .as_deref()
                    .map(|dir| BlobCache::new(dir, self.options.cache_max));
                RegistryCatalog::open(client, &self.reference, cache)
            })
            .map_err(|e| match &self.searched {
                Some(searched) => Error::NotFound {
                    path: self.reference.to_string(),
                    detail: format!(
                        "not a file or directory, no local engine has it (looked in {searched}), and its \
                         registry: {}",
                        strip_origin(&e.to_string(), &self.reference.to_string())
                    ),
                },
                None => e,
            })?;
        let name = format!("registry://{}", self.reference);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.options.jobs.max(1))
            .build()
            .map_err(|e| Error::Usage(format!("cannot start download threads: {e}")))?;
        let mut loaded = pool.install(|| load_catalog(&name, Box::new(catalog), opts, progress))?;
        loaded.image.meta.format = Format::Registry;
        Ok(loaded)
    }
}

/// An error's text without the reference it starts with (it is said once already).
fn strip_origin<'a>(text: &'a str, origin: &str) -> &'a str {
    text.strip_prefix(origin)
        .and_then(|t| t.strip_prefix(": "))
        .unwrap_or(text)
}

/// What a digest names, learned from the documents that list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Manifest,
    Blob,
}

struct RegistryCatalog {
    client: Client,
    cache: Option<BlobCache>,
    index: Vec<u8>,
    /// Manifests and configs already fetched, by key.
    fetched: Mutex<HashMap<String, Vec<u8>>>,
    /// Kind and size of each digest some fetched document lists, by key.
    known: Mutex<HashMap<String, (Kind, Option<u64>)>>,
}

fn key_of(digest: &Digest) -> String {
    digest.blob_path()
}

fn digest_of(key: &str) -> Option<Digest> {
    key.strip_prefix("blobs/")?
        .replacen('/', ":", 1)
        .parse()
        .ok()
}

/// Network content is always checked (--no-verify or not): a mismatch is corruption or tampering, and a digest
/// this client cannot compute is refused rather than trusted.
fn verify(origin: &str, what: &str, digest: &Digest, bytes: &[u8]) -> Result<()> {
    match digest.matches(bytes) {
        Some(true) => Ok(()),
        Some(false) => Err(Error::DigestMismatch {
            path: format!("{origin}: {what}"),
            actual: Digest::sha256_of(bytes).to_string(),
            expected: digest.to_string(),
        }),
        None => Err(unverifiable(origin, digest)),
    }
}

fn unverifiable(origin: &str, digest: &Digest) -> Error {
    Error::invalid(
        origin,
        format!(
            "{digest}: {} digests cannot be verified (only sha256)",
            digest.algorithm().name()
        ),
    )
}

impl RegistryCatalog {
    /// Fetches the reference's manifest (or index) and presents it as the catalog's one image.
    fn open(
        client: Client,
        reference: &Reference,
        cache: Option<BlobCache>,
    ) -> Result<RegistryCatalog> {
        let origin = client.origin().to_string();
        let (bytes, media_type) = match cached_manifest(&client, reference, cache.as_ref()) {
            Some((bytes, content_type)) => {
                let media_type = classify(&origin, &bytes, content_type.as_deref())?;
                (bytes, media_type)
            }
            None => {
                let (bytes, media_type) = fetch_manifest(&client, reference)?;
                if let Some(cache) = &cache {
                    cache.store(&Digest::sha256_of(&bytes), &bytes);
                }
                (bytes, media_type)
            }
        };
        let actual = Digest::sha256_of(&bytes);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": media_type,
                "digest": actual.as_str(),
                "size": bytes.len(),
                "annotations": {"io.containerd.image.name": reference.to_string()},
            }],
        });
        let catalog = RegistryCatalog {
            client,
            cache,
            index: index.to_string().into_bytes(),
            fetched: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        };
        catalog.learn(&bytes);
        catalog
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_of(&actual), bytes);
        Ok(catalog)
    }

    /// Records the kind and size of every descriptor a manifest or index lists.
    fn learn(&self, document: &[u8]) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.extend(listed(document));
    }

    fn kind(&self, key: &str) -> Option<Kind> {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|(k, _)| *k)
    }

    fn fetch(&self, key: &str, digest: &Digest) -> Result<Vec<u8>> {
        let cached = self
            .cache
            .as_ref()
            .and_then(|c| c.open(digest))
            .and_then(|f| {
                let mut bytes = Vec::new();
                f.take(META_LIMIT).read_to_end(&mut bytes).ok()?;
                Some(bytes)
            });
        if let Some(bytes) = cached {
            if self.kind(key) != Some(Kind::Blob) {
                classify(self.client.origin(), &bytes, None)?;
                self.learn(&bytes);
            }
            return Ok(bytes);
        }
        let bytes = self.fetch_remote(key, digest)?;
        if let Some(cache) = &self.cache {
            cache.store(digest, &bytes);
        }
        Ok(bytes)
    }

    fn fetch_remote(&self, key: &str, digest: &Digest) -> Result<Vec<u8>> {
        let origin = self.client.origin();
        let is_manifest = self.kind(key) != Some(Kind::Blob);
        let bytes = if is_manifest {
            let mut resp =
                self.client
                    .get(&format!("manifests/{digest}"), Some(MANIFEST_ACCEPT), None)?;
            let status = resp.status().as_u16();
            if status != 200 {
                return Err(Error::Missing {
                    archive: origin.to_string(),
                    path: format!("manifest {digest}"),
                    hint: format!(" (the registry answered {status})"),
                });
            }
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(media_type_of);
            let bytes = read_limited(origin, digest.as_str(), resp.body_mut().as_reader())?;
            classify(origin, &bytes, content_type.as_deref())?;
            bytes
        } else {
            let size = self.size_of(key);
            read_limited(origin, digest.as_str(), self.client.blob(digest, size)?)?
        };
        verify(origin, digest.as_str(), digest, &bytes)?;
        if is_manifest {
            self.learn(&bytes);
        }
        Ok(bytes)
    }
}

/// The media type of a `Content-Type` header (its parameters dropped).
fn media_type_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or(content_type)
        .trim()
        .to_string()
}

/// The key, kind and size of every descriptor a manifest or index lists.
fn listed(document: &[u8]) -> Vec<(String, (Kind, Option<u64>))> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(document) else {
        return Vec::new();
    };
    let array = |name: &str| {
        value
            .get(name)
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
    };
    let manifests = array("manifests").map(|d| (d, Kind::Manifest));
    let config = value.get("config").into_iter().map(|d| (d, Kind::Blob));
    let layers = array("layers").map(|d| (d, Kind::Blob));
    manifests
        .chain(config)
        .chain(layers)
        .filter_map(|(d, kind)| {
            let digest = d.get("digest")?.as_str()?.parse::<Digest>().ok()?;
            Some((
                key_of(&digest),
                (kind, d.get("size").and_then(|s| s.as_u64())),
            ))
        })
        .collect()
}

/// The manifest of a tag from the cache, when a HEAD request names a digest the cache holds (so a second run
/// downloads nothing): its bytes and the content type the registry declared. `None` on any doubt, for a GET.
fn cached_manifest(
    client: &Client,
    reference: &Reference,
    cache: Option<&BlobCache>,
) -> Option<(Vec<u8>, Option<String>)> {
    let cache = cache?;
    let (digest, content_type) = match &reference.digest {
        Some(digest) => (digest.clone(), None),
        None => {
            let resp = client
                .head(
                    &format!("manifests/{}", reference.manifest_ref()),
                    Some(MANIFEST_ACCEPT),
                )
                .ok()?;
            if resp.status().as_u16() != 200 {
                return None;
            }
            let digest = header_value(&resp, "docker-content-digest")?.parse().ok()?;
            let content_type = header_value(&resp, "content-type").map(media_type_of);
            (digest, content_type)
        }
    };
    // `open` checks the entry against the digest.
    let mut bytes = Vec::new();
    cache
        .open(&digest)?
        .take(META_LIMIT)
        .read_to_end(&mut bytes)
        .ok()?;
    Some((bytes, content_type))
}

fn header_value<'a>(resp: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// GETs the reference's manifest: its bytes, checked against the reference's digest or the registry's
/// `Docker-Content-Digest`, and its media type.
fn fetch_manifest(client: &Client, reference: &Reference) -> Result<(Vec<u8>, String)> {
    let mut resp = client.get(
        &format!("manifests/{}", reference.manifest_ref()),
        Some(MANIFEST_ACCEPT),
        None,
    )?;
    let origin = client.origin().to_string();
    let status = resp.status().as_u16();
    if status == 404 {
        return Err(Error::NotFound {
            path: origin,
            detail: "the registry has no such repository or tag".into(),
        });
    }
    if status != 200 {
        return Err(Error::invalid(
            origin,
            format!("the registry answered {status} for the manifest"),
        ));
    }
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(media_type_of);
    let header_digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok());
    let bytes = read_limited(&origin, "manifest", resp.body_mut().as_reader())?;
    if let Some(expected) = reference.digest.as_ref().or(header_digest.as_ref()) {
        verify(&origin, "manifest", expected, &bytes)?;
    }
    let media_type = classify(&origin, &bytes, content_type.as_deref())?;
    Ok((bytes, media_type))
}

fn read_limited(origin: &str, what: &str, reader: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(META_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(origin, format!("{what}: {e}")))?;
    if bytes.len() as u64 > META_LIMIT {
        return Err(Error::invalid(
            origin,
            format!("{what}: too large for image metadata"),
        ));
    }
    Ok(bytes)
}

/// The media type of a manifest document; refuses what is not a container image (schema 1, artifacts).
fn classify(origin: &str, bytes: &[u8], content_type: Option<&str>) -> Result<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::json(format!("{origin}: manifest"), &e))?;
    let declared = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .or(content_type)
        .unwrap_or("");
    if value.get("schemaVersion").and_then(|v| v.as_u64()) == Some(1)
        || declared.starts_with("application/vnd.docker.distribution.manifest.v1")
    {
        return Err(Error::invalid(
            origin,
            "a Docker schema 1 manifest, which is deprecated and not supported: push the image again with a \
             current client",
        ));
    }
    if value.get("manifests").is_some() {
        return Ok(if declared.is_empty() {
            MediaType::OciIndex.as_str().into()
        } else {
            declared.to_string()
        });
    }
    let config_type = value
        .get("config")
        .and_then(|c| c.get("mediaType"))
        .and_then(|m| m.as_str())
        .unwrap_or("");
    let artifact = value.get("artifactType").and_then(|a| a.as_str());
    let image_config = matches!(
        MediaType::from(config_type),
        MediaType::OciConfig | MediaType::DockerConfig
    );
    if artifact.is_some() || !image_config {
        return Err(Error::invalid(
            origin,
            format!(
                "an artifact ({}), not a container image",
                artifact.unwrap_or(if config_type.is_empty() {
                    "no config media type"
                } else {
                    config_type
                })
            ),
        ));
    }
    Ok(if declared.is_empty() {
        MediaType::OciManifest.as_str().into()
    } else {
        declared.to_string()
    })
}

impl Catalog for RegistryCatalog {
    fn checks_content(&self) -> bool {
        true
    }

    fn origin(&self) -> &str {
        self.client.origin()
    }

    fn contains(&self, key: &str) -> bool {
        key == "index.json" || digest_of(key).is_some()
    }

    fn size_of(&self, key: &str) -> Option<u64> {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .and_then(|(_, size)| *size)
    }

    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        if key == "index.json" {
            return Ok(self.index.clone());
        }
        if let Some(bytes) = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return Ok(bytes.clone());
        }
        let digest = digest_of(key).ok_or_else(|| Error::Missing {
            archive: self.origin().to_string(),
            path: key.to_string(),
            hint: String::new(),
        })?;
        let bytes = self.fetch(key, &digest)?;
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), bytes.clone());
        Ok(bytes)
    }

    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        let digest = digest_of(key).ok_or_else(|| ScanError(format!("not a blob key: {key}")))?;
        if !digest.verifiable() {
            return Err(ScanError(unverifiable(self.origin(), &digest).to_string()));
        }
        // Network content is checked whatever the user asked: the blob is hashed even with --no-verify.
        let opts = ScanOptions {
            digests: true,
            ..opts
        };
        if let Some(cache) = &self.cache
            && let Some(file) = cache.open_unchecked(&digest)
        {
            // The scan hashes what it reads: that checks the entry without a second pass over the file.
            match layer::scan_blob(file, opts) {
                Ok(scan) if scan.blob_digest == digest.as_str() => return Ok(Arc::new(scan)),
                _ => cache.remove(&digest),
            }
        }
        let reader = self
            .client
            .blob(&digest, self.size_of(key))
            .map_err(|e| ScanError(e.to_string()))?;
        let scan = match &self.cache {
            Some(cache) => layer::scan_blob(cache.tee(&digest, reader), opts)?,
            None => layer::scan_blob(reader, opts)?,
        };
        if scan.blob_digest != digest.as_str() {
            return Err(ScanError(format!(
                "the registry sent content whose digest is {} instead of {digest}",
                scan.blob_digest
            )));
        }
        Ok(Arc::new(scan))
    }

    fn reopen(&self, key: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        let digest = digest_of(key)?;
        if let Some(file) = self.cache.as_ref().and_then(|c| c.open(&digest)) {
            return Some(Ok(Box::new(file)));
        }
        Some(
            self.client
                .blob(&digest, self.size_of(key))
                .map(|r| Box::new(r) as Box<dyn Read + Send + '_>),
        )
    }

    fn sample_names(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_digests_map_both_ways_and_only_for_valid_digests() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(digest_of(&key_of(&d)), Some(d));
        assert_eq!(digest_of("blobs/sha256/../../x"), None);
        assert_eq!(digest_of("manifest.json"), None);
    }

    #[test]
    fn schema_1_and_artifacts_are_refused_with_a_reason() {
        let v1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let e = classify("r", v1, None).unwrap_err().to_string();
        assert!(e.contains("schema 1"), "{e}");
        let artifact = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json"},"layers":[]}"#;
        let e = classify("r", artifact, None).unwrap_err().to_string();
        assert!(e.contains("artifact (application/vnd.example.sbom)"), "{e}");
        let helm = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json"},"layers":[]}"#;
        assert!(classify("r", helm, None).is_err());
        let image = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json"},"layers":[]}"#;
        assert_eq!(
            classify(
                "r",
                image,
                Some("application/vnd.docker.distribution.manifest.v2+json")
            )
            .unwrap(),
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(
            classify("r", index, None).unwrap(),
            "application/vnd.oci.image.index.v1+json"
        );
    }
}
