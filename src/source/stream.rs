//! A catalog read from a stream that cannot seek: stdin, or a whole archive compressed with gzip/zstd.
//!
//! The archive is read once, in order. Which members are layers is not known until the manifest (which may come
//! last) is read, so every member that looks like a layer (a tar header, gzip or zstd magic) is scanned as it
//! passes, in a worker thread fed through a bounded channel: memory stays bounded and the next member is read
//! while earlier ones are still decoding. Small members are kept as metadata; anything else is skipped.
//! What is kept is counted against [`Limits`]: the members recorded, and the bytes of their names and of the
//! metadata held, so that a small compressed stream of many members cannot fill memory.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::ScopedJoinHandle;

use super::catalog::{Catalog, META_LIMIT, key, resolve_link};
use crate::bounded_tar;
use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::layer::{self, LayerScan, ScanError, ScanOptions};
use crate::limits::{Limit, LimitExceeded, Limits};

const CHUNK: usize = 256 * 1024;
/// Chunks buffered per layer worker (4 MiB).
const QUEUE: usize = 16;
/// Member names kept to say what an unrecognised archive holds.
const SAMPLE: usize = 8;

/// What the members recorded so far cost, against the limits.
struct Kept<'a> {
    origin: &'a str,
    limits: &'a Limits,
    members: u64,
    bytes: u64,
}

impl Kept<'_> {
    /// Counts one more member holding `bytes` (its name, its data, a link's target).
    fn add(&mut self, bytes: u64) -> Result<()> {
        self.members += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        let exceeded = if self.members > self.limits.archive_members {
            LimitExceeded::new(
                Limit::ArchiveMembers,
                format!("more than {} members", self.limits.archive_members),
                format!("{} members", self.limits.archive_members),
            )
        } else if self.bytes > self.limits.metadata_bytes {
            LimitExceeded::new(
                Limit::MetadataBytes,
                format!(
                    "the first {} members' names and metadata hold {} bytes",
                    self.members, self.bytes
                ),
                format!("{} bytes", self.limits.metadata_bytes),
            )
        } else {
            return Ok(());
        };
        Err(Error::Limit {
            path: self.origin.to_string(),
            source: exceeded,
        })
    }
}

enum StreamItem {
    Meta(Vec<u8>),
    Layer(Result<Arc<LayerScan>, ScanError>),
    Skipped,
    Link(String),
}

pub(crate) struct StreamCatalog {
    origin: String,
    compression: Option<Compression>,
    items: HashMap<String, StreamItem>,
    order: Vec<String>,
}

struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn read_head(reader: &mut impl Read, want: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(want);
    reader.take(want as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn feed(tx: SyncSender<Vec<u8>>, head: Vec<u8>, reader: &mut impl Read) -> io::Result<()> {
    if tx.send(head).is_err() {
        return Ok(()); // the worker stopped early (bad data); the tar reader skips the rest of the member
    }
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        chunk.truncate(n);
        if tx.send(chunk).is_err() {
            return Ok(());
        }
    }
}

impl StreamCatalog {
    /// Reads an archive stream to its end. `compression` is that of the whole stream (already being decoded).
    pub(crate) fn read(
        origin: &str,
        reader: impl Read + Send,
        compression: Option<Compression>,
        opts: ScanOptions<'_>,
    ) -> Result<StreamCatalog> {
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
        let bad = |e: io::Error| Error::reading(origin, e, "corrupt or truncated archive");
        let mut items = HashMap::new();
        let mut order = Vec::new();
        let mut kept = Kept {
            origin,
            limits: &opts.limits,
            members: 0,
            bytes: 0,
        };
        std::thread::scope(|scope| -> Result<()> {
            let mut running: VecDeque<(
                String,
                ScopedJoinHandle<'_, Result<LayerScan, ScanError>>,
            )> = VecDeque::new();
            let finish = |running: &mut VecDeque<(String, ScopedJoinHandle<'_, _>)>,
                          items: &mut HashMap<String, StreamItem>| {
                if let Some((name, handle)) = running.pop_front() {
                    let result = handle
                        .join()
                        .unwrap_or_else(|_| Err(ScanError("layer reader failed".into())))
                        .map(Arc::new);
                    items.insert(name, StreamItem::Layer(result));
                }
            };
            let mut archive = bounded_tar::archive(reader, &opts.limits);
            for entry in archive.entries().map_err(bad)? {
                let mut entry = entry.map_err(bad)?;
                let name = key(&entry.path_bytes());
                let item = match entry.header().entry_type() {
                    tar::EntryType::Regular | tar::EntryType::Continuous => None,
                    tar::EntryType::Symlink => entry
                        .link_name_bytes()
                        .map(|t| StreamItem::Link(resolve_link(&name, &t))),
                    tar::EntryType::Link => {
                        entry.link_name_bytes().map(|t| StreamItem::Link(key(&t)))
                    }
                    _ => continue,
                };
                if order.len() < SAMPLE {
                    order.push(name.clone());
                }
                if let Some(item) = item {
                    let target = match &item {
                        StreamItem::Link(target) => target.len() as u64,
                        _ => 0,
                    };
                    kept.add(name.len() as u64 + target)?;
                    items.insert(name, item);
                    continue;
                }
                let size = entry.size();
                let meta = size <= META_LIMIT;
                let head = read_head(&mut entry, 512).map_err(bad)?;
                let layer_like = Compression::sniff(&head) != Compression::None
                    || compression::looks_like_tar(&head);
                kept.add(name.len() as u64 + if layer_like || !meta { 0 } else { size })?;
                if layer_like {
                    if running.len() >= workers {
                        finish(&mut running, &mut items);
                    }
                    let (tx, rx) = sync_channel(QUEUE);
                    let handle = scope.spawn(move || {
                        let reader = ChannelReader {
                            rx,
                            chunk: Vec::new(),
                            pos: 0,
                        };
                        layer::scan_blob(reader, opts)
                    });
                    feed(tx, head, &mut entry).map_err(bad)?;
                    running.push_back((name, handle));
                } else if meta {
                    let mut data = head;
                    entry.read_to_end(&mut data).map_err(bad)?;
                    items.insert(name, StreamItem::Meta(data));
                } else {
                    items.insert(name, StreamItem::Skipped);
                }
            }
            while !running.is_empty() {
                finish(&mut running, &mut items);
            }
            Ok(())
        })?;
        Ok(StreamCatalog {
            origin: origin.to_string(),
            compression,
            items,
            order,
        })
    }

    fn item(&self, key: &str) -> Option<&StreamItem> {
        let mut name = key.to_string();
        for _ in 0..16 {
            match self.items.get(&name)? {
                StreamItem::Link(target) => name = target.clone(),
                other => return Some(other),
            }
        }
        None
    }
}

impl Catalog for StreamCatalog {
    fn origin(&self) -> &str {
        &self.origin
    }
    fn archive_compression(&self) -> Option<Compression> {
        self.compression
    }
    fn contains(&self, key: &str) -> bool {
        self.item(key).is_some()
    }
    fn size_of(&self, key: &str) -> Option<u64> {
        match self.item(key)? {
            StreamItem::Meta(data) => Some(data.len() as u64),
            StreamItem::Layer(Ok(scan)) => Some(scan.blob_size),
            _ => None,
        }
    }
    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        match self.item(key) {
            Some(StreamItem::Meta(data)) => Ok(data.clone()),
            Some(_) => Err(Error::invalid(
                format!("{}: {key}", self.origin),
                "expected a JSON document, found layer data",
            )),
            None => Err(Error::Missing {
                archive: self.origin.clone(),
                path: key.to_string(),
                hint: String::new(),
            }),
        }
    }
    fn scan(&self, key: &str, opts: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        match self.item(key) {
            Some(StreamItem::Layer(result)) => result.clone(),
            // A small member that did not look like a tar (e.g. an empty blob) is scanned from memory.
            Some(StreamItem::Meta(data)) => layer::scan_blob(&data[..], opts).map(Arc::new),
            Some(_) => Err(ScanError("not a layer blob".into())),
            None => Err(ScanError("missing from the archive".into())),
        }
    }
    fn reopen(&self, _key: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        None
    }
    fn sample_names(&self) -> Vec<String> {
        self.order.clone()
    }
}
