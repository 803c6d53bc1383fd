//! Read-only views of an [`ImageTree`]: the merged tree at a layer, the changes of one layer or of a range of
//! layers, per-directory sizes, and flat listings. Views borrow the tree and hold only per-node sizes.
//!
//! A view is built in one sweep over every node, or from a view of a nearby range ([`TreeView::moved`]): a node
//! no layer between the two ranges touches looks the same in both, so only the nodes those layers touch
//! ([`LayerTouches`]) and the directories above them are looked at again.

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

/// Per layer, the nodes it has an event for (an entry, a whiteout, a path an opaque marker or a deleted directory
/// hides), ascending: 4 bytes per event, built in one pass over the nodes' histories.
pub struct LayerTouches {
    /// `nodes[offsets[l]..offsets[l + 1]]` are layer `l`'s.
    offsets: Vec<u32>,
    nodes: Vec<NodeId>,
}

impl LayerTouches {
    pub fn new(tree: &ImageTree) -> LayerTouches {
        let layers = tree.layer_count();
        let mut counts = vec![0u32; layers + 1];
        let nodes = 1..tree.node_count() as NodeId;
        for node in nodes.clone() {
            for e in tree.history(node) {
                if let Some(c) = counts.get_mut(e.layer as usize + 1) {
                    *c += 1;
                }
            }
        }
        for l in 0..layers {
            counts[l + 1] += counts[l];
        }
        let mut next = counts.clone();
        let mut out = vec![ROOT; counts[layers] as usize];
        for node in nodes {
            for e in tree.history(node) {
                if let Some(at) = next.get_mut(e.layer as usize) {
                    out[*at as usize] = node;
                    *at += 1;
                }
            }
        }
        LayerTouches {
            offsets: counts,
            nodes: out,
        }
    }

