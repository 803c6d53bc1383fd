//! From what the user typed to an image source: a path (archive or layout), a transport prefix skopeo and
//! podman users know (`docker-daemon:`, `docker-archive:`, `oci:`, `oci-archive:`, `containers-storage:`), a
//! forced `--source`, or a bare reference looked up in the local engines (Docker's store, then its API, then
//! containers-storage, then `podman image save`).

use std::path::{Path, PathBuf};

use super::containerd::{ContainerdOptions, ContainerdStore};
use super::engine_api::{DockerApi, PodmanSave, docker_available};
use super::stores::{ContainersStorage, DockerStore};
use super::{ArchiveSource, ImageSource};
use crate::error::{Error, Result};

/// Where to read an image from (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A path if it exists, else the local engines.
    Auto,
    /// An archive or layout path (`docker-archive`, `oci`, `oci-archive`).
    Archive,
    /// The Docker Engine API (streams `docker save`).
    Docker,
    /// Docker's overlay2 store, read in place.
    DockerStore,
    /// podman: containers-storage in place, else `podman image save`.
    Podman,
    /// containers-storage in place.
    ContainersStorage,
    /// `podman image save`, streamed (what `podman` falls back to).
    PodmanSave,
    /// containerd's content store, read in place.
    Containerd,
}

impl SourceKind {
    pub fn parse(text: &str) -> Option<SourceKind> {
        Some(match text {
            "auto" => SourceKind::Auto,
            "docker-archive" | "oci" | "oci-archive" | "archive" => SourceKind::Archive,
            "docker" => SourceKind::Docker,
            "docker-store" => SourceKind::DockerStore,
            "podman" => SourceKind::Podman,
            "containers-storage" => SourceKind::ContainersStorage,
            "podman-save" => SourceKind::PodmanSave,
            "containerd" => SourceKind::Containerd,
            _ => return None,
        })
    }
}

/// A source ready to load, what it is (for a note to the user), and an image reference the name carried
/// (`oci:DIR:REF`).
pub struct Opened {
    pub source: Box<dyn ImageSource>,
    pub description: Option<String>,
    pub image_ref: Option<String>,
}

fn archive(path: &str, image_ref: Option<String>) -> Result<Opened> {
    if path != "-" && !Path::new(path).exists() {
        return Err(Error::NotFound {
            path: path.to_string(),
            detail: "no such file or directory".into(),
        });
    }
    Ok(Opened {
        source: Box::new(ArchiveSource::new(path)),
        description: None,
        image_ref,
    })
}

fn engine(source: Box<dyn ImageSource>, description: String) -> Opened {
    Opened {
        source,
        description: Some(description),
        image_ref: None,
    }
}

/// `oci:DIR:REF` -> (DIR, REF): the reference is what follows the last colon, if the rest is a path.
fn split_ref(spec: &str) -> (String, Option<String>) {
    if Path::new(spec).exists() {
        return (spec.to_string(), None);
    }
    match spec.split_once(':') {
        Some((path, reference)) if Path::new(path).exists() => {
            (path.to_string(), Some(reference.to_string()))
        }
        _ => (spec.to_string(), None),
    }
}

