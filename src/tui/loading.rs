//! The explorer while the image loads. The load and the analysis run on a thread of their own (`terminal.rs`)
//! and report through [`LoadReporter`], the library's `source::LoadProgress` (the trait the CLI's stderr progress
//! implements too): a [`LoadReport`] goes to the UI whenever a layer blob starts or ends, and at most every
//! [`REPORT_EVERY`] while bytes flow, so a 2 GB image costs the UI a few frames a second, not one per chunk.
//! The resolved image and each scanned layer also go to the partial model's builder (`partial.rs`), which
//! makes the lower layers explorable while upper ones load.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::analysis::Analysis;
use crate::image::Image;
use crate::layer::{LayerScan, Progress};
use crate::source::{LoadProgress, LoadedImage};
use crate::tree::ImageTree;

/// The shortest time between two reports of bytes read.
pub const REPORT_EVERY: Duration = Duration::from_millis(50);

/// What the explorer explores: the image, its analysis, and a note for the status line (which source served it).
pub struct Loaded {
    pub image: LoadedImage,
    pub analysis: Analysis,
    pub note: Option<String>,
    /// `layerscope diff A B` on a terminal: this image is B, its paths and layers marked against A.
    pub diff: Option<super::diff_marks::DiffMarks>,
}

/// What the load reports to the builder.
pub enum Arrival {
    /// The image as resolved, each layer's scan still empty.
    Image(Box<Image>),
    /// Layer `index` is scanned.
    Layer(usize, Arc<LayerScan>),
}

/// The image with the scans of its explorable layers, and an analysis of those alone: the tree of layers
/// `0..explorable`, their sizes and counts. Waste, secrets and advice wait for the whole image.
pub struct Partial {
    pub image: Image,
    pub analysis: Analysis,
}

impl Partial {
    /// The model of `image` (every layer listed) explored up to the layers `tree` holds.
    pub fn new(image: Image, tree: ImageTree) -> Partial {
        Partial {
            analysis: crate::analysis::analyze_lower(&image, tree),
            image,
        }
    }

    /// How many bottom layers can be explored.
    pub fn explorable(&self) -> usize {
        self.analysis.tree.layer_count()
    }
}

/// How far the load is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Layer blobs to read, once known.
    pub layers: usize,
    /// Their stored bytes, when known.
    pub total: Option<u64>,
    pub bytes: u64,
    pub done: usize,
    /// The layer blobs read so far or being read, in the order they started (sources reading several at once
    /// name them; others report only the counts above).
    pub blobs: Vec<BlobRead>,
    /// Each layer's blob (the catalog key of [`BlobRead::key`], or a store's layer directory), once the image
    /// is resolved.
    pub layer_blobs: Vec<String>,
    /// Which layers are scanned, by index, once the image is resolved.
    pub scanned: Vec<bool>,
}

