//! Images read from a real registry (Debian's `docker-registry`, started per test on a random 127.0.0.1 port):
//! the same image through an archive and through the registry gives the same report; gzip, zstd and
//! uncompressed layers; OCI indexes and Docker manifest lists with platform selection; basic auth, TLS with a
//! private CA, bearer tokens; faults (401, 404, tampered blobs, 429, a connection cut mid-blob).
//!
//! Skips when docker-registry, skopeo, htpasswd or openssl is missing, unless LAYERSCOPE_REQUIRE_ENGINES=1.

mod common;
#[path = "registry/harness.rs"]
mod harness;
#[path = "registry/proxy.rs"]
mod proxy;
#[path = "registry/token.rs"]
mod token;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use common::*;
use harness::{Auth, PASSWORD, Registry, USER};
use proxy::{Fault, Proxy};
use serde_json::{Value, json};
use token::TokenService;

/// The binary without the blob cache (tests share blobs, and a cached good blob would hide a tampered one);
/// the cache has its own test.
fn run(args: &[&str]) -> std::process::Output {
    bin().args(args).arg("--no-cache").output().unwrap()
}

fn json_of(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        stderr_line(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name)
}

fn fixture_str(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

/// The format-independent report of an image, config digest aside (skopeo may rewrite the config).
fn same_as_archive(archive: &str, reference: &str, extra: &[&str]) {
    let mut args = vec!["--json", "-", reference];
    args.extend_from_slice(extra);
    let from_registry = json_of(&args);
    assert_eq!(from_registry["image"]["format"], "registry");
    let from_archive = json_of(&["--json", "-", &fixture_str(archive)]);
    let (mut a, mut b) = (comparable(&from_archive), comparable(&from_registry));
    a["config_digest"] = Value::Null;
    b["config_digest"] = Value::Null;
    assert_eq!(a, b, "{reference} differs from {archive}");
    let mut ls = vec!["ls", reference, "--json"];
    ls.extend_from_slice(extra);
    assert_eq!(
        json_of(&ls),
        json_of(&["ls", &fixture_str(archive), "--json"]),
        "{reference}: final tree differs"
    );
}

#[test]
fn registry_images_report_like_their_archives_in_every_compression() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("docker-archive:{}", fixture_str("docker-legacy.tar")),
        "demo/legacy:1",
        &[],
    );
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-zstd.tar")),
        "demo/zstd:1",
        &[],
    );
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/gzip:1",
        &[],
    );
    let host = reg.host();
    same_as_archive(
        "docker-legacy.tar",
        &format!("registry://{host}/demo/legacy:1"),
        &[],
    );
    same_as_archive(
        "oci-gzip.tar",
        &format!("registry://{host}/demo/gzip:1"),
        &[],
    );
    let zstd = format!("registry://{host}/demo/zstd:1");
    same_as_archive("oci-zstd.tar", &zstd, &["--jobs", "1"]);
    let report = json_of(&["--json", "-", &zstd]);
    assert!(
        report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["compression"] == "zstd"),
        "the zstd image lost its zstd layers on the way: {report}"
    );
    // --source registry takes a bare reference; a digest reference reads the same manifest.
    let digest = report["image"]["manifest_digest"].as_str().unwrap();
    let pinned = json_of(&[
        "--json",
        "-",
        "--source",
        "registry",
        &format!("{host}/demo/zstd@{digest}"),
    ]);
    assert_eq!(pinned["image"]["manifest_digest"], digest);
    assert_eq!(comparable(&pinned), comparable(&report));
}

