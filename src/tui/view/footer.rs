//! The bottom line: the open prompt, else a status message, else the main keys of the focused pane (from the
//! key table).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit;
use crate::tui::app::{App, PromptKind};
use crate::tui::keymap;
use crate::tui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let width = area.width as usize;
    let line = if let Some(prompt) = &app.prompt {
        let label = match &prompt.kind {
            PromptKind::Search => "search: ".to_string(),
            PromptKind::Filter { .. } => "filter (regex): ".to_string(),
            PromptKind::Extract { .. } => "extract to: ".to_string(),
            PromptKind::Overwrite { to, .. } => {
                format!("{} exists; overwrite? (y/n) ", to.display())
            }
        };
        let mut spans = vec![
            Span::styled(label, theme.key()),
            // The previous text, selected: typing replaces it.
            Span::styled(
                prompt.input.clone(),
                if prompt.selected {
                    theme.selected(true)
                } else {
                    Style::new()
                },
            ),
        ];
        if let Some(err) = &prompt.error {
            spans.push(Span::styled(format!("  {err}"), theme.warn()));
        }
        Line::from(spans)
    } else if let Some(status) = app.status_line() {
        Line::raw(fit(&status, width))
    } else {
        let mut spans = Vec::new();
        let mut used = 0;
        for (key, word) in keymap::footer(&app.contexts()) {
            let cost = key.chars().count() + word.chars().count() + 3;
            if used + cost > width {
                break;
            }
            used += cost;
            spans.push(Span::styled(key.to_string(), theme.key()));
            spans.push(Span::raw(format!(" {word}  ")));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}
