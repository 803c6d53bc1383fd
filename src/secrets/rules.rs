//! Secret rules as data: the built-in set (`assets/secrets/rules.toml`) plus the user's, compiled once into a
//! keyword prefilter (case-insensitive, see [`super::prefilter`]) and per-rule regexes.

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;
use serde::Deserialize;

use super::Severity;
use super::prefilter::Prefilter;

const BUILTIN: &str = include_str!("../../assets/secrets/rules.toml");

/// A content rule as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDef {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub keywords: Vec<String>,
    pub regex: String,
    #[serde(default)]
    pub entropy: Option<f64>,
    /// The secret must mix letters and digits (keeps identifiers out of generic rules).
    #[serde(default)]
    pub mixed: bool,
    /// Where the regex runs around a keyword hit.
    #[serde(default)]
    pub window: Window,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub counter_examples: Vec<String>,
}

/// Where a content rule's regex runs around a keyword hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// The keyword's whole line (and the next one, for regexes that span two lines).
    #[default]
    Line,
    /// From the start of the word holding the keyword (letters, digits and `_ . + -`) to the end of its line:
    /// for regexes whose match starts in that word, most keyword lines then cost a few bytes of regex.
    Word,
}

/// A risky-file rule as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDef {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub paths: Vec<String>,
    #[serde(default)]
    pub content: Option<String>,
    /// A regex on the file's bytes (binary ones too: only their first 8 KiB are read) that says the file is a
    /// credential by its format (a keystore's magic bytes, a password file's lines). Without a match, or
    /// without `format`, a file matched by its name alone is a low-confidence finding.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub counter_examples: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDefs {
    #[serde(default)]
    pub rule: Vec<ContentDef>,
    #[serde(default)]
    pub file: Vec<FileDef>,
}

impl RuleDefs {
    pub fn builtin() -> RuleDefs {
        // The built-in file is checked by the unit tests; an empty set is the only fallback.
        toml::from_str(BUILTIN).unwrap_or_default()
    }
}

pub struct ContentRule {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub regex: Regex,
    pub entropy: Option<f64>,
    pub mixed: bool,
    pub window: Window,
    /// Also search the line after a keyword's line (a PEM header's key material is there).
    pub next_line: bool,
}

pub struct FileRule {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub content: Option<Vec<u8>>,
    pub format: Option<Regex>,
}

/// Rule metadata common to both kinds, by rule number.
pub struct RuleInfo<'a> {
    pub id: &'a str,
    pub description: &'a str,
    pub severity: Severity,
    pub is_file_rule: bool,
    /// A file rule's hit on a file whose bytes do not show a credential: its name alone matched.
    pub name_only: bool,
}

/// Compiled rules. Content rules are numbered first, then file rules on files whose bytes show a credential,
/// then the same file rules again for files matched by their name alone (see [`Ruleset::file_rule_number`]).
pub struct Ruleset {
    pub content: Vec<ContentRule>,
    pub files: Vec<FileRule>,
    /// Every file rule's globs in one set (one match per path, not one per rule), and glob -> file rule.
    pub(crate) file_globs: GlobSet,
    pub(crate) file_glob_rules: Vec<usize>,
    pub(crate) prefilter: Prefilter,
    /// Keyword pattern number -> content rules using it.
    pub(crate) keyword_rules: Vec<Vec<usize>>,
}

