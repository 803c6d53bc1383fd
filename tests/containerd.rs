//! Tests against a real containerd, started here with its own root, state directory, socket and config, images
//! imported with `ctr` into the namespaces Docker (`moby`) and Kubernetes (`k8s.io`) use. Each test stops its
//! daemon when it ends (even on failure). Without containerd they skip with a message, unless
//! LAYERSCOPE_REQUIRE_ENGINES=1 (as in CI), where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const REAL: &str = "tests/fixtures/real";

/// A containerd of our own, killed when dropped.
struct Containerd {
    dir: tempfile::TempDir,
    /// Its root, relative to `dir`.
    root: &'static str,
    child: Child,
}

fn skip(msg: &str) -> Option<Containerd> {
    if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

impl Containerd {
    fn start() -> Option<Containerd> {
        Containerd::start_at("root")
    }

    /// With its root at `root` inside its directory.
    fn start_at(root: &'static str) -> Option<Containerd> {
        let found = |bin: &str| {
            Command::new(bin)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !found("containerd") || !found("ctr") {
            return skip(
                "containerd and ctr are not installed (Debian: apt-get install containerd)",
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name).display().to_string();
        let config = format!(
            "version = 2\nroot = {root:?}\nstate = {state:?}\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = {sock:?}\n[ttrpc]\n  address = {ttrpc:?}\n[debug]\n  address = \"\"\n\
             [metrics]\n  address = \"\"\n",
            root = p(root),
            state = p("state"),
            sock = p("c.sock"),
            ttrpc = p("c.sock.ttrpc"),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("-c")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = Containerd { dir, root, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.answers() {
            let exited = daemon.child.try_wait().unwrap().is_some();
            if exited || Instant::now() > deadline {
                let log = std::fs::read_to_string(daemon.dir.path().join("containerd.log"));
                return skip(&format!(
                    "containerd did not start (it needs root): {}",
                    log.unwrap_or_default().lines().last().unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(daemon)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn root(&self) -> String {
        self.dir.path().join(self.root).display().to_string()
    }

    fn answers(&self) -> bool {
        self.socket().exists()
            && Command::new("ctr")
                .arg("-a")
                .arg(self.socket())
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    fn ctr(&self, namespace: &str, args: &[&str]) {
        let out = Command::new("ctr")
            .arg("-a")
            .arg(self.socket())
            .args(["-n", namespace])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn import(&self, namespace: &str, fixture: &str) {
        self.ctr(
            namespace,
            &["images", "import", &format!("{REAL}/{fixture}")],
        );
    }

    /// layerscope's arguments to read `name` from this store.
    fn args<'a>(
        &'a self,
        root: &'a str,
        namespace: Option<&'a str>,
        name: &'a str,
    ) -> Vec<&'a str> {
        let mut args = vec!["--source", "containerd", "--containerd-root", root];
        if let Some(ns) = namespace {
            args.extend(["--namespace", ns]);
        }
        args.push(name);
        args
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with(first: &[&str], rest: &[&str]) -> Vec<String> {
    first.iter().chain(rest).map(|s| s.to_string()).collect()
}

fn json(args: &[String]) -> serde_json::Value {
    json_of(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The report of one image as its archive gives it; with `full`, its final tree and its secrets too.
fn same_answers(archive: &str, store: &[&str], full: bool, what: &str) {
    let archive = format!("{REAL}/{archive}");
    let from_store = json(&with(&["--json", "-"], store));
    assert_eq!(
        comparable(&from_store),
        comparable(&json_of(&["--json", "-", &archive])),
        "{what}"
    );
    assert_eq!(from_store["image"]["format"], "containerd", "{what}");
    if !full {
        return;
    }
    assert_eq!(
        json(&with(&["ls", "--json"], store)),
        json_of(&["ls", "--json", "-", &archive]),
        "{what}"
    );
    assert_eq!(
        json(&with(&["secrets", "--json"], store)),
        json_of(&["secrets", "--json", "-", &archive]),
        "{what}"
    );
}

#[test]
fn images_in_containerd_give_the_reports_of_their_archives() {
    let Some(c) = Containerd::start() else {
        return;
    };
    c.import("moby", "docker25.tar");
    c.import("k8s.io", "oci-gzip.tar");
    c.import("default", "docker-legacy.tar");
    c.import("other", "oci-zstd.tar");
    let root = c.root();
    let name = "layerscope-demo:1";
    same_answers(
        "docker25.tar",
        &c.args(&root, Some("moby"), name),
        true,
        "moby",
    );
    same_answers(
        "oci-gzip.tar",
        &c.args(&root, Some("k8s.io"), name),
        true,
        "k8s.io",
    );
    same_answers(
        "docker-legacy.tar",
        &c.args(&root, Some("default"), name),
        false,
        "default",
    );
    same_answers(
        "oci-zstd.tar",
        &c.args(&root, Some("other"), name),
        false,
        "other namespace",
    );
    // Without --namespace the first of moby, k8s.io, default holding the name.
    same_answers(
        "docker25.tar",
        &c.args(&root, None, name),
        false,
        "search order",
    );
    let short = c.args(&root, None, "docker.io/library/layerscope-demo:1");
    same_answers("docker25.tar", &short, false, "qualified name");

    // --source auto finds a name only containerd holds, after Docker and before podman.
    c.ctr("k8s.io", &["images", "tag", name, "containerd-only:7"]);
    let out = run(&[
        "--json",
        "-",
        "--containerd-root",
        &root,
        "containerd-only:7",
    ]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert!(
        stderr_line(&out).contains("(namespace k8s.io)"),
        "{}",
        stderr_line(&out)
    );
    let auto: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(auto["image"]["format"], "containerd");
    assert_eq!(auto["image"]["source"], "containerd:containerd-only:7");
    assert_eq!(auto["image"]["reference"], "containerd-only:7");
    let archive = json_of(&["--json", "-", &format!("{REAL}/oci-gzip.tar")]);
    assert_eq!(comparable(&auto), comparable(&archive));

    // The prefix, and a file's bytes read again from the content store.
    let prefixed = format!("containerd:{name}");
    let out = run(&["cat", "--containerd-root", &root, &prefixed, "/etc/group"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let from_archive = run(&["cat", &format!("{REAL}/docker25.tar"), "/etc/group"]);
    assert_eq!(out.stdout, from_archive.stdout);
    assert!(!out.stdout.is_empty());
}

/// containerd commits while its store is read without the lock: every lookup is whole (never an error, never
/// another target), and a name committed before a lookup is seen by it; in a bucket of hundreds of names, each
/// is found.
#[test]
fn reads_without_the_lock_stay_whole_while_containerd_writes() {
    let Some(c) = Containerd::start() else {
        return;
    };
    c.import("k8s.io", "oci-gzip.tar");
    let root = c.root();
    let store = |name: &str| layerscope::source::ContainerdStore {
        root: PathBuf::from(&root),
        namespace: None,
        reference: name.to_string(),
    };
    let target = store("layerscope-demo:1").find().unwrap().unwrap();
    // Hundreds of names: the images bucket spans branch pages, as on a busy node.
    let many: Vec<String> = (0..400)
        .map(|i| format!("registry.example/team/app-{i:03}:v{i}"))
        .collect();
    let mut tag = vec!["images", "tag", "layerscope-demo:1"];
    tag.extend(many.iter().map(String::as_str));
    c.ctr("k8s.io", &tag);
    for name in &many {
        let found = store(name).find().unwrap();
        assert_eq!(found.map(|t| t.name), Some(name.clone()));
    }
    assert!(
        store("registry.example/team/app-400:v400")
            .find()
            .unwrap()
            .is_none()
    );
    let committed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..40 {
                c.ctr(
                    "k8s.io",
                    &["images", "tag", "layerscope-demo:1", &format!("copy-{i}:1")],
                );
                committed.store(i + 1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let mut reads = 0;
        while !writer.is_finished() {
            let done = committed.load(std::sync::atomic::Ordering::SeqCst);
            let name = format!("copy-{}:1", done.saturating_sub(1));
            let found = store(&name).find().unwrap();
            if done > 0 {
                let found = found.unwrap_or_else(|| panic!("{name} committed but not found"));
                assert_eq!(
                    (found.digest.as_str(), found.namespace.as_str()),
                    (target.digest.as_str(), "k8s.io")
                );
            }
            reads += 1;
        }
        writer.join().unwrap();
        eprintln!("{reads} lookups while containerd committed 40 tags");
    });
    let r = json_of(&[
        "--json",
        "-",
        "--source",
        "containerd",
        "--containerd-root",
        &root,
        "copy-39:1",
    ]);
    let archive = json_of(&["--json", "-", &format!("{REAL}/oci-gzip.tar")]);
    assert_eq!(comparable(&r), comparable(&archive));
}

#[test]
fn missing_images_blobs_and_stores_are_explained() {
    let out = run(&[
        "--source",
        "containerd",
        "--containerd-root",
        "/nonexistent",
        "x:1",
    ]);
    assert_bad_input(&out, "--containerd-root");
    let Some(c) = Containerd::start() else {
        return;
    };
    c.import("moby", "docker25.tar");
    let root = c.root();
    let out = run(&c.args(&root, None, "nothing-here:1"));
    assert_bad_input(&out, "moby: docker.io/library/layerscope-demo:1");
    let out = run(&c.args(&root, Some("k8s.io"), "layerscope-demo:1"));
    assert_bad_input(&out, "namespace k8s.io");

    // A store the user may not read (containerd's root is 0700): as an unprivileged user.
    let setpriv = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("layerscope"))
        .args(c.args(&root, None, "layerscope-demo:1"))
        .output();
    match setpriv {
        Ok(out) if out.status.code() != Some(127) => {
            assert_bad_input(&out, "permission denied");
            assert_bad_input(&out, "rootless");
        }
        _ => eprintln!("skipping the unreadable store: no setpriv"),
    }

    // A layer blob containerd dropped after unpacking (discard_unpacked_layers on Kubernetes nodes).
    let report = json(&with(
        &["--json", "-"],
        &c.args(&root, None, "layerscope-demo:1"),
    ));
    let digest = report["layers"][1]["blob_digest"].as_str().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    let file = Path::new(&root)
        .join("io.containerd.content.v1.content/blobs/sha256")
        .join(hex);
    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let out = run(&c.args(&root, None, "layerscope-demo:1"));
    assert_bad_input(&out, "discard_unpacked_layers");
}

/// Answers `GET /_ping` and `GET /info` on a unix socket as a Docker daemon using the containerd image store
/// does (Docker 24+ with the containerd snapshotter, the default of Docker 29), so that the detection and what
/// follows it run against a real containerd. The Docker of the test machines is older than that store.
fn docker_info_socket(path: &Path, docker_root: &Path) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let info = serde_json::json!({
        "DockerRootDir": docker_root,
        "Driver": "overlayfs",
        "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request);
            let (status, body) = match request.split(' ').nth(1) {
                Some("/_ping") => ("200 OK", "OK".to_string()),
                Some("/info") => ("200 OK", info.clone()),
                _ => (
                    "404 Not Found",
                    r#"{"message":"no such image"}"#.to_string(),
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

/// A Docker daemon on the containerd image store: auto and docker-store read namespace `moby` of its containerd
/// (its own, under the data root) in place, not through the API.
#[test]
fn docker_on_the_containerd_image_store_is_read_in_place() {
    let Some(c) = Containerd::start_at("docker/containerd/daemon") else {
        return;
    };
    c.import("moby", "docker25.tar");
    let docker_root = c.dir.path().join("docker");
    let socket = c.dir.path().join("docker.sock");
    docker_info_socket(&socket, &docker_root);
    let archive = comparable(&json_of(&["--json", "-", &format!("{REAL}/docker25.tar")]));
    for source in ["auto", "docker-store"] {
        let out = bin()
            .env("DOCKER_HOST", format!("unix://{}", socket.display()))
            .args(["--json", "-", "--source", source, "--docker-root"])
            .arg(&docker_root)
            .arg("layerscope-demo:1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{source}: {}", stderr_line(&out));
        let note = stderr_line(&out);
        assert!(
            note.contains("containerd/daemon (namespace moby)"),
            "{source}: {note}"
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["image"]["format"], "containerd", "{source}");
        assert_eq!(comparable(&report), archive, "{source}");
    }
}