impl LoadReport {
    /// How far layer `index` is: scanned (`None`), else the bytes read of its blob and their total if known.
    pub fn layer_read(&self, index: usize) -> Option<(u64, Option<u64>)> {
        if self.scanned.get(index).copied().unwrap_or(false) {
            return None;
        }
        let key = self.layer_blobs.get(index)?;
        Some(
            self.blobs
                .iter()
                .rev()
                .find(|b| &b.key == key)
                .map_or((0, None), |b| (b.read, b.total)),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRead {
    /// The catalog key (image-derived: escape it before showing it).
    pub key: String,
    pub total: Option<u64>,
    pub read: u64,
    pub finished: bool,
}

/// The loading view's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loading {
    /// The image as the user named it.
    pub source: String,
    pub report: LoadReport,
    /// Keys typed meanwhile, applied once the explorer opens.
    pub queued: usize,
}

/// A [`Progress`] that sends [`LoadReport`]s through `send`.
pub struct LoadReporter<F> {
    state: Mutex<(LoadReport, Option<Instant>)>,
    send: F,
    /// The resolved image and each scanned layer, for the partial model's builder.
    arrivals: Option<Sender<Arrival>>,
}

impl<F: Fn(LoadReport) + Sync> LoadReporter<F> {
    pub fn new(send: F) -> LoadReporter<F> {
        LoadReporter {
            state: Mutex::new((LoadReport::default(), None)),
            send,
            arrivals: None,
        }
    }

    /// Also sends the resolved image and each scanned layer to `arrivals`.
    pub fn with_arrivals(mut self, arrivals: Sender<Arrival>) -> LoadReporter<F> {
        self.arrivals = Some(arrivals);
        self
    }

    fn arrive(&self, arrival: Arrival) {
        if let Some(tx) = &self.arrivals {
            // The builder stops only when the explorer no longer wants a partial model.
            let _ = tx.send(arrival);
        }
    }

    /// Applies a change; reports it when `urgent` or when the last report is old enough. The report is sent
    /// under the lock, so reports from several threads arrive in the order they were made.
    fn change(&self, urgent: bool, change: impl FnOnce(&mut LoadReport)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (report, last) = &mut *state;
        change(report);
        if urgent || last.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            *last = Some(Instant::now());
            (self.send)(report.clone());
        }
    }
}

impl<F: Fn(LoadReport) + Sync> Progress for LoadReporter<F> {
    fn begin(&self, layers: usize, bytes: Option<u64>) {
        self.change(true, |r| {
            r.layers = layers;
            r.total = bytes;
        });
    }

    fn advance(&self, bytes: u64) {
        self.change(false, |r| r.bytes += bytes);
    }

    fn layer_done(&self) {
        self.change(true, |r| {
            r.done += 1;
            r.layers = r.layers.max(r.done);
        });
    }

    fn layer_started(&self, layer: &str, bytes: Option<u64>) {
        self.change(true, |r| {
            r.blobs.push(BlobRead {
                key: layer.to_string(),
                total: bytes,
                read: 0,
                finished: false,
            })
        });
    }

    fn layer_advance(&self, layer: &str, bytes: u64) {
        self.change(false, |r| {
            if let Some(b) = r.blobs.iter_mut().rev().find(|b| b.key == layer) {
                b.read += bytes;
            }
        });
    }

    fn layer_finished(&self, layer: &str) {
        self.change(true, |r| {
            if let Some(b) = r.blobs.iter_mut().rev().find(|b| b.key == layer) {
                b.finished = true;
            }
        });
    }
}

impl<F: Fn(LoadReport) + Sync> LoadProgress for LoadReporter<F> {
    fn image_resolved(&self, image: &Image) {
        self.change(true, |r| {
            r.layer_blobs = image.layers.iter().map(|l| l.blob_path.clone()).collect();
            r.scanned = vec![false; image.layers.len()];
        });
        self.arrive(Arrival::Image(Box::new(image.clone())));
    }

    fn layer_scanned(&self, index: usize, scan: &Arc<LayerScan>) {
        self.change(true, |r| {
            if let Some(s) = r.scanned.get_mut(index) {
                *s = true;
            }
        });
        self.arrive(Arrival::Layer(index, scan.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn layer_starts_and_ends_are_reported_at_once_bytes_at_most_every_50_ms() {
        let (send, reports) = mpsc::channel();
        let progress = LoadReporter::new(move |r| send.send(r).unwrap());
        progress.begin(2, Some(300));
        progress.layer_started("blobs/sha256/aa", Some(100));
        for _ in 0..1000 {
            progress.advance(1);
            progress.layer_advance("blobs/sha256/aa", 1);
        }
        progress.layer_finished("blobs/sha256/aa");
        progress.layer_done();
        let got: Vec<LoadReport> = reports.try_iter().collect();
        assert!(got.len() < 20, "{} reports for 1000 chunks", got.len());
        let last = got.last().unwrap();
        assert_eq!((last.layers, last.total, last.done), (2, Some(300), 1));
        assert_eq!(last.bytes, 1000);
        assert_eq!(
            last.blobs,
            vec![BlobRead {
                key: "blobs/sha256/aa".into(),
                total: Some(100),
                read: 1000,
                finished: true
            }]
        );
    }
}
