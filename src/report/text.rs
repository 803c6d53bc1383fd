//! Human-readable renderings: the image summary, the CI result and `ls` listings.
//!
//! Everything here that came from an image (or from a user's rule file) reaches the text through [`Shown`]:
//! masked by the analysis's [`Redactor`], then escaped ([`crate::escape`]), so no secret and no control
//! character reaches a terminal or a CI log. Line builders take image text only as [`Safe`] values, which only
//! [`Shown`] makes.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use humansize::{DECIMAL, format_size};

use crate::analysis::Analysis;
use crate::analysis::advice::{Advice, Severity as AdviceSeverity};
use crate::ci::{CiOutcome, RuleOutcome, RuleStatus};
use crate::image::Image;
use crate::layer::EntryKind;
use crate::secrets::{Confidence, Redactor, SecretFinding, Status};
use crate::tree::{ChangeKind, ListedEntry};

/// Whether text is coloured. (Secrets are masked by the analysis' redactor, which `--show-secrets` replaces.)
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
    fn fg(&self, color: AnsiColor, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }
}

/// Image-derived text made safe to print: masked, then escaped. Only [`Shown::text`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safe(String);

impl Safe {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Cut to one line of `width` characters (escaping already made it one line).
    fn cut(&self, width: usize) -> Safe {
        Safe(truncate(&self.0, width))
    }
}

impl std::fmt::Display for Safe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// The one way image-derived text enters a rendering: [`Redactor::apply`], then [`crate::escape::escape`].
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    redactor: &'a Redactor,
}

