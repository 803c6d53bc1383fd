//! The file tree pane's state: which range of layers it shows, filters, sort, hidden change kinds, collapsed
//! directories, cursor and scroll. None of it lives in the model ([`ImageTree`]).
//!
//! Three levels keep every key within a frame on 100k+ paths:
//! - the unfiltered rows of a range and view (the whole tree in pre-order, each row knowing where its subtree
//!   ends) are kept in a small LRU ([`CACHED_VIEWS`] entries), so going back to a layer or a view costs nothing;
//!   a new range's view and rows are made from the last ones shown when the layers between touch few nodes (a
//!   layer switch): only those nodes and the directories above them are looked at, the other subtrees' rows are
//!   copied ([`LayerTouches`]: 4 bytes per event, built at the first switch); else one O(nodes) pass;
//! - a filter is applied to those cached rows, not to the tree: its regex runs over the rows' paths, and a filter
//!   that only extends the previous one (typing) runs over the previous one's matches alone; the matches of the
//!   shorter filters stay, so a backspace is a lookup;
//! - `visible` is the list of row indices not under a collapsed directory, patched in place when one directory is
//!   expanded or collapsed (a splice of its subtree, found by binary search: `visible` is sorted).
//!
//! Memory: a cached entry holds 9 bytes per tree node (the view's sizes and change marks), 24 bytes per unfiltered
//! row and 4 bytes per filter match per kept filter ([`FILTER_LEVELS`] at most): about 4 MB per entry on a
//! 120,000-path tree without a filter.
//!
//! In `layerscope diff A B` the rows of B's merged views also hold A's paths B lacks ([`OnlyInA`]), merged in
//! name order into the children of their directories; a directory without such paths lists its tree children
//! as they are, so other explorers walk exactly as before.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use memchr::memmem::Finder;
use regex::bytes::{Regex, RegexBuilder};

use super::diff_marks::{OnlyInA, RowNode};
use crate::layer::{EntryKind, LayerEntry};
use crate::tree::{
    ChangeKind, ImageTree, LayerTouches, NodeId, ROOT, State, TreeView, layers_between,
};

const NO_ROW: u32 = u32::MAX;

/// Unfiltered rows kept per (range, view): enough to flip between a few layers and modes.
pub const CACHED_VIEWS: usize = 4;

/// Filters kept per cached view while typing (each narrows the one before it).
pub const FILTER_LEVELS: usize = 8;

/// A view and its rows are made from the last one shown when the layers between the two ranges touch at most
/// this share of the nodes (1/8); past it a full sweep costs about the same.
const MOVE_SHARE: usize = 8;

/// Change kinds the user chose to hide (ctrl+a/r/m/u).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    pub added: bool,
    pub removed: bool,
    pub modified: bool,
    pub unmodified: bool,
}

impl Hidden {
    pub fn hides(&self, kind: ChangeKind) -> bool {
        match kind {
            ChangeKind::Added => self.added,
            ChangeKind::Deleted => self.removed,
            ChangeKind::Modified => self.modified,
            ChangeKind::Unmodified => self.unmodified,
        }
    }
}

/// One path of the filtered tree, in pre-order.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// A node of the tree, or (`layerscope diff A B`) a path of A this image lacks.
    pub node: RowNode,
    /// Row index of the parent directory (`u32::MAX` at the top).
    pub parent: u32,
    /// Row index just past this row's subtree.
    pub end: u32,
    pub depth: u16,
    pub change: ChangeKind,
    pub is_dir: bool,
    /// No later sibling (for the tree guides).
    pub last: bool,
    /// Listed for itself (not hidden, not unmodified in a changes-only view), not only as the directory of
    /// listed paths: only such rows can match a filter.
    own: bool,
}

impl Row {
    /// The tree node of the row (`None` for a path of the other image's only).
    pub fn tree_node(&self) -> Option<NodeId> {
        match self.node {
            RowNode::Tree(node) => Some(node),
            RowNode::OnlyInA(_) => None,
        }
    }

    /// Whether the row is a path of the other image (A) this image lacks.
    pub fn only_in_a(&self) -> Option<u32> {
        match self.node {
            RowNode::OnlyInA(id) => Some(id),
            RowNode::Tree(_) => None,
        }
    }
}

/// The names of rows: the tree's, and those of the other image's paths this one lacks.
#[derive(Clone, Copy)]
struct Names<'t> {
    tree: &'t ImageTree,
    only_in_a: Option<&'t OnlyInA>,
}

impl<'t> Names<'t> {
    fn name(&self, node: RowNode) -> &'t [u8] {
        match (node, self.only_in_a) {
            (RowNode::Tree(n), _) => self.tree.name(n),
            (RowNode::OnlyInA(id), Some(only)) => only.name(id),
            (RowNode::OnlyInA(_), None) => &[],
        }
    }
}

/// One child to list in a walk; `also`: the other image's path of the same name, a directory whose paths B lacks
/// are listed under this tree node.
#[derive(Clone, Copy)]
struct Kid {
    node: RowNode,
    also: Option<u32>,
}

