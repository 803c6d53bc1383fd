//! Tests of a layer's scan: entries, digests, whiteouts, and what a content inspector is given.

use super::read::scan_blob_with;
use super::*;
use crate::compression::Compression;
use crate::file_digest::FileDigest;
use sha2::{Digest, Sha256};
use std::io::Write;

#[test]
fn a_layer_progress_names_its_layer_in_every_report() {
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);
    impl Progress for Recorder {
        fn advance(&self, bytes: u64) {
            self.0.lock().unwrap().push(format!("advance {bytes}"));
        }
        fn layer_started(&self, layer: &str, bytes: Option<u64>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {layer} {bytes:?}"));
        }
        fn layer_advance(&self, layer: &str, bytes: u64) {
            self.0.lock().unwrap().push(format!("{layer} +{bytes}"));
        }
        fn layer_finished(&self, layer: &str) {
            self.0.lock().unwrap().push(format!("end {layer}"));
        }
    }
    let recorder = Recorder::default();
    let blob = tar_of(&[("a", b"hello")]);
    {
        let named = LayerProgress::start(&recorder, "blobs/sha256/ab", Some(blob.len() as u64));
        let opts = ScanOptions {
            progress: &named,
            ..ScanOptions::default()
        };
        scan_blob(&blob[..], opts).unwrap();
    }
    let seen = recorder.0.into_inner().unwrap();
    assert_eq!(
        seen[0],
        format!("start blobs/sha256/ab Some({})", blob.len())
    );
    assert_eq!(seen.last().unwrap(), "end blobs/sha256/ab");
    let total: u64 = seen
        .iter()
        .filter_map(|l| l.strip_prefix("blobs/sha256/ab +"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, blob.len() as u64);
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("advance")).count(),
        seen.iter().filter(|l| l.contains(" +")).count()
    );
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[test]
fn plain_tar_diff_id_equals_blob_digest() {
    let t = tar_of(&[("a/b.txt", b"hello")]);
    let scan = scan_blob(&t[..], ScanOptions::default()).unwrap();
    assert_eq!(scan.diff_id, sha(&t));
    assert_eq!(scan.blob_digest, sha(&t));
    assert_eq!(scan.entries.len(), 1);
    assert_eq!(&*scan.entries[0].path, b"a/b.txt");
    assert_eq!(scan.entries[0].size, 5);
}

#[test]
fn gzip_layer_hashes_both_sides() {
    let t = tar_of(&[("x", b"12345")]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&t).unwrap();
    let gz = enc.finish().unwrap();
    let scan = scan_blob(&gz[..], ScanOptions::default()).unwrap();
    assert_eq!(scan.diff_id, sha(&t));
    assert_eq!(scan.blob_digest, sha(&gz));
    assert_eq!(scan.compression, Some(Compression::Gzip));
}

#[test]
fn whiteouts_and_opaque_markers_are_classified() {
    let t = tar_of(&[
        ("etc/.wh.passwd", b""),
        ("srv/.wh..wh..opq", b""),
        (".wh..wh.plnk", b""),
        ("srv/new", b"n"),
    ]);
    let scan = scan_blob(&t[..], ScanOptions::default()).unwrap();
    assert_eq!(
        scan.whiteouts,
        vec![b"etc/passwd".to_vec().into_boxed_slice()]
    );
    assert_eq!(scan.opaques, vec![b"srv".to_vec().into_boxed_slice()]);
    assert_eq!(scan.entries.len(), 1);
}

#[test]
fn truncated_tar_is_an_error_not_a_panic() {
    let t = tar_of(&[("big", &[7u8; 4096])]);
    let err = scan_blob(&t[..1000], ScanOptions::default()).unwrap_err();
    assert!(err.0.contains("tar") || err.0.contains("EOF"), "{err}");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let err = scan_blob(&[0x1f, 0x8b, 8, 0, 1, 2, 3, 4][..], ScanOptions::default()).unwrap_err();
    assert!(err.0.contains("gzip"), "{err}");
}

