//! Read-only views of an [`ImageTree`]: the merged tree at a layer, the changes of one layer or of a range of
//! layers, per-directory sizes, and flat listings. Views borrow the tree and hold only per-node sizes.

use serde::Serialize;

use super::{Event, ImageTree, NodeId, ROOT, State};
use crate::layer::EntryKind;
use crate::path;

/// How a path differs between two points of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Unmodified,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Unmodified => "unmodified",
        }
    }
}

/// One row of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct ListedEntry {
    /// Absolute path, non-UTF-8 bytes escaped.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// A file's bytes (a hardlink shows its target's), or a directory's total.
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    pub change: ChangeKind,
    /// Index of the layer that last wrote the entry.
    pub layer: u32,
    #[serde(skip)]
    pub node: NodeId,
}

/// The image seen at layer `to`, with changes measured since layer `from` (`None` = the empty image).
pub struct TreeView<'t> {
    tree: &'t ImageTree,
    from: Option<u32>,
    to: u32,
    sizes: Vec<u64>,
}

impl<'t> TreeView<'t> {
    /// The merged tree at `layer`, with that layer's changes.
    pub fn at_layer(tree: &'t ImageTree, layer: u32) -> TreeView<'t> {
        TreeView::between(tree, layer.checked_sub(1), layer)
    }

    /// The merged tree at `to`, with the changes of layers `from+1..=to` (compare layer i with j).
    pub fn between(tree: &'t ImageTree, from: Option<u32>, to: u32) -> TreeView<'t> {
        let mut sizes = vec![0u64; tree.node_count()];
        // Children always have larger ids than their parents, so one reverse sweep sums every directory.
        for node in (1..tree.node_count() as NodeId).rev() {
            if let Some(event) = tree.state_at(node, Some(to)) {
                if let State::Present { entry: Some(i) } = event.state
                    && tree.entry(event.layer, i).kind == EntryKind::File
                {
                    sizes[node as usize] += tree.entry(event.layer, i).size;
                }
                let parent = tree.parent(node) as usize;
                sizes[parent] += sizes[node as usize];
            }
        }
        TreeView {
            tree,
            from,
            to,
            sizes,
        }
    }

    pub fn tree(&self) -> &'t ImageTree {
        self.tree
    }

    pub fn layer(&self) -> u32 {
        self.to
    }

    /// Total bytes of regular files under a directory (or of a file) at this layer.
    pub fn size(&self, node: NodeId) -> u64 {
        self.sizes[node as usize]
    }

    /// How `node` changed over the view's range; `None` when it is neither present at the end nor removed in
    /// the range.
    pub fn change(&self, node: NodeId) -> Option<ChangeKind> {
        let tree = self.tree;
        let before = self.from.and_then(|f| tree.state_at(node, Some(f)));
        let after = tree.state_at(node, Some(self.to));
        let present = |e: &Option<Event>| {
            matches!(
                e,
                Some(Event {
                    state: State::Present { .. },
                    ..
                })
            )
        };
        match (present(&before), present(&after)) {
            (false, false) => None,
            (false, true) => Some(ChangeKind::Added),
            (true, false) => Some(ChangeKind::Deleted),
            (true, true) => {
                let (b, a) = (before?, after?);
                let touched = tree
                    .history(node)
                    .iter()
                    .any(|e| e.layer <= self.to && self.from.is_none_or(|f| e.layer > f));
                if !touched || (tree.is_dir_event(&a) && tree.is_dir_event(&b)) {
                    Some(ChangeKind::Unmodified)
                } else {
                    Some(ChangeKind::Modified)
                }
            }
        }
    }

    /// A listing row for `node`, from its state at the end of the range (or, if deleted, just before).
    pub fn row(&self, node: NodeId) -> Option<ListedEntry> {
        let change = self.change(node)?;
        let event = match change {
            ChangeKind::Deleted => self.tree.state_at(node, self.from)?,
            _ => self.tree.state_at(node, Some(self.to))?,
        };
        Some(self.row_from(node, &event, change))
    }

    fn row_from(&self, node: NodeId, event: &Event, change: ChangeKind) -> ListedEntry {
        let tree = self.tree;
        let entry = tree.event_entry(event);
        let kind = entry.map_or(EntryKind::Dir, |e| e.kind);
        let size = match kind {
            EntryKind::Dir if change != ChangeKind::Deleted => self.size(node),
            _ => tree.shown_size(event),
        };
        let link_target = entry
            .and_then(|e| e.link_target.as_deref())
            .map(|t| match kind {
                EntryKind::Hardlink => path::display_absolute(t),
                _ => path::display(t),
            });
        ListedEntry {
            path: tree.display_path(node),
            kind,
            size,
            mode: entry.map_or(0o755, |e| e.mode),
            uid: entry.map_or(0, |e| e.uid),
            gid: entry.map_or(0, |e| e.gid),
            link_target,
            change,
            layer: event.layer,
            node,
        }
    }

    /// Every path present at the end of the range, depth first in name order; with `deleted`, also the paths
    /// removed in the range, marked.
    pub fn merged(&self, deleted: bool) -> Vec<ListedEntry> {
        let mut out = Vec::new();
        self.walk(ROOT, &mut |node, change| {
            if (change != ChangeKind::Deleted || deleted)
                && let Some(row) = self.row(node)
            {
                out.push(row);
            }
            true
        });
        out
    }

    /// Only what one layer changed, exactly the entries its added/modified/deleted counts count.
    pub fn layer_changes(&self) -> Vec<ListedEntry> {
        let mut out = Vec::new();
        self.walk(ROOT, &mut |node, _| {
            if let Some(kind) = self.tree.layer_change(node, self.to) {
                let event = match kind {
                    ChangeKind::Deleted => self.tree.state_at(node, self.to.checked_sub(1)),
                    _ => self.tree.state_at(node, Some(self.to)),
                };
                if let Some(event) = event {
                    out.push(self.row_from(node, &event, kind));
                }
            }
            true
        });
        out
    }

    /// Visits nodes that are present at the end or removed in the range, depth first in name order.
    fn walk(&self, start: NodeId, visit: &mut dyn FnMut(NodeId, ChangeKind) -> bool) {
        let mut stack: Vec<NodeId> = self.tree.children(start).iter().rev().copied().collect();
        while let Some(node) = stack.pop() {
            let Some(change) = self.change(node) else {
                continue;
            };
            if visit(node, change) {
                stack.extend(self.tree.children(node).iter().rev().copied());
            }
        }
    }
}
