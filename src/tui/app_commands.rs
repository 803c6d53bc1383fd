//! `App::update` for keys, per place: the file tree pane, the image details list and the overlays (help,
//! viewer, wasted-files, secrets and advice lists).

use super::app::{App, Effect, Overlay, Prompt, PromptKind};
use super::keymap::Command;

impl App<'_> {
    pub(super) fn tree_command(&mut self, c: Command) -> Effect {
        let page = self.tree.page as isize;
        let hidden = &mut self.tree.options.hidden;
        let mut rebuild = true;
        match c {
            Command::ToggleAdded => hidden.added = !hidden.added,
            Command::ToggleRemoved => hidden.removed = !hidden.removed,
            Command::ToggleModified => hidden.modified = !hidden.modified,
            Command::ToggleUnmodified => hidden.unmodified = !hidden.unmodified,
            Command::ToggleSortSize => {
                self.tree.options.sort_by_size = !self.tree.options.sort_by_size
            }
            _ => rebuild = false,
        }
        if rebuild {
            self.tree.rebuild();
            return Effect::None;
        }
        match c {
            Command::Up => self.tree.move_by(-1),
            Command::Down => self.tree.move_by(1),
            Command::PageUp => self.tree.move_by(-page),
            Command::PageDown => self.tree.move_by(page),
            Command::First => self.tree.move_to(0),
            Command::Last => self.tree.move_to(usize::MAX),
            Command::Expand => {
                self.tree.set_collapsed(self.tree.cursor, false);
            }
            Command::Collapse => {
                let folded = self.tree.set_collapsed(self.tree.cursor, true);
                match self.tree.parent_of_selected() {
                    Some(p) if !folded => self.tree.move_to(p),
                    _ => {}
                }
            }
            Command::ToggleDir => {
                let v = self.tree.cursor;
                let collapsed = self
                    .tree
                    .visible()
                    .get(v)
                    .is_some_and(|r| self.tree.row_collapsed(*r));
                self.tree.set_collapsed(v, !collapsed);
            }
            Command::ToggleCollapseAll => self.tree.toggle_collapse_all(),
            Command::ToggleAttributes => self.tree.attributes = !self.tree.attributes,
            Command::SwitchPane => self.switch_pane(),
            Command::Search => self.open_prompt(PromptKind::Search, self.search.clone()),
            Command::SearchNext => self.search_step(true, false),
            Command::SearchPrev => self.search_step(false, false),
            Command::Filter => self.open_prompt(
                PromptKind::Filter {
                    previous: self.filter_text.clone(),
                },
                self.filter_text.clone(),
            ),
            Command::ViewFile => return self.view_selected(),
            Command::Extract => self.extract_selected(),
            _ => {}
        }
        Effect::None
    }

    /// Opens a prompt holding `input` (the previous text), selected so that typing replaces it.
    pub(super) fn open_prompt(&mut self, kind: PromptKind, input: String) {
        self.prompt = Some(Prompt {
            kind,
            selected: !input.is_empty(),
            input,
            error: None,
        });
    }

    pub(super) fn list_command(&mut self, c: Command) -> Effect {
        let len = self.list_len(false);
        let page = self.areas().image_list_rows();
        let cursor = &mut self.image_list;
        if cursor.apply(c, len, page) {
            return Effect::None;
        }
        match c {
            Command::Select => {
                let i = cursor.selected;
                self.jump_to_item(i, false);
            }
            Command::ToggleLowConfidence => self.toggle_low_confidence(),
            Command::SwitchPane => self.switch_pane(),
            _ => {}
        }
        Effect::None
    }

    /// Shows or hides the low-confidence secrets, keeping every list's cursor on an item.
    fn toggle_low_confidence(&mut self) {
        self.secrets.toggle_low(&self.analysis.secrets);
        let areas = self.areas();
        let secrets = self.secrets.len();
        let all = self.analysis.waste.files.len() + secrets;
        if let Some(Overlay::Secrets(cursor)) = self.overlay.as_mut() {
            cursor.move_by(0, secrets, areas.overlay_rows());
        }
        self.image_list.move_by(0, all, areas.image_list_rows());
        self.status = Some(if self.secrets.show_low {
            format!("listing {} low-confidence secrets too", self.secrets.low)
        } else {
            format!("{} low-confidence secrets hidden", self.secrets.low)
        });
    }

    pub(super) fn overlay_command(&mut self, c: Command) -> Effect {
        let areas = self.areas();
        let page = areas.overlay_rows();
        let len = self.list_len(false);
        let advice_rows = super::view::advice::list_rows(areas.overlay, len);
        match self.overlay.as_mut() {
            Some(Overlay::Help { scroll }) => {
                let total = super::view::help::line_count();
                let max = total.saturating_sub(page);
                *scroll = match c {
                    Command::Up => scroll.saturating_sub(1),
                    Command::Down => (*scroll + 1).min(max),
                    Command::PageUp => scroll.saturating_sub(page),
                    Command::PageDown => (*scroll + page).min(max),
                    _ => *scroll,
                };
            }
            Some(Overlay::Viewer(v)) => {
                let max = v.content.line_count().saturating_sub(page);
                v.scroll = match c {
                    Command::Up => v.scroll.saturating_sub(1),
                    Command::Down => (v.scroll + 1).min(max),
                    Command::PageUp => v.scroll.saturating_sub(page),
                    Command::PageDown => (v.scroll + page).min(max),
                    Command::First => 0,
                    Command::Last => max,
                    _ => v.scroll,
                };
            }
            Some(Overlay::Advice(cursor)) => {
                if cursor.apply(c, len, advice_rows) {
                    return Effect::None;
                }
                if c == Command::Select {
                    let i = cursor.selected;
                    self.jump_to_advice(i);
                }
            }
            Some(Overlay::Wasted(cursor)) | Some(Overlay::Secrets(cursor)) => {
                if cursor.apply(c, len, page) {
                    return Effect::None;
                }
                match c {
                    Command::Select => {
                        let i = cursor.selected;
                        let secrets = matches!(self.overlay, Some(Overlay::Secrets(_)));
                        self.jump_to_item(i, secrets);
                    }
                    Command::ToggleLowConfidence => self.toggle_low_confidence(),
                    _ => {}
                }
            }
            None => {}
        }
        Effect::None
    }
}
