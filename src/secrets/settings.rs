//! The user's secret settings, typed: extra rules, disabled rules, allowlists by path glob, regex and
//! fingerprint, bytes read per file (`config` reads them from `[secrets]` of `.layerscope.toml`), and baselines.

use std::collections::HashSet;
use std::path::Path;

use globset::GlobSet;
use regex::Regex;

use super::SecretFinding;
use super::rules::{RuleDefs, Ruleset, globs};
use crate::error::{Error, Result};

/// Default bytes read from the start of each file.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Findings the user allows, as written in the `[secrets.allowlist]` table.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    /// Globs on the path in the image (no leading `/`).
    pub paths: Vec<String>,
    /// Regexes on the secret itself.
    pub regexes: Vec<String>,
    pub fingerprints: Vec<String>,
}

/// Everything that shapes a secret scan besides the image.
pub struct SecretSettings {
    pub max_file_bytes: u64,
    pub disabled_rules: Vec<String>,
    pub extra_rules: RuleDefs,
    allow_paths: GlobSet,
    allow_regexes: Vec<Regex>,
    allow_fingerprints: HashSet<String>,
    baseline: HashSet<String>,
}

impl Default for SecretSettings {
    fn default() -> Self {
        SecretSettings {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            disabled_rules: Vec::new(),
            extra_rules: RuleDefs::default(),
            allow_paths: GlobSet::empty(),
            allow_regexes: Vec::new(),
            allow_fingerprints: HashSet::new(),
            baseline: HashSet::new(),
        }
    }
}

fn config_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Config {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

impl SecretSettings {
    /// Settings from what the user wrote (see `config`, which reads `.layerscope.toml`): compiles the allowlist
    /// and checks that the rules compile. The error says which pattern is wrong.
    pub fn new(
        max_file_bytes: u64,
        disabled_rules: Vec<String>,
        extra_rules: RuleDefs,
        allowlist: Allowlist,
    ) -> std::result::Result<SecretSettings, String> {
        let allow_paths = globs(&allowlist.paths)?;
        let allow_regexes = allowlist
            .regexes
            .iter()
            .map(|r| Regex::new(r).map_err(|e| format!("allowlist regex {r:?}: {e}")))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let settings = SecretSettings {
            max_file_bytes,
            disabled_rules,
            extra_rules,
            allow_paths,
            allow_regexes,
            allow_fingerprints: allowlist.fingerprints.into_iter().collect(),
            baseline: HashSet::new(),
        };
        settings.ruleset()?;
        Ok(settings)
    }

    /// The built-in rules plus the user's, less the disabled ones.
    pub fn ruleset(&self) -> std::result::Result<Ruleset, String> {
        let mut defs = RuleDefs::builtin();
        // User rules go first: a user's specific rule wins over the generic built-in one.
        let mut rule = self.extra_rules.rule.clone();
        rule.append(&mut defs.rule);
        let mut file = self.extra_rules.file.clone();
        file.append(&mut defs.file);
        Ruleset::compile(&RuleDefs { rule, file }, &self.disabled_rules)
    }

    /// Reads a baseline (written by `--write-baseline`, or any JSON report with a `secrets` list).
    pub fn load_baseline(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::json(path.display().to_string(), &e))?;
        let list = value
            .get("fingerprints")
            .or_else(|| value.get("secrets"))
            .and_then(|v| v.as_array())
            .ok_or_else(|| {
                config_error(
                    path,
                    "not a baseline: no \"fingerprints\" or \"secrets\" list",
                )
            })?;
        for item in list {
            let fp = item
                .as_str()
                .or_else(|| item.get("fingerprint").and_then(|f| f.as_str()));
            if let Some(fp) = fp {
                self.baseline.insert(fp.to_string());
            }
        }
        Ok(())
    }

    /// Whether the user allowed (or recorded in the baseline) this finding.
    pub fn suppresses(&self, f: &SecretFinding, secret: &str) -> bool {
        self.baseline.contains(&f.fingerprint)
            || self.allow_fingerprints.contains(&f.fingerprint)
            || self.allow_regexes.iter().any(|r| r.is_match(secret))
            || (f.location == super::Location::File
                && f.path
                    .as_deref()
                    .is_some_and(|p| self.allow_paths.is_match(p.trim_start_matches('/'))))
    }
}

/// The baseline file for a set of findings: their fingerprints, with redacted context for reviewers.
pub fn baseline_json(findings: &[SecretFinding]) -> String {
    let entries: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({"fingerprint": f.fingerprint, "rule": f.rule, "location": f.location,
                               "layer": f.layer, "path": f.path, "match": f.redacted})
        })
        .collect();
    let doc = serde_json::json!({"schema": "layerscope.baseline/v1", "fingerprints": entries});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_patterns_and_rules_are_checked_when_built() {
        let list = |regexes: &[&str]| Allowlist {
            regexes: regexes.iter().map(|r| r.to_string()).collect(),
            ..Allowlist::default()
        };
        let ok = SecretSettings::new(1, vec!["jwt".into()], RuleDefs::default(), list(&["EX"]));
        let rules = ok.unwrap().ruleset().unwrap();
        assert!(rules.content.iter().all(|r| r.id != "jwt"));
        let bad = SecretSettings::new(1, Vec::new(), RuleDefs::default(), list(&["("]));
        assert!(bad.err().unwrap().contains("allowlist regex"));
    }
}
