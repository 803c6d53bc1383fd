//! Advice: what to change in the Dockerfile, and the exact bytes each change saves.
//!
//! [`advise`] runs rules over the image tree, the waste report, the image config and the secret findings. Each
//! [`Advice`] names its rule (a stable id such as `same-run-delete`), a severity, the reclaimable bytes, the
//! layers and instructions involved, the top paths and a one-line fix.
//!
//! Bytes are never counted twice: the rules run in a fixed order and each claims the paths it reports. Path
//! rules (`categories`: package caches, `.git`, editor/OS junk, build toolchains) claim every version of a
//! matching path, the one in the final image and the wasted ones; `layout` then groups the wasted versions
//! nobody claimed by the pair (layer that wrote them, layer that removed them). So the reclaimable bytes of all
//! findings add up, and every wasted byte is in exactly one finding.
//!
//! Content rules (`content`) read the BLAKE3 digest every regular file carries: a version replaced by the same
//! bytes with only a new owner or mode (`chown-rewrite`) is taken out of the versions `layout` groups, and
//! identical content under several final-image paths (`duplicate-content`) claims the extra copies. `debug`
//! reports the debug sections of the final image's ELF binaries (`elf-debug`), from the section tables the layer
//! scan recorded; it skips the paths already claimed (a duplicate copy, a toolchain file) so no byte counts twice.

mod categories;
mod content;
mod debug;
mod hygiene;
mod layout;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use serde::Serialize;

use super::{Analysis, WastedFile};
use crate::image::Image;
use crate::tree::{ImageTree, NodeId};

/// How many paths a finding lists (most bytes first).
pub const TOP_PATHS: usize = 10;

/// How much a finding matters. Findings about space take theirs from the bytes (see [`Severity::for_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// 100 MB or more: high; 10 MB: medium; 1 MB: low; less: info.
    pub fn for_bytes(bytes: u64) -> Severity {
        match bytes {
            100_000_000.. => Severity::High,
            10_000_000.. => Severity::Medium,
            1_000_000.. => Severity::Low,
            _ => Severity::Info,
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            _ => Err(format!(
                "unknown severity {s:?} (info, low, medium or high)"
            )),
        }
    }
}

/// The kinds of advice. Their ids are stable: configuration files and SARIF consumers name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    SameRunDelete,
    BaseImageDelete,
    ChownRewrite,
    DuplicateContent,
    ElfDebug,
    PackageCache,
    GitDirectory,
    OsJunk,
    BuildToolchain,
    RunsAsRoot,
    SetuidFile,
    WorldWritable,
    Secrets,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::SameRunDelete,
        Rule::BaseImageDelete,
        Rule::ChownRewrite,
        Rule::DuplicateContent,
        Rule::ElfDebug,
        Rule::PackageCache,
        Rule::GitDirectory,
        Rule::OsJunk,
        Rule::BuildToolchain,
        Rule::RunsAsRoot,
        Rule::SetuidFile,
        Rule::WorldWritable,
        Rule::Secrets,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::SameRunDelete => "same-run-delete",
            Rule::BaseImageDelete => "base-image-delete",
            Rule::ChownRewrite => "chown-rewrite",
            Rule::DuplicateContent => "duplicate-content",
            Rule::ElfDebug => "elf-debug",
            Rule::PackageCache => "package-cache",
            Rule::GitDirectory => "git-directory",
            Rule::OsJunk => "os-junk",
            Rule::BuildToolchain => "build-toolchain",
            Rule::RunsAsRoot => "runs-as-root",
            Rule::SetuidFile => "setuid-file",
            Rule::WorldWritable => "world-writable",
            Rule::Secrets => "secrets",
        }
    }

    /// One sentence saying what the rule finds.
    pub fn description(self) -> &'static str {
        match self {
            Rule::SameRunDelete => {
                "Files written by one layer and deleted or overwritten by a later one still ship in the first"
            }
            Rule::BaseImageDelete => {
                "Files of the base image deleted or overwritten by a later layer still ship in the base"
            }
            Rule::ChownRewrite => {
                "Files stored again by a later layer with the same content, only a new owner or mode"
            }
            Rule::DuplicateContent => "Identical file content stored under several paths",
            Rule::ElfDebug => "ELF binaries with debug sections that strip would remove",
            Rule::PackageCache => "Package-manager caches left in the image",
            Rule::GitDirectory => "Version-control data (.git) in the image",
            Rule::OsJunk => "Editor and operating-system junk files in the image",
            Rule::BuildToolchain => "Compilers, headers and build toolchains in the final image",
            Rule::RunsAsRoot => "The image runs as root",
            Rule::SetuidFile => "Files with the setuid or setgid bit",
            Rule::WorldWritable => "World-writable files and directories (without the sticky bit)",
            Rule::Secrets => "Secrets in the image (see the secret findings)",
        }
    }
}

