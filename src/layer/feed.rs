//! The hand-over of files' bytes to a content inspector while a layer is read: inspected at once on the reading
//! thread, or batched to a thread of its own when cores are free.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use super::{ContentHit, ContentInspector, ScanError};

/// Layer blobs being scanned right now, process-wide (decides where a layer's content inspection runs).
static LAYERS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one layer in flight until dropped.
pub(super) struct InFlight(usize);

impl InFlight {
    pub(super) fn enter() -> InFlight {
        InFlight(LAYERS_IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Whether this layer's content inspection gets a thread of its own. When as many layers are in flight as
    /// there are cores, the cores are busy already: inspecting on the reading thread, while the bytes are still
    /// in its cache, costs less than handing them to another core. With fewer layers (a single-layer image),
    /// the inspection overlaps the decompression, hashing and parsing, which then run on threads of their own
    /// too (see `ahead`).
    pub(super) fn beside(&self) -> bool {
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
/// are in flight than there are cores (this call then counts as one in flight; a caller passing `Some` has
/// counted itself).
pub(crate) fn inspecting<T>(
    inspector: Option<&dyn ContentInspector>,
    beside: Option<bool>,
    read: impl FnOnce(Option<&mut Feed<'_, '_>>) -> T,
) -> (T, Result<Vec<(u32, ContentHit)>, ScanError>) {
    let Some(inspector) = inspector else {
        return (read(None), Ok(Vec::new()));
    };
    let layers = beside.is_none().then(InFlight::enter);
    let beside = beside.unwrap_or_else(|| layers.as_ref().is_some_and(InFlight::beside));
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
        // The first read goes past the probe, up to a whole step: the file's BLAKE3 then starts on one large
        // piece (an 8 KiB piece first made the rest hash about 12 % slower). Bytes read past a probe that ends
        // the inspection were to be read for the hash anyway; they are left out of what is inspected.
        let first = len.min(probe.max(READ_STEP));
        let mut got = read_into(&mut batch.bytes, start, first, reader)?;
        if got > probe {
            if !self
                .inspector
                .wants_rest(&batch.bytes[start..start + probe])
            {
                got = probe;
            } else if got == first && first < len {
                got += read_into(&mut batch.bytes, start + first, len - first, reader)?;
            }
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

/// Bytes read at a time into a batch. Each read goes down the reader chain, where the layer's sha256 and the
/// file's BLAKE3 run over the bytes just read: a step well inside the L2 cache keeps that hashing on cached
/// bytes, and a step as large as the blob's read buffer (256 KiB) lets the reads bypass that buffer.
const READ_STEP: usize = 256 * 1024;

/// Reads up to `want` bytes into `bytes[at..]`, growing `bytes` a step at a time as data actually arrives (a tar
/// header may claim any size); returns the bytes read.
fn read_into(
    bytes: &mut Vec<u8>,
    at: usize,
    want: usize,
    reader: &mut impl Read,
) -> io::Result<usize> {
    let mut got = 0;
    while got < want {
        let from = at + got;
        let to = from + (want - got).min(READ_STEP);
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
pub(super) fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