/// An image whose layers are plain tars, uploaded blob by blob (skopeo compresses what it pushes).
#[test]
#[allow(clippy::disallowed_methods)] // unpacking our own committed fixture to upload its blobs
fn uncompressed_layers_are_read_as_they_are() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let mut archive = tar::Archive::new(std::fs::File::open(fixture("docker-legacy.tar")).unwrap());
    let mut files = std::collections::HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config = &files[manifest[0]["Config"].as_str().unwrap()];
    let repo = "demo/plain";
    let config_digest = reg.put_blob(repo, config);
    let layers: Vec<Value> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let data = &files[l.as_str().unwrap()];
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                   "digest": reg.put_blob(repo, data), "size": data.len()})
        })
        .collect();
    reg.put_manifest(
        repo,
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config.len()},
                "layers": layers}),
    );
    let reference = format!("registry://{}/{repo}:1", reg.host());
    same_as_archive("docker-legacy.tar", &reference, &[]);
    let report = json_of(&["--json", "-", &reference]);
    assert!(
        report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["compression"] == "none")
    );
    // cat and secrets read the layers from the registry too.
    let cat = run(&["cat", &reference, "/home/ci/.netrc"]);
    let from_archive = run(&["cat", &fixture_str("docker-legacy.tar"), "/home/ci/.netrc"]);
    assert!(cat.status.success(), "{}", stderr_line(&cat));
    assert_eq!(cat.stdout, from_archive.stdout);
    let secrets = json_of(&["secrets", "--json", "-", &reference]);
    let archive_secrets = json_of(&["secrets", "--json", "-", &fixture_str("docker-legacy.tar")]);
    assert_eq!(secrets, archive_secrets);
}

fn platform(os: &str, arch: &str) -> Value {
    json!({"os": os, "architecture": arch})
}

/// An index (OCI or a Docker manifest list) of two images under made-up platforms, plus an attestation.
#[test]
fn indexes_and_manifest_lists_select_the_platform() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("docker-archive:{}", fixture_str("docker-legacy.tar")),
        "demo/multi:a",
        &[],
    );
    reg.push(
        &format!(
            "docker-archive:{}",
            fixture_str("podman-docker-archive.tar")
        ),
        "demo/multi:b",
        &[],
    );
    let (_, media_a, digest_a, size_a) = reg.manifest("demo/multi", "a");
    let (_, media_b, digest_b, size_b) = reg.manifest("demo/multi", "b");
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other_arch = if host_arch == "amd64" {
        "arm64"
    } else {
        "amd64"
    };
    for (tag, index_type) in [
        ("oci", "application/vnd.oci.image.index.v1+json"),
        (
            "list",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
    ] {
        let index = json!({"schemaVersion": 2, "mediaType": index_type, "manifests": [
            {"mediaType": media_b, "digest": digest_b, "size": size_b, "platform": platform("linux", other_arch)},
            {"mediaType": media_a, "digest": digest_a, "size": size_a,
             "platform": platform("unknown", "unknown"),
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
            {"mediaType": media_a, "digest": digest_a, "size": size_a, "platform": platform("linux", host_arch)},
        ]});
        reg.put_manifest("demo/multi", tag, index_type, &index);
        let reference = format!("registry://{}/demo/multi:{tag}", reg.host());
        let default = json_of(&["--json", "-", &reference]);
        assert_eq!(default["image"]["manifest_digest"], digest_a, "{tag}");
        let other = json_of(&[
            "--json",
            "-",
            &reference,
            "--platform",
            &format!("linux/{other_arch}"),
        ]);
        assert_eq!(other["image"]["manifest_digest"], digest_b, "{tag}");
        let missing = run(&["--json", "-", &reference, "--platform", "linux/s390x"]);
        assert_bad_input(&missing, "platform linux/s390x is not in the image");
    }
}

#[test]
fn missing_images_and_tampered_blobs_are_clear_errors() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("docker-archive:{}", fixture_str("docker-legacy.tar")),
        "demo/app:1",
        &[],
    );
    let host = reg.host();
    let no_tag = run(&["--ci", &format!("registry://{host}/demo/app:2")]);
    assert_bad_input(&no_tag, "no such repository or tag");
    let no_repo = run(&["--ci", &format!("registry://{host}/demo/nothing:1")]);
    assert_bad_input(&no_repo, "no such repository or tag");
    let refused = run(&["--ci", "registry://Not A Reference"]);
    assert_bad_input(&refused, "not an image reference");

    // An OCI artifact (an SBOM, say) is not an image.
    let empty = reg.put_blob("demo/sbom", b"{}");
    reg.put_manifest(
        "demo/sbom",
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        &json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/spdx+json",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}]}),
    );
    let artifact = run(&["--ci", &format!("registry://{host}/demo/sbom:1")]);
    assert_bad_input(
        &artifact,
        "an artifact (application/spdx+json), not a container image",
    );

    // A layer whose stored bytes are another (valid) layer's: the digest check catches it.
    let (manifest, ..) = reg.manifest("demo/app", "1");
    let layers = manifest["layers"].as_array().unwrap();
    let (first, second) = (
        layers[0]["digest"].as_str().unwrap(),
        layers[1]["digest"].as_str().unwrap(),
    );
    let saved = std::fs::read(reg.blob_file(first)).unwrap();
    std::fs::copy(reg.blob_file(second), reg.blob_file(first)).unwrap();
    let tampered = run(&[
        "--ci",
        "--no-secrets",
        &format!("registry://{host}/demo/app:1"),
    ]);
    assert_bad_input(&tampered, &format!("instead of {first}"));
    std::fs::write(reg.blob_file(first), saved).unwrap();

    // A config changed in place, its size kept (a longer one is refused for its size first).
    let config = manifest["config"]["digest"].as_str().unwrap();
    let mut bytes = std::fs::read(reg.blob_file(config)).unwrap();
    let at = bytes.windows(5).position(|w| w == b"linux").unwrap();
    bytes[at] = b'L';
    std::fs::write(reg.blob_file(config), &bytes).unwrap();
    let tampered = run(&[
        "--ci",
        "--no-secrets",
        &format!("registry://{host}/demo/app:1"),
    ]);
    assert_bad_input(&tampered, &format!("its descriptor says {config}"));
}

