//! From what the user typed to an image source, in two steps. [`parse_target`] reads the name alone (and asks
//! the file system whether a path exists): a path (archive or layout), a transport prefix (`registry://`,
//! `docker://`, `podman://`, and skopeo's `docker-daemon:`, `docker-archive:`, `oci:`, `oci-archive:`,
//! `containers-storage:`, and `containerd:`), a forced `--source`, or a bare reference. [`open_source`] then
//! probes the places a reference may live, lazily and in order (Docker: its containerd image store, its overlay2
//! store, its API; containerd's own store; containers-storage, podman; the registry): a path never contacts a
//! daemon.

use std::path::{Path, PathBuf};

use super::containerd::{ContainerdOptions, ContainerdStore};
use super::engine_api::{DockerApi, PodmanSave, docker_available};
use super::reference::Reference;
use super::registry::{RegistryOptions, RegistrySource};
use super::stores::{ContainersStorage, DockerStore};
use super::{ArchiveSource, ImageSource};
use crate::error::{Error, Result};

/// Where to read an image from (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A path if it exists, else the local engines, else the registry.
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
    /// The image's registry, over HTTPS.
    Registry,
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
            "registry" => SourceKind::Registry,
            "containerd" => SourceKind::Containerd,
            _ => return None,
        })
    }
}

/// How to reach the places an image may live.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Docker's data root; by default `/var/lib/docker`, else what the daemon reports (asked only when needed).
    pub docker_root: Option<PathBuf>,
    pub registry: RegistryOptions,
    /// containerd's root and namespace (`--containerd-root`, `--namespace`).
    pub containerd: ContainerdOptions,
}

/// A source ready to load, what it is (for a note to the user), and an image reference the name carried
/// (`oci:DIR:REF`).
pub struct Opened {
    pub source: Box<dyn ImageSource>,
    pub description: Option<String>,
    pub image_ref: Option<String>,
}

/// A place a bare reference is looked for, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Docker's containerd image store when the daemon uses it, else its overlay2 store when readable and
    /// holding the image, else its API when it has it.
    Docker,
    /// containerd's own store (Kubernetes nodes, nerdctl, ctr) when readable and holding the image.
    Containerd,
    /// containers-storage when holding the image, else `podman image save` when podman has it.
    Podman,
    /// The registry the reference names (never probed: it is the last resort).
    Registry,
}

/// What the user named, read without contacting anything.
#[derive(Debug, PartialEq)]
pub(crate) enum Target {
    /// A file or directory (or `-`), with an image reference it carried (`oci:DIR:REF`).
    Path {
        path: String,
        image_ref: Option<String>,
    },
    /// One source, no probing.
    Forced { kind: SourceKind, reference: String },
    /// The registry, and only it.
    Registry(Reference),
    /// The first of these places that has the image.
    Search {
        reference: String,
        places: Vec<Place>,
    },
}

/// Names that end like archives are paths (a missing `app.tar` is a typo, not an image on Docker Hub).
const ARCHIVE_SUFFIXES: [&str; 6] = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".oci"];

fn registry_target(text: &str) -> Result<Target> {
    Reference::parse(text)
        .map(Target::Registry)
        .map_err(Error::Usage)
}

/// Reads what the user typed (and `--source`) into a target. Only the file system is consulted.
pub(crate) fn parse_target(name: &str, kind: SourceKind) -> Result<Target> {
    let search = |reference: &str, places: &[Place]| Target::Search {
        reference: reference.to_string(),
        places: places.to_vec(),
    };
    match kind {
        SourceKind::Auto => {}
        SourceKind::Archive => {
            return Ok(Target::Path {
                path: name.to_string(),
                image_ref: None,
            });
        }
        SourceKind::Registry => {
            return registry_target(name.strip_prefix("registry://").unwrap_or(name));
        }
        kind => {
            return Ok(Target::Forced {
                kind,
                reference: name.to_string(),
            });
        }
    }
    if let Some(rest) = name.strip_prefix("registry://") {
        return registry_target(rest);
    }
    if let Some(rest) = name.strip_prefix("docker://") {
        return Ok(search(rest, &[Place::Docker, Place::Registry]));
    }
    if let Some(rest) = name.strip_prefix("podman://") {
        return Ok(search(rest, &[Place::Podman, Place::Registry]));
    }
    if let Some(rest) = name.strip_prefix("docker-daemon:") {
        return Ok(search(rest, &[Place::Docker]));
    }
    if let Some(rest) = name.strip_prefix("containerd:") {
        return Ok(Target::Forced {
            kind: SourceKind::Containerd,
            reference: rest.to_string(),
        });
    }
    if let Some(rest) = name.strip_prefix("containers-storage:") {
        return Ok(Target::Forced {
            kind: SourceKind::ContainersStorage,
            reference: rest.to_string(),
        });
    }
    for prefix in ["docker-archive:", "oci-archive:", "oci:"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let (path, image_ref) = split_ref(rest);
            return Ok(Target::Path { path, image_ref });
        }
    }
    // References never start with `/` or `.`: such a name is a path, even a missing one.
    if name == "-"
        || name.starts_with('/')
        || name.starts_with('.')
        || ARCHIVE_SUFFIXES.iter().any(|s| name.ends_with(s))
        || Path::new(name).exists()
    {
        return Ok(Target::Path {
            path: name.to_string(),
            image_ref: None,
        });
    }
    Ok(search(
        name,
        &[
            Place::Docker,
            Place::Containerd,
            Place::Podman,
            Place::Registry,
        ],
    ))
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