/// A layer a finding involves, with its instruction as written in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdviceLayer {
    pub index: u32,
    pub instruction: String,
}

/// One of a finding's paths and the bytes it accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvicePath {
    pub path: String,
    pub bytes: u64,
    /// For `duplicate-content`: the path holding the copy that is kept (the same bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// One thing to change in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// The rule (`same-run-delete`, ...): the stable id to ignore or gate on.
    pub id: Rule,
    /// The finding within its rule, stable across builds of the same Dockerfile: `same-run-delete:4>5`,
    /// `package-cache:apt`. Ignoring a key ignores this finding alone.
    pub key: String,
    pub severity: Severity,
    /// What was found, in one sentence.
    pub message: String,
    /// Bytes the fix removes from the image (0 for findings that are not about space).
    pub reclaimable_bytes: u64,
    /// Layers involved, ascending.
    pub layers: Vec<AdviceLayer>,
    /// The top paths, most bytes first (at most [`TOP_PATHS`]).
    pub paths: Vec<AdvicePath>,
    /// How many paths the finding covers in all.
    pub path_count: usize,
    /// The fix, in one line.
    pub fix: String,
    /// Fingerprints of the secret findings this advice is about (`secrets` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

impl Advice {
    /// Whether an ignore entry (a rule id or a finding key) names this finding.
    pub fn is_named_by(&self, name: &str) -> bool {
        name == self.id.id() || name == self.key
    }
}

/// Computes the advice of an analysis whose secrets (if any) are known and keeps it in the analysis, masked by
/// the analysis's redactor (paths, instructions and messages quote the image), so that every output shows the
/// same findings and none shows a secret.
pub fn attach(image: &Image, analysis: &mut Analysis) {
    let mut advice = advise(image, analysis);
    let mask = &analysis.redactor;
    for a in &mut advice {
        a.message = mask.apply(&a.message);
        a.fix = mask.apply(&a.fix);
        for l in &mut a.layers {
            l.instruction = mask.apply(&l.instruction);
        }
        for p in &mut a.paths {
            p.path = mask.apply(&p.path);
            if let Some(kept) = &mut p.same_as {
                *kept = mask.apply(kept);
            }
        }
    }
    analysis.advice = advice;
}

/// The findings of every rule, most severe first, then most bytes first.
pub fn advise(image: &Image, analysis: &Analysis) -> Vec<Advice> {
    let mut cx = Context::new(image, analysis);
    let mut out = Vec::new();
    out.extend(categories::advise(&mut cx));
    out.extend(content::rewrites(&mut cx));
    out.extend(content::duplicates(&mut cx));
    out.extend(debug::advise(&mut cx));
    out.extend(layout::advise(&cx));
    out.extend(hygiene::advise(&cx));
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.reclaimable_bytes.cmp(&a.reclaimable_bytes))
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

/// The findings an ignore list (rule ids or finding keys, e.g. from a config file) leaves.
pub fn without_ignored(advice: Vec<Advice>, ignore: &[String]) -> Vec<Advice> {
    advice
        .into_iter()
        .filter(|a| !ignore.iter().any(|name| a.is_named_by(name)))
        .collect()
}

/// The findings at or above `severity` (what a `--fail-on-advice` gate would count).
pub fn at_least(advice: &[Advice], severity: Severity) -> usize {
    advice.iter().filter(|a| a.severity >= severity).count()
}