#[test]
fn basic_auth_takes_credentials_from_flags_stdin_and_the_docker_config() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::Basic, None);
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/private:1",
        &[],
    );
    let reference = format!("registry://{}/demo/private:1", reg.host());
    let empty = tempfile::tempdir().unwrap();
    let anonymous = bin()
        .env("DOCKER_CONFIG", empty.path())
        .env("REGISTRY_AUTH_FILE", empty.path().join("none.json"))
        .args(["--ci", "--no-secrets", "--no-cache", &reference])
        .output()
        .unwrap();
    assert_bad_input(&anonymous, "authentication required");

    let wrong = run(&[
        "--ci",
        "--no-secrets",
        "--creds",
        "tester:wrong-pass-1",
        &reference,
    ]);
    assert_bad_input(&wrong, "credentials were refused");
    assert!(!String::from_utf8_lossy(&wrong.stderr).contains("wrong-pass-1"));

    let creds = format!("{USER}:{PASSWORD}");
    let with_flag = run(&["--json", "-", "--no-secrets", "--creds", &creds, &reference]);
    assert!(with_flag.status.success(), "{}", stderr_line(&with_flag));

    let stdin = bin()
        .args([
            "--json",
            "-",
            "--no-secrets",
            "--creds",
            USER,
            "--password-stdin",
            &reference,
        ])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert!(stdin.status.success(), "{}", stderr_line(&stdin));

    let config = tempfile::tempdir().unwrap();
    let auth = base64_encode(&creds);
    std::fs::write(
        config.path().join("config.json"),
        json!({"auths": {reg.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let from_config = bin()
        .env("DOCKER_CONFIG", config.path())
        .args(["--json", "-", "--no-secrets", "--no-cache", &reference])
        .output()
        .unwrap();
    assert!(
        from_config.status.success(),
        "{}",
        stderr_line(&from_config)
    );

    // A credential helper named by credHelpers: `docker-credential-NAME get`, the host on stdin.
    let helpers = tempfile::tempdir().unwrap();
    let helper = helpers.path().join("docker-credential-layerscope-test");
    let asked = helpers.path().join("asked");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > {}\nprintf '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n",
            asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        config.path().join("config.json"),
        json!({"credHelpers": {reg.host(): "layerscope-test"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helpers.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let from_helper = bin()
        .env("DOCKER_CONFIG", config.path())
        .env("PATH", path)
        .args(["--json", "-", "--no-secrets", "--no-cache", &reference])
        .output()
        .unwrap();
    assert!(
        from_helper.status.success(),
        "{}",
        stderr_line(&from_helper)
    );
    assert_eq!(std::fs::read_to_string(&asked).unwrap(), reg.host());

    // podman's auth.json ($REGISTRY_AUTH_FILE), when the Docker config has nothing for the registry.
    let podman_auth = helpers.path().join("auth.json");
    std::fs::write(
        &podman_auth,
        json!({"auths": {reg.host(): {"auth": base64_encode(&creds)}}}).to_string(),
    )
    .unwrap();
    let from_podman = bin()
        .env("DOCKER_CONFIG", empty.path())
        .env("REGISTRY_AUTH_FILE", &podman_auth)
        .args(["--json", "-", "--no-secrets", "--no-cache", &reference])
        .output()
        .unwrap();
    assert!(
        from_podman.status.success(),
        "{}",
        stderr_line(&from_podman)
    );
    for out in [&with_flag, &stdin, &from_config, &from_helper, &from_podman] {
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            !String::from_utf8_lossy(&all).contains(PASSWORD),
            "password leaked"
        );
    }
    let a: Value = serde_json::from_slice(&with_flag.stdout).unwrap();
    let b: Value = serde_json::from_slice(&from_config.stdout).unwrap();
    assert_eq!(comparable(&a), comparable(&b));
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn tls_needs_the_private_ca_or_verification_off() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::Tls, None);
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/tls:1",
        &[],
    );
    let reference = format!("registry://{}/demo/tls:1", reg.host());
    let untrusted = run(&["--ci", "--no-secrets", &reference]);
    assert_bad_input(&untrusted, "cannot reach the registry over HTTPS");
    let ca = reg.ca();
    same_as_archive(
        "oci-gzip.tar",
        &reference,
        &["--registry-ca", ca.to_str().unwrap()],
    );
    let unverified = run(&[
        "--json",
        "-",
        "--no-secrets",
        "--tls-verify=false",
        &reference,
    ]);
    assert!(unverified.status.success(), "{}", stderr_line(&unverified));
}

#[test]
fn a_ca_in_certs_d_is_trusted_for_its_host_only() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::Tls, None);
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/certs:1",
        &[],
    );
    let reference = format!("registry://{}/demo/certs:1", reg.host());
    let certs = tempfile::tempdir().unwrap();
    let (docker, podman) = (certs.path().join("docker"), certs.path().join("podman"));
    let with_certs_d = |dirs: &[&Path]| {
        bin()
            .env("LAYERSCOPE_CERTS_D", std::env::join_paths(dirs).unwrap())
            .args(["--json", "-", "--no-secrets", "--no-cache", &reference])
            .output()
            .unwrap()
    };
    // Under another host's name (same IP, other port) the CA does not count.
    std::fs::create_dir_all(docker.join("127.0.0.1:1")).unwrap();
    std::fs::copy(reg.ca(), docker.join("127.0.0.1:1/ca.crt")).unwrap();
    let elsewhere = with_certs_d(&[&docker, &podman]);
    assert_bad_input(&elsewhere, "cannot reach the registry over HTTPS");
    // Docker's layout (ca.crt), then podman's (any *.crt), each trusted for that host.
    std::fs::create_dir_all(docker.join(reg.host())).unwrap();
    std::fs::copy(reg.ca(), docker.join(reg.host()).join("ca.crt")).unwrap();
    let out = with_certs_d(&[&docker, &podman]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["image"]["format"], "registry");
    std::fs::create_dir_all(podman.join(reg.host())).unwrap();
    std::fs::copy(reg.ca(), podman.join(reg.host()).join("private-ca.crt")).unwrap();
    let out = with_certs_d(&[&podman]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    // A .crt file that holds no certificate is reported, not ignored.
    std::fs::write(
        podman.join(reg.host()).join("broken.crt"),
        "not a certificate",
    )
    .unwrap();
    let broken = with_certs_d(&[&podman]);
    assert_bad_input(&broken, "no PEM certificate in the CA file");
}

#[test]
fn rate_limits_are_waited_out_and_cut_blobs_resume() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("docker-archive:{}", fixture_str("docker-legacy.tar")),
        "demo/app:1",
        &[],
    );
    for fault in [Fault::TooManyRequests, Fault::CutAfter(4096)] {
        let proxy = Proxy::start(reg.port, fault.clone());
        let reference = format!("registry://127.0.0.1:{}/demo/app:1", proxy.port);
        same_as_archive("docker-legacy.tar", &reference, &["--jobs", "2"]);
        assert!(
            proxy.seen.faults.load(Ordering::SeqCst) >= 1,
            "no fault injected"
        );
        if let Fault::CutAfter(_) = fault {
            assert!(
                proxy.seen.range_requests.load(Ordering::SeqCst) >= 1,
                "the cut blob was not resumed with a Range request"
            );
        }
    }
}

