//! Every key binding, as data: one table maps keys to commands per context, and the same table feeds the `?`
//! help overlay, the footer line and the README's key list. Nothing else decides what a key does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for; `App::update` gives each its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    SwitchPane,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Collapse,
    Expand,
    ToggleDir,
    ToggleCollapseAll,
    ToggleAdded,
    ToggleRemoved,
    ToggleModified,
    ToggleUnmodified,
    ToggleAttributes,
    ToggleSortSize,
    Search,
    SearchNext,
    SearchPrev,
    Filter,
    Wasted,
    Secrets,
    Advice,
    DiffOnly,
    ViewFile,
    Extract,
    Help,
    Close,
    Select,
    ModeLayer,
    ModeImage,
    CompareFrom,
    CycleMode,
    ToggleLowConfidence,
}

/// Where a binding applies. Overlays first, then the focused pane, then `Global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Global,
    Layers,
    Tree,
    /// The image details pane and the wasted-files / secrets lists.
    List,
    /// The advice overlay.
    Advice,
    Viewer,
    Help,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Layers => "Layers pane",
            Context::Tree => "File tree",
            Context::List => "Image details, wasted files and secrets lists",
            Context::Advice => "Advice list",
            Context::Viewer => "File viewer",
            Context::Help => "Help",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// The keys as the help shows them.
    pub label: &'static str,
    pub help: &'static str,
    /// A short word for the footer, when the binding earns a place there.
    pub footer: Option<&'static str>,
    pub command: Command,
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
    footer: Option<&'static str>,
    command: Command,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        help,
        footer,
        command,
    }
}

use Command as C;
use Context::{Advice, Global, Help, Layers, List, Tree, Viewer};

/// The table. Order matters only for display.
#[rustfmt::skip]
pub const BINDINGS: &[Binding] = &[
    bind(Global, &[ch('q'), ctrl('c')], "q, ctrl+c", "quit", Some("quit"), C::Quit),
    bind(Global, &[ch('?')], "?", "show or hide this help", Some("help"), C::Help),
    bind(Global, &[key(KeyCode::Tab), key(KeyCode::BackTab)], "Tab", "switch pane (layers, image details, tree)", Some("pane"), C::SwitchPane),
    bind(Global, &[key(KeyCode::Up), ch('k')], "Up, k", "move up", None, C::Up),
    bind(Global, &[key(KeyCode::Down), ch('j')], "Down, j", "move down", None, C::Down),
    bind(Global, &[key(KeyCode::PageUp)], "PgUp", "page up", None, C::PageUp),
    bind(Global, &[key(KeyCode::PageDown)], "PgDn", "page down", None, C::PageDown),
    bind(Global, &[key(KeyCode::Home)], "Home", "first row (first layer)", None, C::First),
    bind(Global, &[key(KeyCode::End)], "End", "last row (last layer)", None, C::Last),
    bind(Global, &[ch('m')], "m", "cycle view: layer changes / whole image / range of layers", Some("mode"), C::CycleMode),
    bind(Global, &[ch('w')], "w", "list wasted files (Enter jumps to the file)", Some("waste"), C::Wasted),
    bind(Global, &[ch('s')], "s", "list secrets (Enter jumps to the file)", Some("secrets"), C::Secrets),
    bind(Global, &[ch('i')], "i", "list advice: what to change in the Dockerfile and the bytes it saves", Some("advice"), C::Advice),
    bind(Global, &[ch('d')], "d", "diff A B: list only the paths that differ from A, or every path", None, C::DiffOnly),
    bind(Global, &[key(KeyCode::Esc)], "Esc", "close the overlay or prompt", None, C::Close),
    bind(Layers, &[ctrl('l')], "ctrl+l", "view: only this layer's changes", None, C::ModeLayer),
    bind(Layers, &[ctrl('a')], "ctrl+a", "view: the whole image at this layer", None, C::ModeImage),
    bind(Layers, &[ch('c')], "c", "compare: changes from the marked layer to the selected one (c again: off)", Some("compare"), C::CompareFrom),
    bind(Layers, &[key(KeyCode::Enter)], "Enter", "go to the file tree", None, C::Select),
    bind(Layers, &[ctrl('f')], "ctrl+f", "go to the file tree and filter its paths (as dive)", None, C::Filter),
    bind(Tree, &[key(KeyCode::Left), ch('h')], "Left, h", "collapse directory (or go to parent)", None, C::Collapse),
    bind(Tree, &[key(KeyCode::Right), ch('l')], "Right, l", "expand directory", None, C::Expand),
    bind(Tree, &[ch(' ')], "Space", "toggle directory", Some("fold"), C::ToggleDir),
    bind(Tree, &[ctrl(' ')], "ctrl+space", "collapse all / expand all", None, C::ToggleCollapseAll),
    bind(Tree, &[ctrl('a'), ch('A')], "ctrl+a, A", "hide or show added files", None, C::ToggleAdded),
    bind(Tree, &[ctrl('r'), ch('R')], "ctrl+r, R", "hide or show removed files", None, C::ToggleRemoved),
    bind(Tree, &[ctrl('m'), ch('M')], "ctrl+m, M", "hide or show modified files (ctrl+m is Enter in most terminals: use M)", None, C::ToggleModified),
    bind(Tree, &[ctrl('u'), ch('U')], "ctrl+u, U", "hide or show unmodified files", None, C::ToggleUnmodified),
    bind(Tree, &[ctrl('b'), ch('B')], "ctrl+b, B", "show or hide attributes (permissions, uid:gid, size)", None, C::ToggleAttributes),
    bind(Tree, &[ctrl('o'), ch('O')], "ctrl+o, O", "sort by size / by name", None, C::ToggleSortSize),
    bind(Tree, &[ch('/')], "/", "search paths (n / N: next / previous match)", Some("search"), C::Search),
    bind(Tree, &[ch('n')], "n", "next search match", None, C::SearchNext),
    bind(Tree, &[ch('N')], "N", "previous search match", None, C::SearchPrev),
    bind(Tree, &[ch('f'), ctrl('f')], "f, ctrl+f", "filter paths by regex (empty: no filter)", Some("filter"), C::Filter),
    bind(Tree, &[ch('v')], "v", "view the file as it was at this layer (text or hexdump)", Some("view"), C::ViewFile),
    bind(Tree, &[ch('x'), ctrl('e')], "x, ctrl+e", "extract the file (as at this layer) to a path", Some("extract"), C::Extract),
    bind(List, &[key(KeyCode::Enter)], "Enter", "jump to that file at its layer", Some("jump"), C::Select),
    bind(List, &[ch('a')], "a", "show or hide low-confidence secrets (third-party and test trees, weak matches)", Some("all secrets"), C::ToggleLowConfidence),
    bind(Advice, &[key(KeyCode::Enter)], "Enter", "select the finding's first path at the first of its layers that holds it", Some("jump"), C::Select),
    bind(Viewer, &[ch('v')], "v", "close the viewer", None, C::Close),
    bind(Help, &[ch('?')], "?", "close the help", None, C::Close),
];

