//! The layer details pane: the full instruction (wrapped), the raw history with build-argument values masked,
//! diff_id, size and the added / modified / deleted counts of the selected layer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{inner, pane, safe};
use crate::report::text::size;
use crate::secrets::redact_created_by;
use crate::tui::app::App;
use crate::tui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let title = format!(" Layer {} ", app.layer);
    frame.render_widget(pane(title, false, theme), area);
    let Some(layer) = app.image.layers.get(app.layer) else {
        return;
    };
    let stats = app.analysis.layers.get(app.layer);
    let counts = stats.map(|s| s.counts).unwrap_or_default();
    let label = |t: &'static str| Span::styled(t, theme.dim());
    let mut lines = vec![Line::from(vec![
        label("size "),
        Span::raw(size(stats.map_or(0, |s| s.size_bytes))),
        label("  added "),
        Span::styled(
            counts.added.to_string(),
            theme.change(crate::tree::ChangeKind::Added),
        ),
        label(" modified "),
        Span::styled(
            counts.modified.to_string(),
            theme.change(crate::tree::ChangeKind::Modified),
        ),
        label(" deleted "),
        Span::styled(
            counts.deleted.to_string(),
            theme.change(crate::tree::ChangeKind::Deleted),
        ),
    ])];
    let history = &layer.history;
    let instruction = redact_created_by(&history.instruction);
    lines.push(Line::from(vec![
        label("command "),
        Span::raw(if instruction.is_empty() {
            "(no history)".to_string()
        } else {
            safe(&instruction)
        }),
    ]));
    let raw = history.created_by.trim_start();
    if raw.trim_start_matches("RUN ").trim_start().starts_with('|') {
        lines.push(Line::from(vec![
            label("history "),
            Span::raw(safe(&redact_created_by(&history.created_by))),
        ]));
    }
    lines.push(Line::from(vec![
        label("diff_id "),
        Span::raw(safe(&layer.diff_id)),
    ]));
    if let Some(created) = &history.created {
        lines.push(Line::from(vec![
            label("created "),
            Span::raw(safe(created)),
        ]));
    }
    let text = Paragraph::new(lines).wrap(Wrap { trim: false });
    frame.render_widget(text, inner(area));
}