/// The children a walk lists below a row: the tree's (borrowed, the usual case), or merged with the other
/// image's paths this one lacks.
enum Kids<'c> {
    Tree(Cow<'c, [NodeId]>),
    Mixed(Vec<Kid>),
}

impl Kids<'_> {
    fn len(&self) -> usize {
        match self {
            Kids::Tree(c) => c.len(),
            Kids::Mixed(k) => k.len(),
        }
    }

    fn get(&self, i: usize) -> Kid {
        match self {
            Kids::Tree(c) => Kid {
                node: RowNode::Tree(c[i]),
                also: None,
            },
            Kids::Mixed(k) => k[i],
        }
    }
}

/// The tree filter: a regex on the absolute path, case-insensitive unless it has a capital letter, with ASCII
/// classes (a smaller automaton; paths are matched as bytes).
#[derive(Debug, Clone)]
pub struct PathFilter {
    text: String,
    regex: Regex,
    insensitive: bool,
    /// No regex syntax in the text: the text itself (ASCII-lowercased when case is ignored), searched without
    /// the regex engine; a path matches when its directory's path does.
    literal: Option<Finder<'static>>,
}

impl PathFilter {
    pub fn new(text: &str) -> Result<PathFilter, regex::Error> {
        let insensitive = !text.chars().any(char::is_uppercase);
        let regex = RegexBuilder::new(text)
            .case_insensitive(insensitive)
            .unicode(false)
            .size_limit(1 << 20)
            .build()?;
        Ok(PathFilter {
            text: text.to_string(),
            regex,
            insensitive,
            literal: (regex::escape(text) == text).then(|| {
                let needle = if insensitive {
                    text.to_ascii_lowercase()
                } else {
                    text.to_string()
                };
                Finder::new(needle.as_bytes()).into_owned()
            }),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_match(&self, path: &[u8]) -> bool {
        self.regex.is_match(path)
    }

    /// `is_match` of a literal filter without the regex engine (which folds case in ASCII only, as this does).
    /// `scratch` holds the lowercased text.
    fn literal_match(&self, finder: &Finder, text: &[u8], scratch: &mut Vec<u8>) -> bool {
        if !self.insensitive {
            return finder.find(text).is_some();
        }
        scratch.clear();
        scratch.extend(text.iter().map(u8::to_ascii_lowercase));
        finder.find(scratch).is_some()
    }

    /// Whether every path this filter matches is known to match `wider` as well, from the two texts: this one is
    /// `wider`'s text followed by a suffix that the regex syntax can only concatenate. (A match of `R` then `S`
    /// contains a match of `R`.) Not so when the suffix starts with a repetition (`a` -> `a*`), holds an
    /// alternation (`a` -> `a|b`), or when this filter ignores case and `wider` does not.
    pub fn narrows(&self, wider: &PathFilter) -> bool {
        let Some(suffix) = self.text.strip_prefix(wider.text.as_str()) else {
            return false;
        };
        // Leading spaces are skipped: under the `x` flag a space is no atom, and `a *` repeats `a`.
        let starts_repetition = suffix.trim_start().starts_with(['*', '+', '?', '{']);
        !suffix.is_empty()
            && !starts_repetition
            && !suffix.contains('|')
            && (wider.insensitive || !self.insensitive)
    }
}

/// The options that decide `rows`.
#[derive(Debug, Clone, Default)]
pub struct TreeOptions {
    /// Only paths that changed in the range (their directories kept as context).
    pub changes_only: bool,
    pub hidden: Hidden,
    pub sort_by_size: bool,
    pub filter: Option<PathFilter>,
    /// Only these paths (their directories kept as context), e.g. those that differ from another image. The
    /// other image's paths this one lacks are differences: they are listed too.
    pub only: Option<Arc<HashSet<NodeId>>>,
}

/// Everything that decides the unfiltered rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ViewKey {
    from: Option<u32>,
    to: u32,
    changes_only: bool,
    hidden: Hidden,
    sort_by_size: bool,
    /// The `only` set, by identity (one set per explorer: the paths that differ from the other image).
    only: Option<usize>,
}

/// The unfiltered rows of one [`ViewKey`], with the filters typed on them.
struct CachedView<'a> {
    key: ViewKey,
    view: Arc<TreeView<'a>>,
    rows: Arc<Vec<Row>>,
    /// Each filter's own matches (row indices, ascending); each level narrows the one before it.
    levels: Vec<FilterLevel>,
}

struct FilterLevel {
    filter: PathFilter,
    hits: Vec<u32>,
}

pub struct FileTree<'a> {
    tree: &'a ImageTree,
    /// `layerscope diff A B` (this is B): A's paths B's final image lacks, listed in every merged view.
    only_in_a: Option<Arc<OnlyInA>>,
    /// The nodes each layer touches, built at the first layer switch.
    touches: Option<LayerTouches>,
    view: Arc<TreeView<'a>>,
    from: Option<u32>,
    to: u32,
    pub options: TreeOptions,
    /// Show permissions, uid:gid and size columns.
    pub attributes: bool,
    rows: Arc<Vec<Row>>,
    /// Most recently used first.
    cache: Vec<CachedView<'a>>,
    visible: Vec<u32>,
    collapse_all: bool,
    /// Directories whose state differs from `collapse_all`.
    toggled: HashSet<RowNode>,
    /// Index into `visible`.
    pub cursor: usize,
    /// First visible row on screen.
    pub top: usize,
    /// Rows on screen (set from the layout).
    pub page: usize,
}

