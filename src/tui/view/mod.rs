//! Drawing: pure functions of `&App` into a ratatui frame, one file per pane or overlay. Each draws only the
//! rows on screen, whatever the size of the image.

pub mod details;
pub mod footer;
pub mod help;
pub mod image;
pub mod layers;
pub mod lists;
pub mod tree;
pub mod viewer;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::{App, Overlay};
use super::layout::Areas;
use super::theme::Theme;

pub fn draw(frame: &mut Frame, app: &App) {
    let areas = Areas::of(frame.area(), app);
    let theme = Theme { color: app.color };
    if areas.too_small {
        let text = Paragraph::new("terminal too small for layerscope; enlarge it or press q");
        frame.render_widget(text, frame.area());
        return;
    }
    if !areas.layers.is_empty() {
        layers::draw(frame, areas.layers, app, theme);
    }
    if !areas.details.is_empty() {
        details::draw(frame, areas.details, app, theme);
    }
    if !areas.image.is_empty() {
        image::draw(frame, areas.image, app, theme);
    }
    tree::draw(frame, areas.tree, app, theme);
    footer::draw(frame, areas.footer, app, theme);
    if let Some(overlay) = &app.overlay {
        frame.render_widget(Clear, areas.overlay);
        match overlay {
            Overlay::Help { scroll } => help::draw(frame, areas.overlay, *scroll, theme),
            Overlay::Wasted(cursor) => {
                lists::draw_wasted(frame, areas.overlay, app, *cursor, theme)
            }
            Overlay::Secrets(cursor) => {
                lists::draw_secrets(frame, areas.overlay, app, *cursor, theme)
            }
            Overlay::Viewer(v) => viewer::draw(frame, areas.overlay, v, theme),
        }
    }
    scrub(frame.buffer_mut());
}

/// The last line of defence, should a string from the image ever skip [`safe`] or [`fit`]: no cell may hold
/// a control or bidi character (a terminal would obey it), so any that does shows U+FFFD instead.
fn scrub(buffer: &mut ratatui::buffer::Buffer) {
    for cell in &mut buffer.content {
        if cell.symbol().chars().any(crate::escape::is_unsafe) {
            cell.set_symbol("\u{fffd}");
        }
    }
}

/// A bordered pane with a title; the focused one stands out.
pub fn pane<'t>(title: impl Into<Line<'t>>, focused: bool, theme: Theme) -> Block<'t> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(title.into().style(theme.title()))
}

/// Text from the image (names, instructions, history, labels, secret rules and matches) as it may be shown:
/// control and bidi characters escaped. Every row of every pane is built through [`fit`] or this.
pub fn safe(text: &str) -> String {
    crate::escape::escape(text).into_owned()
}

/// `text`, escaped as by [`safe`], cut to `width` columns, with an ellipsis when cut.
pub fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let text = crate::escape::escape(text);
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            if width > 0 {
                while used + 1 > width {
                    match out.pop() {
                        Some(p) => used -= p.width().unwrap_or(0),
                        None => break,
                    }
                }
                out.push('…');
            }
            return out;
        }
        used += w;
        out.push(c);
    }
    out
}

/// A line padded with spaces to `width` columns (so a selection highlight spans the pane).
pub fn padded(mut spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if used < width {
        spans.push(Span::raw(" ".repeat(width - used)));
    }
    Line::from(spans)
}

pub fn inner(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    #[test]
    fn the_scrub_replaces_cells_holding_control_or_bidi_characters() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 3, 1));
        buffer[(0, 0)].set_symbol("\u{1b}");
        buffer[(1, 0)].set_symbol("a\u{202e}");
        buffer[(2, 0)].set_symbol("b");
        super::scrub(&mut buffer);
        let symbols: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
        assert_eq!(symbols, ["\u{fffd}", "\u{fffd}", "b"]);
    }

    #[test]
    fn fit_escapes_before_it_cuts() {
        assert_eq!(super::fit("a\u{1b}[2Jb", 20), "a\\x1b[2Jb");
        assert_eq!(super::fit("a\u{202e}bcdef", 8), "a\\u{202…");
    }
}
