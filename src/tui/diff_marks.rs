//! `layerscope diff A B` in a terminal: the explorer opens on B with every path marked against A. The marks
//! come from the diff's own comparison of the final trees ([`ImageDiff::files`], contents by digest), looked up
//! in B's tree once: nothing is compared again, and nothing is stored in the tree.
//!
//! A path A holds and B lacks is marked on B's node for it when B's tree has one (B created and deleted it);
//! otherwise it is counted on its nearest directory B has, which the tree shows with the count.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::analysis::diff::{ImageDiff, LayerStatus};
use crate::tree::{ImageTree, NodeId, ROOT};

/// How a path of B compares with A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Only in B.
    Added,
    /// Only in A (B's tree has the path, but not in its final image).
    Removed,
    /// Other bytes (by content digest) or another type.
    Content,
    /// The same bytes; another mode, owner or link target.
    Metadata,
}

impl Mark {
    /// The one-letter cue of the mark column (readable without colour).
    pub fn letter(self) -> &'static str {
        match self {
            Mark::Added => "A",
            Mark::Removed => "R",
            Mark::Content => "C",
            Mark::Metadata => "M",
        }
    }
}

/// How many paths differ, per kind (the diff's counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub removed: usize,
    pub content: usize,
    pub metadata: usize,
}

/// Every path of B marked against A, and B's layers as shared with A or new.
#[derive(Debug, Clone, Default)]
pub struct DiffMarks {
    /// What B is compared with (A's reference or source, masked as the diff masks it; escape to show).
    pub against: String,
    pub counts: Counts,
    marks: HashMap<NodeId, Mark>,
    /// Per directory of B: how many of A's paths below it B lacks and its tree does not hold.
    removed_below: HashMap<NodeId, usize>,
    /// Directories of B holding a marked path somewhere below.
    holding: HashSet<NodeId>,
    /// What the only-differences view lists: marked paths and directories with removed paths below.
    differing: Arc<HashSet<NodeId>>,
    /// Per layer of B: shared with A (same diff_id) or not.
    shared: Vec<bool>,
    /// A's layers B does not hold.
    pub removed_layers: usize,
}

impl DiffMarks {
    /// The marks of a diff of A with B, on B's tree.
    pub fn new(diff: &ImageDiff, b: &ImageTree) -> DiffMarks {
        let files = &diff.files;
        let mut out = DiffMarks {
            against: diff
                .a
                .reference
                .clone()
                .unwrap_or_else(|| diff.a.source.clone()),
            counts: Counts {
                added: files.added.len(),
                removed: files.removed.len(),
                content: files.content_changed.len(),
                metadata: files.metadata_changed.len(),
            },
            ..DiffMarks::default()
        };
        let present = [
            (
                Mark::Added,
                files.added.iter().map(|f| &f.raw_path).collect::<Vec<_>>(),
            ),
            (
                Mark::Content,
                files.content_changed.iter().map(|f| &f.raw_path).collect(),
            ),
            (
                Mark::Metadata,
                files.metadata_changed.iter().map(|f| &f.raw_path).collect(),
            ),
        ];
        for (mark, paths) in present {
            for raw in paths {
                if let Some(node) = b.lookup(raw).filter(|n| *n != ROOT) {
                    out.marks.insert(node, mark);
                }
            }
        }
        for f in &files.removed {
            match b.lookup(&f.raw_path).filter(|n| *n != ROOT) {
                Some(node) => {
                    out.marks.insert(node, Mark::Removed);
                }
                None => {
                    let dir = nearest_node(b, &f.raw_path);
                    *out.removed_below.entry(dir).or_default() += 1;
                }
            }
        }
        let mut differing: HashSet<NodeId> = out.marks.keys().copied().collect();
        differing.extend(out.removed_below.keys().copied().filter(|n| *n != ROOT));
        for &node in &differing {
            let mut up = b.parent(node);
            while up != ROOT && out.holding.insert(up) {
                up = b.parent(up);
            }
        }
        out.differing = Arc::new(differing);
        out.shared = vec![false; diff.b.layer_count];
        for l in &diff.layers {
            match (l.status, l.b_index) {
                (LayerStatus::Shared, Some(i)) => {
                    if let Some(slot) = out.shared.get_mut(i) {
                        *slot = true;
                    }
                }
                (LayerStatus::Removed, _) => out.removed_layers += 1,
                _ => {}
            }
        }
        out
    }

