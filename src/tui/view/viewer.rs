//! The file viewer overlay (`v`): a file's bytes as they were at the selected layer, as text or a hexdump, its
//! whole content digest in the bottom border; only the lines on screen are formatted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{fit, inner, pane, safe};
use crate::report::text::size;
use crate::tui::app::Viewer;
use crate::tui::content::Content;
use crate::tui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, viewer: &Viewer, theme: Theme) {
    let kind = match &viewer.content {
        Content::Text { .. } => "text",
        Content::Binary { .. } => "binary",
        Content::Loading => "reading…",
        Content::Error(_) => "",
    };
    let bytes = viewer
        .content
        .size()
        .map(|s| size(s as u64))
        .unwrap_or_default();
    let title = format!(
        " {} · {kind} {bytes} (v or Esc closes) ",
        safe(&viewer.title)
    );
    let mut block = pane(title, true, theme);
    if let Some(digest) = viewer.digest {
        // The full digest (71 columns) fits an 80-column terminal's viewer; `fit` cuts it on narrower ones.
        let room = area.width.saturating_sub(2) as usize;
        let whole = digest.to_string();
        let text = if whole.len() + 2 <= room {
            format!(" {whole} ")
        } else {
            fit(&whole, room)
        };
        block = block.title_bottom(Line::styled(text, theme.dim()));
    }
    frame.render_widget(block, area);
    let body = inner(area);
    let width = body.width as usize;
    let mut lines = Vec::with_capacity(body.height as usize);
    let total = viewer.content.line_count();
    for i in (viewer.scroll..total).take(body.height as usize) {
        // Secrets were masked when the bytes arrived (`App::update`), and `Content::line` escaped the line.
        let text = viewer.content.line(i);
        let line = Line::raw(fit(&text, width));
        lines.push(match viewer.content {
            Content::Error(_) => line.style(theme.warn()),
            _ => line,
        });
    }
    frame.render_widget(Paragraph::new(lines), body);
}