/// A tree pane's state apart from the tree it shows, carried from one tree to another whose node ids name the
/// same paths (a later snapshot of one incremental build, or the finished tree: see `tree::TreeBuilder`).
#[derive(Debug, Clone)]
pub struct TreeState {
    from: Option<u32>,
    to: u32,
    options: TreeOptions,
    attributes: bool,
    collapse_all: bool,
    toggled: HashSet<RowNode>,
    selected: Option<NodeId>,
    top: usize,
    page: usize,
}

impl<'a> FileTree<'a> {
    pub fn new(tree: &'a ImageTree, from: Option<u32>, to: u32, options: TreeOptions) -> Self {
        let mut ft = FileTree {
            tree,
            only_in_a: None,
            touches: None,
            view: Arc::new(TreeView::between(tree, from, to)),
            from,
            to,
            options,
            attributes: true,
            rows: Arc::default(),
            cache: Vec::with_capacity(CACHED_VIEWS + 1),
            visible: Vec::new(),
            collapse_all: false,
            toggled: HashSet::new(),
            cursor: 0,
            top: 0,
            page: 10,
        };
        ft.rebuild();
        ft
    }

    /// This pane's state, to carry to another tree (see [`TreeState`]).
    pub fn state(&self) -> TreeState {
        TreeState {
            from: self.from,
            to: self.to,
            options: self.options.clone(),
            attributes: self.attributes,
            collapse_all: self.collapse_all,
            toggled: self.toggled.clone(),
            selected: self.selected_node(),
            top: self.top,
            page: self.page,
        }
    }

    /// A pane on `tree` in `state`: the same range (within the tree's layers), options, filter and collapsed
    /// directories, the same path selected (else its nearest listed ancestor) and the same scroll.
    pub fn with_state(tree: &'a ImageTree, state: TreeState) -> FileTree<'a> {
        let last = tree.layer_count().saturating_sub(1) as u32;
        let to = state.to.min(last);
        let from = state.from.filter(|f| *f < to);
        let mut ft = FileTree::new(tree, from, to, state.options);
        ft.attributes = state.attributes;
        ft.collapse_all = state.collapse_all;
        ft.toggled = state.toggled;
        ft.page = state.page;
        ft.rebuild_visible();
        if let Some(node) = state.selected.filter(|n| (*n as usize) < tree.node_count()) {
            ft.reselect(RowNode::Tree(node));
        }
        ft.top = state.top;
        ft.clamp();
        ft
    }

    pub fn view(&self) -> &TreeView<'a> {
        &self.view
    }

    pub fn from(&self) -> Option<u32> {
        self.from
    }

    pub fn to(&self) -> u32 {
        self.to
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn visible(&self) -> &[u32] {
        &self.visible
    }

    /// Shows another range of layers (a layer switch): rows from the cache or rebuilt, selection kept when
    /// possible.
    pub fn set_range(&mut self, from: Option<u32>, to: u32) {
        if (from, to) == (self.from, self.to) {
            return;
        }
        self.from = from;
        self.to = to;
        self.rebuild();
    }

    /// Lists the other image's paths this one lacks (`layerscope diff A B`, this is B) in every merged view.
    pub fn set_only_in_a(&mut self, only_in_a: Arc<OnlyInA>) {
        self.only_in_a = (!only_in_a.is_empty()).then_some(only_in_a);
        self.cache.clear();
        self.rebuild();
    }

    fn names(&self) -> Names<'_> {
        Names {
            tree: self.tree,
            only_in_a: self.only_in_a.as_deref(),
        }
    }

    /// A row's name (raw bytes; show it through `path::display`).
    pub fn name(&self, node: RowNode) -> &[u8] {
        self.names().name(node)
    }

    /// A row's path as the tree holds it (relative, raw bytes; show it through `path::display_absolute`).
    pub fn raw_path(&self, node: RowNode) -> Vec<u8> {
        match node {
            RowNode::Tree(n) => self.tree.path(n),
            RowNode::OnlyInA(id) => self
                .only_in_a
                .as_ref()
                .and_then(|o| o.get(id))
                .map_or_else(Vec::new, |p| p.raw_path.to_vec()),
        }
    }

    /// The row above a row's node in the model: the tree's parent, or the other image's path's.
    fn parent_node(&self, node: RowNode) -> Option<RowNode> {
        match node {
            RowNode::Tree(ROOT) => None,
            RowNode::Tree(n) => Some(RowNode::Tree(self.tree.parent(n))),
            RowNode::OnlyInA(id) => self.only_in_a.as_ref().map(|o| o.parent(id)),
        }
    }

    pub fn set_options(&mut self, options: TreeOptions) {
        self.options = options;
        self.rebuild();
    }

    /// Recomputes `rows` and `visible` from the range and options, keeping the selected path when it is still
    /// listed (else its nearest listed ancestor).
    pub fn rebuild(&mut self) {
        let selected = self.selected_row().map(|r| r.node);
        self.rows = self.filtered_rows();
        self.rebuild_visible();
        match selected {
            Some(node) => self.reselect(node),
            None => self.cursor = 0,
        }
        self.clamp();
    }

