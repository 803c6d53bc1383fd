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
    /// A regular file's content digest (a hardlink shows its target's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::file_digest::FileDigest>,
    pub change: ChangeKind,
    /// Index of the layer that last wrote the entry.
    pub layer: u32,
    #[serde(skip)]
    pub node: NodeId,
}

/// The image seen at layer `to`, with changes measured since layer `from` (`None` = the empty image).
///
/// Built in one sweep over the nodes that reads each node's history once: its size and how it changed (9 bytes
/// per node), so every later question about a node is an array read.
pub struct TreeView<'t> {
    tree: &'t ImageTree,
    from: Option<u32>,
    to: u32,
    sizes: Vec<u64>,
    /// Per node: its change kind (`NOT_LISTED` when neither present nor removed), plus `DIR` when the event that
    /// shows it (at `to`, or just before the range for a deleted path) is a directory.
    marks: Vec<u8>,
}

const NOT_LISTED: u8 = 0;
const DIR: u8 = 8;

fn mark(change: Option<ChangeKind>, is_dir: bool) -> u8 {
    let kind = match change {
        None => NOT_LISTED,
        Some(ChangeKind::Added) => 1,
        Some(ChangeKind::Modified) => 2,
        Some(ChangeKind::Deleted) => 3,
        Some(ChangeKind::Unmodified) => 4,
    };
    if is_dir { kind | DIR } else { kind }
}

fn unmark(mark: u8) -> Option<ChangeKind> {
    match mark & !DIR {
        1 => Some(ChangeKind::Added),
        2 => Some(ChangeKind::Modified),
        3 => Some(ChangeKind::Deleted),
        4 => Some(ChangeKind::Unmodified),
        _ => None,
    }
}

/// A node's events seen from a range: the latest at or before `to`, the latest at or before `from`, and
/// whether any falls inside `from+1..=to`. One backward pass over the history (it is in layer order).
fn scan_history(
    history: &[Event],
    from: Option<u32>,
    to: u32,
) -> (Option<Event>, Option<Event>, bool) {
    let (mut after, mut before, mut touched) = (None, None, false);
    for e in history.iter().rev().filter(|e| e.layer <= to) {
        if after.is_none() {
            after = Some(*e);
        }
        if from.is_some_and(|f| e.layer <= f) {
            before = Some(*e);
            break;
        }
        touched = true;
    }
    (after, before, touched)
}

fn is_present(e: &Option<Event>) -> bool {
    matches!(
        e,
        Some(Event {
            state: State::Present { .. },
            ..
        })
    )
}

/// How a node changed, from its events before and after the range and whether the range touched it.
fn classify(
    tree: &ImageTree,
    before: Option<Event>,
    after: Option<Event>,
    touched: bool,
) -> Option<ChangeKind> {
    match (is_present(&before), is_present(&after)) {
        (false, false) => None,
        (false, true) => Some(ChangeKind::Added),
        (true, false) => Some(ChangeKind::Deleted),
        (true, true) => {
            let (b, a) = (before?, after?);
            if !touched || (tree.is_dir_event(&a) && tree.is_dir_event(&b)) {
                Some(ChangeKind::Unmodified)
            } else {
                Some(ChangeKind::Modified)
            }
        }
    }
}

