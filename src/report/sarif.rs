//! SARIF 2.1.0 output of secret findings, for code-scanning UIs. Paths are the files' paths in the image;
//! the layer, status and instruction travel in each result's properties. Strings from the image are masked by
//! the analysis's redactor (the findings already are).

use serde_json::{Value, json};

use crate::analysis::Analysis;
use crate::image::Image;
use crate::secrets::{Location, Ruleset, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The SARIF document for the analysis's secret findings.
pub fn document(image: &Image, analysis: &Analysis, rules: &Ruleset) -> Value {
    let findings = &analysis.secrets;
    let rule_list: Vec<Value> = (0..rules.len() as u32)
        .filter_map(|i| rules.info(i))
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": {"text": r.description},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {"severity": r.severity, "kind": if r.is_file_rule { "file" } else { "content" }},
            })
        })
        .collect();
    let subject = analysis.redactor.apply(
        image
            .meta
            .reference
            .as_deref()
            .unwrap_or(&image.meta.source),
    );
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let uri = match f.location {
                Location::File => f.path.clone().unwrap_or_default().trim_start_matches('/').to_string(),
                Location::Config => "image-config.json".to_string(),
                Location::History => "image-history".to_string(),
            };
            let mut physical = json!({"artifactLocation": {"uri": uri}});
            if let Some(line) = f.line {
                physical["region"] = json!({"startLine": line});
            }
            let whereabouts = match (f.layer, f.removed_in) {
                (Some(l), Some(r)) => format!(" (added in layer {l}, {} in layer {r}, still in the image)", f.status.name()),
                (Some(l), None) => format!(" (layer {l})"),
                _ => String::new(),
            };
            json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": format!("{}: {}{whereabouts}", f.description, f.redacted)},
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{"name": subject, "kind": "container-image"}],
                }],
                "partialFingerprints": {"layerscopeFingerprint/v1": f.fingerprint},
                "properties": {
                    "location": f.location, "layer": f.layer, "status": f.status, "removed_in": f.removed_in,
                    "instruction": f.instruction, "confidence": f.confidence, "field": if f.location == Location::Config { f.path.clone() } else { None },
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "layerscope",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_list,
            }},
            "results": results,
            "properties": {"image": subject, "config_digest": image.meta.config_digest},
        }],
    })
}

pub fn to_string(image: &Image, analysis: &Analysis, rules: &Ruleset) -> String {
    serde_json::to_string_pretty(&document(image, analysis, rules)).unwrap_or_default()
}
