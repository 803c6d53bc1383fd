//! The analysis of a loaded image: the image tree, per-layer change counts and sizes, and the waste report.
//! Pure functions of the scanned layers.

pub mod advice;
pub mod waste;

use crate::image::Image;
use crate::tree::{ImageTree, LayerCounts};
pub use waste::{WasteReport, WastedFile, WastedVersion};

/// Sizes and change counts of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerStats {
    pub index: usize,
    /// Sum of the regular-file sizes in the layer.
    pub size_bytes: u64,
    pub counts: LayerCounts,
}

pub struct Analysis {
    pub tree: ImageTree,
    pub layers: Vec<LayerStats>,
    /// Sum of the layers' size_bytes.
    pub size_bytes: u64,
    /// How many bottom layers form the base image (for user_wasted_ratio).
    pub base_layers: usize,
    pub waste: WasteReport,
    /// Secret findings, when the image was scanned for them (see `secrets::collect`).
    pub secrets: Vec<crate::secrets::SecretFinding>,
}

/// Analyses an image; `base_layers` bottom layers count as the base image.
pub fn analyze(image: &Image, base_layers: usize) -> Analysis {
    let scans: Vec<_> = image.layers.iter().map(|l| l.scan.clone()).collect();
    let tree = ImageTree::build(&scans);
    let layers: Vec<LayerStats> = image
        .layers
        .iter()
        .map(|l| LayerStats {
            index: l.index,
            size_bytes: l.size_bytes(),
            counts: tree.counts(l.index),
        })
        .collect();
    let sizes: Vec<u64> = layers.iter().map(|l| l.size_bytes).collect();
    let waste = waste::report(waste::wasted_files(&tree), &sizes, base_layers);
    Analysis {
        size_bytes: sizes.iter().sum(),
        tree,
        layers,
        base_layers,
        waste,
        secrets: Vec::new(),
    }
}