    /// The mark of a path of B, if it differs from A.
    pub fn mark(&self, node: NodeId) -> Option<Mark> {
        self.marks.get(&node).copied()
    }

    /// Whether a directory holds a difference below it.
    pub fn holds_changes(&self, node: NodeId) -> bool {
        self.holding.contains(&node)
    }

    /// How many of A's paths B lacks below a directory (those B's tree does not hold).
    pub fn removed_below(&self, node: NodeId) -> usize {
        self.removed_below.get(&node).copied().unwrap_or(0)
    }

    /// The paths the only-differences view lists (their directories come along as context).
    pub fn differing(&self) -> Arc<HashSet<NodeId>> {
        Arc::clone(&self.differing)
    }

    /// Whether layer `i` of B is one of A's too (same diff_id).
    pub fn is_shared(&self, layer: usize) -> bool {
        self.shared.get(layer).copied().unwrap_or(false)
    }

    pub fn shared_layers(&self) -> usize {
        self.shared.iter().filter(|s| **s).count()
    }

    pub fn new_layers(&self) -> usize {
        self.shared.len() - self.shared_layers()
    }
}

/// The node of the longest leading part of `raw` that B's tree holds (the root at worst).
fn nearest_node(b: &ImageTree, raw: &[u8]) -> NodeId {
    let mut node = ROOT;
    for part in crate::path::components(raw) {
        let children = b.children(node);
        match children.binary_search_by(|c| b.name(*c).cmp(part)) {
            Ok(i) => node = children[i],
            Err(_) => break,
        }
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture;

    #[test]
    fn b_paths_are_marked_from_the_diffs_own_comparison() {
        let image = fixture::image();
        let analysis = fixture::analysis(&image);
        let marks = fixture::diff_marks(&image, &analysis);
        let tree = &analysis.tree;
        let mark = |p: &str| marks.mark(tree.lookup(p.as_bytes()).unwrap());
        assert_eq!(mark("/srv/app/app.conf.bak"), Some(Mark::Added));
        assert_eq!(mark("/tmp"), Some(Mark::Added));
        assert_eq!(mark("/srv/app/big.bin"), Some(Mark::Content));
        assert_eq!(mark("/bin/ash"), Some(Mark::Metadata));
        // B's tree holds the .netrc it deleted: the node itself is marked removed.
        assert_eq!(mark("/home/ci/.netrc"), Some(Mark::Removed));
        // Same bytes (a rewrite to what A had), and unchanged paths: no mark.
        assert_eq!(mark("/srv/app/app.conf"), None);
        assert_eq!(mark("/etc/hosts"), None);
        // old.txt is not in B's tree: its directory counts it, and holds changes.
        let app = tree.lookup(b"/srv/app").unwrap();
        assert_eq!(marks.removed_below(app), 1);
        assert!(marks.holds_changes(app));
        assert!(marks.holds_changes(tree.lookup(b"/srv").unwrap()));
        assert!(!marks.holds_changes(tree.lookup(b"/etc").unwrap()));
        let c = marks.counts;
        assert_eq!((c.added, c.removed, c.content, c.metadata), (2, 2, 1, 1));
        // The base layer is A's too; B's two later layers are not.
        assert_eq!(
            (0..3).map(|i| marks.is_shared(i)).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!((marks.shared_layers(), marks.new_layers()), (1, 2));
        assert_eq!(marks.removed_layers, 1);
        assert_eq!(marks.against, "fixture:0");
    }
}
