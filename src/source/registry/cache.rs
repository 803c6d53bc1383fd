//! A content-addressed cache of registry blobs (`<cache dir>/blobs/sha256/<hex>`): written while a blob
//! streams from the network (to a private temporary file, renamed into place only when the whole blob matched
//! its digest, so two processes never see a partial entry), verified by digest on every read (by hashing it
//! first, or, for a layer, by the scan that hashes what it reads; a bad entry is dropped and the blob fetched
//! again), and kept under a size cap by evicting the least recently used entries
//! (use refreshes a file's modification time).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::oci::Digest;

/// The cache's size cap unless configured otherwise.
pub const DEFAULT_CACHE_MAX: u64 = 10 * 1024 * 1024 * 1024;

/// `$XDG_CACHE_HOME/layerscope`, else `~/.cache/layerscope`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    xdg.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("layerscope"))
}

/// Removes every cached blob; returns the bytes freed.
pub fn clean(dir: &Path) -> io::Result<u64> {
    let blobs = dir.join("blobs");
    let freed = entries(&blobs).iter().map(|(_, size, _)| size).sum();
    match fs::remove_dir_all(&blobs) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(freed),
    }
}

/// Every cached blob: (path, size, last use).
fn entries(blobs: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let Ok(algorithms) = fs::read_dir(blobs) else {
        return Vec::new();
    };
    algorithms
        .flatten()
        .filter(|a| a.file_name() != "tmp")
        .filter_map(|a| fs::read_dir(a.path()).ok())
        .flat_map(|files| files.flatten())
        .filter_map(|f| {
            let meta = f.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    f.path(),
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                )
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
pub(crate) struct BlobCache {
    blobs: PathBuf,
    max_bytes: u64,
}

impl BlobCache {
    pub(crate) fn new(dir: &Path, max_bytes: u64) -> BlobCache {
        BlobCache {
            blobs: dir.join("blobs"),
            max_bytes,
        }
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.blobs
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// The cached blob, verified against its digest first (a bad entry is removed).
    pub(crate) fn open(&self, digest: &Digest) -> Option<File> {
        let mut file = self.open_unchecked(digest)?;
        let path = self.path(digest);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hex::encode(hasher.finalize()) != digest.hex() {
            let _ = fs::remove_file(&path);
            return None;
        }
        File::open(&path).ok()
    }

    /// The cached blob, unchecked: the caller hashes what it reads and calls [`BlobCache::remove`] on a
    /// mismatch. Marks the entry as used.
    pub(crate) fn open_unchecked(&self, digest: &Digest) -> Option<File> {
        if !digest.verifiable() {
            return None;
        }
        let file = File::open(self.path(digest)).ok()?;
        let _ = file.set_modified(SystemTime::now());
        Some(file)
    }

    pub(crate) fn remove(&self, digest: &Digest) {
        let _ = fs::remove_file(self.path(digest));
    }

    /// Wraps a network reader so that what passes is written to the cache; the entry appears only if the
    /// reader is read to its end and the bytes match `digest`.
    pub(crate) fn tee<R: Read>(&self, digest: &Digest, inner: R) -> Tee<R> {
        let temp = (|| {
            if !digest.verifiable() {
                return None;
            }
            let tmp = self.blobs.join("tmp");
            fs::create_dir_all(&tmp).ok()?;
            sweep_stale(&tmp);
            let file = tempfile::NamedTempFile::new_in(&tmp).ok()?;
            Some((file, self.path(digest)))
        })();
        Tee {
            inner,
            temp,
            hasher: Sha256::new(),
            digest: digest.clone(),
            cache: self.clone(),
        }
    }

    /// Stores bytes already in memory (manifests, configs) whose digest was checked.
    pub(crate) fn store(&self, digest: &Digest, data: &[u8]) {
        let mut tee = self.tee(digest, data);
        let _ = io::copy(&mut tee, &mut io::sink());
    }

    /// Evicts the least recently used entries until the cache fits its cap.
    fn evict(&self) {
        let mut all = entries(&self.blobs);
        let mut total: u64 = all.iter().map(|(_, size, _)| size).sum();
        if total <= self.max_bytes {
            return;
        }
        all.sort_by_key(|(_, _, used)| *used);
        for (path, size, _) in all {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
    }
}

/// A temporary file nobody wrote to for this long was left by a process that ended mid-download (a quit
/// during the load exits without unwinding the loading thread). A live download writes as bytes arrive, so its
/// file is never this old; were it removed anyway, its writer keeps the open file and only the entry is lost.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files of downloads that ended without finishing (see [`STALE_TEMP`]).
fn sweep_stale(tmp: &Path) {
    let Ok(files) = fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for f in files.flatten() {
        let stale = f
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > STALE_TEMP);
        if stale {
            let _ = fs::remove_file(f.path());
        }
    }
}

/// A reader that copies what it reads into a cache entry (see [`BlobCache::tee`]).
pub(crate) struct Tee<R> {
    inner: R,
    /// The temporary file and the entry's final path; `None` once given up (write error) or finished.
    temp: Option<(tempfile::NamedTempFile, PathBuf)>,
    hasher: Sha256,
    digest: Digest,
    cache: BlobCache,
}

impl<R> Tee<R> {
    fn finish(&mut self) {
        let Some((file, target)) = self.temp.take() else {
            return;
        };
        let actual = hex::encode(self.hasher.clone().finalize());
        if actual != self.digest.hex() {
            return; // dropped with the temporary file
        }
        let placed = target
            .parent()
            .is_some_and(|dir| fs::create_dir_all(dir).is_ok())
            && file.persist(&target).is_ok();
        if placed {
            self.cache.evict();
        }
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.finish();
            return Ok(0);
        }
        if let Some((file, _)) = &mut self.temp {
            self.hasher.update(&buf[..n]);
            if file.write_all(&buf[..n]).is_err() {
                self.temp = None; // a full disk costs the cache entry, not the analysis
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_appears_only_when_the_whole_blob_matched() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path(), u64::MAX);
        let good = Digest::sha256_of(b"layer bytes");
        let mut partial = cache.tee(&good, &b"layer bytes"[..]);
        let mut first = [0u8; 4];
        partial.read_exact(&mut first).unwrap();
        drop(partial);
        assert!(cache.open(&good).is_none(), "a partial read made an entry");
        let mut wrong = cache.tee(&good, &b"other bytes"[..]);
        io::copy(&mut wrong, &mut io::sink()).unwrap();
        assert!(cache.open(&good).is_none(), "wrong bytes made an entry");
        cache.store(&good, b"layer bytes");
        let mut back = Vec::new();
        cache.open(&good).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"layer bytes");
    }

    #[test]
    fn temporary_files_left_by_an_ended_download_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path(), u64::MAX);
        let tmp = dir.path().join("blobs").join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let (left, live) = (tmp.join(".tmpLEFT"), tmp.join(".tmpLIVE"));
        std::fs::write(&left, b"half a blob").unwrap();
        std::fs::write(&live, b"a blob arriving").unwrap();
        let old = SystemTime::now() - STALE_TEMP - std::time::Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&left)
            .unwrap()
            .set_modified(old)
            .unwrap();
        cache.store(&Digest::sha256_of(b"x"), b"x");
        assert!(!left.exists(), "a stale temporary file was kept");
        assert!(live.exists(), "a live download's file was removed");
    }

    #[test]
    fn a_corrupted_entry_is_dropped_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path(), u64::MAX);
        let d = Digest::sha256_of(b"abc");
        cache.store(&d, b"abc");
        std::fs::write(cache.path(&d), b"abd").unwrap();
        assert!(cache.open(&d).is_none());
        assert!(!cache.path(&d).exists());
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path(), 10);
        let (a, b, c) = (
            Digest::sha256_of(b"aaaa"),
            Digest::sha256_of(b"bbbb"),
            Digest::sha256_of(b"cccc"),
        );
        cache.store(&a, b"aaaa");
        cache.store(&b, b"bbbb");
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(cache.path(&b))
            .unwrap()
            .set_modified(old)
            .unwrap();
        // a is used again; c pushes the total over 10 bytes: b, the oldest, goes.
        assert!(cache.open(&a).is_some());
        cache.store(&c, b"cccc");
        assert!(cache.open(&b).is_none());
        assert!(cache.open(&a).is_some() && cache.open(&c).is_some());
        assert_eq!(clean(dir.path()).unwrap(), 8);
        assert!(cache.open(&a).is_none());
    }
}
