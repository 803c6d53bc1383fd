//! From raw hits to findings: which layer added each secret, whether it is still visible, removed or
//! overwritten (from the image tree's per-path histories), by which layer, and the instruction that added it.
//! Also scans the image's metadata: the config's text fields and their names (label keys), every history
//! `created_by`, the tag, and every file name and link target. The metadata is small, so it is scanned for
//! every analysis (with the built-in rules, [`metadata_redactor`]): names and history are masked even when the
//! content scan is off.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::redact::{Redactor, redact};
use super::rules::{RuleInfo, Ruleset};
use super::scanner::SecretScanner;
use super::settings::SecretSettings;
use super::{Confidence, Location, SecretFinding, Status};
use crate::image::{Image, clean_instruction};
use crate::layer::ContentHit;
use crate::tree::{Fate, GoneReason, ImageTree, ROOT, State};

/// Stable hash of a rule and a secret: the same secret found again (another build, another layer) keeps it.
pub fn fingerprint(rule: &str, secret: &str) -> String {
    let digest = Sha256::digest(format!("{rule}:{secret}").as_bytes());
    hex::encode(&digest[..16])
}

/// Paths where keys are usually test fixtures or documentation, reported with low confidence.
const LOW_CONFIDENCE_DIRS: [&str; 12] = [
    "/node_modules/",
    "/site-packages/",
    "/dist-packages/",
    "/vendor/",
    "/test/",
    "/tests/",
    "/testdata/",
    "/fixtures/",
    "/examples/",
    "/usr/share/doc/",
    "/spec/",
    "/__tests__/",
];

/// Low for a file matched by its name alone (its bytes show no credential), a test or vendored tree, or a
/// weak generic match; high otherwise.
fn confidence(rule: &RuleInfo<'_>, path: Option<&str>, secret: &str) -> Confidence {
    let low_path = path.is_some_and(|p| LOW_CONFIDENCE_DIRS.iter().any(|d| p.contains(d)));
    let weak_generic = rule.id == "generic-secret" && super::scanner::entropy(secret) < 3.8;
    if rule.name_only || low_path || weak_generic {
        Confidence::Low
    } else {
        Confidence::High
    }
}

/// What a secret scan produced: the findings (allowlisted and baselined ones left out; their paths,
/// instructions and matches masked unless shown), and a redactor that masks every secret found in any text we
/// print (one that masks nothing when secrets are shown).
pub struct SecretReport {
    pub findings: Vec<SecretFinding>,
    pub redactor: Redactor,
}

struct Raw {
    rule: u32,
    location: Location,
    layer: Option<u32>,
    path: Option<String>,
    line: Option<u32>,
    status: Status,
    removed_in: Option<u32>,
    instruction: Option<String>,
    secret: String,
}

/// Collects the findings of an image whose layers were scanned with `scanner`; `show` leaves them in clear.
pub fn collect(
    image: &Image,
    tree: &ImageTree,
    scanner: &SecretScanner,
    settings: &SecretSettings,
    show: bool,
) -> SecretReport {
    let rules = scanner.rules();
    let mut raw = file_findings(image, tree);
    raw.extend(metadata_findings(image, tree, scanner));
    // A file rule's "secret" is the file's path: the path is shown as written, only secrets in it are masked.
    let redactor = if show {
        Redactor::reveal()
    } else {
        Redactor::new(
            raw.iter()
                .filter(|r| rules.info(r.rule).is_some_and(|i| !i.is_file_rule))
                .map(|r| r.secret.clone()),
        )
    };
    let mut findings: Vec<SecretFinding> = raw
        .into_iter()
        .filter_map(|r| {
            let info = rules.info(r.rule)?;
            let finding = SecretFinding {
                rule: info.id.to_string(),
                description: info.description.to_string(),
                severity: info.severity,
                confidence: confidence(&info, r.path.as_deref(), &r.secret),
                location: r.location,
                layer: r.layer,
                path: r.path,
                line: r.line,
                status: r.status,
                removed_in: r.removed_in,
                instruction: r.instruction.map(|i| redactor.apply(&i)),
                redacted: if show || info.is_file_rule {
                    redactor.apply(&r.secret)
                } else {
                    redact(&r.secret)
                },
                fingerprint: fingerprint(info.id, &r.secret),
            };
            if settings.suppresses(&finding, &r.secret) {
                return None;
            }
            let path = finding.path.as_deref().map(|p| redactor.apply(p));
            Some(SecretFinding { path, ..finding })
        })
        .collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.confidence.cmp(&b.confidence))
            .then(a.layer.cmp(&b.layer))
            .then(a.path.cmp(&b.path))
            .then(a.line.cmp(&b.line))
    });
    SecretReport { findings, redactor }
}

