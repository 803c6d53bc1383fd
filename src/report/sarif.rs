//! SARIF 2.1.0 output of secret findings and advice, for code-scanning UIs. Paths are the files' paths in the
//! image; the layer, status and instruction travel in each result's properties. Advice results use the rule ids
//! `advice/<id>` (`advice/same-run-delete`), as warnings (high, medium) or notes (low, info). Strings from the
//! image are masked by the analysis's redactor (the findings already are).

use serde_json::{Value, json};

use crate::analysis::Analysis;
use crate::analysis::advice::{self, Advice};
use crate::image::Image;
use crate::secrets::{Location, Ruleset, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// The SARIF document for the analysis's secret findings and advice.
pub fn document(image: &Image, analysis: &Analysis, rules: &Ruleset) -> Value {
    let findings = &analysis.secrets;
    let mut rule_list: Vec<Value> = (0..rules.len() as u32)
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
    rule_list.extend(advice::Rule::ALL.iter().map(|r| advice_rule(*r)));
    let mut results: Vec<Value> = findings
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
    results.extend(analysis.advice.iter().map(|a| advice_result(a, &subject)));
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

fn advice_level(severity: advice::Severity) -> &'static str {
    match severity {
        advice::Severity::High | advice::Severity::Medium => "warning",
        advice::Severity::Low | advice::Severity::Info => "note",
    }
}

fn advice_rule(rule: advice::Rule) -> Value {
    json!({
        "id": format!("advice/{}", rule.id()),
        "name": rule.id(),
        "shortDescription": {"text": rule.description()},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"kind": "advice"},
    })
}

/// One advice result, located at its top path (the image config when it has none).
fn advice_result(a: &Advice, subject: &str) -> Value {
    let uri = a
        .paths
        .first()
        .map_or("image-config.json".to_string(), |p| {
            p.path.trim_start_matches('/').to_string()
        });
    let reclaim = match a.reclaimable_bytes {
        0 => String::new(),
        b => format!(" ({b} bytes reclaimable)"),
    };
    json!({
        "ruleId": format!("advice/{}", a.id.id()),
        "level": advice_level(a.severity),
        "message": {"text": format!("{}{reclaim}. Fix: {}", a.message, a.fix)},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": uri}},
            "logicalLocations": [{"name": subject, "kind": "container-image"}],
        }],
        "partialFingerprints": {"layerscopeAdvice/v1": a.key},
        "properties": {
            "key": a.key, "severity": a.severity, "reclaimable_bytes": a.reclaimable_bytes, "layers": a.layers,
            "paths": a.paths, "path_count": a.path_count, "fix": a.fix, "secrets": a.secrets,
        },
    })
}