fn registry(reference: Reference, opts: &RegistryOptions, searched: Option<String>) -> Opened {
    let description = format!("the registry {}", reference.registry);
    let source = RegistrySource::new(reference, opts.clone());
    let source = match searched {
        Some(places) => source.after(places),
        None => source,
    };
    engine(Box::new(source), description)
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

/// Docker's data root, found once and only when a Docker place is probed.
struct DockerRoot<'a> {
    given: Option<&'a Path>,
    found: std::cell::OnceCell<PathBuf>,
}

impl DockerRoot<'_> {
    fn get(&self) -> &Path {
        self.found.get_or_init(|| match self.given {
            Some(root) => root.to_path_buf(),
            None => {
                // The default data root, else the one the daemon reports.
                let default = PathBuf::from("/var/lib/docker");
                if DockerStore::available(&default) {
                    default
                } else {
                    super::engine_api::docker_root_dir().unwrap_or(default)
                }
            }
        })
    }
}

/// Opens what the user named.
pub fn open_source(name: &str, kind: SourceKind, opts: &SourceOptions) -> Result<Opened> {
    let root = DockerRoot {
        given: opts.docker_root.as_deref(),
        found: std::cell::OnceCell::new(),
    };
    match parse_target(name, kind)? {
        Target::Path { path, image_ref } => archive(&path, image_ref),
        Target::Registry(reference) => Ok(registry(reference, &opts.registry, None)),
        Target::Forced { kind, reference } => forced(kind, reference, &root, &opts.containerd),
        Target::Search { reference, places } => {
            for place in &places {
                let found = match place {
                    Place::Docker => docker_auto(&reference, root.get())?,
                    Place::Containerd => containerd_auto(&reference, &opts.containerd)?,
                    Place::Podman => podman_auto(&reference)?,
                    Place::Registry => match Reference::parse(&reference) {
                        Ok(r) => {
                            let searched = looked_in(&places, &root, &reference, &opts.containerd);
                            Some(registry(r, &opts.registry, Some(searched)))
                        }
                        // Not a registry reference (an image ID, say): only the engines could have had it.
                        Err(_) => None,
                    },
                };
                if let Some(opened) = found {
                    return Ok(opened);
                }
            }
            Err(not_found(&reference, &places, &root, &opts.containerd))
        }
    }
}

fn forced(
    kind: SourceKind,
    reference: String,
    root: &DockerRoot<'_>,
    containerd: &ContainerdOptions,
) -> Result<Opened> {
    match kind {
        SourceKind::DockerStore => {
            let root = root.get();
            if let Some(opened) = docker_containerd(&reference, root)? {
                return Ok(opened);
            }
            if !DockerStore::available(root) {
                return Err(Error::invalid(
                    root.display().to_string(),
                    "cannot read the Docker store here (no overlay2 image store, or no access): run with access \
                     to the data root, pass --docker-root, or use --source docker",
                ));
            }
            Ok(engine(
                Box::new(DockerStore {
                    root: root.to_path_buf(),
                    reference,
                }),
                format!("the Docker store at {}", root.display()),
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
                    reference,
                }),
                format!("containers-storage at {}", root.display()),
            ))
        }
        SourceKind::Podman => Ok(match podman_auto(&reference)? {
            Some(opened) => opened,
            None => podman_save(reference),
        }),
        SourceKind::PodmanSave => Ok(podman_save(reference)),
        SourceKind::Containerd => {
            let mut store = ContainerdStore::new(containerd, &reference);
            let target = store.find()?.ok_or_else(|| store.not_found())?;
            let description = store.describe(Some(&target.namespace));
            store.namespace = Some(target.namespace);
            Ok(engine(Box::new(store), description))
        }
        // Docker (and anything parse_target does not force) goes to the API.
        _ => Ok(engine(
            Box::new(DockerApi { reference }),
            "the Docker API".into(),
        )),
    }
}

