//! The tar reading of one layer blob: decompressed by magic bytes, hashed on both sides (the blob digest over the
//! stored bytes, the diff_id over the uncompressed tar), and parsed into entries and whiteout markers. Each regular
//! file's bytes are hashed once as they pass (its BLAKE3 content digest) and otherwise skipped unless asked for;
//! memory grows with the number of entries only.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::ahead;
use super::feed::{Feed, InFlight, inspecting};
use super::{
    CAPTURE_LIMIT, Copied, CopyError, EntryKind, LayerEntry, LayerScan, Progress, ScanError,
    ScanOptions, copy_limited,
};
use crate::bounded_tar;
use crate::compression::{self, Compression};
use crate::file_digest::FileHasher;
use crate::limits::{LimitExceeded, Limits};
use crate::path;

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

/// [`scan_blob`], using spare cores (`Some(true)`: decompression and hashing read ahead on one thread of their
/// own, the content inspector runs on another), on the calling thread alone (`Some(false)`), or as the cores
/// free suggest (`None`: spare cores when fewer layers are in flight than there are cores).
pub(super) fn scan_blob_with<R: Read + Send>(
    reader: R,
    opts: ScanOptions<'_>,
    spare: Option<bool>,
) -> Result<LayerScan, ScanError> {
    // Sniff first: an uncompressed blob is its own tar, so one sha256 serves as blob digest and diff_id.
    let mut buffered = std::io::BufReader::with_capacity(256 * 1024, reader);
    let compression = Compression::sniff(
        std::io::BufRead::fill_buf(&mut buffered)
            .map_err(|e| ScanError(format!("cannot read layer: {e}")))?,
    );
    let flight = InFlight::enter();
    let spare = spare.unwrap_or_else(|| flight.beside());
    let mut scan = LayerScan::default();
    let sides = if spare {
        let (producer, mut chunks) = ahead::channel();
        let (parsed, sides) = std::thread::scope(|threads| {
            let unpacking = threads.spawn(move || {
                unpack(buffered, compression, &opts, |plain| {
                    // A parser that stopped taking chunks has failed: reading on would only waste time.
                    match producer.pump(plain) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err("the tar parser stopped".to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                })
            });
            let parsed = parse(&mut chunks, &mut scan, &opts, true).and_then(|()| {
                // The rest (the tar's end blocks) is hashed on the other side; take it so that side can finish.
                io::copy(&mut chunks, &mut io::sink())
                    .map(drop)
                    .map_err(|e| e.to_string())
            });
            drop(chunks);
            let sides = unpacking.join();
            (parsed, sides)
        });
        // The parser's error first: when it stops early, the unpacking side only sees that it stopped.
        parsed.map_err(|e| in_layer(compression, e))?;
        sides.map_err(|_| ScanError("layer reading failed".to_string()))??
    } else {
        unpack(buffered, compression, &opts, |plain| {
            parse(plain, &mut scan, &opts, false)
        })?
    };
    drop(flight);
    opts.progress.layer_done();
    scan.compression = Some(compression);
    scan.blob_size = sides.blob_size;
    scan.blob_digest = sides.blob_digest.unwrap_or_else(|| sides.diff_id.clone());
    scan.diff_id = sides.diff_id;
    scan.uncompressed_size = sides.tar_size;
    Ok(scan)
}

/// What the reading of a blob's two sides yields: their sizes and (when computed) digests.
struct Sides {
    blob_size: u64,
    /// `None` for an uncompressed blob (its own tar) or when digests are off.
    blob_digest: Option<String>,
    diff_id: String,
    tar_size: u64,
}

/// Decompresses and hashes a blob: `consume` reads the tar stream from the start, as far as it wants; the rest
/// of both sides is then read, hashed and counted here.
fn unpack<R: Read + Send>(
    buffered: R,
    compression: Compression,
    opts: &ScanOptions<'_>,
    consume: impl FnOnce(&mut dyn Read) -> Result<(), String>,
) -> Result<Sides, ScanError> {
    let mut raw = match compression {
        Compression::None => Hashing::counting_only(buffered, Some(opts.progress)),
        _ if !opts.digests => Hashing::counting_only(buffered, Some(opts.progress)),
        _ => Hashing::new(buffered, Some(opts.progress)),
    };
    let (diff_id, tar_size) = {
        let (_, decoded) = compression::decoder(&mut raw, opts.limits.expansion_ratio)
            .map_err(|e| ScanError(format!("cannot read layer: {e}")))?;
        let mut plain = if opts.digests {
            Hashing::new(decoded, None)
        } else {
            Hashing::counting_only(decoded, None)
        };
        consume(&mut plain).map_err(|e| in_layer(compression, e))?;
        // The tar's end blocks and record padding belong to the diff_id too.
        io::copy(&mut plain, &mut io::sink())
            .map_err(|e| ScanError(format!("{} layer: {e}", compression.name())))?;
        let size = plain.count;
        (plain.digest().unwrap_or_default(), size)
    };
    io::copy(&mut raw, &mut io::sink())
        .map_err(|e| ScanError(format!("cannot read layer: {e}")))?;
    Ok(Sides {
        blob_size: raw.count,
        blob_digest: raw.digest(),
        diff_id,
        tar_size,
    })
}

/// A failure reading a layer's tar, naming its compression when it has one.
fn in_layer(compression: Compression, e: String) -> ScanError {
    ScanError(match compression {
        Compression::None => e,
        other => format!("{} layer: {e}", other.name()),
    })
}

/// Parses the tar into `scan`, the inspector beside (on a thread of its own) or inline.
fn parse(
    tar: &mut dyn Read,
    scan: &mut LayerScan,
    opts: &ScanOptions<'_>,
    beside: bool,
) -> Result<(), String> {
    let (read, hits) = inspecting(opts.inspector, Some(beside), |feed| {
        read_entries(tar, scan, opts, feed)
    });
    read.and_then(|()| hits.map_err(|e| e.0))
        .map(|hits| scan.hits = hits)
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
    // A million entries keep no room for more: the slack of the last doubling would be a quarter to half again.
    scan.entries.shrink_to_fit();
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
