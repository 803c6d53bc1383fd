//! Engine stores read in place, with no `docker save`: Docker's overlay2 store (`/var/lib/docker`) and
//! containers-storage (podman, `/var/lib/containers/storage`). Each layer directory is walked into the same
//! `LayerScan` a tar gives (see `overlay.rs`), layers in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rayon::prelude::*;
use serde::Deserialize;

use super::layout::reference_matches;
use super::{DirEntries, ImageSource, LoadOptions, LoadedImage, overlay};
use crate::error::{Error, Result};
use crate::image::{Format, Image, ImageConfig, ImageMeta, Layer, map_history};
use crate::layer::Progress;
use crate::oci::Digest;

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => Error::invalid(
            path.display().to_string(),
            "permission denied: run with access to the engine's data root, or use --source docker (the API)",
        ),
        _ => Error::io(path.display().to_string(), e),
    })
}

fn read_text(path: &Path) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(path)?).trim().to_string())
}

/// What both stores hand to the shared assembly.
struct StoreImage {
    source: String,
    format: Format,
    reference: String,
    config_bytes: Vec<u8>,
    /// (diff_id, layer directory), bottom to top.
    layers: Vec<(String, PathBuf)>,
}

fn assemble(found: StoreImage, opts: &LoadOptions, progress: &dyn Progress) -> Result<LoadedImage> {
    let config =
        ImageConfig::parse(&found.config_bytes).map_err(|e| Error::json(&found.source, &e))?;
    if opts.selection.verify && config.rootfs.diff_ids.len() != found.layers.len() {
        return Err(Error::invalid(
            &found.source,
            format!(
                "the config lists {} diff_ids but the store {} layers",
                config.rootfs.diff_ids.len(),
                found.layers.len()
            ),
        ));
    }
    for (i, (diff_id, _)) in found.layers.iter().enumerate() {
        if opts.selection.verify && config.rootfs.diff_ids.get(i).is_some_and(|d| d != diff_id) {
            return Err(Error::DiffIdMismatch {
                index: i,
                path: found.source.clone(),
                actual: diff_id.clone(),
                expected: config.rootfs.diff_ids[i].clone(),
            });
        }
    }
    progress.begin(found.layers.len(), None);
    let scan_opts = opts.scan_options(progress);
    let scans = found
        .layers
        .par_iter()
        .enumerate()
        .map(|(index, (diff_id, dir))| {
            overlay::scan_dir(dir, diff_id, scan_opts)
                .map(Arc::new)
                .map_err(|e| Error::Layer {
                    index,
                    path: dir.display().to_string(),
                    detail: e.0,
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let histories = map_history(&config.history, scans.len());
    let layers = scans
        .into_iter()
        .zip(histories)
        .zip(&found.layers)
        .enumerate()
        .map(|(index, ((scan, history), (diff_id, dir)))| Layer {
            index,
            blob_path: dir.display().to_string(),
            media_type: None,
            diff_id: diff_id.clone(),
            history,
            scan,
        })
        .collect();
    let dirs = found.layers.iter().map(|(_, d)| d.clone()).collect();
    let meta = ImageMeta {
        source: found.source,
        format: found.format,
        layout: "store",
        archive_compression: None,
        reference: Some(found.reference),
        platform: config.platform(),
        config_digest: Digest::sha256_of(&found.config_bytes).to_string(),
        manifest_digest: None,
        config,
    };
    Ok(LoadedImage {
        image: Image { meta, layers },
        reader: Box::new(DirEntries(dirs)),
    })
}

/// Docker's overlay2 store under its data root.
pub struct DockerStore {
    pub root: PathBuf,
    pub reference: String,
}

#[derive(Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories", default)]
    repositories: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

impl DockerStore {
    fn image_dir(&self) -> PathBuf {
        self.root.join("image/overlay2")
    }

    /// Whether the store can be read here (exists, overlay2, readable).
    pub fn available(root: &Path) -> bool {
        std::fs::read(root.join("image/overlay2/repositories.json")).is_ok()
    }

    /// The image ID the reference names, if the store has it.
    pub fn find(&self) -> Result<Option<String>> {
        let path = self.image_dir().join("repositories.json");
        let repos: Repositories = serde_json::from_slice(&read(&path)?)
            .map_err(|e| Error::json(path.display().to_string(), &e))?;
        let wanted = self.reference.trim_start_matches("sha256:");
        for refs in repos.repositories.values() {
            for (name, id) in refs {
                if reference_matches(&self.reference, name) {
                    return Ok(Some(id.clone()));
                }
            }
        }
        // An image ID (prefix of 12+ hex digits).
        if wanted.len() >= 12 && wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            let content = self.image_dir().join("imagedb/content/sha256");
            if let Ok(dir) = std::fs::read_dir(&content) {
                for e in dir.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with(wanted) {
                        return Ok(Some(format!("sha256:{name}")));
                    }
                }
            }
        }
        Ok(None)
    }
}

impl ImageSource for DockerStore {
    fn load(&self, opts: &LoadOptions, progress: &dyn Progress) -> Result<LoadedImage> {
        let id = self.find()?.ok_or_else(|| Error::NotFound {
            path: self.reference.clone(),
            detail: format!("not in the Docker store at {}", self.root.display()),
        })?;
        let hex = id.trim_start_matches("sha256:");
        let config_bytes = read(&self.image_dir().join("imagedb/content/sha256").join(hex))?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| Error::json(&id, &e))?;
        let mut layers = Vec::new();
        let mut chain = String::new();
        for diff_id in &config.rootfs.diff_ids {
            chain = if chain.is_empty() {
                diff_id.clone()
            } else {
                Digest::sha256_of(format!("{chain} {diff_id}").as_bytes()).to_string()
            };
            let layer_dir = self
                .image_dir()
                .join("layerdb/sha256")
                .join(chain.trim_start_matches("sha256:"));
            let recorded = read_text(&layer_dir.join("diff"))?;
            let cache_id = read_text(&layer_dir.join("cache-id"))?;
            if cache_id.contains('/') || cache_id.contains("..") {
                return Err(Error::invalid(
                    layer_dir.display().to_string(),
                    "malformed cache-id",
                ));
            }
            layers.push((
                recorded,
                self.root.join("overlay2").join(cache_id).join("diff"),
            ));
        }
        assemble(
            StoreImage {
                source: format!("docker-store:{}", self.reference),
                format: Format::DockerStore,
                reference: self.reference.clone(),
                config_bytes,
                layers,
            },
            opts,
            progress,
        )
    }
}

/// containers-storage (podman, buildah, skopeo) with the overlay driver.
pub struct ContainersStorage {
    pub root: PathBuf,
    pub reference: String,
}

#[derive(Deserialize)]
struct StoredImage {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    layer: Option<String>,
}

#[derive(Deserialize)]
struct StoredLayer {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(rename = "diff-digest", default)]
    diff_digest: Option<String>,
}

