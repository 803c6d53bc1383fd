//! Secret findings: credentials found in any version of any file of any layer, in the image config and in the
//! build history, with where they came and went.
//!
//! - [`rules`]: the rule set (built in as data in `assets/secrets/rules.toml`, plus the user's), compiled once.
//! - `prefilter`: the case-insensitive SIMD keyword search that decides where rule regexes run.
//! - [`scanner`]: the content inspector that runs during the one pass over each layer, and on config/history text.
//! - [`findings`]: turns raw hits into findings with status (visible, removed, overwritten) from the image tree.
//! - [`redact`]: masking for every output (the [`Redactor`] each analysis holds), and which build-argument values
//!   of history text are secret.
//! - [`settings`]: user rules, allowlists and baselines.

pub mod findings;
mod prefilter;
pub mod redact;
pub mod rules;
pub mod scanner;
pub mod settings;

use serde::{Deserialize, Serialize};

pub use findings::{SecretReport, collect, fingerprint, metadata_redactor, redact_history};
pub use redact::{Redactor, arg_value_is_secret, redact, redact_created_by};
pub use rules::Ruleset;
pub use scanner::SecretScanner;
pub use settings::SecretSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    File,
    Config,
    History,
}

/// Whether the secret still ships in the final image's filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still in the final image.
    Visible,
    /// Deleted by a later layer (its bytes still ship in the layer that added it).
    Removed,
    /// Replaced by a later layer with content that no longer holds it.
    Overwritten,
}

/// Ordered high first, so sorting puts the findings that count first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Low,
}

/// One secret found somewhere in the image.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFinding {
    pub rule: String,
    pub description: String,
    pub severity: Severity,
    pub confidence: Confidence,
    pub location: Location,
    /// The layer holding it (files, history), `None` for the config.
    pub layer: Option<u32>,
    /// Absolute path for files; the config field (`Env[2]`) for the config; `None` for history.
    pub path: Option<String>,
    /// 1-based line, when the secret is in text.
    pub line: Option<u32>,
    pub status: Status,
    pub removed_in: Option<u32>,
    /// The instruction of the layer that added it.
    pub instruction: Option<String>,
    /// The matched text, redacted unless the user asked to see secrets.
    #[serde(rename = "match")]
    pub redacted: String,
    /// Stable hash of rule + secret, for baselines and allowlists.
    pub fingerprint: String,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl Confidence {
    pub fn name(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Low => "low",
        }
    }
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Visible => "visible",
            Status::Removed => "removed",
            Status::Overwritten => "overwritten",
        }
    }
}

impl Location {
    pub fn name(self) -> &'static str {
        match self {
            Location::File => "file",
            Location::Config => "config",
            Location::History => "history",
        }
    }
}
