//! The advice as the explorer lists it (the `i` overlay): in the order the text summary prints it (most severe
//! first, then most reclaimable bytes), one row per finding; and where Enter on a finding leads: its first path
//! the tree knows, at the first of its layers that holds that path.
//!
//! The advice's strings are masked once when it is computed (`advice::attach`); the view masks them again with
//! the same redactor (as the secrets list does) and escapes them.

use crate::analysis::advice::Advice;
use crate::report::text::size;
use crate::tree::{ImageTree, NodeId, ROOT};

/// Where Enter on a finding goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub layer: usize,
    /// The path's node; `None` when the finding names no path of the tree (`runs-as-root`, a config field).
    pub node: Option<NodeId>,
    /// The path (or the rule) for the status line.
    pub shown: String,
}

/// The row of a finding: severity, rule, reclaimable bytes (blank when it is not about space), message.
pub fn row(a: &Advice) -> String {
    let bytes = match a.reclaimable_bytes {
        0 => String::new(),
        b => size(b),
    };
    format!(
        "{:<6}  {:<17}  {bytes:>10}  {}",
        a.severity.name(),
        a.id.id(),
        a.message
    )
}

/// The column titles above [`row`]s.
pub fn header() -> String {
    format!(
        "{:<6}  {:<17}  {:>10}  {}",
        "sev", "rule", "saves", "finding"
    )
}

/// The bytes all findings reclaim together (the rules never count a byte twice).
pub fn total_bytes(advice: &[Advice]) -> u64 {
    advice
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.reclaimable_bytes))
}

/// Where a finding leads: its first path found in the tree, at the lowest of the finding's layers that holds
/// it (the layer that wrote it, so a file a later layer deleted is still there to see); a path in none of them
/// is shown at the top layer. `None` when the finding has no path and no layer.
pub fn target(a: &Advice, tree: &ImageTree) -> Option<Target> {
    let found = a.paths.iter().find_map(|p| {
        tree.lookup(p.path.as_bytes())
            .filter(|n| *n != ROOT)
            .map(|n| (n, p.path.clone()))
    });
    let top = tree.layer_count().checked_sub(1)?;
    match found {
        Some((node, shown)) => {
            let layer = a
                .layers
                .iter()
                .map(|l| l.index)
                .find(|&l| tree.present_at(node, Some(l)))
                .map_or(top, |l| l as usize);
            Some(Target {
                layer,
                node: Some(node),
                shown,
            })
        }
        None => {
            let layer = a.layers.first()?.index as usize;
            Some(Target {
                layer: layer.min(top),
                node: None,
                shown: a.id.id().to_string(),
            })
        }
    }
}