impl<'a> Shown<'a> {
    pub fn new(redactor: &'a Redactor) -> Shown<'a> {
        Shown { redactor }
    }

    pub fn text(&self, raw: &str) -> Safe {
        Safe(crate::escape::escape(&self.redactor.mask(raw)).into_owned())
    }
}

pub fn size(bytes: u64) -> String {
    format_size(bytes, DECIMAL)
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// One line, cut to `width` characters with an ellipsis.
pub fn truncate(text: &str, width: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= width {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn header(image: &Image, analysis: &Analysis, p: Paint) -> String {
    let s = Shown::new(&analysis.redactor);
    let meta = &image.meta;
    let mut out = String::new();
    let name = s.text(meta.reference.as_deref().unwrap_or(&meta.config_digest));
    let mut format = meta.format.name().to_string();
    if let Some(c) = meta.archive_compression {
        format.push_str(&format!(", {}-compressed", c.name()));
    }
    let _ = writeln!(out, "{}  {}", p.bold("Image"), name);
    let _ = writeln!(
        out,
        "Source      {} ({format}, {})",
        s.text(&meta.source),
        s.text(&meta.platform.to_string())
    );
    let _ = writeln!(out, "Config      {}", s.text(&meta.config_digest));
    if !meta.verification.skipped.is_empty() {
        let _ = writeln!(
            out,
            "Unverified  {} (--no-verify)",
            meta.verification.skipped.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Size        {} in {} layers",
        size(analysis.size_bytes),
        image.layers.len()
    );
    let w = &analysis.waste;
    let _ = writeln!(
        out,
        "Wasted      {} ({} wasted versions in {} files)",
        size(w.wasted_bytes),
        w.files.iter().map(|f| f.versions.len()).sum::<usize>(),
        w.files.len()
    );
    let _ = writeln!(out, "Efficiency  {}", percent(w.efficiency));
    let _ = writeln!(
        out,
        "User waste  {} of the layers above the base ({} base layer{})",
        percent(w.user_wasted_ratio),
        analysis.base_layers,
        if analysis.base_layers == 1 { "" } else { "s" }
    );
    out
}

fn wasted_list(analysis: &Analysis, limit: usize, p: Paint) -> String {
    let s = Shown::new(&analysis.redactor);
    let mut out = String::new();
    if analysis.waste.files.is_empty() {
        let _ = writeln!(out, "No wasted space.");
        return out;
    }
    let _ = writeln!(out, "{}", p.bold(&format!("Wasted files (top {limit})")));
    let _ = writeln!(
        out,
        "  {:>10}  {:<12}  {:<11}  PATH",
        "WASTED", "LAYERS", "REASON"
    );
    for f in analysis.waste.files.iter().take(limit) {
        let layers = f
            .layers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(
            out,
            "  {:>10}  {:<12}  {:<11}  {}",
            size(f.wasted_bytes),
            truncate(&layers, 12),
            f.reason.name(),
            s.text(&f.path)
        );
    }
    if analysis.waste.files.len() > limit {
        let _ = writeln!(out, "  … and {} more", analysis.waste.files.len() - limit);
    }
    out
}

/// The summary printed by `layerscope IMAGE` when no UI is shown.
pub fn summary(image: &Image, analysis: &Analysis, p: Paint) -> String {
    let s = Shown::new(&analysis.redactor);
    let mut out = header(image, analysis, p);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!(
            "{:>3}  {:>10}  {:>6}  {:>6}  {:>6}  INSTRUCTION",
            "#", "SIZE", "ADDED", "MODIF", "DELET"
        ))
    );
    for (layer, stats) in image.layers.iter().zip(&analysis.layers) {
        let c = stats.counts;
        let instruction = s.text(&layer.history.instruction);
        let _ = writeln!(
            out,
            "{:>3}  {:>10}  {:>6}  {:>6}  {:>6}  {}",
            layer.index,
            size(stats.size_bytes),
            c.added,
            c.modified,
            c.deleted,
            instruction.cut(90)
        );
        for extra in layer
            .history
            .instructions
            .iter()
            .map(|i| s.text(i))
            .filter(|i| *i != instruction)
        {
            let _ = writeln!(
                out,
                "{:>42}{}",
                "",
                p.fg(AnsiColor::BrightBlack, extra.cut(90).as_str())
            );
        }
    }
    let _ = writeln!(out);
    out.push_str(&wasted_list(analysis, 10, p));
    out.push_str(&advice_list(&analysis.advice, s, 10, p));
    if !analysis.secrets.is_empty() {
        let _ = writeln!(out);
        out.push_str(&secrets_list(analysis, p, LowConfidence::Count));
    }
    out
}

/// The advice, after a blank line (nothing when there is none): per finding its severity, rule, bytes and
/// message, then the layers, the top paths and the fix. Image-derived text is masked and escaped.
pub fn advice_list(advice: &[Advice], s: Shown<'_>, limit: usize, p: Paint) -> String {
    let escape = |text: &str| s.text(text).as_str().to_string();
    let mut out = String::new();
    if advice.is_empty() {
        return out;
    }
    let total = advice
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.reclaimable_bytes));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!(
            "Advice ({} findings, {} reclaimable)",
            advice.len(),
            size(total)
        ))
    );
    let indent = " ".repeat(8);
    for a in advice.iter().take(limit) {
        let severity = format!("{:<6}", a.severity.name());
        let severity = match a.severity {
            AdviceSeverity::High => p.fg(AnsiColor::Red, &severity),
            AdviceSeverity::Medium => p.fg(AnsiColor::Yellow, &severity),
            _ => severity,
        };
        let bytes = match a.reclaimable_bytes {
            0 => String::new(),
            b => size(b),
        };
        let _ = writeln!(
            out,
            "  {severity}  {:<17}  {bytes:>10}  {}",
            a.id.id(),
            escape(&a.message)
        );
        if !a.layers.is_empty() {
            let layers: Vec<String> = a
                .layers
                .iter()
                .map(|l| format!("{} {}", l.index, truncate(&l.instruction, 40)))
                .collect();
            let text = escape(&layers.join("; "));
            let _ = writeln!(
                out,
                "{indent}layers  {}",
                p.fg(AnsiColor::BrightBlack, &text)
            );
        }
        let shown = a.paths.len().min(3);
        for path in &a.paths[..shown] {
            let same_as = match &path.same_as {
                Some(kept) => format!(" (same as {})", escape(kept)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "{indent}{:>10}  {}{same_as}",
                size(path.bytes),
                escape(&path.path)
            );
        }
        if a.path_count > shown {
            let _ = writeln!(
                out,
                "{indent}{:>10}  … and {} more",
                "",
                a.path_count - shown
            );
        }
        let _ = writeln!(out, "{indent}fix     {}", escape(&a.fix));
    }
    if advice.len() > limit {
        let _ = writeln!(
            out,
            "  … and {} more (--json lists all)",
            advice.len() - limit
        );
    }
    out
}

