//! The file tree of a whole image: one arena node per path ever seen in any layer, each with its history of
//! events (present as some layer's entry, or absent and why). The merged tree at layer N, each layer's changes
//! and the fate of every file version are all read from these histories; nothing is copied per layer.
//!
//! Layer rules (OCI image-spec): in each layer, opaque markers apply first (they hide every lower child of their
//! directory), then `.wh.` whiteouts (which delete a lower path and everything below it), then the entries in tar
//! order. Whiteouts never affect entries of their own layer. A non-directory over a directory hides the old
//! directory's contents; a directory over a directory keeps them.

mod view;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::layer::{EntryKind, LayerEntry, LayerScan};
use crate::path;
pub use view::{ChangeKind, LayerTouches, ListedEntry, TreeView, layers_between};

pub type NodeId = u32;
pub const ROOT: NodeId = 0;

/// Why a path stopped being visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Named by a `.wh.NAME` whiteout.
    Whiteout,
    /// A direct child of a directory that a layer made opaque.
    Opaque,
    /// Below a directory that was deleted, hidden or replaced.
    UnderDeleted,
    /// Below a directory that a non-directory replaced.
    Replaced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Written by entry `entry` of the event's layer; `None` for a directory implied by a deeper entry.
    Present {
        entry: Option<u32>,
    },
    Absent(Cause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub layer: u32,
    pub state: State,
}

/// One node per path: 32 bytes, with nothing on the heap for a file seen once (a million files are a million
/// nodes; only directories have children, and few paths have more than one event).
#[derive(Debug, Clone)]
struct Node {
    parent: NodeId,
    name: u32,
    /// `None` until the first child (the unsorted order of creation while building, by name after). Boxed: 8
    /// bytes in every node rather than a `Vec`'s 24, for the few nodes that are directories.
    #[allow(clippy::box_collection)]
    children: Option<Box<Vec<NodeId>>>,
    history: History,
}

impl Node {
    fn new(parent: NodeId, name: u32) -> Node {
        Node {
            parent,
            name,
            children: None,
            history: History::Empty,
        }
    }

    fn children(&self) -> &[NodeId] {
        self.children.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// A node's events in layer order: the first held in the node itself (most paths have one in all), more on the
/// heap.
#[derive(Debug, Clone, PartialEq, Eq)]
enum History {
    Empty,
    One(Event),
    /// Boxed: the inline event sets the size (16 bytes), not a `Vec`'s 24.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Event>>),
}

impl History {
    fn as_slice(&self) -> &[Event] {
        match self {
            History::Empty => &[],
            History::One(event) => std::slice::from_ref(event),
            History::Many(events) => events,
        }
    }

    fn push(&mut self, event: Event) {
        match self {
            History::Empty => *self = History::One(event),
            History::One(first) => *self = History::Many(Box::new(vec![*first, event])),
            History::Many(events) => events.push(event),
        }
    }
}

/// A regular file's bytes as written by one layer entry.
pub type Version = (u32, u32);

/// The file versions visible in the final image: one bit per entry of each layer (a hash set of a million
/// versions would take some 20 bytes each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisibleVersions {
    bits: Vec<Box<[u64]>>,
}

impl VisibleVersions {
    pub fn contains(&self, &(layer, entry): &Version) -> bool {
        self.bits
            .get(layer as usize)
            .and_then(|words| words.get(entry as usize / 64))
            .is_some_and(|word| word >> (entry % 64) & 1 == 1)
    }

    /// How many versions are visible.
    pub fn len(&self) -> usize {
        self.bits
            .iter()
            .flat_map(|words| words.iter())
            .map(|word| word.count_ones() as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a file version is not in the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GoneReason {
    /// A later entry wrote the same path.
    Overwritten,
    /// A whiteout named the path.
    Deleted,
    /// Hidden under a deleted, opaque or replaced directory.
    Hidden,
}

impl GoneReason {
    pub fn name(self) -> &'static str {
        match self {
            GoneReason::Overwritten => "overwritten",
            GoneReason::Deleted => "deleted",
            GoneReason::Hidden => "hidden",
        }
    }
}

/// What became of a file version by the top layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Visible,
    Gone { reason: GoneReason, removed_in: u32 },
}

/// Per-layer change counts, with the definitions in the README.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerCounts {
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
}

#[derive(Clone)]
pub struct ImageTree {
    nodes: Vec<Node>,
    /// Every distinct name once, back to back (no allocation per name: a million files have a million names).
    names: Names,
    layers: Vec<Arc<LayerScan>>,
    /// A hardlink entry -> the file version it shares.
    hardlinks: HashMap<Version, Version>,
    counts: Vec<LayerCounts>,
}

/// Interned path components in one byte arena, addressed by `u32` ids.
#[derive(Clone)]
struct Names {
    bytes: Vec<u8>,
    /// Where name `id` ends in `bytes` (it starts where `id - 1` ends).
    ends: Vec<usize>,
}

impl Names {
    fn get(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = id.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.bytes[start..self.ends[id]]
    }