    fn key(&self) -> ViewKey {
        let o = &self.options;
        ViewKey {
            from: self.from,
            to: self.to,
            changes_only: o.changes_only,
            hidden: o.hidden,
            sort_by_size: o.sort_by_size,
            only: o.only.as_ref().map(|only| Arc::as_ptr(only) as usize),
        }
    }

    /// The rows for the current range and options: the cached view's (built if missing and moved to the front
    /// of the cache), filtered when a filter is set.
    fn filtered_rows(&mut self) -> Arc<Vec<Row>> {
        let key = self.key();
        match self.cache.iter().position(|c| c.key == key) {
            Some(i) => {
                let hit = self.cache.remove(i);
                self.cache.insert(0, hit);
            }
            None => {
                let same_range = self
                    .cache
                    .iter()
                    .find(|c| (c.key.from, c.key.to) == (key.from, key.to))
                    .map(|c| Arc::clone(&c.view));
                // The view last shown, when few nodes differ from it: this one is made from it.
                let last = self
                    .cache
                    .first()
                    .map(|c| (Arc::clone(&c.view), Arc::clone(&c.rows), c.key));
                // Only a move to another range has nodes to look at again; another option at the same range
                // takes that range's view and builds its rows whole.
                let changed = last
                    .as_ref()
                    .filter(|(view, _, _)| view.range() != (key.from, key.to))
                    .and_then(|(view, _, _)| self.changed_since(view.range(), (key.from, key.to)));
                self.view = match (same_range, &last, &changed) {
                    (Some(view), ..) => view,
                    (None, Some((view, _, _)), Some(changed)) => {
                        match view.moved(changed, key.from, key.to) {
                            Some(view) => Arc::new(view),
                            None => Arc::new(TreeView::between(self.tree, key.from, key.to)),
                        }
                    }
                    _ => Arc::new(TreeView::between(self.tree, key.from, key.to)),
                };
                let rows = match (&last, changed) {
                    (Some((_, rows, last_key)), Some(changed))
                        if key
                            == ViewKey {
                                from: key.from,
                                to: key.to,
                                ..*last_key
                            }
                            && !key.sort_by_size =>
                    {
                        let affected = self.affected(&changed);
                        Arc::new(self.flatten(Some((rows, &affected))))
                    }
                    _ => Arc::new(self.flatten(None)),
                };
                self.cache.insert(
                    0,
                    CachedView {
                        key,
                        view: Arc::clone(&self.view),
                        rows,
                        levels: Vec::new(),
                    },
                );
                self.cache.truncate(CACHED_VIEWS);
            }
        }
        let names = Names {
            tree: self.tree,
            only_in_a: self.only_in_a.as_deref(),
        };
        let Some(current) = self.cache.first_mut() else {
            return Arc::default();
        };
        self.view = Arc::clone(&current.view);
        match &self.options.filter {
            None => Arc::clone(&current.rows),
            Some(filter) => current.filter(names, filter),
        }
    }

    /// The nodes the layers between range `a` and range `b` touch (ascending, once each), when they are few
    /// enough for a view and rows made from `a`'s to pay.
    fn changed_since(
        &mut self,
        a: (Option<u32>, u32),
        b: (Option<u32>, u32),
    ) -> Option<Vec<NodeId>> {
        let tree = self.tree;
        let touches = self.touches.get_or_insert_with(|| LayerTouches::new(tree));
        let (after, to) = layers_between(a, b);
        if touches.count_between(after, to) > tree.node_count() / MOVE_SHARE {
            return None;
        }
        Some(touches.changed(a, b))
    }

    /// Per node: whether it or a node below it is in `changed` (its rows may differ between the two ranges).
    fn affected(&self, changed: &[NodeId]) -> Vec<bool> {
        let mut affected = vec![false; self.tree.node_count()];
        for &node in changed {
            let mut at = node;
            while !affected[at as usize] {
                affected[at as usize] = true;
                if at == ROOT {
                    break;
                }
                at = self.tree.parent(at);
            }
        }
        affected
    }