fn where_text(f: &SecretFinding, s: Shown<'_>) -> Safe {
    let place = match (&f.path, f.line) {
        (Some(path), Some(line)) => format!("{path}:{line}"),
        (Some(path), None) => path.clone(),
        (None, _) => f.location.name().to_string(),
    };
    if f.location == crate::secrets::Location::Config {
        s.text(&format!("config {place}"))
    } else {
        s.text(&place)
    }
}

fn status_text(f: &SecretFinding, p: Paint) -> String {
    let text = match (f.status, f.removed_in) {
        (Status::Visible, _) => "visible".to_string(),
        (status, Some(l)) => format!("{} in {l}", status.name()),
        (status, None) => status.name().to_string(),
    };
    match f.status {
        Status::Visible => p.fg(AnsiColor::Red, &text),
        _ => p.fg(AnsiColor::Yellow, &text),
    }
}

/// How a findings list shows low-confidence findings (names matched without a credential inside, test and
/// vendored trees, weak generic matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowConfidence {
    /// Counted per rule (the summary).
    Count,
    /// Listed like the others (`layerscope secrets`).
    List,
    /// Listed after the others, one line each (`--ci`: every finding is named, the ones that count first).
    Brief,
}

/// The findings by severity (highest first), then confidence (high first), then layer.
fn by_severity(findings: &[SecretFinding]) -> Vec<&SecretFinding> {
    let mut sorted: Vec<&SecretFinding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.confidence.cmp(&b.confidence))
            .then(a.layer.cmp(&b.layer))
    });
    sorted
}

/// Each finding on two lines: severity, confidence, layer, rule, where, status; then the redacted match and
/// the instruction. Sorted by severity, confidence, then layer.
pub fn secrets_list(analysis: &Analysis, p: Paint, low: LowConfidence) -> String {
    let s = Shown::new(&analysis.redactor);
    let findings = by_severity(&analysis.secrets);
    let mut out = String::new();
    let shipped = findings
        .iter()
        .filter(|f| f.status != Status::Visible)
        .count();
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!(
            "Secrets ({} found, {shipped} of them removed or overwritten by a later layer but still in the image)",
            findings.len()
        ))
    );
    let _ = writeln!(
        out,
        "  {:<8} {:<4} {:<5} {:<24} WHERE  STATUS",
        "SEVERITY", "CONF", "LAYER", "RULE"
    );
    let is_low = |f: &&SecretFinding| f.confidence == Confidence::Low;
    let first_line = |f: &SecretFinding| {
        format!(
            "  {:<8} {:<4} {:<5} {:<24} {}  {}",
            f.severity.name(),
            f.confidence.name(),
            f.layer.map_or("-".to_string(), |l| format!("L{l}")),
            s.text(&f.rule),
            where_text(f, s),
            status_text(f, p)
        )
    };
    let instruction = |f: &SecretFinding, width: usize| {
        let text = f
            .instruction
            .as_deref()
            .map(|i| s.text(i).cut(width))
            .unwrap_or(Safe(String::new()));
        p.fg(AnsiColor::BrightBlack, text.as_str())
    };
    for f in findings.iter().copied() {
        if is_low(&f) && low != LowConfidence::List {
            continue;
        }
        let _ = writeln!(out, "{}", first_line(f));
        let _ = writeln!(
            out,
            "  {:<8} {:<4} {:<5} {}  {}",
            "",
            "",
            "",
            s.text(&f.redacted),
            instruction(f, 70)
        );
    }
    let lows: Vec<&SecretFinding> = findings.iter().copied().filter(is_low).collect();
    if lows.is_empty() {
        return out;
    }
    match low {
        LowConfidence::List => {}
        LowConfidence::Count => {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for f in &lows {
                *counts.entry(f.rule.as_str()).or_default() += 1;
            }
            let counts: Vec<String> = counts
                .iter()
                .map(|(rule, n)| format!("{} {n}", s.text(rule)))
                .collect();
            let _ = writeln!(
                out,
                "  and {} low-confidence findings (names without a credential inside, test/vendored trees, weak generic matches): {}; `layerscope secrets` lists them",
                lows.len(),
                counts.join(", ")
            );
        }
        LowConfidence::Brief => {
            let _ = writeln!(
                out,
                "  {} low-confidence findings (names without a credential inside, test/vendored trees, weak generic matches; fail-on-secrets does not count them):",
                lows.len()
            );
            for f in lows {
                let _ = writeln!(out, "{}  {}", first_line(f), instruction(f, 40));
            }
        }
    }
    out
}

