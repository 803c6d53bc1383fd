//! The file tree pane: the merged tree at the selected layer (or one layer's or a range's changes) with change
//! colours and markers, permission, uid:gid and size columns, directory totals and link targets, and the
//! selected file's content digest in the bottom border (for a path of the other image's only, `only in A` and
//! its size there). Only the rows on screen are formatted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit, inner, padded, pane};
use crate::layer::EntryKind;
use crate::path;
use crate::report::text::{mode_string, size};
use crate::tree::ChangeKind;
use crate::tui::app::{App, Mode, Pane};
use crate::tui::diff_marks::{DiffMarks, Mark, RowNode};
use crate::tui::file_tree::Row;
use crate::tui::theme::{Theme, marker};

fn title(app: &App) -> String {
    let (from, to, _) = app.range();
    let what = match app.mode {
        Mode::Image => format!("image at layer {to}"),
        Mode::Layer => format!("layer {to} changes"),
        Mode::Range { .. } => format!("changes of layers {}..{to}", from.map_or(0, |f| f + 1)),
    };
    let mut parts = vec![what];
    if !app.filter_text.is_empty() {
        parts.push(format!("filter /{}/", app.filter_text));
    }
    let h = app.tree.options.hidden;
    let hidden: Vec<&str> = [
        (h.added, "added"),
        (h.removed, "removed"),
        (h.modified, "modified"),
        (h.unmodified, "unmodified"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    if !hidden.is_empty() {
        parts.push(format!("hiding {}", hidden.join(",")));
    }
    if app.tree.options.sort_by_size {
        parts.push("by size".into());
    }
    if let Some(marks) = &app.diff {
        let c = marks.counts;
        let only = if app.tree.options.only.is_some() {
            " only"
        } else {
            ""
        };
        parts.push(format!(
            "Δ{only} A{} R{} C{} M{}",
            c.added, c.removed, c.content, c.metadata
        ));
    }
    parts.push(format!("{} rows", app.tree.visible().len()));
    format!(" Files · {} ", parts.join(" · "))
}

/// The selected file's content digest for the bottom border: whole when the pane is wide enough, else its
/// first hex digits and an ellipsis (the viewer, `v`, shows it whole). Nothing for rows without content.
fn selected_details(app: &App, width: usize) -> Option<String> {
    let row = app.tree.selected_row()?;
    if let Some(id) = row.only_in_a() {
        let p = app.tree.only_in_a_path(id)?;
        let text = format!(" only in A · {} {} ", p.kind.name(), size(p.size));
        return (width >= 16).then(|| fit(&text, width));
    }
    let kind = app.tree.entry_of(row)?.kind;
    if !matches!(kind, EntryKind::File | EntryKind::Hardlink) {
        return None;
    }
    let text = match app.selected_digest() {
        Some(digest) => format!(" {digest} "),
        None => " no content digest ".to_string(),
    };
    (width >= 16).then(|| fit(&text, width))
}

/// The diff column (`layerscope diff A B`): the path's mark against A (`R` on a path of A's only), `•` on a
/// directory holding one.
fn diff_mark(marks: &DiffMarks, row: &Row, theme: Theme) -> Span<'static> {
    let mark = match row.node {
        RowNode::Tree(node) => marks.mark(node),
        RowNode::OnlyInA(_) => Some(Mark::Removed),
    };
    let holds = row.is_dir && row.tree_node().is_some_and(|n| marks.holds_changes(n));
    let (text, kind) = match mark {
        Some(Mark::Added) => ("A", ChangeKind::Added),
        Some(Mark::Removed) => ("R", ChangeKind::Deleted),
        Some(Mark::Content) => ("C", ChangeKind::Modified),
        Some(Mark::Metadata) => ("M", ChangeKind::Modified),
        None if holds => ("•", ChangeKind::Unmodified),
        None => (" ", ChangeKind::Unmodified),
    };
    let style = match mark {
        Some(Mark::Metadata) => theme.metadata(),
        _ => theme.change(kind),
    };
    Span::styled(format!("{text} "), style)
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    if app.loading.is_some() && !app.explorable() {
        return super::loading::partial::tree_pane(frame, area, app, theme);
    }
    let focused = app.focus == Pane::Tree && app.overlay.is_none();
    let mut block = pane(title(app), focused, theme);
    if let Some(details) = selected_details(app, area.width.saturating_sub(4) as usize) {
        block = block.title_bottom(Line::styled(details, theme.dim()));
    }
    frame.render_widget(block, area);
    let body = inner(area);
    let width = body.width as usize;
    let attrs = app.tree.attributes && width >= 40;
    let owners = attrs && width >= 60;
    let mut header = String::from(if app.diff.is_some() { "  Δ " } else { "  " });
    if attrs {
        header.push_str("Permission ");
        if owners {
            header.push_str("  UID:GID ");
        }
        header.push_str("     Size ");
    }
    header.push_str("Name");
    let mut lines = vec![Line::styled(fit(&header, width), theme.title())];
    let ft = &app.tree;
    let rows = body.height.saturating_sub(1) as usize;
    let visible = ft.visible();
    if visible.is_empty() {
        lines.push(Line::styled(
            "  (nothing to show: change the filter, mode or layer)",
            theme.dim(),
        ));
    }
    for v in (ft.top..visible.len()).take(rows) {
        let f = visible[v];
        let row = &ft.rows()[f as usize];
        let entry = ft.entry_of(row);
        let a_only = row.only_in_a().and_then(|id| ft.only_in_a_path(id));
        let kind = a_only.map_or(entry.map_or(EntryKind::Dir, |e| e.kind), |p| p.kind);
        let style = theme.change(row.change);
        // A path of A's only was not removed by a layer of this image: no change marker, only the diff's `R`.
        let change = if a_only.is_some() {
            " "
        } else {
            marker(row.change)
        };
        let mut spans = vec![Span::styled(format!("{change} "), style)];
        if let Some(marks) = &app.diff {
            spans.push(diff_mark(marks, row, theme));
        }
        if attrs {
            let mut cols = match a_only {
                // A's mode and owner are not kept beside the diff: the column says whose path it is.
                Some(_) => "only in A  ".to_string(),
                None => format!("{} ", mode_string(kind, entry.map_or(0o755, |e| e.mode))),
            };
            if owners {
                let ids = match a_only {
                    Some(_) => String::new(),
                    None => format!(
                        "{}:{}",
                        entry.map_or(0, |e| e.uid),
                        entry.map_or(0, |e| e.gid)
                    ),
                };
                cols.push_str(&format!("{ids:>9} "));
            }
            cols.push_str(&format!("{:>9} ", size(ft.size_of(row))));
            spans.push(Span::styled(cols, style));
        }
        spans.push(Span::styled(ft.guides(f), theme.dim()));
        let mut name = path::display(ft.name(row.node));
        if row.is_dir {
            name.push('/');
            if ft.row_collapsed(f) {
                let inside = row.end - f - 1;
                if inside > 0 {
                    name.push_str(&format!(" …{inside}"));
                }
            }
        }
        if let Some(target) = entry.and_then(|e| e.link_target.as_deref()) {
            match kind {
                EntryKind::Hardlink => {
                    name.push_str(&format!(" => {}", path::display_absolute(target)))
                }
                _ => name.push_str(&format!(" -> {}", path::display(target))),
            }
        }
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let name = app.analysis.redactor.mask(&name);
        spans.push(Span::styled(fit(&name, width.saturating_sub(used)), style));
        let mut line = padded(spans, width);
        if v == ft.cursor {
            line = line.style(theme.selected(focused));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), body);
}