    /// The unfiltered rows: every path listed for itself, with the directories above it.
    ///
    /// With `reuse` (the rows of the same options at another range, and the nodes whose rows may differ
    /// between the two ranges, with their directories): a subtree no changed node is in has the rows it had
    /// there (copied, indices shifted) or none, as it had; only the directories above changed nodes are
    /// walked. This holds where the children are listed in name order from the tree alone (not by size, not
    /// merged with the other image's paths): the rows of a directory's children are then in the order of its
    /// children, so the previous rows are matched by one cursor per directory.
    fn flatten(&self, reuse: Option<(&[Row], &[bool])>) -> Vec<Row> {
        struct Frame<'c> {
            row: u32,
            children: Kids<'c>,
            next: usize,
            /// The reused rows of this directory's children still to match, and where they end.
            old: Option<(u32, u32)>,
        }
        let matched = |kids: &Kids, old: Option<(u32, u32)>| match kids {
            Kids::Tree(_) => old,
            Kids::Mixed(_) => None,
        };
        let mut out: Vec<Row> = Vec::new();
        let children = self.kids(RowNode::Tree(ROOT), None);
        let mut stack = vec![Frame {
            row: NO_ROW,
            old: matched(&children, reuse.map(|(old, _)| (0, old.len() as u32))),
            children,
            next: 0,
        }];
        while let Some(frame) = stack.last_mut() {
            if frame.next == frame.children.len() {
                let row = frame.row;
                stack.pop();
                if row != NO_ROW {
                    let r = row as usize;
                    if out[r].own || out.len() > r + 1 {
                        out[r].end = out.len() as u32;
                    } else {
                        out.truncate(r);
                    }
                }
                continue;
            }
            let kid = frame.children.get(frame.next);
            frame.next += 1;
            let mut old_row = None;
            if let (Some((old, affected)), Some((next, end))) = (reuse, frame.old.as_mut()) {
                if *next < *end && old[*next as usize].node == kid.node {
                    old_row = Some(*next as usize);
                    *next = old[*next as usize].end;
                }
                let unaffected = match kid.node {
                    RowNode::Tree(n) => !affected[n as usize],
                    RowNode::OnlyInA(_) => true,
                };
                if unaffected {
                    if let Some(o) = old_row {
                        let shift = (out.len() as u32).wrapping_sub(o as u32);
                        let block = &old[o..old[o].end as usize];
                        out.extend(block.iter().enumerate().map(|(i, r)| Row {
                            parent: match i {
                                0 => frame.row,
                                _ => r.parent.wrapping_add(shift),
                            },
                            end: r.end.wrapping_add(shift),
                            ..*r
                        }));
                    }
                    continue;
                }
            }
            let o = &self.options;
            let (change, is_dir, listed) = match kid.node {
                RowNode::Tree(node) => {
                    let Some(change) = self.view.change(node) else {
                        continue;
                    };
                    let listed = o.only.as_ref().is_none_or(|only| only.contains(&node));
                    (change, self.view.is_dir(node), listed)
                }
                // A path B lacks: removed, as far as B's view goes, and always a difference.
                RowNode::OnlyInA(id) => {
                    let kind = self
                        .only_in_a
                        .as_ref()
                        .and_then(|a| a.get(id))
                        .map(|p| p.kind);
                    (ChangeKind::Deleted, kind == Some(EntryKind::Dir), true)
                }
            };
            let parent = frame.row;
            let own = listed
                && !o.hidden.hides(change)
                && (!o.changes_only || change != ChangeKind::Unmodified);
            let depth = (stack.len() - 1).min(u16::MAX as usize) as u16;
            let row = out.len() as u32;
            out.push(Row {
                node: kid.node,
                parent,
                end: row + 1,
                depth,
                change,
                is_dir,
                last: false,
                own,
            });
            let children = self.kids(kid.node, kid.also);
            let old = match (reuse, old_row) {
                (Some((old, _)), Some(o)) => Some((o as u32 + 1, old[o].end)),
                _ => None,
            };
            stack.push(Frame {
                row,
                old: matched(&children, old),
                children,
                next: 0,
            });
        }
        mark_last_siblings(&mut out);
        out
    }

    /// The children to list below `node` (and below `also`, the other image's path of the same name): the
    /// tree's alone unless the other image's paths this one lacks are listed (merged views of a diff).
    fn kids(&self, node: RowNode, also: Option<u32>) -> Kids<'a> {
        let only = self
            .only_in_a
            .as_deref()
            .filter(|_| !self.options.changes_only);
        let none: &[u32] = &[];
        let (tree_kids, theirs): (&[NodeId], &[u32]) = match node {
            RowNode::Tree(n) => (
                self.tree.children(n),
                only.map_or(none, |o| match also {
                    Some(id) => o.children(id),
                    None => o.below(n),
                }),
            ),
            RowNode::OnlyInA(id) => (&[], only.map_or(none, |o| o.children(id))),
        };
        let Some(only) = only.filter(|_| !theirs.is_empty()) else {
            return match node {
                RowNode::Tree(n) => Kids::Tree(self.children(n)),
                RowNode::OnlyInA(_) => Kids::Mixed(Vec::new()),
            };
        };
        let tree = self.tree;
        // Both lists are in name order: merge them. A path listed in B's view stands for A's of the same name
        // (a directory taking A's paths below it), unless only A's is a directory: then both are rows.
        let mut out = Vec::with_capacity(tree_kids.len() + theirs.len());
        let (mut i, mut j) = (0, 0);
        while i < tree_kids.len() || j < theirs.len() {
            let order = match (tree_kids.get(i), theirs.get(j)) {
                (Some(t), Some(a)) => tree.name(*t).cmp(only.name(*a)),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    out.push(Kid {
                        node: RowNode::Tree(tree_kids[i]),
                        also: None,
                    });
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(Kid {
                        node: RowNode::OnlyInA(theirs[j]),
                        also: None,
                    });
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (t, a) = (tree_kids[i], theirs[j]);
                    let a_dir = only.get(a).is_some_and(|p| p.kind == EntryKind::Dir);
                    let listed = self.view.change(t).is_some();
                    let b_dir = listed && self.view.is_dir(t);
                    if listed {
                        out.push(Kid {
                            node: RowNode::Tree(t),
                            also: (a_dir && b_dir).then_some(a),
                        });
                    }
                    if !listed || (a_dir && !b_dir) {
                        out.push(Kid {
                            node: RowNode::OnlyInA(a),
                            also: None,
                        });
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        if self.options.sort_by_size {
            out.sort_by_key(|k| std::cmp::Reverse(self.kid_size(only, k.node)));
        }
        Kids::Mixed(out)
    }

    fn kid_size(&self, only: &OnlyInA, node: RowNode) -> u64 {
        match node {
            RowNode::Tree(n) => self.view.size(n),
            RowNode::OnlyInA(id) => only.get(id).map_or(0, |p| p.size),
        }
    }

    fn children(&self, node: NodeId) -> Cow<'a, [NodeId]> {
        let children = self.tree.children(node);
        if !self.options.sort_by_size || children.len() < 2 {
            return Cow::Borrowed(children);
        }
        let mut sorted = children.to_vec();
        sorted.sort_by_key(|c| std::cmp::Reverse(self.view.size(*c)));
        Cow::Owned(sorted)
    }

    fn is_collapsed(&self, node: RowNode) -> bool {
        self.collapse_all != self.toggled.contains(&node)
    }

    /// Whether row `r` is a directory shown collapsed.
    pub fn row_collapsed(&self, r: u32) -> bool {
        let row = &self.rows[r as usize];
        row.is_dir && self.is_collapsed(row.node)
    }

    /// Appends the visible rows of `rows[start..end]` to `out`.
    fn visible_between(&self, start: usize, end: usize, out: &mut Vec<u32>) {
        let mut i = start;
        while i < end {
            out.push(i as u32);
            let row = &self.rows[i];
            i = if row.is_dir && self.is_collapsed(row.node) {
                row.end as usize
            } else {
                i + 1
            };
        }
    }

    fn rebuild_visible(&mut self) {
        let mut visible = Vec::with_capacity(self.rows.len());
        self.visible_between(0, self.rows.len(), &mut visible);
        self.visible = visible;
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.visible
            .get(self.cursor)
            .map(|r| &self.rows[*r as usize])
    }

    /// The tree node of the selected row (`None` also for a path of the other image's only).
    pub fn selected_node(&self) -> Option<NodeId> {
        self.selected_row().and_then(Row::tree_node)
    }

    /// Expands (`false`) or collapses (`true`) the directory at visible index `v`, patching `visible` in place.
    pub fn set_collapsed(&mut self, v: usize, collapsed: bool) -> bool {
        let Some(&f) = self.visible.get(v) else {
            return false;
        };
        let row = self.rows[f as usize];
        if !row.is_dir || self.is_collapsed(row.node) == collapsed {
            return false;
        }
        if !self.toggled.remove(&row.node) {
            self.toggled.insert(row.node);
        }
        let selected = self.visible.get(self.cursor).copied();
        if collapsed {
            let rest = &self.visible[v + 1..];
            let stop = v + 1 + rest.partition_point(|x| *x < row.end);
            self.visible.drain(v + 1..stop);
        } else {
            let mut inserted = Vec::new();
            self.visible_between(f as usize + 1, row.end as usize, &mut inserted);
            self.visible.splice(v + 1..v + 1, inserted);
        }
        if let Some(s) = selected {
            self.cursor = match self.visible.binary_search(&s) {
                Ok(i) => i,
                Err(_) => v,
            };
        }
        self.clamp();
        true
    }

    /// ctrl+space: collapse every directory, or expand every one when all are collapsed.
    pub fn toggle_collapse_all(&mut self) {
        let selected = self.selected_row().map(|r| r.node);
        self.collapse_all = !self.collapse_all;
        self.toggled.clear();
        self.rebuild_visible();
        if let Some(node) = selected {
            self.reselect(node);
        }
        self.clamp();
    }

    /// Selects `node`'s row (or its nearest listed ancestor's), expanding collapsed directories above it.
    pub fn reveal(&mut self, node: NodeId) -> bool {
        self.reveal_row(RowNode::Tree(node))
    }

    /// [`FileTree::reveal`] for any row: a tree node or a path of the other image's only.
    pub fn reveal_row(&mut self, node: RowNode) -> bool {
        let Some(f) = self.rows.iter().position(|r| r.node == node) else {
            return false;
        };
        let mut p = self.rows[f].parent;
        while p != NO_ROW {
            let dir = self.rows[p as usize].node;
            if self.is_collapsed(dir) && !self.toggled.remove(&dir) {
                self.toggled.insert(dir);
            }
            p = self.rows[p as usize].parent;
        }
        self.rebuild_visible();
        self.cursor = self.visible.binary_search(&(f as u32)).unwrap_or(0);
        self.top = self.cursor.saturating_sub(self.page / 2);
        self.clamp();
        true
    }

    /// After a rebuild: the row of `node`, else of its deepest listed ancestor, else the first row; if that row is
    /// under a collapsed directory, the collapsed directory.
    fn reselect(&mut self, node: RowNode) {
        let mut chain = Vec::new();
        let mut n = Some(node);
        while let Some(at) = n.filter(|at| *at != RowNode::Tree(ROOT)) {
            chain.push(at);
            n = self.parent_node(at);
        }
        let mut best: Option<(usize, usize)> = None;
        for (f, row) in self.rows.iter().enumerate() {
            if let Some(rank) = chain.iter().position(|c| *c == row.node) {
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, f));
                }
                if rank == 0 {
                    break;
                }
            }
        }
        let Some((_, mut f)) = best else {
            self.cursor = 0;
            return;
        };
        loop {
            match self.visible.binary_search(&(f as u32)) {
                Ok(i) => {
                    self.cursor = i;
                    return;
                }
                Err(_) => match self.rows[f].parent {
                    NO_ROW => {
                        self.cursor = 0;
                        return;
                    }
                    p => f = p as usize,
                },
            }
        }
    }

    /// Moves the cursor by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        let last = self.visible.len().saturating_sub(1) as isize;
        self.cursor = (self.cursor as isize + delta).clamp(0, last.max(0)) as usize;
        self.clamp();
    }

    pub fn move_to(&mut self, v: usize) {
        self.cursor = v;
        self.clamp();
    }

    /// Scrolls the view by `delta` rows without moving the cursor off screen.
    pub fn scroll_by(&mut self, delta: isize) {
        let max_top = self.visible.len().saturating_sub(self.page) as isize;
        self.top = (self.top as isize + delta).clamp(0, max_top.max(0)) as usize;
        let bottom = self.top + self.page.max(1) - 1;
        self.cursor = self
            .cursor
            .clamp(self.top, bottom.min(self.visible.len().saturating_sub(1)));
        self.clamp();
    }

    /// Keeps the cursor in range and on screen.
    pub fn clamp(&mut self) {
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
        let page = self.page.max(1);
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + page {
            self.top = self.cursor + 1 - page;
        }
        let max_top = self.visible.len().saturating_sub(page);
        self.top = self.top.min(max_top);
    }

    /// Visible index of the parent directory of the selected row.
    pub fn parent_of_selected(&self) -> Option<usize> {
        let row = self.selected_row()?;
        (row.parent != NO_ROW)
            .then(|| self.visible.binary_search(&row.parent).ok())
            .flatten()
    }

    /// The event showing `row`'s entry: at the end of the range, or just before it for a deleted path.
    pub fn event_of(&self, row: &Row) -> Option<crate::tree::Event> {
        let node = row.tree_node()?;
        let at = match row.change {
            ChangeKind::Deleted => self.from,
            _ => Some(self.to()),
        };
        self.tree
            .state_at(node, at)
            .filter(|e| matches!(e.state, State::Present { .. }))
    }

    pub fn entry_of(&self, row: &Row) -> Option<&'a LayerEntry> {
        let tree: &'a ImageTree = self.tree;
        self.event_of(row).and_then(|e| tree.event_entry(&e))
    }

    /// The size column: a directory's total (0 once deleted), a file's bytes (a hardlink's target's).
    /// A path of the other image's only: its size there.
    pub fn size_of(&self, row: &Row) -> u64 {
        let node = match row.node {
            RowNode::Tree(node) => node,
            RowNode::OnlyInA(id) => return self.only_in_a_path(id).map_or(0, |p| p.size),
        };
        match (row.is_dir, row.change) {
            (true, ChangeKind::Deleted) => 0,
            (true, _) => self.view.size(node),
            _ => self.event_of(row).map_or(0, |e| self.tree.shown_size(&e)),
        }
    }

    /// Path `id` of the other image's paths this one lacks.
    pub fn only_in_a_path(&self, id: u32) -> Option<&super::diff_marks::OnlyInAPath> {
        self.only_in_a.as_ref().and_then(|o| o.get(id))
    }

    /// Tree guides before a row's name: `│   ├── `.
    pub fn guides(&self, f: u32) -> String {
        let row = &self.rows[f as usize];
        let mut levels = Vec::with_capacity(row.depth as usize);
        let mut p = row.parent;
        while p != NO_ROW {
            levels.push(self.rows[p as usize].last);
            p = self.rows[p as usize].parent;
        }
        let mut out = String::with_capacity(4 * (levels.len() + 1));
        for last in levels.iter().rev() {
            out.push_str(if *last { "    " } else { "│   " });
        }
        out.push_str(if row.last { "└── " } else { "├── " });
        out
    }
}

