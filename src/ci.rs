//! CI rules: thresholds from flags, `.layerscope.toml` or a `.dive-ci` file, evaluated against an analysis.
//!
//! Settings are layered key by key: defaults (min-efficiency 0.9, max-user-wasted-ratio 0.1, as dive's) <
//! `.dive-ci` < `.layerscope.toml` (or `--config FILE`) < command-line flags. `"disabled"` turns a rule off.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::error::{Error, Result};
pub use crate::secrets::settings::FailOn;

/// A rule's setting: unset (take the lower layer's), a threshold, or explicitly disabled.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Setting<T> {
    #[default]
    Unset,
    Disabled,
    Value(T),
}

impl<T: Copy> Setting<T> {
    /// `self` over `lower`: a set value (or disabled) wins.
    pub fn or(self, lower: Setting<T>) -> Setting<T> {
        match self {
            Setting::Unset => lower,
            other => other,
        }
    }

    pub fn value(self) -> Option<T> {
        match self {
            Setting::Value(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Thresholds {
    pub max_wasted_bytes: Setting<u64>,
    pub max_wasted_ratio: Setting<f64>,
    pub min_efficiency: Setting<f64>,
    pub max_user_wasted_ratio: Setting<f64>,
    /// Which secret findings fail the build.
    pub fail_on_secrets: Setting<FailOn>,
}

impl Thresholds {
    /// dive's defaults, so pipelines moving over keep their gates.
    pub fn defaults() -> Thresholds {
        Thresholds {
            min_efficiency: Setting::Value(0.9),
            max_user_wasted_ratio: Setting::Value(0.1),
            fail_on_secrets: Setting::Value(FailOn::Any),
            ..Thresholds::default()
        }
    }

    /// Each of `self`'s settings over `lower`'s.
    pub fn over(self, lower: Thresholds) -> Thresholds {
        Thresholds {
            max_wasted_bytes: self.max_wasted_bytes.or(lower.max_wasted_bytes),
            max_wasted_ratio: self.max_wasted_ratio.or(lower.max_wasted_ratio),
            min_efficiency: self.min_efficiency.or(lower.min_efficiency),
            max_user_wasted_ratio: self.max_user_wasted_ratio.or(lower.max_user_wasted_ratio),
            fail_on_secrets: self.fail_on_secrets.or(lower.fail_on_secrets),
        }
    }
}

/// Parses a size: plain bytes (`1048576`), decimal (`20MB`, `1.5 GB`) or binary (`1.5GiB`) units.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    parse_size::Config::new()
        .with_decimal()
        .parse_size(text.trim())
        .map_err(|e| format!("{text:?} is not a size ({e}); use e.g. 20MB, 1.5GiB or plain bytes"))
}

/// Parses a ratio in 0..=1 (`0.9`), also accepting a percentage (`90%`).
pub fn parse_ratio(text: &str) -> std::result::Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{text:?} is not a ratio; use e.g. 0.9 or 90%"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{text:?} is outside 0..1"));
    }
    Ok(value)
}

/// A value in a config file: a number, a string with units, or "disabled".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Number(f64),
    Text(String),
}

