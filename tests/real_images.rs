//! Images built by real engines (Docker 20.10 and podman, committed under tests/fixtures/real, rebuilt by
//! scripts/build-fixtures.sh) in every format they save: identical reports, and numbers that match
//! independent truth (a per-layer tally of the tars and the final filesystem from `docker export`).
//!
//! With LAYERSCOPE_LIVE_FIXTURES=DIR (set by .ci/run after rebuilding the images), the same checks run on
//! the freshly built images too.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const DOCKER_FORMATS: [&str; 4] = [
    "docker-legacy.tar",
    "docker25.tar",
    "oci-gzip.tar",
    "oci-zstd.tar",
];
const PODMAN_FORMATS: [&str; 2] = ["podman-docker-archive.tar", "podman-oci-archive.tar"];

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real")
}

fn dirs() -> Vec<PathBuf> {
    let mut dirs = vec![committed()];
    if let Some(live) = std::env::var_os("LAYERSCOPE_LIVE_FIXTURES") {
        dirs.push(PathBuf::from(live));
    } else if std::env::var_os("LAYERSCOPE_REQUIRE_ENGINES").is_some() {
        panic!("LAYERSCOPE_REQUIRE_ENGINES is set but LAYERSCOPE_LIVE_FIXTURES is not");
    }
    dirs
}

fn report(path: &Path) -> Value {
    json_of(&["--json", "-", path.to_str().unwrap()])
}

