//! Engine stores read in place, with no `docker save`: Docker's overlay2 store (`/var/lib/docker`) and
//! containers-storage (podman, `/var/lib/containers/storage`). Each layer directory is walked into the same
//! `LayerScan` a tar gives (see `overlay.rs`), layers in parallel.

use crate::source::LoadProgress;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rayon::prelude::*;
use serde::Deserialize;

use super::beneath::{self, Beneath};
use super::layout::reference_matches;
use super::{DirEntries, ImageSource, LoadOptions, LoadedImage, overlay};
use crate::error::{Error, Result};
use crate::image::{Format, Image, ImageConfig, ImageMeta, Layer, Verification, map_history};
use crate::oci::{Algorithm, Digest};

/// Store metadata files are small; anything larger is refused.
const STORE_META_LIMIT: u64 = 256 * 1024 * 1024;

/// A store's data root, opened once: every file under it is read through [`Beneath`] (regular files inside the
/// root only) and every layer directory is checked to be a real directory below it.
struct Store {
    root: PathBuf,
    dir: Beneath,
}

impl Store {
    fn open(root: &Path) -> Result<Store> {
        Ok(Store {
            root: root.to_path_buf(),
            dir: Beneath::open(root).map_err(|e| store_error(root, e))?,
        })
    }

    fn shown(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }

    /// A metadata file under the root.
    fn read(&self, rel: &str) -> Result<Vec<u8>> {
        self.dir
            .read_limited(rel.as_bytes(), STORE_META_LIMIT)
            .map_err(|e| store_error(&self.root.join(rel), e))
    }

    fn read_text(&self, rel: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read(rel)?).trim().to_string())
    }

    fn json<T: serde::de::DeserializeOwned>(&self, rel: &str) -> Result<T> {
        serde_json::from_slice(&self.read(rel)?).map_err(|e| Error::json(self.shown(rel), &e))
    }

    /// A layer directory (`overlay2/<cache-id>/diff`): its path for the walk, and a confined handle to read
    /// its files again later.
    fn layer_dir(&self, parts: &[&str]) -> Result<(PathBuf, Beneath)> {
        let rel = parts.join("/");
        let path = beneath::real_directory(&self.root, parts)
            .map_err(|e| store_error(&self.root.join(&rel), e))?;
        let dir = self
            .dir
            .directory(rel.as_bytes())
            .map_err(|e| store_error(&path, e))?;
        Ok((path, dir))
    }
}

fn store_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => Error::invalid(
            path.display().to_string(),
            "permission denied: run with access to the engine's data root, or use --source docker (the API)",
        ),
        _ => Error::io(path.display().to_string(), e),
    }
}

/// An ID a store recorded (image, layer, chain or cache ID), checked to be a sha256 digest or its bare hex
/// before it becomes part of a path.
fn store_id(shown: &str, what: &str, text: &str) -> Result<Digest> {
    let parsed = match text.split_once(':') {
        Some(_) => text.parse::<Digest>(),
        None => Digest::from_hex(Algorithm::Sha256, text),
    };
    match parsed {
        Ok(d) if d.algorithm() == Algorithm::Sha256 => Ok(d),
        Ok(d) => Err(Error::invalid(
            shown,
            format!("{what} {d}: only sha256 IDs are read from a store"),
        )),
        Err(e) => Err(Error::invalid(shown, format!("{what}: {e}"))),
    }
}

/// What both stores hand to the shared assembly.
struct StoreImage {
    source: String,
    format: Format,
    reference: String,
    config_bytes: Vec<u8>,
    /// (diff_id, layer directory, the same directory opened), bottom to top.
    layers: Vec<(String, PathBuf, Beneath)>,
}

fn assemble(
    found: StoreImage,
    opts: &LoadOptions,
    progress: &dyn LoadProgress,
) -> Result<LoadedImage> {
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
    for (i, (diff_id, _, _)) in found.layers.iter().enumerate() {
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
    let histories = map_history(&config.history, found.layers.len());
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
        verification: if opts.selection.verify {
            Verification::default()
        } else {
            Verification::diff_ids_unchecked()
        },
    };
    // The image as known before any layer is read; each layer's scan fills in as it completes.
    let mut skeleton = Image {
        meta,
        layers: histories
            .into_iter()
            .zip(&found.layers)
            .enumerate()
            .map(|(index, (history, (diff_id, dir, _)))| Layer {
                index,
                blob_path: dir.display().to_string(),
                media_type: None,
                diff_id: diff_id.clone(),
                history,
                scan: Arc::default(),
            })
            .collect(),
    };
    progress.image_resolved(&skeleton);
    let scan_opts = opts.scan_options(progress);
    let scans = found
        .layers
        .par_iter()
        .enumerate()
        .map(|(index, (diff_id, dir, _))| {
            let scan = overlay::scan_dir(dir, diff_id, scan_opts)
                .map(Arc::new)
                .map_err(|e| Error::Layer {
                    index,
                    path: dir.display().to_string(),
                    detail: e.0,
                })?;
            progress.layer_scanned(index, &scan);
            Ok(scan)
        })
        .collect::<Result<Vec<_>>>()?;
    for (layer, scan) in skeleton.layers.iter_mut().zip(scans) {
        layer.scan = scan;
    }
    let dirs = found.layers.into_iter().map(|(_, _, d)| d).collect();
    let (meta, layers) = (skeleton.meta, skeleton.layers);
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
    repositories: HashMap<String, HashMap<String, String>>,
}

