//! containerd's image store read in place (Docker's containerd image store, Kubernetes nodes, nerdctl): the image
//! name -> target descriptor from containerd's metadata database (`io.containerd.metadata.v1.bolt/meta.db`,
//! read without its lock, see `bbolt.rs`), then the blobs from the content store
//! (`io.containerd.content.v1.content/blobs/sha256/<hex>`). The content store is a catalog of blobs by digest:
//! with the one-entry index the metadata implies, the OCI resolution every layout goes through
//! (`layout.rs`) finds the manifest, the platform, the config and the layers, and layers are scanned from their
//! files like an OCI layout's. No daemon is asked for anything.

use crate::source::LoadProgress;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bbolt::{Bolt, BoltError, Bucket, Tx, Value};
use super::beneath::{self, Beneath};
use super::catalog::{Catalog, META_LIMIT};
use super::layout::{normalize_reference, reference_matches};
use super::{ImageSource, LoadOptions, LoadedImage, load_catalog};
use crate::error::{Error, Result};
use crate::image::Format;
use crate::layer::{self, LayerScan, ScanError, ScanOptions};
use crate::oci::{Digest, DigestError};

/// containerd's default root.
pub const DEFAULT_ROOT: &str = "/var/lib/containerd";
/// The root of the containerd that dockerd starts itself when no system containerd is configured.
pub const DOCKER_MANAGED_ROOT: &str = "/var/lib/docker/containerd/daemon";
/// Where a name is looked for when no namespace is given: Docker's image store, Kubernetes, ctr/nerdctl.
pub const NAMESPACES: [&str; 3] = ["moby", "k8s.io", "default"];

const META_DB: &str = "io.containerd.metadata.v1.bolt/meta.db";
const CONTENT: &str = "io.containerd.content.v1.content";

/// Where containerd's store is and which namespace to read (`--containerd-root`, `--namespace`).
#[derive(Debug, Clone, Default)]
pub struct ContainerdOptions {
    pub root: Option<PathBuf>,
    pub namespace: Option<String>,
}

/// An image in containerd's store.
pub struct ContainerdStore {
    pub root: PathBuf,
    /// Only this namespace; else the first of [`NAMESPACES`] (then any other) holding the name.
    pub namespace: Option<String>,
    pub reference: String,
}

/// An image record of containerd's metadata: the descriptor its name points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub name: String,
    pub digest: Digest,
    pub media_type: String,
}

fn meta_db(root: &Path) -> PathBuf {
    root.join(META_DB)
}

/// The root to read when none is given: the system one, else a rootless containerd's (when only it exists).
pub fn default_root() -> PathBuf {
    let system = PathBuf::from(DEFAULT_ROOT);
    if meta_db(&system).exists() {
        return system;
    }
    let rootless = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("containerd"));
    match rootless {
        Some(r) if meta_db(&r).exists() => r,
        _ => system,
    }
}

/// Whether the store at `root` can be read, and if not, what to do about it.
pub fn check(root: &Path) -> Result<()> {
    let db = meta_db(root);
    let at = root.display().to_string();
    match File::open(&db) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(permission_denied(root)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound {
            path: at,
            detail: if root.exists() {
                format!("not a containerd root (no {META_DB}): pass --containerd-root DIR")
            } else {
                "no containerd store here: pass --containerd-root DIR (a rootless containerd keeps it in \
                 ~/.local/share/containerd), or use --source docker"
                    .into()
            },
        }),
        Err(e) => Err(Error::io(db.display().to_string(), e)),
    }
}

fn permission_denied(root: &Path) -> Error {
    Error::invalid(
        root.display().to_string(),
        "permission denied reading containerd's store: run as root (or with read access to the containerd \
         root); a rootless containerd keeps its own in ~/.local/share/containerd (--containerd-root); or use \
         --source docker",
    )
}

fn bolt_error(root: &Path, e: BoltError) -> Error {
    let db = meta_db(root).display().to_string();
    match e {
        BoltError::Io(e) => Error::io(db, e),
        other => Error::invalid(db, other.to_string()),
    }
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::Bytes(b)) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// The target descriptor of the image bucket `image`.
fn target_of(
    tx: &Tx<'_>,
    image: &Bucket,
    namespace: &str,
    name: &str,
) -> Result<Option<Target>, BoltError> {
    let Some(Value::Bucket(target)) = tx.get(image, b"target")? else {
        return Ok(None);
    };
    let (Some(digest), Some(media_type)) = (
        text(tx.get(&target, b"digest")?),
        text(tx.get(&target, b"mediatype")?),
    ) else {
        return Ok(None);
    };
    let digest = digest
        .parse()
        .map_err(|e: DigestError| BoltError::Record(format!("image {name}: {e}")))?;
    Ok(Some(Target {
        namespace: namespace.to_string(),
        name: name.to_string(),
        digest,
        media_type,
    }))
}