impl Ruleset {
    /// Compiles rule definitions, leaving out the `disabled` rule ids.
    pub fn compile(defs: &RuleDefs, disabled: &[String]) -> Result<Ruleset, String> {
        let mut content = Vec::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for def in defs.rule.iter().filter(|d| !disabled.contains(&d.id)) {
            let regex =
                Regex::new(&def.regex).map_err(|e| format!("rule {}: bad regex: {e}", def.id))?;
            if def.keywords.is_empty() {
                return Err(format!("rule {}: needs at least one keyword", def.id));
            }
            if def.keywords.iter().any(|k| k.is_empty()) {
                return Err(format!("rule {}: a keyword is empty", def.id));
            }
            let index = content.len();
            for k in &def.keywords {
                let k = k.to_ascii_lowercase();
                match keywords.iter().position(|x| *x == k) {
                    Some(p) => keyword_rules[p].push(index),
                    None => {
                        keywords.push(k);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
            content.push(ContentRule {
                id: def.id.clone(),
                description: def.description.clone(),
                severity: def.severity,
                next_line: def.regex.contains("\\n"),
                regex,
                entropy: def.entropy,
                mixed: def.mixed,
                window: def.window,
            });
        }
        let mut files = Vec::new();
        let mut builder = GlobSetBuilder::new();
        let mut file_glob_rules = Vec::new();
        for def in defs.file.iter().filter(|d| !disabled.contains(&d.id)) {
            for p in &def.paths {
                let glob = globset::GlobBuilder::new(p.trim_start_matches('/'))
                    .literal_separator(true)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("file rule {}: bad glob {p:?}: {e}", def.id))?;
                builder.add(glob);
                file_glob_rules.push(files.len());
            }
            let format = match &def.format {
                Some(f) => Some(
                    Regex::new(f)
                        .map_err(|e| format!("file rule {}: bad format regex: {e}", def.id))?,
                ),
                None => None,
            };
            files.push(FileRule {
                id: def.id.clone(),
                description: def.description.clone(),
                severity: def.severity,
                content: def.content.as_ref().map(|c| c.as_bytes().to_vec()),
                format,
            });
        }
        let file_globs = builder.build().map_err(|e| format!("file rules: {e}"))?;
        // A hit of `client_secret` must also wake the rules keyed on `secret`: the prefilter may report only
        // the longer keyword.
        let merged: Vec<Vec<usize>> = keywords
            .iter()
            .map(|k| {
                let mut rules: Vec<usize> = keywords
                    .iter()
                    .zip(&keyword_rules)
                    .filter(|(other, _)| k.contains(other.as_str()))
                    .flat_map(|(_, r)| r.iter().copied())
                    .collect();
                rules.sort_unstable();
                rules.dedup();
                rules
            })
            .collect();
        let keyword_rules = merged;
        let prefilter = Prefilter::new(&keywords)?;
        Ok(Ruleset {
            content,
            files,
            file_globs,
            file_glob_rules,
            prefilter,
            keyword_rules,
        })
    }

    /// The built-in rules.
    pub fn builtin() -> Result<Ruleset, String> {
        Ruleset::compile(&RuleDefs::builtin(), &[])
    }

    /// How many rules (each file rule counted once).
    pub fn len(&self) -> usize {
        self.content.len() + self.files.len()
    }

    /// The number a hit of file rule `index` carries: whether the file's bytes show a credential
    /// (`FileRule::format` matched) or its name alone matched.
    pub fn file_rule_number(&self, index: usize, name_only: bool) -> u32 {
        let base = self.content.len() + index;
        (if name_only {
            base + self.files.len()
        } else {
            base
        }) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn info(&self, rule: u32) -> Option<RuleInfo<'_>> {
        let rule = rule as usize;
        if let Some(r) = self.content.get(rule) {
            return Some(RuleInfo {
                id: &r.id,
                description: &r.description,
                severity: r.severity,
                is_file_rule: false,
                name_only: false,
            });
        }
        let file = rule - self.content.len();
        let name_only = file >= self.files.len();
        self.files
            .get(file % self.files.len().max(1))
            .filter(|_| file < 2 * self.files.len())
            .map(|r| RuleInfo {
                id: &r.id,
                description: &r.description,
                severity: r.severity,
                is_file_rule: true,
                name_only,
            })
    }
}

/// Compiles a list of user globs (allowlists).
pub fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        builder
            .add(Glob::new(p.trim_start_matches('/')).map_err(|e| format!("bad glob {p:?}: {e}"))?);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::ContentInspector;
    use crate::secrets::scanner::SecretScanner;

    #[test]
    fn builtin_rules_parse_and_are_many() {
        let defs: RuleDefs = toml::from_str(BUILTIN).expect("assets/secrets/rules.toml parses");
        assert!(defs.rule.len() >= 40, "{} content rules", defs.rule.len());
        assert!(defs.file.len() >= 14);
        let set = Ruleset::compile(&defs, &[]).expect("rules compile");
        assert_eq!(set.len(), defs.rule.len() + defs.file.len());
        let mut ids: Vec<&str> = defs
            .rule
            .iter()
            .map(|r| r.id.as_str())
            .chain(defs.file.iter().map(|f| f.id.as_str()))
            .collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "rule ids are unique");
    }

    /// Every content rule finds each of its examples and none of its counter-examples.
    #[test]
    fn every_content_rule_matches_its_examples_only() {
        let defs = RuleDefs::builtin();
        let scanner = SecretScanner::new(Ruleset::compile(&defs, &[]).unwrap(), 1 << 20);
        for def in &defs.rule {
            assert!(
                !def.examples.is_empty() && !def.counter_examples.is_empty(),
                "{} needs examples",
                def.id
            );
            for ex in &def.examples {
                let hits = scanner.scan_text(ex.as_bytes());
                assert!(
                    hits.iter()
                        .any(|h| scanner.rules().info(h.rule).unwrap().id == def.id),
                    "{} misses its example {ex:?} (found {:?})",
                    def.id,
                    hits.iter()
                        .map(|h| scanner.rules().info(h.rule).unwrap().id)
                        .collect::<Vec<_>>()
                );
            }
            for ex in &def.counter_examples {
                let hits = scanner.scan_text(ex.as_bytes());
                assert!(
                    !hits
                        .iter()
                        .any(|h| scanner.rules().info(h.rule).unwrap().id == def.id),
                    "{} fires on its counter-example {ex:?}: {hits:?}",
                    def.id
                );
            }
        }
    }

