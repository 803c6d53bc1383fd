//! The final trees of A and B compared path by path (contents by digest, then mode, owner and link target), and
//! the directories whose total file bytes changed most.

use std::collections::{BTreeMap, HashMap};

use super::{
    ContentChange, DirectoryChange, FieldChange, FileChanges, FileEntry, Masks, MetadataChange,
    delta,
};
use crate::file_digest::FileDigest;
use crate::layer::EntryKind;
use crate::path;
use crate::tree::{ImageTree, NodeId, State};

/// A path as the final image shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Final {
    kind: EntryKind,
    /// The bytes it shows (a hardlink its target's).
    size: u64,
    /// The bytes it adds to the image (regular files only, as the layer sizes count them).
    own_bytes: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    link_target: Option<Box<[u8]>>,
    digest: Option<FileDigest>,
}

/// Every path present in the final image (the root excluded), by raw path.
pub(super) fn final_files(tree: &ImageTree) -> BTreeMap<Vec<u8>, Final> {
    let mut out = BTreeMap::new();
    let Some(top) = tree.layer_count().checked_sub(1) else {
        return out;
    };
    for node in 1..tree.node_count() as NodeId {
        let Some(event) = tree.state_at(node, Some(top as u32)) else {
            continue;
        };
        if !matches!(event.state, State::Present { .. }) {
            continue;
        }
        let entry = tree.event_entry(&event);
        let kind = entry.map_or(EntryKind::Dir, |e| e.kind);
        let version = tree.version_of(&event).map(|(l, i)| tree.entry(l, i));
        out.insert(
            tree.path(node),
            Final {
                kind,
                size: version.map_or(0, |v| v.size),
                own_bytes: if kind == EntryKind::File {
                    version.map_or(0, |v| v.size)
                } else {
                    0
                },
                mode: entry.map_or(0o755, |e| e.mode),
                uid: entry.map_or(0, |e| e.uid),
                gid: entry.map_or(0, |e| e.gid),
                link_target: entry.and_then(|e| e.link_target.clone()),
                digest: version.and_then(|v| v.digest),
            },
        );
    }
    out
}

/// What a path's contents are, for deciding between a content change and a metadata change: the bytes of a
/// file (a hardlink shares a file's bytes, so it has the same identity), nothing else for other kinds.
#[derive(PartialEq, Eq)]
enum Identity {
    Bytes(Option<FileDigest>),
    Kind(EntryKind),
}

fn identity(f: &Final) -> Identity {
    match f.kind {
        EntryKind::File | EntryKind::Hardlink => Identity::Bytes(f.digest),
        other => Identity::Kind(other),
    }
}

/// Whether two versions of a path hold the same contents. A file without a digest (a sparse tar member, a
/// hardlink to a file the layers lack) cannot be shown unchanged, so it counts as changed.
fn same_content(a: &Final, b: &Final) -> bool {
    match (identity(a), identity(b)) {
        (Identity::Bytes(Some(x)), Identity::Bytes(Some(y))) => x == y,
        (Identity::Bytes(_), Identity::Bytes(_)) => false,
        (x, y) => x == y,
    }
}

fn shown_path(raw: &[u8], masks: &Masks<'_>) -> String {
    masks.apply(&path::display_absolute(raw))
}

fn link_text(kind: EntryKind, target: Option<&[u8]>) -> String {
    match (kind, target) {
        (EntryKind::Hardlink, Some(t)) => path::display_absolute(t),
        (_, Some(t)) => path::display(t),
        (_, None) => String::new(),
    }
}

pub(super) fn files(
    old: &BTreeMap<Vec<u8>, Final>,
    new: &BTreeMap<Vec<u8>, Final>,
    masks: &Masks<'_>,
) -> FileChanges {
    let mut out = FileChanges::default();
    let entry = |raw: &[u8], f: &Final| FileEntry {
        path: shown_path(raw, masks),
        raw_path: raw.to_vec(),
        kind: f.kind,
        size: f.size,
        digest: f.digest,
    };
    for (raw, f) in old {
        if !new.contains_key(raw) {
            out.removed.push(entry(raw, f));
        }
    }
    for (raw, b) in new {
        let Some(a) = old.get(raw) else {
            out.added.push(entry(raw, b));
            continue;
        };
        if !same_content(a, b) {
            out.content_changed.push(ContentChange {
                path: shown_path(raw, masks),
                raw_path: raw.clone(),
                a_type: a.kind,
                b_type: b.kind,
                a_size: a.size,
                b_size: b.size,
                delta_bytes: delta(a.size, b.size),
                a_digest: a.digest,
                b_digest: b.digest,
            });
            continue;
        }
        let mut changes = Vec::new();
        if a.mode != b.mode {
            changes.push(FieldChange {
                field: "mode",
                a: format!("{:04o}", a.mode),
                b: format!("{:04o}", b.mode),
            });
        }
        if (a.uid, a.gid) != (b.uid, b.gid) {
            changes.push(FieldChange {
                field: "owner",
                a: format!("{}:{}", a.uid, a.gid),
                b: format!("{}:{}", b.uid, b.gid),
            });
        }
        if a.link_target != b.link_target || a.kind != b.kind {
            changes.push(FieldChange {
                field: "link_target",
                a: masks.apply(&link_text(a.kind, a.link_target.as_deref())),
                b: masks.apply(&link_text(b.kind, b.link_target.as_deref())),
            });
        }
        if !changes.is_empty() {
            out.metadata_changed.push(MetadataChange {
                path: shown_path(raw, masks),
                raw_path: raw.clone(),
                kind: b.kind,
                size: b.size,
                changes,
            });
        }
    }
    out
}

/// The `top` directories whose total file bytes changed most (either way), like a `du` of B minus a `du` of A.
pub(super) fn directories(
    old: &BTreeMap<Vec<u8>, Final>,
    new: &BTreeMap<Vec<u8>, Final>,
    top: usize,
    masks: &Masks<'_>,
) -> Vec<DirectoryChange> {
    let mut totals: HashMap<&[u8], (u64, u64)> = HashMap::new();
    fn add<'p>(totals: &mut HashMap<&'p [u8], (u64, u64)>, raw: &'p [u8], bytes: u64, in_b: bool) {
        if bytes == 0 {
            return;
        }
        // Every directory above the file, the root excluded (its change is the image's).
        for (i, _) in raw.iter().enumerate().filter(|(_, c)| **c == b'/') {
            let sums = totals.entry(&raw[..i]).or_default();
            let side = if in_b { &mut sums.1 } else { &mut sums.0 };
            *side = side.saturating_add(bytes);
        }
    }
    for (raw, f) in old {
        add(&mut totals, raw, f.own_bytes, false);
    }
    for (raw, f) in new {
        add(&mut totals, raw, f.own_bytes, true);
    }
    let mut changed: Vec<(&[u8], u64, u64)> = totals
        .into_iter()
        .filter(|(_, (a, b))| a != b)
        .map(|(dir, (a, b))| (dir, a, b))
        .collect();
    changed.sort_by(|x, y| {
        delta(x.1, x.2)
            .unsigned_abs()
            .cmp(&delta(y.1, y.2).unsigned_abs())
            .reverse()
            .then(x.0.cmp(y.0))
    });
    changed
        .into_iter()
        .take(top)
        .map(|(dir, a, b)| DirectoryChange {
            path: shown_path(dir, masks),
            a_bytes: a,
            b_bytes: b,
            delta_bytes: delta(a, b),
        })
        .collect()
}