    /// The nodes layer `layer` touches, ascending (a node once per event).
    pub fn layer(&self, layer: u32) -> &[NodeId] {
        let l = layer as usize;
        match (self.offsets.get(l), self.offsets.get(l + 1)) {
            (Some(&a), Some(&b)) => &self.nodes[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The nodes the layers `after+1..=to` touch (`after` `None`: from layer 0), in no order, with repeats.
    pub fn between(&self, after: Option<u32>, to: u32) -> impl Iterator<Item = NodeId> + '_ {
        let start = after.map_or(0, |a| a + 1);
        (start..=to).flat_map(|l| self.layer(l).iter().copied())
    }

    /// The nodes that can look different in the ranges `a` and `b` (those the layers [`layers_between`] them
    /// touch), ascending, once each: what [`TreeView::moved`] classifies again.
    pub fn changed(&self, a: (Option<u32>, u32), b: (Option<u32>, u32)) -> Vec<NodeId> {
        let (after, to) = layers_between(a, b);
        let mut changed: Vec<NodeId> = self.between(after, to).collect();
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// How many events the layers `after+1..=to` hold.
    pub fn count_between(&self, after: Option<u32>, to: u32) -> usize {
        let start = after.map_or(0, |a| a as usize + 1);
        let end = (to as usize + 1).min(self.offsets.len().saturating_sub(1));
        match (self.offsets.get(start), self.offsets.get(end)) {
            (Some(&a), Some(&b)) if b > a => (b - a) as usize,
            _ => 0,
        }
    }
}

/// The layers whose events can make a node look different in the ranges `a` and `b`: `(after, to)` such that a
/// node with no event in `after+1..=to` looks the same in both.
pub fn layers_between(a: (Option<u32>, u32), b: (Option<u32>, u32)) -> (Option<u32>, u32) {
    let after = match (a.0, b.0) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => None,
    };
    (after, a.1.max(b.1))
}

/// What the view sums for a node itself: a regular file's bytes at `to`.
fn own_size(tree: &ImageTree, after: Option<Event>) -> u64 {
    match after {
        Some(Event {
            layer,
            state: State::Present { entry: Some(i) },
        }) if tree.entry(layer, i).kind == EntryKind::File => tree.entry(layer, i).size,
        _ => 0,
    }
}

/// A node's mark for the range: its change, and whether what it shows (the deleted version for a deletion) is
/// a directory.
fn node_mark(tree: &ImageTree, before: Option<Event>, after: Option<Event>, touched: bool) -> u8 {
    let change = classify(tree, before, after, touched);
    let shown = match change {
        Some(ChangeKind::Deleted) => before,
        _ => after,
    };
    mark(change, shown.is_some_and(|e| tree.is_dir_event(&e)))
}

/// The root has no history: present at every layer, added when the range starts from the empty image.
fn root_mark(from: Option<u32>) -> u8 {
    let change = if from.is_some() {
        ChangeKind::Unmodified
    } else {
        ChangeKind::Added
    };
    mark(Some(change), true)
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
            marks[node as usize] = node_mark(tree, before, after, touched);
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
        if let Some(root) = marks.first_mut() {
            *root = root_mark(from);
        }
        TreeView {
            tree,
            from,
            to,
            sizes,
            marks,
        }
    }

    /// The view of the range `from..=to` made from this one: only the `changed` nodes (the layers between the
    /// two ranges touch them: [`LayerTouches::changed`], ascending, once each) are classified again and only the
    /// directories above them summed again, from the sizes this view has (exact integer deltas). `None` when a
    /// size saturated (claimed sizes past 2^64), where only a full sweep ([`TreeView::between`]) gives the
    /// capped sums.
    pub fn moved(&self, changed: &[NodeId], from: Option<u32>, to: u32) -> Option<TreeView<'t>> {
        let tree = self.tree;
        if self.sizes.first() == Some(&u64::MAX) {
            return None;
        }
        let mut sizes = self.sizes.clone();
        let mut marks = self.marks.clone();
        // Children have larger ids than their parents: in descending order every child's change in size is
        // known before its parent is reached. `pending` holds the directories above a changed node.
        let mut pending: std::collections::BTreeMap<NodeId, i128> =
            std::collections::BTreeMap::new();
        let mut next_changed = changed.len();
        loop {
            let from_changed = next_changed.checked_sub(1).map(|i| changed[i]);
            let from_pending = pending.last_key_value().map(|(n, _)| *n);
            let node = match (from_changed, from_pending) {
                (None, None) => break,
                (Some(c), Some(p)) if p > c => p,
                (Some(c), Some(p)) if p == c => {
                    next_changed -= 1;
                    p
                }
                (Some(c), _) => {
                    next_changed -= 1;
                    c
                }
                (None, Some(p)) => p,
            };
            let below = pending.remove(&node).unwrap_or(0);
            if node == ROOT {
                sizes[0] = u64::try_from(i128::from(sizes[0]) + below).ok()?;
                break;
            }
            let old = i128::from(self.sizes[node as usize]);
            let history = tree.history(node);
            let (new_size, was_counted, is_counted) = if changed.binary_search(&node).is_ok() {
                let (old_after, _, _) = scan_history(history, self.from, self.to);
                let (after_e, before, touched) = scan_history(history, from, to);
                marks[node as usize] = node_mark(tree, before, after_e, touched);
                let own =
                    i128::from(own_size(tree, after_e)) - i128::from(own_size(tree, old_after));
                (old + own + below, old_after.is_some(), after_e.is_some())
            } else {
                // No event in the layers between: the same latest event at or before `to` in both.
                let counted = history.first().is_some_and(|e| e.layer <= to);
                (old + below, counted, counted)
            };
            let new_size = u64::try_from(new_size).ok().filter(|s| *s != u64::MAX)?;
            sizes[node as usize] = new_size;
            let delta = if is_counted { i128::from(new_size) } else { 0 }
                - if was_counted { old } else { 0 };
            if delta != 0 {
                *pending.entry(tree.parent(node)).or_insert(0) += delta;
            }
        }
        if let Some(root) = marks.first_mut() {
            *root = root_mark(from);
        }
        Some(TreeView {
            tree,
            from,
            to,
            sizes,
            marks,
        })
    }