    /// A rule searched from the keyword's word still finds its examples behind other text on the same line.
    #[test]
    fn word_window_rules_find_examples_mid_line() {
        let defs = RuleDefs::builtin();
        let scanner = SecretScanner::new(Ruleset::compile(&defs, &[]).unwrap(), 1 << 20);
        let prefix = "x".repeat(3000) + " let config = load(); // see ";
        for def in defs.rule.iter().filter(|d| d.window == Window::Word) {
            for ex in &def.examples {
                let line = format!("{prefix}{ex}");
                let hits = scanner.scan_text(line.as_bytes());
                assert!(
                    hits.iter()
                        .any(|h| scanner.rules().info(h.rule).unwrap().id == def.id),
                    "{} misses {ex:?} mid-line",
                    def.id
                );
            }
        }
    }

    /// Every file rule matches its example paths and none of its counter-examples.
    #[test]
    fn every_file_rule_matches_its_examples_only() {
        let defs = RuleDefs::builtin();
        let scanner = SecretScanner::new(Ruleset::compile(&defs, &[]).unwrap(), 1 << 20);
        for def in &defs.file {
            let content = def.content.clone().unwrap_or_default();
            let data = format!("{content}\nsome bytes");
            for ex in &def.examples {
                assert!(
                    file_rule_fires(&scanner, ex, &data, &def.id),
                    "{} misses {ex}",
                    def.id
                );
            }
            for ex in &def.counter_examples {
                assert!(
                    !file_rule_fires(&scanner, ex, &data, &def.id),
                    "{} fires on {ex}",
                    def.id
                );
            }
        }
    }

    fn file_rule_fires(scanner: &SecretScanner, path: &str, data: &str, id: &str) -> bool {
        let mut hits = Vec::new();
        scanner.inspect(
            path.trim_start_matches('/').as_bytes(),
            data.as_bytes(),
            &mut hits,
        );
        hits.iter()
            .any(|h| scanner.rules().info(h.rule).unwrap().id == id)
    }

    /// A file rule's hit says whether the file's bytes show a credential (a keystore's magic, a password file's
    /// lines) or only its name matched.
    #[test]
    fn file_rules_tell_a_credential_format_from_a_name_alone() {
        let scanner = SecretScanner::new(Ruleset::builtin().unwrap(), 1 << 20);
        let name_only = |path: &str, data: &[u8]| {
            let mut hits = Vec::new();
            scanner.inspect(path.as_bytes(), data, &mut hits);
            let info = scanner.rules().info(hits[0].rule).unwrap();
            assert!(info.is_file_rule, "{path}: {}", info.id);
            info.name_only
        };
        let credentials: [(&str, &[u8]); 5] = [
            ("app/server.jks", b"\xfe\xed\xfe\xed\x00\x00\x00\x02"),
            ("app/client.p12", b"\x30\x82\x0a\x51\x02\x01\x03\x30"),
            ("app/client.pfx", b"\x30\x80\x02\x01\x03\x30"),
            ("root/.pgpass", b"db.internal:5432:app:app:S3cr3t\n"),
            ("etc/.htpasswd", b"ci:$apr1$x9$abcdefghijklmnopqrstu/\n"),
        ];
        for (path, data) in credentials {
            assert!(!name_only(path, data), "{path}");
        }
        let names: [(&str, &[u8]); 4] = [
            ("app/notes.p12", b"see the wiki"),
            ("root/.pgpass", b"# nothing yet\n"),
            ("srv/app/.env", b"APP_ENV=production\n"),
            ("root/.ssh/id_rsa", b"not a key\n"),
        ];
        for (path, data) in names {
            assert!(name_only(path, data), "{path}");
        }
        let info = scanner
            .rules()
            .info(scanner.rules().file_rule_number(0, true))
            .unwrap();
        assert_eq!(info.id, scanner.rules().files[0].id);
        assert!(
            scanner
                .rules()
                .info(scanner.rules().len() as u32 * 2)
                .is_none()
        );
    }

    #[test]
    fn disabled_rules_are_left_out() {
        let set = Ruleset::compile(&RuleDefs::builtin(), &["generic-secret".into()]).unwrap();
        assert!(set.content.iter().all(|r| r.id != "generic-secret"));
    }
}
