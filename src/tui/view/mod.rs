//! Drawing: pure functions of `&App` into a ratatui frame, one file per pane or overlay. Each draws only the
//! rows on screen, whatever the size of the image.

pub mod advice;
pub mod details;
pub mod footer;
pub mod help;
pub mod image;
pub mod layers;
pub mod lists;
pub mod loading;
mod measure;
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
        let title = match overlay {
            Overlay::Wasted(_) => Some("Wasted files"),
            Overlay::Secrets(_) => Some("Secrets"),
            Overlay::Advice(_) => Some("Advice"),
            _ => None,
        };
        match overlay {
            _ if app.loading.is_some() && title.is_some() => {
                loading::partial::overlay(frame, areas.overlay, title.unwrap_or_default(), theme)
            }
            Overlay::Help { scroll } => help::draw(frame, areas.overlay, *scroll, theme),
            Overlay::Wasted(cursor) => {
                lists::draw_wasted(frame, areas.overlay, app, *cursor, theme)
            }
            Overlay::Secrets(cursor) => {
                lists::draw_secrets(frame, areas.overlay, app, *cursor, theme)
            }
            Overlay::Advice(cursor) => advice::draw(frame, areas.overlay, app, *cursor, theme),
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

/// `text`, escaped as by [`safe`], wrapped to `width` columns: at spaces where it can, inside a word longer
/// than a line where it must. Nothing is cut. At least one line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(1);
    let text = crate::escape::escape(text);
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let Some(line) = lines.last_mut() else {
            break;
        };
        let used = line.width();
        let fits = used + usize::from(used > 0) + word.width() <= width;
        if fits {
            if used > 0 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if word.width() <= width || used + 2 > width {
            // A word that fits a line of its own starts one; so does a long one when this line is full.
            lines.push(String::new());
        } else {
            // A word longer than any line (a digest) starts right here, and runs on.
            line.push(' ');
        }
        push_broken(&mut lines, word, width);
    }
    lines
}

/// Appends `word` to the last line, character by character, opening new lines as lines fill up.
fn push_broken(lines: &mut Vec<String>, word: &str, width: usize) {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    for c in word.chars() {
        let w = c.width().unwrap_or(0);
        if lines
            .last()
            .is_some_and(|l| l.width() + w > width && !l.is_empty())
        {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            line.push(c);
        }
    }
}

/// A label (dimmed) and a value wrapped after it, continuation lines using the whole width.
pub fn labeled(label: &'static str, value: &str, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = wrap(&format!("{label}{value}"), width).into_iter();
    let mut out = Vec::new();
    if let Some(first) = lines.next() {
        let rest = first.strip_prefix(label).map(str::to_string);
        out.push(match rest {
            Some(rest) => Line::from(vec![Span::styled(label, theme.dim()), Span::raw(rest)]),
            None => Line::raw(first),
        });
    }
    out.extend(lines.map(Line::raw));
    out
}

/// Items (each a few spans, such as `size 7.05 kB`) laid out two spaces apart, a new line rather than an item
/// cut, so that no value loses its unit at any width.
pub fn flow(items: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut used = 0;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        match lines.last_mut() {
            Some(line) if used + 2 + w <= width => {
                line.push(Span::raw("  "));
                line.extend(item);
                used += 2 + w;
            }
            _ => {
                lines.push(item);
                used = w;
            }
        }
    }
    lines.into_iter().map(Line::from).collect()
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
    fn wrap_breaks_at_spaces_and_inside_long_words_and_cuts_nothing() {
        assert_eq!(super::wrap("RUN make install", 9), ["RUN make", "install"]);
        assert_eq!(
            super::wrap("id sha256:0123456789", 8),
            ["id sha25", "6:012345", "6789"]
        );
        assert_eq!(super::wrap("a b", 1), ["a", "b"]);
        assert_eq!(super::wrap("", 5), [""]);
        assert_eq!(super::wrap("a\u{1b}b", 20), ["a\\x1bb"]);
    }

    #[test]
    fn fit_escapes_before_it_cuts() {
        assert_eq!(super::fit("a\u{1b}[2Jb", 20), "a\\x1b[2Jb");
        assert_eq!(super::fit("a\u{202e}bcdef", 8), "a\\u{202…");
    }
}