impl ContainersStorage {
    /// The graph root: rootless `~/.local/share/containers/storage` when not root, else the system one;
    /// `graphroot` in storage.conf overrides.
    pub fn default_root() -> PathBuf {
        let conf = std::fs::read_to_string("/etc/containers/storage.conf").unwrap_or_default();
        let from_conf = conf.lines().find_map(|l| {
            let l = l.trim();
            let v = l
                .strip_prefix("graphroot")?
                .trim_start()
                .strip_prefix('=')?;
            Some(PathBuf::from(v.trim().trim_matches('"')))
        });
        let is_root = std::env::var("USER").map(|u| u == "root").unwrap_or(true);
        match (from_conf, is_root, std::env::var_os("HOME")) {
            (Some(p), true, _) => p,
            (_, false, Some(home)) => PathBuf::from(home).join(".local/share/containers/storage"),
            _ => PathBuf::from("/var/lib/containers/storage"),
        }
    }

    pub fn available(root: &Path) -> bool {
        std::fs::read(root.join("overlay-images/images.json")).is_ok()
    }

    fn images(&self) -> Result<Vec<StoredImage>> {
        let path = self.root.join("overlay-images/images.json");
        serde_json::from_slice(&read(&path)?)
            .map_err(|e| Error::json(path.display().to_string(), &e))
    }

    pub fn has(&self) -> Result<bool> {
        Ok(self.pick(&self.images()?).is_some())
    }

    fn pick<'a>(&self, images: &'a [StoredImage]) -> Option<&'a StoredImage> {
        let wanted = self.reference.trim_start_matches("sha256:");
        images.iter().find(|i| {
            i.names
                .iter()
                .any(|n| reference_matches(&self.reference, n))
                || (wanted.len() >= 12 && i.id.starts_with(wanted))
        })
    }
}

impl ImageSource for ContainersStorage {
    fn load(&self, opts: &LoadOptions, progress: &dyn Progress) -> Result<LoadedImage> {
        let images = self.images()?;
        let image = self.pick(&images).ok_or_else(|| Error::NotFound {
            path: self.reference.clone(),
            detail: format!("not in containers-storage at {}", self.root.display()),
        })?;
        let key = format!("sha256:{}", image.id);
        let big_data = format!(
            "={}",
            base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
        );
        let config_bytes = read(
            &self
                .root
                .join("overlay-images")
                .join(&image.id)
                .join(big_data),
        )?;
        let path = self.root.join("overlay-layers/layers.json");
        let all: Vec<StoredLayer> = serde_json::from_slice(&read(&path)?)
            .map_err(|e| Error::json(path.display().to_string(), &e))?;
        let mut layers = Vec::new();
        let mut next = image.layer.clone();
        while let Some(id) = next {
            let layer = all.iter().find(|l| l.id == id).ok_or_else(|| {
                Error::invalid(
                    path.display().to_string(),
                    format!("layer {id} of image {} is missing", image.id),
                )
            })?;
            if id.contains('/') || id.contains("..") || layers.len() > 1000 {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "malformed layer chain",
                ));
            }
            layers.push((
                layer.diff_digest.clone().unwrap_or_default(),
                self.root.join("overlay").join(&id).join("diff"),
            ));
            next = layer.parent.clone();
        }
        layers.reverse();
        assemble(
            StoreImage {
                source: format!("containers-storage:{}", self.reference),
                format: Format::ContainersStorage,
                reference: image
                    .names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.reference.clone()),
                config_bytes,
                layers,
            },
            opts,
            progress,
        )
    }
}
