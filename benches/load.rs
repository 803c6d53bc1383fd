//! Load-and-analyse benchmark on a generated image (no engine needed).
//!
//! `cargo bench --bench load` builds (once, cached under target/bench-images/) an image of
//! LAYERSCOPE_BENCH_MB megabytes of file content (default 512) in LAYERSCOPE_BENCH_FILES files (default 80000)
//! over LAYERSCOPE_BENCH_LAYERS layers (default 24), saved as a docker archive (uncompressed layers), an OCI
//! archive with gzip layers and one with zstd layers (LAYERSCOPE_BENCH_FORMATS=docker: the first only), then times open + scan + analyse for each (median of LAYERSCOPE_BENCH_RUNS runs, default 3),
//! without and with the secret scan, in alternating runs after one warm-up run.
//! `LAYERSCOPE_BENCH_WRITE_ONLY=1` only writes the images (for comparing with other tools by hand).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use layerscope::analysis;
use layerscope::layer::NoProgress;
use layerscope::secrets::{Ruleset, SecretScanner};
use layerscope::source::{self, LoadOptions, Selection};
use layerscope::tree::TreeView;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: [&str; 24] = [
    "the", "config", "value", "import", "return", "name", "function", "self", "data", "user",
    "path", "key", "if", "else", "for", "while", "error", "string", "list", "default", "http",
    "result", "int", "=",
];

/// Two files in three are text (source-like lines of words; about one line in fifty assigns a password or a
/// token, so secret-rule keywords hit regularly), the rest
/// binary (half random, half zero bytes): the secret scanner has real text to read.
fn content(rng: &mut Rng, size: usize) -> Vec<u8> {
    if rng.next().is_multiple_of(3) {
        let mut data = vec![0u8; size];
        for chunk in data.chunks_mut(64).step_by(2) {
            for b in chunk.iter_mut() {
                *b = rng.next() as u8;
            }
        }
        return data;
    }
    let mut data = Vec::with_capacity(size + 16);
    while data.len() < size {
        let r = rng.next();
        data.extend_from_slice(WORDS[(r % WORDS.len() as u64) as usize].as_bytes());
        if r.is_multiple_of(11) {
            // One line in about fifty assigns a password or a token, as configuration and code do.
            if r % 50 < 1 {
                data.extend_from_slice(b" password = hunter2\n token: abc123\n");
            }
            data.push(b'\n');
        } else {
            data.push(b' ');
        }
    }
    data.truncate(size);
    data
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Layer tars: file counts and sizes spread over layers; every fifth layer deletes or overwrites earlier files.
fn layers(total_bytes: u64, files: u64, count: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_layer = files / count;
    let avg = (total_bytes / files.max(1)).max(1);
    (0..count)
        .map(|l| {
            let mut b = tar::Builder::new(Vec::new());
            for f in 0..per_layer {
                let dir = format!("usr/share/pkg{:03}/d{:02}", (l * 7 + f / 500) % 400, f % 50);
                let size = if f % 100 == 0 {
                    avg * 40
                } else {
                    (rng.next() % (avg * 2 * 60 / 100)) + 1
                } as usize;
                let mut h = tar::Header::new_gnu();
                h.set_size(size as u64);
                h.set_mode(0o644);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(
                    &mut h,
                    format!("{dir}/l{l}f{f}.bin"),
                    &content(&mut rng, size)[..],
                )
                .unwrap();
                if l % 5 == 4 && f % 10 == 0 {
                    let mut h = tar::Header::new_gnu();
                    h.set_size(0);
                    // Every numeric field filled in, as real tars have them: some readers refuse empty ones.
                    h.set_mode(0o644);
                    h.set_uid(0);
                    h.set_gid(0);
                    h.set_mtime(0);
                    h.set_entry_type(tar::EntryType::Regular);
                    let victim = format!(
                        "usr/share/pkg{:03}/d{:02}/.wh.l{}f{f}.bin",
                        ((l - 1) * 7 + f / 500) % 400,
                        f % 50,
                        l - 1
                    );
                    b.append_data(&mut h, victim, &[][..]).unwrap();
                }
            }
            b.into_inner().unwrap()
        })
        .collect()
}

/// Creation time in the config and its history: some tools refuse a config without one.
const CREATED: &str = "2024-01-01T00:00:00Z";

fn config(layers: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let history: Vec<_> = (0..layers.len())
        .map(|i| json!({"created": CREATED, "created_by": format!("/bin/sh -c step {i}")}))
        .collect();
    serde_json::to_vec(
        &json!({"architecture": "amd64", "os": "linux", "created": CREATED,
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}),
    )
    .unwrap()
}

fn append(b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
}

fn write_docker(path: &Path, layers: &[Vec<u8>]) {
    let cfg = config(layers);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("{i:04}/layer.tar");
        append(&mut b, &p, l);
        paths.push(p);
    }
    append(&mut b, "config.json", &cfg);
    let manifest = json!([{"Config": "config.json", "RepoTags": ["bench:1"], "Layers": paths}]);
    append(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.finish().unwrap();
}

fn write_oci(path: &Path, layers: &[Vec<u8>], zstd: bool) {
    let cfg = config(layers);
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut descs = Vec::new();
    for l in layers {
        let blob = if zstd {
            zstd::encode_all(&l[..], 3).unwrap()
        } else {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(l).unwrap();
            e.finish().unwrap()
        };
        let d = sha(&blob);
        append(&mut b, &format!("blobs/sha256/{}", &d[7..]), &blob);
        let media = if zstd { "tar+zstd" } else { "tar+gzip" };
        descs.push(json!({"mediaType": format!("application/vnd.oci.image.layer.v1.{media}"), "digest": d, "size": blob.len()}));
    }
    let cd = sha(&cfg);
    append(&mut b, &format!("blobs/sha256/{}", &cd[7..]), &cfg);
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cfg.len()}, "layers": descs}))
    .unwrap();
    let md = sha(&manifest);
    append(&mut b, &format!("blobs/sha256/{}", &md[7..]), &manifest);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "bench:1"}}]});
    append(&mut b, "index.json", &serde_json::to_vec(&index).unwrap());
    append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    b.finish().unwrap();
}

