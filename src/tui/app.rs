//! The explorer's state and its one state machine: `App::update(Action) -> Effect`. Pure: no terminal, no I/O;
//! reading a file's bytes or writing one are effects the runner performs and reports back as actions.

use std::path::PathBuf;

use ratatui::layout::Rect;

use super::content::Content;
use super::diff_marks::DiffMarks;
use super::effects::{Job, JobId, Outcome};
use super::file_tree::{FileTree, TreeOptions, TreeState};
use super::keymap::{self, Command, Context};
use super::layout::Areas;
pub use super::layout::Pane;
use super::loading::Loading;
use super::secret_list::SecretList;
use crate::analysis::Analysis;
use crate::image::Image;

/// What the file tree shows for the selected layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole image at the layer, that layer's changes marked (dive's default).
    Image,
    /// Only the layer's changes.
    Layer,
    /// Only the changes of the layers between `from` and the selected one (both included).
    Range { from: usize },
}

/// A scrollable list's selection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub selected: usize,
    pub top: usize,
}

impl ListCursor {
    pub fn move_by(&mut self, delta: isize, len: usize, page: usize) {
        let last = len.saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
        let page = page.max(1);
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + page {
            self.top = self.selected + 1 - page;
        }
    }

    /// Applies a movement command (line, page, first, last); false for any other command.
    pub fn apply(&mut self, c: super::keymap::Command, len: usize, page: usize) -> bool {
        use super::keymap::Command;
        let delta = match c {
            Command::Up => -1,
            Command::Down => 1,
            Command::PageUp => -(page as isize),
            Command::PageDown => page as isize,
            Command::First => isize::MIN / 2,
            Command::Last => isize::MAX / 2,
            _ => return false,
        };
        self.move_by(delta, len, page);
        true
    }
}

pub struct Viewer {
    pub title: String,
    pub content: Content,
    pub scroll: usize,
    /// The file's content digest, shown whole in the viewer's bottom border.
    pub digest: Option<crate::file_digest::FileDigest>,
    /// The read whose bytes the viewer waits for ("reading…" meanwhile).
    pub reading: Option<JobId>,
}

pub enum Overlay {
    Help { scroll: usize },
    Wasted(ListCursor),
    Secrets(ListCursor),
    Advice(ListCursor),
    Viewer(Viewer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    /// `previous` is restored by Esc.
    Filter {
        previous: String,
    },
    Extract {
        layer: usize,
        entry: u32,
    },
    Overwrite {
        layer: usize,
        entry: u32,
        to: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    pub error: Option<String>,
    /// The input is the previous text, shown selected: the first key typed replaces it, Backspace clears it.
    pub selected: bool,
}

/// Everything that can happen to the explorer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Command(Command),
    /// Text typed into the open prompt.
    Char(char),
    Backspace,
    Submit,
    Resize {
        width: u16,
        height: u16,
    },
    Scroll {
        column: u16,
        row: u16,
        down: bool,
    },
    Click {
        column: u16,
        row: u16,
    },
    /// What the job started by [`Effect::Run`] came to.
    Done {
        id: JobId,
        outcome: Outcome,
    },
}

/// What the runner must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    Quit,
    /// Start a job off the UI thread (it replaces the unfinished one of its lane); its outcome comes back as
    /// [`Action::Done`].
    Run {
        id: JobId,
        job: Job,
    },
    /// Stop a job nobody waits for any more.
    Cancel(JobId),
}

/// An extraction under way: its job, kept to ask about overwriting what it was going to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub id: JobId,
    pub job: Job,
}

pub struct App<'a> {
    pub image: &'a Image,
    pub analysis: &'a Analysis,
    pub color: bool,
    pub size: Rect,
    pub focus: Pane,
    pub layer: usize,
    /// First screen line of the layers list.
    pub layers_top: usize,
    /// First screen line of each layer in the layers list (a layer shows its empty instructions below it).
    pub layer_lines: Vec<usize>,
    pub mode: Mode,
    pub tree: FileTree<'a>,
    pub filter_text: String,
    pub search: String,
    pub image_list: ListCursor,
    /// The secrets in listing order (the image details list and the `s` overlay).
    pub secrets: SecretList,
    pub overlay: Option<Overlay>,
    pub prompt: Option<Prompt>,
    pub status: Option<String>,
    /// `layerscope diff A B` on a terminal: this image (B) marked against A.
    pub diff: Option<DiffMarks>,
    /// The extraction under way, if any ("reading…" in the status line meanwhile).
    pub extracting: Option<Extraction>,
    /// The id of the last job started.
    pub last_job: JobId,
    /// The image still loads: the model is partial (every layer listed, the bottom ones explorable, no waste,
    /// secrets or advice yet), and this is how far the load is.
    pub loading: Option<Loading>,
}

