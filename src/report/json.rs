//! The JSON report, schema `layerscope.report/v1`. Field names are a contract: add fields, never rename.
//! Strings from the image go through the analysis's redactor (JSON's own encoding escapes them).

use serde::Serialize;

use crate::analysis::advice::Advice;
use crate::analysis::{Analysis, WasteReport};
use crate::ci::CiOutcome;
use crate::compression::Compression;
use crate::image::{Image, Verification};
use crate::secrets::Redactor;
use crate::tree::ListedEntry;

pub const SCHEMA: &str = "layerscope.report/v1";

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema: &'static str,
    pub image: ImageSection,
    pub layers: Vec<LayerSection>,
    pub waste: WasteReport,
    /// Secret findings (absent with --no-secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<&'a [crate::secrets::SecretFinding]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<&'a CiOutcome>,
    /// What to change in the Dockerfile (`analysis::advice`), most severe first.
    pub advice: Vec<Advice>,
    /// The integrity checks left out (`--no-verify`): `{"skipped": ["layer digests", ...]}`.
    pub verification: Verification,
}

#[derive(Debug, Serialize)]
pub struct ImageSection {
    pub source: String,
    pub format: &'static str,
    pub layout: &'static str,
    pub archive_compression: Option<Compression>,
    pub reference: Option<String>,
    pub platform: String,
    pub config_digest: String,
    pub manifest_digest: Option<String>,
    pub size_bytes: u64,
    pub layer_count: usize,
    pub file_count: usize,
}

#[derive(Debug, Serialize)]
pub struct LayerSection {
    pub index: usize,
    pub diff_id: String,
    pub blob_digest: String,
    pub blob_path: String,
    pub media_type: Option<String>,
    pub compression: Option<Compression>,
    pub blob_size: u64,
    pub size_bytes: u64,
    pub entry_count: usize,
    pub instruction: String,
    pub instructions: Vec<String>,
    pub created_by: String,
    pub created: Option<String>,
    pub added: u64,
    pub modified: u64,
    pub deleted: u64,
}

/// Assembles the report.
pub fn report<'a>(image: &Image, analysis: &'a Analysis, ci: Option<&'a CiOutcome>) -> Report<'a> {
    let meta = &image.meta;
    let r = &analysis.redactor;
    let top = image.layers.len().checked_sub(1).map(|l| l as u32);
    let mut waste = analysis.waste.clone();
    for f in &mut waste.files {
        f.path = r.apply(&f.path);
    }
    let file_count = top.map_or(0, |t| analysis.tree.present_count(t));
    Report {
        schema: SCHEMA,
        image: ImageSection {
            source: r.apply(&meta.source),
            format: meta.format.name(),
            layout: meta.layout,
            archive_compression: meta.archive_compression,
            reference: meta.reference.as_deref().map(|t| r.apply(t)),
            platform: meta.platform.to_string(),
            config_digest: meta.config_digest.clone(),
            manifest_digest: meta.manifest_digest.clone(),
            size_bytes: analysis.size_bytes,
            layer_count: image.layers.len(),
            file_count,
        },
        layers: image
            .layers
            .iter()
            .zip(&analysis.layers)
            .map(|(layer, stats)| LayerSection {
                index: layer.index,
                diff_id: layer.diff_id.clone(),
                blob_digest: layer.scan.blob_digest.clone(),
                blob_path: layer.blob_path.clone(),
                media_type: layer.media_type.clone(),
                compression: layer.scan.compression,
                blob_size: layer.scan.blob_size,
                size_bytes: stats.size_bytes,
                entry_count: layer.scan.entries.len(),
                instruction: r.apply(&layer.history.instruction),
                instructions: layer
                    .history
                    .instructions
                    .iter()
                    .map(|i| r.apply(i))
                    .collect(),
                created_by: r.apply(&layer.history.created_by),
                created: layer.history.created.clone(),
                added: stats.counts.added,
                modified: stats.counts.modified,
                deleted: stats.counts.deleted,
            })
            .collect(),
        waste,
        secrets: None,
        ci,
        advice: analysis.advice.clone(),
        verification: meta.verification.clone(),
    }
}

/// `ls --json`: the rows as a JSON array, paths and link targets masked by `redactor`.
pub fn listing(rows: &[ListedEntry], redactor: &Redactor) -> String {
    let rows: Vec<ListedEntry> = rows
        .iter()
        .map(|row| ListedEntry {
            path: redactor.apply(&row.path),
            link_target: row.link_target.as_deref().map(|t| redactor.apply(t)),
            ..row.clone()
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The report as pretty JSON.
pub fn to_string(report: &Report<'_>) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
