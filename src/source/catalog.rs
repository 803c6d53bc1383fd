//! A catalog is the set of named files an image archive or layout holds (`manifest.json`, `index.json`,
//! `blobs/sha256/...`, `<id>/layer.tar`), whatever holds them: a directory, a tar file read in place, or a stream.
//! Format resolution reads metadata through it and asks it for scanned layers, so every container format is
//! resolved by one piece of code.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::beneath::{self, Beneath};
use crate::bounded_tar;
use crate::compression::Compression;
use crate::error::{Error, Result};
use crate::layer::{self, LayerScan, ScanError, ScanOptions};
use crate::limits::Limits;
use crate::path;

/// Metadata files larger than this are refused (an image config is a few KiB; an index a few MiB at most).
pub(crate) const META_LIMIT: u64 = 64 * 1024 * 1024;

pub(crate) trait Catalog: Sync {
    /// The input as the user named it, for messages.
    fn origin(&self) -> &str;
    /// A directory (OCI layout on disk) rather than an archive.
    fn is_directory(&self) -> bool {
        false
    }
    /// Whether every blob read is checked against its digest even with `--no-verify` (network content).
    fn checks_content(&self) -> bool {
        false
    }
    /// Compression of the whole archive, when it had one.
    fn archive_compression(&self) -> Option<Compression> {
        None
    }
    fn contains(&self, key: &str) -> bool;
    /// The size of a stored file, when known before reading it.
    fn size_of(&self, key: &str) -> Option<u64>;
    /// A small file's bytes (manifests, indexes, configs).
    fn read_meta(&self, key: &str) -> Result<Vec<u8>>;
    /// The scanned layer stored under `key`.
    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError>;
    /// Reads a stored file again from its start, when the catalog allows random access.
    fn reopen(&self, key: &str) -> Option<Result<Box<dyn Read + Send + '_>>>;
    /// A few of the names it holds, to say what was found when nothing is recognised.
    fn sample_names(&self) -> Vec<String>;
}

/// Normalises a key as written in a manifest or a tar header: `./blobs//sha256/x` -> `blobs/sha256/x`.
pub(crate) fn key(raw: &[u8]) -> String {
    String::from_utf8_lossy(&path::normalize(raw)).into_owned()
}

fn missing(origin: &str, key: &str) -> Error {
    Error::Missing {
        archive: origin.to_string(),
        path: key.to_string(),
        hint: String::new(),
    }
}

/// A failed open of a stored file: missing (said as such), or another I/O error naming the file.
pub(crate) fn open_error(origin: &str, key: &str, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => missing(origin, key),
        _ => Error::io(format!("{origin}: {key}"), e),
    }
}

/// Reads a metadata file, refusing it past [`META_LIMIT`] bytes actually read (never trusting a claimed size).
fn read_limited(origin: &str, key: &str, reader: impl Read) -> Result<Vec<u8>> {
    beneath::read_at_most(reader, META_LIMIT).map_err(|e| Error::io(format!("{origin}: {key}"), e))
}

/// An OCI layout (or an unpacked `docker save`) in a directory. Every file is opened through [`Beneath`]: only
/// regular files inside the directory, whatever symlinks it holds.
pub(crate) struct DirCatalog {
    origin: String,
    root: PathBuf,
    dir: Beneath,
}

impl DirCatalog {
    pub(crate) fn new(origin: &str, root: &Path) -> Result<DirCatalog> {
        Ok(DirCatalog {
            origin: origin.to_string(),
            root: root.to_path_buf(),
            dir: Beneath::open(root).map_err(|e| Error::io(origin, e))?,
        })
    }

    fn open(&self, key: &str) -> Result<File> {
        // Keys are normalised (no `..`); the open itself keeps symlinks from leading out.
        self.dir
            .file(self::key(key.as_bytes()).as_bytes())
            .map_err(|e| open_error(&self.origin, key, e))
    }
}

impl Catalog for DirCatalog {
    fn origin(&self) -> &str {
        &self.origin
    }
    fn is_directory(&self) -> bool {
        true
    }
    fn contains(&self, key: &str) -> bool {
        // Present but refused (a FIFO, a link out) counts as present, so reading it says why it was refused.
        !matches!(self.open(key), Err(Error::Missing { .. }))
    }
    fn size_of(&self, key: &str) -> Option<u64> {
        self.open(key).ok()?.metadata().ok().map(|m| m.len())
    }
    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        read_limited(&self.origin, key, self.open(key)?)
    }
    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        let file = self
            .open(key)
            .map_err(|e| ScanError(format!("cannot open: {e}")))?;
        layer::scan_blob(file, opts).map(Arc::new)
    }
    fn reopen(&self, key: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        Some(self.open(key).map(|f| Box::new(f) as Box<dyn Read + Send>))
    }
    fn sample_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.root)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.truncate(8);
        names
    }
}