/// The explorer's state apart from the model it explores: carried from one partial model to the next, then to
/// the full one, so the swap keeps the selected layer, the tree's cursor, collapsed directories and filter,
/// the open overlay and prompt. Node ids stay valid from one model to the next (see `tree::TreeBuilder`).
pub struct Carried {
    focus: Pane,
    layer: usize,
    layers_top: usize,
    mode: Mode,
    tree: TreeState,
    filter_text: String,
    search: String,
    image_list: ListCursor,
    show_low: bool,
    overlay: Option<Overlay>,
    prompt: Option<Prompt>,
    status: Option<String>,
    extracting: Option<Extraction>,
    last_job: JobId,
}

impl<'a> App<'a> {
    pub fn new(image: &'a Image, analysis: &'a Analysis, color: bool, size: Rect) -> App<'a> {
        let mut layer_lines = Vec::with_capacity(image.layers.len() + 1);
        let mut line = 0;
        for l in &image.layers {
            layer_lines.push(line);
            line += 1 + l.history.extra_instructions().count();
        }
        layer_lines.push(line);
        let tree = FileTree::new(&analysis.tree, None, 0, TreeOptions::default());
        let mut app = App {
            image,
            analysis,
            color,
            size,
            focus: Pane::Layers,
            layer: 0,
            layers_top: 0,
            layer_lines,
            mode: Mode::Image,
            tree,
            filter_text: String::new(),
            search: String::new(),
            image_list: ListCursor::default(),
            secrets: SecretList::new(&analysis.secrets),
            overlay: None,
            prompt: None,
            status: None,
            diff: None,
            extracting: None,
            last_job: 0,
            loading: None,
        };
        app.resize(size);
        app
    }

    /// The state to carry to the next model ([`App::restore`]).
    pub fn carry(self) -> Carried {
        Carried {
            tree: self.tree.state(),
            focus: self.focus,
            layer: self.layer,
            layers_top: self.layers_top,
            mode: self.mode,
            filter_text: self.filter_text,
            search: self.search,
            image_list: self.image_list,
            show_low: self.secrets.show_low,
            overlay: self.overlay,
            prompt: self.prompt,
            status: self.status,
            extracting: self.extracting,
            last_job: self.last_job,
        }
    }

    /// Takes on the state of the explorer of an earlier model of the same image.
    pub fn restore(&mut self, carried: Carried) {
        self.focus = carried.focus;
        self.layer = carried.layer.min(self.layer_count().saturating_sub(1));
        self.layers_top = carried.layers_top;
        self.mode = carried.mode;
        self.tree = FileTree::with_state(&self.analysis.tree, carried.tree);
        self.filter_text = carried.filter_text;
        self.search = carried.search;
        self.image_list = carried.image_list;
        if self.secrets.show_low != carried.show_low {
            self.secrets.toggle_low(&self.analysis.secrets);
        }
        self.overlay = carried.overlay;
        self.prompt = carried.prompt;
        self.status = carried.status;
        self.extracting = carried.extracting;
        self.last_job = carried.last_job;
        // The tree may show another range now (the selected layer became explorable).
        self.apply_view();
        self.resize(self.size);
    }

    /// Layers listed: every layer of the image (while loading too).
    pub fn layer_count(&self) -> usize {
        match self.loading {
            Some(_) => self.image.layers.len(),
            None => self
                .image
                .layers
                .len()
                .min(self.analysis.tree.layer_count()),
        }
    }

    /// Whether the tree can show the selected layer (and range): every layer up to it is loaded.
    pub fn explorable(&self) -> bool {
        let (_, to, _) = self.range();
        self.loading.is_none() || (to as usize) < self.analysis.tree.layer_count()
    }

    pub fn areas(&self) -> Areas {
        Areas::of(self.size, self)
    }

    /// Where keys are looked up, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        let first = match &self.overlay {
            Some(Overlay::Help { .. }) => Context::Help,
            Some(Overlay::Viewer(_)) => Context::Viewer,
            Some(Overlay::Wasted(_) | Overlay::Secrets(_)) => Context::List,
            Some(Overlay::Advice(_)) => Context::Advice,
            None => match self.focus {
                Pane::Layers => Context::Layers,
                Pane::Image => Context::List,
                Pane::Tree => Context::Tree,
            },
        };
        vec![first, Context::Global]
    }

    /// The action a key asks for in the current state (prompts take text first).
    pub fn action_for_key(&self, event: crossterm::event::KeyEvent) -> Option<Action> {
        use crossterm::event::{KeyCode, KeyModifiers};
        let key = keymap::normalize(event);
        if self.prompt.is_some() {
            let ctrl = key.mods.contains(KeyModifiers::CONTROL);
            return match key.code {
                KeyCode::Char('c') if ctrl => Some(Action::Command(Command::Quit)),
                KeyCode::Char(c) if !ctrl => Some(Action::Char(c)),
                KeyCode::Backspace => Some(Action::Backspace),
                KeyCode::Enter => Some(Action::Submit),
                KeyCode::Esc => Some(Action::Command(Command::Close)),
                _ => None,
            };
        }
        keymap::lookup(&self.contexts(), key).map(Action::Command)
    }

    pub fn update(&mut self, action: Action) -> Effect {
        let reading = self
            .viewer_reading()
            .filter(|id| !matches!(&action, Action::Done { id: done, .. } if done == id));
        let mut effect = self.apply(action);
        // The viewer closed or replaced before its bytes came: stop reading them.
        if let Some(id) = reading
            && self.viewer_reading() != Some(id)
            && effect == Effect::None
        {
            effect = Effect::Cancel(id);
        }
        // The layout follows the focus and the selected layer's instruction: keep page sizes in step.
        let page = self.areas().tree_rows().max(1);
        if page != self.tree.page {
            self.tree.page = page;
            self.tree.clamp();
        }
        effect
    }

    fn apply(&mut self, action: Action) -> Effect {
        match action {
            Action::Command(c) => {
                self.status = None;
                self.command(c)
            }
            Action::Char(c) => self.prompt_char(c),
            Action::Backspace => self.prompt_backspace(),
            Action::Submit => self.prompt_submit(),
            Action::Resize { width, height } => {
                self.resize(Rect::new(0, 0, width, height));
                Effect::None
            }
            Action::Scroll { column, row, down } => {
                self.scroll_at(column, row, down);
                Effect::None
            }
            Action::Click { column, row } => {
                self.click_at(column, row);
                Effect::None
            }
            Action::Done { id, outcome } => {
                self.done(id, outcome);
                Effect::None
            }
        }
    }

    fn resize(&mut self, size: Rect) {
        self.size = size;
        let areas = self.areas();
        self.tree.page = areas.tree_rows().max(1);
        self.tree.clamp();
        self.keep_layer_visible();
    }

    fn command(&mut self, c: Command) -> Effect {
        match c {
            Command::Quit => return Effect::Quit,
            Command::Help => {
                self.overlay = match self.overlay {
                    Some(Overlay::Help { .. }) => None,
                    _ => Some(Overlay::Help { scroll: 0 }),
                };
                return Effect::None;
            }
            Command::Close => {
                if self.prompt.is_some() {
                    self.cancel_prompt();
                } else {
                    self.overlay = None;
                }
                return Effect::None;
            }
            Command::Wasted => {
                self.overlay = Some(Overlay::Wasted(ListCursor::default()));
                return Effect::None;
            }
            Command::Secrets => {
                self.overlay = Some(Overlay::Secrets(ListCursor::default()));
                return Effect::None;
            }
            Command::Advice => {
                self.overlay = Some(Overlay::Advice(ListCursor::default()));
                return Effect::None;
            }
            Command::DiffOnly => {
                self.toggle_diff_only();
                return Effect::None;
            }
            Command::CycleMode => {
                self.set_mode(match self.mode {
                    Mode::Image => Mode::Layer,
                    Mode::Layer => Mode::Range { from: 0 },
                    Mode::Range { .. } => Mode::Image,
                });
                return Effect::None;
            }
            _ => {}
        }
        if self.overlay.is_some() {
            return self.overlay_command(c);
        }
        match self.focus {
            Pane::Layers => self.layers_command(c),
            Pane::Image => self.list_command(c),
            // The tree of a layer still loading is not on screen: nothing in it to act on yet.
            Pane::Tree if !self.explorable() && c != Command::SwitchPane => {
                self.status = Some(format!("layer {} is still loading", self.layer));
                Effect::None
            }
            Pane::Tree => self.tree_command(c),
        }
    }

    pub(super) fn switch_pane(&mut self) {
        self.focus = match self.focus {
            Pane::Layers => Pane::Image,
            Pane::Image => Pane::Tree,
            Pane::Tree => Pane::Layers,
        };
    }

    fn layers_command(&mut self, c: Command) -> Effect {
        let last = self.layer_count().saturating_sub(1);
        let page = self.areas().layers.height.saturating_sub(2).max(1) as usize;
        match c {
            Command::Up => self.select_layer(self.layer.saturating_sub(1)),
            Command::Down => self.select_layer((self.layer + 1).min(last)),
            Command::PageUp => self.select_layer(self.layer.saturating_sub(page)),
            Command::PageDown => self.select_layer((self.layer + page).min(last)),
            Command::First => self.select_layer(0),
            Command::Last => self.select_layer(last),
            Command::ModeLayer => self.set_mode(Mode::Layer),
            Command::ModeImage => self.set_mode(Mode::Image),
            Command::CompareFrom => self.set_mode(match self.mode {
                Mode::Range { .. } => Mode::Layer,
                _ => Mode::Range { from: self.layer },
            }),
            Command::SwitchPane => self.switch_pane(),
            Command::Select => self.focus = Pane::Tree,
            Command::Filter => {
                self.focus = Pane::Tree;
                return self.tree_command(c);
            }
            _ => {}
        }
        Effect::None
    }

    pub fn select_layer(&mut self, layer: usize) {
        self.layer = layer.min(self.layer_count().saturating_sub(1));
        self.keep_layer_visible();
        self.apply_view();
    }

    fn keep_layer_visible(&mut self) {
        let height = self.areas().layers.height.saturating_sub(2) as usize;
        let (start, end) = (
            self.layer_lines.get(self.layer).copied().unwrap_or(0),
            self.layer_lines.get(self.layer + 1).copied().unwrap_or(0),
        );
        if start < self.layers_top {
            self.layers_top = start;
        } else if end > self.layers_top + height.max(1) {
            self.layers_top = end.saturating_sub(height.max(1)).min(start);
        }
    }

    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.apply_view();
    }

    /// The (from, to) range of layers the tree shows and whether only changes are listed.
    pub fn range(&self) -> (Option<u32>, u32, bool) {
        let l = self.layer as u32;
        match self.mode {
            Mode::Image => (l.checked_sub(1), l, false),
            Mode::Layer => (l.checked_sub(1), l, true),
            Mode::Range { from } => {
                let (lo, hi) = (l.min(from as u32), l.max(from as u32));
                (lo.checked_sub(1), hi, true)
            }
        }
    }

    fn apply_view(&mut self) {
        // A layer still loading: the tree pane says how far it is, the tree keeps its last range meanwhile.
        if self.layer_count() == 0 || !self.explorable() {
            return;
        }
        let (from, to, changes_only) = self.range();
        if self.tree.options.changes_only != changes_only {
            self.tree.options.changes_only = changes_only;
            if (from, to) == (self.tree.from(), self.tree.to()) {
                self.tree.rebuild();
                return;
            }
        }
        if (from, to) != (self.tree.from(), self.tree.to()) {
            self.tree.set_range(from, to);
        }
    }

    /// Items of the image details list (wasted files then secrets), or of one overlay list.
    pub fn list_len(&self, secrets_only: bool) -> usize {
        let secrets = self.secrets.len();
        match (&self.overlay, secrets_only) {
            (Some(Overlay::Wasted(_)), _) => self.analysis.waste.files.len(),
            (Some(Overlay::Advice(_)), _) => self.analysis.advice.len(),
            (Some(Overlay::Secrets(_)), _) | (_, true) => secrets,
            _ => self.analysis.waste.files.len() + secrets,
        }
    }
}