/// The image named `reference` in one namespace: the name as typed, its fully qualified form, then any name
/// that means the same (`sample:1` for `docker.io/library/sample:1`), then an image ID (12+ hex digits).
fn lookup(tx: &Tx<'_>, namespace: &str, reference: &str) -> Result<Option<Target>, BoltError> {
    let Some(images) = tx.bucket(&[b"v1", namespace.as_bytes(), b"images"])? else {
        return Ok(None);
    };
    for name in [reference.to_string(), normalize_reference(reference)] {
        if let Some(Value::Bucket(image)) = tx.get(&images, name.as_bytes())? {
            return target_of(tx, &image, namespace, &name);
        }
    }
    let entries = tx.entries(&images)?;
    for (key, value) in &entries {
        let name = String::from_utf8_lossy(key);
        if let Value::Bucket(image) = value
            && reference_matches(reference, &name)
        {
            return target_of(tx, image, namespace, &name);
        }
    }
    // An image ID as `docker images` shows it with the containerd store: a prefix of the target digest.
    let id = reference.strip_prefix("sha256:").unwrap_or(reference);
    if id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (key, value) in &entries {
            if let Value::Bucket(image) = value {
                let target = target_of(tx, image, namespace, &String::from_utf8_lossy(key))?;
                if target
                    .as_ref()
                    .is_some_and(|t| t.digest.hex().starts_with(id))
                {
                    return Ok(target);
                }
            }
        }
    }
    Ok(None)
}

/// The namespaces to search, in order: the one asked for, else the well-known ones, then the others.
fn search_order(tx: &Tx<'_>, wanted: Option<&str>) -> Result<Vec<String>, BoltError> {
    if let Some(ns) = wanted {
        return Ok(vec![ns.to_string()]);
    }
    let mut order: Vec<String> = NAMESPACES.iter().map(|s| s.to_string()).collect();
    if let Some(v1) = tx.bucket(&[b"v1"])? {
        for (key, value) in tx.entries(&v1)? {
            let ns = String::from_utf8_lossy(&key).into_owned();
            if matches!(value, Value::Bucket(_)) && !order.contains(&ns) {
                order.push(ns);
            }
        }
    }
    Ok(order)
}

impl ContainerdStore {
    /// The store `opts` names (the default root unless given), for `reference`.
    pub fn new(opts: &ContainerdOptions, reference: &str) -> ContainerdStore {
        ContainerdStore {
            root: opts.root.clone().unwrap_or_else(default_root),
            namespace: opts.namespace.clone(),
            reference: reference.to_string(),
        }
    }

    /// Docker's containerd image store: namespace `moby` under the root of the containerd dockerd uses (its
    /// own under the data root, else the system one).
    pub fn docker(docker_root: &Path, reference: &str) -> ContainerdStore {
        let own = docker_root.join("containerd/daemon");
        let managed = PathBuf::from(DOCKER_MANAGED_ROOT);
        let root = [own, managed]
            .into_iter()
            .find(|r| meta_db(r).exists())
            .unwrap_or_else(default_root);
        ContainerdStore {
            root,
            namespace: Some("moby".into()),
            reference: reference.to_string(),
        }
    }

    /// How the store is named to the user.
    pub fn describe(&self, namespace: Option<&str>) -> String {
        match namespace.or(self.namespace.as_deref()) {
            Some(ns) => format!(
                "the containerd store at {} (namespace {ns})",
                self.root.display()
            ),
            None => format!("the containerd store at {}", self.root.display()),
        }
    }

    /// The image the reference names, if the store has it.
    pub fn find(&self) -> Result<Option<Target>> {
        check(&self.root)?;
        let bolt = Bolt::open(&meta_db(&self.root)).map_err(|e| bolt_error(&self.root, e))?;
        bolt.read(|tx| {
            for ns in search_order(tx, self.namespace.as_deref())? {
                if let Some(target) = lookup(tx, &ns, &self.reference)? {
                    return Ok(Some(target));
                }
            }
            Ok(None)
        })
        .map_err(|e| bolt_error(&self.root, e))
    }

