//! Tests against live engines: images built here by Docker and podman, streamed from `docker save` into stdin,
//! and final trees compared with `docker export` / `podman export` of a container.
//!
//! They need a running Docker daemon (and podman) with the base image `layerscope-base:1` that
//! scripts/build-fixtures.sh creates. Without them they skip with a message, unless
//! LAYERSCOPE_REQUIRE_ENGINES=1 (as in CI), where they fail.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;

const DOCKER: &str = "/usr/bin/docker";

fn engine_ready(engine: &str, base: &str) -> bool {
    let ok = Command::new(engine)
        .args(["image", "inspect", base])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!(
            "{engine} with image {base} is not available (run scripts/build-fixtures.sh as root)"
        );
        if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

fn sh(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("engine command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Layer rules that real engines produce: opaque directories, directory whiteouts, a directory replaced by a
/// file, a file replaced by a directory, hardlinks, and deletions deep below a deleted directory.
const DOCKERFILE: &str = r#"FROM BASE
RUN mkdir -p /a/b/c /d /e && echo one > /a/b/c/f && echo two > /d/g && echo three > /e/h \
 && ln /d/g /d/g.link && echo x > /swap && mkdir /flip && echo y > /flip/inner
RUN rm -rf /a/b && rm /d/g && rm -rf /e && mkdir /e && echo new > /e/h2
RUN rm /swap && mkdir /swap && echo z > /swap/in && rm -rf /flip && echo f > /flip
CMD ["sh"]
"#;

/// Builds `dockerfile` (its `FROM BASE` pointing at `base`) with `files` in the context.
fn build(
    engine: &str,
    dockerfile: &str,
    files: &[(&str, &str)],
    base: &str,
    tag: &str,
    extra: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        dockerfile.replace("BASE", base),
    )
    .unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let mut cmd = Command::new(engine);
    cmd.arg("build")
        .args(extra)
        .args(["-q", "-t", tag])
        .arg(dir.path());
    if engine == DOCKER {
        cmd.env("DOCKER_BUILDKIT", "0");
    }
    sh(&mut cmd);
}

/// `podman save --format FORMAT -o PATH IMAGE`.
fn podman_save(format: &str, path: &std::path::Path, image: &str) {
    let path = path.to_str().unwrap();
    sh(Command::new("podman").args(["save", "-q", "--format", format, "-o", path, image]));
}

/// "<type> <size> <path>" lines of an exported container filesystem, without what the engine adds.
#[allow(clippy::disallowed_methods)] // the engine's own export, the reference the test compares with
fn exported(engine: &str, image: &str) -> Vec<String> {
    let id = String::from_utf8(sh(Command::new(engine).args(["create", image]))).unwrap();
    let id = id.trim();
    let tar = sh(Command::new(engine).args(["export", id]));
    sh(Command::new(engine).args(["rm", "-f", id]));
    let mut lines = Vec::new();
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = format!(
            "/{}",
            String::from_utf8_lossy(&layerscope::path::normalize(&entry.path_bytes()))
        );
        let engine_made = [
            "/.dockerenv",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/etc/mtab",
            "/run/.containerenv",
        ];
        let engine_dirs = ["/dev", "/proc", "/sys", "/run"];
        if path == "/"
            || engine_made.contains(&path.as_str())
            || engine_dirs
                .iter()
                .any(|d| path == *d || path.starts_with(&format!("{d}/")))
        {
            continue;
        }
        let kind = match entry.header().entry_type() {
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Regular | tar::EntryType::Link => "file",
            tar::EntryType::Fifo => "fifo",
            tar::EntryType::Char => "char-device",
            tar::EntryType::Block => "block-device",
            _ => "other",
        };
        let size = if kind == "file" { entry.size() } else { 0 };
        lines.push(format!("{kind} {size} {path}"));
    }
    lines.sort();
    lines
}

/// Our final tree in the same form, without what engines add to containers.
fn our_lines(archive: &str) -> Vec<String> {
    export_lines(archive, |p| {
        !["/dev", "/proc", "/sys", "/run"]
            .iter()
            .any(|d| p == *d || p.starts_with(&format!("{d}/")))
            && !["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].contains(&p)
    })
}

#[test]
fn docker_built_tree_matches_docker_export() {
    if !engine_ready(DOCKER, "layerscope-base:1") {
        return;
    }
    build(
        DOCKER,
        DOCKERFILE,
        &[],
        "layerscope-base:1",
        "layerscope-rules:1",
        &["--network", "none"],
    );
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("rules.tar");
    sh(Command::new(DOCKER).args([
        "save",
        "-o",
        archive.to_str().unwrap(),
        "layerscope-rules:1",
    ]));
    let archive = archive.to_str().unwrap();
    assert_eq!(our_lines(archive), exported(DOCKER, "layerscope-rules:1"));

    let r = json_of(&["--json", "-", archive]);
    let files: Vec<(&str, &str)> = r["waste"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["reason"].as_str().unwrap()))
        .collect();
    // /d/g was deleted but its bytes live on as /d/g.link; everything else removed is wasted.
    assert!(!files.iter().any(|(p, _)| *p == "/d/g"), "{files:?}");
    for expected in [
        ("/a/b/c/f", "hidden"),
        ("/e/h", "hidden"),
        ("/swap", "overwritten"),
        ("/flip/inner", "hidden"),
    ] {
        assert!(files.contains(&expected), "{expected:?} not in {files:?}");
    }
}

#[test]
fn docker_save_streams_into_stdin() {
    if !engine_ready(DOCKER, "layerscope-demo:1") {
        return;
    }
    let mut save = Command::new(DOCKER)
        .args(["save", "layerscope-demo:1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tar = Vec::new();
    save.stdout.take().unwrap().read_to_end(&mut tar).unwrap();
    assert!(save.wait().unwrap().success());
    let piped = bin()
        .args(["--json", "-", "-"])
        .write_stdin(tar.clone())
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", stderr_line(&piped));
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "demo.tar", &tar);
    let from_file = json_of(&["--json", "-", &file]);
    let from_stdin: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(comparable(&from_stdin), comparable(&from_file));
    assert_eq!(from_file["waste"]["wasted_bytes"], 3_147_719);
}

#[test]
fn podman_built_tree_matches_podman_export() {
    if !engine_ready("podman", "localhost/layerscope-base:1") {
        return;
    }
    build(
        "podman",
        DOCKERFILE,
        &[],
        "localhost/layerscope-base:1",
        "localhost/layerscope-rules:1",
        &["--isolation", "chroot"],
    );
    let dir = tempfile::tempdir().unwrap();
    for format in ["oci-archive", "docker-archive"] {
        let archive = dir.path().join(format!("{format}.tar"));
        podman_save(format, &archive, "localhost/layerscope-rules:1");
        assert_eq!(
            our_lines(archive.to_str().unwrap()),
            exported("podman", "localhost/layerscope-rules:1"),
            "{format}"
        );
    }
}

/// Secrets planted by a real build: RUN then deleted, COPY then overwritten, under a directory later removed,
/// in ENV and in a build ARG; found right in every format Docker, skopeo and podman write.
const SECRETS_DOCKERFILE: &str = r#"FROM BASE
ARG DEPLOY_TOKEN=ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8
ENV DATABASE_URL=postgres://app:S3cr3tPassw0rd@db.internal:5432/app
RUN mkdir -p /root/.aws && printf '[default]\naws_access_key_id = AKIAZ7VRSQ5TJN2UE4OK\n' > /root/.aws/credentials \
 && echo "token=$DEPLOY_TOKEN" > /tmp/run-secret.txt
COPY slack.json /app/slack.json
RUN rm -rf /root/.aws /tmp/run-secret.txt && echo '{}' > /app/slack.json
CMD ["sh"]
"#;

/// The COPY source of the secrets image: a Slack token that a later layer overwrites.
const SECRETS_CONTEXT: &[(&str, &str)] = &[(
    "slack.json",
    "{\"slack\": \"xoxb-123456789012-1234567890123-Zx9Vb7Nm1Qw5Er8Ty2Ui4Op\"}\n",
)];

fn check_secret_findings(archive: &str, what: &str) {
    let findings = json_of(&["secrets", "--json", "-", archive]);
    let findings = findings.as_array().unwrap();
    let get = |rule: &str, location: &str, path: Option<&str>| {
        findings
            .iter()
            .find(|x| {
                x["rule"] == rule
                    && x["location"] == location
                    && path.is_none_or(|p| x["path"] == p)
            })
            .unwrap_or_else(|| panic!("{what}: no {rule} in {location}: {findings:#?}"))
    };
    let aws = get("aws-access-key-id", "file", None);
    assert_eq!(
        (
            aws["layer"].as_u64(),
            aws["status"].as_str(),
            aws["removed_in"].as_u64()
        ),
        (Some(1), Some("removed"), Some(3)),
        "{what}"
    );
    assert!(
        aws["instruction"]
            .as_str()
            .unwrap()
            .starts_with("RUN mkdir -p /root/.aws"),
        "{what}"
    );
    let run_secret = get("github-pat", "file", Some("/tmp/run-secret.txt"));
    assert_eq!(
        (
            run_secret["status"].as_str(),
            run_secret["removed_in"].as_u64()
        ),
        (Some("removed"), Some(3)),
        "{what}"
    );
    let slack = get("slack-token", "file", None);
    assert_eq!(
        (
            slack["layer"].as_u64(),
            slack["status"].as_str(),
            slack["removed_in"].as_u64()
        ),
        (Some(2), Some("overwritten"), Some(3)),
        "{what}"
    );
    assert!(
        slack["instruction"].as_str().unwrap().starts_with("COPY "),
        "{what}"
    );
    assert_eq!(
        get("database-url", "config", None)["status"],
        "visible",
        "{what}"
    );
    assert!(
        findings
            .iter()
            .any(|x| x["rule"] == "github-pat" && x["location"] == "history"),
        "{what}"
    );
    let text = serde_json::to_string(findings).unwrap();
    assert!(
        !text.contains("S3cr3tPassw0rd") && !text.contains("AKIAZ7VRSQ5TJN2UE4OK"),
        "{what}: clear text"
    );
}

#[test]
fn secrets_from_a_docker_build_are_found_in_every_format() {
    if !engine_ready(DOCKER, "layerscope-base:1") {
        return;
    }
    build(
        DOCKER,
        SECRETS_DOCKERFILE,
        SECRETS_CONTEXT,
        "layerscope-base:1",
        "layerscope-secrets:1",
        &["--network", "none"],
    );
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("legacy.tar");
    sh(Command::new(DOCKER).args([
        "save",
        "-o",
        legacy.to_str().unwrap(),
        "layerscope-secrets:1",
    ]));
    check_secret_findings(legacy.to_str().unwrap(), "docker save");
    for format in ["gzip", "zstd"] {
        let layout = dir.path().join(format!("oci-{format}"));
        sh(Command::new("skopeo").args([
            "copy",
            "-q",
            "--dest-compress-format",
            format,
            &format!("docker-archive:{}", legacy.display()),
            &format!("oci:{}:layerscope-secrets:1", layout.display()),
        ]));
        check_secret_findings(layout.to_str().unwrap(), &format!("skopeo oci {format}"));
    }
}

#[test]
fn secrets_from_a_podman_build_are_found_in_every_format() {
    if !engine_ready("podman", "localhost/layerscope-base:1") {
        return;
    }
    build(
        "podman",
        SECRETS_DOCKERFILE,
        SECRETS_CONTEXT,
        "localhost/layerscope-base:1",
        "localhost/layerscope-secrets:1",
        &["--isolation", "chroot"],
    );
    let dir = tempfile::tempdir().unwrap();
    for format in ["oci-archive", "docker-archive"] {
        let archive = dir.path().join(format!("{format}.tar"));
        podman_save(format, &archive, "localhost/layerscope-secrets:1");
        check_secret_findings(archive.to_str().unwrap(), &format!("podman {format}"));
    }
}

fn secrets_of(args: &[&str]) -> Vec<(String, String, String, String, String)> {
    let mut all = vec!["secrets", "--json", "-"];
    all.extend_from_slice(args);
    let v = json_of(&all);
    let mut out: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].to_string();
            (
                s("rule"),
                s("layer"),
                s("path"),
                s("status"),
                format!("{} {}", s("removed_in"), s("fingerprint")),
            )
        })
        .collect();
    out.sort();
    out
}