    fn push(&mut self, name: &[u8]) -> u32 {
        self.bytes.extend_from_slice(name);
        self.ends.push(self.bytes.len());
        (self.ends.len() - 1) as u32
    }
}

/// Name lookup while building: a table of name ids hashed by the names they stand for, compared in the arena, so
/// no name is stored a second time as a key (4 bytes a slot).
#[derive(Default)]
struct NameIds<S = std::hash::RandomState> {
    table: hashbrown::HashTable<u32>,
    hasher: S,
}

impl<S: BuildHasher> NameIds<S> {
    fn find(&self, names: &Names, name: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |&id| names.get(id) == name).copied()
    }

    /// Records a name not known yet.
    fn insert(&mut self, names: &Names, name: &[u8], id: u32) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(name), id, |&other| {
                hasher.hash_one(names.get(other))
            });
    }
}

/// Child lookup while building: node ids hashed by (parent, name id), compared against the nodes themselves.
#[derive(Default)]
struct ChildIds {
    table: hashbrown::HashTable<NodeId>,
    hasher: std::hash::RandomState,
}

impl ChildIds {
    fn find(&self, nodes: &[Node], parent: NodeId, name: u32) -> Option<NodeId> {
        let hash = self.hasher.hash_one((parent, name));
        self.table
            .find(hash, |&id| {
                let node = &nodes[id as usize];
                (node.parent, node.name) == (parent, name)
            })
            .copied()
    }

    fn insert(&mut self, nodes: &[Node], id: NodeId) {
        let hasher = &self.hasher;
        let key = |id: NodeId| {
            let node = &nodes[id as usize];
            hasher.hash_one((node.parent, node.name))
        };
        self.table.insert_unique(key(id), id, |&other| key(other));
    }
}

struct Builder {
    tree: ImageTree,
    name_ids: NameIds,
    child_of: ChildIds,
}

/// Builds an [`ImageTree`] one layer at a time, bottom to top, and gives the tree of the layers applied so far
/// at any point ([`TreeBuilder::snapshot`]): the explorer explores the lower layers while upper ones still load.
/// A node's id is the order in which its path was first seen, so every snapshot's ids stay valid in the later
/// snapshots and in the finished tree, which equals [`ImageTree::build`] of the same layers.
pub struct TreeBuilder(Builder);

impl TreeBuilder {
    /// An empty tree, with room for `entries` entries (the sum over the layers to come, when known).
    pub fn new(entries: usize) -> TreeBuilder {
        let mut b = Builder {
            tree: ImageTree {
                nodes: vec![Node::new(ROOT, 0)],
                names: Names {
                    bytes: Vec::new(),
                    ends: vec![0],
                },
                layers: Vec::new(),
                hardlinks: HashMap::new(),
                counts: Vec::new(),
            },
            name_ids: NameIds::default(),
            child_of: ChildIds::default(),
        };
        // Nearly one node per entry: room for all at once, rather than doubling (and copying) twenty times.
        b.tree.nodes.reserve_exact(entries + 1);
        // The table is empty: nothing to rehash yet.
        b.child_of.table.reserve(entries, |_| 0);
        TreeBuilder(b)
    }

    /// Applies the next layer up.
    pub fn push(&mut self, scan: Arc<LayerScan>) {
        // Pushed first: applying an entry looks at the entries of its own layer.
        let index = self.0.tree.layers.len() as u32;
        self.0.tree.layers.push(scan.clone());
        self.0.apply(index, &scan);
    }

    /// How many layers are applied.
    pub fn layer_count(&self) -> usize {
        self.0.tree.layers.len()
    }

    /// The tree of the layers applied so far (a copy: the builder goes on).
    pub fn snapshot(&self) -> ImageTree {
        let mut tree = self.0.tree.clone();
        tree.sort_children();
        tree
    }

    /// The tree of every layer applied.
    pub fn finish(self) -> ImageTree {
        // The lookup tables go before sorting: they are not needed any more, and the peak is near here.
        let Builder {
            mut tree,
            name_ids,
            child_of,
        } = self.0;
        drop((name_ids, child_of));
        tree.sort_children();
        tree
    }
}

