//! The loading view, on screen while the image is read and analysed: how many layers and bytes are done, each
//! layer blob with its bytes read (a bar when its size is known), and the keys kept for when the explorer opens.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, pane, safe};
use crate::report::text::size;
use crate::source::blob_short_name as short_name;
use crate::tui::loading::{BlobRead, Loading};
use crate::tui::theme::Theme;

const BAR: usize = 20;

/// A text bar of [`BAR`] cells, `#` for the share of `total` that `done` is (rounded down), `.` for the rest.
fn meter(done: u64, total: u64) -> String {
    let filled = (u128::from(done.min(total)) * BAR as u128)
        .checked_div(u128::from(total))
        .unwrap_or(0) as usize;
    format!("{}{}", "#".repeat(filled), ".".repeat(BAR - filled))
}

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
                text.push_str(&format!(" of {}  [{}]", size(total), meter(b.read, total)));
            }
            Line::raw(fit(&text, width))
        };
        lines.push(line);
    }
    lines
}

/// The explorer while the image loads (a partial model, `App::loading`): what the panes show in place of what
/// is not known yet.
pub mod partial {
    use ratatui::Frame;
    use ratatui::layout::Rect;
    use ratatui::text::Line;
    use ratatui::widgets::{Paragraph, Wrap};

    use super::meter;
    use crate::report::text::size;
    use crate::tui::app::{App, Pane};
    use crate::tui::theme::Theme;
    use crate::tui::view::{fit, inner, pane};

    /// What a figure of the whole image (waste, efficiency, secrets) says while the image loads.
    pub const ANALYSING: &str = "analysing…";

    /// `figure`, or [`ANALYSING`] while the image loads.
    pub fn figure(app: &App, figure: String) -> String {
        match app.loading {
            Some(_) => ANALYSING.to_string(),
            None => figure,
        }
    }

    /// How far layer `index` is, for the layers pane's size and bar columns; `None` once it is explorable.
    pub fn layer_columns(app: &App, index: usize) -> Option<(String, String)> {
        let loading = app.loading.as_ref()?;
        if index < app.analysis.tree.layer_count() {
            return None;
        }
        let bar = |done: usize| format!("{}{}", "▪".repeat(done), "·".repeat(8 - done));
        Some(match loading.report.layer_read(index) {
            None => ("read".to_string(), bar(8)),
            Some((read, Some(total))) if total > 0 => {
                let share = read.min(total) as f64 / total as f64;
                (
                    format!("{:.0}%", share * 100.0),
                    bar((share * 8.0).floor() as usize),
                )
            }
            // Not started, or a source that does not say how far a layer is (engine stores).
            Some((0, None)) => ("…".to_string(), bar(0)),
            Some((read, _)) => (size(read), bar(0)),
        })
    }

    /// The tree pane for a layer still loading: how far it and the layers below it are.
    pub fn tree_pane(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
        let focused = app.focus == Pane::Tree && app.overlay.is_none();
        let (_, to, _) = app.range();
        let title = format!(" Files · layer {to} loading ");
        frame.render_widget(pane(title, focused, theme), area);
        let body = inner(area);
        let width = body.width as usize;
        let explorable = app.analysis.tree.layer_count();
        let mut lines = Vec::new();
        let report = app.loading.as_ref().map(|l| &l.report);
        let state = |index: usize| match report.and_then(|r| r.layer_read(index)) {
            None => "read".to_string(),
            Some((read, Some(total))) if total > 0 => {
                format!(
                    "{} of {}  [{}]",
                    size(read),
                    size(total),
                    meter(read, total)
                )
            }
            Some((read, _)) => format!("{} read", size(read)),
        };
        lines.push(Line::raw(fit(
            &format!("layer {to}: {}", state(to as usize)),
            width,
        )));
        let waiting: Vec<usize> = (explorable..to as usize)
            .filter(|i| report.and_then(|r| r.layer_read(*i)).is_some())
            .collect();
        if !waiting.is_empty() {
            let list: Vec<String> = waiting.iter().map(ToString::to_string).collect();
            lines.push(Line::raw(fit(
                &format!("waiting for layers below it: {}", list.join(", ")),
                width,
            )));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            fit(
                &format!(
                    "Its files show once every layer up to it is read; layers 0 to {} can be explored now.",
                    explorable.saturating_sub(1)
                ),
                width * 3,
            ),
            theme.dim(),
        ));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
    }

    /// An overlay of the whole image's findings (wasted files, secrets, advice) while the image loads.
    pub fn overlay(frame: &mut Frame, area: Rect, title: &str, theme: Theme) {
        frame.render_widget(pane(format!(" {title} "), true, theme), area);
        let body = inner(area);
        let text = format!("{ANALYSING} (shown once the whole image is loaded; Esc closes)");
        frame.render_widget(
            Paragraph::new(fit(&text, body.width as usize)).style(theme.dim()),
            body,
        );
    }
}
