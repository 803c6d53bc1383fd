//! Renderings of an [`ImageDiff`]: text (a terminal or a log), Markdown (a pull-request comment) and JSON
//! (schema `layerscope.diff/v1`). The diff's strings are already masked by both images' redactors; here every one
//! of them is escaped ([`crate::escape::escape`]) before it reaches text, and Markdown's own syntax is escaped
//! too, so an image cannot format the comment it ends up in.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::analysis::advice::Advice;
use crate::analysis::diff::{
    AdviceChanges, ConfigChange, FieldChange, ImageDiff, ImageSummary, LayerChange, LayerStatus,
    SizeLimit,
};
use crate::report::markdown::{md, table};
use crate::report::text::{Paint, size};

/// The diff as pretty JSON.
pub fn json(diff: &ImageDiff) -> String {
    serde_json::to_string_pretty(diff).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Image text on one line, control characters escaped.
fn safe(text: &str) -> String {
    crate::escape::escape(text).into_owned()
}

/// A signed size: `+4.8 MB`, `-120 B`, `0 B`.
pub fn signed(delta: i64) -> String {
    match delta {
        d if d > 0 => format!("+{}", size(d.unsigned_abs())),
        d if d < 0 => format!("-{}", size(d.unsigned_abs())),
        _ => size(0),
    }
}

fn ratio(diff: &ImageDiff) -> String {
    diff.size
        .delta_ratio
        .map(|r| format!(", {:+.1} %", r * 100.0))
        .unwrap_or_default()
}

fn name(image: &ImageSummary) -> String {
    safe(image.reference.as_deref().unwrap_or(&image.source))
}

fn paint(p: Paint, style: Style, text: &str) -> String {
    if p.color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

fn bold(p: Paint, text: &str) -> String {
    paint(p, Style::new().bold(), text)
}

fn fg(p: Paint, color: AnsiColor, text: &str) -> String {
    paint(p, Style::new().fg_color(Some(color.into())), text)
}

fn layer_index(i: Option<usize>) -> String {
    i.map_or_else(|| "-".to_string(), |i| i.to_string())
}

fn layer_counts(diff: &ImageDiff) -> (usize, usize, usize) {
    let count = |s: LayerStatus| diff.layers.iter().filter(|l| l.status == s).count();
    (
        count(LayerStatus::Shared),
        count(LayerStatus::Added),
        count(LayerStatus::Removed),
    )
}

fn field_changes(changes: &[FieldChange]) -> String {
    changes
        .iter()
        .map(|c| format!("{} {} -> {}", c.field, safe(&c.a), safe(&c.b)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn config_line(c: &ConfigChange) -> (String, String, String) {
    let what = match &c.key {
        Some(key) => format!("{} {}", c.field, safe(key)),
        None => c.field.to_string(),
    };
    let value = |v: &Option<String>| v.as_deref().map_or("(none)".to_string(), safe);
    (what, value(&c.a), value(&c.b))
}

/// Up to `limit` lines of a list, then how many were left out.
fn capped<T>(out: &mut String, items: &[T], limit: usize, mut line: impl FnMut(&T) -> String) {
    for item in items.iter().take(limit) {
        out.push_str(&line(item));
        out.push('\n');
    }
    if items.len() > limit {
        let _ = writeln!(out, "  … and {} more", items.len() - limit);
    }
}

fn sum_sizes(sizes: impl Iterator<Item = u64>) -> u64 {
    sizes.fold(0u64, u64::saturating_add)
}

/// The diff as text: at most `limit` lines per list of files, layers or findings.
pub fn text(diff: &ImageDiff, p: Paint, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  ->  {}",
        bold(p, "Diff"),
        name(&diff.a),
        name(&diff.b)
    );
    let _ = writeln!(
        out,
        "Size  {} -> {}  ({}{})",
        size(diff.size.a_bytes),
        size(diff.size.b_bytes),
        signed(diff.size.delta_bytes),
        ratio(diff)
    );
    let (shared, added, removed) = layer_counts(diff);
    let _ = writeln!(
        out,
        "\n{}  {shared} shared, {added} added, {removed} removed",
        bold(p, "Layers")
    );
    let _ = writeln!(
        out,
        "  {:<8} {:>3} {:>3} {:>11}  INSTRUCTION",
        "", "A", "B", "SIZE"
    );
    capped(&mut out, &diff.layers, limit, |l: &LayerChange| {
        let shown = match l.status {
            LayerStatus::Shared => size(l.size_bytes),
            _ => signed(l.delta_bytes),
        };
        let line = format!(
            "  {:<8} {:>3} {:>3} {:>11}  {}",
            l.status.name(),
            layer_index(l.a_index),
            layer_index(l.b_index),
            shown,
            crate::report::text::truncate(&safe(&l.instruction), 70)
        );
        match l.status {
            LayerStatus::Shared => line,
            LayerStatus::Added => fg(p, AnsiColor::Green, &line),
            LayerStatus::Removed => fg(p, AnsiColor::Red, &line),
        }
    });
    if !diff.directories.is_empty() {
        let _ = writeln!(out, "\n{}", bold(p, "Where the size went"));
        for d in &diff.directories {
            let _ = writeln!(
                out,
                "  {:>11}  {}  ({} -> {})",
                signed(d.delta_bytes),
                safe(&d.path),
                size(d.a_bytes),
                size(d.b_bytes)
            );
        }
    }
    let f = &diff.files;
    let _ = writeln!(
        out,
        "\n{}  {} added ({}), {} removed ({}), {} changed ({}), {} metadata only",
        bold(p, "Files"),
        f.added.len(),
        signed(i64::try_from(sum_sizes(f.added.iter().map(|e| e.size))).unwrap_or(i64::MAX)),
        f.removed.len(),
        signed(-i64::try_from(sum_sizes(f.removed.iter().map(|e| e.size))).unwrap_or(i64::MAX)),
        f.content_changed.len(),
        signed(
            f.content_changed
                .iter()
                .map(|c| c.delta_bytes)
                .fold(0i64, i64::saturating_add)
        ),
        f.metadata_changed.len()
    );
    capped(&mut out, &f.added, limit, |e| {
        fg(
            p,
            AnsiColor::Green,
            &format!("  + {:>10}  {}", size(e.size), safe(&e.path)),
        )
    });
    capped(&mut out, &f.removed, limit, |e| {
        fg(
            p,
            AnsiColor::Red,
            &format!("  - {:>10}  {}", size(e.size), safe(&e.path)),
        )
    });
    capped(&mut out, &f.content_changed, limit, |c| {
        let kinds = if c.a_type != c.b_type {
            format!(" ({} -> {})", c.a_type.name(), c.b_type.name())
        } else {
            String::new()
        };
        fg(
            p,
            AnsiColor::Yellow,
            &format!(
                "  ~ {:>10}  {}  ({} -> {}){kinds}",
                signed(c.delta_bytes),
                safe(&c.path),
                size(c.a_size),
                size(c.b_size)
            ),
        )
    });
    capped(&mut out, &f.metadata_changed, limit, |m| {
        format!(
            "  m {:>10}  {}  {}",
            "",
            safe(&m.path),
            field_changes(&m.changes)
        )
    });
    if !diff.config.is_empty() {
        let _ = writeln!(out, "\n{}", bold(p, "Config"));
        for c in &diff.config {
            let (what, a, b) = config_line(c);
            let _ = writeln!(out, "  {what}: {a} -> {b}");
        }
    }
    if let Some(s) = &diff.secrets {
        let _ = writeln!(
            out,
            "\n{}  {} appeared, {} resolved",
            bold(p, "Secrets"),
            s.appeared.len(),
            s.resolved.len()
        );
        for (mark, list, color) in [
            ("+", &s.appeared, AnsiColor::Red),
            ("-", &s.resolved, AnsiColor::Green),
        ] {
            capped(&mut out, list, limit, |f| {
                let place = f.path.as_deref().unwrap_or(f.location.name());
                let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                fg(
                    p,
                    color,
                    &format!(
                        "  {mark} {:<8} {}  {}{line}  {}",
                        f.severity.name(),
                        safe(&f.rule),
                        safe(place),
                        safe(&f.redacted)
                    ),
                )
            });
        }
    }
    advice_text(&mut out, &diff.advice, p, limit);
    out
}

/// The advice delta: `+` appeared, `-` resolved, `~` reclaimable bytes changed.
fn advice_text(out: &mut String, a: &AdviceChanges, p: Paint, limit: usize) {
    if a.appeared.is_empty() && a.resolved.is_empty() && a.changed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{}  {} appeared, {} resolved, {} changed",
        bold(p, "Advice"),
        a.appeared.len(),
        a.resolved.len(),
        a.changed.len()
    );
    let line = |mark: &str, f: &Advice| {
        let bytes = match f.reclaimable_bytes {
            0 => String::new(),
            b => size(b),
        };
        format!(
            "  {mark} {:<6} {:<17} {bytes:>10}  {}",
            f.severity.name(),
            f.id.id(),
            safe(&f.message)
        )
    };
    capped(out, &a.appeared, limit, |f| {
        fg(p, AnsiColor::Red, &line("+", f))
    });
    capped(out, &a.resolved, limit, |f| {
        fg(p, AnsiColor::Green, &line("-", f))
    });
    capped(out, &a.changed, limit, |c| {
        fg(
            p,
            AnsiColor::Yellow,
            &format!(
                "  ~ {:<6} {:<17} {:>10}  {}  ({} -> {})",
                c.severity.name(),
                c.id.id(),
                signed(c.delta_bytes),
                safe(&c.message),
                size(c.a_bytes),
                size(c.b_bytes)
            ),
        )
    });
}

/// The CI line for `--max-size-increase`.
pub fn size_gate(diff: &ImageDiff, limit: &SizeLimit, exceeded: bool) -> String {
    let percent = diff
        .size
        .delta_ratio
        .map(|r| format!(" ({:+.1} %)", r * 100.0))
        .unwrap_or_default();
    let limit = match limit {
        SizeLimit::Bytes(b) => size(*b),
        SizeLimit::Ratio(r) => format!("{} % of A", r * 100.0),
    };
    format!(
        "Size increase {}{percent} {} the limit of {limit}: {}\n",
        signed(diff.size.delta_bytes),
        if exceeded { "exceeds" } else { "is within" },
        if exceeded { "FAIL" } else { "PASS" }
    )
}

/// The diff as Markdown (for a pull-request comment): at most `limit` rows per table.
pub fn markdown(diff: &ImageDiff, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Image diff: {} → {}\n",
        md(&name_raw(&diff.a)),
        md(&name_raw(&diff.b))
    );
    let _ = writeln!(
        out,
        "**Size** {} → {} (**{}**{})\n",
        size(diff.size.a_bytes),
        size(diff.size.b_bytes),
        signed(diff.size.delta_bytes),
        ratio(diff)
    );
    let (shared, added, removed) = layer_counts(diff);
    let _ = writeln!(
        out,
        "#### Layers: {shared} shared, {added} added, {removed} removed\n"
    );
    let _ = writeln!(
        out,
        "| | A | B | size | instruction |\n|---|---:|---:|---:|---|"
    );
    table(&mut out, &diff.layers, limit, 5, |l| {
        format!(
            "| {} | {} | {} | {} | {} |",
            l.status.name(),
            layer_index(l.a_index),
            layer_index(l.b_index),
            match l.status {
                LayerStatus::Shared => size(l.size_bytes),
                _ => signed(l.delta_bytes),
            },
            md(&crate::report::text::truncate(&l.instruction, 80))
        )
    });
    if !diff.directories.is_empty() {
        let _ = writeln!(out, "\n#### Where the size went\n");
        let _ = writeln!(out, "| change | directory | A | B |\n|---:|---|---:|---:|");
        table(&mut out, &diff.directories, usize::MAX, 4, |d| {
            format!(
                "| {} | {} | {} | {} |",
                signed(d.delta_bytes),
                md(&d.path),
                size(d.a_bytes),
                size(d.b_bytes)
            )
        });
    }
    let f = &diff.files;
    let _ = writeln!(
        out,
        "\n#### Files: {} added, {} removed, {} changed, {} metadata only\n",
        f.added.len(),
        f.removed.len(),
        f.content_changed.len(),
        f.metadata_changed.len()
    );
    let rows: Vec<String> = f
        .added
        .iter()
        .map(|e| format!("| added | {} | {} |", md(&e.path), signed(delta_of(e.size))))
        .chain(f.removed.iter().map(|e| {
            format!(
                "| removed | {} | {} |",
                md(&e.path),
                signed(-delta_of(e.size))
            )
        }))
        .chain(f.content_changed.iter().map(|c| {
            format!(
                "| changed | {} | {} ({} → {}) |",
                md(&c.path),
                signed(c.delta_bytes),
                size(c.a_size),
                size(c.b_size)
            )
        }))
        .chain(f.metadata_changed.iter().map(|m| {
            let changes: Vec<String> = m
                .changes
                .iter()
                .map(|c| format!("{} {} → {}", c.field, md(&c.a), md(&c.b)))
                .collect();
            format!("| metadata | {} | {} |", md(&m.path), changes.join(", "))
        }))
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(out, "| | path | size |\n|---|---|---:|");
        table(&mut out, &rows, limit, 3, String::clone);
    }
    if !diff.config.is_empty() {
        let _ = writeln!(out, "\n#### Config\n\n| field | A | B |\n|---|---|---|");
        for c in &diff.config {
            let (what, a, b) = config_line(c);
            let _ = writeln!(out, "| {} | {} | {} |", md(&what), md(&a), md(&b));
        }
    }
    if let Some(s) = &diff.secrets {
        let _ = writeln!(
            out,
            "\n#### Secrets: {} appeared, {} resolved\n",
            s.appeared.len(),
            s.resolved.len()
        );
        let rows: Vec<String> = s
            .appeared
            .iter()
            .map(|f| ("appeared", f))
            .chain(s.resolved.iter().map(|f| ("resolved", f)))
            .map(|(what, f)| {
                format!(
                    "| {what} | {} | {} | {} | {} |",
                    f.severity.name(),
                    md(&f.rule),
                    md(f.path.as_deref().unwrap_or(f.location.name())),
                    md(&f.redacted)
                )
            })
            .collect();
        if !rows.is_empty() {
            let _ = writeln!(
                out,
                "| | severity | rule | where | match |\n|---|---|---|---|---|"
            );
            table(&mut out, &rows, limit, 5, String::clone);
        }
    }
    advice_markdown(&mut out, &diff.advice, limit);
    out
}

fn advice_markdown(out: &mut String, a: &AdviceChanges, limit: usize) {
    if a.appeared.is_empty() && a.resolved.is_empty() && a.changed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n#### Advice: {} appeared, {} resolved, {} changed\n",
        a.appeared.len(),
        a.resolved.len(),
        a.changed.len()
    );
    let row = |what: &str, f: &Advice, bytes: String| {
        format!(
            "| {what} | {} | `{}` | {bytes} | {} |",
            f.severity.name(),
            f.id.id(),
            md(&f.message)
        )
    };
    let rows: Vec<String> = a
        .appeared
        .iter()
        .map(|f| row("appeared", f, size(f.reclaimable_bytes)))
        .chain(
            a.resolved
                .iter()
                .map(|f| row("resolved", f, size(f.reclaimable_bytes))),
        )
        .chain(a.changed.iter().map(|c| {
            format!(
                "| changed | {} | `{}` | {} → {} ({}) | {} |",
                c.severity.name(),
                c.id.id(),
                size(c.a_bytes),
                size(c.b_bytes),
                signed(c.delta_bytes),
                md(&c.message)
            )
        }))
        .collect();
    let _ = writeln!(
        out,
        "| | severity | rule | reclaimable | finding |\n|---|---|---|---:|---|"
    );
    table(out, &rows, limit, 5, String::clone);
}

fn name_raw(image: &ImageSummary) -> String {
    image
        .reference
        .clone()
        .unwrap_or_else(|| image.source.clone())
}

fn delta_of(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_sizes_show_their_direction() {
        assert_eq!(signed(1500), "+1.50 kB");
        assert_eq!(signed(-20), "-20 B");
        assert_eq!(signed(0), "0 B");
    }
}
