//! Markdown: the one escaping of image text for Markdown ([`md`]) and capped tables that the diff report shares,
//! and the single-image report (`layerscope IMAGE --markdown FILE`): a summary for a pull-request comment or a
//! CI job summary with the verdict, the numbers and their definitions, the top advice, the secrets (redacted)
//! and the layers.
//!
//! Every image-derived string is masked by the analysis's redactor, then escaped for terminals
//! ([`crate::escape::escape`]) and for Markdown, so an image can neither show a secret nor format the comment.

use std::fmt::Write as _;

use crate::analysis::Analysis;
use crate::ci::{CiOutcome, RuleStatus};
use crate::image::Image;
use crate::report::text::{size, truncate};
use crate::secrets::{Confidence, SecretFinding, Status};

/// How many advice findings, secret findings and layers the report lists (the rest are counted).
const TOP_ADVICE: usize = 10;
const TOP_SECRETS: usize = 20;
const TOP_LAYERS: usize = 50;

/// Image text for Markdown: one line, control characters escaped, and nothing Markdown or HTML would read as
/// syntax (so a path cannot add links, images, tables or HTML to a comment).
pub fn md(text: &str) -> String {
    let mut out = String::new();
    for c in crate::escape::escape(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '|' | '~' | '#' | '!' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Table rows, at most `limit`, then a row saying how many were left out.
pub fn table<T>(
    out: &mut String,
    rows: &[T],
    limit: usize,
    columns: usize,
    row: impl Fn(&T) -> String,
) {
    for r in rows.iter().take(limit) {
        out.push_str(&row(r));
        out.push('\n');
    }
    if rows.len() > limit {
        let _ = writeln!(
            out,
            "| … {} more |{}",
            rows.len() - limit,
            " |".repeat(columns.saturating_sub(1))
        );
    }
}

fn percent(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// The report for one image; `outcome` is the CI result when the rules were evaluated.
pub fn report(image: &Image, analysis: &Analysis, outcome: Option<&CiOutcome>) -> String {
    // Masked, then escaped for terminals and Markdown.
    let shown = |raw: &str| md(&analysis.redactor.mask(raw));
    let meta = &image.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### layerscope: {}\n",
        shown(meta.reference.as_deref().unwrap_or(&meta.config_digest))
    );
    verdict(&mut out, analysis, outcome);
    numbers(&mut out, image, analysis);
    advice(&mut out, analysis);
    secrets(&mut out, analysis);
    layers(&mut out, image, analysis);
    out
}

fn verdict(out: &mut String, analysis: &Analysis, outcome: Option<&CiOutcome>) {
    let w = &analysis.waste;
    let summary = format!(
        "{} wasted of {}, efficiency {}",
        size(w.wasted_bytes),
        size(analysis.size_bytes),
        percent(w.efficiency)
    );
    let Some(outcome) = outcome else {
        let _ = writeln!(out, "{summary}.\n");
        return;
    };
    let result = if outcome.passed {
        "✅ PASS"
    } else {
        "❌ FAIL"
    };
    let _ = writeln!(out, "**CI: {result}**: {summary}.\n");
    let _ = writeln!(
        out,
        "| rule | result | actual | threshold |\n|---|---|---:|---:|"
    );
    for r in &outcome.rules {
        let status = match r.status {
            RuleStatus::Pass => "PASS",
            RuleStatus::Fail => "**FAIL**",
            RuleStatus::Skip => "SKIP",
        };
        let value = |v: f64| {
            if r.bytes {
                size(v as u64)
            } else if r.policy.is_some() {
                format!("{v}")
            } else {
                format!("{v:.4}")
            }
        };
        let threshold = match (r.policy, r.threshold) {
            (Some(policy), _) => format!("policy {policy}"),
            (None, Some(t)) => value(t),
            (None, None) => "-".to_string(),
        };
        let actual = match &r.detail {
            Some(detail) => md(detail),
            None => value(r.actual),
        };
        let _ = writeln!(out, "| {} | {status} | {actual} | {threshold} |", r.name);
    }
    out.push('\n');
}

fn numbers(out: &mut String, image: &Image, analysis: &Analysis) {
    let w = &analysis.waste;
    let _ = writeln!(out, "#### Numbers\n");
    let _ = writeln!(out, "| | value | meaning |\n|---|---:|---|");
    let rows = [
        (
            "size",
            size(analysis.size_bytes),
            format!(
                "the sum of the regular-file bytes of the {} layers",
                image.layers.len()
            ),
        ),
        (
            "wasted",
            size(w.wasted_bytes),
            "bytes of file versions not visible in the final image: overwritten by a later entry, deleted by \
             a whiteout, or hidden under a deleted, opaque or replaced directory"
                .to_string(),
        ),
        (
            "efficiency",
            percent(w.efficiency),
            "1 - wasted / size (100 % for an empty image)".to_string(),
        ),
        (
            "user waste",
            percent(w.user_wasted_ratio),
            format!(
                "wasted / the size of the layers above the base image ({} base layer{})",
                analysis.base_layers,
                if analysis.base_layers == 1 { "" } else { "s" }
            ),
        ),
    ];
    for (name, value, meaning) in rows {
        let _ = writeln!(out, "| {name} | {value} | {meaning} |");
    }
    if !analysis.overflowed.is_empty() {
        let _ = writeln!(
            out,
            "\nNot computable (over 2^64 bytes): {}; the numbers derived from them cannot be trusted.",
            md(&analysis.overflowed.join(", "))
        );
    }
    out.push('\n');
}

fn advice(out: &mut String, analysis: &Analysis) {
    let advice = &analysis.advice;
    if advice.is_empty() {
        let _ = writeln!(out, "#### Advice\n\nNothing to change.\n");
        return;
    }
    let total = advice
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.reclaimable_bytes));
    let _ = writeln!(
        out,
        "#### Advice: {} findings, {} reclaimable\n",
        advice.len(),
        size(total)
    );
    let _ = writeln!(
        out,
        "| severity | rule | saves | finding | layers | fix |\n|---|---|---:|---|---|---|"
    );
    // The advice was masked when it was attached (`advice::attach`); masking again is harmless.
    let shown = |raw: &str| md(&analysis.redactor.mask(raw));
    // Masked before it is cut: a cut secret would no longer match the mask.
    let cut = |raw: &str, width| md(&truncate(&analysis.redactor.mask(raw), width));
    table(out, advice, TOP_ADVICE, 6, |a| {
        let layers: Vec<String> = a
            .layers
            .iter()
            .map(|l| format!("{} {}", l.index, cut(&l.instruction, 50)))
            .collect();
        let bytes = match a.reclaimable_bytes {
            0 => "-".to_string(),
            b => size(b),
        };
        let mut finding = shown(&a.message);
        if let Some(top) = a.paths.first() {
            let _ = write!(finding, " (e.g. {}", shown(&top.path));
            if a.path_count > 1 {
                let _ = write!(finding, " and {} more", a.path_count - 1);
            }
            finding.push(')');
        }
        format!(
            "| {} | `{}` | {bytes} | {finding} | {} | {} |",
            a.severity.name(),
            a.id.id(),
            layers.join("; "),
            shown(&a.fix)
        )
    });
    out.push('\n');
}