#[test]
fn captured_bytes_are_kept_for_the_asked_path() {
    let t = tar_of(&[("a", b"first"), ("b", b"second")]);
    let opts = ScanOptions {
        capture: Some(b"b"),
        ..ScanOptions::default()
    };
    let scan = scan_blob(&t[..], opts).unwrap();
    assert_eq!(scan.captured, vec![(1, b"second".to_vec())]);
    let mut first = Vec::new();
    copy_entry(&t[..], 0, &mut first, None, Limits::default()).unwrap();
    assert_eq!(first, b"first");
}

/// Kinds are told apart; a PAX global header is no entry, for the scan and for re-reading an entry alike.
#[test]
fn member_types_map_to_kinds_and_global_headers_are_skipped() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind) in [
        ("pax_global_header", tar::EntryType::XGlobalHeader),
        ("fifo", tar::EntryType::Fifo),
        ("chr", tar::EntryType::Char),
        ("blk", tar::EntryType::Block),
        ("odd", tar::EntryType::new(b'Z')),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(2);
        b.append_data(&mut h, name, &b"ab"[..]).unwrap();
    }
    let t = b.into_inner().unwrap();
    let scan = scan_blob(&t[..], ScanOptions::default()).unwrap();
    let kinds: Vec<(&str, EntryKind, u64)> = scan
        .entries
        .iter()
        .map(|e| (std::str::from_utf8(&e.path).unwrap(), e.kind, e.size))
        .collect();
    assert_eq!(
        kinds,
        [
            ("fifo", EntryKind::Fifo, 0),
            ("chr", EntryKind::CharDevice, 0),
            ("blk", EntryKind::BlockDevice, 0),
            ("odd", EntryKind::File, 2),
        ]
    );
    let mut odd = Vec::new();
    copy_entry(&t[..], 3, &mut odd, None, Limits::default()).unwrap();
    assert_eq!(odd, b"ab");
    assert_eq!(
        serde_json::to_value(EntryKind::CharDevice).unwrap(),
        EntryKind::CharDevice.name()
    );
}

/// Reports what it was given: the length and the first and last bytes of each file it inspects.
struct Recorder;

impl ContentInspector for Recorder {
    fn wants(&self, path: &[u8], _size: u64) -> Option<u64> {
        (!path.starts_with(b"skip")).then_some(300_000)
    }
    fn probe_len(&self) -> u64 {
        16
    }
    fn wants_rest(&self, head: &[u8]) -> bool {
        !head.contains(&0)
    }
    fn inspect(&self, path: &[u8], data: &[u8], hits: &mut Vec<ContentHit>) {
        // Slow enough that the reading thread finds the inspector's thread busy and inspects batches too.
        std::thread::sleep(std::time::Duration::from_millis(2));
        hits.push(ContentHit {
            rule: data.len() as u32,
            line: 0,
            text: format!(
                "{} {:?}",
                String::from_utf8_lossy(path),
                (data.first(), data.last())
            ),
        });
    }
}

/// Wants every byte of every file.
struct Greedy;

impl ContentInspector for Greedy {
    fn wants(&self, _path: &[u8], _size: u64) -> Option<u64> {
        Some(u64::MAX)
    }
    fn inspect(&self, _path: &[u8], data: &[u8], hits: &mut Vec<ContentHit>) {
        hits.push(ContentHit {
            rule: data.len() as u32,
            line: 0,
            text: String::new(),
        });
    }
}

/// A header claiming a terabyte over a few bytes of data is an error, not an attempt to allocate a terabyte.
#[test]
fn a_huge_claimed_size_is_not_allocated() {
    let mut t = tar_of(&[("big", &[b'x'; 600])]);
    let mut header = tar::Header::new_gnu();
    header.set_path("big").unwrap();
    header.set_size(1 << 40);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    t[..512].copy_from_slice(header.as_bytes());
    for beside in [false, true] {
        let opts = ScanOptions {
            inspector: Some(&Greedy),
            ..ScanOptions::default()
        };
        let err = scan_blob_with(&t[..], opts, Some(beside)).unwrap_err();
        assert!(err.0.contains("big") || err.0.contains("tar"), "{err}");
    }
}

