//! One layer blob, read exactly once: decompressed by magic bytes, hashed on both sides (the blob digest over the
//! stored bytes, the diff_id over the uncompressed tar), and parsed into entries and whiteout markers.
//! Each regular file's bytes are hashed once as they pass (its BLAKE3 content digest) and otherwise skipped unless
//! asked for; memory grows with the number of entries only.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bounded_tar;
use crate::compression::{self, Compression};
use crate::file_digest::{FileDigest, FileHasher};
use crate::limits::{LimitExceeded, Limits};
use crate::path;

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
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// `sha256:<hex>` of the blob as stored.
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
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        ScanOptions {
            capture: None,
            progress: &NoProgress,
            inspector: None,
            limits: Limits::default(),
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

struct Hashing<'p, R> {
    inner: R,
    /// `None` when another hasher already sees the same bytes (an uncompressed blob is its own tar).
    hasher: Option<Sha256>,
    count: u64,
    progress: Option<&'p dyn Progress>,
}

impl<'p, R: Read> Hashing<'p, R> {
    fn new(inner: R, progress: Option<&'p dyn Progress>) -> Self {
        Hashing {
            inner,
            hasher: Some(Sha256::new()),
            count: 0,
            progress,
        }
    }

    fn counting_only(inner: R, progress: Option<&'p dyn Progress>) -> Self {
        Hashing {
            hasher: None,
            ..Hashing::new(inner, progress)
        }
    }

    fn digest(self) -> Option<String> {
        self.hasher
            .map(|h| format!("sha256:{}", hex::encode(h.finalize())))
    }
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        if let Some(p) = self.progress {
            p.advance(n as u64);
        }
        Ok(n)
    }
}

/// Reads one layer blob (tar, gzip or zstd) to its end.
pub fn scan_blob<R: Read + Send>(reader: R, opts: ScanOptions<'_>) -> Result<LayerScan, ScanError> {
    scan_blob_with(reader, opts, None)
}

/// [`scan_blob`], with the content inspector on a thread of its own (`Some(true)`), on the reading thread
/// (`Some(false)`) or wherever the free cores suggest (`None`).
fn scan_blob_with<R: Read + Send>(
    reader: R,
    opts: ScanOptions<'_>,
    beside: Option<bool>,
) -> Result<LayerScan, ScanError> {
    // Sniff first: an uncompressed blob is its own tar, so one sha256 serves as blob digest and diff_id.
    let mut buffered = std::io::BufReader::with_capacity(256 * 1024, reader);
    let compression = Compression::sniff(
        std::io::BufRead::fill_buf(&mut buffered)
            .map_err(|e| ScanError(format!("cannot read layer: {e}")))?,
    );
    let mut raw = match compression {
        Compression::None => Hashing::counting_only(buffered, Some(opts.progress)),
        _ => Hashing::new(buffered, Some(opts.progress)),
    };
    let mut scan = LayerScan::default();
    let (plain_digest, plain_size) = {
        let (_, decoded) = compression::decoder(&mut raw, opts.limits.expansion_ratio)
            .map_err(|e| ScanError(format!("cannot read layer: {e}")))?;
        let mut plain = Hashing::new(decoded, None);
        let (read, hits) = inspecting(opts.inspector, beside, |feed| {
            read_entries(&mut plain, &mut scan, &opts, feed)
        });
        let read = read
            .and_then(|()| hits.map_err(|e| e.0))
            .map(|hits| scan.hits = hits);
        read.map_err(|e| {
            ScanError(match compression {
                Compression::None => e,
                other => format!("{} layer: {e}", other.name()),
            })
        })?;
        // The tar's end blocks and record padding belong to the diff_id too.
        io::copy(&mut plain, &mut io::sink())
            .map_err(|e| ScanError(format!("{} layer: {e}", compression.name())))?;
        let size = plain.count;
        (plain.digest().unwrap_or_default(), size)
    };
    io::copy(&mut raw, &mut io::sink())
        .map_err(|e| ScanError(format!("cannot read layer: {e}")))?;
    opts.progress.layer_done();
    scan.compression = Some(compression);
    scan.blob_size = raw.count;
    scan.blob_digest = raw.digest().unwrap_or_else(|| plain_digest.clone());
    scan.diff_id = plain_digest;
    scan.uncompressed_size = plain_size;
    Ok(scan)
}

/// Layer blobs being scanned right now, process-wide (decides where a layer's content inspection runs).
static LAYERS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one layer in flight until dropped.
struct InFlight(usize);

