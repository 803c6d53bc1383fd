//! The analysis of a loaded image: the image tree, per-layer change counts and sizes, and the waste report.
//! Pure functions of the scanned layers.

pub mod advice;
pub mod diff;
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
    /// The totals that did not fit in 64 bits (`the size of layer 2`, `the wasted bytes`): entry sizes are
    /// what tar headers claim, so their sums can overflow. Such a total holds `u64::MAX`, and nothing derived
    /// from it (efficiency, ratios, the CI rules on them) can be trusted.
    pub overflowed: Vec<String>,
    /// How many bottom layers form the base image (for user_wasted_ratio).
    pub base_layers: usize,
    pub waste: WasteReport,
    /// Secret findings, when the image was scanned for them (see `secrets::collect`).
    pub secrets: Vec<crate::secrets::SecretFinding>,
    /// What every view applies to every image-derived string it shows (paths, link targets, tag, labels,
    /// instructions, history) and to a viewed file's bytes (`Redactor::mask_bytes`): masks the secrets found
    /// in names and metadata, and secret build-argument values; a secret scan adds the secrets found in file
    /// contents, `--show-secrets` turns it off (see `secrets::metadata_redactor`).
    pub redactor: crate::secrets::Redactor,
    /// What to change in the Dockerfile and what it saves; computed last, once the secrets are known
    /// (`advice::attach`).
    pub advice: Vec<advice::Advice>,
}

/// The size and change counts of each layer `tree` holds (a size past 2^64 saturates and is named in
/// `overflowed`).
fn layer_stats(image: &Image, tree: &ImageTree, overflowed: &mut Vec<String>) -> Vec<LayerStats> {
    image
        .layers
        .iter()
        .take(tree.layer_count())
        .map(|l| LayerStats {
            index: l.index,
            size_bytes: l.size_bytes().unwrap_or_else(|| {
                overflowed.push(format!("the size of layer {}", l.index));
                u64::MAX
            }),
            counts: tree.counts(l.index),
        })
        .collect()
}

/// The analysis of the bottom layers `tree` holds while the others still load: their sizes, counts and tree,
/// names and metadata masked as in the full analysis; waste, secrets and advice wait for the whole image.
pub fn analyze_lower(image: &Image, tree: ImageTree) -> Analysis {
    let mut overflowed = Vec::new();
    let layers = layer_stats(image, &tree, &mut overflowed);
    let size_bytes = waste::checked_sum(layers.iter().map(|l| l.size_bytes)).unwrap_or(u64::MAX);
    Analysis {
        redactor: crate::secrets::metadata_redactor(image, &tree),
        size_bytes,
        overflowed,
        tree,
        layers,
        base_layers: 0,
        waste: WasteReport::default(),
        secrets: Vec::new(),
        advice: Vec::new(),
    }
}

/// Analyses an image; `base_layers` bottom layers count as the base image.
pub fn analyze(image: &Image, base_layers: usize) -> Analysis {
    let scans: Vec<_> = image.layers.iter().map(|l| l.scan.clone()).collect();
    let tree = ImageTree::build(&scans);
    let mut overflowed = Vec::new();
    let layers = layer_stats(image, &tree, &mut overflowed);
    let sizes: Vec<u64> = layers.iter().map(|l| l.size_bytes).collect();
    let waste = waste::report(waste::wasted_files(&tree), &sizes, base_layers);
    // The waste report lists the image size among its overflowed totals when it is one.
    let size_bytes = waste::checked_sum(sizes.iter().copied()).unwrap_or(u64::MAX);
    overflowed.extend(waste.overflowed.iter().map(|what| what.to_string()));
    Analysis {
        redactor: crate::secrets::metadata_redactor(image, &tree),
        size_bytes,
        overflowed,
        tree,
        layers,
        base_layers,
        waste,
        secrets: Vec::new(),
        advice: Vec::new(),
    }
}