/// Sets `last` on every row: true when no later sibling follows.
fn mark_last_siblings(rows: &mut [Row]) {
    for i in 0..rows.len() {
        let end = rows[i].end as usize;
        rows[i].last = end >= rows.len() || rows[end].parent != rows[i].parent;
    }
}

impl CachedView<'_> {
    /// The rows `filter` keeps: its matches among the rows listed for themselves, with their directories.
    /// A filter that keeps every row (the first keys of most filters match nearly every path, and every
    /// directory comes along) shares the unfiltered rows instead of copying them.
    fn filter(&mut self, names: Names, filter: &PathFilter) -> Arc<Vec<Row>> {
        // The same filter again, a backspace back to a shorter one, or the same keys typed again after it: its
        // matches are kept (the longer levels too, until a different text replaces them).
        let level = match self
            .levels
            .iter()
            .position(|l| l.filter.text() == filter.text())
        {
            Some(k) => k,
            None => {
                let narrowed = self.levels.iter().rposition(|l| filter.narrows(&l.filter));
                self.levels.truncate(narrowed.map_or(0, |k| k + 1));
                let candidates = self.levels.last().map(|l| l.hits.as_slice());
                let hits = matching_rows(names, &self.rows, filter, candidates);
                if self.levels.len() == FILTER_LEVELS {
                    self.levels.remove(0);
                }
                self.levels.push(FilterLevel {
                    filter: filter.clone(),
                    hits,
                });
                self.levels.len() - 1
            }
        };
        let hits = self
            .levels
            .get(level)
            .map_or(&[][..], |l| l.hits.as_slice());
        match subset(&self.rows, hits) {
            Some(rows) => Arc::new(rows),
            None => Arc::clone(&self.rows),
        }
    }
}