#[test]
fn bearer_tokens_are_fetched_with_credentials_and_cached() {
    if !harness::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenService::start(dir.path(), "demo/token", USER, PASSWORD);
    let reg = Registry::start(
        Auth::Token,
        Some((&tokens.realm, token::SERVICE, &tokens.bundle)),
    );
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/token:1",
        &[],
    );
    let reference = format!("registry://{}/demo/token:1", reg.host());
    let empty = tempfile::tempdir().unwrap();
    let anonymous = bin()
        .env("DOCKER_CONFIG", empty.path())
        .env("REGISTRY_AUTH_FILE", empty.path().join("none.json"))
        .args(["--ci", "--no-secrets", "--no-cache", &reference])
        .output()
        .unwrap();
    assert_bad_input(&anonymous, "authentication required");
    let creds = format!("{USER}:{PASSWORD}");
    let before = tokens.requests.load(Ordering::SeqCst);
    let out = run(&["--json", "-", "--creds", &creds, &reference]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    // One token for the manifest, the config and every layer (fetched 4 at a time).
    assert_eq!(tokens.requests.load(Ordering::SeqCst) - before, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let archive = json_of(&["--json", "-", &fixture_str("oci-gzip.tar")]);
    assert_eq!(comparable(&report), comparable(&archive));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PASSWORD));

    // An identity token in the Docker config is exchanged as an OAuth2 refresh token.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        json!({"auths": {reg.host(): {"identitytoken": token::IDENTITY_TOKEN}}}).to_string(),
    )
    .unwrap();
    let identity = bin()
        .env("DOCKER_CONFIG", config.path())
        .args(["--json", "-", "--no-cache", &reference])
        .output()
        .unwrap();
    assert!(identity.status.success(), "{}", stderr_line(&identity));
    let report: Value = serde_json::from_slice(&identity.stdout).unwrap();
    assert_eq!(comparable(&report), comparable(&archive));
}