impl ImageTree {
    /// Applies the layers bottom to top.
    pub fn build(layers: &[Arc<LayerScan>]) -> ImageTree {
        let mut b = TreeBuilder::new(layers.iter().map(|l| l.entries.len()).sum());
        b.0.tree.layers.reserve_exact(layers.len());
        b.0.tree.counts.reserve_exact(layers.len());
        for scan in layers {
            b.push(scan.clone());
        }
        b.finish()
    }

    /// Sorts every directory's children by name (they are kept in creation order while building).
    fn sort_children(&mut self) {
        for index in 0..self.nodes.len() {
            let Some(mut children) = self.nodes[index].children.take() else {
                continue;
            };
            let (nodes, names) = (&self.nodes, &self.names);
            children.sort_unstable_by(|a, b| {
                names
                    .get(nodes[*a as usize].name)
                    .cmp(names.get(nodes[*b as usize].name))
            });
            self.nodes[index].children = Some(children);
        }
    }

    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn counts(&self, layer: usize) -> LayerCounts {
        self.counts.get(layer).copied().unwrap_or_default()
    }

    pub fn name(&self, node: NodeId) -> &[u8] {
        self.names.get(self.nodes[node as usize].name)
    }

    pub fn parent(&self, node: NodeId) -> NodeId {
        self.nodes[node as usize].parent
    }

    /// Children sorted by name (all that ever existed; ask `state_at` which are present).
    pub fn children(&self, node: NodeId) -> &[NodeId] {
        self.nodes[node as usize].children()
    }

    pub fn history(&self, node: NodeId) -> &[Event] {
        self.nodes[node as usize].history.as_slice()
    }

    /// The normalised relative path of a node (`usr/bin/env`).
    pub fn path(&self, node: NodeId) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut n = node;
        while n != ROOT {
            parts.push(self.name(n));
            n = self.parent(n);
        }
        parts.reverse();
        parts.join(&b'/')
    }

    pub fn display_path(&self, node: NodeId) -> String {
        path::display_absolute(&self.path(node))
    }

    /// Finds the node of a path (any form: `/a/b`, `a/b/`).
    pub fn lookup(&self, raw: &[u8]) -> Option<NodeId> {
        let mut node = ROOT;
        for part in path::components(raw) {
            let children = self.children(node);
            let i = children
                .binary_search_by(|c| self.name(*c).cmp(part))
                .ok()?;
            node = children[i];
        }
        Some(node)
    }

    pub fn entry(&self, layer: u32, entry: u32) -> &LayerEntry {
        &self.layers[layer as usize].entries[entry as usize]
    }

    pub fn scan(&self, layer: usize) -> &LayerScan {
        &self.layers[layer]
    }

    /// The node's latest event at or before `layer` (`None` = before layer 0 or never touched).
    pub fn state_at(&self, node: NodeId, layer: Option<u32>) -> Option<Event> {
        if node == ROOT {
            return Some(Event {
                layer: 0,
                state: State::Present { entry: None },
            });
        }
        let layer = layer?;
        self.history(node)
            .iter()
            .rev()
            .find(|e| e.layer <= layer)
            .copied()
    }

    pub fn present_at(&self, node: NodeId, layer: Option<u32>) -> bool {
        matches!(
            self.state_at(node, layer),
            Some(Event {
                state: State::Present { .. },
                ..
            })
        )
    }

    /// How many paths are present at `layer` (the root not counted).
    pub fn present_count(&self, layer: u32) -> usize {
        (1..self.nodes.len() as NodeId)
            .filter(|n| self.present_at(*n, Some(layer)))
            .count()
    }

    /// The entry behind a present event, or `None` for an implied directory.
    pub fn event_entry(&self, event: &Event) -> Option<&LayerEntry> {
        match event.state {
            State::Present { entry: Some(i) } => Some(self.entry(event.layer, i)),
            _ => None,
        }
    }

    /// Whether an event leaves a directory (an entry of kind dir, or an implied one).
    pub fn is_dir_event(&self, event: &Event) -> bool {
        match event.state {
            State::Present { entry: None } => true,
            State::Present { entry: Some(i) } => self.entry(event.layer, i).kind == EntryKind::Dir,
            State::Absent(_) => false,
        }
    }

    /// The file version a present event makes visible (hardlinks resolve to the version they share).
    pub fn version_of(&self, event: &Event) -> Option<Version> {
        let State::Present { entry: Some(i) } = event.state else {
            return None;
        };
        match self.entry(event.layer, i).kind {
            EntryKind::File => Some((event.layer, i)),
            EntryKind::Hardlink => self.hardlinks.get(&(event.layer, i)).copied(),
            _ => None,
        }
    }

    /// Size of the bytes a node shows at an event (a hardlink shows its target's size).
    pub fn shown_size(&self, event: &Event) -> u64 {
        self.version_of(event)
            .map_or(0, |(l, i)| self.entry(l, i).size)
    }

    /// Every regular-file version visible in the final image (through its path or a hardlink).
    pub fn visible_versions(&self) -> VisibleVersions {
        let mut visible = VisibleVersions {
            bits: self
                .layers
                .iter()
                .map(|l| vec![0; l.entries.len().div_ceil(64)].into_boxed_slice())
                .collect(),
        };
        let top = self.layers.len().checked_sub(1).map(|l| l as u32);
        for (layer, entry) in (1..self.nodes.len() as NodeId)
            .filter_map(|n| self.state_at(n, top))
            .filter_map(|e| self.version_of(&e))
        {
            if let Some(word) = visible
                .bits
                .get_mut(layer as usize)
                .and_then(|words| words.get_mut(entry as usize / 64))
            {
                *word |= 1 << (entry % 64);
            }
        }
        visible
    }

    /// What became of the version written by the event at `history[position]` of `node`.
    pub fn fate(&self, node: NodeId, position: usize, visible: &VisibleVersions) -> Fate {
        let history = self.history(node);
        let event = history[position];
        if self
            .version_of(&event)
            .is_some_and(|v| visible.contains(&v))
        {
            return Fate::Visible;
        }
        match history.get(position + 1) {
            None => Fate::Visible,
            Some(next) => Fate::Gone {
                removed_in: next.layer,
                reason: match next.state {
                    State::Present { .. } => GoneReason::Overwritten,
                    State::Absent(Cause::Whiteout) => GoneReason::Deleted,
                    State::Absent(_) => GoneReason::Hidden,
                },
            },
        }
    }
}