/// One image, read from its archive, from the engine's store in place and through the engine's API: the
/// same layers, diff_ids, counts, sizes, waste, final tree and secrets.
#[test]
fn every_path_to_a_docker_image_gives_the_same_answers() {
    if !engine_ready(DOCKER, "layerscope-demo:1") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo.tar");
    sh(Command::new(DOCKER).args(["save", "-o", archive.to_str().unwrap(), "layerscope-demo:1"]));
    let archive = archive.to_str().unwrap();
    let reference = comparable(&json_of(&["--json", "-", archive]));
    let tree = json_of(&["ls", "--json", "-", archive]);
    let secrets = secrets_of(&[archive]);
    for source in ["docker-store", "docker", "auto"] {
        let r = json_of(&["--json", "-", "--source", source, "layerscope-demo:1"]);
        assert_eq!(comparable(&r), reference, "{source}");
        assert_eq!(
            json_of(&["ls", "--json", "--source", source, "layerscope-demo:1"]),
            tree,
            "{source}"
        );
        assert_eq!(
            secrets_of(&["--source", source, "layerscope-demo:1"]),
            secrets,
            "{source}"
        );
    }
    assert_eq!(
        json_of(&[
            "--json",
            "-",
            "--source",
            "docker-store",
            "layerscope-demo:1"
        ])["image"]["format"],
        "docker-store"
    );
    let daemon = json_of(&["--json", "-", "docker-daemon:layerscope-demo:1"]);
    assert_eq!(comparable(&daemon), reference);
}

