//! The user's configuration files, found and parsed once into typed settings: `.layerscope.toml` (`[ci]`
//! thresholds, `[secrets]` settings, `[advice]` gate and ignores) and dive's `.dive-ci` (its `rules:`, mapped onto ours).
//!
//! Without `--config`, both are read from the working directory, `.layerscope.toml` over `.dive-ci` key by
//! key; `--config FILE` reads that file alone (dive's YAML when it is named `.dive-ci` or `*.yaml`/`*.yml`).
//! Unknown keys are errors in both, naming the key, so a typo never silently turns a gate off.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analysis::advice::{Rule, Severity};
use crate::ci::{FailOn, Setting, Thresholds};
use crate::error::{Error, Result};
use crate::secrets::rules::{ContentDef, FileDef, RuleDefs};
use crate::secrets::settings::{Allowlist, DEFAULT_MAX_FILE_BYTES, SecretSettings};
use crate::units::{parse_fraction, parse_ratio, parse_size};

/// What the configuration files say, and which files said it (the default: no file).
#[derive(Default)]
pub struct Config {
    /// The thresholds the files set (unset keys stay `Unset`; flags and defaults are layered by the caller).
    pub ci: Thresholds,
    pub secrets: SecretSettings,
    /// Advice to leave out of every output and gate: rule ids (`os-junk`) or finding keys
    /// (`same-run-delete:4>5`).
    pub advice_ignore: Vec<String>,
    /// The files read, lowest precedence first.
    pub files: Vec<PathBuf>,
}

/// dive's CI file name.
pub const DIVE_CI: &str = ".dive-ci";
/// layerscope's own configuration file name.
pub const LAYERSCOPE_TOML: &str = ".layerscope.toml";

impl Config {
    /// `explicit` (`--config FILE`) alone when given, else `.dive-ci` and `.layerscope.toml` found in `dir`.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> Result<Config> {
        let mut config = Config::default();
        match explicit {
            Some(path) if is_dive_file(path) => config.read_dive_ci(path)?,
            Some(path) => config.read_layerscope_toml(path)?,
            None => {
                let dive = dir.join(DIVE_CI);
                if dive.is_file() {
                    config.read_dive_ci(&dive)?;
                }
                let toml = dir.join(LAYERSCOPE_TOML);
                if toml.is_file() {
                    config.read_layerscope_toml(&toml)?;
                }
            }
        }
        Ok(config)
    }

    fn read_layerscope_toml(&mut self, path: &Path) -> Result<()> {
        let text = read(path, TOML_MAX)?;
        let parsed: LayerscopeToml =
            toml::from_str(&text).map_err(|e| config_error(path, e.message()))?;
        let err = |e: String| config_error(path, e);
        if let Some(ci) = parsed.ci {
            let fail_on_secrets = match ci.fail_on_secrets {
                Some(p) => Setting::Value(p),
                None => Setting::Unset,
            };
            let file = Thresholds {
                max_wasted_bytes: size_setting("max-wasted-bytes", ci.max_wasted_bytes)
                    .map_err(err)?,
                max_wasted_ratio: ratio_setting(
                    "max-wasted-ratio",
                    ci.max_wasted_ratio,
                    parse_fraction,
                )
                .map_err(err)?,
                min_efficiency: ratio_setting("min-efficiency", ci.min_efficiency, parse_fraction)
                    .map_err(err)?,
                max_user_wasted_ratio: ratio_setting(
                    "max-user-wasted-ratio",
                    ci.max_user_wasted_ratio,
                    parse_ratio,
                )
                .map_err(err)?,
                fail_on_secrets,
                fail_on_advice: Setting::Unset,
            };
            self.ci = file.over(self.ci);
        }
        if let Some(t) = parsed.secrets {
            let max_file_bytes =
                match size_setting("max-file-bytes", t.max_file_bytes).map_err(err)? {
                    Setting::Value(n) if n > 0 => n,
                    Setting::Unset => DEFAULT_MAX_FILE_BYTES,
                    _ => return Err(err("max-file-bytes: must be a size above 0".into())),
                };
            let rules = RuleDefs {
                rule: t.rule,
                file: t.file,
            };
            let allowlist = Allowlist {
                paths: t.allowlist.paths,
                regexes: t.allowlist.regexes,
                fingerprints: t.allowlist.fingerprints,
            };
            self.secrets = SecretSettings::new(max_file_bytes, t.disabled_rules, rules, allowlist)
                .map_err(err)?;
        }
        if let Some(a) = parsed.advice {
            let fail_on = match a.fail_on {
                Some(text) => Setting::parse(&text, |t| t.parse::<Severity>())
                    .map_err(|e| err(format!("fail-on: {e}")))?,
                None => Setting::Unset,
            };
            self.ci.fail_on_advice = fail_on.or(self.ci.fail_on_advice);
            for name in &a.ignore {
                if !names_advice(name) {
                    return Err(err(format!(
                        "ignore: {name:?} is neither an advice rule id nor a finding key (ids: {})",
                        Rule::ALL.map(Rule::id).join(", ")
                    )));
                }
            }
            self.advice_ignore = a.ignore;
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    fn read_dive_ci(&mut self, path: &Path) -> Result<()> {
        let text = read(path, DIVE_CI_MAX)?;
        let parsed: DiveCi = if text.trim().is_empty() {
            DiveCi::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| config_error(path, e.to_string()))?
        };
        let rules = parsed.rules.unwrap_or_default();
        let err = |e: String| config_error(path, e);
        let file = Thresholds {
            max_wasted_bytes: size_setting("highestWastedBytes", rules.highest_wasted_bytes)
                .map_err(err)?,
            max_wasted_ratio: Setting::Unset,
            min_efficiency: ratio_setting(
                "lowestEfficiency",
                rules.lowest_efficiency,
                parse_fraction,
            )
            .map_err(err)?,
            max_user_wasted_ratio: ratio_setting(
                "highestUserWastedPercent",
                rules.highest_user_wasted_percent,
                parse_ratio,
            )
            .map_err(err)?,
            fail_on_secrets: Setting::Unset,
            fail_on_advice: Setting::Unset,
        };
        self.ci = file.over(self.ci);
        self.files.push(path.to_path_buf());
        Ok(())
    }
}

