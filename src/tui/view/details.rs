//! The layer details pane: the full instruction (wrapped, never cut), the size and the added / modified /
//! deleted file counts of the selected layer, then the raw history with build-argument values masked, the
//! creation time and the diff_id. The layout sizes the pane so that the instruction and counts always fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{flow, inner, labeled, pane};
use crate::report::text::size;
use crate::secrets::redact_created_by;
use crate::tree::ChangeKind;
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// The pane's lines for an inner width, and how many of them come first and must be shown whole (the
/// instruction, the size and the counts).
pub fn lines(app: &App, width: usize, theme: Theme) -> (Vec<Line<'static>>, usize) {
    let Some(layer) = app.image.layers.get(app.layer) else {
        return (Vec::new(), 0);
    };
    let history = &layer.history;
    let instruction = redact_created_by(&history.instruction);
    let instruction = if instruction.is_empty() {
        "(no history)".to_string()
    } else {
        instruction
    };
    let mut out = labeled("command ", &instruction, width, theme);
    let stats = app.analysis.layers.get(app.layer);
    let counts = stats.map(|s| s.counts).unwrap_or_default();
    let label = |t: &'static str| Span::styled(t, theme.dim());
    let count = |what: &'static str, n: u64, kind: ChangeKind| {
        vec![label(what), Span::styled(n.to_string(), theme.change(kind))]
    };
    // "files" names the unit of the three counts; each item stays whole when the pane is narrow.
    // A layer still loading: its figures come when it does.
    let figures = match (stats, &app.loading) {
        (None, Some(_)) => vec![vec![label("size "), Span::raw("loading…")]],
        _ => Vec::new(),
    };
    out.extend(flow(
        if !figures.is_empty() {
            figures
        } else {
            vec![
                vec![
                    label("size "),
                    Span::raw(size(stats.map_or(0, |s| s.size_bytes))),
                ],
                count("files added ", counts.added, ChangeKind::Added),
                count("modified ", counts.modified, ChangeKind::Modified),
                count("deleted ", counts.deleted, ChangeKind::Deleted),
            ]
        },
        width,
    ));
    let essential = out.len();
    let raw = history.created_by.trim_start();
    if raw.trim_start_matches("RUN ").trim_start().starts_with('|') {
        out.extend(labeled(
            "history ",
            &redact_created_by(&history.created_by),
            width,
            theme,
        ));
    }
    if let Some(created) = &history.created {
        out.extend(labeled("created ", created, width, theme));
    }
    out.extend(labeled("diff_id ", &layer.diff_id, width, theme));
    (out, essential)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let title = format!(" Layer {} ", app.layer);
    frame.render_widget(pane(title, false, theme), area);
    let body = inner(area);
    let (lines, _) = lines(app, body.width as usize, theme);
    frame.render_widget(Paragraph::new(lines), body);
}