/// The built-in rules, compiled once per process, for the metadata scan of every analysis.
fn builtin_scanner() -> Option<&'static SecretScanner> {
    static SCANNER: OnceLock<Option<SecretScanner>> = OnceLock::new();
    SCANNER
        .get_or_init(|| Ruleset::builtin().ok().map(|r| SecretScanner::new(r, 0)))
        .as_ref()
}

/// The redactor every analysis starts with: the secrets the built-in rules find in the image's metadata (file
/// names, link targets, tag, config fields and names, history) and secret build-argument values. A secret scan
/// replaces it with one that also knows the secrets found in file contents.
pub fn metadata_redactor(image: &Image, tree: &ImageTree) -> Redactor {
    match builtin_scanner() {
        Some(scanner) => Redactor::new(
            metadata_findings(image, tree, scanner)
                .into_iter()
                .map(|r| r.secret),
        ),
        None => Redactor::default(),
    }
}

/// Every finding outside file contents: config, history, tag, file names and link targets.
fn metadata_findings(image: &Image, tree: &ImageTree, scanner: &SecretScanner) -> Vec<Raw> {
    let mut raw = config_findings(image, scanner);
    raw.extend(history_findings(image, scanner));
    raw.extend(tag_findings(image, scanner));
    raw.extend(name_findings(image, tree, scanner));
    raw
}

fn instruction_of(image: &Image, layer: u32) -> Option<String> {
    image
        .layers
        .get(layer as usize)
        .map(|l| l.history.instruction.clone())
        .filter(|i| !i.is_empty())
}

/// (node, rule, secret): one secret at one path.
type SecretAtPath = (u32, u32, String);
/// A version holding the secret: (layer, line, fate).
type Holder = (u32, u32, Fate);

/// File findings grouped per path and secret: first layer that added it, status from the last version that
/// still held it.
fn file_findings(image: &Image, tree: &ImageTree) -> Vec<Raw> {
    let visible = tree.visible_versions();
    let mut groups: BTreeMap<SecretAtPath, Vec<Holder>> = BTreeMap::new();
    for layer in &image.layers {
        let l = layer.index as u32;
        for (entry, hit) in &layer.scan.hits {
            let path = &layer.scan.entries[*entry as usize].path;
            let Some(node) = tree.lookup(path) else {
                continue;
            };
            let Some(position) = tree.history(node).iter().position(|e| {
                e.layer == l
                    && e.state
                        == State::Present {
                            entry: Some(*entry),
                        }
            }) else {
                continue;
            };
            let fate = tree.fate(node, position, &visible);
            let ContentHit { rule, line, text } = hit;
            groups
                .entry((node, *rule, text.clone()))
                .or_default()
                .push((l, *line, fate));
        }
    }
    groups
        .into_iter()
        .map(|((node, rule, secret), versions)| {
            let (first_layer, line, _) = versions[0];
            let (status, removed_in) = match versions[versions.len() - 1].2 {
                Fate::Visible => (Status::Visible, None),
                Fate::Gone {
                    reason: GoneReason::Overwritten,
                    removed_in,
                } => (Status::Overwritten, Some(removed_in)),
                Fate::Gone { removed_in, .. } => (Status::Removed, Some(removed_in)),
            };
            Raw {
                rule,
                location: Location::File,
                layer: Some(first_layer),
                path: Some(tree.display_path(node)),
                line: (line > 0).then_some(line),
                status,
                removed_in,
                instruction: instruction_of(image, first_layer),
                secret,
            }
        })
        .collect()
}

/// Every string in the config's `config` object and top-level text fields, and every name in its objects
/// (label keys), with a readable location.
fn config_strings(value: &serde_json::Value, at: String, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) => out.push((at, s.clone())),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                config_strings(v, format!("{at}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                out.push((key.clone(), k.clone()));
                config_strings(v, key, out);
            }
        }
        _ => {}
    }
}

fn config_findings(image: &Image, scanner: &SecretScanner) -> Vec<Raw> {
    let raw = &image.meta.config.raw;
    let mut strings = Vec::new();
    for key in ["config", "container_config", "author", "comment"] {
        if let Some(v) = raw.get(key) {
            config_strings(v, key.to_string(), &mut strings);
        }
    }
    let mut out: Vec<Raw> = Vec::new();
    let mut seen: HashSet<(u32, String)> = HashSet::new();
    for (field, text) in strings {
        if field.starts_with("container_config.Cmd") {
            continue; // the builder's copy of created_by: reported from the history
        }
        for hit in scanner.scan_text(text.as_bytes()) {
            if !seen.insert((hit.rule, hit.text.clone())) {
                continue;
            }
            let instruction = image
                .meta
                .config
                .history
                .iter()
                .filter_map(|h| h.created_by.as_deref())
                .find(|by| by.contains(&hit.text))
                .map(clean_instruction);
            out.push(Raw {
                rule: hit.rule,
                location: Location::Config,
                layer: None,
                path: Some(field.strip_prefix("config.").unwrap_or(&field).to_string()),
                line: None,
                status: Status::Visible,
                removed_in: None,
                instruction,
                secret: hit.text,
            });
        }
    }
    out
}