fn size_setting(v: Option<RawValue>) -> std::result::Result<Setting<u64>, String> {
    match v {
        None => Ok(Setting::Unset),
        Some(RawValue::Text(t)) if t.trim().eq_ignore_ascii_case("disabled") => {
            Ok(Setting::Disabled)
        }
        Some(RawValue::Text(t)) => parse_size(&t).map(Setting::Value),
        Some(RawValue::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Ok(Setting::Value(n as u64)),
        Some(RawValue::Number(n)) => Err(format!("{n} is not a byte count")),
    }
}

fn ratio_setting(v: Option<RawValue>) -> std::result::Result<Setting<f64>, String> {
    match v {
        None => Ok(Setting::Unset),
        Some(RawValue::Text(t)) if t.trim().eq_ignore_ascii_case("disabled") => {
            Ok(Setting::Disabled)
        }
        Some(RawValue::Text(t)) => parse_ratio(&t).map(Setting::Value),
        Some(RawValue::Number(n)) => parse_ratio(&n.to_string()).map(Setting::Value),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CiTable {
    max_wasted_bytes: Option<RawValue>,
    max_wasted_ratio: Option<RawValue>,
    min_efficiency: Option<RawValue>,
    max_user_wasted_ratio: Option<RawValue>,
    fail_on_secrets: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LayerscopeToml {
    #[serde(default)]
    ci: Option<CiTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiveRules {
    lowest_efficiency: Option<RawValue>,
    highest_wasted_bytes: Option<RawValue>,
    highest_user_wasted_percent: Option<RawValue>,
}

#[derive(Debug, Default, Deserialize)]
struct DiveCi {
    #[serde(default)]
    rules: Option<DiveRules>,
}

fn config_error(path: &Path, detail: impl Into<String>) -> Error {
    Error::Config {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// Reads the `[ci]` table of a `.layerscope.toml`.
pub fn read_layerscope_toml(path: &Path) -> Result<Thresholds> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let parsed: LayerscopeToml =
        toml::from_str(&text).map_err(|e| config_error(path, e.message().to_string()))?;
    let ci = parsed.ci.unwrap_or_default();
    let err = |e: String| config_error(path, e);
    Ok(Thresholds {
        max_wasted_bytes: size_setting(ci.max_wasted_bytes).map_err(err)?,
        max_wasted_ratio: ratio_setting(ci.max_wasted_ratio).map_err(err)?,
        min_efficiency: ratio_setting(ci.min_efficiency).map_err(err)?,
        max_user_wasted_ratio: ratio_setting(ci.max_user_wasted_ratio).map_err(err)?,
        fail_on_secrets: match ci.fail_on_secrets.as_deref() {
            None => Setting::Unset,
            Some(v) => Setting::Value(
                FailOn::parse(v)
                    .map_err(|e| config_error(path, format!("fail-on-secrets: {e}")))?,
            ),
        },
    })
}

/// Reads a dive `.dive-ci` file; its rules map onto ours (with our definitions of waste).
pub fn read_dive_ci(path: &Path) -> Result<Thresholds> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    let parsed: DiveCi = if text.trim().is_empty() {
        DiveCi::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| config_error(path, e.to_string()))?
    };
    let rules = parsed.rules.unwrap_or_default();
    let err = |e: String| config_error(path, e);
    Ok(Thresholds {
        max_wasted_bytes: size_setting(rules.highest_wasted_bytes).map_err(err)?,
        max_wasted_ratio: Setting::Unset,
        min_efficiency: ratio_setting(rules.lowest_efficiency).map_err(err)?,
        max_user_wasted_ratio: ratio_setting(rules.highest_user_wasted_percent).map_err(err)?,
        fail_on_secrets: Setting::Unset,
    })
}

/// Reads a config file named by the user: dive's YAML when it is a `.dive-ci` or `.yaml`/`.yml`, else TOML.
pub fn read_config_file(path: &Path) -> Result<Thresholds> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with(".dive-ci") || name.ends_with(".yaml") || name.ends_with(".yml") {
        read_dive_ci(path)
    } else {
        read_layerscope_toml(path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    pub name: &'static str,
    pub threshold: Option<f64>,
    pub actual: f64,
    pub status: RuleStatus,
    /// Whether the numbers are bytes (for display).
    #[serde(skip)]
    pub bytes: bool,
    /// For the secrets rule: which findings count (`any`, `visible`, `none`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    /// Why the rule failed without comparing (its number could not be computed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CiOutcome {
    pub passed: bool,
    pub rules: Vec<RuleOutcome>,
}

fn rule(
    name: &'static str,
    threshold: Option<f64>,
    actual: f64,
    fails: impl Fn(f64) -> bool,
    bytes: bool,
) -> RuleOutcome {
    RuleOutcome {
        name,
        threshold,
        actual,
        status: match threshold {
            None => RuleStatus::Skip,
            Some(t) if fails(t) => RuleStatus::Fail,
            Some(_) => RuleStatus::Pass,
        },
        bytes,
        policy: None,
        detail: None,
    }
}

/// Evaluates every rule; skipped rules are listed with status `skip`.
pub fn evaluate(analysis: &Analysis, t: &Thresholds) -> CiOutcome {
    let waste = &analysis.waste;
    let wasted = waste.wasted_bytes as f64;
    let ratio = if analysis.size_bytes == 0 {
        0.0
    } else {
        wasted / analysis.size_bytes as f64
    };
    let rules = vec![
        rule(
            "max-wasted-bytes",
            t.max_wasted_bytes.value().map(|v| v as f64),
            wasted,
            |th| wasted > th,
            true,
        ),
        rule(
            "max-wasted-ratio",
            t.max_wasted_ratio.value(),
            ratio,
            |th| ratio > th,
            false,
        ),
        rule(
            "min-efficiency",
            t.min_efficiency.value(),
            waste.efficiency,
            |th| waste.efficiency < th,
            false,
        ),
        rule(
            "max-user-wasted-ratio",
            t.max_user_wasted_ratio.value(),
            waste.user_wasted_ratio,
            |th| waste.user_wasted_ratio > th,
            false,
        ),
    ];
    let mut rules = rules;
    // A gate never passes on a number it could not compute.
    if !analysis.overflowed.is_empty() {
        let why = format!(
            "cannot be computed: {} overflowed 64 bits (entry sizes as the tar headers claim them)",
            analysis.overflowed.join(", ")
        );
        for r in rules.iter_mut().filter(|r| r.status != RuleStatus::Skip) {
            r.status = RuleStatus::Fail;
            r.detail = Some(why.clone());
        }
    }
    let policy = match t.fail_on_secrets {
        Setting::Value(p) => p,
        _ => FailOn::None,
    };
    let counted = analysis.secrets.iter().filter(|f| policy.counts(f)).count() as f64;
    rules.push(RuleOutcome {
        name: "fail-on-secrets",
        threshold: (policy != FailOn::None).then_some(0.0),
        actual: counted,
        status: match policy {
            FailOn::None => RuleStatus::Skip,
            _ if counted > 0.0 => RuleStatus::Fail,
            _ => RuleStatus::Pass,
        },
        bytes: false,
        policy: Some(policy.name()),
        detail: None,
    });
    CiOutcome {
        passed: rules.iter().all(|r| r.status != RuleStatus::Fail),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_decimal_binary_and_plain_bytes() {
        assert_eq!(parse_size("20MB").unwrap(), 20_000_000);
        assert_eq!(parse_size("1.5GiB").unwrap(), 1_610_612_736);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn ratios_accept_fractions_and_percentages() {
        assert_eq!(parse_ratio("0.9").unwrap(), 0.9);
        assert_eq!(parse_ratio("20%").unwrap(), 0.2);
        assert!(parse_ratio("1.5").is_err());
    }

    #[test]
    fn settings_layer_key_by_key() {
        let file = Thresholds {
            min_efficiency: Setting::Value(0.5),
            max_user_wasted_ratio: Setting::Disabled,
            ..Thresholds::default()
        };
        let merged = file.over(Thresholds::defaults());
        assert_eq!(merged.min_efficiency.value(), Some(0.5));
        assert_eq!(merged.max_user_wasted_ratio.value(), None);
        assert_eq!(merged.max_wasted_bytes, Setting::Unset);
    }

    #[test]
    fn dive_ci_and_layerscope_toml_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let dive = dir.path().join(".dive-ci");
        std::fs::write(
            &dive,
            "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  highestUserWastedPercent: disabled\n",
        )
        .unwrap();
        let t = read_dive_ci(&dive).unwrap();
        assert_eq!(t.min_efficiency.value(), Some(0.95));
        assert_eq!(t.max_wasted_bytes.value(), Some(20_000_000));
        assert_eq!(t.max_user_wasted_ratio, Setting::Disabled);

        let toml = dir.path().join(".layerscope.toml");
        std::fs::write(
            &toml,
            "[ci]\nmax-wasted-bytes = \"1.5GiB\"\nmax-wasted-ratio = 0.2\n",
        )
        .unwrap();
        let t = read_layerscope_toml(&toml).unwrap();
        assert_eq!(t.max_wasted_bytes.value(), Some(1_610_612_736));
        assert_eq!(t.max_wasted_ratio.value(), Some(0.2));

        std::fs::write(&toml, "[ci]\nmax-wastd-bytes = 1\n").unwrap();
        assert!(read_layerscope_toml(&toml).is_err());
    }
}