fn images(mb: u64, files: u64, count: u64) -> Vec<(&'static str, PathBuf)> {
    let layers_part = if count == 24 {
        String::new()
    } else {
        format!("-{count}l")
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "target/bench-images/v4-{mb}mb-{files}f{layers_part}"
    ));
    let mut out = vec![
        ("docker-archive (tar layers)", dir.join("docker.tar")),
        ("oci-archive (gzip layers)", dir.join("oci-gzip.tar")),
        ("oci-archive (zstd layers)", dir.join("oci-zstd.tar")),
    ];
    if std::env::var("LAYERSCOPE_BENCH_FORMATS").is_ok_and(|f| f == "docker") {
        out.truncate(1);
    }
    if out.iter().all(|(_, p)| p.exists()) {
        return out;
    }
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!(
        "generating {mb} MB / {files} files / {count} layers in {}",
        dir.display()
    );
    let l = layers(mb * 1_000_000, files, count);
    write_docker(&out[0].1, &l);
    if out.len() == 3 {
        write_oci(&out[1].1, &l, false);
        write_oci(&out[2].1, &l, true);
    }
    out
}

fn main() {
    let mb = env_num("LAYERSCOPE_BENCH_MB", 512);
    let files = env_num("LAYERSCOPE_BENCH_FILES", 80_000);
    let runs = env_num("LAYERSCOPE_BENCH_RUNS", 3).max(1);
    let count = env_num("LAYERSCOPE_BENCH_LAYERS", 24).max(1);
    let imgs = images(mb, files, count);
    if std::env::var_os("LAYERSCOPE_BENCH_WRITE_ONLY").is_some() {
        for (_, p) in &imgs {
            println!("{}", p.display());
        }
        return;
    }
    println!("image: {mb} MB of files, {files} files, {count} layers; median of {runs} runs");
    let scanner: Arc<SecretScanner> = Arc::new(SecretScanner::new(
        Ruleset::builtin().expect("built-in rules compile"),
        layerscope::secrets::settings::DEFAULT_MAX_FILE_BYTES,
    ));
    for (name, path) in &imgs {
        // One run to bring the archive into the page cache, then plain and scanned runs alternate, so drift in
        // the machine's speed touches both alike; the overhead is the median of the paired ratios.
        run_once(path, None);
        let mut plain = Vec::new();
        let mut scanned = Vec::new();
        let mut ratios = Vec::new();
        for _ in 0..runs {
            let p = run_once(path, None);
            let s = run_once(path, Some(scanner.clone()));
            ratios.push(s.0.as_secs_f64() / p.0.as_secs_f64());
            plain.push(p);
            scanned.push(s);
        }
        let plain = median(plain);
        let scanned = median(scanned);
        ratios.sort_by(f64::total_cmp);
        let size = std::fs::metadata(path).unwrap().len();
        println!(
            "{name:<30} {:>7.2} s  ({:>5.0} MB/s of archive; tree+waste+listing {:>6.1} ms; {})",
            plain.0.as_secs_f64(),
            size as f64 / 1e6 / plain.0.as_secs_f64(),
            plain.1.as_secs_f64() * 1e3,
            plain.2
        );
        println!(
            "{:<30} {:>7.2} s  with the secret scan: +{:.0} % (paired runs: {:+.0} % to {:+.0} %; {})",
            "",
            scanned.0.as_secs_f64(),
            (ratios[ratios.len() / 2] - 1.0) * 100.0,
            (ratios[0] - 1.0) * 100.0,
            (ratios[ratios.len() - 1] - 1.0) * 100.0,
            scanned.2
        );
    }
}

/// The run of median wall time.
fn median(mut runs: Vec<(Duration, Duration, String)>) -> (Duration, Duration, String) {
    runs.sort_by_key(|r| r.0);
    runs.swap_remove(runs.len() / 2)
}

/// Wall time of one load + analyse (+ secrets), the analysis part of it, and a summary.
fn run_once(path: &Path, scanner: Option<Arc<SecretScanner>>) -> (Duration, Duration, String) {
    let start = Instant::now();
    let opts = LoadOptions {
        selection: Selection {
            verify: true,
            ..Selection::default()
        },
        inspector: scanner
            .clone()
            .map(|s| s as Arc<dyn layerscope::layer::ContentInspector + Send>),
        ..LoadOptions::default()
    };
    let loaded = source::open(path.to_str().unwrap())
        .and_then(|s| s.load(&opts, &NoProgress))
        .unwrap();
    let mid = Instant::now();
    let a = analysis::analyze(&loaded.image, 1);
    let top = TreeView::at_layer(&a.tree, a.layers.len() as u32 - 1)
        .merged(false)
        .len();
    let found = scanner.as_ref().map_or(0, |s| {
        let settings = layerscope::secrets::SecretSettings::default();
        layerscope::secrets::collect(&loaded.image, &a.tree, s, &settings, false)
            .findings
            .len()
    });
    let analysis_time = mid.elapsed();
    (
        start.elapsed(),
        analysis_time,
        format!(
            "{top} paths at top, {} wasted, {found} findings",
            a.waste.wasted_bytes
        ),
    )
}
