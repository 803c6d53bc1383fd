//! The layers pane: index, size, a bar relative to the largest layer, and the instruction as a person wrote it;
//! the empty steps (ENV, WORKDIR, CMD, ...) that belong to a layer are listed, dimmed, below it. With
//! `diff A B`, each layer is marked as shared with A (`=`) or new (`+`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, padded, pane, safe};
use crate::report::text::size;
use crate::secrets::redact_created_by;
use crate::tui::app::{App, Mode, Pane};
use crate::tui::theme::Theme;

const BAR: usize = 8;

fn bar(bytes: u64, largest: u64) -> String {
    let filled = if largest == 0 || bytes == 0 {
        0
    } else {
        ((bytes as u128 * BAR as u128).div_ceil(largest as u128) as usize).min(BAR)
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR - filled))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let focused = app.focus == Pane::Layers && app.overlay.is_none();
    let mode = match app.mode {
        Mode::Image => "whole image".to_string(),
        Mode::Layer => "layer changes".to_string(),
        Mode::Range { from } => format!("changes {}..{}", from.min(app.layer), from.max(app.layer)),
    };
    let vs = match &app.diff {
        Some(marks) => {
            // `=` shared with A, `+` new in B, `-` A's layers B lacks (explained in the help).
            format!(
                " · ={} +{} -{} vs {}",
                marks.shared_layers(),
                marks.new_layers(),
                marks.removed_layers,
                safe(&app.analysis.redactor.mask(&marks.against))
            )
        }
        None => String::new(),
    };
    let loading = match &app.loading {
        Some(_) => format!(
            " · {} of {} explorable",
            app.analysis.tree.layer_count(),
            app.layer_count()
        ),
        None => String::new(),
    };
    let title = format!(" Layers ({}) · {mode}{vs}{loading} ", app.layer_count());
    frame.render_widget(pane(title, focused, theme), area);
    let body = inner(area);
    let width = body.width as usize;
    let largest = app
        .analysis
        .layers
        .iter()
        .map(|l| l.size_bytes)
        .max()
        .unwrap_or(0);
    let (lo, hi) = match app.mode {
        Mode::Range { from } => (from.min(app.layer), from.max(app.layer)),
        _ => (app.layer, app.layer),
    };
    let mut lines: Vec<Line> = Vec::with_capacity(body.height as usize);
    let first = app
        .layer_lines
        .partition_point(|s| *s <= app.layers_top)
        .saturating_sub(1);
    let mut line_no = app.layer_lines.get(first).copied().unwrap_or(0);
    for (i, layer) in app.image.layers.iter().enumerate().skip(first) {
        if lines.len() >= body.height as usize {
            break;
        }
        let stats = app.analysis.layers.get(i);
        let bytes = stats.map_or(0, |s| s.size_bytes);
        let in_range = (lo..=hi).contains(&i) && lo != hi;
        let instruction = redact_created_by(&layer.history.instruction);
        let instruction = if instruction.is_empty() {
            "(no history)".to_string()
        } else {
            instruction
        };
        // With `diff A B`: `=` a layer A holds too (same diff_id), `+` one only B has.
        let shared = match &app.diff {
            Some(marks) if marks.is_shared(i) => "=",
            Some(_) => "+",
            None => "",
        };
        // A layer still loading shows how far it is instead.
        let (figure, bar) = super::loading::partial::layer_columns(app, i)
            .unwrap_or_else(|| (size(bytes), bar(bytes, largest)));
        let head = format!(
            "{}{shared}{i:>3} {figure:>9} ",
            if in_range { "┃" } else { " " },
        );
        let rest = width.saturating_sub(head.chars().count() + BAR + 1);
        let spans = vec![
            Span::raw(head),
            Span::styled(bar, theme.bar()),
            Span::raw(" "),
            Span::raw(fit(&instruction, rest)),
        ];
        let mut row = padded(spans, width);
        if i == app.layer {
            row = row.style(theme.selected(focused));
        }
        if line_no >= app.layers_top {
            lines.push(row);
        }
        line_no += 1;
        for extra in layer.history.extra_instructions() {
            if line_no >= app.layers_top && lines.len() < body.height as usize {
                let text = format!("      └ {}", redact_created_by(extra));
                lines.push(Line::styled(fit(&text, width), theme.dim()));
            }
            line_no += 1;
        }
    }
    frame.render_widget(Paragraph::new(lines), body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_relative_to_the_largest_layer() {
        assert_eq!(bar(0, 100), "░░░░░░░░");
        assert_eq!(bar(100, 100), "████████");
        assert_eq!(bar(1, 100), "█░░░░░░░");
        assert_eq!(bar(50, 100), "████░░░░");
    }
}