/// The inspector sees the same bytes whether it runs on the reading thread or on its own, in batches.
#[test]
fn inspection_is_the_same_inline_and_beside() {
    let big: Vec<u8> = (0..900_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut binary = vec![b'x'; 5000];
    binary[3] = 0;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("small".into(), b"hello".to_vec()),
        ("skip/me".into(), b"not wanted".to_vec()),
        ("binary".into(), binary),
        ("empty".into(), Vec::new()),
        ("capped".into(), big.clone()),
    ];
    // Enough text to fill several batches.
    for i in 0..40 {
        files.push((format!("many/{i}"), big[..60_000 + i].to_vec()));
    }
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let t = tar_of(&entries);
    let opts = ScanOptions {
        capture: Some(b"small"),
        inspector: Some(&Recorder),
        ..ScanOptions::default()
    };
    let inline = scan_blob_with(&t[..], opts, Some(false)).unwrap();
    let beside = scan_blob_with(&t[..], opts, Some(true)).unwrap();
    assert_eq!(inline.hits, beside.hits);
    assert_eq!(inline.diff_id, beside.diff_id);
    assert_eq!(inline.captured, vec![(0, b"hello".to_vec())]);
    let seen: Vec<(u32, u32)> = inline.hits.iter().map(|(i, h)| (*i, h.rule)).collect();
    // small (5 bytes), binary (the probe only), empty (size 0: still offered), capped (at the limit), many.
    assert_eq!(&seen[..4], &[(0, 5), (2, 16), (3, 0), (4, 300_000)]);
    assert_eq!(seen.len(), 4 + 40);
    assert_eq!(seen[4 + 39], (4 + 40, 60_039));
    assert!(inline.hits[3].1.text.starts_with("capped (Some(97), Some("));
    // Captured, probed, partly inspected or skipped: every file's digest covers all of its bytes.
    for scan in [&inline, &beside] {
        for (entry, (_, data)) in scan.entries.iter().zip(&files) {
            assert_eq!(entry.digest, Some(FileDigest::of(data)), "{entry:?}");
        }
    }
}

/// A sparse member claiming a terabyte over a few stored bytes is not read as a terabyte of zeros to hash
/// it: it gets no digest, and the scan ends at once.
#[test]
fn a_sparse_file_gets_no_digest_and_is_not_expanded() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(0);
    h.set_mode(0o644);
    let gnu = h.as_gnu_mut().unwrap();
    gnu.sparse[0].set_offset(1 << 40);
    gnu.sparse[0].set_length(0);
    gnu.set_real_size(1 << 40);
    h.set_path("huge").unwrap();
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "after", &b"ok"[..]).unwrap();
    let t = b.into_inner().unwrap();
    let started = std::time::Instant::now();
    let scan = scan_blob(&t[..], ScanOptions::default()).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let entries: Vec<(&[u8], u64, Option<FileDigest>)> = scan
        .entries
        .iter()
        .map(|e| (&e.path[..], e.size, e.digest))
        .collect();
    assert_eq!(
        entries,
        [
            (&b"huge"[..], 1 << 40, None),
            (&b"after"[..], 2, Some(FileDigest::of(b"ok")))
        ]
    );
}

/// An entry with its digest stays small: a layer of a million files holds a million of them.
#[test]
fn an_entry_with_its_digest_fits_in_112_bytes() {
    assert!(std::mem::size_of::<LayerEntry>() <= 112);
}

/// Regular files get the digest of their bytes, in a gzip layer too; other kinds get none.
#[test]
fn every_regular_file_gets_its_content_digest() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("a", &b"same"[..]),
        ("b", b"same"),
        ("c", b"other"),
        ("e", b""),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "link", "a").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "hard", "c").unwrap();
    let t = b.into_inner().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&t).unwrap();
    let gz = enc.finish().unwrap();
    for blob in [&t[..], &gz[..]] {
        let scan = scan_blob(blob, ScanOptions::default()).unwrap();
        let digests: Vec<Option<FileDigest>> = scan.entries.iter().map(|e| e.digest).collect();
        let same = Some(FileDigest::of(b"same"));
        assert_eq!(
            digests,
            [
                same,
                same,
                Some(FileDigest::of(b"other")),
                Some(FileDigest::of(b"")),
                None,
                None
            ]
        );
        // The digests take nothing from the diff_id: the tar is still hashed whole.
        assert_eq!(scan.diff_id, sha(&t));
    }
}

