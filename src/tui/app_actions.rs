//! The rest of `App::update`: prompts (search, filter, extract path, overwrite confirmation), search steps,
//! jumps from the wasted-files, secrets and advice lists, mouse, and the file viewer and extraction requests.

use std::path::PathBuf;

use super::app::{App, Effect, Mode, Overlay, Pane, Prompt, PromptKind, Viewer};
use super::content::Content;
use super::diff_marks::DiffMarks;
use super::effects::Job;
use super::file_tree::PathFilter;
use crate::layer::EntryKind;
use crate::path;
use crate::tree::{ChangeKind, NodeId, ROOT};

impl App<'_> {
    pub(super) fn prompt_char(&mut self, c: char) -> Effect {
        let Some(prompt) = self.prompt.as_mut() else {
            return Effect::None;
        };
        if let PromptKind::Overwrite { layer, entry, to } = &prompt.kind {
            let (layer, entry, to) = (*layer, *entry, to.clone());
            self.prompt = None;
            return match c {
                'y' | 'Y' => self.start_extraction(layer, entry, to, true),
                _ => {
                    self.status = Some(format!("{} left as it was", to.display()));
                    Effect::None
                }
            };
        }
        if std::mem::take(&mut prompt.selected) {
            prompt.input.clear();
        }
        prompt.input.push(c);
        self.prompt_changed();
        Effect::None
    }

    pub(super) fn prompt_backspace(&mut self) -> Effect {
        if let Some(prompt) = self.prompt.as_mut() {
            if std::mem::take(&mut prompt.selected) {
                prompt.input.clear();
            } else {
                prompt.input.pop();
            }
            self.prompt_changed();
        }
        Effect::None
    }

    /// Search and filter act while the user types.
    fn prompt_changed(&mut self) {
        let Some(prompt) = self.prompt.as_ref() else {
            return;
        };
        let input = prompt.input.clone();
        match prompt.kind {
            PromptKind::Search => {
                self.search = input;
                self.search_step(true, true);
            }
            PromptKind::Filter { .. } => {
                let error = self.apply_filter(&input).err();
                if let Some(p) = self.prompt.as_mut() {
                    p.error = error;
                }
            }
            _ => {}
        }
    }

    pub(super) fn prompt_submit(&mut self) -> Effect {
        let Some(prompt) = self.prompt.take() else {
            return Effect::None;
        };
        match prompt.kind {
            PromptKind::Extract { layer, entry } if !prompt.input.trim().is_empty() => {
                self.start_extraction(layer, entry, PathBuf::from(prompt.input.trim()), false)
            }
            PromptKind::Filter { previous } if prompt.error.is_some() => {
                let _ = self.apply_filter(&previous);
                self.status = prompt.error;
                Effect::None
            }
            _ => Effect::None,
        }
    }

    /// Closes the prompt; Esc on a filter prompt restores the filter from before it opened.
    pub(super) fn cancel_prompt(&mut self) {
        if let Some(Prompt {
            kind: PromptKind::Filter { previous },
            ..
        }) = self.prompt.take()
        {
            let _ = self.apply_filter(&previous);
        }
    }

    /// Filters the tree by a regex on the absolute path (case-insensitive unless it has a capital).
    pub fn apply_filter(&mut self, text: &str) -> Result<(), String> {
        if text == self.filter_text {
            return Ok(());
        }
        let filter = if text.is_empty() {
            None
        } else {
            let filter = PathFilter::new(text).map_err(|e| {
                let detail = e.to_string();
                format!(
                    "bad regex: {}",
                    detail
                        .lines()
                        .last()
                        .unwrap_or(&detail)
                        .trim()
                        .trim_start_matches("error: ")
                )
            })?;
            Some(filter)
        };
        self.filter_text = text.to_string();
        self.tree.options.filter = filter;
        self.tree.rebuild();
        Ok(())
    }

    /// Moves to the next (or previous) row whose name holds the search text (ASCII case-insensitive; a text
    /// with a `/` is looked for in the whole path), from the cursor (`here`: the cursor row itself counts),
    /// revealing it if a directory above it is collapsed. One pass over the rows, no allocation per row.
    pub fn search_step(&mut self, forward: bool, here: bool) {
        let needle = self.search.as_bytes().to_ascii_lowercase();
        if needle.is_empty() {
            return;
        }
        let ft = &self.tree;
        let rows = ft.rows();
        let start = self
            .tree
            .visible()
            .get(self.tree.cursor)
            .map_or(0, |r| *r as usize);
        let by_path = needle.contains(&b'/');
        let holds = |hay: &[u8]| {
            hay.len() >= needle.len()
                && hay
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(&needle))
        };
        let (mut total, mut first, mut last) = (0usize, None, None);
        let (mut next, mut prev) = (None, None);
        for (i, row) in rows.iter().enumerate() {
            let hit = if by_path {
                holds(&path::display_absolute(&ft.raw_path(row.node)).into_bytes())
            } else {
                holds(ft.name(row.node))
            };
            if !hit {
                continue;
            }
            total += 1;
            first.get_or_insert(i);
            last = Some(i);
            if next.is_none() && (i > start || (here && i == start)) {
                next = Some(i);
            }
            if i < start || (here && i == start) {
                prev = Some(i);
            }
        }
        let found = if forward {
            next.or(first)
        } else {
            prev.or(last)
        };
        match found {
            Some(i) => {
                let node = rows[i].node;
                self.tree.reveal_row(node);
                self.status = Some(format!("/{}: {total} matches", self.search));
            }
            None => self.status = Some(format!("/{}: no match", self.search)),
        }
    }

    /// Enter on item `i` of the image details list (wasted files, then secrets) or of one overlay list.
    pub(super) fn jump_to_item(&mut self, i: usize, secrets_only: bool) {
        let wasted = &self.analysis.waste.files;
        let (layer, node, shown) = if !secrets_only && i < wasted.len() {
            let f = &wasted[i];
            let layer = f.versions.last().map_or(0, |v| v.layer) as usize;
            (layer, Some(f.node), f.path.clone())
        } else {
            let k = if secrets_only { i } else { i - wasted.len() };
            let Some(s) = self.secrets.get(k, &self.analysis.secrets) else {
                return;
            };
            let node = s
                .path
                .as_deref()
                .filter(|_| s.layer.is_some())
                .and_then(|p| self.analysis.tree.lookup(p.as_bytes()))
                .filter(|n| *n != ROOT);
            let shown = s.path.clone().unwrap_or_else(|| s.location.name().into());
            (s.layer.unwrap_or(0) as usize, node, shown)
        };
        self.overlay = None;
        self.select_layer(layer);
        match node {
            Some(node) => {
                self.reveal_anyway(node);
                self.focus = Pane::Tree;
                self.status = Some(format!("{shown} at layer {layer}"));
            }
            None => {
                self.focus = Pane::Layers;
                self.status = Some(format!("{shown}: not a file; layer {layer} selected"));
            }
        }
    }

    /// Marks this image's paths and layers against another image's (`layerscope diff A B`, this is B) and
    /// shows the whole image at its last layer, where the marks (a comparison of final trees) apply.
    pub fn mark_against(&mut self, marks: DiffMarks) {
        self.tree.set_only_in_a(marks.only_in_a());
        self.diff = Some(marks);
        self.mode = Mode::Image;
        self.select_layer(self.layer_count().saturating_sub(1));
    }

    /// `d`: lists only the paths that differ from the other image, or every path again.
    pub(super) fn toggle_diff_only(&mut self) {
        let Some(marks) = &self.diff else {
            self.status =
                Some("d: marks differences from another image; run `layerscope diff A B`".into());
            return;
        };
        let only = match self.tree.options.only {
            Some(_) => None,
            None => Some(marks.differing()),
        };
        self.status = Some(match only {
            Some(_) => "listing only the paths that differ (d: all paths)".into(),
            None => "listing every path (d: only the differences)".into(),
        });
        self.tree.options.only = only;
        self.tree.rebuild();
    }

    /// Enter on finding `i` of the advice overlay: its first path at its layer (see `advice_list::target`).
    pub(super) fn jump_to_advice(&mut self, i: usize) {
        let Some(a) = self.analysis.advice.get(i) else {
            return;
        };
        let rule = a.id.id();
        let Some(target) = super::advice_list::target(a, &self.analysis.tree) else {
            self.status = Some(format!("{rule}: no path or layer to show"));
            return;
        };
        self.overlay = None;
        self.select_layer(target.layer);
        let layer = target.layer;
        match target.node {
            Some(node) => {
                self.reveal_anyway(node);
                self.focus = Pane::Tree;
                self.status = Some(format!("{rule}: {} at layer {layer}", target.shown));
            }
            None => {
                self.focus = Pane::Layers;
                self.status = Some(format!("{rule}: layer {layer} selected"));
            }
        }
    }

    /// Selects `node`; if the filter, hidden kinds or the mode leave it out, shows the whole image unfiltered.
    fn reveal_anyway(&mut self, node: NodeId) {
        if self.tree.reveal(node) {
            return;
        }
        self.filter_text.clear();
        self.tree.options.filter = None;
        self.tree.options.hidden = Default::default();
        self.tree.options.only = None;
        self.set_mode(Mode::Image);
        self.tree.rebuild();
        self.tree.reveal(node);
    }

    /// The file version (layer, entry) behind the selected row: as at the selected layer, or for a deleted path
    /// the version just before; hardlinks resolve to the bytes they share.
    pub fn selected_version(&self) -> Option<(usize, u32)> {
        let row = self.tree.selected_row()?;
        let event = self.tree.event_of(row)?;
        self.analysis
            .tree
            .version_of(&event)
            .map(|(l, e)| (l as usize, e))
    }

    /// The content digest of the file version behind the selected row (`None` for a directory, a link to
    /// nothing known, a special file, or a file the scan could not hash, such as a sparse one).
    pub fn selected_digest(&self) -> Option<crate::file_digest::FileDigest> {
        let (layer, entry) = self.selected_version()?;
        self.analysis.tree.entry(layer as u32, entry).digest
    }

    /// Why the selected row has no bytes to show, if so.
    fn no_bytes_reason(&self) -> String {
        let Some(row) = self.tree.selected_row() else {
            return "nothing selected".into();
        };
        match self.tree.entry_of(row) {
            Some(e) if e.kind == EntryKind::Symlink => format!(
                "a symlink to {}",
                e.link_target
                    .as_deref()
                    .map(path::display)
                    .unwrap_or_default()
            ),
            Some(e) if e.kind == EntryKind::Hardlink => "a hardlink whose target is unknown".into(),
            Some(e) if e.kind == EntryKind::File => "a file whose bytes are unknown".into(),
            Some(e) if e.kind.is_special() => e.kind.phrase().into(),
            _ => "a directory".into(),
        }
    }

    /// The status line refusing to show or extract a path of the other image's only (`layerscope diff A B`):
    /// its bytes are in A, which the explorer does not hold.
    fn refuse_only_in_a(&mut self, id: u32) {
        let Some(p) = self.tree.only_in_a_path(id) else {
            return;
        };
        let shown = path::display_absolute(&p.raw_path);
        let shown = self.analysis.redactor.mask(&shown);
        let size = crate::report::text::size(p.size);
        self.status = Some(format!(
            "only in A: {shown} ({size} there); this image (B) lacks it, so there are no bytes to show"
        ));
    }

    pub(super) fn view_selected(&mut self) -> Effect {
        let Some(row) = self.tree.selected_row().copied() else {
            return Effect::None;
        };
        let Some(node) = row.tree_node() else {
            if let Some(id) = row.only_in_a() {
                self.refuse_only_in_a(id);
            }
            return Effect::None;
        };
        let tree = &self.analysis.tree;
        let shown = tree.display_path(node);
        let Some((layer, entry)) = self.selected_version() else {
            self.status = Some(format!("{shown}: {}", self.no_bytes_reason()));
            return Effect::None;
        };
        let deleted = if row.change == ChangeKind::Deleted {
            format!(" (deleted in layer {})", self.tree.to())
        } else {
            String::new()
        };
        let id = self.next_job();
        self.overlay = Some(Overlay::Viewer(Viewer {
            title: format!("{shown} @ layer {layer}{deleted}"),
            content: Content::Loading,
            scroll: 0,
            digest: self.analysis.tree.entry(layer as u32, entry).digest,
            reading: Some(id),
        }));
        Effect::Run {
            id,
            job: Job::ReadFile { layer, entry },
        }
    }

    pub(super) fn extract_selected(&mut self) {
        let Some(row) = self.tree.selected_row().copied() else {
            return;
        };
        let Some(node) = row.tree_node() else {
            if let Some(id) = row.only_in_a() {
                self.refuse_only_in_a(id);
            }
            return;
        };
        let Some((layer, entry)) = self.selected_version() else {
            let shown = self.analysis.tree.display_path(node);
            self.status = Some(format!("{shown}: {}", self.no_bytes_reason()));
            return;
        };
        self.open_prompt(PromptKind::Extract { layer, entry }, String::new());
    }

    pub(super) fn scroll_at(&mut self, column: u16, row: u16, down: bool) {
        let step: isize = if down { 3 } else { -3 };
        if self.overlay.is_some() {
            let c = if down {
                crate::tui::keymap::Command::Down
            } else {
                crate::tui::keymap::Command::Up
            };
            for _ in 0..3 {
                self.update(super::app::Action::Command(c));
            }
            return;
        }
        let areas = self.areas();
        let at = ratatui::layout::Position::new(column, row);
        if areas.tree.contains(at) {
            self.tree.scroll_by(step);
        } else if areas.layers.contains(at) {
            let last = self.layer_count().saturating_sub(1);
            let next = if down {
                (self.layer + 1).min(last)
            } else {
                self.layer.saturating_sub(1)
            };
            self.select_layer(next);
        } else if areas.image.contains(at) {
            let len = self.list_len(false);
            let page = areas.image_list_rows();
            self.image_list.move_by(step.signum(), len, page);
        }
    }

    pub(super) fn click_at(&mut self, column: u16, row: u16) {
        if self.overlay.is_some() || self.prompt.is_some() {
            return;
        }
        let areas = self.areas();
        let at = ratatui::layout::Position::new(column, row);
        if areas.tree.contains(at) {
            self.focus = Pane::Tree;
            if let Some(line) = areas.tree_row_at(row) {
                let v = self.tree.top + line;
                if v < self.tree.visible().len() {
                    self.tree.move_to(v);
                }
            }
        } else if areas.layers.contains(at) {
            self.focus = Pane::Layers;
            let inner_y = areas.layers.y + 1;
            if row >= inner_y {
                let line = self.layers_top + (row - inner_y) as usize;
                let layer = self.layer_lines.partition_point(|start| *start <= line);
                if layer > 0 && layer <= self.layer_count() {
                    self.select_layer(layer - 1);
                }
            }
        } else if areas.image.contains(at) {
            self.focus = Pane::Image;
            if let Some(line) = areas.image_row_at(row) {
                let i = self.image_list.top + line;
                if i < self.list_len(false) {
                    self.image_list.selected = i;
                }
            }
        }
    }
}
