//! One layer blob, read exactly once: the entries and whiteout markers it holds, the digests of both of its sides,
//! and what a content inspector found in its files. The tar reading lives in `read`, the hand-over of files'
//! bytes to a content inspector (on the reading thread or a thread of its own) in `feed`.

mod ahead;
mod feed;
mod read;
#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};

use serde::Serialize;

use crate::compression::Compression;
use crate::file_digest::FileDigest;
use crate::limits::Limits;

pub(crate) use feed::{Feed, inspecting};
pub use read::{copy_entry, scan_blob};

/// What a layer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    CharDevice,
    BlockDevice,
    /// Only in engine stores read in place: a tar has no socket type.
    Socket,
}

impl EntryKind {
    /// The name in JSON (`char-device`).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Hardlink => "hardlink",
            EntryKind::Fifo => "fifo",
            EntryKind::CharDevice => "char-device",
            EntryKind::BlockDevice => "block-device",
            EntryKind::Socket => "socket",
        }
    }

    /// A FIFO, a device or a socket: a node that holds no bytes and links nowhere.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            EntryKind::Fifo | EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Socket
        )
    }

    /// The kind in a sentence: `a character device`.
    pub fn phrase(self) -> &'static str {
        match self {
            EntryKind::File => "a file",
            EntryKind::Dir => "a directory",
            EntryKind::Symlink => "a symlink",
            EntryKind::Hardlink => "a hardlink",
            EntryKind::Fifo => "a FIFO",
            EntryKind::CharDevice => "a character device",
            EntryKind::BlockDevice => "a block device",
            EntryKind::Socket => "a socket",
        }
    }

    /// The kind of a tar member, `None` for the extension members that describe others (a PAX global header,
    /// or `L`/`K`/`x` members in a header format the tar crate does not read them from). Unknown types are
    /// regular files, as POSIX says and as the tar crate unpacks them.
    pub fn of_tar(kind: tar::EntryType) -> Option<EntryKind> {
        Some(match kind {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::Hardlink,
            tar::EntryType::Fifo => EntryKind::Fifo,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => return None,
            _ => EntryKind::File,
        })
    }
}

/// One entry of a layer, as its tar header describes it.
#[derive(Debug, Clone)]
pub struct LayerEntry {
    /// Normalised relative path (`usr/bin/env`), never empty.
    pub path: Box<[u8]>,
    pub kind: EntryKind,
    /// Bytes of a regular file; 0 for every other kind.
    pub size: u64,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    /// A symlink's target as written (never followed), or a hardlink's normalised target path.
    pub link_target: Option<Box<[u8]>>,
    /// A regular file's content digest (BLAKE3 of its bytes); `None` for every other kind.
    pub digest: Option<FileDigest>,
}

/// Everything the analysis needs from one layer blob.
#[derive(Debug, Clone, Default)]
pub struct LayerScan {
    /// Entries in tar order.
    pub entries: Vec<LayerEntry>,
    /// Paths named by `.wh.NAME` markers (the deleted path, normalised).
    pub whiteouts: Vec<Box<[u8]>>,
    /// Directories holding a `.wh..wh..opq` marker: their lower children are hidden.
    pub opaques: Vec<Box<[u8]>>,
    /// `sha256:<hex>` of the uncompressed tar stream; empty when not computed ([`ScanOptions::digests`]).
    pub diff_id: String,
    /// `sha256:<hex>` of the blob as stored; empty when not computed.
    pub blob_digest: String,
    pub compression: Option<Compression>,
    pub blob_size: u64,
    pub uncompressed_size: u64,
    /// Contents of entries the caller asked to capture: (entry index, bytes).
    pub captured: Vec<(u32, Vec<u8>)>,
    /// What a content inspector found in regular files: (entry index, hit).
    pub hits: Vec<(u32, ContentHit)>,
    /// Regular files that are ELF binaries with debug sections: (entry index, what `strip` would save).
    pub elf: Vec<(u32, crate::elf::ElfInfo)>,
}

/// Something a [`ContentInspector`] found in a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHit {
    /// The inspector's own rule number.
    pub rule: u32,
    /// 1-based line of the match (0 when not applicable, e.g. a rule on the file's name).
    pub line: u32,
    /// The matched text.
    pub text: String,
}

/// Looks at regular files' bytes while a layer is scanned (one pass: the bytes are read anyway to hash them).
pub trait ContentInspector: Sync {
    /// Whether to look at this file, and how many of its first bytes at most.
    fn wants(&self, path: &[u8], size: u64) -> Option<u64>;
    /// How many first bytes decide whether the rest of a file is worth reading.
    fn probe_len(&self) -> u64 {
        u64::MAX
    }
    /// Given the first `probe_len` bytes, whether to read on (up to the limit).
    fn wants_rest(&self, _head: &[u8]) -> bool {
        true
    }
    /// Inspects the (possibly truncated) bytes of a file; appends what it finds.
    fn inspect(&self, path: &[u8], data: &[u8], hits: &mut Vec<ContentHit>);
}

