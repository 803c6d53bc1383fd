//! Layout advice: wasted versions no path rule claimed, grouped by the pair (layer that wrote them, layer that
//! deleted or overwrote them). Moving the removal into the writing step saves exactly their bytes, which the
//! waste report already counts version by version.

use std::collections::BTreeMap;

use super::{Advice, Context, PathTally, Place, Rule, Severity, plural, size};
use crate::tree::GoneReason;

#[derive(Default)]
struct Group {
    tally: PathTally,
    deleted: bool,
    overwritten: bool,
}

pub(super) fn advise(cx: &Context<'_>) -> Vec<Advice> {
    let mut groups: BTreeMap<(u32, u32), Group> = BTreeMap::new();
    for file in &cx.analysis.waste.files {
        if cx.is_claimed(file.node) {
            continue;
        }
        for (i, version) in file.versions.iter().enumerate() {
            if cx.is_taken(file.node, i) {
                continue;
            }
            let group = groups
                .entry((version.layer, version.removed_in))
                .or_default();
            group.tally.add(Place::Node(file.node), version.bytes);
            match version.reason {
                GoneReason::Overwritten => group.overwritten = true,
                GoneReason::Deleted | GoneReason::Hidden => group.deleted = true,
            }
        }
    }
    groups
        .into_iter()
        .map(|((added, removed), mut group)| {
            group.tally.layers.extend([added, removed]);
            finding(cx, added, removed, &group)
        })
        .collect()
}

/// The first word of a layer's instruction (`RUN`, `COPY`, ...), upper case.
pub(super) fn keyword(cx: &Context<'_>, layer: u32) -> String {
    cx.image
        .layers
        .get(layer as usize)
        .and_then(|l| l.history.instruction.split_whitespace().next())
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn finding(cx: &Context<'_>, added: u32, removed: u32, group: &Group) -> Advice {
    let (paths, path_count) = group.tally.top(cx.tree);
    let bytes = group.tally.bytes;
    let verb = match (group.deleted, group.overwritten) {
        (true, true) => "deleted or overwritten",
        (false, true) => "overwritten",
        _ => "deleted",
    };
    let base = cx.is_base(added);
    let rule = if base {
        Rule::BaseImageDelete
    } else {
        Rule::SameRunDelete
    };
    let message = if added == removed {
        format!(
            "{} ({}) written more than once by layer {added}",
            plural(path_count, "file"),
            size(bytes)
        )
    } else {
        format!(
            "{} ({}) written by layer {added} and {verb} by layer {removed}",
            plural(path_count, "file"),
            size(bytes)
        )
    };
    Advice {
        id: rule,
        key: format!("{}:{added}>{removed}", rule.id()),
        severity: if base {
            Severity::Info
        } else {
            Severity::for_bytes(bytes)
        },
        message,
        reclaimable_bytes: bytes,
        layers: cx.layers(&group.tally.layers),
        paths,
        path_count,
        fix: fix(cx, added, removed, group, base),
        secrets: Vec::new(),
    }
}

fn fix(cx: &Context<'_>, added: u32, removed: u32, group: &Group, base: bool) -> String {
    if base {
        return "a later layer cannot take bytes out of the base image: choose a slimmer base image".into();
    }
    if added == removed {
        return format!("write each of these paths once in layer {added}");
    }
    let deletes_only = !group.overwritten;
    match keyword(cx, added).as_str() {
        "RUN" if deletes_only => format!(
            "do it in the same RUN: delete them at the end of layer {added}'s RUN (`&& rm ...`), not in layer {removed}"
        ),
        "RUN" => format!(
            "do it in the same RUN: make layer {added}'s RUN leave the final version, not layer {removed}"
        ),
        "COPY" | "ADD" if deletes_only => format!(
            "keep them out of layer {added}'s COPY/ADD (.dockerignore, a narrower source, or a multi-stage build)"
        ),
        "COPY" | "ADD" => format!(
            "COPY/ADD only their final version in layer {added} (if layer {removed} only changes owner or mode: COPY --chown/--chmod)"
        ),
        _ => format!(
            "write and remove them in the same step: layer {removed}'s change belongs in layer {added}"
        ),
    }
}
