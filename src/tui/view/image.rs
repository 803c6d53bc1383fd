//! The image details pane: reference and platform in its title, total size, wasted bytes, efficiency, the user
//! waste ratio and the secrets count (flowed to the width, never cut), then one scrollable list of the wasted
//! files (largest first) followed by the secrets found.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, flow, inner, padded, pane};
use crate::report::text::size;
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

/// The lines above the list, for an inner width: the figures, then the list's column titles.
pub fn summary(app: &App, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let waste = &app.analysis.waste;
    let label = |t: &'static str| Span::styled(t, theme.dim());
    let secrets = &app.secrets;
    let analysing = |figure: String| super::loading::partial::figure(app, figure);
    let mut lines = flow(
        vec![
            vec![
                label("total "),
                Span::raw(analysing(size(app.analysis.size_bytes))),
            ],
            vec![
                label("wasted "),
                Span::raw(analysing(size(waste.wasted_bytes))),
            ],
            vec![
                label("efficiency "),
                Span::raw(analysing(format!("{:.1} %", waste.efficiency * 100.0))),
            ],
            vec![
                label("user waste "),
                Span::raw(analysing(format!(
                    "{:.1} %",
                    waste.user_wasted_ratio * 100.0
                ))),
            ],
            vec![
                label("secrets "),
                Span::styled(
                    analysing(secrets.summary()),
                    if secrets.counted == 0 {
                        theme.dim()
                    } else {
                        theme.warn()
                    },
                ),
            ],
        ],
        width,
    );
    lines.push(Line::styled(
        fit(&format!("{:>9}  {}", "wasted", "path (layers)"), width),
        theme.title(),
    ));
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let focused = app.focus == Pane::Image && app.overlay.is_none();
    let body = inner(area);
    let width = body.width as usize;
    let meta = &app.image.meta;
    let mask = &app.analysis.redactor;
    let named = match &meta.reference {
        Some(reference) => format!("{} · {}", mask.mask(reference), meta.platform),
        None => meta.platform.to_string(),
    };
    let title = format!(" Image {} ", fit(&named, width.saturating_sub(8)));
    frame.render_widget(pane(title, focused, theme), area);
    let waste = &app.analysis.waste;
    let findings = &app.analysis.secrets;
    let secrets = &app.secrets;
    let mut lines = summary(app, width, theme);
    let rows = (body.height as usize).saturating_sub(lines.len());
    let total = waste.files.len() + secrets.len();
    for i in (app.image_list.top..total).take(rows) {
        let text = if let Some(f) = waste.files.get(i) {
            let layers: Vec<String> = f.layers.iter().map(u32::to_string).collect();
            format!(
                "{:>9}  {} ({})",
                size(f.wasted_bytes),
                mask.mask(&f.path),
                layers.join(",")
            )
        } else {
            let Some(s) = secrets.get(i - waste.files.len(), findings) else {
                break;
            };
            format!(
                "{:>9}  {} {} L{}",
                "secret",
                s.rule,
                s.path.as_deref().unwrap_or(s.location.name()),
                s.layer.map_or("-".into(), |l| l.to_string())
            )
        };
        let mut line = padded(vec![Span::raw(fit(&text, width))], width);
        if i == app.image_list.selected {
            line = line.style(theme.selected(focused));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), body);
}
