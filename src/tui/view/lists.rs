//! The `w` and `s` overlays: every wasted file (bytes, layers, why it is gone) and the secret findings
//! (severity, confidence, layer, rule, status, path, match; see `secret_list` for their order and which are
//! hidden), scrollable; Enter jumps to the file at its layer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, padded, pane};
use crate::report::text::size;
use crate::secrets::Confidence;
use crate::tui::app::{App, ListCursor};
use crate::tui::theme::Theme;

fn draw_list(
    frame: &mut Frame,
    area: Rect,
    title: String,
    header: String,
    items: &[String],
    cursor: ListCursor,
    theme: Theme,
) {
    frame.render_widget(pane(title, true, theme), area);
    let body = inner(area);
    let width = body.width as usize;
    let mut lines = vec![Line::styled(fit(&header, width), theme.title())];
    if items.is_empty() {
        lines.push(Line::styled("  (none)", theme.dim()));
    }
    let rows = body.height.saturating_sub(1) as usize;
    for (i, text) in items.iter().enumerate().skip(cursor.top).take(rows) {
        let mut line = padded(vec![Span::raw(fit(text, width))], width);
        if i == cursor.selected {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), body);
}

pub fn draw_wasted(frame: &mut Frame, area: Rect, app: &App, cursor: ListCursor, theme: Theme) {
    let waste = &app.analysis.waste;
    let items: Vec<String> = waste
        .files
        .iter()
        .map(|f| {
            let layers: Vec<String> = f.layers.iter().map(u32::to_string).collect();
            format!(
                "{:>10}  {:<12} {:<11} {}",
                size(f.wasted_bytes),
                layers.join(","),
                f.reason.name(),
                app.analysis.redactor.mask(&f.path)
            )
        })
        .collect();
    let title = format!(
        " Wasted files: {} in {} files (Enter jumps, Esc closes) ",
        size(waste.wasted_bytes),
        waste.files.len()
    );
    let header = format!(
        "{:>10}  {:<12} {:<11} {}",
        "wasted", "layers", "reason", "path"
    );
    draw_list(frame, area, title, header, &items, cursor, theme);
}

pub fn draw_secrets(frame: &mut Frame, area: Rect, app: &App, cursor: ListCursor, theme: Theme) {
    let items: Vec<String> = app
        .secrets
        .iter(&app.analysis.secrets)
        .map(|s| {
            let status = match s.removed_in {
                Some(l) => format!("{} in {l}", s.status.name()),
                None => s.status.name().to_string(),
            };
            format!(
                "{:<8} {:<4} {:>5}  {:<24} {:<16} {}  {}",
                s.severity.name(),
                confidence(s.confidence),
                s.layer.map_or("-".into(), |l| l.to_string()),
                s.rule,
                status,
                s.path.as_deref().unwrap_or(s.location.name()),
                s.redacted
            )
        })
        .collect();
    let list = &app.secrets;
    let low = match (list.low, list.show_low) {
        (0, _) => String::new(),
        (_, true) => "; a hides the low-confidence ones".to_string(),
        (_, false) => "; a lists the low-confidence ones".to_string(),
    };
    let title = format!(
        " Secrets: {}{low} (Enter jumps, Esc closes) ",
        list.summary()
    );
    let header = format!(
        "{:<8} {:<4} {:>5}  {:<24} {:<16} {}",
        "severity", "conf", "layer", "rule", "status", "path  match"
    );
    draw_list(frame, area, title, header, &items, cursor, theme);
}

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Low => "low",
    }
}