/// Whether an ignore entry can name advice: a rule id, or a finding key (`<id>:...`), so that a typo is an
/// error rather than an ignore that never matches.
fn names_advice(name: &str) -> bool {
    Rule::ALL.iter().any(|r| {
        name == r.id()
            || name
                .strip_prefix(r.id())
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Whether a file named by the user is dive's YAML rather than our TOML.
fn is_dive_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with(DIVE_CI) || name.ends_with(".yaml") || name.ends_with(".yml")
}

/// The largest `.layerscope.toml` read (rules and allowlists run to a few KiB).
const TOML_MAX: u64 = 1 << 20;
/// The largest `.dive-ci` read: dive's file holds three rules, and a YAML parser's work grows faster than the
/// nesting a larger file could hold.
const DIVE_CI_MAX: u64 = 16 << 10;

/// A config file's text, refused past `max` bytes (counted as read).
fn read(path: &Path, max: u64) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path.display().to_string(), e))?;
    if bytes.len() as u64 > max {
        return Err(config_error(
            path,
            format!("larger than {max} bytes: not a configuration file this tool reads"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| config_error(path, "not UTF-8 text"))
}

fn config_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Config {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// A value in a config file: a number, or a string with units, a percentage or "disabled".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Number(f64),
    Text(String),
}

fn size_setting(key: &str, v: Option<RawValue>) -> std::result::Result<Setting<u64>, String> {
    match v {
        None => Ok(Setting::Unset),
        Some(RawValue::Text(t)) => Setting::parse(&t, parse_size),
        Some(RawValue::Number(n)) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => {
            Ok(Setting::Value(n as u64))
        }
        Some(RawValue::Number(n)) => Err(format!("{n} is not a byte count")),
    }
    .map_err(|e| format!("{key}: {e}"))
}

fn ratio_setting(
    key: &str,
    v: Option<RawValue>,
    parse: fn(&str) -> std::result::Result<f64, String>,
) -> std::result::Result<Setting<f64>, String> {
    match v {
        None => Ok(Setting::Unset),
        Some(RawValue::Text(t)) => Setting::parse(&t, parse),
        Some(RawValue::Number(n)) => parse(&n.to_string()).map(Setting::Value),
    }
    .map_err(|e| format!("{key}: {e}"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerscopeToml {
    ci: Option<CiTable>,
    secrets: Option<SecretsTable>,
    advice: Option<AdviceTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AdviceTable {
    /// A severity (`info`, `low`, `medium`, `high`) or `disabled`.
    fail_on: Option<String>,
    #[serde(default)]
    ignore: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CiTable {
    max_wasted_bytes: Option<RawValue>,
    max_wasted_ratio: Option<RawValue>,
    min_efficiency: Option<RawValue>,
    max_user_wasted_ratio: Option<RawValue>,
    fail_on_secrets: Option<FailOn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct AllowlistTable {
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
    max_file_bytes: Option<RawValue>,
    #[serde(default)]
    disabled_rules: Vec<String>,
    #[serde(default)]
    rule: Vec<ContentDef>,
    #[serde(default)]
    file: Vec<FileDef>,
    #[serde(default)]
    allowlist: AllowlistTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DiveRules {
    lowest_efficiency: Option<RawValue>,
    highest_wasted_bytes: Option<RawValue>,
    highest_user_wasted_percent: Option<RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiveCi {
    rules: Option<DiveRules>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn both_files_are_read_once_and_layerscope_toml_wins() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            DIVE_CI,
            "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: disabled\n",
        );
        write(
            dir.path(),
            LAYERSCOPE_TOML,
            "[ci]\nmax-wasted-bytes = \"1.5GiB\"\nmax-wasted-ratio = 0.2\nfail-on-secrets = \"visible\"\n\
             [secrets]\nmax-file-bytes = \"64KiB\"\n",
        );
        let c = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.ci.max_wasted_bytes.value(), Some(1_610_612_736));
        assert_eq!(c.ci.max_wasted_ratio.value(), Some(0.2));
        assert_eq!(c.ci.min_efficiency.value(), Some(0.95));
        assert_eq!(c.ci.max_user_wasted_ratio, Setting::Disabled);
        assert_eq!(c.ci.fail_on_secrets, Setting::Value(FailOn::Visible));
        assert_eq!(c.secrets.max_file_bytes, 65536);
        let names: Vec<_> = c.files.iter().map(|f| f.file_name().unwrap()).collect();
        assert_eq!(names, [DIVE_CI, LAYERSCOPE_TOML]);
    }

    #[test]
    fn an_explicit_file_is_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), LAYERSCOPE_TOML, "[ci]\nmin-efficiency = 0.5\n");
        let other = write(dir.path(), "ci.yaml", "rules:\n  lowestEfficiency: 80%\n");
        let c = Config::load(Some(&other), dir.path()).unwrap();
        assert_eq!(c.ci.min_efficiency.value(), Some(0.8));
        assert_eq!(c.files, [other]);
    }

    #[test]
    fn secrets_table_is_read_with_rules_and_allowlists() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            LAYERSCOPE_TOML,
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
        );
        let s = Config::load(Some(&path), dir.path()).unwrap().secrets;
        assert_eq!(s.max_file_bytes, 65536);
        let rules = s.ruleset().unwrap();
        assert!(rules.content.iter().any(|r| r.id == "acme-token"));
        assert!(rules.content.iter().all(|r| r.id != "jwt"));

        write(
            dir.path(),
            LAYERSCOPE_TOML,
            "[secrets]\n[[secrets.rule]]\nid='x'\ndescription='x'\nseverity='high'\nkeywords=['x']\nregex='('\n",
        );
        assert!(Config::load(None, dir.path()).is_err());
    }

    #[test]
    fn ratios_above_one_only_where_the_measure_can_exceed_it() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            LAYERSCOPE_TOML,
            "[ci]\nmax-user-wasted-ratio = \"150%\"\n",
        );
        let c = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.ci.max_user_wasted_ratio.value(), Some(1.5));
        write(dir.path(), LAYERSCOPE_TOML, "[ci]\nmin-efficiency = 1.5\n");
        let e = Config::load(None, dir.path()).err().unwrap().to_string();
        assert!(e.contains("min-efficiency"), "{e}");
    }

    #[test]
    fn advice_table_sets_the_gate_and_the_ignores() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            LAYERSCOPE_TOML,
            "[advice]\nfail-on = \"Medium\"\nignore = [\"os-junk\", \"same-run-delete:4>5\"]\n",
        );
        let c = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.ci.fail_on_advice, Setting::Value(Severity::Medium));
        assert_eq!(c.advice_ignore, ["os-junk", "same-run-delete:4>5"]);

        write(
            dir.path(),
            LAYERSCOPE_TOML,
            "[advice]\nfail-on = \"disabled\"\n",
        );
        let c = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.ci.fail_on_advice, Setting::Disabled);

        for (text, named) in [
            ("[advice]\nfail-on = \"severe\"\n", "fail-on"),
            ("[advice]\nignore = [\"os_junk\"]\n", "os_junk"),
            ("[advice]\nignore = [\"runs-as-rootx\"]\n", "runs-as-rootx"),
            ("[advice]\nfail_on = \"low\"\n", "fail_on"),
        ] {
            write(dir.path(), LAYERSCOPE_TOML, text);
            let e = Config::load(None, dir.path()).err().unwrap().to_string();
            assert!(e.contains(named), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), LAYERSCOPE_TOML, "[ci]\nmax-wastd-bytes = 1\n");
        let e = Config::load(None, dir.path()).err().unwrap().to_string();
        assert!(e.contains("max-wastd-bytes"), "{e}");

        std::fs::remove_file(dir.path().join(LAYERSCOPE_TOML)).unwrap();
        write(dir.path(), DIVE_CI, "rules:\n  lowestEfficency: 0.9\n");
        let e = Config::load(None, dir.path()).err().unwrap().to_string();
        assert!(e.contains("lowestEfficency") && e.contains(DIVE_CI), "{e}");
        write(dir.path(), DIVE_CI, "rule:\n  lowestEfficiency: 0.9\n");
        let e = Config::load(None, dir.path()).err().unwrap().to_string();
        assert!(e.contains("rule"), "{e}");
    }
}
