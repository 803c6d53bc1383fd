//! CI rules: thresholds (from flags and the files `config` reads) evaluated against an analysis.
//!
//! Settings are layered key by key: defaults (min-efficiency 0.9, max-user-wasted-ratio 0.1, as dive's) <
//! `.dive-ci` < `.layerscope.toml` (or `--config FILE`) < command-line flags. `"disabled"` turns a rule off.

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::analysis::advice::{self, Severity};
use crate::secrets::{Confidence, SecretFinding, Status};

/// Which secret findings fail the `fail-on-secrets` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any high-confidence finding: a deleted secret still ships in its layer.
    Any,
    /// Only high-confidence findings still visible in the final image.
    Visible,
    #[serde(alias = "disabled")]
    None,
}

impl FailOn {
    pub fn name(self) -> &'static str {
        match self {
            FailOn::Any => "any",
            FailOn::Visible => "visible",
            FailOn::None => "none",
        }
    }

    /// Whether a finding counts against the policy.
    pub fn counts(self, f: &SecretFinding) -> bool {
        f.confidence == Confidence::High
            && match self {
                FailOn::Any => true,
                FailOn::Visible => f.status == Status::Visible,
                FailOn::None => false,
            }
    }
}

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

    /// Parses a written setting: `disabled` (any case), else a value `parse` accepts.
    pub fn parse(
        text: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Setting<T>, String> {
        if text.trim().eq_ignore_ascii_case("disabled") {
            Ok(Setting::Disabled)
        } else {
            parse(text).map(Setting::Value)
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
    /// Advice at or above this severity (and not ignored) fails the build; unset: the rule is skipped.
    pub fail_on_advice: Setting<Severity>,
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
            fail_on_advice: self.fail_on_advice.or(lower.fail_on_advice),
        }
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
    /// For the secrets rule: which findings count (`any`, `visible`, `none`); for the advice rule, the lowest
    /// severity that counts (`info`, `low`, `medium`, `high`).
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

impl CiOutcome {
    /// Marks the rule `name` as skipped (its input was never measured, e.g. no secret scan ran), so it can
    /// neither pass nor fail, and recomputes the verdict.
    pub fn skip(&mut self, name: &str) {
        for r in self.rules.iter_mut().filter(|r| r.name == name) {
            r.status = RuleStatus::Skip;
        }
        self.passed = self.rules.iter().all(|r| r.status != RuleStatus::Fail);
    }
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
    rules.push(advice_rule(analysis, t.fail_on_advice));
    CiOutcome {
        passed: rules.iter().all(|r| r.status != RuleStatus::Fail),
        rules,
    }
}

/// The name of the advice gate in the rule list.
pub const FAIL_ON_ADVICE: &str = "fail-on-advice";

/// `fail-on-advice`: fails when any finding of the analysis's advice (ignored ones are already left out) is at
/// or above the severity; skipped when no severity is set.
fn advice_rule(analysis: &Analysis, setting: Setting<Severity>) -> RuleOutcome {
    let severity = setting.value();
    let counted = severity.map_or(0, |s| advice::at_least(&analysis.advice, s)) as f64;
    RuleOutcome {
        name: FAIL_ON_ADVICE,
        threshold: severity.map(|_| 0.0),
        actual: counted,
        status: match severity {
            None => RuleStatus::Skip,
            Some(_) if counted > 0.0 => RuleStatus::Fail,
            Some(_) => RuleStatus::Pass,
        },
        bytes: false,
        policy: severity.map(Severity::name),
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn disabled_is_a_setting_of_its_own() {
        let parse = |t: &str| t.parse::<u64>().map_err(|e| e.to_string());
        assert_eq!(Setting::parse(" Disabled ", parse), Ok(Setting::Disabled));
        assert_eq!(Setting::parse("7", parse), Ok(Setting::Value(7)));
        assert!(Setting::parse("seven", parse).is_err());
    }

    #[test]
    fn a_skipped_rule_neither_passes_nor_fails() {
        let analysis = Analysis {
            tree: crate::tree::ImageTree::build(&[]),
            layers: Vec::new(),
            size_bytes: 0,
            overflowed: Vec::new(),
            redactor: crate::secrets::Redactor::default(),
            advice: Vec::new(),
            base_layers: 1,
            waste: crate::analysis::waste::report(Vec::new(), &[], 1),
            secrets: Vec::new(),
        };
        let mut outcome = evaluate(&analysis, &Thresholds::defaults());
        let secrets = |o: &CiOutcome| {
            o.rules
                .iter()
                .find(|r| r.name == "fail-on-secrets")
                .map(|r| r.status)
        };
        assert_eq!(secrets(&outcome), Some(RuleStatus::Pass));
        outcome.skip("fail-on-secrets");
        assert_eq!(secrets(&outcome), Some(RuleStatus::Skip));
    }

    #[test]
    fn advice_fails_the_gate_at_or_above_its_severity_and_is_skipped_unless_asked() {
        use crate::analysis::advice::{Advice, Rule};
        let finding = |severity| Advice {
            id: Rule::RunsAsRoot,
            key: "runs-as-root".into(),
            severity,
            message: String::new(),
            reclaimable_bytes: 0,
            layers: Vec::new(),
            paths: Vec::new(),
            path_count: 0,
            fix: String::new(),
            secrets: Vec::new(),
        };
        let analysis = Analysis {
            tree: crate::tree::ImageTree::build(&[]),
            layers: Vec::new(),
            size_bytes: 0,
            overflowed: Vec::new(),
            redactor: crate::secrets::Redactor::default(),
            advice: vec![finding(Severity::Medium), finding(Severity::Info)],
            base_layers: 1,
            waste: crate::analysis::waste::report(Vec::new(), &[], 1),
            secrets: Vec::new(),
        };
        let gate = |setting| {
            let t = Thresholds {
                fail_on_advice: setting,
                ..Thresholds::default()
            };
            let outcome = evaluate(&analysis, &t);
            let rule = outcome
                .rules
                .iter()
                .find(|r| r.name == FAIL_ON_ADVICE)
                .cloned()
                .unwrap();
            (rule.status, rule.actual, rule.policy, outcome.passed)
        };
        assert_eq!(
            gate(Setting::Value(Severity::Medium)),
            (RuleStatus::Fail, 1.0, Some("medium"), false)
        );
        assert_eq!(
            gate(Setting::Value(Severity::Info)),
            (RuleStatus::Fail, 2.0, Some("info"), false)
        );
        assert_eq!(
            gate(Setting::Value(Severity::High)),
            (RuleStatus::Pass, 0.0, Some("high"), true)
        );
        assert_eq!(gate(Setting::Unset), (RuleStatus::Skip, 0.0, None, true));
        assert_eq!(gate(Setting::Disabled), (RuleStatus::Skip, 0.0, None, true));
        assert_eq!(Thresholds::defaults().fail_on_advice, Setting::Unset);
    }
}
