//! Format resolution: from the files of a catalog, find the image the user means (by `--image` and
//! `--platform`), its config and its layer blobs. Understands `docker save` (legacy `manifest.json` layout and
//! the Docker 25+ OCI layout), OCI image layouts with nested indexes, and Docker's and OCI's media types.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde::Deserialize;

use super::catalog::Catalog;
use crate::error::{Error, Result};
use crate::image::{Format, ImageConfig, Platform};
use crate::oci::{Digest, MediaType};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub image: Option<String>,
    pub platform: Option<Platform>,
    pub verify: bool,
}

/// A layer blob to read.
#[derive(Debug, Clone)]
pub(crate) struct LayerRef {
    pub key: String,
    /// The descriptor's digest (OCI), or the digest a `blobs/sha256/<hex>` path implies.
    pub digest: Option<Digest>,
    pub media_type: Option<MediaType>,
    /// A foreign/nondistributable layer: its blob may legitimately be absent.
    pub foreign: bool,
}

/// The image found in a catalog.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub format: Format,
    pub layout: &'static str,
    pub reference: Option<String>,
    pub platform: Platform,
    pub config: ImageConfig,
    pub config_digest: Digest,
    pub manifest_digest: Option<Digest>,
    pub layers: Vec<LayerRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
    #[serde(default)]
    layer_sources: Option<HashMap<String, Descriptor>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<MediaType>,
    digest: Digest,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn parse_json<'a, T: Deserialize<'a>>(origin: &str, key: &str, data: &'a [u8]) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| Error::json(format!("{origin}: {key}"), &e))
}

/// The digest a `blobs/<alg>/<hex>` key implies.
fn digest_of_key(key: &str) -> Option<Digest> {
    let (alg, hex) = key.strip_prefix("blobs/")?.split_once('/')?;
    format!("{alg}:{hex}").parse().ok()
}

/// Refuses to go on with a digest layerscope cannot check (anything but sha256) while verifying.
pub(crate) fn check_verifiable(what: &str, digest: &Digest) -> Result<()> {
    if digest.verifiable() {
        return Ok(());
    }
    Err(Error::invalid(
        what,
        format!(
            "{digest} is a {} digest, which layerscope does not verify (only sha256); --no-verify reads it unverified",
            digest.algorithm().name()
        ),
    ))
}