fn podman_save(reference: String) -> Opened {
    engine(
        Box::new(PodmanSave { reference }),
        "podman image save".into(),
    )
}

/// The local places a reference was looked for, for messages.
fn looked_in(
    places: &[Place],
    root: &DockerRoot<'_>,
    name: &str,
    containerd: &ContainerdOptions,
) -> String {
    let mut looked = Vec::new();
    if places.contains(&Place::Docker) {
        looked.push(format!(
            "the Docker store at {}, the Docker API at {}",
            root.get().display(),
            super::engine_api::docker_socket()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ));
    }
    if places.contains(&Place::Containerd) {
        looked.push(format!(
            "the containerd store at {}",
            ContainerdStore::new(containerd, name).root.display()
        ));
    }
    if places.contains(&Place::Podman) {
        looked.push(format!(
            "containers-storage at {}, podman",
            ContainersStorage::default_root().display()
        ));
    }
    looked.join(", ")
}

fn not_found(
    name: &str,
    places: &[Place],
    root: &DockerRoot<'_>,
    containerd: &ContainerdOptions,
) -> Error {
    let registry = if places.contains(&Place::Registry) {
        ", and it is not a registry reference"
    } else {
        ""
    };
    Error::NotFound {
        path: name.to_string(),
        detail: format!(
            "not a file or directory, and no local engine has it (looked in {}){registry}",
            looked_in(places, root, name, containerd)
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
    if podman_has(name) {
        return Ok(Some(podman_save(name.to_string())));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn search(reference: &str, places: &[Place]) -> Target {
        Target::Search {
            reference: reference.into(),
            places: places.to_vec(),
        }
    }

    fn path(p: &str) -> Target {
        Target::Path {
            path: p.into(),
            image_ref: None,
        }
    }

    #[test]
    fn prefixes_choose_where_a_reference_is_looked_for() {
        let auto = |n: &str| parse_target(n, SourceKind::Auto).unwrap();
        assert_eq!(
            auto("registry://nginx:1"),
            Target::Registry(Reference::parse("nginx:1").unwrap())
        );
        assert_eq!(
            auto("docker://app:1"),
            search("app:1", &[Place::Docker, Place::Registry])
        );
        assert_eq!(
            auto("podman://app:1"),
            search("app:1", &[Place::Podman, Place::Registry])
        );
        assert_eq!(
            auto("docker-daemon:app:1"),
            search("app:1", &[Place::Docker])
        );
        assert_eq!(
            auto("app:1"),
            search(
                "app:1",
                &[
                    Place::Docker,
                    Place::Containerd,
                    Place::Podman,
                    Place::Registry
                ]
            )
        );
        assert_eq!(
            auto("containerd:app"),
            Target::Forced {
                kind: SourceKind::Containerd,
                reference: "app".into()
            }
        );
        assert_eq!(
            auto("containers-storage:app"),
            Target::Forced {
                kind: SourceKind::ContainersStorage,
                reference: "app".into()
            }
        );
    }

    #[test]
    fn paths_are_paths_even_when_missing() {
        let auto = |n: &str| parse_target(n, SourceKind::Auto).unwrap();
        assert_eq!(auto("/no/such/file"), path("/no/such/file"));
        assert_eq!(auto("./x"), path("./x"));
        assert_eq!(auto("-"), path("-"));
        assert_eq!(auto("missing-app.tar"), path("missing-app.tar"));
        assert_eq!(auto("app.tar.gz"), path("app.tar.gz"));
        assert_eq!(auto("oci:/nowhere"), path("/nowhere"));
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(
            auto(&format!("oci:{here}:app:1")),
            Target::Path {
                path: here.into(),
                image_ref: Some("app:1".into())
            }
        );
    }

    #[test]
    fn a_forced_source_is_not_searched() {
        assert_eq!(
            parse_target("registry://127.0.0.1:5000/a", SourceKind::Registry).unwrap(),
            Target::Registry(Reference::parse("127.0.0.1:5000/a").unwrap())
        );
        assert_eq!(
            parse_target("app", SourceKind::Docker).unwrap(),
            Target::Forced {
                kind: SourceKind::Docker,
                reference: "app".into()
            }
        );
        assert_eq!(parse_target("x", SourceKind::Archive).unwrap(), path("x"));
        assert!(matches!(
            parse_target("Bad Ref", SourceKind::Registry),
            Err(Error::Usage(_))
        ));
    }
}