    /// `namespace: name` of a few images, to say what the store holds when the name is not there.
    fn some_names(&self) -> Result<Vec<String>> {
        let bolt = Bolt::open(&meta_db(&self.root)).map_err(|e| bolt_error(&self.root, e))?;
        bolt.read(|tx| {
            let mut names = Vec::new();
            for ns in search_order(tx, self.namespace.as_deref())? {
                if let Some(images) = tx.bucket(&[b"v1", ns.as_bytes(), b"images"])? {
                    for (key, _) in tx.entries(&images)?.into_iter().take(8) {
                        names.push(format!("{ns}: {}", String::from_utf8_lossy(&key)));
                    }
                }
            }
            Ok(names)
        })
        .map_err(|e| bolt_error(&self.root, e))
    }

    /// The error for a name the store does not hold, listing some that it does.
    pub fn not_found(&self) -> Error {
        let searched = match &self.namespace {
            Some(ns) => format!("namespace {ns}"),
            None => "any namespace".into(),
        };
        let names = self.some_names().unwrap_or_default();
        Error::NotFound {
            path: format!("containerd:{}", self.reference),
            detail: format!(
                "no image of that name in {searched} of the containerd store at {}{}",
                self.root.display(),
                if names.is_empty() {
                    String::new()
                } else {
                    format!("; it holds {}", names.join(", "))
                }
            ),
        }
    }
}

impl ImageSource for ContainerdStore {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let target = self.find()?.ok_or_else(|| self.not_found())?;
        // As named on the command line, like every source; the stored name is the report's reference.
        let name = format!("containerd:{}", self.reference);
        let catalog = ContentCatalog::new(&name, &self.root, &target)?;
        // The name already chose the image; `--image` selects within archives only.
        let mut opts = opts.clone();
        opts.selection.image = None;
        let mut loaded =
            load_catalog(&name, Box::new(catalog), &opts, progress).map_err(|e| match e {
                Error::Missing {
                    archive,
                    path,
                    hint,
                } => Error::Missing {
                    archive,
                    path,
                    hint: format!(
                        "{hint} in the content store of namespace {}: containerd keeps only the unpacked \
                         snapshots of images pulled with discard_unpacked_layers, or the platform was not \
                         pulled; pull it again with its layers (ctr content fetch), or use --source docker",
                        target.namespace
                    ),
                },
                other => other,
            })?;
        loaded.image.meta.format = Format::Containerd;
        Ok(loaded)
    }
}

/// The content store as a catalog: `blobs/<alg>/<hex>` keys of valid digests are the store's own files, opened
/// through [`Beneath`] (regular files inside the content root only), and `index.json` is the one-entry index the
/// image record implies (its target, annotated with the image name).
struct ContentCatalog {
    origin: String,
    content: Beneath,
    index: Vec<u8>,
}

impl ContentCatalog {
    fn new(origin: &str, root: &Path, target: &Target) -> Result<ContentCatalog> {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": target.media_type,
                "digest": target.digest.as_str(),
                "annotations": {"io.containerd.image.name": target.name},
            }],
        });
        let content = root.join(CONTENT);
        let content = Beneath::open(&content).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => permission_denied(root),
            _ => Error::io(content.display().to_string(), e),
        })?;
        Ok(ContentCatalog {
            origin: origin.to_string(),
            content,
            index: serde_json::to_vec(&index).map_err(|e| Error::invalid(origin, e.to_string()))?,
        })
    }

    /// Opens the blob a key names: only `blobs/<alg>/<hex>` of a well-formed digest.
    fn open(&self, key: &str) -> std::io::Result<File> {
        let digest = key
            .strip_prefix("blobs/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(alg, hex)| format!("{alg}:{hex}").parse::<Digest>().ok())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        self.content.file(digest.blob_path().as_bytes())
    }

    fn io_error(&self, key: &str, e: std::io::Error) -> Error {
        super::catalog::open_error(&self.origin, key, e)
    }
}