impl InFlight {
    fn enter() -> InFlight {
        InFlight(LAYERS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Whether this layer's content inspection gets a thread of its own. When as many layers are in flight as
    /// there are cores, the cores are busy already: inspecting on the reading thread, while the bytes are still
    /// in its cache, costs less than handing them to another core. With fewer layers (a single-layer image),
    /// the inspection overlaps the decompression, hashing and parsing.
    fn beside(&self) -> bool {
        self.0 < std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        LAYERS_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `read` with a feed to the inspector, if there is one, and returns what `read` returned and the
/// inspector's hits. The inspector gets a thread of its own when `beside` says so, or (`None`) when fewer layers
/// are in flight than there are cores.
pub(crate) fn inspecting<T>(
    inspector: Option<&dyn ContentInspector>,
    beside: Option<bool>,
    read: impl FnOnce(Option<&mut Feed<'_, '_>>) -> T,
) -> (T, Result<Vec<(u32, ContentHit)>, ScanError>) {
    let Some(inspector) = inspector else {
        return (read(None), Ok(Vec::new()));
    };
    let layers = InFlight::enter();
    let beside = beside.unwrap_or_else(|| layers.beside());
    std::thread::scope(|threads| {
        let mut feed = if beside {
            Feed::beside(inspector, threads)
        } else {
            Feed::inline(inspector)
        };
        let result = read(Some(&mut feed));
        let hits = feed
            .finish()
            .ok_or_else(|| ScanError("content inspection failed".to_string()));
        (result, hits)
    })
}

/// Files' bytes on their way to the content inspector, back to back.
#[derive(Default)]
struct Batch {
    /// File contents; `filled` bytes are in use. Never shrunk, so a reused batch needs no zeroing.
    bytes: Vec<u8>,
    filled: usize,
    paths: Vec<u8>,
    files: Vec<BatchFile>,
}

struct BatchFile {
    index: u32,
    path: std::ops::Range<usize>,
    data: std::ops::Range<usize>,
}

/// Text beyond this starts a new batch.
const BATCH_BYTES: usize = 1 << 20;

impl Batch {
    fn clear(&mut self) {
        self.filled = 0;
        self.paths.clear();
        self.files.clear();
    }

    fn inspect(&self, inspector: &dyn ContentInspector, hits: &mut Vec<(u32, ContentHit)>) {
        let mut found = Vec::new();
        for file in &self.files {
            inspector.inspect(
                &self.paths[file.path.clone()],
                &self.bytes[file.data.clone()],
                &mut found,
            );
            hits.extend(found.drain(..).map(|h| (file.index, h)));
        }
    }
}

/// Hands files' bytes to a content inspector: at once on the reading thread, or in batches to a thread of its
/// own (one hand-over per megabyte of text rather than per file; emptied batches come back to be refilled, so
/// nothing is allocated once warm).
pub(crate) struct Feed<'a, 'scope> {
    inspector: &'a dyn ContentInspector,
    batch: Batch,
    mode: FeedMode<'scope>,
}

enum FeedMode<'scope> {
    Inline(Vec<(u32, ContentHit)>),
    Beside {
        to_inspector: SyncSender<Batch>,
        spares: Receiver<Batch>,
        worker: std::thread::ScopedJoinHandle<'scope, Vec<(u32, ContentHit)>>,
        /// Hits of the batches the reading thread inspected itself, while the inspector's thread was busy.
        own: Vec<(u32, ContentHit)>,
    },
}

impl<'a, 'scope> Feed<'a, 'scope> {
    fn inline(inspector: &'a dyn ContentInspector) -> Self {
        Feed {
            inspector,
            batch: Batch::default(),
            mode: FeedMode::Inline(Vec::new()),
        }
    }

    fn beside<'env>(
        inspector: &'env dyn ContentInspector,
        threads: &'scope std::thread::Scope<'scope, 'env>,
    ) -> Self
    where
        'env: 'a,
    {
        let (to_inspector, batches) = sync_channel::<Batch>(1);
        let (to_reader, spares) = sync_channel::<Batch>(4);
        let worker = threads.spawn(move || {
            let mut hits = Vec::new();
            for mut batch in batches {
                batch.inspect(inspector, &mut hits);
                batch.clear();
                let _ = to_reader.try_send(batch);
            }
            hits
        });
        Feed {
            inspector,
            batch: Batch::default(),
            mode: FeedMode::Beside {
                to_inspector,
                spares,
                worker,
                own: Vec::new(),
            },
        }
    }

    pub(crate) fn inspector(&self) -> &'a dyn ContentInspector {
        self.inspector
    }

    /// Inspects what is batched: here, or by sending it to the inspector's thread.
    fn flush(&mut self) {
        if self.batch.files.is_empty() {
            return;
        }
        match &mut self.mode {
            FeedMode::Inline(hits) => {
                self.batch.inspect(self.inspector, hits);
                self.batch.clear();
            }
            FeedMode::Beside {
                to_inspector,
                spares,
                own,
                ..
            } => {
                // When the inspector's thread is still busy, the reading thread takes this batch itself rather
                // than wait: both threads stay at work, whichever of reading and inspecting is slower.
                match to_inspector.try_send(std::mem::take(&mut self.batch)) {
                    Ok(()) => self.batch = spares.try_recv().unwrap_or_default(),
                    Err(TrySendError::Full(mut batch)) => {
                        batch.inspect(self.inspector, own);
                        batch.clear();
                        self.batch = batch;
                    }
                    // The inspector's thread is gone; `finish` reports that.
                    Err(TrySendError::Disconnected(mut batch)) => {
                        batch.clear();
                        self.batch = batch;
                    }
                }
            }
        }
    }

    /// Adds up to `len` bytes of a file from `reader`: the inspector's probe first, the rest if it wants it.
    pub(crate) fn add(
        &mut self,
        index: u32,
        path: &[u8],
        reader: &mut impl Read,
        len: u64,
    ) -> io::Result<()> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let limit = match self.mode {
            FeedMode::Inline(_) => 0, // inspect each file while its bytes are in the cache
            FeedMode::Beside { .. } => BATCH_BYTES,
        };
        if self.batch.filled.saturating_add(len) > limit {
            self.flush();
        }
        let batch = &mut self.batch;
        let start = batch.filled;
        let probe = len.min(usize::try_from(self.inspector.probe_len()).unwrap_or(usize::MAX));
        let mut got = read_into(&mut batch.bytes, start, probe, reader)?;
        if got == probe
            && probe < len
            && self
                .inspector
                .wants_rest(&batch.bytes[start..start + probe])
        {
            got += read_into(&mut batch.bytes, start + probe, len - probe, reader)?;
        }
        let path_start = batch.paths.len();
        batch.paths.extend_from_slice(path);
        batch.files.push(BatchFile {
            index,
            path: path_start..batch.paths.len(),
            data: start..start + got,
        });
        batch.filled = start + got;
        Ok(())
    }