fn verify_digest(origin: &str, key: &str, data: &[u8], expected: &Digest) -> Result<()> {
    let what = format!("{origin}: {key}");
    check_verifiable(&what, expected)?;
    if expected.matches(data) != Some(true) {
        return Err(Error::DigestMismatch {
            path: what,
            actual: Digest::sha256_of(data).to_string(),
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// Reads the blob a descriptor names, checked against its digest when verifying.
fn read_blob(catalog: &dyn Catalog, digest: &Digest, verify: bool) -> Result<Vec<u8>> {
    let key = digest.blob_path();
    let data = catalog.read_meta(&key)?;
    if verify {
        verify_digest(catalog.origin(), &key, &data, digest)?;
    }
    Ok(data)
}

fn read_config(catalog: &dyn Catalog, key: &str) -> Result<(Vec<u8>, ImageConfig)> {
    let bytes = catalog.read_meta(key)?;
    let config = ImageConfig::parse(&bytes)
        .map_err(|e| Error::json(format!("{}: {key}", catalog.origin()), &e))?;
    Ok((bytes, config))
}

/// Finds the image in a catalog.
pub(crate) fn resolve(catalog: &dyn Catalog, sel: &Selection) -> Result<Resolved> {
    let has_manifest_json = catalog.contains("manifest.json");
    if catalog.contains("index.json") {
        let data = catalog.read_meta("index.json")?;
        let index: Index = parse_json(catalog.origin(), "index.json", &data)?;
        let top = index.manifests.unwrap_or_default();
        // Docker 25.0 saving by image ID wrote `"manifests": null`: fall back to manifest.json then.
        if !top.is_empty() || !has_manifest_json {
            let format = if has_manifest_json {
                Format::DockerArchive
            } else if catalog.is_directory() {
                Format::OciLayout
            } else {
                Format::OciArchive
            };
            return resolve_oci(catalog, sel, &top, format);
        }
    }
    if has_manifest_json {
        let layout = if catalog.contains("oci-layout") {
            "oci"
        } else {
            "legacy"
        };
        return resolve_docker(catalog, sel, layout);
    }
    let names = catalog.sample_names();
    Err(Error::UnknownFormat {
        path: catalog.origin().to_string(),
        found: if names.is_empty() {
            "an empty archive".into()
        } else {
            format!(
                "no manifest.json or index.json; it holds {}",
                names.join(", ")
            )
        },
    })
}

fn resolve_docker(
    catalog: &dyn Catalog,
    sel: &Selection,
    layout: &'static str,
) -> Result<Resolved> {
    let origin = catalog.origin();
    let data = catalog.read_meta("manifest.json")?;
    let entries: Vec<DockerEntry> = parse_json(origin, "manifest.json", &data)?;
    if entries.is_empty() {
        return Err(Error::invalid(
            format!("{origin}: manifest.json"),
            "lists no image",
        ));
    }
    let label = |e: &DockerEntry| match e.repo_tags.as_deref() {
        Some([first, ..]) => first.clone(),
        _ => e
            .config
            .rsplit('/')
            .next()
            .unwrap_or(&e.config)
            .trim_end_matches(".json")
            .to_string(),
    };
    let entry = match &sel.image {
        Some(wanted) => entries
            .iter()
            .find(|e| {
                e.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| reference_matches(wanted, t))
                    || id_matches(wanted, &e.config)
            })
            .ok_or_else(|| Error::ImageNotFound {
                archive: origin.to_string(),
                wanted: wanted.clone(),
                available: entries.iter().map(label).collect::<Vec<_>>().join(", "),
            })?,
        None if entries.len() == 1 => &entries[0],
        None => {
            return Err(Error::AmbiguousImage {
                archive: origin.to_string(),
                count: entries.len(),
                choices: entries.iter().map(label).collect::<Vec<_>>().join(", "),
            });
        }
    };
    let config_key = super::catalog::key(entry.config.as_bytes());
    let (bytes, config) = read_config(catalog, &config_key)?;
    let config_digest = Digest::sha256_of(&bytes);
    if sel.verify {
        let expected = digest_of_key(&config_key).or_else(|| {
            let stem = config_key.rsplit('/').next()?.trim_end_matches(".json");
            Digest::from_hex(crate::oci::Algorithm::Sha256, stem).ok()
        });
        if let Some(expected) = expected {
            verify_digest(origin, &config_key, &bytes, &expected)?;
        }
    }
    let platform = config.platform();
    if let Some(wanted) = &sel.platform
        && !wanted.accepts(&platform)
    {
        return Err(Error::PlatformNotFound {
            archive: origin.to_string(),
            wanted: wanted.to_string(),
            available: platform.to_string(),
        });
    }
    let foreign: Vec<&String> = entry.layer_sources.iter().flat_map(|m| m.keys()).collect();
    let layers = entry
        .layers
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let key = super::catalog::key(path.as_bytes());
            let diff_id = config.rootfs.diff_ids.get(i);
            LayerRef {
                digest: digest_of_key(&key),
                media_type: None,
                foreign: diff_id.is_some_and(|d| foreign.contains(&d)),
                key,
            }
        })
        .collect();
    Ok(Resolved {
        format: Format::DockerArchive,
        layout,
        reference: entry.repo_tags.as_ref().and_then(|t| t.first().cloned()),
        platform,
        config,
        config_digest,
        manifest_digest: None,
        layers,
    })
}

/// One image manifest reachable from index.json.
#[derive(Debug, Clone)]
struct Candidate {
    /// Which top-level index entry it came from: one entry is one image (maybe multi-platform).
    image: usize,
    names: Vec<String>,
    descriptor: Descriptor,
    platform: Option<Platform>,
    present: bool,
}

fn names_of(d: &Descriptor) -> Vec<String> {
    let Some(a) = &d.annotations else {
        return Vec::new();
    };
    [
        "io.containerd.image.name",
        "org.opencontainers.image.ref.name",
    ]
    .iter()
    .filter_map(|k| a.get(*k).cloned())
    .collect()
}

fn is_attestation(d: &Descriptor) -> bool {
    d.platform.as_ref().is_some_and(Platform::is_unknown)
        || d.annotations
            .as_ref()
            .and_then(|a| a.get("vnd.docker.reference.type"))
            .is_some_and(|t| t == "attestation-manifest")
}

/// Indexes nested deeper than this are refused.
const MAX_DEPTH: usize = 8;

/// A manifest found below some index, with the names given on the way down (empty: none yet, the caller's
/// names apply).
#[derive(Debug, Clone)]
struct Leaf {
    names: Vec<String>,
    descriptor: Descriptor,
    present: bool,
}

/// What one index blob expands to, computed once per digest.
struct Expanded {
    /// Index levels below (and including) this one.
    height: usize,
    leaves: Rc<Vec<Leaf>>,
}

/// Walks nested indexes, each blob once: an index listed many times (or at many places) is read and expanded
/// once and its leaves reused, and repeated leaves are kept once, so the work is bounded by the number of
/// distinct blobs, not by the number of paths through them.
struct IndexWalk<'a> {
    catalog: &'a dyn Catalog,
    verify: bool,
    memo: HashMap<Digest, Expanded>,
    /// Indexes being expanded right now: seeing one again is a cycle (possible only unverified).
    open: HashSet<Digest>,
    /// Index blobs read, for tests.
    reads: usize,
}