#[test]
fn a_second_run_reads_every_blob_from_the_cache() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-zstd.tar")),
        "demo/cached:1",
        &[],
    );
    let proxy = Proxy::start(reg.port, Fault::None);
    let reference = format!("registry://127.0.0.1:{}/demo/cached:1", proxy.port);
    let cache = tempfile::tempdir().unwrap();
    let cached = |args: &[&str]| {
        bin()
            .env("XDG_CACHE_HOME", cache.path())
            .args(args)
            .output()
            .unwrap()
    };
    // --ci leaves the cache alone unless asked.
    let ci = cached(&["--ci", "--no-secrets", &reference]);
    assert_ne!(ci.status.code(), Some(2), "{}", stderr_line(&ci));
    assert!(!cache.path().join("layerscope/blobs/sha256").exists());
    let first = cached(&["--json", "-", &reference]);
    assert!(first.status.success(), "{}", stderr_line(&first));
    let fetched = proxy.seen.blob_requests.load(Ordering::SeqCst);
    let manifests = proxy.seen.manifest_gets.load(Ordering::SeqCst);
    let second = cached(&["--json", "-", &reference]);
    assert!(second.status.success(), "{}", stderr_line(&second));
    assert_eq!(
        proxy.seen.blob_requests.load(Ordering::SeqCst),
        fetched,
        "the second run downloaded blobs"
    );
    assert_eq!(
        proxy.seen.manifest_gets.load(Ordering::SeqCst),
        manifests,
        "the second run downloaded the tag's manifest (a HEAD should have named a cached digest)"
    );
    assert_eq!(first.stdout, second.stdout);
    // cat reads the cached blob.
    let cat = cached(&["cat", &reference, "/home/ci/.netrc"]);
    assert!(cat.status.success(), "{}", stderr_line(&cat));
    assert_eq!(proxy.seen.blob_requests.load(Ordering::SeqCst), fetched);
    // A damaged entry is noticed and fetched again.
    let entries: Vec<_> = std::fs::read_dir(cache.path().join("layerscope/blobs/sha256"))
        .unwrap()
        .flatten()
        .collect();
    let biggest = entries
        .iter()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&biggest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&biggest, bytes).unwrap();
    let third = cached(&["--json", "-", &reference]);
    assert!(third.status.success(), "{}", stderr_line(&third));
    assert_eq!(proxy.seen.blob_requests.load(Ordering::SeqCst), fetched + 1);
    assert_eq!(first.stdout, third.stdout);
    // The tag moved: the HEAD names another digest, so the new manifest is fetched.
    reg.push(
        &format!("oci-archive:{}", fixture_str("oci-gzip.tar")),
        "demo/cached:1",
        &[],
    );
    let before = proxy.seen.manifest_gets.load(Ordering::SeqCst);
    let moved = cached(&["--json", "-", &reference]);
    assert!(moved.status.success(), "{}", stderr_line(&moved));
    assert!(proxy.seen.manifest_gets.load(Ordering::SeqCst) > before);
    assert_ne!(
        first.stdout, moved.stdout,
        "the moved tag read the old image"
    );
    let clean = cached(&["cache", "clean"]);
    assert!(clean.status.success(), "{}", stderr_line(&clean));
    assert!(!cache.path().join("layerscope/blobs").exists());
}