fn counts(r: &Value) -> Vec<(u64, u64, u64)> {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["added"].as_u64().unwrap(),
                l["modified"].as_u64().unwrap(),
                l["deleted"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn docker_built_image_is_identical_in_every_format() {
    for dir in dirs() {
        let first = report(&dir.join(DOCKER_FORMATS[0]));
        let tree = json_of(&[
            "ls",
            dir.join(DOCKER_FORMATS[0]).to_str().unwrap(),
            "--json",
        ]);
        for f in &DOCKER_FORMATS[1..] {
            let r = report(&dir.join(f));
            // skopeo rewrites the config (same history and diff_ids, other digest): compare the rest.
            let (mut a, mut b) = (comparable(&first), comparable(&r));
            a["config_digest"] = Value::Null;
            b["config_digest"] = Value::Null;
            assert_eq!(a, b, "{}: {f} differs", dir.display());
            let t = json_of(&["ls", dir.join(f).to_str().unwrap(), "--json"]);
            assert_eq!(t, tree, "{}: {f} final tree differs", dir.display());
        }
    }
}

#[test]
fn podman_built_image_is_identical_in_both_formats() {
    for dir in dirs() {
        let a = report(&dir.join(PODMAN_FORMATS[0]));
        let b = report(&dir.join(PODMAN_FORMATS[1]));
        let (mut a, mut b) = (comparable(&a), comparable(&b));
        a["config_digest"] = Value::Null;
        b["config_digest"] = Value::Null;
        assert_eq!(a, b, "{}", dir.display());
    }
}

/// Numbers tallied independently from the layer tars of the demo image (see the fixture script): the same
/// for the Docker and the podman build, whose layers hold the same files.
#[test]
fn numbers_match_the_independent_tally() {
    for dir in dirs() {
        for f in DOCKER_FORMATS.iter().chain(&PODMAN_FORMATS) {
            let r = report(&dir.join(f));
            assert_eq!(r["image"]["size_bytes"], 5_654_537, "{f}");
            assert_eq!(r["image"]["layer_count"], 7, "{f}");
            // Wasted: the 3 MiB cache, .netrc, id_rsa (under a deleted dir), style.css and index.html v1
            // (opaque dir), app.conf v2 (overwritten). app.conf v1 lives on as app.conf.bak (hardlink).
            assert_eq!(r["waste"]["wasted_bytes"], 3_147_719, "{f}");
            let c = counts(&r);
            assert_eq!(
                &c[2..],
                &[(2, 0, 0), (2, 0, 0), (1, 0, 1), (0, 1, 2), (1, 2, 1)],
                "{f}"
            );
            let reasons: Vec<(String, String)> = r["waste"]["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| {
                    (
                        w["path"].as_str().unwrap().into(),
                        w["reason"].as_str().unwrap().into(),
                    )
                })
                .collect();
            for expected in [
                ("/tmp/build-cache.img", "deleted"),
                ("/home/ci/.ssh/id_rsa", "hidden"),
                ("/home/ci/.netrc", "deleted"),
                ("/srv/app/static/style.css", "hidden"),
                ("/srv/app/static/index.html", "hidden"),
                ("/srv/app/app.conf", "overwritten"),
            ] {
                assert!(
                    reasons.contains(&(expected.0.into(), expected.1.into())),
                    "{f}: {expected:?} not in {reasons:?}"
                );
            }
            assert_eq!(reasons.len(), 6, "{f}: {reasons:?}");
            // Every Dockerfile instruction is visible, cleaned, with its layer.
            let all: Vec<String> = r["layers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|l| {
                    l["instructions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_string())
                })
                .collect();
            assert!(
                all.iter().any(|i| i.starts_with("ENV APP_ENV=production")),
                "{f}: {all:?}"
            );
            assert!(all.iter().any(|i| i == "WORKDIR /srv/app"), "{f}: {all:?}");
            assert!(
                all.iter()
                    .any(|i| i.starts_with("COPY file:") && i.ends_with(" /home/ci/.ssh/id_rsa")),
                "{f}"
            );
            assert_eq!(
                r["layers"][4]["instruction"]
                    .as_str()
                    .unwrap()
                    .split(" 2>")
                    .next()
                    .unwrap(),
                "RUN dd if=/dev/zero of=/tmp/build-cache.img bs=1048576 count=3",
                "{f}"
            );
        }
    }
}

/// The final tree equals the filesystem `docker export` gives for a container of the image.
#[test]
fn final_tree_matches_docker_export() {
    for dir in dirs() {
        let expected = std::fs::read_to_string(dir.join("docker-export.txt")).unwrap();
        let mut expected: Vec<&str> = expected.lines().collect();
        expected.sort();
        for f in DOCKER_FORMATS {
            let got = export_lines(dir.join(f).to_str().unwrap(), |_| true);
            assert_eq!(got, expected, "{}: {f}", dir.display());
        }
    }
}

#[test]
fn cat_reads_a_deleted_secret_back_from_a_real_image() {
    let path = committed().join("oci-zstd.tar");
    let out = run(&["cat", path.to_str().unwrap(), "/home/ci/.netrc"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("machine api.example.com"));
}

/// The demo's leaks, found with where they came and went, the same from every engine and format.
#[test]
fn demo_secrets_are_found_in_every_format() {
    for dir in dirs() {
        for f in DOCKER_FORMATS.iter().chain(&PODMAN_FORMATS) {
            let path = dir.join(f);
            let findings = json_of(&["secrets", "--json", "-", path.to_str().unwrap()]);
            let findings = findings.as_array().unwrap();
            let get = |rule: &str, location: &str| {
                findings
                    .iter()
                    .find(|x| x["rule"] == rule && x["location"] == location)
                    .unwrap_or_else(|| panic!("{f}: no {rule} in {location}: {findings:#?}"))
            };
            let key = get("private-key-openssh", "file");
            assert_eq!(
                (
                    key["layer"].as_u64(),
                    key["status"].as_str(),
                    key["removed_in"].as_u64()
                ),
                (Some(2), Some("removed"), Some(4)),
                "{f}"
            );
            assert!(
                key["instruction"]
                    .as_str()
                    .unwrap()
                    .starts_with("COPY file:"),
                "{f}"
            );
            let netrc = get("netrc-password", "file");
            assert_eq!(
                (
                    netrc["layer"].as_u64(),
                    netrc["status"].as_str(),
                    netrc["removed_in"].as_u64()
                ),
                (Some(3), Some("removed"), Some(5)),
                "{f}"
            );
            let stripe = get("stripe-secret-key", "file");
            assert_eq!(
                (stripe["layer"].as_u64(), stripe["status"].as_str()),
                (Some(6), Some("visible")),
                "{f}"
            );
            assert_eq!(get("gitlab-pat", "history")["status"], "visible", "{f}");
            let all = serde_json::to_string(findings).unwrap();
            for secret in [
                "glpat-AXPX6LYbMJGeCI8m6XEH",
                "jvWDm38YOh9Mjvcn",
                "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ",
            ] {
                assert!(!all.contains(secret), "{f}: {secret} in clear");
            }
        }
    }
}
