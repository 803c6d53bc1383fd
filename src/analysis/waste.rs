//! Wasted space: the bytes of regular-file versions that ship in some layer but are not visible in the final
//! image (overwritten, deleted, or hidden under a deleted, opaque or replaced directory). Each wasted version
//! counts once; the kept copy never counts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tree::{Fate, GoneReason, ImageTree, NodeId, State};

/// One wasted version of a file.
#[derive(Debug, Clone, Serialize)]
pub struct WastedVersion {
    pub layer: u32,
    pub bytes: u64,
    pub reason: GoneReason,
    /// The layer whose change made this version invisible.
    pub removed_in: u32,
}

/// All wasted versions of one path.
#[derive(Debug, Clone, Serialize)]
pub struct WastedFile {
    pub path: String,
    pub wasted_bytes: u64,
    /// Layers holding wasted versions, ascending.
    pub layers: Vec<u32>,
    /// Why the most recent wasted version is gone.
    pub reason: GoneReason,
    pub versions: Vec<WastedVersion>,
    #[serde(skip)]
    pub node: NodeId,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WasteReport {
    pub wasted_bytes: u64,
    /// 1 - wasted_bytes / size_bytes (1.0 for an empty image).
    pub efficiency: f64,
    /// wasted_bytes / bytes of the layers above the base image.
    pub user_wasted_ratio: f64,
    /// Files with wasted versions, most wasted first.
    pub files: Vec<WastedFile>,
    /// The totals above that did not fit in 64 bits (they hold `u64::MAX`, their ratios are meaningless).
    #[serde(skip)]
    pub overflowed: Vec<&'static str>,
}

/// The sum, or `None` when it does not fit in 64 bits. Sizes are what tar headers claim: any of them may be
/// near 2^64, so no total of them is ever taken with `+` (which wraps in a release build).
pub fn checked_sum(values: impl IntoIterator<Item = u64>) -> Option<u64> {
    values.into_iter().try_fold(0u64, u64::checked_add)
}

/// Finds every wasted version in the tree.
pub fn wasted_files(tree: &ImageTree) -> Vec<WastedFile> {
    let visible = tree.visible_versions();
    let mut by_node: BTreeMap<NodeId, Vec<WastedVersion>> = BTreeMap::new();
    for node in 1..tree.node_count() as NodeId {
        for (position, event) in tree.history(node).iter().enumerate() {
            let State::Present { entry: Some(i) } = event.state else {
                continue;
            };
            let entry = tree.entry(event.layer, i);
            if entry.kind != crate::layer::EntryKind::File || entry.size == 0 {
                continue;
            }
            if let Fate::Gone { reason, removed_in } = tree.fate(node, position, &visible) {
                by_node.entry(node).or_default().push(WastedVersion {
                    layer: event.layer,
                    bytes: entry.size,
                    reason,
                    removed_in,
                });
            }
        }
    }
    let mut files: Vec<WastedFile> = by_node
        .into_iter()
        .map(|(node, versions)| {
            let mut layers: Vec<u32> = versions.iter().map(|v| v.layer).collect();
            layers.dedup();
            WastedFile {
                path: tree.display_path(node),
                // Saturated when it overflows: `report` then finds the total overflowed too.
                wasted_bytes: checked_sum(versions.iter().map(|v| v.bytes)).unwrap_or(u64::MAX),
                layers,
                reason: versions.last().map_or(GoneReason::Deleted, |v| v.reason),
                versions,
                node,
            }
        })
        .collect();
    files.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then_with(|| a.path.cmp(&b.path))
    });
    files
}

/// Builds the report from the wasted files and the layer sizes.
pub fn report(files: Vec<WastedFile>, layer_sizes: &[u64], base_layers: usize) -> WasteReport {
    let mut overflowed = Vec::new();
    // A file total or a layer size of u64::MAX is one that overflowed already.
    let mut total = |what: &'static str, values: &mut dyn Iterator<Item = u64>| {
        let mut saturated = false;
        let sum = checked_sum(values.inspect(|&v| saturated |= v == u64::MAX));
        match sum {
            Some(sum) if !saturated => sum,
            _ => {
                overflowed.push(what);
                u64::MAX
            }
        }
    };
    let wasted_bytes = total(
        "the wasted bytes",
        &mut files.iter().map(|f| f.wasted_bytes),
    );
    let size = total("the image size", &mut layer_sizes.iter().copied());
    let user_size = total(
        "the size of the layers above the base",
        &mut layer_sizes.iter().copied().skip(base_layers),
    );
    WasteReport {
        overflowed,
        wasted_bytes,
        efficiency: if size == 0 {
            1.0
        } else {
            1.0 - wasted_bytes as f64 / size as f64
        },
        user_wasted_ratio: if user_size == 0 {
            0.0
        } else {
            wasted_bytes as f64 / user_size as f64
        },
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Totals past 2^64 are recorded as overflowed and held at u64::MAX, never wrapped to a small number.
    #[test]
    fn overflowing_totals_saturate_and_are_recorded() {
        let sizes = [u64::MAX - 10, 20, 5];
        let r = report(Vec::new(), &sizes, 1);
        assert_eq!(r.overflowed, ["the image size"]);
        assert_eq!(checked_sum(sizes), None);
        let r = report(Vec::new(), &[u64::MAX, 1], 0);
        assert_eq!(
            r.overflowed,
            ["the image size", "the size of the layers above the base"]
        );
        let r = report(Vec::new(), &[u64::MAX], 1);
        assert_eq!(r.overflowed, ["the image size"], "a saturated layer size");
        assert!(report(Vec::new(), &[1, 2], 1).overflowed.is_empty());
    }
}
