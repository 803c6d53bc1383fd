//! `layerscope diff A B` in a terminal: the explorer opens on B with every path marked against A. The marks
//! come from the diff's own comparison of the final trees ([`ImageDiff::files`], contents by digest), looked up
//! in B's tree once: nothing is compared again, and nothing is stored in the tree.
//!
//! A path A holds and B lacks is marked on B's node for it when B's tree has one (B created and deleted it), and
//! it has a row of its own in every merged view of B ([`OnlyInA`]): under the nearest directory B's final image
//! holds, the directories B lacks above it coming along as rows of A's too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::analysis::diff::{FileEntry, ImageDiff, LayerStatus};
use crate::layer::EntryKind;
use crate::tree::{ImageTree, NodeId, ROOT, State};

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
    /// A's paths B's final image lacks, as rows of their own.
    only_in_a: Arc<OnlyInA>,
    /// Directories of B holding a marked path or a path of A's only somewhere below.
    holding: HashSet<NodeId>,
    /// The paths of B the only-differences view lists (paths of A's only are listed in it too).
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
            if let Some(node) = b.lookup(&f.raw_path).filter(|n| *n != ROOT) {
                out.marks.insert(node, Mark::Removed);
            }
        }
        let only_in_a = OnlyInA::new(&files.removed, b);
        let differing: HashSet<NodeId> = out.marks.keys().copied().collect();
        let holders = only_in_a.below.keys().copied().filter(|n| *n != ROOT);
        for node in differing.iter().map(|n| b.parent(*n)).chain(holders) {
            let mut up = node;
            while up != ROOT && out.holding.insert(up) {
                up = b.parent(up);
            }
        }
        out.differing = Arc::new(differing);
        out.only_in_a = Arc::new(only_in_a);
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

    /// A's paths B's final image lacks, as rows of their own.
    pub fn only_in_a(&self) -> Arc<OnlyInA> {
        Arc::clone(&self.only_in_a)
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

/// A row of the file tree: a node of the image's tree, or a path of the other image (A) this one lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowNode {
    Tree(NodeId),
    /// An index into [`OnlyInA`].
    OnlyInA(u32),
}

/// One path of A that B's final image lacks.
#[derive(Debug, Clone)]
pub struct OnlyInAPath {
    name: Box<[u8]>,
    /// The path as the trees hold it (relative, raw bytes): to show through `path::display_absolute`.
    pub raw_path: Box<[u8]>,
    /// A's kind; a directory only implied by A's paths below it is a directory.
    pub kind: EntryKind,
    /// A's size of a file; a directory's total of the files of A's only below it.
    pub size: u64,
    parent: RowNode,
    /// Sorted by name.
    children: Vec<u32>,
}

/// Every path of A that B's final image lacks, placed in B's tree: each one's parent is the nearest directory
/// B's final image holds, or the path of A's only above it. One entry per path (about 100 bytes plus the path).
#[derive(Debug, Clone, Default)]
pub struct OnlyInA {
    paths: Vec<OnlyInAPath>,
    /// Per directory of B: the paths of A's only right below it, sorted by name.
    below: HashMap<NodeId, Vec<u32>>,
}

impl OnlyInA {
    /// Places A's paths B lacks (`removed`, as the diff lists them) in B's tree.
    pub fn new(removed: &[FileEntry], b: &ImageTree) -> OnlyInA {
        let last = b.layer_count().checked_sub(1).map(|l| l as u32);
        let is_final_dir = |node: NodeId| {
            b.state_at(node, last)
                .is_some_and(|e| matches!(e.state, State::Present { .. }) && b.is_dir_event(&e))
        };
        let mut out = OnlyInA::default();
        let mut by_path: HashMap<Box<[u8]>, u32> = HashMap::new();
        for f in removed {
            let parts: Vec<&[u8]> = crate::path::components(&f.raw_path);
            let mut at = RowNode::Tree(ROOT);
            let mut prefix: Vec<u8> = Vec::new();
            for (depth, part) in parts.iter().enumerate() {
                if !prefix.is_empty() {
                    prefix.push(b'/');
                }
                prefix.extend_from_slice(part);
                if let RowNode::Tree(node) = at {
                    let children = b.children(node);
                    let found = children
                        .binary_search_by(|c| b.name(*c).cmp(part))
                        .ok()
                        .map(|i| children[i])
                        .filter(|c| depth + 1 < parts.len() && is_final_dir(*c));
                    if let Some(child) = found {
                        at = RowNode::Tree(child);
                        continue;
                    }
                }
                let id = match by_path.get(prefix.as_slice()) {
                    Some(id) => *id,
                    None => {
                        let id = out.paths.len() as u32;
                        out.paths.push(OnlyInAPath {
                            name: part.to_vec().into_boxed_slice(),
                            raw_path: prefix.clone().into_boxed_slice(),
                            kind: EntryKind::Dir,
                            size: 0,
                            parent: at,
                            children: Vec::new(),
                        });
                        match at {
                            RowNode::Tree(node) => out.below.entry(node).or_default().push(id),
                            RowNode::OnlyInA(p) => out.paths[p as usize].children.push(id),
                        }
                        by_path.insert(prefix.clone().into_boxed_slice(), id);
                        id
                    }
                };
                at = RowNode::OnlyInA(id);
            }
            if let RowNode::OnlyInA(id) = at {
                let path = &mut out.paths[id as usize];
                path.kind = f.kind;
                if f.kind != EntryKind::Dir {
                    path.size = f.size;
                }
            }
        }
        out.sum_directories();
        let names: Vec<Box<[u8]>> = out.paths.iter().map(|p| p.name.clone()).collect();
        let by_name = |a: &u32, b: &u32| names[*a as usize].cmp(&names[*b as usize]);
        for children in out.below.values_mut() {
            children.sort_by(by_name);
        }
        for path in &mut out.paths {
            path.children.sort_by(by_name);
        }
        out
    }

