//! The user's secret settings: the `[secrets]` table of `.layerscope.toml` (extra rules, disabled rules,
//! allowlists by path glob, regex and fingerprint, bytes read per file, the CI policy) and baselines.

use std::collections::HashSet;
use std::path::Path;

use globset::GlobSet;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::rules::{ContentDef, FileDef, RuleDefs, Ruleset, globs};
use super::{SecretFinding, Status};
use crate::error::{Error, Result};

/// Default bytes read from the start of each file.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Which findings fail `--ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any high-confidence finding: a deleted secret still ships in its layer.
    Any,
    /// Only high-confidence findings still visible in the final image.
    Visible,
    None,
}

impl FailOn {
    pub fn parse(text: &str) -> std::result::Result<FailOn, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(FailOn::Any),
            "visible" => Ok(FailOn::Visible),
            "none" | "disabled" => Ok(FailOn::None),
            other => Err(format!("{other:?} is not one of any, visible, none")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FailOn::Any => "any",
            FailOn::Visible => "visible",
            FailOn::None => "none",
        }
    }

    /// Whether a finding counts against the policy.
    pub fn counts(self, f: &SecretFinding) -> bool {
        f.confidence == super::Confidence::High
            && match self {
                FailOn::Any => true,
                FailOn::Visible => f.status == Status::Visible,
                FailOn::None => false,
            }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Allowlist {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    fingerprints: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SecretsTable {
    #[serde(default)]
    max_file_bytes: Option<toml::Value>,
    #[serde(default)]
    disabled_rules: Vec<String>,
    #[serde(default)]
    rule: Vec<ContentDef>,
    #[serde(default)]
    file: Vec<FileDef>,
    #[serde(default)]
    allowlist: Allowlist,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    secrets: Option<SecretsTable>,
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
    /// Reads the `[secrets]` table of a `.layerscope.toml` (absent table: defaults).
    pub fn from_toml(path: &Path) -> Result<SecretSettings> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let parsed: ConfigFile =
            toml::from_str(&text).map_err(|e| config_error(path, e.message().to_string()))?;
        let Some(t) = parsed.secrets else {
            return Ok(SecretSettings::default());
        };
        let max_file_bytes = match t.max_file_bytes {
            None => DEFAULT_MAX_FILE_BYTES,
            Some(toml::Value::Integer(n)) if n > 0 => n as u64,
            Some(toml::Value::String(s)) => {
                crate::ci::parse_size(&s).map_err(|e| config_error(path, e))?
            }
            Some(other) => {
                return Err(config_error(
                    path,
                    format!("max-file-bytes: {other} is not a size"),
                ));
            }
        };
        let allow_paths = globs(&t.allowlist.paths).map_err(|e| config_error(path, e))?;
        let allow_regexes = t
            .allowlist
            .regexes
            .iter()
            .map(|r| {
                Regex::new(r).map_err(|e| config_error(path, format!("allowlist regex {r:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let settings = SecretSettings {
            max_file_bytes,
            disabled_rules: t.disabled_rules,
            extra_rules: RuleDefs {
                rule: t.rule,
                file: t.file,
            },
            allow_paths,
            allow_regexes,
            allow_fingerprints: t.allowlist.fingerprints.into_iter().collect(),
            baseline: HashSet::new(),
        };
        settings.ruleset().map_err(|e| config_error(path, e))?;
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
    fn secrets_table_is_read_with_rules_and_allowlists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".layerscope.toml");
        std::fs::write(
            &path,
            r#"
[ci]
min-efficiency = 0.5
[secrets]
max-file-bytes = "64KiB"
disabled-rules = ["jwt"]
[[secrets.rule]]
id = "acme-token"
description = "ACME internal token"
severity = "high"
keywords = ["acme_"]
regex = 'acme_[a-z0-9]{16}'
[secrets.allowlist]
paths = ["usr/share/doc/**"]
fingerprints = ["0123"]
"#,
        )
        .unwrap();
        let s = SecretSettings::from_toml(&path).unwrap();
        assert_eq!(s.max_file_bytes, 65536);
        let rules = s.ruleset().unwrap();
        assert!(rules.content.iter().any(|r| r.id == "acme-token"));
        assert!(rules.content.iter().all(|r| r.id != "jwt"));

        std::fs::write(&path, "[secrets]\n[[secrets.rule]]\nid='x'\ndescription='x'\nseverity='high'\nkeywords=['x']\nregex='('\n").unwrap();
        assert!(SecretSettings::from_toml(&path).is_err());
    }
}