const IMAGE_DIR: &str = "image/overlay2";

impl DockerStore {
    /// Whether the store can be read here (exists, overlay2, readable).
    pub fn available(root: &Path) -> bool {
        Beneath::open(root)
            .and_then(|d| d.file(format!("{IMAGE_DIR}/repositories.json").as_bytes()))
            .is_ok()
    }

    /// The image ID the reference names, if the store has it.
    pub fn find(&self) -> Result<Option<Digest>> {
        self.find_in(&Store::open(&self.root)?)
    }

    fn find_in(&self, store: &Store) -> Result<Option<Digest>> {
        let rel = format!("{IMAGE_DIR}/repositories.json");
        let repos: Repositories = store.json(&rel)?;
        let wanted = self.reference.trim_start_matches("sha256:");
        for refs in repos.repositories.values() {
            for (name, id) in refs {
                if reference_matches(&self.reference, name) {
                    return store_id(&store.shown(&rel), "image ID", id).map(Some);
                }
            }
        }
        // An image ID (prefix of 12+ hex digits).
        if wanted.len() >= 12 && wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            let content = self.root.join(IMAGE_DIR).join("imagedb/content/sha256");
            if let Ok(dir) = std::fs::read_dir(&content) {
                for e in dir.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.starts_with(wanted)
                        && let Ok(id) = Digest::from_hex(Algorithm::Sha256, &name)
                    {
                        return Ok(Some(id));
                    }
                }
            }
        }
        Ok(None)
    }
}