impl Catalog for ContentCatalog {
    fn origin(&self) -> &str {
        &self.origin
    }
    fn is_directory(&self) -> bool {
        true
    }
    fn contains(&self, key: &str) -> bool {
        // Present but refused (a FIFO, a link out) counts as present, so reading it says why it was refused.
        key == "index.json"
            || !matches!(self.open(key), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
    fn size_of(&self, key: &str) -> Option<u64> {
        self.open(key)
            .and_then(|f| f.metadata())
            .ok()
            .map(|m| m.len())
    }
    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        if key == "index.json" {
            return Ok(self.index.clone());
        }
        let file = self.open(key).map_err(|e| self.io_error(key, e))?;
        beneath::read_at_most(file, META_LIMIT).map_err(|e| self.io_error(key, e))
    }
    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        let file = self
            .open(key)
            .map_err(|e| ScanError(format!("cannot open: {e}")))?;
        layer::scan_blob(file, opts).map(Arc::new)
    }
    fn reopen(&self, key: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        Some(
            self.open(key)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| self.io_error(key, e)),
        )
    }
    fn sample_names(&self) -> Vec<String> {
        vec!["index.json".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::super::bbolt::tests::{Item, Writer, leaf, meta};
    use super::*;

    /// A containerd root whose metadata names `names` in namespace `ns`, each pointing at `digest`.
    fn store(ns: &'static [u8], names: &[&'static str], digest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(4096);
        let target = leaf(
            0,
            &[
                Item::Bytes(b"digest", digest.as_bytes().to_vec()),
                Item::Bytes(
                    b"mediatype",
                    b"application/vnd.oci.image.manifest.v1+json".to_vec(),
                ),
                Item::Bytes(b"size", vec![0x80, 0x01]),
            ],
        );
        let image = leaf(0, &[Item::Inline(b"target", target)]);
        let images: Vec<Item> = names
            .iter()
            .map(|n| Item::Inline(n.as_bytes().to_vec().leak(), image.clone()))
            .collect();
        w.put(0, meta(0, 4096, 2, 6, 2));
        w.put(1, meta(1, 4096, 2, 6, 1));
        w.put(2, leaf(2, &[Item::Bucket(b"v1", 3)]));
        w.put(3, leaf(3, &[Item::Bucket(ns, 4)]));
        w.put(4, leaf(4, &[Item::Bucket(b"images", 5)]));
        w.put(5, leaf(5, &images));
        std::fs::create_dir_all(dir.path().join("io.containerd.metadata.v1.bolt")).unwrap();
        w.write(&meta_db(dir.path()));
        dir
    }

    fn find(root: &Path, ns: Option<&str>, reference: &str) -> Option<Target> {
        ContainerdStore {
            root: root.to_path_buf(),
            namespace: ns.map(str::to_string),
            reference: reference.to_string(),
        }
        .find()
        .unwrap()
    }

    /// 3,000 namespaces sharing one `images` bucket of 3,000 names (a crafted meta.db; a real one never shares
    /// pages): a name no namespace holds was compared 9 million times and 870 MB of pages were read; now the
    /// reads stop at the snapshot's page budget with an error.
    #[test]
    fn namespaces_sharing_one_images_bucket_are_read_in_bounded_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(4096);
        let key = |prefix: &str, i: usize| -> &'static [u8] {
            format!("{prefix}{i}").into_bytes().leak()
        };
        let namespaces: Vec<Item> = (0..3000).map(|i| Item::Bucket(key("ns", i), 60)).collect();
        let images: Vec<Item> = (0..3000)
            .map(|i| Item::Inline(key("image", i), leaf(0, &[])))
            .collect();
        w.put(0, meta(0, 4096, 2, 200, 2));
        w.put(1, meta(1, 4096, 2, 200, 1));
        w.put(2, leaf(2, &[Item::Bucket(b"v1", 3)]));
        w.put(3, leaf(3, &namespaces));
        w.put(60, leaf(60, &[Item::Bucket(b"images", 61)]));
        w.put(61, leaf(61, &images));
        std::fs::create_dir_all(dir.path().join("io.containerd.metadata.v1.bolt")).unwrap();
        w.write(&meta_db(dir.path()));
        let store = ContainerdStore {
            root: dir.path().to_path_buf(),
            namespace: None,
            reference: "absent:1".into(),
        };
        let err = store.find().unwrap_err();
        assert!(err.to_string().contains("share pages"), "{err}");
    }

    #[test]
    fn names_are_found_as_typed_qualified_or_short() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        let root = store(b"k8s.io", &["docker.io/library/app:1", "short:2"], &d);
        let t = find(root.path(), None, "app:1").unwrap();
        assert_eq!(
            (t.namespace.as_str(), t.name.as_str()),
            ("k8s.io", "docker.io/library/app:1")
        );
        assert_eq!(t.digest.as_str(), d);
        assert_eq!(
            find(root.path(), None, "docker.io/library/short:2")
                .unwrap()
                .name,
            "short:2"
        );
        assert_eq!(
            find(root.path(), None, "aaaaaaaaaaaa").unwrap().name,
            "docker.io/library/app:1"
        );
        assert_eq!(
            find(root.path(), None, &d).unwrap().name,
            "docker.io/library/app:1"
        );
        assert!(find(root.path(), None, "aaaaaaaaaaa").is_none());
        assert!(find(root.path(), Some("moby"), "app:1").is_none());
        assert!(find(root.path(), None, "app:2").is_none());
    }

    /// dockerd's own containerd (under its data root) is preferred to the system one.
    #[test]
    fn docker_reads_its_own_containerd_first() {
        let docker_root = tempfile::tempdir().unwrap();
        let own = docker_root.path().join("containerd/daemon");
        std::fs::create_dir_all(own.join("io.containerd.metadata.v1.bolt")).unwrap();
        std::fs::write(meta_db(&own), b"").unwrap();
        let store = ContainerdStore::docker(docker_root.path(), "app:1");
        assert_eq!(store.root, own);
        assert_eq!(store.namespace.as_deref(), Some("moby"));
    }

    #[test]
    fn absent_and_foreign_roots_say_what_to_do() {
        let err = check(Path::new("/nonexistent/containerd"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--containerd-root"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = check(empty.path()).unwrap_err().to_string();
        assert!(err.contains("not a containerd root"), "{err}");
    }

    #[test]
    fn content_keys_cannot_leave_the_store() {
        let root = tempfile::tempdir().unwrap();
        let blobs = root.path().join(CONTENT).join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let hex = "ab".repeat(32);
        let t = Target {
            namespace: "default".into(),
            name: "x".into(),
            digest: format!("sha256:{hex}").parse().unwrap(),
            media_type: "m".into(),
        };
        let c = ContentCatalog::new("o", root.path(), &t).unwrap();
        std::fs::write(root.path().join("outside"), b"secret").unwrap();
        std::fs::write(blobs.join(&hex), b"{}").unwrap();
        assert_eq!(c.read_meta(&format!("blobs/sha256/{hex}")).unwrap(), b"{}");
        for key in [
            "blobs/sha256/../../../outside",
            "manifest.json",
            "blobs/sha256/ab",
        ] {
            assert!(!c.contains(key), "{key}");
            assert!(
                matches!(c.read_meta(key), Err(Error::Missing { .. })),
                "{key}"
            );
        }
        // A link out of the store is refused, not followed.
        let other = "cd".repeat(32);
        std::os::unix::fs::symlink(root.path().join("outside"), blobs.join(&other)).unwrap();
        assert!(c.read_meta(&format!("blobs/sha256/{other}")).is_err());
        assert!(c.contains("index.json"));
    }

    /// A content blob that is a FIFO, or a link to `/dev/zero`, is refused at once with its reason, by every
    /// read (metadata, layer scan, re-read), not waited on or read without end.
    #[test]
    fn content_blobs_that_are_fifos_or_devices_are_refused_at_once() {
        let root = tempfile::tempdir().unwrap();
        let blobs = root.path().join(CONTENT).join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let fifo = "ab".repeat(32);
        let zero = "cd".repeat(32);
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            blobs.join(&fifo),
            rustix::fs::Mode::from_raw_mode(0o644),
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/zero", blobs.join(&zero)).unwrap();
        let t = Target {
            namespace: "default".into(),
            name: "x".into(),
            digest: format!("sha256:{fifo}").parse().unwrap(),
            media_type: "m".into(),
        };
        let c = ContentCatalog::new("o", root.path(), &t).unwrap();
        let start = std::time::Instant::now();
        for hex in [&fifo, &zero] {
            let key = format!("blobs/sha256/{hex}");
            assert!(c.contains(&key), "refused, but present: {key}");
            let err = c.read_meta(&key).unwrap_err().to_string();
            assert!(err.contains("refused"), "{err}");
            assert!(c.scan(&key, ScanOptions::default()).is_err());
            assert!(c.reopen(&key).is_some_and(|r| r.is_err()));
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