#[derive(Debug, Clone)]
enum TarItem {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// A plain tar file read in place: one pass over its headers records where each member's bytes start, then
/// members are read with independent file handles, so layers decode in parallel.
pub(crate) struct TarCatalog {
    origin: String,
    file: PathBuf,
    items: HashMap<String, TarItem>,
    order: Vec<String>,
}

impl TarCatalog {
    pub(crate) fn index(origin: &str, file: &Path, limits: &Limits) -> Result<TarCatalog> {
        let handle = File::open(file).map_err(|e| Error::io(origin, e))?;
        let mut archive = bounded_tar::archive(handle, limits);
        let bad = |e: std::io::Error| Error::reading(origin, e, "corrupt or truncated tar");
        let mut items = HashMap::new();
        let mut order = Vec::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = key(&entry.path_bytes());
            let item = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => TarItem::Data {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink => match entry.link_name_bytes() {
                    Some(target) => TarItem::Link(resolve_link(&name, &target)),
                    None => continue,
                },
                tar::EntryType::Link => match entry.link_name_bytes() {
                    Some(target) => TarItem::Link(key(&target)),
                    None => continue,
                },
                _ => continue,
            };
            order.push(name.clone());
            items.insert(name, item);
        }
        let len = std::fs::metadata(file)
            .map_err(|e| Error::io(origin, e))?
            .len();
        for item in items.values() {
            if let TarItem::Data { offset, size } = item
                && offset.saturating_add(*size) > len
            {
                return Err(Error::invalid(
                    origin,
                    "truncated tar: a member runs past the end of the file",
                ));
            }
        }
        Ok(TarCatalog {
            origin: origin.to_string(),
            file: file.to_path_buf(),
            items,
            order,
        })
    }

    fn locate(&self, key: &str) -> Option<(u64, u64)> {
        let mut name = key.to_string();
        for _ in 0..16 {
            match self.items.get(&name)? {
                TarItem::Data { offset, size } => return Some((*offset, *size)),
                TarItem::Link(target) => name = target.clone(),
            }
        }
        None
    }

    fn open_member(&self, key: &str) -> Result<(Box<dyn Read + Send>, u64)> {
        let (offset, size) = self.locate(key).ok_or_else(|| missing(&self.origin, key))?;
        let mut file = File::open(&self.file).map_err(|e| Error::io(&self.origin, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&self.origin, e))?;
        Ok((Box::new(file.take(size)), size))
    }
}

/// A symlink inside an archive points relative to its own directory (`../abc/layer.tar`).
pub(crate) fn resolve_link(name: &str, target: &[u8]) -> String {
    if target.starts_with(b"/") {
        return key(target);
    }
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    key(&[dir.as_bytes(), b"/", target].concat())
}

impl Catalog for TarCatalog {
    fn origin(&self) -> &str {
        &self.origin
    }
    fn contains(&self, key: &str) -> bool {
        self.locate(key).is_some()
    }
    fn size_of(&self, key: &str) -> Option<u64> {
        self.locate(key).map(|(_, size)| size)
    }
    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        let (reader, _) = self.open_member(key)?;
        read_limited(&self.origin, key, reader)
    }
    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        let (reader, _) = self
            .open_member(key)
            .map_err(|e| ScanError(e.to_string()))?;
        layer::scan_blob(reader, opts).map(Arc::new)
    }
    fn reopen(&self, key: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        Some(self.open_member(key).map(|(r, _)| r))
    }
    fn sample_names(&self) -> Vec<String> {
        self.order.iter().take(8).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_symlinks_resolve_relative_to_their_directory() {
        assert_eq!(
            resolve_link("abc/layer.tar", b"../def/layer.tar"),
            "def/layer.tar"
        );
        assert_eq!(resolve_link("layer.tar", b"/x/y"), "x/y");
    }

    #[test]
    fn keys_are_normalised() {
        assert_eq!(key(b"./blobs//sha256/ab"), "blobs/sha256/ab");
        assert_eq!(key(b"../../etc/passwd"), "etc/passwd");
    }
}
