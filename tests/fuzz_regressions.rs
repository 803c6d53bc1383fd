//! Replays every committed fuzz input (fuzz/regressions/<target>/: crashes and timeouts the fuzz targets found;
//! fuzz/corpus/<target>/: the minimised corpora) through the entry points the targets call, with the stable
//! toolchain: none may panic or run past a time bound. Errors are fine: hostile input should be refused.

#[path = "../fuzz/src/lib.rs"]
mod fuzz_entry;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous for a debug build on a busy machine; a regression of a hang runs for minutes or forever.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Inputs whose fix lives elsewhere: skipped by the replay, each run by an ignored test of its own below.
const OPEN: &[(&str, &str)] = &[];

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
        Ok(()) => None,
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

fn replay(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for {target}");
    let failures: Vec<String> = files.iter().filter_map(|p| run(entry, p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
