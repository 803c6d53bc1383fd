//! Test fixtures made in code: layer tars (with the tar crate, including hostile names), image configs, and
//! whole images written as docker save archives (legacy and Docker 25+), OCI layouts and OCI archives.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

pub fn hexof(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// One entry of a layer tar.
#[derive(Clone)]
pub enum Ent {
    File(&'static str, Vec<u8>),
    Dir(&'static str),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Whiteout(&'static str),
    Opaque(&'static str),
    /// A file whose header name is written byte for byte (no validation): `../x`, non-UTF-8...
    RawName(Vec<u8>, Vec<u8>),
    /// A file whose name travels in a PAX `path` record.
    Pax(String, Vec<u8>),
    /// A file with a name made at run time (over 100 bytes: in a GNU long-name member).
    Named(String, Vec<u8>),
    /// An old-GNU sparse file claiming this many bytes, all a hole (no data in the tar).
    Sparse(&'static str, u64),
    /// A member of any other type (FIFO, device, PAX global header...), without data.
    Typed(&'static str, tar::EntryType),
}

pub fn file(path: &'static str, data: &[u8]) -> Ent {
    Ent::File(path, data.to_vec())
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn raw_name(h: &mut tar::Header, name: &[u8]) {
    let gnu = h.as_gnu_mut().expect("gnu header");
    gnu.name = [0; 100];
    gnu.name[..name.len()].copy_from_slice(name);
    h.set_cksum();
}

/// An uncompressed layer tar.
pub fn layer(entries: &[Ent]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Ent::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            Ent::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                b.append_data(&mut h, format!("{}/", p.trim_end_matches('/')), &[][..])
                    .unwrap();
            }
            Ent::Symlink(p, t) => {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777);
                b.append_link(&mut h, p, t).unwrap();
            }
            Ent::Hardlink(p, t) => {
                let mut h = header(tar::EntryType::Link, 0, 0o644);
                b.append_link(&mut h, p, t).unwrap();
            }
            Ent::Whiteout(p) => {
                let (dir, name) = p.rsplit_once('/').map_or(("", *p), |(d, n)| (d, n));
                let wh = if dir.is_empty() {
                    format!(".wh.{name}")
                } else {
                    format!("{dir}/.wh.{name}")
                };
                let mut h = header(tar::EntryType::Regular, 0, 0o600);
                b.append_data(&mut h, wh, &[][..]).unwrap();
            }
            Ent::Opaque(dir) => {
                let mut h = header(tar::EntryType::Regular, 0, 0o600);
                let name = if dir.is_empty() {
                    ".wh..wh..opq".to_string()
                } else {
                    format!("{dir}/.wh..wh..opq")
                };
                b.append_data(&mut h, name, &[][..]).unwrap();
            }
            Ent::Named(p, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            Ent::Sparse(p, size) => {
                let mut h = header(tar::EntryType::GNUSparse, 0, 0o644);
                let gnu = h.as_gnu_mut().expect("gnu header");
                gnu.sparse[0].set_offset(*size);
                gnu.sparse[0].set_length(0);
                gnu.set_real_size(*size);
                h.set_path(p).unwrap();
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            Ent::Typed(p, kind) => {
                let mut h = header(*kind, 0, 0o640);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Ent::RawName(name, data) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
                raw_name(&mut h, name);
                b.append(&h, &data[..]).unwrap();
            }
            Ent::Pax(name, data) => {
                let record = pax_record("path", name);
                let mut ph = tar::Header::new_ustar();
                ph.set_entry_type(tar::EntryType::XHeader);
                ph.set_size(record.len() as u64);
                ph.set_path("PaxHeaders/x").unwrap();
                ph.set_cksum();
                b.append(&ph, record.as_bytes()).unwrap();
                let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
                raw_name(&mut h, b"placeholder");
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    loop {
        let candidate = format!("{len}{body}");
        if candidate.len() == len {
            return candidate;
        }
        len = candidate.len();
    }
}

/// A tar of named files (the outer archive).
pub fn tar_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn compress(data: &[u8], comp: Comp) -> Vec<u8> {
    match comp {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
    }
}

/// An image: layer tars (uncompressed), history and platform.
#[derive(Clone)]
pub struct Img {
    pub tag: &'static str,
    pub layers: Vec<Vec<u8>>,
    pub history: Vec<(String, bool)>,
    pub arch: &'static str,
}

impl Img {
    /// History with one RUN step per layer.
    pub fn new(tag: &'static str, layers: Vec<Vec<u8>>) -> Img {
        let history = (0..layers.len())
            .map(|i| (format!("/bin/sh -c step {i}"), false))
            .collect();
        Img {
            tag,
            layers,
            history,
            arch: "amd64",
        }
    }

    pub fn arch(mut self, arch: &'static str) -> Img {
        self.arch = arch;
        self
    }

    pub fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self.layers.iter().map(|l| sha256(l)).collect();
        let history: Vec<Value> = self
            .history
            .iter()
            .map(|(by, empty)| {
                if *empty {
                    json!({"created_by": by, "empty_layer": true})
                } else {
                    json!({"created_by": by})
                }
            })
            .collect();
        serde_json::to_vec(&json!({
            "architecture": self.arch,
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }))
        .unwrap()
    }
}

/// `docker save` legacy layout (Docker <= 24) of several images.
pub fn docker_legacy(images: &[Img]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut manifest = Vec::new();
    for img in images {
        let config = img.config();
        let id = hexof(&sha256(&config)).to_string();
        let mut layer_paths = Vec::new();
        for (i, l) in img.layers.iter().enumerate() {
            let dir = hexof(&sha256(&[id.as_bytes(), &[i as u8]].concat())).to_string();
            files.push((format!("{dir}/VERSION"), b"1.0".to_vec()));
            files.push((format!("{dir}/layer.tar"), l.clone()));
            layer_paths.push(format!("{dir}/layer.tar"));
        }
        files.push((format!("{id}.json"), config));
        manifest.push(
            json!({"Config": format!("{id}.json"), "RepoTags": [img.tag], "Layers": layer_paths}),
        );
    }
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    files
}

pub struct Blobs(pub Vec<(String, Vec<u8>)>);

impl Blobs {
    pub fn add(&mut self, data: Vec<u8>) -> (String, usize) {
        let digest = sha256(&data);
        let size = data.len();
        let name = format!("blobs/sha256/{}", hexof(&digest));
        if !self.0.iter().any(|(n, _)| *n == name) {
            self.0.push((name, data));
        }
        (digest, size)
    }
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn layer_media(comp: Comp) -> &'static str {
    match comp {
        Comp::None => "application/vnd.oci.image.layer.v1.tar",
        Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// Writes an image manifest (and its config and layers) into `blobs`; returns its descriptor.
pub fn oci_manifest(blobs: &mut Blobs, img: &Img, comp: Comp) -> Value {
    let (config_digest, config_size) = blobs.add(img.config());
    let layers: Vec<Value> = img
        .layers
        .iter()
        .map(|l| {
            let (d, s) = blobs.add(compress(l, comp));
            json!({"mediaType": layer_media(comp), "digest": d, "size": s})
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    let (digest, size) = blobs.add(serde_json::to_vec(&manifest).unwrap());
    json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
           "platform": {"os": "linux", "architecture": img.arch}})
}

fn annotated(mut desc: Value, tag: &str) -> Value {
    desc["annotations"] = json!({
        "io.containerd.image.name": format!("docker.io/library/{tag}"),
        "org.opencontainers.image.ref.name": tag.rsplit(':').next().unwrap_or(tag),
    });
    desc
}

/// An OCI image layout holding `images`, one top-level entry each.
pub fn oci_layout(images: &[Img], comp: Comp) -> Vec<(String, Vec<u8>)> {
    let mut blobs = Blobs(Vec::new());
    let manifests: Vec<Value> = images
        .iter()
        .map(|img| annotated(oci_manifest(&mut blobs, img, comp), img.tag))
        .collect();
    finish_layout(blobs, manifests)
}

/// An OCI layout whose one entry is a nested multi-platform index (with an attestation manifest, and
/// optionally a platform whose blobs are absent, as in containerd-store saves).
pub fn oci_multi_platform(
    images: &[Img],
    comp: Comp,
    absent: Option<&str>,
) -> Vec<(String, Vec<u8>)> {
    let mut blobs = Blobs(Vec::new());
    let mut entries: Vec<Value> = images
        .iter()
        .map(|img| oci_manifest(&mut blobs, img, comp))
        .collect();
    let attestation = blobs.add(b"{\"schemaVersion\":2,\"layers\":[]}".to_vec());
    entries.push(
        json!({"mediaType": OCI_MANIFEST, "digest": attestation.0, "size": attestation.1,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}),
    );
    if let Some(arch) = absent {
        entries.push(json!({"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", "e".repeat(64)), "size": 10,
            "platform": {"os": "linux", "architecture": arch}}));
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let (digest, size) = blobs.add(serde_json::to_vec(&index).unwrap());
    let top = annotated(
        json!({"mediaType": OCI_INDEX, "digest": digest, "size": size}),
        images[0].tag,
    );
    finish_layout(blobs, vec![top])
}

fn finish_layout(blobs: Blobs, manifests: Vec<Value>) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "index.json".to_string(),
            serde_json::to_vec(
                &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
            )
            .unwrap(),
        ),
    ];
    files.extend(blobs.0);
    files
}

/// The Docker 25+ `docker save` layout: an OCI layout with uncompressed blobs plus a manifest.json into it.
pub fn docker25(img: &Img) -> Vec<(String, Vec<u8>)> {
    let mut files = oci_layout(std::slice::from_ref(img), Comp::None);
    let config = img.config();
    let manifest = json!([{
        "Config": format!("blobs/sha256/{}", hexof(&sha256(&config))),
        "RepoTags": [img.tag],
        "Layers": img.layers.iter().map(|l| format!("blobs/sha256/{}", hexof(&sha256(l)))).collect::<Vec<_>>(),
    }]);
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&manifest).unwrap(),
    ));
    files
}

pub fn write_dir(files: &[(String, Vec<u8>)], dir: &Path) {
    for (name, data) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_string_lossy().into_owned()
}

/// The binary, with an environment the tests control: no colour, and no `CI` (which turns `--ci` on, and which
/// CI services set for everything they run); a test that wants it sets it.
pub fn bin() -> Command {
    Command::from_std(std_bin())
}

/// [`bin`] as a `std::process::Command`, for tests that drive the process's pipes themselves.
pub fn std_bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"));
    c.env("NO_COLOR", "1").env_remove("CI");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Runs in `dir` (where `.layerscope.toml` is read from).
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

/// Runs and parses stdout as JSON, asserting success.
pub fn json_of(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The report fields that must not depend on the format an image was saved in.
pub fn comparable(report: &Value) -> Value {
    let layers: Vec<Value> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            json!({"diff_id": l["diff_id"], "size_bytes": l["size_bytes"], "added": l["added"],
                   "modified": l["modified"], "deleted": l["deleted"], "instruction": l["instruction"]})
        })
        .collect();
    json!({
        "size_bytes": report["image"]["size_bytes"],
        "layer_count": report["image"]["layer_count"],
        "config_digest": report["image"]["config_digest"],
        "layers": layers,
        "waste": report["waste"],
    })
}

pub fn stderr_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Asserts exit code 2 with one clear line on stderr mentioning `needle`, and no panic.
pub fn assert_bad_input(out: &Output, needle: &str) {
    let err = stderr_line(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// The final tree of an image (`ls --json`) as `docker export` would list it: "<type> <size> <path>", sorted;
/// a hardlink is a file's second name, directories have size 0. `keep` filters paths.
pub fn export_lines(image: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let rows = json_of(&["ls", image, "--json"]);
    let mut lines: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| keep(r["path"].as_str().unwrap()))
        .map(|r| {
            let kind = match r["type"].as_str().unwrap() {
                "hardlink" => "file",
                k => k,
            };
            let size = if kind == "file" {
                r["size"].as_u64().unwrap()
            } else {
                0
            };
            format!("{kind} {size} {}", r["path"].as_str().unwrap())
        })
        .collect();
    lines.sort();
    lines
}