impl ImageSource for DockerStore {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let store = Store::open(&self.root)?;
        let id = self.find_in(&store)?.ok_or_else(|| Error::NotFound {
            path: self.reference.clone(),
            detail: format!("not in the Docker store at {}", self.root.display()),
        })?;
        let config_bytes =
            store.read(&format!("{IMAGE_DIR}/imagedb/content/sha256/{}", id.hex()))?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| Error::json(id.as_str(), &e))?;
        let mut layers = Vec::new();
        let mut chain: Option<Digest> = None;
        for diff_id in &config.rootfs.diff_ids {
            let diff_id = store_id(id.as_str(), "diff_id", diff_id)?;
            let next = match &chain {
                None => diff_id,
                Some(below) => Digest::sha256_of(format!("{below} {diff_id}").as_bytes()),
            };
            let layer_dir = format!("{IMAGE_DIR}/layerdb/sha256/{}", next.hex());
            let recorded = store_id(
                &store.shown(&layer_dir),
                "diff",
                &store.read_text(&format!("{layer_dir}/diff"))?,
            )?;
            let cache_id = store.read_text(&format!("{layer_dir}/cache-id"))?;
            // A cache ID is 64 random hex digits: checked as such before it names a directory.
            let cache_id = store_id(&store.shown(&layer_dir), "cache-id", &cache_id)?;
            let (path, dir) = store.layer_dir(&["overlay2", cache_id.hex(), "diff"])?;
            layers.push((recorded.to_string(), path, dir));
            chain = Some(next);
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
        Beneath::open(root)
            .and_then(|d| d.file(b"overlay-images/images.json"))
            .is_ok()
    }

    pub fn has(&self) -> Result<bool> {
        let images: Vec<StoredImage> =
            Store::open(&self.root)?.json("overlay-images/images.json")?;
        Ok(self.pick(&images).is_some())
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
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let store = Store::open(&self.root)?;
        let images_rel = "overlay-images/images.json";
        let images: Vec<StoredImage> = store.json(images_rel)?;
        let image = self.pick(&images).ok_or_else(|| Error::NotFound {
            path: self.reference.clone(),
            detail: format!("not in containers-storage at {}", self.root.display()),
        })?;
        let id = store_id(&store.shown(images_rel), "image ID", &image.id)?;
        let big_data = format!(
            "={}",
            base64::engine::general_purpose::STANDARD.encode(id.as_str().as_bytes())
        );
        let config_bytes = store.read(&format!("overlay-images/{}/{big_data}", id.hex()))?;
        let layers_rel = "overlay-layers/layers.json";
        let shown = store.shown(layers_rel);
        let all: Vec<StoredLayer> = store.json(layers_rel)?;
        let by_id: HashMap<&str, &StoredLayer> = all.iter().map(|l| (l.id.as_str(), l)).collect();
        let mut layers = Vec::new();
        let mut next = image.layer.clone();
        while let Some(layer_id) = next {
            let layer = by_id.get(layer_id.as_str()).ok_or_else(|| {
                Error::invalid(&shown, format!("layer {layer_id} of image {id} is missing"))
            })?;
            if layers.len() > 1000 {
                return Err(Error::invalid(&shown, "malformed layer chain"));
            }
            let checked = store_id(&shown, "layer ID", &layer_id)?;
            let diff_id = match &layer.diff_digest {
                Some(d) => store_id(&shown, "diff-digest", d)?.to_string(),
                None => String::new(),
            };
            let (path, dir) = store.layer_dir(&["overlay", checked.hex(), "diff"])?;
            layers.push((diff_id, path, dir));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::NoProgress;
    use std::os::unix::fs::symlink;

    const CACHE_ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

    fn write(path: &Path, data: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }

    fn config(diff_id: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }))
        .unwrap()
    }

    /// A one-layer Docker overlay2 store under `root` naming `app:1`; the layer holds `hello.txt`. Returns the
    /// layerdb directory of the layer.
    fn docker_store(root: &Path, image_id: Option<&str>) -> PathBuf {
        let diff_id = format!("sha256:{}", "d".repeat(64));
        let config = config(&diff_id);
        let id = Digest::sha256_of(&config);
        let image = root.join(IMAGE_DIR);
        let named = image_id.map_or(id.to_string(), str::to_string);
        write(
            &image.join("repositories.json"),
            &serde_json::to_vec(&serde_json::json!({"Repositories": {"app": {"app:1": named}}}))
                .unwrap(),
        );
        write(
            &image.join("imagedb/content/sha256").join(id.hex()),
            &config,
        );
        let layerdb = image.join("layerdb/sha256").join("d".repeat(64));
        write(&layerdb.join("diff"), diff_id.as_bytes());
        write(&layerdb.join("cache-id"), CACHE_ID.as_bytes());
        write(
            &root.join("overlay2").join(CACHE_ID).join("diff/hello.txt"),
            b"hi",
        );
        layerdb
    }

    fn load_docker(root: &Path) -> Result<LoadedImage> {
        let store = DockerStore {
            root: root.to_path_buf(),
            reference: "app:1".into(),
        };
        store.load(&LoadOptions::default(), &NoProgress)
    }

    /// `outside/diff/etc/shadow`, beside the store.
    fn host_dir(top: &Path) -> PathBuf {
        let outside = top.join("outside");
        write(&outside.join("diff/etc/shadow"), b"root:secret");
        outside
    }

    fn assert_refused(result: Result<LoadedImage>, needle: &str) {
        match result {
            Ok(loaded) => panic!(
                "loaded {:?}",
                loaded.image.layers[0]
                    .scan
                    .entries
                    .iter()
                    .map(|e| crate::path::display(&e.path))
                    .collect::<Vec<_>>()
            ),
            Err(e) => assert!(e.to_string().contains(needle), "{e}"),
        }
    }

    #[test]
    fn engine_stores_report_the_image_then_every_layer_once() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        docker_store(&root, None);
        let recorder = crate::source::ScanRecorder::default();
        let store = DockerStore {
            root: root.clone(),
            reference: "app:1".into(),
        };
        let loaded = store.load(&LoadOptions::default(), &recorder).unwrap();
        recorder.check(&loaded.image);
        let root = top.path().join("storage");
        containers_storage(&root, LAYER_ID);
        let recorder = crate::source::ScanRecorder::default();
        let store = ContainersStorage {
            root,
            reference: "app:1".into(),
        };
        let loaded = store.load(&LoadOptions::default(), &recorder).unwrap();
        recorder.check(&loaded.image);
    }

    #[test]
    fn a_docker_store_is_read_in_place() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        docker_store(&root, None);
        let loaded = load_docker(&root).unwrap();
        let entries = &loaded.image.layers[0].scan.entries;
        assert_eq!(&*entries[0].path, b"hello.txt");
        assert_eq!(
            loaded.entry_prefix(0, 0, 1024).unwrap(),
            (b"hi".to_vec(), false)
        );
    }

    #[test]
    fn a_symlinked_cache_id_directory_is_not_followed() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        docker_store(&root, None);
        let layer = root.join("overlay2").join(CACHE_ID);
        std::fs::remove_dir_all(&layer).unwrap();
        symlink(host_dir(top.path()), &layer).unwrap();
        assert_refused(load_docker(&root), "outside the directory");
    }

    #[test]
    fn a_symlinked_diff_directory_is_not_followed() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        docker_store(&root, None);
        let diff = root.join("overlay2").join(CACHE_ID).join("diff");
        std::fs::remove_dir_all(&diff).unwrap();
        symlink(host_dir(top.path()).join("diff"), &diff).unwrap();
        assert_refused(load_docker(&root), "outside the directory");
    }

    #[test]
    fn ids_that_are_not_digests_never_become_paths() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        host_dir(top.path());
        docker_store(&root, Some("sha256:../../../outside"));
        assert_refused(load_docker(&root), "image ID");

        let root = top.path().join("docker2");
        let layerdb = docker_store(&root, None);
        std::fs::write(layerdb.join("cache-id"), b"../../outside").unwrap();
        assert_refused(load_docker(&root), "cache-id");

        let root = top.path().join("docker3");
        docker_store(&root, None);
        let bad = config("sha256:../../../../outside");
        let id = Digest::sha256_of(&bad);
        let image = root.join(IMAGE_DIR);
        write(&image.join("imagedb/content/sha256").join(id.hex()), &bad);
        write(
            &image.join("repositories.json"),
            &serde_json::to_vec(
                &serde_json::json!({"Repositories": {"app": {"app:1": id.to_string()}}}),
            )
            .unwrap(),
        );
        assert_refused(load_docker(&root), "diff_id");
    }

    #[test]
    fn a_fifo_as_store_metadata_is_refused_without_blocking() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("docker");
        let layerdb = docker_store(&root, None);
        std::fs::remove_file(layerdb.join("cache-id")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            layerdb.join("cache-id"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert_refused(load_docker(&root), "FIFO");
        // Metadata linked out of the store is refused too.
        std::fs::remove_file(layerdb.join("cache-id")).unwrap();
        write(&top.path().join("cache-id"), CACHE_ID.as_bytes());
        symlink(top.path().join("cache-id"), layerdb.join("cache-id")).unwrap();
        assert_refused(load_docker(&root), "outside the directory");
    }

    const LAYER_ID: &str = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a";

    /// A one-layer containers-storage store naming `localhost/app:1`, its layer recorded under `layer_id`.
    fn containers_storage(root: &Path, layer_id: &str) {
        let diff_id = format!("sha256:{}", "d".repeat(64));
        let config = config(&diff_id);
        let id = Digest::sha256_of(&config);
        write(
            &root.join("overlay-images/images.json"),
            &serde_json::to_vec(&serde_json::json!([
                {"id": id.hex(), "names": ["localhost/app:1"], "layer": layer_id}
            ]))
            .unwrap(),
        );
        let big_data = base64::engine::general_purpose::STANDARD.encode(id.as_str());
        write(
            &root
                .join("overlay-images")
                .join(id.hex())
                .join(format!("={big_data}")),
            &config,
        );
        write(
            &root.join("overlay-layers/layers.json"),
            &serde_json::to_vec(&serde_json::json!([{"id": layer_id, "diff-digest": diff_id}]))
                .unwrap(),
        );
        write(
            &root.join("overlay").join(LAYER_ID).join("diff/hello.txt"),
            b"hi",
        );
    }

    fn load_podman(root: &Path) -> Result<LoadedImage> {
        let store = ContainersStorage {
            root: root.to_path_buf(),
            reference: "app:1".into(),
        };
        store.load(&LoadOptions::default(), &NoProgress)
    }

    #[test]
    fn containers_storage_layers_stay_inside_the_store() {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("storage");
        containers_storage(&root, LAYER_ID);
        let loaded = load_podman(&root).unwrap();
        assert_eq!(
            loaded.entry_prefix(0, 0, 1024).unwrap(),
            (b"hi".to_vec(), false)
        );

        let diff = root.join("overlay").join(LAYER_ID).join("diff");
        std::fs::remove_dir_all(&diff).unwrap();
        symlink(host_dir(top.path()).join("diff"), &diff).unwrap();
        assert_refused(load_podman(&root), "outside the directory");

        let root = top.path().join("storage2");
        containers_storage(&root, "../../outside");
        assert_refused(load_podman(&root), "layer ID");
    }
}
