//! The `i` overlay: the advice, one finding per row (severity, rule, bytes it saves, what was found), and below
//! the list the selected finding whole: its key, the layers and instructions involved, the top paths with their
//! bytes and the fix, wrapped, never cut. Enter jumps to the finding's first path at its layer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, labeled, padded, pane, wrap};
use crate::analysis::advice::{Advice, Severity};
use crate::report::text::size;
use crate::tui::advice_list;
use crate::tui::app::{App, ListCursor};
use crate::tui::theme::Theme;

/// Rows of findings the overlay lists (the rest of it shows the selected finding): up to half of it.
pub fn list_rows(overlay: Rect, len: usize) -> usize {
    let body = overlay.height.saturating_sub(3) as usize;
    len.clamp(1, (body / 2).max(3)).min(body.max(1))
}

fn severity_style(s: Severity, theme: Theme) -> ratatui::style::Style {
    match s {
        Severity::High => theme.warn(),
        Severity::Medium => theme.change(crate::tree::ChangeKind::Modified),
        _ => ratatui::style::Style::new(),
    }
}

/// The selected finding, whole: masked with the analysis's redactor and escaped (through `wrap`/`labeled`).
fn details(app: &App, a: &Advice, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mask = |t: &str| app.analysis.redactor.mask(t).into_owned();
    let mut out: Vec<Line<'static>> = wrap(&mask(&a.message), width)
        .into_iter()
        .map(|l| Line::styled(l, theme.title()))
        .collect();
    out.extend(labeled("id      ", &mask(&a.key), width, theme));
    if a.reclaimable_bytes > 0 {
        out.extend(labeled(
            "saves   ",
            &size(a.reclaimable_bytes),
            width,
            theme,
        ));
    }
    for l in &a.layers {
        let text = format!("{} {}", l.index, mask(&l.instruction));
        out.extend(labeled("layer   ", &text, width, theme));
    }
    for p in &a.paths {
        let bytes = match p.bytes {
            0 => String::new(),
            b => size(b),
        };
        let text = format!("{bytes:>10}  {}", mask(&p.path));
        out.extend(labeled("path    ", &text, width, theme));
    }
    if a.path_count > a.paths.len() {
        let more = format!("… and {} more", a.path_count - a.paths.len());
        out.extend(labeled("path    ", &more, width, theme));
    }
    out.extend(labeled("fix     ", &mask(&a.fix), width, theme));
    out
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, cursor: ListCursor, theme: Theme) {
    let advice = &app.analysis.advice;
    let title = format!(
        " Advice: {} findings, {} reclaimable (Enter jumps, Esc closes) ",
        advice.len(),
        size(advice_list::total_bytes(advice))
    );
    frame.render_widget(pane(title, true, theme), area);
    let body = inner(area);
    let width = body.width as usize;
    let mut lines = vec![Line::styled(
        fit(&advice_list::header(), width),
        theme.title(),
    )];
    if advice.is_empty() {
        lines.push(Line::styled(
            "  (none: nothing to change that the rules know of)",
            theme.dim(),
        ));
    }
    let rows = list_rows(area, advice.len());
    for (i, a) in advice.iter().enumerate().skip(cursor.top).take(rows) {
        // The row opens with the severity (ASCII, from no image), coloured apart from the rest.
        let text = advice_list::row(a);
        let head = a.severity.name();
        let rest = text.get(head.len()..).unwrap_or_default();
        let rest = app.analysis.redactor.mask(rest);
        let mut line = padded(
            vec![
                Span::styled(fit(head, width), severity_style(a.severity, theme)),
                Span::raw(fit(&rest, width.saturating_sub(head.len()))),
            ],
            width,
        );
        if i == cursor.selected {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    if let Some(a) = advice.get(cursor.selected) {
        let shown = lines.len();
        let room = (body.height as usize).saturating_sub(shown + 1);
        if room > 0 {
            lines.push(Line::styled("─".repeat(width), theme.dim()));
            lines.extend(details(app, a, width, theme).into_iter().take(room));
        }
    }
    frame.render_widget(Paragraph::new(lines), body);
}