/// Indices of the rows listed for themselves whose absolute path `filter` matches, among `candidates` (sorted
/// row indices) when given. Few candidates: each path is assembled from its row's ancestors; many: one pass
/// over all rows carries the path down, as a walk does. A literal filter (the usual first keys) that matches a
/// directory's path matches everything below it, and can only newly match across the end of that path: below a
/// match nothing is searched, elsewhere only the new name and the few bytes before it.
fn matching_rows(
    names: Names,
    rows: &[Row],
    filter: &PathFilter,
    candidates: Option<&[u32]>,
) -> Vec<u32> {
    let mut path: Vec<u8> = Vec::new();
    if let Some(candidates) = candidates
        && candidates.len() < rows.len() / 16
    {
        let mut chain: Vec<RowNode> = Vec::new();
        return candidates
            .iter()
            .copied()
            .filter(|&r| {
                chain.clear();
                let mut at = r;
                while let Some(row) = rows.get(at as usize) {
                    chain.push(row.node);
                    at = row.parent;
                }
                path.clear();
                for node in chain.iter().rev() {
                    path.push(b'/');
                    path.extend_from_slice(names.name(*node));
                }
                filter.is_match(&path)
            })
            .collect();
    }
    let mut next_candidate = candidates.map(|c| c.iter().copied().peekable());
    // A match of the literal ends inside the new part, so it starts at most its length before it. (Case is
    // folded in ASCII only, so a match is as long as the text.)
    let overlap = filter.text.len();
    // Per depth `d`: where the path of the ancestor at depth `d - 1` ends (`ends[0]`: the root, empty), and
    // whether a literal filter matches that path.
    let mut ends: Vec<usize> = vec![0];
    let mut matched_above: Vec<bool> = vec![false];
    let mut scratch: Vec<u8> = Vec::new();
    let mut hits = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let depth = row.depth as usize;
        ends.truncate(depth + 1);
        matched_above.truncate(depth + 1);
        let candidate = match &mut next_candidate {
            None => row.own,
            Some(c) => c.next_if_eq(&(i as u32)).is_some(),
        };
        let matched = if filter.literal.is_some() && matched_above.last().copied().unwrap_or(false)
        {
            // Everything below matches too and never reads the path: it is not extended.
            true
        } else {
            let parent_end = ends.last().copied().unwrap_or(0);
            path.truncate(parent_end);
            path.push(b'/');
            path.extend_from_slice(names.name(row.node));
            match &filter.literal {
                Some(finder) => {
                    let window = &path[parent_end.saturating_sub(overlap)..];
                    filter.literal_match(finder, window, &mut scratch)
                }
                None => candidate && filter.is_match(&path),
            }
        };
        ends.push(path.len());
        matched_above.push(matched);
        if candidate && matched {
            hits.push(i as u32);
        }
    }
    hits
}

