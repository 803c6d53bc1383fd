//! An overlay layer directory (`overlay2/<cache-id>/diff`, containers-storage `overlay/<id>/diff`) read as a
//! layer: the same `LayerScan` a tar gives, with no tar produced. Whiteouts are character devices 0/0 (or
//! zero-size files with the `overlay.whiteout` xattr); opaque directories carry `trusted.overlay.opaque` or
//! `user.overlay.opaque` = "y"; hardlinks are files sharing an inode within the layer. Every regular file is read
//! once, in place, for its content digest (and the inspector and capture take their bytes from that read).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::file_digest::{FileDigest, FileHasher};
use crate::layer::{
    CAPTURE_LIMIT, EntryKind, Feed, LayerEntry, LayerScan, ScanError, ScanOptions, inspecting,
};

fn xattr_is(path: &Path, names: &[&str], values: &[&[u8]]) -> bool {
    names.iter().any(|n| {
        xattr::get(path, n)
            .ok()
            .flatten()
            .is_some_and(|v| values.contains(&v.as_slice()))
    })
}

fn is_opaque(path: &Path) -> bool {
    xattr_is(
        path,
        &["trusted.overlay.opaque", "user.overlay.opaque"],
        &[b"y", b"x"],
    )
}

fn is_xattr_whiteout(path: &Path) -> bool {
    ["trusted.overlay.whiteout", "user.overlay.whiteout"]
        .iter()
        .any(|n| xattr::get(path, n).ok().flatten().is_some())
}

/// Walks a layer directory in name order. `diff_id` is the one the store records (no tar exists to hash).
pub(crate) fn scan_dir(
    dir: &Path,
    diff_id: &str,
    opts: ScanOptions<'_>,
) -> Result<LayerScan, ScanError> {
    let mut scan = LayerScan {
        diff_id: diff_id.to_string(),
        ..LayerScan::default()
    };
    let (walked, hits) = inspecting(opts.inspector, None, |feed| {
        walk(dir, &opts, &mut scan, feed)
    });
    walked?;
    scan.hits = hits?;
    opts.progress.layer_done();
    Ok(scan)
}

/// The walk itself: entries into `scan`, regular files' bytes to the inspector's feed.
fn walk(
    dir: &Path,
    opts: &ScanOptions<'_>,
    scan: &mut LayerScan,
    mut feed: Option<&mut Feed<'_, '_>>,
) -> Result<(), ScanError> {
    let mut inodes: HashMap<(u64, u64), Box<[u8]>> = HashMap::new();
    let mut hasher = FileHasher::new();
    // The store checked `dir` is a real directory; the walk itself follows no link, the root's included.
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .follow_root_links(false)
        .sort_by_file_name();
    for item in walk {
        let item = item.map_err(|e| ScanError(format!("cannot read {}: {e}", dir.display())))?;
        let rel = match item.path().strip_prefix(dir) {
            Ok(r) if !r.as_os_str().is_empty() => r.as_os_str().as_bytes().to_vec(),
            _ => continue,
        };
        let meta = item
            .path()
            .symlink_metadata()
            .map_err(|e| ScanError(format!("cannot stat {}: {e}", item.path().display())))?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            scan.whiteouts.push(rel.into_boxed_slice());
            continue;
        }
        if ft.is_file() && meta.len() == 0 && is_xattr_whiteout(item.path()) {
            scan.whiteouts.push(rel.into_boxed_slice());
            continue;
        }
        if ft.is_dir() && is_opaque(item.path()) {
            scan.opaques.push(rel.clone().into_boxed_slice());
        }
        let (kind, link_target) = if ft.is_dir() {
            (EntryKind::Dir, None)
        } else if ft.is_symlink() {
            let target = std::fs::read_link(item.path()).map_err(|e| {
                ScanError(format!("cannot read link {}: {e}", item.path().display()))
            })?;
            (
                EntryKind::Symlink,
                Some(target.as_os_str().as_bytes().to_vec().into_boxed_slice()),
            )
        } else if ft.is_file() {
            match (meta.nlink() > 1)
                .then(|| inodes.get(&(meta.dev(), meta.ino())))
                .flatten()
            {
                Some(first) => (EntryKind::Hardlink, Some(first.clone())),
                None => {
                    if meta.nlink() > 1 {
                        inodes.insert((meta.dev(), meta.ino()), rel.clone().into_boxed_slice());
                    }
                    (EntryKind::File, None)
                }
            }
        } else if ft.is_fifo() {
            (EntryKind::Fifo, None)
        } else if ft.is_char_device() {
            (EntryKind::CharDevice, None)
        } else if ft.is_block_device() {
            (EntryKind::BlockDevice, None)
        } else {
            (EntryKind::Socket, None) // the one file type left
        };
        let size = if kind == EntryKind::File {
            meta.len()
        } else {
            0
        };
        let index = scan.entries.len() as u32;
        let digest = if kind == EntryKind::File {
            opts.progress.advance(size);
            read_file(
                item.path(),
                &rel,
                index,
                size,
                opts,
                scan,
                &mut feed,
                &mut hasher,
            )
            .map_err(|e| ScanError(format!("cannot read {}: {e}", item.path().display())))?
        } else {
            None
        };
        scan.entries.push(LayerEntry {
            path: rel.into_boxed_slice(),
            kind,
            size,
            mode: meta.mode() & 0o7777,
            uid: meta.uid() as u64,
            gid: meta.gid() as u64,
            mtime: meta.mtime().max(0) as u64,
            link_target,
            digest,
        });
    }
    Ok(())
}