/// History lines ship with the image: every secret there is visible, attributed to the layer it belongs to.
fn history_findings(image: &Image, scanner: &SecretScanner) -> Vec<Raw> {
    let mut out: Vec<Raw> = Vec::new();
    let mut seen: HashSet<(u32, String)> = HashSet::new();
    let mut next_layer = 0u32;
    for item in &image.meta.config.history {
        let layer = if item.empty_layer {
            next_layer.saturating_sub(1)
        } else {
            next_layer
        };
        if !item.empty_layer {
            next_layer += 1;
        }
        let Some(by) = item.created_by.as_deref() else {
            continue;
        };
        for hit in scanner.scan_text(by.as_bytes()) {
            // The same build arg repeats in every RUN after it: report where it first appears.
            if !seen.insert((hit.rule, hit.text.clone())) {
                continue;
            }
            out.push(Raw {
                rule: hit.rule,
                location: Location::History,
                layer: Some(layer.min(image.layers.len().saturating_sub(1) as u32)),
                path: None,
                line: None,
                status: Status::Visible,
                removed_in: None,
                instruction: Some(clean_instruction(by)),
                secret: hit.text,
            });
        }
    }
    out
}

/// The image's tag (`reference`), which every output names.
fn tag_findings(image: &Image, scanner: &SecretScanner) -> Vec<Raw> {
    let Some(tag) = image.meta.reference.as_deref() else {
        return Vec::new();
    };
    scanner
        .scan_text(tag.as_bytes())
        .into_iter()
        .map(|hit| Raw {
            rule: hit.rule,
            location: Location::Config,
            layer: None,
            path: Some("tag".to_string()),
            line: None,
            status: Status::Visible,
            removed_in: None,
            instruction: None,
            secret: hit.text,
        })
        .collect()
}

/// Secrets in file names (each node's own name, so a secret in a directory's name is reported once) and in
/// link targets. All the names go through the scanner as one text, one name a line.
/// Every name of a node that was ever present and every link target it held: (bytes, node, layer that wrote it).
fn each_name(tree: &ImageTree, mut f: impl FnMut(&[u8], u32, u32)) {
    for node in (ROOT + 1)..tree.node_count() as u32 {
        let history = tree.history(node);
        let Some(first) = history
            .iter()
            .find(|e| matches!(e.state, State::Present { .. }))
        else {
            continue;
        };
        f(tree.name(node), node, first.layer);
        for event in history {
            if let Some(target) = tree
                .event_entry(event)
                .and_then(|e| e.link_target.as_deref())
            {
                f(target, node, event.layer);
            }
        }
    }
}

fn name_findings(image: &Image, tree: &ImageTree, scanner: &SecretScanner) -> Vec<Raw> {
    // Room for every line at once: grown by doubling, a million names' text and owners would be held twice at the
    // run's peak of memory.
    let (mut lines, mut bytes) = (0, 0);
    each_name(tree, |name, _, _| {
        lines += 1;
        bytes += name.len() + 1;
    });
    let mut text: Vec<u8> = Vec::with_capacity(bytes);
    let mut owners: Vec<(u32, u32)> = Vec::with_capacity(lines); // line -> (node, layer that wrote the name or target)
    each_name(tree, |bytes, node, layer| {
        // A name may hold a newline: keep one name a line.
        text.extend(bytes.iter().map(|&b| if b == b'\n' { 0 } else { b }));
        text.push(b'\n');
        owners.push((node, layer));
    });
    let top = tree.layer_count().checked_sub(1).map(|t| t as u32);
    let mut seen: HashSet<(u32, u32, String)> = HashSet::new();
    let mut out = Vec::new();
    for hit in scanner.scan_text(&text) {
        let Some(&(node, layer)) = owners.get(hit.line.saturating_sub(1) as usize) else {
            continue;
        };
        if !seen.insert((node, hit.rule, hit.text.clone())) {
            continue;
        }
        let (status, removed_in) = if tree.present_at(node, top) {
            (Status::Visible, None)
        } else {
            let gone = tree.history(node).last().map(|e| e.layer);
            (Status::Removed, gone)
        };
        out.push(Raw {
            rule: hit.rule,
            location: Location::File,
            layer: Some(layer),
            path: Some(tree.display_path(node)),
            line: None,
            status,
            removed_in,
            instruction: instruction_of(image, layer),
            secret: hit.text,
        });
    }
    out
}

/// Masks secrets and build arguments in the layers' history text, which every output shows.
pub fn redact_history(image: &mut Image, redactor: &Redactor) {
    for layer in &mut image.layers {
        let h = &mut layer.history;
        h.created_by = redactor.apply(&h.created_by);
        h.instruction = redactor.apply(&h.instruction);
        for i in &mut h.instructions {
            *i = redactor.apply(i);
        }
    }
}
