//! Content rules, exact by BLAKE3 digest: metadata-only rewrites (`chown-rewrite`: a later layer stores the same
//! bytes again with only a new owner or mode, as `RUN chown -R` / `chmod -R` do) and identical content under
//! several final-image paths (`duplicate-content`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::layout::keyword;
use super::{
    Advice, AdvicePath, Context, PathTally, Place, Rule, Severity, TOP_PATHS, plural, size,
};
use crate::file_digest::FileDigest;
use crate::layer::{EntryKind, LayerEntry};
use crate::tree::{GoneReason, NodeId, State};

/// Files smaller than this are not reported as duplicates: small identical files (licences, `__init__.py`,
/// empty-ish configs) are common, cheap, and would drown the large copies that matter.
pub const DUPLICATE_FLOOR: u64 = 4096;

/// The rewrites of one (writing layer, rewriting layer) pair.
#[derive(Default)]
struct Rewrites {
    tally: PathTally,
    owner: bool,
    mode: bool,
}

/// What changed between two versions with the same bytes: (owner, mode).
fn metadata_change(old: &LayerEntry, new: &LayerEntry) -> Option<(bool, bool)> {
    let same_bytes = old.kind == EntryKind::File
        && new.kind == EntryKind::File
        && old.size == new.size
        && old.digest.is_some()
        && old.digest == new.digest;
    let owner = (old.uid, old.gid) != (new.uid, new.gid);
    let mode = old.mode != new.mode;
    (same_bytes && (owner || mode)).then_some((owner, mode))
}

/// Wasted versions that the next version of their path replaced with the same bytes and only a new owner or
/// mode. They are taken out of what `layout` groups: the fix is `COPY --chown/--chmod`, not a same-RUN delete.
pub(super) fn rewrites(cx: &mut Context<'_>) -> Vec<Advice> {
    let tree = cx.tree;
    let mut groups: BTreeMap<(u32, u32), Rewrites> = BTreeMap::new();
    let mut taken = Vec::new();
    for file in &cx.analysis.waste.files {
        if cx.is_claimed(file.node) {
            continue;
        }
        for pair in tree.history(file.node).windows(2) {
            let (State::Present { entry: Some(i) }, State::Present { entry: Some(j) }) =
                (pair[0].state, pair[1].state)
            else {
                continue;
            };
            let (written, rewritten) = (pair[0].layer, pair[1].layer);
            let Some((owner, mode)) =
                metadata_change(tree.entry(written, i), tree.entry(rewritten, j))
            else {
                continue;
            };
            // The wasted version this pair made (none when a hardlink keeps the old version visible).
            let found = file.versions.iter().enumerate().find(|(k, v)| {
                v.layer == written
                    && v.removed_in == rewritten
                    && v.reason == GoneReason::Overwritten
                    && !taken.contains(&(file.node, *k))
            });
            let Some((k, version)) = found else {
                continue;
            };
            taken.push((file.node, k));
            let group = groups.entry((written, rewritten)).or_default();
            group.tally.add(Place::Node(file.node), version.bytes);
            group.tally.layers.extend([written, rewritten]);
            group.owner |= owner;
            group.mode |= mode;
        }
    }
    cx.taken.extend(taken);
    groups
        .into_iter()
        .map(|((written, rewritten), group)| rewrite_finding(cx, written, rewritten, &group))
        .collect()
}

fn rewrite_finding(cx: &Context<'_>, written: u32, rewritten: u32, group: &Rewrites) -> Advice {
    let (paths, path_count) = group.tally.top(cx.tree);
    let bytes = group.tally.bytes;
    let (what, flags) = match (group.owner, group.mode) {
        (true, true) => ("owner and mode", "--chown/--chmod"),
        (true, false) => ("owner", "--chown"),
        _ => ("mode", "--chmod"),
    };
    let base = cx.is_base(written);
    let fix = if base {
        format!(
            "changing the {what} of base-image files stores them again: run as a user that needs no change, or choose a base image that ships them so"
        )
    } else {
        match keyword(cx, written).as_str() {
            "COPY" | "ADD" => format!(
                "use COPY {flags} in layer {written} instead of changing the {what} in layer {rewritten}"
            ),
            _ => format!(
                "set the {what} in the same RUN that writes them (layer {written}), not in layer {rewritten}"
            ),
        }
    };
    Advice {
        id: Rule::ChownRewrite,
        key: format!("{}:{written}>{rewritten}", Rule::ChownRewrite.id()),
        severity: if base {
            Severity::Info
        } else {
            Severity::for_bytes(bytes)
        },
        message: format!(
            "{} ({}) written by layer {written} stored again by layer {rewritten} with the same content, only a new {what}",
            plural(path_count, "file"),
            size(bytes)
        ),
        reclaimable_bytes: bytes,
        layers: cx.layers(&group.tally.layers),
        paths,
        path_count,
        fix,
        secrets: Vec::new(),
    }
}