    /// The range the view shows: changes since layer `from` (`None`: the empty image), the tree at `to`.
    pub fn range(&self) -> (Option<u32>, u32) {
        (self.from, self.to)
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

    /// Layers adding, rewriting and deleting files, a directory deleted with its files, a type change, an opaque
    /// marker and files re-created after their directory went: a tree for comparing views.
    fn churn(layers: u32) -> ImageTree {
        let entry = |path: String, kind: EntryKind, size: u64| LayerEntry {
            path: path.into_bytes().into_boxed_slice(),
            kind,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: None,
            digest: None,
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let scans = (0..layers)
            .map(|l| {
                let mut scan = LayerScan::default();
                for _ in 0..40 {
                    let r = next();
                    let path = format!("d{}/e{}/f{}", r % 3, (r >> 8) % 3, (r >> 16) % 6);
                    match (r >> 24) % 10 {
                        0 if l > 0 => scan.whiteouts.push(path.into_bytes().into()),
                        1 if l > 0 => scan
                            .whiteouts
                            .push(format!("d{}/e{}", r % 3, (r >> 8) % 3).into_bytes().into()),
                        2 if l > 0 => scan.opaques.push(format!("d{}", r % 3).into_bytes().into()),
                        3 => scan.entries.push(entry(path, EntryKind::Dir, 0)),
                        4 => scan.entries.push(entry(path, EntryKind::Symlink, 0)),
                        _ => scan.entries.push(entry(path, EntryKind::File, r % 1000)),
                    }
                }
                Arc::new(scan)
            })
            .collect::<Vec<_>>();
        ImageTree::build(&scans)
    }

    fn assert_same(a: &TreeView, b: &TreeView, what: &str) {
        for node in 0..a.tree.node_count() as NodeId {
            let (x, y) = (
                (a.change(node), a.is_dir(node), a.size(node)),
                (b.change(node), b.is_dir(node), b.size(node)),
            );
            assert_eq!(x, y, "{what}: node {}", a.tree.display_path(node));
        }
    }

    /// Every range made from every other range's view equals the range's own sweep: the classification, the
    /// directory flag and the sizes of every node.
    #[test]
    fn a_view_moved_from_another_range_equals_its_own_sweep() {
        let tree = churn(8);
        let touches = LayerTouches::new(&tree);
        let mut ranges = vec![];
        for to in 0..8u32 {
            ranges.push((None, to));
            for from in 0..to {
                ranges.push((Some(from), to));
            }
        }
        for &(f1, t1) in &ranges {
            let start = TreeView::between(&tree, f1, t1);
            for &(f2, t2) in &ranges {
                let changed = touches.changed((f1, t1), (f2, t2));
                let moved = start.moved(&changed, f2, t2).unwrap();
                let swept = TreeView::between(&tree, f2, t2);
                assert_eq!(moved.range(), (f2, t2));
                assert_same(&moved, &swept, &format!("{f1:?}..{t1} -> {f2:?}..{t2}"));
            }
        }
    }

    #[test]
    fn layer_touches_list_every_event_by_layer() {
        let tree = churn(5);
        let touches = LayerTouches::new(&tree);
        for layer in 0..5 {
            let mut expected: Vec<NodeId> = (1..tree.node_count() as NodeId)
                .flat_map(|n| {
                    tree.history(n)
                        .iter()
                        .filter(|e| e.layer == layer)
                        .map(move |_| n)
                })
                .collect();
            expected.sort_unstable();
            assert_eq!(touches.layer(layer), expected);
        }
        assert_eq!(
            touches.count_between(Some(1), 3),
            touches.layer(2).len() + touches.layer(3).len()
        );
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