/// Pushes onto a vector of one element per node, growing it by an eighth when full rather than doubling it: the
/// nodes outnumber the entries reserved for (the directories) by a few percent, not by twice.
fn push_small_step<T>(vec: &mut Vec<T>, item: T) {
    if vec.len() == vec.capacity() {
        vec.reserve_exact(vec.len() / 8 + 64);
    }
    vec.push(item);
}

impl Builder {
    fn name_id(&mut self, name: &[u8]) -> u32 {
        if let Some(id) = self.name_ids.find(&self.tree.names, name) {
            return id;
        }
        let id = self.tree.names.push(name);
        self.name_ids.insert(&self.tree.names, name, id);
        id
    }

    fn child(&mut self, parent: NodeId, name: &[u8]) -> NodeId {
        let name = self.name_id(name);
        if let Some(id) = self.child_of.find(&self.tree.nodes, parent, name) {
            return id;
        }
        let id = self.tree.nodes.len() as NodeId;
        push_small_step(&mut self.tree.nodes, Node::new(parent, name));
        self.tree.nodes[parent as usize]
            .children
            .get_or_insert_default()
            .push(id);
        self.child_of.insert(&self.tree.nodes, id);
        id
    }

    fn find(&self, raw: &[u8]) -> Option<NodeId> {
        let mut node = ROOT;
        for part in path::components(raw) {
            let name = self.name_ids.find(&self.tree.names, part)?;
            node = self.child_of.find(&self.tree.nodes, node, name)?;
        }
        (node != ROOT).then_some(node)
    }

    fn current(&self, node: NodeId) -> Option<Event> {
        self.tree.state_at(node, Some(u32::MAX))
    }

    fn is_present(&self, node: NodeId) -> bool {
        self.tree.present_at(node, Some(u32::MAX))
    }

    fn is_present_dir(&self, node: NodeId) -> bool {
        self.current(node)
            .is_some_and(|e| self.tree.is_dir_event(&e))
    }

    fn push(&mut self, node: NodeId, layer: u32, state: State, touched: &mut Vec<NodeId>) {
        let history = &mut self.tree.nodes[node as usize].history;
        // Layers apply in order: the node's first event in this layer is the one after an event of a lower layer.
        let first_in_layer = history.as_slice().last().is_none_or(|e| e.layer != layer);
        history.push(Event { layer, state });
        if first_in_layer {
            touched.push(node);
        }
    }

