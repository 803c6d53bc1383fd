//! Hygiene advice, not about space: the user the image runs as, setuid/setgid and world-writable files in the
//! final image, and the secret findings summed up as one thing to change.

use std::collections::BTreeSet;

use super::{Advice, Context, PathTally, Place, Rule, Severity, plural};
use crate::layer::EntryKind;
use crate::secrets::{Confidence, Location, Status};
use crate::tree::State;

pub(super) fn advise(cx: &Context<'_>) -> Vec<Advice> {
    let mut out = Vec::new();
    out.extend(runs_as_root(cx));
    out.extend(modes(cx));
    out.extend(secrets(cx));
    out
}

/// The config's `User`, `None` when the config has none.
fn user<'a>(cx: &Context<'a>) -> Option<&'a str> {
    cx.image
        .meta
        .config
        .raw
        .pointer("/config/User")
        .and_then(|u| u.as_str())
}

/// Whether a `User` value means root: empty, `root` or uid 0, with or without a group.
fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default().trim();
    name.is_empty() || name == "root" || name.trim_start_matches('0').is_empty()
}

fn runs_as_root(cx: &Context<'_>) -> Option<Advice> {
    let user = user(cx).unwrap_or_default();
    if !is_root(user) {
        return None;
    }
    let why = if user.trim().is_empty() {
        "no USER instruction".to_string()
    } else {
        format!("USER {user}")
    };
    Some(Advice {
        id: Rule::RunsAsRoot,
        key: Rule::RunsAsRoot.id().to_string(),
        severity: Severity::Medium,
        message: format!("the image runs as root ({why})"),
        reclaimable_bytes: 0,
        layers: Vec::new(),
        paths: Vec::new(),
        path_count: 0,
        fix: "add `USER <name or uid>` after the steps that need root (e.g. `USER 65532`, or a user made with useradd)".into(),
        secrets: Vec::new(),
    })
}

/// setuid/setgid files and world-writable entries (directories with the sticky bit excepted) in the final image.
fn modes(cx: &Context<'_>) -> Vec<Advice> {
    let Some(top) = cx.top else {
        return Vec::new();
    };
    let tree = cx.tree;
    let mut setuid = PathTally::default();
    let mut writable = PathTally::default();
    for node in 1..tree.node_count() as u32 {
        let Some(event) = tree.state_at(node, Some(top)) else {
            continue;
        };
        let State::Present { entry: Some(i) } = event.state else {
            continue;
        };
        let entry = tree.entry(event.layer, i);
        let special = entry.kind == EntryKind::File && entry.mode & 0o6000 != 0;
        let world_writable = match entry.kind {
            EntryKind::File => entry.mode & 0o002 != 0,
            EntryKind::Dir => entry.mode & 0o002 != 0 && entry.mode & 0o1000 == 0,
            _ => false,
        };
        for (wanted, tally) in [(special, &mut setuid), (world_writable, &mut writable)] {
            if wanted {
                tally.add(Place::Node(node), entry.size);
                tally.layers.insert(event.layer);
            }
        }
    }
    let mut out = Vec::new();
    if !setuid.places.is_empty() {
        out.push(mode_finding(
            cx,
            Rule::SetuidFile,
            &setuid,
            Severity::Low,
            "with the setuid or setgid bit",
            "remove the binaries you do not need, or `chmod u-s,g-s` them in the RUN that installs them",
        ));
    }
    if !writable.places.is_empty() {
        out.push(mode_finding(
            cx,
            Rule::WorldWritable,
            &writable,
            Severity::Medium,
            "writable by every user",
            "`chmod o-w` them in the RUN that creates them (a directory every user must write to: `chmod 1777`)",
        ));
    }
    out
}

fn mode_finding(
    cx: &Context<'_>,
    rule: Rule,
    tally: &PathTally,
    severity: Severity,
    what: &str,
    fix: &str,
) -> Advice {
    let (paths, path_count) = tally.top(cx.tree);
    Advice {
        id: rule,
        key: rule.id().to_string(),
        severity,
        message: format!("{} {what}", plural(path_count, "path")),
        reclaimable_bytes: 0,
        layers: cx.layers(&tally.layers),
        paths,
        path_count,
        fix: fix.into(),
        secrets: Vec::new(),
    }
}

/// One piece of advice for the high-confidence secret findings (the findings themselves say where each one is).
fn secrets(cx: &Context<'_>) -> Option<Advice> {
    let findings: Vec<_> = cx
        .analysis
        .secrets
        .iter()
        .filter(|f| f.confidence == Confidence::High)
        .collect();
    if findings.is_empty() {
        return None;
    }
    let mut tally = PathTally::default();
    let mut fingerprints = BTreeSet::new();
    for f in &findings {
        fingerprints.insert(f.fingerprint.clone());
        if let Some(layer) = f.layer {
            tally.layers.insert(layer);
        }
        let (place, bytes) = match (f.location, &f.path) {
            (Location::File, Some(path)) => (path.clone(), file_size(cx, path, f.layer)),
            (Location::Config, Some(field)) => (format!("config {field}"), 0),
            (location, _) => (location.name().to_string(), 0),
        };
        tally.places.entry(Place::Text(place)).or_insert(bytes);
    }
    let shipped = findings
        .iter()
        .filter(|f| f.status != Status::Visible)
        .count();
    let (paths, path_count) = tally.top(cx.tree);
    Some(Advice {
        id: Rule::Secrets,
        key: Rule::Secrets.id().to_string(),
        severity: Severity::High,
        message: format!(
            "{} in the image ({shipped} of them removed or overwritten later, yet still in their layer)",
            plural(findings.len(), "secret")
        ),
        reclaimable_bytes: 0,
        layers: cx.layers(&tally.layers),
        paths,
        path_count,
        fix: "pass secrets with RUN --mount=type=secret (never COPY, ARG or ENV), and rotate the ones found".into(),
        secrets: fingerprints.into_iter().collect(),
    })
}

/// The size of the file at `path` as layer `layer` wrote it (0 when unknown).
fn file_size(cx: &Context<'_>, path: &str, layer: Option<u32>) -> u64 {
    let tree = cx.tree;
    let (Some(node), Some(layer)) = (tree.lookup(path.as_bytes()), layer) else {
        return 0;
    };
    tree.history(node)
        .iter()
        .rev()
        .find(|e| e.layer == layer && matches!(e.state, State::Present { .. }))
        .map_or(0, |e| tree.shown_size(e))
}