/// Reports bytes read, so the CLI and the TUI can show progress; the library never prints.
pub trait Progress: Sync {
    /// Loading is about to read `layers` layer blobs of `bytes` stored bytes in all (when known).
    fn begin(&self, _layers: usize, _bytes: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn layer_done(&self) {}
    /// The layer blob `layer` (a catalog key such as `blobs/sha256/<hex>`, image-derived: escape it before
    /// showing it) of `bytes` stored bytes (when known) starts; every `advance` until [`Progress::layer_finished`]
    /// for it is also reported as `layer_advance`. Only sources reading several blobs at once say this.
    fn layer_started(&self, _layer: &str, _bytes: Option<u64>) {}
    fn layer_advance(&self, _layer: &str, _bytes: u64) {}
    fn layer_finished(&self, _layer: &str) {}
}

/// Names the layer of every `advance` and `layer_done` of one blob's scan (see [`Progress::layer_started`]).
pub(crate) struct LayerProgress<'a> {
    pub(crate) inner: &'a dyn Progress,
    pub(crate) layer: &'a str,
}

impl<'a> LayerProgress<'a> {
    pub(crate) fn start(inner: &'a dyn Progress, layer: &'a str, bytes: Option<u64>) -> Self {
        inner.layer_started(layer, bytes);
        LayerProgress { inner, layer }
    }
}

impl Progress for LayerProgress<'_> {
    fn begin(&self, layers: usize, bytes: Option<u64>) {
        self.inner.begin(layers, bytes);
    }
    fn advance(&self, bytes: u64) {
        self.inner.advance(bytes);
        self.inner.layer_advance(self.layer, bytes);
    }
    fn layer_done(&self) {
        self.inner.layer_done();
    }
}

impl Drop for LayerProgress<'_> {
    fn drop(&mut self) {
        self.inner.layer_finished(self.layer);
    }
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Captured files larger than this are not kept in memory: a source that can be read again reads them then;
/// one that cannot (stdin) says to save the image to a file.
pub const CAPTURE_LIMIT: u64 = 128 * 1024 * 1024;

/// What to do while scanning.
#[derive(Clone, Copy)]
pub struct ScanOptions<'a> {
    /// Keep the bytes of regular files at this normalised path (each at most [`CAPTURE_LIMIT`] bytes).
    pub capture: Option<&'a [u8]>,
    pub progress: &'a dyn Progress,
    pub inspector: Option<&'a dyn ContentInspector>,
    pub limits: Limits,
    /// Compute the sha256 digests of the blob and of its tar stream (`LayerScan::blob_digest`, `diff_id`);
    /// off, both stay empty and the layer is read without hashing it (`--no-verify`).
    pub digests: bool,
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        ScanOptions {
            capture: None,
            progress: &NoProgress,
            inspector: None,
            limits: Limits::default(),
            digests: true,
        }
    }
}

/// A layer that could not be read; cloneable so one failed blob can be reported for every layer using it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError(pub String);

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much of an entry a copy wrote: all of it, or the first `limit` bytes of a longer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    /// The entry holds more than the limit allowed.
    pub truncated: bool,
}

/// A copy that failed, on the reading side (`E`) or on the writing side.
#[derive(Debug)]
pub enum CopyError<E> {
    Read(E),
    Write(io::Error),
}

impl<E: std::fmt::Display> std::fmt::Display for CopyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Read(e) => e.fmt(f),
            CopyError::Write(e) => e.fmt(f),
        }
    }
}

impl<E> CopyError<E> {
    pub fn map_read<F>(self, f: impl FnOnce(E) -> F) -> CopyError<F> {
        match self {
            CopyError::Read(e) => CopyError::Read(f(e)),
            CopyError::Write(e) => CopyError::Write(e),
        }
    }
}

/// Copies `from` to `out` in small steps (nothing the size of the entry is ever allocated), at most `limit`
/// bytes when given.
pub fn copy_limited(
    from: &mut dyn Read,
    out: &mut dyn Write,
    limit: Option<u64>,
) -> Result<Copied, CopyError<io::Error>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let room = limit.map_or(buf.len() as u64, |l| (l - bytes).min(buf.len() as u64));
        if room == 0 {
            // At the limit: one more byte says whether anything was left out.
            let more = loop {
                match from.read(&mut buf[..1]) {
                    Ok(n) => break n > 0,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(CopyError::Read(e)),
                }
            };
            return Ok(Copied {
                bytes,
                truncated: more,
            });
        }
        let n = match from.read(&mut buf[..room as usize]) {
            Ok(0) => {
                return Ok(Copied {
                    bytes,
                    truncated: false,
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        bytes += n as u64;
    }
}
