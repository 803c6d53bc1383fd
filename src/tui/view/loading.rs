//! The loading view, on screen while the image is read and analysed: how many layers and bytes are done, each
//! layer blob with its bytes read (a bar when its size is known), and the keys kept for when the explorer opens.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, pane, safe};
use crate::report::text::size;
use crate::tui::loading::{BlobRead, Loading, short_name};
use crate::tui::theme::Theme;

const BAR: usize = 20;

pub fn draw(frame: &mut Frame, loading: &Loading, color: bool) {
    let theme = Theme { color };
    let area = frame.area();
    if area.width < 20 || area.height < 4 {
        frame.render_widget(Paragraph::new("loading…; q quits"), area);
        return;
    }
    let main = Rect::new(area.x, area.y, area.width, area.height - 1);
    let footer = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
    let title = format!(" loading {} ", safe(&loading.source));
    frame.render_widget(pane(fit(&title, main.width as usize), true, theme), main);
    let body = inner(main);
    let width = body.width as usize;
    let mut lines = vec![Line::raw(fit(&summary(loading), width)), Line::raw("")];
    let room = (body.height as usize).saturating_sub(lines.len());
    lines.extend(blobs(&loading.report.blobs, room, width, theme));
    frame.render_widget(Paragraph::new(lines), body);
    let kept = match loading.queued {
        0 => "keys typed now apply once it is loaded".to_string(),
        1 => "1 key kept for when it is loaded".to_string(),
        n => format!("{n} keys kept for when it is loaded"),
    };
    let hint = Line::from(vec![
        Span::styled("q", theme.key()),
        Span::raw(fit(&format!(" quit  {kept}"), width.saturating_sub(1))),
    ]);
    frame.render_widget(Paragraph::new(hint), footer);
}

fn summary(loading: &Loading) -> String {
    let r = &loading.report;
    if r.layers == 0 && r.blobs.is_empty() {
        return "opening…".into();
    }
    let mut line = format!("layers {}/{}  {}", r.done, r.layers, size(r.bytes));
    if let Some(total) = r.total.filter(|t| *t > 0) {
        line.push_str(&format!(" of {}", size(total)));
    }
    if r.done >= r.layers {
        line.push_str("  analysing…");
    } else {
        line.push_str("  reading…");
    }
    line
}

/// The blobs that fit in `room` lines: the oldest finished ones leave first.
fn blobs(blobs: &[BlobRead], room: usize, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut skip = blobs.len().saturating_sub(room);
    let mut lines = Vec::new();
    for b in blobs {
        if skip > 0 && b.finished {
            skip -= 1;
            continue;
        }
        if lines.len() == room {
            break;
        }
        let name = safe(&short_name(&b.key));
        let line = if b.finished {
            Line::from(vec![
                Span::styled("✓ ", theme.dim()),
                Span::styled(
                    fit(&format!("{name}  {}", size(b.read)), width - 2),
                    theme.dim(),
                ),
            ])
        } else {
            let mut text = format!("▸ {name}  {}", size(b.read));
            if let Some(total) = b.total.filter(|t| *t > 0) {
                let filled = ((b.read.min(total) as u128 * BAR as u128) / total as u128) as usize;
                text.push_str(&format!(
                    " of {}  [{}{}]",
                    size(total),
                    "#".repeat(filled),
                    ".".repeat(BAR - filled)
                ));
            }
            Line::raw(fit(&text, width))
        };
        lines.push(line);
    }
    lines
}