/// Reads a regular file of the layer once, to its `size` (as stat saw it): its bytes go to the capture or the
/// inspector when wanted, and all of them to the content digest, which a sparse file does not get (`None`).
#[allow(clippy::too_many_arguments)]
fn read_file(
    at: &Path,
    rel: &[u8],
    index: u32,
    size: u64,
    opts: &ScanOptions<'_>,
    scan: &mut LayerScan,
    feed: &mut Option<&mut Feed<'_, '_>>,
    hasher: &mut FileHasher,
) -> std::io::Result<Option<FileDigest>> {
    let opened = File::open(at)?;
    // Holes read as zeros: a file of a few blocks may claim a terabyte. Beyond a slack of 1 MiB (inline data,
    // preallocation rounding), a file larger than its blocks is sparse and is not hashed.
    let sparse = opened
        .metadata()?
        .blocks()
        .saturating_mul(512)
        .saturating_add(1 << 20)
        < size;
    let mut file = hasher.file(opened.take(size));
    // A store is read again for the bytes of a large file; only small ones are kept.
    if size <= CAPTURE_LIMIT && opts.capture.is_some_and(|c| c == rel) {
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        scan.captured.push((index, data));
    }
    if let Some(feed) = feed.as_deref_mut()
        && let Some(limit) = feed.inspector().wants(rel, size)
    {
        let len = limit.min(size);
        match scan.captured.last() {
            Some((i, data)) if *i == index => feed.add(index, rel, &mut &data[..], len)?,
            _ => feed.add(index, rel, &mut file, len)?,
        }
    }
    if sparse {
        return Ok(None);
    }
    let digest = file.finish()?;
    scan.elf.extend(hasher.elf().map(|info| (index, info)));
    Ok(Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{ContentHit, ContentInspector};

    /// Wants the first 3 bytes of every file.
    struct Head;

    impl ContentInspector for Head {
        fn wants(&self, _path: &[u8], _size: u64) -> Option<u64> {
            Some(3)
        }
        fn inspect(&self, _path: &[u8], data: &[u8], hits: &mut Vec<ContentHit>) {
            hits.push(ContentHit {
                rule: 0,
                line: 0,
                text: String::from_utf8_lossy(data).into_owned(),
            });
        }
    }

    /// Files read in place get the digest of all their bytes, whether inspected, captured or neither.
    #[test]
    fn files_in_place_get_their_content_digest() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..400_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.path().join("big"), &big).unwrap();
        std::fs::write(dir.path().join("small"), b"hello").unwrap();
        std::os::unix::fs::symlink("small", dir.path().join("zlink")).unwrap();
        for inspector in [None, Some(&Head as &dyn ContentInspector)] {
            let opts = ScanOptions {
                capture: Some(b"small"),
                inspector,
                ..ScanOptions::default()
            };
            let scan = scan_dir(dir.path(), "sha256:x", opts).unwrap();
            let digests: Vec<Option<FileDigest>> = scan.entries.iter().map(|e| e.digest).collect();
            assert_eq!(
                digests,
                [
                    Some(FileDigest::of(&big)),
                    Some(FileDigest::of(b"hello")),
                    None
                ]
            );
            assert_eq!(scan.captured, vec![(1, b"hello".to_vec())]);
            if inspector.is_some() {
                let seen: Vec<&str> = scan.hits.iter().map(|(_, h)| h.text.as_str()).collect();
                assert_eq!(seen, ["\0\u{1}\u{2}", "hel"]);
            }
        }
    }

    /// An ELF binary read in place has its debug sections recorded by entry index, whether inspected or not.
    #[test]
    fn files_in_place_get_their_elf_debug_sections() {
        let dir = tempfile::tempdir().unwrap();
        let (elf, info) = crate::elf::sample();
        std::fs::write(dir.path().join("a.txt"), b"text").unwrap();
        std::fs::write(dir.path().join("bin"), &elf).unwrap();
        for inspector in [None, Some(&Head as &dyn ContentInspector)] {
            let opts = ScanOptions {
                inspector,
                ..ScanOptions::default()
            };
            let scan = scan_dir(dir.path(), "sha256:x", opts).unwrap();
            assert_eq!(scan.elf, [(1, info)]);
        }
    }

    /// A sparse file in place (a hole of a terabyte) is not read as zeros to hash it: it gets no digest.
    #[test]
    fn a_sparse_file_in_place_is_not_expanded() {
        let dir = tempfile::tempdir().unwrap();
        let huge = File::create(dir.path().join("huge")).unwrap();
        huge.set_len(1 << 40).unwrap();
        std::fs::write(dir.path().join("small"), b"ok").unwrap();
        let started = std::time::Instant::now();
        let scan = scan_dir(dir.path(), "sha256:x", ScanOptions::default()).unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let digests: Vec<(u64, Option<FileDigest>)> =
            scan.entries.iter().map(|e| (e.size, e.digest)).collect();
        assert_eq!(digests, [(1 << 40, None), (2, Some(FileDigest::of(b"ok")))]);
    }

    /// A store layer may hold sockets and FIFOs (a tar cannot hold a socket): each is listed as what it is.
    #[test]
    fn sockets_and_fifos_keep_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        let scan = scan_dir(dir.path(), "sha256:x", ScanOptions::default()).unwrap();
        let kinds: Vec<(&[u8], EntryKind)> =
            scan.entries.iter().map(|e| (&e.path[..], e.kind)).collect();
        assert_eq!(
            kinds,
            [
                (&b"pipe"[..], EntryKind::Fifo),
                (&b"sock"[..], EntryKind::Socket)
            ]
        );
    }
}