impl IndexWalk<'_> {
    fn too_deep(&self) -> Error {
        Error::invalid(
            self.catalog.origin(),
            format!("image indexes nested more than {MAX_DEPTH} deep"),
        )
    }

    /// The leaves below the descriptors of one index, and the height of the deepest index among them.
    fn expand_list(&mut self, list: &[Descriptor]) -> Result<(usize, Vec<Leaf>)> {
        let mut height = 0;
        let mut leaves = Vec::new();
        let mut seen = HashSet::new();
        for d in list.iter().filter(|d| !is_attestation(d)) {
            let (h, below) = self.expand(d)?;
            height = height.max(h);
            for leaf in below.iter() {
                let mut leaf = leaf.clone();
                if leaf.names.is_empty() {
                    leaf.names = names_of(d);
                }
                if seen.insert((leaf.descriptor.digest.clone(), leaf.names.clone())) {
                    leaves.push(leaf);
                }
            }
        }
        Ok((height, leaves))
    }

    /// What one descriptor stands for: itself when it is a manifest (or absent), else its index's leaves.
    fn expand(&mut self, d: &Descriptor) -> Result<(usize, Rc<Vec<Leaf>>)> {
        let origin = self.catalog.origin();
        let key = d.digest.blob_path();
        let present = self.catalog.contains(&key);
        let media = d.media_type.as_ref();
        let nested = match media {
            Some(m) if m.is_index() => true,
            Some(m) if m.is_manifest() => false,
            _ if !present => false,
            _ => {
                // No or unknown media type: decide by content.
                let data = read_blob(self.catalog, &d.digest, self.verify)?;
                let value: serde_json::Value = parse_json(origin, &key, &data)?;
                value.get("manifests").is_some()
            }
        };
        if !(nested && present) {
            let leaf = Leaf {
                names: Vec::new(),
                descriptor: d.clone(),
                present: present && !nested,
            };
            return Ok((0, Rc::new(vec![leaf])));
        }
        if let Some(done) = self.memo.get(&d.digest) {
            return Ok((done.height, done.leaves.clone()));
        }
        if !self.open.insert(d.digest.clone()) {
            return Err(self.too_deep());
        }
        self.reads += 1;
        let data = read_blob(self.catalog, &d.digest, self.verify)?;
        let index: Index = parse_json(origin, &key, &data)?;
        let (below, leaves) = self.expand_list(&index.manifests.unwrap_or_default())?;
        let height = below + 1;
        if height > MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.open.remove(&d.digest);
        let leaves = Rc::new(leaves);
        self.memo.insert(
            d.digest.clone(),
            Expanded {
                height,
                leaves: leaves.clone(),
            },
        );
        Ok((height, leaves))
    }
}

/// Every image manifest reachable from the top-level index, tagged with the top-level entry it came from.
fn collect(catalog: &dyn Catalog, top: &[Descriptor], verify: bool) -> Result<Vec<Candidate>> {
    let mut walk = IndexWalk {
        catalog,
        verify,
        memo: HashMap::new(),
        open: HashSet::new(),
        reads: 0,
    };
    let mut out = Vec::new();
    for (image, d) in top.iter().enumerate() {
        if is_attestation(d) {
            continue;
        }
        let (_, leaves) = walk.expand(d)?;
        let mut seen = HashSet::new();
        for leaf in leaves.iter() {
            let names = if leaf.names.is_empty() {
                names_of(d)
            } else {
                leaf.names.clone()
            };
            if seen.insert((leaf.descriptor.digest.clone(), names.clone())) {
                out.push(Candidate {
                    image,
                    names,
                    platform: leaf.descriptor.platform.clone(),
                    descriptor: leaf.descriptor.clone(),
                    present: leaf.present,
                });
            }
        }
    }
    Ok(out)
}