    /// Directory totals of regular files (as B's directories show them): children are created after their
    /// parents, so one reverse pass sums them.
    fn sum_directories(&mut self) {
        for i in (0..self.paths.len()).rev() {
            let path = &self.paths[i];
            let size = match path.kind {
                EntryKind::File | EntryKind::Dir => path.size,
                _ => 0,
            };
            if let RowNode::OnlyInA(p) = path.parent {
                let p = &mut self.paths[p as usize];
                p.size = p.size.saturating_add(size);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn get(&self, id: u32) -> Option<&OnlyInAPath> {
        self.paths.get(id as usize)
    }

    /// The name of path `id` (empty for an unknown id).
    pub fn name(&self, id: u32) -> &[u8] {
        self.get(id).map_or(&[][..], |p| &p.name)
    }

    /// The row above path `id`: a directory of B's, or a path of A's only.
    pub fn parent(&self, id: u32) -> RowNode {
        self.get(id).map_or(RowNode::Tree(ROOT), |p| p.parent)
    }

    /// The paths of A's only right below B's directory `node`, sorted by name.
    pub fn below(&self, node: NodeId) -> &[u32] {
        self.below.get(&node).map_or(&[][..], Vec::as_slice)
    }

    /// The paths right below path `id`, sorted by name.
    pub fn children(&self, id: u32) -> &[u32] {
        self.get(id).map_or(&[][..], |p| p.children.as_slice())
    }
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
        // old.txt is not in B's tree: a path of A's only, below B's directory, which holds changes.
        let app = tree.lookup(b"/srv/app").unwrap();
        let only = marks.only_in_a();
        let names = |ids: &[u32]| -> Vec<String> {
            ids.iter()
                .map(|i| String::from_utf8_lossy(only.name(*i)).into_owned())
                .collect()
        };
        assert_eq!(names(only.below(app)), ["old.txt"]);
        let old = only.get(only.below(app)[0]).unwrap();
        assert_eq!(
            (old.kind, old.size, &*old.raw_path),
            (EntryKind::File, 4, &b"srv/app/old.txt"[..])
        );
        // The .netrc B deleted is A's only too, placed under B's /home/ci (its own node shows it where listed).
        let ci = tree.lookup(b"/home/ci").unwrap();
        assert_eq!(names(only.below(ci)), [".netrc"]);
        // A's /opt/tool tree: B has no /opt, so the whole tree hangs under B's root, directories with A's totals.
        assert_eq!(names(only.below(ROOT)), ["opt"]);
        let opt = only.below(ROOT)[0];
        let tool = only.children(opt)[0];
        assert_eq!(names(only.children(tool)), ["bin", "share"]);
        let opt = only.get(opt).unwrap();
        assert_eq!((opt.kind, opt.size), (EntryKind::Dir, 109));
        assert_eq!(only.parent(tool), RowNode::OnlyInA(only.below(ROOT)[0]));
        assert_eq!(only.len(), 8);
        assert!(marks.holds_changes(app));
        assert!(marks.holds_changes(tree.lookup(b"/srv").unwrap()));
        assert!(!marks.holds_changes(tree.lookup(b"/etc").unwrap()));
        let c = marks.counts;
        assert_eq!((c.added, c.removed, c.content, c.metadata), (2, 8, 1, 1));
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