    /// Makes `node` absent with `cause`, and every present node below it absent as hidden.
    fn remove(&mut self, node: NodeId, layer: u32, cause: Cause, touched: &mut Vec<NodeId>) {
        if !self.is_present(node) {
            return;
        }
        self.push(node, layer, State::Absent(cause), touched);
        let mut stack: Vec<NodeId> = self.tree.nodes[node as usize].children().to_vec();
        while let Some(n) = stack.pop() {
            if self.is_present(n) {
                self.push(n, layer, State::Absent(Cause::UnderDeleted), touched);
                stack.extend_from_slice(self.tree.nodes[n as usize].children());
            }
        }
    }

    /// Hides every present child of `dir` (opaque marker, or a directory replaced by a non-directory).
    fn clear_children(&mut self, dir: NodeId, layer: u32, cause: Cause, touched: &mut Vec<NodeId>) {
        let children = self.tree.nodes[dir as usize].children().to_vec();
        for c in children {
            self.remove(c, layer, cause, touched);
        }
    }

    fn apply(&mut self, layer: u32, scan: &LayerScan) {
        let mut touched = Vec::new();
        for dir in &scan.opaques {
            let node = if dir.is_empty() {
                Some(ROOT)
            } else {
                self.find(dir)
            };
            if let Some(node) = node.filter(|n| *n == ROOT || self.is_present_dir(*n)) {
                self.clear_children(node, layer, Cause::Opaque, &mut touched);
            }
        }
        for target in &scan.whiteouts {
            if let Some(node) = self.find(target) {
                self.remove(node, layer, Cause::Whiteout, &mut touched);
            }
        }
        for (index, entry) in scan.entries.iter().enumerate() {
            self.apply_entry(layer, index as u32, entry, &mut touched);
        }
        let mut counts = LayerCounts::default();
        for node in touched {
            self.count(node, layer, &mut counts);
        }
        self.tree.counts.push(counts);
    }

    fn apply_entry(
        &mut self,
        layer: u32,
        index: u32,
        entry: &LayerEntry,
        touched: &mut Vec<NodeId>,
    ) {
        let parts = path::components(&entry.path);
        let mut node = ROOT;
        for (depth, part) in parts.iter().enumerate() {
            node = self.child(node, part);
            if depth + 1 < parts.len() && !self.is_present_dir(node) {
                // A deeper entry implies this directory; it replaces whatever non-directory was there.
                self.push(node, layer, State::Present { entry: None }, touched);
            }
        }
        if node == ROOT {
            return;
        }
        if entry.kind != EntryKind::Dir && self.is_present_dir(node) {
            self.clear_children(node, layer, Cause::Replaced, touched);
        }
        if entry.kind == EntryKind::Hardlink {
            let shared = entry
                .link_target
                .as_deref()
                .and_then(|t| self.find(t))
                .and_then(|t| self.current(t))
                .and_then(|e| self.tree.version_of(&e));
            if let Some(version) = shared {
                self.tree.hardlinks.insert((layer, index), version);
            }
        }
        self.push(node, layer, State::Present { entry: Some(index) }, touched);
    }

    fn count(&self, node: NodeId, layer: u32, counts: &mut LayerCounts) {
        match self.tree.layer_change(node, layer) {
            Some(ChangeKind::Added) => counts.added += 1,
            Some(ChangeKind::Modified) => counts.modified += 1,
            Some(ChangeKind::Deleted) => counts.deleted += 1,
            _ => {}
        }
    }
}

impl ImageTree {
    /// The change layer `layer` makes to `node`, as the per-layer counts define it: `Added` (an entry whose path
    /// is absent below), `Modified` (an entry over an existing path, except a directory over a directory),
    /// `Deleted` (a lower path named by a whiteout or a lower child hidden by an opaque marker, and not
    /// re-created by the layer). `None` otherwise, including descendants of a deleted directory.
    pub fn layer_change(&self, node: NodeId, layer: u32) -> Option<ChangeKind> {
        let history = self.history(node);
        let mut in_layer = history.iter().filter(|e| e.layer == layer);
        let at = in_layer.clone().next_back().copied()?;
        let below = history.iter().rev().find(|e| e.layer < layer).copied();
        let below_present = below.is_some_and(|e| matches!(e.state, State::Present { .. }));
        match at.state {
            State::Present { entry: Some(_) } if !below_present => Some(ChangeKind::Added),
            State::Present { entry: Some(_) } => {
                let dir_over_dir =
                    self.is_dir_event(&at) && below.is_some_and(|b| self.is_dir_event(&b));
                (!dir_over_dir).then_some(ChangeKind::Modified)
            }
            State::Absent(_) if below_present => in_layer
                .any(|e| matches!(e.state, State::Absent(Cause::Whiteout | Cause::Opaque)))
                .then_some(ChangeKind::Deleted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