fn read_manifest(catalog: &dyn Catalog, c: &Candidate, verify: bool) -> Result<Manifest> {
    let data = read_blob(catalog, &c.descriptor.digest, verify)?;
    parse_json(catalog.origin(), &c.descriptor.digest.blob_path(), &data)
}

/// The images in candidate order (candidates of one image are adjacent), each with a label for messages.
fn image_labels(candidates: &[Candidate]) -> Vec<(usize, String)> {
    let mut images: Vec<(usize, String)> = Vec::new();
    for c in candidates {
        if images.last().is_none_or(|(i, _)| *i != c.image) {
            let label = c
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| c.descriptor.digest.to_string());
            images.push((c.image, label));
        }
    }
    images
}

fn resolve_oci(
    catalog: &dyn Catalog,
    sel: &Selection,
    top: &[Descriptor],
    format: Format,
) -> Result<Resolved> {
    let origin = catalog.origin();
    let candidates = collect(catalog, top, sel.verify)?;
    let images = image_labels(&candidates);
    let labels = || {
        images
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let image = match &sel.image {
        // Candidates are in image order, so the first matching one belongs to the first matching image.
        Some(wanted) => candidates
            .iter()
            .find(|c| {
                c.names.iter().any(|n| reference_matches(wanted, n))
                    || id_matches(wanted, c.descriptor.digest.as_str())
            })
            .map(|c| c.image)
            .ok_or_else(|| Error::ImageNotFound {
                archive: origin.to_string(),
                wanted: wanted.clone(),
                available: labels(),
            })?,
        None if images.len() == 1 => images[0].0,
        None if images.is_empty() => {
            return Err(Error::invalid(
                format!("{origin}: index.json"),
                "lists no image manifest",
            ));
        }
        None => {
            return Err(Error::AmbiguousImage {
                archive: origin.to_string(),
                count: images.len(),
                choices: labels(),
            });
        }
    };
    let mut mine: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| c.image == image)
        .collect();
    // Manifests listed without a platform take it from their config.
    for c in mine
        .iter_mut()
        .filter(|c| c.present && c.platform.is_none())
    {
        let manifest = read_manifest(catalog, c, sel.verify)?;
        let (_, config) = read_config(catalog, &manifest.config.digest.blob_path())?;
        c.platform = Some(config.platform());
    }
    let available: Vec<&Candidate> = mine.iter().filter(|c| c.present).collect();
    let describe = || {
        mine.iter()
            .map(|c| {
                let p = c
                    .platform
                    .as_ref()
                    .map_or("unknown platform".into(), Platform::to_string);
                if c.present {
                    p
                } else {
                    format!("{p} (blobs not in the archive)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let wanted = sel.platform.clone().unwrap_or_else(Platform::host);
    let chosen = match available
        .iter()
        .find(|c| c.platform.as_ref().is_some_and(|p| wanted.accepts(p)))
    {
        Some(c) => *c,
        None if sel.platform.is_none() && available.len() == 1 => available[0],
        None => {
            return Err(Error::PlatformNotFound {
                archive: origin.to_string(),
                wanted: wanted.to_string(),
                available: describe(),
            });
        }
    };
    let manifest = read_manifest(catalog, chosen, sel.verify)?;
    let config_key = manifest.config.digest.blob_path();
    let (bytes, config) = read_config(catalog, &config_key)?;
    if sel.verify {
        verify_digest(origin, &config_key, &bytes, &manifest.config.digest)?;
    }
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for d in &manifest.layers {
        if let Some(m) = d.media_type.as_ref().filter(|m| !m.is_layer()) {
            return Err(Error::invalid(
                format!("{origin}: {}", d.digest),
                format!("unsupported layer media type {m}"),
            ));
        }
        layers.push(LayerRef {
            key: d.digest.blob_path(),
            digest: Some(d.digest.clone()),
            foreign: d.media_type.as_ref().is_some_and(MediaType::is_foreign),
            media_type: d.media_type.clone(),
        });
    }
    let reference = chosen
        .names
        .iter()
        .find(|n| n.contains(':') || n.contains('/'))
        .or(chosen.names.first())
        .cloned();
    Ok(Resolved {
        format,
        layout: "oci",
        reference,
        platform: config.platform(),
        config_digest: Digest::sha256_of(&bytes),
        manifest_digest: Some(chosen.descriptor.digest.clone()),
        config,
        layers,
    })
}

/// The fully qualified form of a Docker reference: `nginx` -> `docker.io/library/nginx:latest`.
pub fn normalize_reference(reference: &str) -> String {
    let (name, suffix) = match reference.split_once('@') {
        Some((name, digest)) => (name, format!("@{digest}")),
        None => {
            let last = reference.rsplit('/').next().unwrap_or(reference);
            if last.contains(':') {
                let cut = reference.len() - last.len() + last.find(':').unwrap_or(last.len());
                (&reference[..cut], reference[cut..].to_string())
            } else {
                (reference, ":latest".to_string())
            }
        }
    };
    let first = name.split('/').next().unwrap_or(name);
    let name = if !name.contains('/') {
        format!("docker.io/library/{name}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name.to_string()
    } else {
        format!("docker.io/{name}")
    };
    format!("{name}{suffix}")
}

/// Whether what the user typed names `candidate` (a repo tag, a containerd name or an OCI ref name).
pub fn reference_matches(wanted: &str, candidate: &str) -> bool {
    if wanted == candidate {
        return true;
    }
    // podman names local images `localhost/NAME`; a user typing `NAME` means it. The reverse is not true:
    // `localhost/NAME` never names Docker's `NAME`.
    let w = normalize_reference(wanted);
    w == normalize_reference(candidate)
        || candidate
            .strip_prefix("localhost/")
            .is_some_and(|c| w == normalize_reference(c))
}

fn id_matches(wanted: &str, id_source: &str) -> bool {
    let wanted = wanted.strip_prefix("sha256:").unwrap_or(wanted);
    let id = id_source
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(id_source)
        .trim_end_matches(".json");
    wanted.len() >= 12 && id.starts_with(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalised_like_docker() {
        assert_eq!(
            normalize_reference("nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(
            normalize_reference("sample:1"),
            "docker.io/library/sample:1"
        );
        assert_eq!(normalize_reference("me/app"), "docker.io/me/app:latest");
        assert_eq!(normalize_reference("reg:5000/app:2"), "reg:5000/app:2");
        assert_eq!(normalize_reference("localhost/app"), "localhost/app:latest");
        assert!(reference_matches("sample:1", "docker.io/library/sample:1"));
        assert!(reference_matches("sample:1", "localhost/sample:1"));
        assert!(reference_matches("1", "1"));
        assert!(!reference_matches("localhost/sample:1", "sample:1"));
        assert!(!reference_matches("sample:2", "docker.io/library/sample:1"));
    }

    #[test]
    fn blob_keys_imply_digests() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_of_key(&format!("blobs/sha256/{hex}")).map(|d| d.to_string()),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_of_key("abc/layer.tar"), None);
        assert_eq!(digest_of_key("blobs/sha256/../../etc"), None);
    }

    #[test]
    fn image_ids_match_by_prefix() {
        let id = "b6e03afbae723091243507793f54b43c5d1ab61eba004b0799a61bae4bf4c8b0";
        assert!(id_matches("b6e03afbae72", &format!("{id}.json")));
        assert!(id_matches(
            "sha256:b6e03afbae72",
            &format!("blobs/sha256/{id}")
        ));
        assert!(!id_matches("b6e0", &format!("{id}.json")));
    }

    /// A catalog in memory that counts the metadata reads made through it.
    struct Memory {
        files: HashMap<String, Vec<u8>>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl Memory {
        fn new() -> Memory {
            Memory {
                files: HashMap::new(),
                reads: 0.into(),
            }
        }

        /// Stores a JSON blob; its digest.
        fn add(&mut self, value: serde_json::Value) -> String {
            let data = serde_json::to_vec(&value).unwrap();
            let digest = Digest::sha256_of(&data);
            self.files.insert(digest.blob_path(), data);
            digest.to_string()
        }

        fn reads(&self) -> usize {
            self.reads.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    impl Catalog for Memory {
        fn origin(&self) -> &str {
            "memory"
        }
        fn contains(&self, key: &str) -> bool {
            self.files.contains_key(key)
        }
        fn size_of(&self, key: &str) -> Option<u64> {
            self.files.get(key).map(|f| f.len() as u64)
        }
        fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.files
                .get(key)
                .cloned()
                .ok_or_else(|| Error::invalid(key, "missing"))
        }
        fn scan(
            &self,
            _: &str,
            _: crate::layer::ScanOptions<'_>,
        ) -> Result<std::sync::Arc<crate::layer::LayerScan>, crate::layer::ScanError> {
            Err(crate::layer::ScanError("not here".into()))
        }
        fn reopen(&self, _: &str) -> Option<Result<Box<dyn std::io::Read + Send + '_>>> {
            None
        }
        fn sample_names(&self) -> Vec<String> {
            Vec::new()
        }
    }

    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

    /// A one-layer image manifest (and its config) for `arch`; its descriptor.
    fn image(m: &mut Memory, arch: &str) -> serde_json::Value {
        let config = m.add(serde_json::json!({
            "architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}
        }));
        let manifest = m.add(serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 1},
            "layers": [],
        }));
        serde_json::json!({"mediaType": MANIFEST, "digest": manifest, "size": 1,
                           "platform": {"os": "linux", "architecture": arch}})
    }

    fn selection(image: Option<&str>) -> Selection {
        Selection {
            image: image.map(str::to_string),
            platform: Platform::parse("linux/amd64"),
            verify: true,
        }
    }

    #[test]
    fn a_deep_index_repeating_its_child_is_read_once_per_blob() {
        let mut m = Memory::new();
        let mut child = image(&mut m, "amd64");
        // 8 levels, each listing the level below 10 times: 10^8 paths to the one manifest.
        for _ in 0..8 {
            let index = m.add(serde_json::json!({
                "schemaVersion": 2, "mediaType": INDEX, "manifests": vec![child.clone(); 10],
            }));
            child = serde_json::json!({"mediaType": INDEX, "digest": index, "size": 1});
        }
        let top: Index = serde_json::from_value(serde_json::json!({"manifests": [child]})).unwrap();
        let resolved = resolve_oci(
            &m,
            &selection(None),
            &top.manifests.unwrap(),
            Format::OciLayout,
        )
        .unwrap();
        assert_eq!(resolved.platform.architecture, "amd64");
        // Each index once, then the manifest and config of the chosen image.
        assert!(m.reads() <= 8 + 2, "{} reads", m.reads());
    }

    #[test]
    fn an_index_nested_nine_deep_is_refused() {
        let mut m = Memory::new();
        let mut child = image(&mut m, "amd64");
        for _ in 0..9 {
            let index = m.add(serde_json::json!({"mediaType": INDEX, "manifests": [child]}));
            child = serde_json::json!({"mediaType": INDEX, "digest": index, "size": 1});
        }
        let top: Index = serde_json::from_value(serde_json::json!({"manifests": [child]})).unwrap();
        let err = resolve_oci(
            &m,
            &selection(None),
            &top.manifests.unwrap(),
            Format::OciLayout,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nested more than 8 deep"), "{err}");
    }

    #[test]
    fn selecting_among_many_images_is_linear() {
        let mut m = Memory::new();
        let one = image(&mut m, "amd64");
        let count = 50_000;
        let entries: Vec<serde_json::Value> = (0..count)
            .map(|i| {
                let mut d = one.clone();
                d["annotations"] =
                    serde_json::json!({"io.containerd.image.name": format!("img{i}:1")});
                d
            })
            .collect();
        let top: Vec<Descriptor> = serde_json::from_value(serde_json::json!(entries)).unwrap();
        let started = std::time::Instant::now();
        let last = format!("img{}:1", count - 1);
        let found = resolve_oci(&m, &selection(Some(&last)), &top, Format::OciLayout).unwrap();
        assert_eq!(found.reference.as_deref(), Some(last.as_str()));
        let missing = resolve_oci(&m, &selection(Some("nope:1")), &top, Format::OciLayout);
        assert!(matches!(missing, Err(Error::ImageNotFound { .. })));
        let ambiguous = resolve_oci(&m, &selection(None), &top, Format::OciLayout);
        assert!(matches!(
            ambiguous,
            Err(Error::AmbiguousImage { count: 50_000, .. })
        ));
        // Quadratic selection took minutes here; linear takes well under a second even unoptimised.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
