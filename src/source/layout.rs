//! Format resolution: from the files of a catalog, find the image the user means (by `--image` and
//! `--platform`), its config and its layer blobs. Understands `docker save` (legacy `manifest.json` layout and
//! the Docker 25+ OCI layout), OCI image layouts with nested indexes, and Docker's and OCI's media types.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::catalog::Catalog;
use crate::error::{Error, Result};
use crate::image::{Format, ImageConfig, Platform};

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
    pub digest: Option<String>,
    pub media_type: Option<String>,
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
    pub config_digest: String,
    pub manifest_digest: Option<String>,
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
    media_type: Option<String>,
    digest: String,
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

pub(crate) fn sha256_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn parse_json<'a, T: Deserialize<'a>>(origin: &str, key: &str, data: &'a [u8]) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| Error::json(format!("{origin}: {key}"), &e))
}

/// `sha256:<hex>` -> `blobs/sha256/<hex>`; refuses digests that are not `algorithm:hex`.
fn blob_key(origin: &str, digest: &str) -> Result<String> {
    let valid = digest.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    match digest.split_once(':') {
        Some((alg, hex)) if valid => Ok(format!("blobs/{alg}/{hex}")),
        _ => Err(Error::invalid(
            origin,
            format!("malformed digest {digest:?}"),
        )),
    }
}

/// The digest a `blobs/<alg>/<hex>` key implies.
fn digest_of_key(key: &str) -> Option<String> {
    let rest = key.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    (hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("{alg}:{hex}"))
}

fn verify_digest(origin: &str, key: &str, data: &[u8], expected: &str) -> Result<()> {
    if !expected.starts_with("sha256:") {
        return Ok(()); // other algorithms are not checked
    }
    let actual = sha256_of(data);
    if actual != expected {
        return Err(Error::DigestMismatch {
            path: format!("{origin}: {key}"),
            actual,
            expected: expected.to_string(),
        });
    }
    Ok(())
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
    let config_digest = sha256_of(&bytes);
    if sel.verify {
        let expected = digest_of_key(&config_key).or_else(|| {
            let stem = config_key.rsplit('/').next()?.trim_end_matches(".json");
            (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| format!("sha256:{stem}"))
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

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];
const LAYER_TYPES: [&str; 10] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

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

fn collect(
    catalog: &dyn Catalog,
    list: &[Descriptor],
    parent: Option<(usize, &[String])>,
    depth: usize,
    out: &mut Vec<Candidate>,
) -> Result<()> {
    let origin = catalog.origin();
    if depth > 8 {
        return Err(Error::invalid(
            origin,
            "image indexes nested more than 8 deep",
        ));
    }
    for (i, d) in list.iter().enumerate() {
        if is_attestation(d) {
            continue;
        }
        let (image, names) = match parent {
            Some((image, names)) if names_of(d).is_empty() => (image, names.to_vec()),
            Some((image, _)) => (image, names_of(d)),
            None => (i, names_of(d)),
        };
        let key = blob_key(origin, &d.digest)?;
        let present = catalog.contains(&key);
        let media = d.media_type.as_deref().unwrap_or("");
        let nested = if INDEX_TYPES.contains(&media) {
            true
        } else if MANIFEST_TYPES.contains(&media) || !present {
            false
        } else {
            // No or unknown media type: decide by content.
            let data = catalog.read_meta(&key)?;
            let value: serde_json::Value = parse_json(origin, &key, &data)?;
            value.get("manifests").is_some()
        };
        if nested && present {
            let data = catalog.read_meta(&key)?;
            let index: Index = parse_json(origin, &key, &data)?;
            collect(
                catalog,
                &index.manifests.unwrap_or_default(),
                Some((image, &names)),
                depth + 1,
                out,
            )?;
        } else {
            out.push(Candidate {
                image,
                names,
                platform: d.platform.clone(),
                descriptor: d.clone(),
                present: present && !nested,
            });
        }
    }
    Ok(())
}

fn read_manifest(catalog: &dyn Catalog, c: &Candidate, verify: bool) -> Result<Manifest> {
    let key = blob_key(catalog.origin(), &c.descriptor.digest)?;
    let data = catalog.read_meta(&key)?;
    if verify {
        verify_digest(catalog.origin(), &key, &data, &c.descriptor.digest)?;
    }
    parse_json(catalog.origin(), &key, &data)
}

fn image_label(candidates: &[Candidate], image: usize) -> String {
    candidates
        .iter()
        .find(|c| c.image == image)
        .map(|c| {
            c.names
                .first()
                .cloned()
                .unwrap_or_else(|| c.descriptor.digest.clone())
        })
        .unwrap_or_default()
}

fn resolve_oci(
    catalog: &dyn Catalog,
    sel: &Selection,
    top: &[Descriptor],
    format: Format,
) -> Result<Resolved> {
    let origin = catalog.origin();
    let mut candidates = Vec::new();
    collect(catalog, top, None, 0, &mut candidates)?;
    let mut images: Vec<usize> = candidates.iter().map(|c| c.image).collect();
    images.dedup();
    let labels = |imgs: &[usize]| {
        imgs.iter()
            .map(|&i| image_label(&candidates, i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let image = match &sel.image {
        Some(wanted) => *images
            .iter()
            .find(|&&i| {
                candidates.iter().filter(|c| c.image == i).any(|c| {
                    c.names.iter().any(|n| reference_matches(wanted, n))
                        || id_matches(wanted, &c.descriptor.digest)
                })
            })
            .ok_or_else(|| Error::ImageNotFound {
                archive: origin.to_string(),
                wanted: wanted.clone(),
                available: labels(&images),
            })?,
        None if images.len() == 1 => images[0],
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
                choices: labels(&images),
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
        let (_, config) = read_config(catalog, &blob_key(origin, &manifest.config.digest)?)?;
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
    let config_key = blob_key(origin, &manifest.config.digest)?;
    let (bytes, config) = read_config(catalog, &config_key)?;
    if sel.verify {
        verify_digest(origin, &config_key, &bytes, &manifest.config.digest)?;
    }
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for d in &manifest.layers {
        let media = d.media_type.clone();
        if let Some(m) = &media
            && !LAYER_TYPES.contains(&m.as_str())
        {
            return Err(Error::invalid(
                format!("{origin}: {}", d.digest),
                format!("unsupported layer media type {m}"),
            ));
        }
        layers.push(LayerRef {
            key: blob_key(origin, &d.digest)?,
            digest: Some(d.digest.clone()),
            foreign: media
                .as_deref()
                .is_some_and(|m| m.contains("foreign") || m.contains("nondistributable")),
            media_type: media,
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
        config_digest: sha256_of(&bytes),
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
    fn digests_become_safe_blob_keys() {
        let hex = "a".repeat(64);
        assert_eq!(
            blob_key("x", &format!("sha256:{hex}")).unwrap(),
            format!("blobs/sha256/{hex}")
        );
        assert!(blob_key("x", "sha256:../../etc/passwd").is_err());
        assert!(blob_key("x", "nocolon").is_err());
        assert_eq!(
            digest_of_key(&format!("blobs/sha256/{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_of_key("abc/layer.tar"), None);
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
}
