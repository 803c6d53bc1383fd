//! Styles of the explorer. With `NO_COLOR` (or colour off) only modifiers remain (reverse video for the
//! selection, bold for titles): change kinds stay readable from their `+ ~ -` markers.

use ratatui::style::{Color, Modifier, Style};

use crate::tree::ChangeKind;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn change(&self, kind: ChangeKind) -> Style {
        match kind {
            ChangeKind::Added => self.fg(Color::Green),
            ChangeKind::Modified => self.fg(Color::Yellow),
            ChangeKind::Deleted => self.fg(Color::Red),
            ChangeKind::Unmodified => Style::new(),
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => Style::new(),
        }
    }

    /// The selected row: reverse video in the focused pane, bold (and underlined without colour) elsewhere.
    pub fn selected(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, _) => Style::new().add_modifier(Modifier::REVERSED),
            (false, true) => Style::new().bg(Color::DarkGray),
            (false, false) => Style::new().add_modifier(Modifier::UNDERLINED),
        }
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// A path whose bytes are the same but whose mode, owner or link target changed (`diff A B`).
    pub fn metadata(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn bar(&self) -> Style {
        self.fg(Color::Blue)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
}

/// The one-character marker of a change kind (the colour-blind and NO_COLOR-safe cue).
pub fn marker(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "+",
        ChangeKind::Modified => "~",
        ChangeKind::Deleted => "-",
        ChangeKind::Unmodified => " ",
    }
}