/// `layerscope secrets`: the findings, or a line saying there are none.
pub fn secrets_table(analysis: &Analysis, p: Paint) -> String {
    if analysis.secrets.is_empty() {
        return "No secrets found.\n".to_string();
    }
    secrets_list(analysis, p, LowConfidence::List)
}

fn rule_value(r: &RuleOutcome, v: f64) -> String {
    if r.bytes {
        size(v as u64)
    } else {
        format!("{v:.4}")
    }
}

/// The `--ci` result: the summary numbers, the top wasted files and each rule's verdict.
pub fn ci(image: &Image, analysis: &Analysis, outcome: &CiOutcome, p: Paint) -> String {
    let mut out = header(image, analysis, p);
    let _ = writeln!(out);
    out.push_str(&wasted_list(analysis, 20, p));
    if !analysis.secrets.is_empty() {
        let _ = writeln!(out);
        out.push_str(&secrets_list(analysis, p, LowConfidence::Brief));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", p.bold("Rules"));
    for r in &outcome.rules {
        let status = match r.status {
            RuleStatus::Pass => p.fg(AnsiColor::Green, "PASS"),
            RuleStatus::Fail => p.fg(AnsiColor::Red, "FAIL"),
            RuleStatus::Skip => p.fg(AnsiColor::BrightBlack, "SKIP"),
        };
        let detail = match (r.policy, r.threshold) {
            (Some(policy), _) if r.name == crate::ci::FAIL_ON_ADVICE => {
                advice_gate_detail(&analysis.advice, policy, r.actual)
            }
            (Some(policy), _) if r.status == RuleStatus::Skip && policy != "none" => {
                "not evaluated: no secret scan ran".to_string()
            }
            (Some(policy), _) => format!(
                "{} high-confidence finding(s) count under policy {policy}",
                r.actual
            ),
            (None, Some(t)) => format!(
                "actual {} vs threshold {}",
                rule_value(r, r.actual),
                rule_value(r, t)
            ),
            (None, None) => format!("actual {} (no threshold set)", rule_value(r, r.actual)),
        };
        let detail = r.detail.clone().unwrap_or(detail);
        let _ = writeln!(out, "  {status}  {:<22} {detail}", r.name);
    }
    let _ = writeln!(out);
    let verdict = if outcome.passed {
        p.fg(AnsiColor::Green, "Result: PASS")
    } else {
        p.fg(AnsiColor::Red, "Result: FAIL")
    };
    let _ = writeln!(out, "{}", p.bold(&verdict));
    out
}

/// `2 finding(s) at medium or above: runs-as-root, same-run-delete:1>2` (the first five keys).
fn advice_gate_detail(advice: &[Advice], policy: &str, counted: f64) -> String {
    let Ok(floor) = policy.parse::<AdviceSeverity>() else {
        return format!("{counted} finding(s) at {policy} or above");
    };
    let keys: Vec<&str> = advice
        .iter()
        .filter(|a| a.severity >= floor)
        .map(|a| a.key.as_str())
        .collect();
    let mut detail = format!("{} finding(s) at {policy} or above", keys.len());
    if !keys.is_empty() {
        let more = keys.len().saturating_sub(5);
        let _ = write!(detail, ": {}", keys[..keys.len() - more].join(", "));
        if more > 0 {
            let _ = write!(detail, ", and {more} more");
        }
    }
    detail
}

/// `drwxr-xr-x` style permissions.
pub fn mode_string(kind: EntryKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(match kind {
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Fifo => 'p',
        EntryKind::CharDevice => 'c',
        EntryKind::BlockDevice => 'b',
        EntryKind::Socket => 's',
        EntryKind::File | EntryKind::Hardlink => '-',
    });
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => mode & 0o4000 != 0,
            5 => mode & 0o2000 != 0,
            8 => mode & 0o1000 != 0,
            _ => false,
        };
        s.push(match (set, special) {
            (true, false) => *c,
            (false, false) => '-',
            (true, true) if i == 8 => 't',
            (false, true) if i == 8 => 'T',
            (true, true) => 's',
            (false, true) => 'S',
        });
    }
    s
}