#[test]
fn every_path_to_a_podman_image_gives_the_same_answers() {
    if !engine_ready("podman", "localhost/layerscope-demo:1") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo.tar");
    podman_save("oci-archive", &archive, "localhost/layerscope-demo:1");
    let archive = archive.to_str().unwrap();
    let mut reference = comparable(&json_of(&["--json", "-", archive]));
    reference["config_digest"] = serde_json::Value::Null;
    let tree = json_of(&["ls", "--json", "-", archive]);
    let secrets = secrets_of(&[archive]);
    let mut streamed = comparable(&json_of(&[
        "--json",
        "-",
        "--source",
        "podman-save",
        "localhost/layerscope-demo:1",
    ]));
    streamed["config_digest"] = serde_json::Value::Null;
    assert_eq!(streamed, reference, "podman image save");
    for name in [
        "containers-storage:localhost/layerscope-demo:1",
        "localhost/layerscope-demo:1",
    ] {
        let mut r = comparable(&json_of(&[
            "--json",
            "-",
            "--source",
            "podman",
            name.trim_start_matches("containers-storage:"),
        ]));
        r["config_digest"] = serde_json::Value::Null;
        assert_eq!(r, reference, "{name}");
        let mut r = comparable(&json_of(&["--json", "-", name]));
        r["config_digest"] = serde_json::Value::Null;
        assert_eq!(r, reference, "{name}");
        assert_eq!(json_of(&["ls", "--json", "-", name]), tree, "{name}");
        assert_eq!(secrets_of(&[name]), secrets, "{name}");
    }
}

#[test]
fn missing_images_and_unreadable_stores_are_explained() {
    let out = run(&["no-such-image-anywhere:42"]);
    assert_bad_input(&out, "looked in the Docker store");
    let out = run(&[
        "--source",
        "docker-store",
        "--docker-root",
        "/nonexistent",
        "x:1",
    ]);
    assert_bad_input(&out, "--source docker");
    if engine_ready(DOCKER, "layerscope-demo:1") {
        assert_bad_input(
            &run(&["--source", "docker", "no-such-image-anywhere:42"]),
            "the Docker API answered 404",
        );
    }
}