/// Normalises a terminal key event: a shifted letter arrives as the capital alone.
pub fn normalize(event: KeyEvent) -> Key {
    let mut mods = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    if !matches!(event.code, KeyCode::Char(_)) {
        mods |= event.modifiers & KeyModifiers::SHIFT;
    }
    Key {
        code: event.code,
        mods,
    }
}

/// The command bound to `key` in the first of `contexts` that binds it.
pub fn lookup(contexts: &[Context], key: Key) -> Option<Command> {
    contexts.iter().find_map(|ctx| {
        BINDINGS
            .iter()
            .find(|b| b.context == *ctx && b.keys.contains(&key))
            .map(|b| b.command)
    })
}

/// `key word` pairs for the footer of the given contexts, most specific first.
pub fn footer(contexts: &[Context]) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for ctx in contexts {
        for b in BINDINGS.iter().filter(|b| b.context == *ctx) {
            if let Some(word) = b.footer {
                let first = b.label.split(", ").next().unwrap_or(b.label);
                out.push((first, word));
            }
        }
    }
    out
}

/// The key table as Markdown, for the README (a test keeps the README's copy equal to this).
pub fn markdown() -> String {
    let mut out = String::from("| where | keys | action |\n|---|---|---|\n");
    for b in BINDINGS {
        let keys: Vec<String> = b.label.split(", ").map(|k| format!("`{k}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            b.context.title(),
            keys.join(", "),
            b.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_lists_every_binding() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&markdown()),
            "README.md's key table differs from the key table; paste this:\n{}",
            markdown()
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if a.context == b.context {
                    for k in a.keys {
                        assert!(
                            !b.keys.contains(k),
                            "{:?} bound twice in {:?}",
                            k,
                            a.context
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn pane_bindings_shadow_global_ones() {
        assert_eq!(lookup(&[Layers, Global], ctrl('a')), Some(C::ModeImage));
        assert_eq!(lookup(&[Tree, Global], ctrl('a')), Some(C::ToggleAdded));
        assert_eq!(lookup(&[Tree, Global], ch('q')), Some(C::Quit));
        assert_eq!(lookup(&[Layers, Global], ch('f')), None);
    }

    #[test]
    fn dive_ctrl_keys_filter_and_extract_in_the_tree() {
        assert_eq!(lookup(&[Tree, Global], ctrl('f')), Some(C::Filter));
        assert_eq!(lookup(&[Tree, Global], ctrl('e')), Some(C::Extract));
        assert_eq!(lookup(&[Layers, Global], ctrl('f')), Some(C::Filter));
    }

    #[test]
    fn shifted_letters_and_ctrl_space_normalise() {
        let shifted = KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT);
        assert_eq!(normalize(shifted), ch('N'));
        let ctrl_space = KeyEvent::new(KeyCode::Char(' '), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(&[Tree], normalize(ctrl_space)),
            Some(C::ToggleCollapseAll)
        );
    }
}