/// The rows of `hits` (sorted row indices) and of every directory above them, re-linked: parents, subtree ends
/// and last siblings as a fresh walk would give them. `None` when that is every row: the rows as they are.
fn subset(rows: &[Row], hits: &[u32]) -> Option<Vec<Row>> {
    let mut keep = vec![false; rows.len()];
    for &h in hits {
        let mut at = h;
        while let Some(k) = keep.get_mut(at as usize) {
            if *k {
                break;
            }
            *k = true;
            at = rows[at as usize].parent;
        }
    }
    if keep.iter().all(|k| *k) {
        return None;
    }
    let mut index = vec![NO_ROW; rows.len()];
    let mut out: Vec<Row> = Vec::with_capacity(hits.len());
    // Rows of `out` whose subtree is still open, outermost first.
    let mut open: Vec<usize> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let at = out.len();
        while let Some(&o) = open.last() {
            if out[o].depth < row.depth {
                break;
            }
            out[o].end = at as u32;
            open.pop();
        }
        index[i] = at as u32;
        let parent = index.get(row.parent as usize).copied().unwrap_or(NO_ROW);
        out.push(Row {
            parent,
            end: at as u32 + 1,
            ..*row
        });
        open.push(at);
    }
    for o in open {
        out[o].end = out.len() as u32;
    }
    mark_last_siblings(&mut out);
    Some(out)
}
