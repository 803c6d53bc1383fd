//! The file tree pane's state: which range of layers it shows, filters, sort, hidden change kinds, collapsed
//! directories, cursor and scroll. None of it lives in the model ([`ImageTree`]).
//!
//! Two levels keep it fast on 100k+ paths: `rows` is the whole filtered tree in pre-order (each row knows where
//! its subtree ends), rebuilt in one O(nodes) pass only when the layer, mode, filter, sort or hidden kinds change;
//! `visible` is the list of row indices not under a collapsed directory, patched in place when one directory is
//! expanded or collapsed (a splice of its subtree, found by binary search: `visible` is sorted).

use std::borrow::Cow;
use std::collections::HashSet;

use regex::bytes::Regex;

use crate::layer::LayerEntry;
use crate::tree::{ChangeKind, ImageTree, NodeId, ROOT, State, TreeView};

const NO_ROW: u32 = u32::MAX;

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
    pub node: NodeId,
    /// Row index of the parent directory (`u32::MAX` at the top).
    pub parent: u32,
    /// Row index just past this row's subtree.
    pub end: u32,
    pub depth: u16,
    pub change: ChangeKind,
    pub is_dir: bool,
    /// No later sibling (for the tree guides).
    pub last: bool,
}

/// The options that decide `rows`.
#[derive(Debug, Clone, Default)]
pub struct TreeOptions {
    /// Only paths that changed in the range (their directories kept as context).
    pub changes_only: bool,
    pub hidden: Hidden,
    pub sort_by_size: bool,
    pub filter: Option<Regex>,
    /// Only these paths (their directories kept as context), e.g. those that differ from another image.
    pub only: Option<std::sync::Arc<HashSet<NodeId>>>,
}

pub struct FileTree<'a> {
    tree: &'a ImageTree,
    view: TreeView<'a>,
    from: Option<u32>,
    pub options: TreeOptions,
    /// Show permissions, uid:gid and size columns.
    pub attributes: bool,
    rows: Vec<Row>,
    visible: Vec<u32>,
    collapse_all: bool,
    /// Directories whose state differs from `collapse_all`.
    toggled: HashSet<NodeId>,
    /// Index into `visible`.
    pub cursor: usize,
    /// First visible row on screen.
    pub top: usize,
    /// Rows on screen (set from the layout).
    pub page: usize,
}

impl<'a> FileTree<'a> {
    pub fn new(tree: &'a ImageTree, from: Option<u32>, to: u32, options: TreeOptions) -> Self {
        let mut ft = FileTree {
            tree,
            view: TreeView::between(tree, from, to),
            from,
            options,
            attributes: true,
            rows: Vec::new(),
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

    pub fn view(&self) -> &TreeView<'a> {
        &self.view
    }

    pub fn from(&self) -> Option<u32> {
        self.from
    }

    pub fn to(&self) -> u32 {
        self.view.layer()
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn visible(&self) -> &[u32] {
        &self.visible
    }

    /// Shows another range of layers (a layer switch): new sizes, rows rebuilt, selection kept when possible.
    pub fn set_range(&mut self, from: Option<u32>, to: u32) {
        if (from, to) == (self.from, self.to()) {
            return;
        }
        self.view = TreeView::between(self.tree, from, to);
        self.from = from;
        self.rebuild();
    }

    pub fn set_options(&mut self, options: TreeOptions) {
        self.options = options;
        self.rebuild();
    }

    /// Recomputes `rows` and `visible` from the view and options, keeping the selected path when it is still
    /// listed (else its nearest listed ancestor).
    pub fn rebuild(&mut self) {
        let selected = self.selected_node();
        self.rows = self.flatten();
        self.rebuild_visible();
        match selected {
            Some(node) => self.reselect(node),
            None => self.cursor = 0,
        }
        self.clamp();
    }

    fn flatten(&self) -> Vec<Row> {
        struct Frame<'c> {
            row: u32,
            children: Cow<'c, [NodeId]>,
            next: usize,
            path_len: usize,
        }
        let tree = self.tree;
        let mut out: Vec<Row> = Vec::new();
        let mut path: Vec<u8> = Vec::new();
        let mut keep: Vec<bool> = Vec::new();
        let mut stack = vec![Frame {
            row: NO_ROW,
            children: self.children(ROOT),
            next: 0,
            path_len: 0,
        }];
        while let Some(frame) = stack.last_mut() {
            if frame.next == frame.children.len() {
                let row = frame.row;
                stack.pop();
                if row != NO_ROW {
                    let r = row as usize;
                    if keep[r] || out.len() > r + 1 {
                        out[r].end = out.len() as u32;
                    } else {
                        out.truncate(r);
                        keep.truncate(r);
                    }
                }
                continue;
            }
            let node = frame.children[frame.next];
            frame.next += 1;
            let Some(change) = self.view.change(node) else {
                continue;
            };
            let parent = frame.row;
            path.truncate(frame.path_len);
            path.push(b'/');
            path.extend_from_slice(tree.name(node));
            let o = &self.options;
            let matches = !o.hidden.hides(change)
                && (!o.changes_only || change != ChangeKind::Unmodified)
                && o.filter.as_ref().is_none_or(|re| re.is_match(&path))
                && o.only.as_ref().is_none_or(|only| only.contains(&node));
            let at = match change {
                ChangeKind::Deleted => self.from,
                _ => Some(self.to()),
            };
            let is_dir = tree
                .state_at(node, at)
                .is_some_and(|e| tree.is_dir_event(&e));
            let depth = (stack.len() - 1).min(u16::MAX as usize) as u16;
            let row = out.len() as u32;
            out.push(Row {
                node,
                parent,
                end: row + 1,
                depth,
                change,
                is_dir,
                last: false,
            });
            keep.push(matches);
            let path_len = path.len();
            stack.push(Frame {
                row,
                children: self.children(node),
                next: 0,
                path_len,
            });
        }
        for i in 0..out.len() {
            let end = out[i].end as usize;
            out[i].last = end >= out.len() || out[end].parent != out[i].parent;
        }
        out
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

    fn is_collapsed(&self, node: NodeId) -> bool {
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

    pub fn selected_node(&self) -> Option<NodeId> {
        self.selected_row().map(|r| r.node)
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
        let selected = self.selected_node();
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
    fn reselect(&mut self, node: NodeId) {
        let mut chain = Vec::new();
        let mut n = node;
        while n != ROOT {
            chain.push(n);
            n = self.tree.parent(n);
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
        let at = match row.change {
            ChangeKind::Deleted => self.from,
            _ => Some(self.to()),
        };
        self.tree
            .state_at(row.node, at)
            .filter(|e| matches!(e.state, State::Present { .. }))
    }

    pub fn entry_of(&self, row: &Row) -> Option<&'a LayerEntry> {
        let tree: &'a ImageTree = self.tree;
        self.event_of(row).and_then(|e| tree.event_entry(&e))
    }

    /// The size column: a directory's total (0 once deleted), a file's bytes (a hardlink's target's).
    pub fn size_of(&self, row: &Row) -> u64 {
        match (row.is_dir, row.change) {
            (true, ChangeKind::Deleted) => 0,
            (true, _) => self.view.size(row.node),
            _ => self.event_of(row).map_or(0, |e| self.tree.shown_size(&e)),
        }
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