/// A token rejected mid-load (expired) is fetched again; blob redirects to storage on another host are
/// followed without the registry's `Authorization` header.
#[test]
fn expired_tokens_are_refreshed_and_redirects_drop_the_authorization() {
    if !harness::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenService::start(dir.path(), "demo/token", USER, PASSWORD);
    let reg = Registry::start(
        Auth::Token,
        Some((&tokens.realm, token::SERVICE, &tokens.bundle)),
    );
    let source = format!("oci-archive:{}", fixture_str("oci-gzip.tar"));
    reg.push(&source, "demo/token:1", &[]);
    let creds = format!("{USER}:{PASSWORD}");
    let challenge = format!(
        r#"Bearer realm="{}",service="{}",scope="repository:demo/token:pull""#,
        tokens.realm,
        token::SERVICE
    );
    let expiring = Proxy::start(reg.port, Fault::Unauthorized(challenge));
    let before = tokens.requests.load(Ordering::SeqCst);
    let reference = format!("registry://127.0.0.1:{}/demo/token:1", expiring.port);
    let out = run(&["--json", "-", "--creds", &creds, &reference]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert_eq!(expiring.seen.faults.load(Ordering::SeqCst), 1);
    assert_eq!(tokens.requests.load(Ordering::SeqCst) - before, 2);

    // Blob storage: a plain registry holding the same blobs, behind a front that counts Authorization headers.
    let storage = Registry::start(Auth::None, None);
    storage.push(&source, "demo/token:1", &[]);
    let storage_front = Proxy::start(storage.port, Fault::None);
    let redirecting = Proxy::start(
        reg.port,
        Fault::Redirect(format!("http://localhost:{}", storage_front.port)),
    );
    let reference = format!("registry://127.0.0.1:{}/demo/token:1", redirecting.port);
    let out = run(&["--json", "-", "--creds", &creds, &reference]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert!(storage_front.seen.blob_requests.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        storage_front.seen.authorized.load(Ordering::SeqCst),
        0,
        "the Authorization header went to another host"
    );
    assert!(redirecting.seen.authorized.load(Ordering::SeqCst) >= 1);
    let archive = json_of(&["--json", "-", &fixture_str("oci-gzip.tar")]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(comparable(&report), comparable(&archive));
}

#[test]
fn two_runs_at_once_share_the_cache() {
    if !harness::available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    reg.push(
        &format!("docker-archive:{}", fixture_str("docker-legacy.tar")),
        "demo/shared:1",
        &[],
    );
    let proxy = Proxy::start(reg.port, Fault::None);
    let reference = format!("registry://127.0.0.1:{}/demo/shared:1", proxy.port);
    let cache = tempfile::tempdir().unwrap();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"))
            .env_remove("CI")
            .env("XDG_CACHE_HOME", cache.path())
            .args(["--json", "-", "--no-secrets", &reference])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr_line(&a));
    assert!(b.status.success(), "{}", stderr_line(&b));
    assert_eq!(a.stdout, b.stdout);
    let fetched = proxy.seen.blob_requests.load(Ordering::SeqCst);
    let c = bin()
        .env("XDG_CACHE_HOME", cache.path())
        .args(["--json", "-", "--no-secrets", &reference])
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", stderr_line(&c));
    assert_eq!(c.stdout, a.stdout);
    assert_eq!(proxy.seen.blob_requests.load(Ordering::SeqCst), fetched);
    // No temporary file is left behind.
    let tmp = cache.path().join("layerscope/blobs/tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
}