/// One `ls` line: change marker, permissions, owner, size, layer, path (and link target), the path and target
/// masked by `redactor` and escaped.
pub fn listing_line(e: &ListedEntry, redactor: &Redactor, p: Paint) -> String {
    let s = Shown::new(redactor);
    let (marker, color) = match e.change {
        ChangeKind::Added => ("+", Some(AnsiColor::Green)),
        ChangeKind::Modified => ("~", Some(AnsiColor::Yellow)),
        ChangeKind::Deleted => ("-", Some(AnsiColor::Red)),
        ChangeKind::Unmodified => (" ", None),
    };
    let mut path = s.text(&e.path).0;
    if let Some(t) = &e.link_target {
        path.push_str(match e.kind {
            EntryKind::Hardlink => " => ",
            _ => " -> ",
        });
        path.push_str(s.text(t).as_str());
    }
    let line = format!(
        "{marker} {} {:>11} {:>10}  L{:<3} {path}",
        mode_string(e.kind, e.mode),
        format!("{}:{}", e.uid, e.gid),
        size(e.size),
        e.layer
    );
    match color {
        Some(c) => p.fg(c, &line),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string(EntryKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(EntryKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(EntryKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(EntryKind::File, 0o640), "-rw-r-----");
    }

    #[test]
    fn image_text_is_masked_then_escaped() {
        let redactor = Redactor::new(["ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8".to_string()]);
        let row = ListedEntry {
            path: "/app/ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8\x1b[2J".into(),
            kind: EntryKind::Symlink,
            size: 0,
            mode: 0o777,
            uid: 0,
            gid: 0,
            link_target: Some("\r\nResult: PASS\u{202e}".into()),
            digest: None,
            change: ChangeKind::Added,
            layer: 1,
            node: 1,
        };
        let line = listing_line(&row, &redactor, Paint { color: false });
        assert!(
            line.ends_with(
                "/app/ghp_************************\\x1b[2J -> \\x0d\\x0aResult: PASS\\u{202e}"
            ),
            "{line}"
        );
        let shown = Shown::new(&redactor);
        assert_eq!(
            shown
                .text("|1 DB_PASSWORD=hunter2 /bin/sh -c \x1b[1m")
                .as_str(),
            "|1 DB_PASSWORD=******* /bin/sh -c \\x1b[1m"
        );
        let reveal = Redactor::reveal();
        assert_eq!(
            Shown::new(&reveal).text("TOKEN=x\x07").as_str(),
            "TOKEN=x\\x07"
        );
    }

    #[test]
    fn advice_lists_escape_image_text_and_cut_long_lists() {
        use crate::analysis::advice::{AdviceLayer, AdvicePath, Rule};
        let finding = |key: &str| Advice {
            id: Rule::SameRunDelete,
            key: key.into(),
            severity: AdviceSeverity::Low,
            message: "1 file (2 MB) written by layer 1 and deleted by layer 2".into(),
            reclaimable_bytes: 2_000_000,
            layers: vec![AdviceLayer {
                index: 1,
                instruction: "RUN echo \u{1b}[31mred > /x".into(),
            }],
            paths: vec![AdvicePath {
                path: "/tmp/\u{202e}evil".into(),
                bytes: 2_000_000,
                same_as: None,
            }],
            path_count: 5,
            fix: "do it in the same RUN".into(),
            secrets: Vec::new(),
        };
        let text = advice_list(
            &[finding("a"), finding("b")],
            Shown::new(&Redactor::default()),
            1,
            Paint { color: false },
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(text.contains("RUN echo \\x1b[31mred > /x"), "{text}");
        assert!(text.contains("/tmp/\\u{202e}evil"), "{text}");
        assert!(
            text.contains("Advice (2 findings, 4 MB reclaimable)"),
            "{text}"
        );
        assert!(
            text.contains("  low     same-run-delete          2 MB  1 file"),
            "{text}"
        );
        assert!(text.contains("… and 4 more\n"), "{text}");
        assert!(text.contains("… and 1 more (--json lists all)"), "{text}");
        assert!(text.contains("fix     do it in the same RUN"), "{text}");
        assert_eq!(
            advice_list(
                &[],
                Shown::new(&Redactor::default()),
                10,
                Paint { color: false }
            ),
            ""
        );
    }

    #[test]
    fn long_instructions_are_cut_to_one_line() {
        assert_eq!(truncate("RUN a \\\n && b", 20), "RUN a \\ && b");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
    }
}