/// One copy of a content in the final image: (layer that wrote it, node, size).
type Copy = (u32, NodeId, u64);

/// Final-image files of at least [`DUPLICATE_FLOOR`] bytes whose content another final-image path holds too
/// (hardlinks share one stored copy and are not duplicates). The copy in the lowest layer (then the first
/// path) is kept; every other copy is reclaimable and claimed, so no later rule counts its bytes again.
pub(super) fn duplicates(cx: &mut Context<'_>) -> Option<Advice> {
    let tree = cx.tree;
    let top = cx.top?;
    let mut by_digest: HashMap<FileDigest, Vec<Copy>> = HashMap::new();
    for node in 1..tree.node_count() as NodeId {
        if cx.is_claimed(node) {
            continue;
        }
        let Some(event) = tree.state_at(node, Some(top)) else {
            continue;
        };
        let Some(entry) = tree.event_entry(&event) else {
            continue;
        };
        if entry.kind != EntryKind::File || entry.size < DUPLICATE_FLOOR {
            continue;
        }
        if let Some(digest) = entry.digest {
            by_digest
                .entry(digest)
                .or_default()
                .push((event.layer, node, entry.size));
        }
    }
    // (bytes, extra copy, kept copy)
    let mut extra: Vec<(u64, NodeId, NodeId)> = Vec::new();
    let mut tally = PathTally::default();
    let mut contents = 0usize;
    for copies in by_digest.values_mut().filter(|c| c.len() > 1) {
        copies.sort_unstable_by_key(|&(layer, node, _)| (layer, tree.path(node)));
        let (kept_layer, kept, _) = copies[0];
        contents += 1;
        tally.layers.insert(kept_layer);
        for &(layer, node, bytes) in &copies[1..] {
            extra.push((bytes, node, kept));
            tally.add(Place::Node(node), bytes);
            tally.layers.insert(layer);
        }
    }
    if extra.is_empty() {
        return None;
    }
    for &(_, node, _) in &extra {
        cx.claim(node);
    }
    // Most bytes first, then by path; only the candidates for the top list are turned into paths.
    let cutoff = if extra.len() > TOP_PATHS {
        extra.select_nth_unstable_by(TOP_PATHS - 1, |a, b| b.0.cmp(&a.0));
        extra[TOP_PATHS - 1].0
    } else {
        0
    };
    let mut paths: Vec<AdvicePath> = extra
        .iter()
        .filter(|&&(bytes, _, _)| bytes >= cutoff)
        .map(|&(bytes, node, kept)| AdvicePath {
            path: tree.display_path(node),
            bytes,
            same_as: Some(tree.display_path(kept)),
        })
        .collect();
    paths.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    paths.truncate(TOP_PATHS);
    let bytes = tally.bytes;
    let layers: BTreeSet<u32> = tally.layers;
    Some(Advice {
        id: Rule::DuplicateContent,
        key: Rule::DuplicateContent.id().to_string(),
        severity: Severity::for_bytes(bytes),
        message: format!(
            "{} ({}) repeat the content of {} stored elsewhere in the image",
            plural(extra.len(), "file"),
            size(bytes),
            plural(contents, "other file")
        ),
        reclaimable_bytes: bytes,
        layers: cx.layers(&layers),
        paths,
        path_count: extra.len(),
        fix: "store each content once: copy it to one path and hardlink or symlink the others (or drop the extra copies in the step that makes them)".into(),
        secrets: Vec::new(),
    })
}