/// What the rules read, and the paths already claimed by an earlier rule.
struct Context<'a> {
    image: &'a Image,
    analysis: &'a Analysis,
    tree: &'a ImageTree,
    /// The top layer, `None` for an image without layers.
    top: Option<u32>,
    /// Per node, its entry in the waste report (dense: one slot per node, cheaper than a map on big trees).
    wasted: Vec<Option<&'a WastedFile>>,
    /// Per node, whether a rule already reported its bytes.
    claimed: Vec<bool>,
    /// Single wasted versions a rule already reported: (node, index in its [`WastedFile::versions`]).
    taken: HashSet<(NodeId, usize)>,
}

impl<'a> Context<'a> {
    fn new(image: &'a Image, analysis: &'a Analysis) -> Context<'a> {
        Context {
            image,
            analysis,
            tree: &analysis.tree,
            top: analysis.tree.layer_count().checked_sub(1).map(|t| t as u32),
            wasted: {
                let mut wasted = vec![None; analysis.tree.node_count()];
                for file in &analysis.waste.files {
                    if let Some(slot) = wasted.get_mut(file.node as usize) {
                        *slot = Some(file);
                    }
                }
                wasted
            },
            claimed: vec![false; analysis.tree.node_count()],
            taken: HashSet::new(),
        }
    }

    fn wasted(&self, node: NodeId) -> Option<&'a WastedFile> {
        self.wasted.get(node as usize).copied().flatten()
    }

    fn claim(&mut self, node: NodeId) {
        if let Some(slot) = self.claimed.get_mut(node as usize) {
            *slot = true;
        }
    }

    fn is_claimed(&self, node: NodeId) -> bool {
        self.claimed.get(node as usize).copied().unwrap_or(false)
    }

    fn is_taken(&self, node: NodeId, version: usize) -> bool {
        self.taken.contains(&(node, version))
    }

    fn is_base(&self, layer: u32) -> bool {
        (layer as usize) < self.analysis.base_layers
    }

    fn layers(&self, indices: &BTreeSet<u32>) -> Vec<AdviceLayer> {
        indices
            .iter()
            .map(|&index| AdviceLayer {
                index,
                instruction: self
                    .image
                    .layers
                    .get(index as usize)
                    .map(|l| l.history.instruction.clone())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// Where a finding's bytes are: a path of the tree (shown only if it makes the top list), or a text place such
/// as a config field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Place {
    Node(NodeId),
    Text(String),
}

/// Places with bytes, gathered for one finding (a place added twice adds up): its total, layers and top places.
#[derive(Default)]
struct PathTally {
    places: HashMap<Place, u64>,
    bytes: u64,
    layers: BTreeSet<u32>,
}

impl PathTally {
    fn add(&mut self, place: Place, bytes: u64) {
        // Sizes are what tar headers claim: sums saturate rather than wrap.
        self.bytes = self.bytes.saturating_add(bytes);
        let held = self.places.entry(place).or_default();
        *held = held.saturating_add(bytes);
    }

    /// Takes back bytes added for `place` (they turned out not to be reclaimable).
    fn take(&mut self, place: &Place, bytes: u64) {
        if let Some(held) = self.places.get_mut(place) {
            let taken = bytes.min(*held);
            *held -= taken;
            self.bytes -= taken;
        }
    }

    /// The top places (most bytes first, then by path) and how many there are. Only the candidates for the top
    /// list are turned into paths, so a finding over many files costs no string per file.
    fn top(&self, tree: &ImageTree) -> (Vec<AdvicePath>, usize) {
        let mut all: Vec<(&Place, u64)> = self.places.iter().map(|(p, b)| (p, *b)).collect();
        let count = all.len();
        if count > TOP_PATHS {
            all.select_nth_unstable_by(TOP_PATHS - 1, |a, b| b.1.cmp(&a.1));
            let cutoff = all[TOP_PATHS - 1].1;
            all.retain(|(_, bytes)| *bytes >= cutoff);
        }
        let mut paths: Vec<AdvicePath> = all
            .into_iter()
            .map(|(place, bytes)| AdvicePath {
                path: match place {
                    Place::Node(node) => tree.display_path(*node),
                    Place::Text(text) => text.clone(),
                },
                bytes,
                same_as: None,
            })
            .collect();
        paths.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        paths.truncate(TOP_PATHS);
        (paths, count)
    }
}

/// `1 file` / `3 files`.
fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Bytes as the reports show them (`3.15 MB`).
fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::DECIMAL)
}
