//! `layerscope diff A B`: what changed from image A to image B, as a pure function of the two loaded images and
//! their analyses. Layers are matched by diff_id (a layer both images hold is shared, whatever its position);
//! final trees are compared path by path, file contents by their BLAKE3 digests (never by size or mtime);
//! directory size deltas are summed like `du`; the runtime config is compared field by field; secret findings
//! by rule, place and fingerprint; advice by rule and a layer-independent key (`advice.rs`).
//!
//! Every image-derived string in an [`ImageDiff`] is already masked by both images' redactors (a secret known
//! in either image is masked wherever it appears); text renderings still escape it.

mod advice;
mod config;
mod files;

pub use advice::{AdviceChange, AdviceChanges};

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::file_digest::FileDigest;
use crate::image::Image;
use crate::layer::EntryKind;
use crate::secrets::{Redactor, SecretFinding};

/// The JSON schema name of a diff.
pub const SCHEMA: &str = "layerscope.diff/v1";

/// One loaded and analysed image, as the diff reads it.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub image: &'a Image,
    pub analysis: &'a Analysis,
}

/// What to compute.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// How many directories to list, largest size change first.
    pub top_directories: usize,
    /// Both images were scanned for secrets: compare the findings.
    pub secrets: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageDiff {
    pub schema: &'static str,
    pub a: ImageSummary,
    pub b: ImageSummary,
    pub size: SizeChange,
    pub layers: Vec<LayerChange>,
    pub directories: Vec<DirectoryChange>,
    pub files: FileChanges,
    pub config: Vec<ConfigChange>,
    /// `None` when the images were not scanned for secrets.
    pub secrets: Option<SecretChanges>,
    /// The advice delta (each side's `Analysis::advice`, as attached and filtered by the caller).
    pub advice: AdviceChanges,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageSummary {
    pub source: String,
    pub reference: Option<String>,
    pub config_digest: String,
    pub platform: String,
    pub size_bytes: u64,
    pub layer_count: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SizeChange {
    pub a_bytes: u64,
    pub b_bytes: u64,
    /// `b_bytes - a_bytes`.
    pub delta_bytes: i64,
    /// The delta over A's size (`None` when A is empty).
    pub delta_ratio: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerStatus {
    /// The same diff_id in both images.
    Shared,
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
}

impl LayerStatus {
    pub fn name(self) -> &'static str {
        match self {
            LayerStatus::Shared => "shared",
            LayerStatus::Added => "added",
            LayerStatus::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerChange {
    pub status: LayerStatus,
    pub diff_id: String,
    /// Its index in A, if A holds it.
    pub a_index: Option<usize>,
    /// Its index in B, if B holds it.
    pub b_index: Option<usize>,
    pub size_bytes: u64,
    /// What the image size gained from it: +size (added), -size (removed), 0 (shared).
    pub delta_bytes: i64,
    /// The instruction that made it (B's for a shared layer).
    pub instruction: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectoryChange {
    pub path: String,
    pub a_bytes: u64,
    pub b_bytes: u64,
    pub delta_bytes: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FileChanges {
    pub added: Vec<FileEntry>,
    pub removed: Vec<FileEntry>,
    /// Different bytes (by digest), or a different type.
    pub content_changed: Vec<ContentChange>,
    /// The same contents, other mode, owner or link target.
    pub metadata_changed: Vec<MetadataChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub path: String,
    /// The path as the tree holds it (relative, raw bytes, unmasked): to look it up, never to show.
    #[serde(skip)]
    pub raw_path: Vec<u8>,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<FileDigest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContentChange {
    pub path: String,
    /// The path as the tree holds it (relative, raw bytes, unmasked): to look it up, never to show.
    #[serde(skip)]
    pub raw_path: Vec<u8>,
    pub a_type: EntryKind,
    pub b_type: EntryKind,
    pub a_size: u64,
    pub b_size: u64,
    pub delta_bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a_digest: Option<FileDigest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_digest: Option<FileDigest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetadataChange {
    pub path: String,
    /// The path as the tree holds it (relative, raw bytes, unmasked): to look it up, never to show.
    #[serde(skip)]
    pub raw_path: Vec<u8>,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: u64,
    pub changes: Vec<FieldChange>,
}

/// One field that differs: `mode` (octal), `owner` (`uid:gid`) or `link_target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub a: String,
    pub b: String,
}

/// One runtime-config value that differs. `key` names the variable, label or port for `env`, `labels` and
/// `ports`; `a`/`b` are absent where that image has no such value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// env | entrypoint | cmd | user | workdir | ports | labels | platform
    pub field: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretChanges {
    /// In B, not in A.
    pub appeared: Vec<SecretFinding>,
    /// In A, not in B.
    pub resolved: Vec<SecretFinding>,
}

/// `--max-size-increase`: how much B may grow over A.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeLimit {
    Bytes(u64),
    /// A fraction of A's size (`0.1` for `10%`).
    Ratio(f64),
}

impl SizeLimit {
    /// `50MB`, `1.5GiB`, plain bytes, or a percentage of A's size (`10%`).
    pub fn parse(text: &str) -> Result<SizeLimit, String> {
        if text.trim_end().ends_with('%') {
            crate::units::parse_ratio(text).map(SizeLimit::Ratio)
        } else {
            crate::units::parse_size(text).map(SizeLimit::Bytes)
        }
    }

    /// Whether B grew by more than the limit.
    pub fn exceeded(&self, size: &SizeChange) -> bool {
        if size.delta_bytes <= 0 {
            return false;
        }
        let grown = size.delta_bytes as u64;
        match *self {
            SizeLimit::Bytes(limit) => grown > limit,
            SizeLimit::Ratio(ratio) => grown as f64 > ratio * size.a_bytes as f64,
        }
    }
}

/// `b - a` without overflow (sizes are what tar headers claim).
fn delta(a: u64, b: u64) -> i64 {
    (i128::from(b) - i128::from(a)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Masks with both images' redactors.
struct Masks<'a>(&'a Redactor, &'a Redactor);

impl Masks<'_> {
    fn apply(&self, text: &str) -> String {
        let once = self.0.mask(text);
        self.1.mask(&once).into_owned()
    }
}

/// Compares image A with image B.
pub fn diff(a: Side<'_>, b: Side<'_>, opts: &DiffOptions) -> ImageDiff {
    let masks = Masks(&a.analysis.redactor, &b.analysis.redactor);
    let size = SizeChange {
        a_bytes: a.analysis.size_bytes,
        b_bytes: b.analysis.size_bytes,
        delta_bytes: delta(a.analysis.size_bytes, b.analysis.size_bytes),
        delta_ratio: (a.analysis.size_bytes > 0).then(|| {
            delta(a.analysis.size_bytes, b.analysis.size_bytes) as f64
                / a.analysis.size_bytes as f64
        }),
    };
    let old = files::final_files(&a.analysis.tree);
    let new = files::final_files(&b.analysis.tree);
    ImageDiff {
        schema: SCHEMA,
        a: summary(a, &masks),
        b: summary(b, &masks),
        size,
        layers: layers(a, b, &masks),
        directories: files::directories(&old, &new, opts.top_directories, &masks),
        files: files::files(&old, &new, &masks),
        config: config::config(a.image, b.image, &masks),
        secrets: opts
            .secrets
            .then(|| secrets(&a.analysis.secrets, &b.analysis.secrets, &masks)),
        advice: advice::advice(&a.analysis.advice, &b.analysis.advice, &masks),
    }
}

fn summary(side: Side<'_>, masks: &Masks<'_>) -> ImageSummary {
    let meta = &side.image.meta;
    ImageSummary {
        source: masks.apply(&meta.source),
        reference: meta.reference.as_deref().map(|r| masks.apply(r)),
        config_digest: meta.config_digest.clone(),
        platform: masks.apply(&meta.platform.to_string()),
        size_bytes: side.analysis.size_bytes,
        layer_count: side.image.layers.len(),
    }
}

/// B's layers in order (shared or added), then A's layers that B lacks. Each diff_id pairs with one layer of the
/// other image at most, so an image holding the same layer twice matches it twice only if the other does too.
fn layers(a: Side<'_>, b: Side<'_>, masks: &Masks<'_>) -> Vec<LayerChange> {
    let mut unmatched: HashMap<&str, Vec<usize>> = HashMap::new();
    for layer in a.image.layers.iter().rev() {
        unmatched
            .entry(&layer.diff_id)
            .or_default()
            .push(layer.index);
    }
    let size_of =
        |side: Side<'_>, i: usize| side.analysis.layers.get(i).map_or(0, |l| l.size_bytes);
    let mut out = Vec::new();
    for layer in &b.image.layers {
        let a_index = unmatched.get_mut(layer.diff_id.as_str()).and_then(Vec::pop);
        let size_bytes = size_of(b, layer.index);
        let status = if a_index.is_some() {
            LayerStatus::Shared
        } else {
            LayerStatus::Added
        };
        out.push(LayerChange {
            status,
            diff_id: layer.diff_id.clone(),
            a_index,
            b_index: Some(layer.index),
            size_bytes,
            delta_bytes: match status {
                LayerStatus::Shared => 0,
                _ => delta(0, size_bytes),
            },
            instruction: masks.apply(&layer.history.instruction),
        });
    }
    let mut removed: Vec<usize> = unmatched.into_values().flatten().collect();
    removed.sort_unstable();
    for i in removed {
        let layer = &a.image.layers[i];
        let size_bytes = size_of(a, i);
        out.push(LayerChange {
            status: LayerStatus::Removed,
            diff_id: layer.diff_id.clone(),
            a_index: Some(i),
            b_index: None,
            size_bytes,
            delta_bytes: delta(size_bytes, 0),
            instruction: masks.apply(&layer.history.instruction),
        });
    }
    out
}

/// Findings match when rule, place and secret (its fingerprint) are the same.
fn secrets(a: &[SecretFinding], b: &[SecretFinding], masks: &Masks<'_>) -> SecretChanges {
    let key = |f: &SecretFinding| {
        (
            f.rule.clone(),
            f.location.name(),
            f.path.clone(),
            f.fingerprint.clone(),
        )
    };
    let in_a: BTreeSet<_> = a.iter().map(key).collect();
    let in_b: BTreeSet<_> = b.iter().map(key).collect();
    let masked = |f: &SecretFinding| SecretFinding {
        path: f.path.as_deref().map(|p| masks.apply(p)),
        instruction: f.instruction.as_deref().map(|i| masks.apply(i)),
        ..f.clone()
    };
    SecretChanges {
        appeared: b
            .iter()
            .filter(|f| !in_a.contains(&key(f)))
            .map(masked)
            .collect(),
        resolved: a
            .iter()
            .filter(|f| !in_b.contains(&key(f)))
            .map(masked)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limits_parse_bytes_and_percentages() {
        let grown = |a, b| SizeChange {
            a_bytes: a,
            b_bytes: b,
            delta_bytes: delta(a, b),
            delta_ratio: None,
        };
        let limit = SizeLimit::parse("10%").unwrap();
        assert_eq!(limit, SizeLimit::Ratio(0.1));
        assert!(!limit.exceeded(&grown(1000, 1100)));
        assert!(limit.exceeded(&grown(1000, 1101)));
        let limit = SizeLimit::parse("1kB").unwrap();
        assert_eq!(limit, SizeLimit::Bytes(1000));
        assert!(!limit.exceeded(&grown(5, 1005)));
        assert!(limit.exceeded(&grown(5, 1006)));
        assert!(!limit.exceeded(&grown(5000, 0)));
        assert!(SizeLimit::parse("lots").is_err());
        assert!(SizeLimit::parse("-5%").is_err());
    }

    #[test]
    fn deltas_do_not_overflow() {
        assert_eq!(delta(0, u64::MAX), i64::MAX);
        assert_eq!(delta(u64::MAX, 0), i64::MIN);
        assert_eq!(delta(10, 4), -6);
    }
}
