//! The `?` overlay: every binding of the key table, grouped by where it applies.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{inner, pane};
use crate::tui::keymap::{BINDINGS, Context};
use crate::tui::theme::Theme;

const ORDER: [Context; 7] = [
    Context::Global,
    Context::Layers,
    Context::Tree,
    Context::List,
    Context::Advice,
    Context::Viewer,
    Context::Help,
];

fn lines(theme: Theme) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::raw(
            "Colours: added green (+), modified yellow (~), removed red (-, still listed), unmodified plain.",
        ),
        Line::raw(
            "diff A B: B's paths against A: A added, C content changed, M metadata only, R removed, • inside.",
        ),
        Line::raw(
            "          d lists only them. Layers: = shared with A (same diff_id), + new; - A's that B lacks.",
        ),
    ];
    for ctx in ORDER {
        out.push(Line::raw(""));
        out.push(Line::styled(ctx.title(), theme.title()));
        for b in BINDINGS.iter().filter(|b| b.context == ctx) {
            out.push(Line::from(vec![
                Span::styled(format!("  {:<14}", b.label), theme.key()),
                Span::raw(b.help),
            ]));
        }
    }
    out
}

pub fn line_count() -> usize {
    lines(Theme { color: false }).len()
}

pub fn draw(frame: &mut Frame, area: Rect, scroll: usize, theme: Theme) {
    frame.render_widget(
        pane(" Keys (? or Esc closes, Up/Down scroll) ", true, theme),
        area,
    );
    let body = inner(area);
    let all = lines(theme);
    let shown: Vec<Line> = all
        .into_iter()
        .skip(scroll)
        .take(body.height as usize)
        .collect();
    frame.render_widget(Paragraph::new(shown), body);
}