impl<'t> TreeView<'t> {
    /// The merged tree at `layer`, with that layer's changes.
    pub fn at_layer(tree: &'t ImageTree, layer: u32) -> TreeView<'t> {
        TreeView::between(tree, layer.checked_sub(1), layer)
    }

    /// The merged tree at `to`, with the changes of layers `from+1..=to` (compare layer i with j).
    pub fn between(tree: &'t ImageTree, from: Option<u32>, to: u32) -> TreeView<'t> {
        let mut sizes = vec![0u64; tree.node_count()];
        let mut marks = vec![NOT_LISTED; tree.node_count()];
        // Children always have larger ids than their parents, so one reverse sweep sums every directory.
        for node in (1..tree.node_count() as NodeId).rev() {
            let (after, before, touched) = scan_history(tree.history(node), from, to);
            let change = classify(tree, before, after, touched);
            let shown = match change {
                Some(ChangeKind::Deleted) => before,
                _ => after,
            };
            marks[node as usize] = mark(change, shown.is_some_and(|e| tree.is_dir_event(&e)));
            if let Some(event) = after {
                if let State::Present { entry: Some(i) } = event.state
                    && tree.entry(event.layer, i).kind == EntryKind::File
                {
                    sizes[node as usize] =
                        sizes[node as usize].saturating_add(tree.entry(event.layer, i).size);
                }
                let parent = tree.parent(node) as usize;
                // Claimed sizes may sum past 2^64: a directory shows u64::MAX rather than a wrapped small
                // number (the analysis records the overflow).
                sizes[parent] = sizes[parent].saturating_add(sizes[node as usize]);
            }
        }
        // The root has no history: present at every layer, added when the range starts from the empty image.
        if let Some(root) = marks.first_mut() {
            let change = if from.is_some() {
                ChangeKind::Unmodified
            } else {
                ChangeKind::Added
            };
            *root = mark(Some(change), true);
        }
        TreeView {
            tree,
            from,
            to,
            sizes,
            marks,
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
        unmark(self.marks[node as usize])
    }

    /// Whether `node` is listed as a directory: its state at the end of the range, or just before the range for
    /// a deleted path.
    pub fn is_dir(&self, node: NodeId) -> bool {
        self.marks[node as usize] & DIR != 0
    }

    /// A listing row for `node`, from its state at the end of the range (or, if deleted, just before).
    pub fn row(&self, node: NodeId) -> Option<ListedEntry> {
        let change = self.change(node)?;
        let event = match change {
            ChangeKind::Deleted => self.tree.state_at(node, self.from)?,
            _ => self.tree.state_at(node, Some(self.to))?,
        };
        Some(self.row_from(node, &event, change, self.tree.display_path(node)))
    }

    /// A listing row; `path` is the node's display path (carried down a walk, so no row climbs to the root).
    fn row_from(
        &self,
        node: NodeId,
        event: &Event,
        change: ChangeKind,
        path: String,
    ) -> ListedEntry {
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
            path,
            kind,
            size,
            mode: entry.map_or(0o755, |e| e.mode),
            uid: entry.map_or(0, |e| e.uid),
            gid: entry.map_or(0, |e| e.gid),
            link_target,
            digest: tree
                .version_of(event)
                .and_then(|(l, i)| tree.entry(l, i).digest),
            change,
            layer: event.layer,
            node,
        }
    }

    /// Every path present at the end of the range, depth first in name order; with `deleted`, also the paths
    /// removed in the range, marked.
    pub fn merged(&self, deleted: bool) -> Vec<ListedEntry> {
        let mut out = Vec::new();
        self.walk(ROOT, &mut |node, change, path| {
            if change != ChangeKind::Deleted || deleted {
                let event = match change {
                    ChangeKind::Deleted => self.tree.state_at(node, self.from),
                    _ => self.tree.state_at(node, Some(self.to)),
                };
                if let Some(event) = event {
                    out.push(self.row_from(node, &event, change, path.to_string()));
                }
            }
            true
        });
        out
    }

    /// Only what one layer changed, exactly the entries its added/modified/deleted counts count.
    pub fn layer_changes(&self) -> Vec<ListedEntry> {
        let mut out = Vec::new();
        self.walk(ROOT, &mut |node, _, path| {
            if let Some(kind) = self.tree.layer_change(node, self.to) {
                let event = match kind {
                    ChangeKind::Deleted => self.tree.state_at(node, self.to.checked_sub(1)),
                    _ => self.tree.state_at(node, Some(self.to)),
                };
                if let Some(event) = event {
                    out.push(self.row_from(node, &event, kind, path.to_string()));
                }
            }
            true
        });
        out
    }

    /// Visits nodes that are present at the end or removed in the range, depth first in name order, with each
    /// node's display path. The path of the node being visited is its parent's plus its own name: the walk keeps
    /// the current directory's path and where each ancestor's ends, so a listing costs what its rows hold, never
    /// a climb to the root per row (which made a deep chain quadratic).
    fn walk(&self, start: NodeId, visit: &mut dyn FnMut(NodeId, ChangeKind, &str) -> bool) {
        let tree = self.tree;
        // (node, depth below `start`); `ends[d]` is where the path of the ancestor at depth `d` ends in `path`.
        let mut stack: Vec<(NodeId, usize)> =
            tree.children(start).iter().rev().map(|&c| (c, 0)).collect();
        let mut path = if start == ROOT {
            String::new()
        } else {
            tree.display_path(start)
        };
        let mut ends = vec![path.len()];
        while let Some((node, depth)) = stack.pop() {
            let Some(change) = self.change(node) else {
                continue;
            };
            ends.truncate(depth + 1);
            path.truncate(ends[depth]);
            path.push('/');
            // Escaping name by name equals escaping the whole path: `/` never falls inside a UTF-8 sequence.
            path.push_str(&path::display(tree.name(node)));
            if visit(node, change, &path) {
                ends.push(path.len());
                stack.extend(tree.children(node).iter().rev().map(|&c| (c, depth + 1)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::layer::{LayerEntry, LayerScan};

    /// One file at the bottom of a chain of `depth` directories named `d`.
    fn chain(depth: usize) -> ImageTree {
        let mut path = "d/".repeat(depth);
        path.push('f');
        let scan = LayerScan {
            entries: vec![LayerEntry {
                path: path.into_bytes().into_boxed_slice(),
                kind: EntryKind::File,
                size: 1,
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: 0,
                link_target: None,
                digest: None,
            }],
            ..LayerScan::default()
        };
        ImageTree::build(&[Arc::new(scan)])
    }

    fn time_listing(depth: usize) -> Duration {
        let tree = chain(depth);
        let start = Instant::now();
        let rows = TreeView::at_layer(&tree, 0).merged(false);
        let took = start.elapsed();
        assert_eq!(rows.len(), depth + 1);
        assert_eq!(rows[depth].path.len(), 2 * depth + 2);
        took
    }

    /// Each row's path used to be rebuilt from the root (a vector of every ancestor's name, joined, then
    /// escaped): 20,000 nested directories took 40 s in a debug build. Carried down the walk, a row costs one
    /// copy of its parent's path; the rows' own bytes (400 MB here, the square of the depth) are the floor.
    #[test]
    fn deep_chain_lists_without_climbing_to_the_root() {
        // A generous bound: the test threads share the cores; the old walk took over 40 s alone.
        let took = time_listing(20_000);
        assert!(took < Duration::from_secs(20), "20,000 deep took {took:?}");
    }

    #[test]
    fn carried_paths_match_the_tree_paths() {
        let tree = chain(3);
        let view = TreeView::at_layer(&tree, 0);
        let rows = view.merged(false);
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/d", "/d/d", "/d/d/d", "/d/d/d/f"]);
        for row in &rows {
            assert_eq!(row.path, tree.display_path(row.node));
        }
    }
}
