//! Replays every committed fuzz input (fuzz/regressions/<target>/: crashes and timeouts the fuzz targets found;
//! fuzz/corpus/<target>/: the minimised corpora) through the entry points the targets call, with the stable
//! toolchain: none may panic, run past a time bound or take the process past a memory bound (the limits the fuzz
//! targets run with). Errors are fine: hostile input should be refused.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_entry;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous for a debug build on a busy machine; a regression of a hang runs for minutes or forever.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The fuzz runs' -rss_limit_mb; checked against the process's peak, which other tests' inputs stay far below.
const MEMORY_LIMIT_KB: u64 = 1024 * 1024;

/// Inputs that once crashed, hung or blew up memory: each is run by a test of its own below, which names the
/// defect, rather than by the bulk replay.
const OPEN: &[(&str, &str)] = &[
    ("archive", "deep-path-listing"),
    ("archive", "zstd-gnu-longname-256m"),
    ("archive", "zstd-many-large-members"),
    ("config_file", "dive-ci-deep-flow-nesting"),
    ("layer", "zstd-gnu-longname-512m"),
    ("layer", "zstd-pax-path-512m"),
    ("manifests", "nested-index-fanout"),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["regressions", "corpus"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d).join(target)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !OPEN.contains(&(target, name))
        })
        .collect();
    files.sort();
    files
}

/// Runs one input on a thread of its own; the reason it failed, if it did.
fn run(entry: fn(&[u8]), path: &Path) -> Option<String> {
    let data = std::fs::read(path).expect("read a committed fuzz input");
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let worker = std::thread::spawn(move || {
        entry(&data);
        let _ = tx.send(());
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(()) => peak_rss_kb()
            .filter(|&kb| kb > MEMORY_LIMIT_KB)
            .map(|kb| format!("{}: peak memory {} MiB", path.display(), kb / 1024)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            Some(format!("{}: panicked", path.display()))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Some(format!(
            "{}: still running after {:?}",
            path.display(),
            start.elapsed()
        )),
    }
}

/// The process's peak resident memory (VmHWM), on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn replay(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for {target}");
    let failures: Vec<String> = files.iter().filter_map(|p| run(entry, p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn replay_open(target: &str, name: &str, entry: fn(&[u8])) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target)
        .join(name);
    if let Some(failure) = run(entry, &path) {
        panic!("{failure}");
    }
}

#[test]
fn archive_inputs_never_panic_or_hang() {
    replay("archive", fuzz_entry::archive);
}

#[test]
fn layer_inputs_never_panic_or_hang() {
    replay("layer", fuzz_entry::layer);
}

#[test]
fn manifest_inputs_never_panic_or_hang() {
    replay("manifests", fuzz_entry::manifests);
}

#[test]
fn config_file_inputs_never_panic_or_hang() {
    replay("config_file", fuzz_entry::config_file);
}

#[test]
fn secrets_inputs_never_panic_or_hang() {
    replay("secrets", fuzz_entry::secrets);
}

#[test]
fn containerd_inputs_never_panic_or_hang() {
    replay("containerd", fuzz_entry::containerd);
}

#[test]
fn registry_inputs_never_panic_or_hang() {
    replay("registry", fuzz_entry::registry);
}

/// Eight index levels, each listing the next ten times: the walk visits 10^8 leaves (a 30 KB archive hangs).
#[test]
fn nested_index_fanout_finishes() {
    replay_open("manifests", "nested-index-fanout", fuzz_entry::manifests);
}

/// A 40 KB zstd archive of twenty 60 MiB members that are not layers: the stream reader keeps each one whole
/// as metadata (1.3 GB resident); two hundred would take 12 GB.
#[test]
fn streamed_archive_memory_is_bounded() {
    replay_open("archive", "zstd-many-large-members", fuzz_entry::archive);
}

/// A member named by a 256 MiB GNU long-name header in an 8 KB zstd archive: read whole, copied into keys and
/// the error text (1.3 GB resident, 43 s in a release build).
#[test]
fn archive_long_name_header_is_bounded() {
    replay_open("archive", "zstd-gnu-longname-256m", fuzz_entry::archive);
}

/// A 16 KB zstd layer whose only entry has a 512 MiB GNU long name: 1.3 GB resident.
#[test]
fn layer_long_name_header_is_bounded() {
    replay_open("layer", "zstd-gnu-longname-512m", fuzz_entry::layer);
}

/// A 16 KB zstd layer whose only entry has a 512 MiB PAX path record: over 10 s under the fuzzer.
#[test]
fn layer_pax_header_is_bounded() {
    replay_open("layer", "zstd-pax-path-512m", fuzz_entry::layer);
}

/// An 86 KB image holding one file 40,000 directories deep: the `ls` listing holds every directory's full path
/// at once (at 25,000 deep `layerscope ls` prints 626 MB and needs 1.4 GB resident and 11 s).
#[test]
fn deep_path_listing_is_bounded() {
    replay_open("archive", "deep-path-listing", fuzz_entry::archive);
}

/// A 200 KB `.dive-ci` of 100,000 nested flow sequences (`rules: [[[...]]]`): the YAML parser takes 34 s in a
/// release build (quadratic), and the file is read from the working directory without being asked for.
#[test]
fn dive_ci_deep_nesting_is_refused_quickly() {
    replay_open(
        "config_file",
        "dive-ci-deep-flow-nesting",
        fuzz_entry::config_file,
    );
}