/// Opens what the user named.
pub fn open_source(
    name: &str,
    kind: SourceKind,
    docker_root: Option<&Path>,
    containerd: &ContainerdOptions,
) -> Result<Opened> {
    // The default data root, else the one the daemon reports.
    let docker_root: PathBuf = docker_root.map_or_else(
        || {
            let default = PathBuf::from("/var/lib/docker");
            if DockerStore::available(&default) {
                default
            } else {
                super::engine_api::docker_root_dir().unwrap_or(default)
            }
        },
        Path::to_path_buf,
    );
    let reference = |r: &str| r.to_string();
    if kind == SourceKind::Auto {
        for (prefix, forced) in [
            ("docker-daemon:", SourceKind::Auto),
            ("docker-archive:", SourceKind::Archive),
            ("oci-archive:", SourceKind::Archive),
            ("oci:", SourceKind::Archive),
            ("containers-storage:", SourceKind::ContainersStorage),
            ("containerd:", SourceKind::Containerd),
        ] {
            if let Some(rest) = name.strip_prefix(prefix) {
                if forced == SourceKind::Archive {
                    let (path, image_ref) = split_ref(rest);
                    return archive(&path, image_ref);
                }
                if prefix == "docker-daemon:" {
                    return docker_auto(rest, &docker_root)?
                        .ok_or_else(|| not_found(rest, &docker_root, containerd));
                }
                return open_source(rest, forced, Some(&docker_root), containerd);
            }
        }
        // References never start with `/` or `.`: such a name is a path, even a missing one.
        if name == "-" || name.starts_with('/') || name.starts_with('.') || Path::new(name).exists()
        {
            return archive(name, None);
        }
    }
    match kind {
        SourceKind::Archive => archive(name, None),
        SourceKind::Docker => Ok(engine(
            Box::new(DockerApi {
                reference: reference(name),
            }),
            "the Docker API".into(),
        )),
        SourceKind::DockerStore => {
            if let Some(opened) = docker_containerd(name, &docker_root)? {
                return Ok(opened);
            }
            if !DockerStore::available(&docker_root) {
                return Err(Error::invalid(
                    docker_root.display().to_string(),
                    "cannot read the Docker store here (no overlay2 image store, or no access): run with access \
                     to the data root, pass --docker-root, or use --source docker",
                ));
            }
            Ok(engine(
                Box::new(DockerStore {
                    root: docker_root.clone(),
                    reference: reference(name),
                }),
                format!("the Docker store at {}", docker_root.display()),
            ))
        }
        SourceKind::ContainersStorage => {
            let root = ContainersStorage::default_root();
            if !ContainersStorage::available(&root) {
                return Err(Error::invalid(
                    root.display().to_string(),
                    "cannot read containers-storage here (missing or no access): run with access to it, or use \
                     --source podman",
                ));
            }
            Ok(engine(
                Box::new(ContainersStorage {
                    root: root.clone(),
                    reference: reference(name),
                }),
                format!("containers-storage at {}", root.display()),
            ))
        }
        SourceKind::PodmanSave => Ok(engine(
            Box::new(PodmanSave {
                reference: reference(name),
            }),
            "podman image save".into(),
        )),
        SourceKind::Podman => Ok(podman_auto(name)?.unwrap_or_else(|| {
            engine(
                Box::new(PodmanSave {
                    reference: reference(name),
                }),
                "podman image save".into(),
            )
        })),
        SourceKind::Containerd => {
            let mut store = ContainerdStore::new(containerd, name);
            let target = store.find()?.ok_or_else(|| store.not_found())?;
            let description = store.describe(Some(&target.namespace));
            store.namespace = Some(target.namespace);
            Ok(engine(Box::new(store), description))
        }
        SourceKind::Auto => {
            if let Some(opened) = docker_auto(name, &docker_root)? {
                return Ok(opened);
            }
            if let Some(opened) = containerd_auto(name, containerd)? {
                return Ok(opened);
            }
            if let Some(opened) = podman_auto(name)? {
                return Ok(opened);
            }
            if podman_has(name) {
                return Ok(engine(
                    Box::new(PodmanSave {
                        reference: reference(name),
                    }),
                    "podman image save".into(),
                ));
            }
            Err(not_found(name, &docker_root, containerd))
        }
    }
}

fn not_found(name: &str, docker_root: &Path, containerd: &ContainerdOptions) -> Error {
    Error::NotFound {
        path: name.to_string(),
        detail: format!(
            "not a file or directory, and no local engine has it (looked in the Docker store at {}, the Docker \
             API at {}, the containerd store at {}, containers-storage at {}, and podman)",
            docker_root.display(),
            super::engine_api::docker_socket()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            ContainerdStore::new(containerd, name).root.display(),
            ContainersStorage::default_root().display()
        ),
    }
}

/// Docker first: its containerd image store when the daemon uses one, else its overlay2 store when readable and
/// holding the image, else its API when it answers.
fn docker_auto(name: &str, root: &Path) -> Result<Option<Opened>> {
    // A daemon that moved to the containerd image store may have left its old overlay2 store behind: what it
    // says it uses comes first.
    if let Some(opened) = docker_containerd(name, root)? {
        return Ok(Some(opened));
    }
    if DockerStore::available(root) {
        let store = DockerStore {
            root: root.to_path_buf(),
            reference: name.to_string(),
        };
        if store.find()?.is_some() {
            return Ok(Some(engine(
                Box::new(store),
                format!("the Docker store at {}", root.display()),
            )));
        }
    }
    if docker_available() && super::engine_api::docker_has(name) {
        return Ok(Some(engine(
            Box::new(DockerApi {
                reference: name.to_string(),
            }),
            "the Docker API".into(),
        )));
    }
    Ok(None)
}

/// A Docker daemon using the containerd image store: its images read from containerd's content store in place.
fn docker_containerd(name: &str, docker_root: &Path) -> Result<Option<Opened>> {
    if !(docker_available() && super::engine_api::docker_uses_containerd()) {
        return Ok(None);
    }
    let store = ContainerdStore::docker(docker_root, name);
    if super::containerd::check(&store.root).is_err() {
        return Ok(None);
    }
    Ok(store.find()?.map(|t| {
        let description = store.describe(Some(&t.namespace));
        engine(Box::new(store), description)
    }))
}

/// containerd's own store (Kubernetes nodes, nerdctl, ctr), when readable and holding the name.
fn containerd_auto(name: &str, opts: &ContainerdOptions) -> Result<Option<Opened>> {
    let mut store = ContainerdStore::new(opts, name);
    if super::containerd::check(&store.root).is_err() {
        return Ok(None);
    }
    Ok(store.find()?.map(|t| {
        let description = store.describe(Some(&t.namespace));
        store.namespace = Some(t.namespace);
        engine(Box::new(store), description)
    }))
}

fn podman_auto(name: &str) -> Result<Option<Opened>> {
    let root = ContainersStorage::default_root();
    if ContainersStorage::available(&root) {
        let store = ContainersStorage {
            root: root.clone(),
            reference: name.to_string(),
        };
        if store.has()? {
            return Ok(Some(engine(
                Box::new(store),
                format!("containers-storage at {}", root.display()),
            )));
        }
    }
    Ok(None)
}

fn podman_has(name: &str) -> bool {
    std::process::Command::new("podman")
        .args(["image", "exists", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