fn secret_place(f: &SecretFinding) -> String {
    match (&f.path, f.line) {
        (Some(path), Some(line)) => format!("{path}:{line}"),
        (Some(path), None) => path.clone(),
        (None, _) => f.location.name().to_string(),
    }
}

fn secrets(out: &mut String, analysis: &Analysis) {
    if analysis.secrets.is_empty() {
        return;
    }
    let shown = |raw: &str| md(&analysis.redactor.mask(raw));
    let mut high: Vec<&SecretFinding> = analysis
        .secrets
        .iter()
        .filter(|f| f.confidence == Confidence::High)
        .collect();
    high.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.layer.cmp(&b.layer)));
    let low = analysis.secrets.len() - high.len();
    let shipped = high.iter().filter(|f| f.status != Status::Visible).count();
    let _ = writeln!(
        out,
        "#### Secrets: {} high-confidence ({shipped} removed by a later layer but still shipped), {low} low-confidence\n",
        high.len()
    );
    if !high.is_empty() {
        let _ = writeln!(
            out,
            "| severity | layer | rule | where | status | match |\n|---|---:|---|---|---|---|"
        );
        table(out, &high, TOP_SECRETS, 6, |f| {
            let status = match (f.status, f.removed_in) {
                (Status::Visible, _) => "visible".to_string(),
                (status, Some(l)) => format!("{} in layer {l}", status.name()),
                (status, None) => status.name().to_string(),
            };
            format!(
                "| {} | {} | {} | {} | {status} | {} |",
                f.severity.name(),
                f.layer.map_or("-".to_string(), |l| l.to_string()),
                shown(&f.rule),
                shown(&secret_place(f)),
                shown(&f.redacted)
            )
        });
        out.push('\n');
    }
}

fn layers(out: &mut String, image: &Image, analysis: &Analysis) {
    let cut = |raw: &str, width| md(&truncate(&analysis.redactor.mask(raw), width));
    let _ = writeln!(out, "#### Layers\n");
    let _ = writeln!(
        out,
        "| # | size | added | modified | deleted | instruction |\n|---:|---:|---:|---:|---:|---|"
    );
    let rows: Vec<_> = image.layers.iter().zip(&analysis.layers).collect();
    table(out, &rows, TOP_LAYERS, 6, |(layer, stats)| {
        let c = stats.counts;
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            layer.index,
            size(stats.size_bytes),
            c.added,
            c.modified,
            c.deleted,
            cut(&layer.history.instruction, 100)
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name cannot open a link, an image, HTML or a new table cell in a Markdown comment.
    #[test]
    fn markdown_syntax_in_image_text_is_escaped() {
        assert_eq!(
            md("/a|b/[x](http://e)<img src=x>`c`\n# h"),
            "/a\\|b/\\[x\\]\\(http://e\\)&lt;img src=x&gt;\\`c\\`\\\\x0a\\# h"
        );
    }

    #[test]
    fn a_long_table_says_how_many_rows_it_left_out() {
        let mut out = String::new();
        table(&mut out, &[1, 2, 3], 2, 3, |n| format!("| {n} | | |"));
        assert_eq!(out, "| 1 | | |\n| 2 | | |\n| … 1 more | | |\n");
    }
}