/// Without digests (`--no-verify`) the layer is read the same, file digests included, but neither side of the
/// blob is hashed: both sha256 digests stay empty.
#[test]
fn a_scan_without_digests_leaves_both_sha256_empty() {
    let t = tar_of(&[("a", b"hello"), ("b/c", b"world")]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&t).unwrap();
    let gz = enc.finish().unwrap();
    for blob in [&t[..], &gz[..]] {
        let opts = ScanOptions {
            digests: false,
            ..ScanOptions::default()
        };
        let scan = scan_blob(blob, opts).unwrap();
        let full = scan_blob(blob, ScanOptions::default()).unwrap();
        assert_eq!((scan.diff_id.as_str(), scan.blob_digest.as_str()), ("", ""));
        assert_eq!(full.diff_id, sha(&t));
        let paths = |s: &LayerScan| {
            s.entries
                .iter()
                .map(|e| (e.path.clone(), e.size, e.digest))
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(&scan), paths(&full));
        assert_eq!(
            (scan.blob_size, scan.uncompressed_size),
            (blob.len() as u64, t.len() as u64)
        );
    }
}

/// Read ahead on a thread of its own or all on one, a layer yields the same scan, in every compression, and the
/// same error when its data is corrupt.
#[test]
fn a_layer_reads_the_same_with_and_without_spare_cores() {
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 241) as u8).collect();
    let t = tar_of(&[("a", b"hello"), ("big", &big), ("z/last", b"end")]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&t).unwrap();
    let gz = enc.finish().unwrap();
    let zst = zstd::encode_all(&t[..], 1).unwrap();
    let summary = |s: &LayerScan| {
        let entries: Vec<_> = s
            .entries
            .iter()
            .map(|e| (e.path.clone(), e.size, e.digest))
            .collect();
        (
            entries,
            s.diff_id.clone(),
            s.blob_digest.clone(),
            s.blob_size,
            s.uncompressed_size,
        )
    };
    for blob in [&t[..], &gz[..], &zst[..]] {
        let one = scan_blob_with(blob, ScanOptions::default(), Some(false)).unwrap();
        let two = scan_blob_with(blob, ScanOptions::default(), Some(true)).unwrap();
        assert_eq!(summary(&one), summary(&two));
        assert_eq!(two.diff_id, sha(&t));
        assert_eq!(two.blob_digest, sha(blob));
    }
    let mut broken = gz.clone();
    let middle = broken.len() / 2;
    broken[middle..middle + 64].fill(0xff);
    for spare in [false, true] {
        let err = scan_blob_with(&broken[..], ScanOptions::default(), Some(spare)).unwrap_err();
        assert!(err.0.starts_with("gzip layer: "), "{err}");
    }
    let truncated = &t[..t.len() / 2];
    for spare in [false, true] {
        let err = scan_blob_with(truncated, ScanOptions::default(), Some(spare)).unwrap_err();
        assert!(err.0.contains("tar"), "{err}");
    }
}

/// When the parser fails early (here: a path over the limit), the thread reading ahead stops too rather than
/// read and hash the rest of the layer.
#[test]
fn a_failed_parse_stops_the_reading_ahead() {
    struct Counted<'a>(&'a [u8], &'a std::sync::atomic::AtomicUsize);
    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }
    let filler = vec![b'x'; 64 << 20];
    let t = tar_of(&[(&"d/".repeat(40), b"x"), ("filler", &filler)]);
    let read = std::sync::atomic::AtomicUsize::new(0);
    let opts = ScanOptions {
        limits: Limits {
            path_bytes: 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let err = scan_blob_with(Counted(&t, &read), opts, Some(true)).unwrap_err();
    assert!(err.0.contains("path"), "{err}");
    assert!(read.into_inner() < 16 << 20);
}