    /// Inspects what is left and returns every hit (`None` if the inspector's thread failed).
    pub(crate) fn finish(mut self) -> Option<Vec<(u32, ContentHit)>> {
        self.flush();
        match self.mode {
            FeedMode::Inline(hits) => Some(hits),
            FeedMode::Beside {
                to_inspector,
                worker,
                own,
                ..
            } => {
                drop(to_inspector);
                let mut hits = worker.join().ok()?;
                hits.extend(own);
                // Batches were inspected on two threads: back to entry order (stable: a file's hits keep theirs).
                hits.sort_by_key(|(index, _)| *index);
                Some(hits)
            }
        }
    }
}

/// Reads up to `want` bytes into `bytes[at..]`, growing `bytes` a step at a time as data actually arrives (a tar
/// header may claim any size); returns the bytes read.
fn read_into(
    bytes: &mut Vec<u8>,
    at: usize,
    want: usize,
    reader: &mut impl Read,
) -> io::Result<usize> {
    const STEP: usize = 1 << 20;
    let mut got = 0;
    while got < want {
        let from = at + got;
        let to = from + (want - got).min(STEP);
        if bytes.len() < to {
            bytes.resize(to, 0);
        }
        let n = fill(reader, &mut bytes[from..to])?;
        got += n;
        if n < to - from {
            break; // the reader ended
        }
    }
    Ok(got)
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn read_entries<R: Read>(
    reader: R,
    scan: &mut LayerScan,
    opts: &ScanOptions<'_>,
    mut feed: Option<&mut Feed<'_, '_>>,
) -> Result<(), String> {
    let capture = opts.capture;
    let mut hasher = FileHasher::new();
    let mut archive = bounded_tar::archive(reader, &opts.limits);
    let entries = archive.entries().map_err(|e| format!("not a tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(tar_error)?;
        let normalized = path::normalize(&entry.path_bytes());
        if normalized.len() as u64 > opts.limits.path_bytes {
            return Err(crate::limits::LimitExceeded::new(
                crate::limits::Limit::PathBytes,
                format!("an entry path of {} bytes", normalized.len()),
                format!("{} bytes", opts.limits.path_bytes),
            )
            .to_string());
        }
        let (dir, name) = match normalized.iter().rposition(|&b| b == b'/') {
            Some(i) => (&normalized[..i], &normalized[i + 1..]),
            None => (&[][..], &normalized[..]),
        };
        if let Some(target) = name.strip_prefix(b".wh.") {
            if target == b".wh..opq" {
                scan.opaques.push(dir.into());
            } else if !target.starts_with(b".wh.") && !target.is_empty() {
                // `.wh..wh.*` names other than the opaque marker are aufs bookkeeping, not deletions.
                scan.whiteouts.push(join(dir, target).into());
            }
            continue;
        }
        if normalized.is_empty() {
            continue; // the root directory itself
        }
        let header = entry.header();
        let Some(kind) = EntryKind::of_tar(header.entry_type()) else {
            continue;
        };
        // A sparse member's holes would be read as zeros: a few stored bytes may claim a terabyte.
        let sparse = header.entry_type() == tar::EntryType::GNUSparse;
        // Odd numeric fields (empty, garbage) are shown as 0 rather than rejecting the layer.
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0);
        let link_target = match kind {
            EntryKind::Symlink => entry
                .link_name_bytes()
                .map(|l| l.into_owned().into_boxed_slice()),
            EntryKind::Hardlink => entry
                .link_name_bytes()
                .map(|l| path::normalize(&l).into_boxed_slice()),
            _ => None,
        };
        let size = if kind == EntryKind::File {
            entry.size()
        } else {
            0
        };
        let index = scan.entries.len() as u32;
        let read_error =
            |e: std::io::Error| format!("entry {}: {e}", path::display_absolute(&normalized));
        let digest = if kind == EntryKind::File {
            // Every byte of the file passes through `file` once: to the capture, to the inspector, or (the
            // rest) straight to the hasher, where the tar crate would otherwise have skipped it.
            let mut file = hasher.file(&mut entry);
            // The entry yields at most `size` bytes, so this bounds the capture whatever the data.
            if size <= CAPTURE_LIMIT && capture.is_some_and(|c| c == &normalized[..]) {
                let mut data = Vec::new();
                file.read_to_end(&mut data).map_err(read_error)?;
                scan.captured.push((index, data));
            }
            if let Some(feed) = feed.as_deref_mut()
                && let Some(limit) = feed.inspector().wants(&normalized, size)
            {
                let len = limit.min(size);
                match scan.captured.last() {
                    Some((i, data)) if *i == index => {
                        feed.add(index, &normalized, &mut &data[..], len)
                    }
                    _ => feed.add(index, &normalized, &mut file, len),
                }
                .map_err(read_error)?;
            }
            // A sparse file gets no digest: hashing its holes would cost work out of all proportion to the
            // layer; the tar crate skips the rest of it as before.
            if sparse {
                None
            } else {
                let digest = file.finish().map_err(read_error)?;
                scan.elf.extend(hasher.elf().map(|info| (index, info)));
                Some(digest)
            }
        } else {
            None
        };
        scan.entries.push(LayerEntry {
            path: normalized.into_boxed_slice(),
            kind,
            size,
            mode,
            uid,
            gid,
            mtime,
            link_target,
            digest,
        });
    }
    Ok(())
}

/// A tar error as a message: a reached limit as it is, anything else as a corrupt tar.
fn tar_error(e: io::Error) -> String {
    match LimitExceeded::from_io(&e) {
        Some(limit) => limit.to_string(),
        None => format!("corrupt or truncated tar: {e}"),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
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

/// Copies the bytes of the entry at `index` of a layer blob to `out` (at most `limit` bytes when given), as
/// they stream out of the blob: used to show or extract a file as it was at some layer.
pub fn copy_entry<R: Read + Send>(
    reader: R,
    index: u32,
    out: &mut dyn Write,
    limit: Option<u64>,
    limits: Limits,
) -> Result<Copied, CopyError<ScanError>> {
    let read_error = |e: String| CopyError::Read(ScanError(e));
    let (_, decoded) = compression::decoder(reader, limits.expansion_ratio)
        .map_err(|e| read_error(format!("cannot read layer: {e}")))?;
    let mut archive = bounded_tar::archive(decoded, &limits);
    let entries = archive
        .entries()
        .map_err(|e| read_error(format!("not a tar: {e}")))?;
    let mut position = 0u32;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_error(tar_error(e)))?;
        let normalized = path::normalize(&entry.path_bytes());
        let name = normalized.rsplit(|&b| b == b'/').next().unwrap_or_default();
        let skipped = EntryKind::of_tar(entry.header().entry_type()).is_none();
        if name.starts_with(b".wh.") || normalized.is_empty() || skipped {
            continue;
        }
        if position == index {
            return copy_limited(&mut entry, out, limit)
                .map_err(|e| e.map_read(|e| ScanError(format!("cannot read entry: {e}"))));
        }
        position += 1;
    }
    Err(read_error(format!("entry {index} not found in the layer")))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let err =
            scan_blob(&[0x1f, 0x8b, 8, 0, 1, 2, 3, 4][..], ScanOptions::default()).unwrap_err();
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
}
