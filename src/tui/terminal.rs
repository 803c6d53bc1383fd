//! The terminal side of the explorer: raw mode, alternate screen and mouse capture on the way in; restored on
//! every way out (quit, error, panic, SIGTERM/SIGHUP/SIGINT). The event loop reads input, feeds `App::update`,
//! performs effects and redraws; pending input is drained before each frame so held keys never queue up.

use std::io::{Stdout, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::app::{Action, App, Effect};
use super::effects;
use crate::analysis::Analysis;
use crate::source::LoadedImage;
use crate::{Error, Result};

fn io(e: std::io::Error) -> Error {
    Error::io("terminal", e)
}

/// Puts the terminal back as it was; safe to call more than once.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped (also while unwinding).
struct Session {
    signals: Vec<signal_hook::SigId>,
}

impl Session {
    fn enter(caught: &Arc<AtomicUsize>) -> Result<Session> {
        // Built first, so that a failure half-way still restores everything through Drop.
        let mut session = Session {
            signals: Vec::new(),
        };
        for sig in [SIGTERM, SIGHUP, SIGINT] {
            let caught = caught.clone();
            // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
            let id = unsafe {
                signal_hook::low_level::register(sig, move || {
                    caught.store(sig as usize, Ordering::SeqCst)
                })
            }
            .map_err(io)?;
            session.signals.push(id);
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode().map_err(io)?;
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture).map_err(io)?;
        Ok(session)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        restore();
        if !std::thread::panicking() {
            let _ = std::panic::take_hook();
        }
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Runs the explorer until the user quits; the exit code (0, or 128 + the signal that ended it).
pub fn run(loaded: &LoadedImage, analysis: &Analysis, color: bool) -> Result<i32> {
    let caught = Arc::new(AtomicUsize::new(0));
    let _session = Session::enter(&caught)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(io)?;
    terminal.clear().map_err(io)?;
    let size = terminal.size().map_err(io)?;
    let mut app = App::new(
        &loaded.image,
        analysis,
        color,
        Rect::new(0, 0, size.width, size.height),
    );
    loop {
        draw(&mut terminal, &app)?;
        let sig = caught.load(Ordering::SeqCst);
        if sig != 0 {
            return Ok(128 + sig as i32);
        }
        if !event::poll(Duration::from_millis(100)).map_err(io)? {
            continue;
        }
        let mut budget = 256;
        loop {
            let action = to_action(&app, event::read().map_err(io)?);
            if let Some(action) = action {
                let mut effect = app.update(action);
                while let Effect::ReadFile { .. } | Effect::Extract { .. } = effect {
                    draw(&mut terminal, &app)?;
                    effect = match effects::perform(loaded, &effect) {
                        Some(result) => app.update(result),
                        None => Effect::None,
                    };
                }
                if effect == Effect::Quit {
                    return Ok(0);
                }
            }
            budget -= 1;
            if budget == 0 || !event::poll(Duration::ZERO).map_err(io)? {
                break;
            }
        }
    }
}

fn draw(terminal: &mut Terminal<CrosstermBackend<Stdout>>, app: &App) -> Result<()> {
    terminal
        .draw(|frame| super::view::draw(frame, app))
        .map(|_| ())
        .map_err(io)
}

fn to_action(app: &App, event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => app.action_for_key(key),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => Some(Action::Scroll {
                column: m.column,
                row: m.row,
                down: m.kind == MouseEventKind::ScrollDown,
            }),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click {
                column: m.column,
                row: m.row,
            }),
            _ => None,
        },
        Event::Resize(width, height) => Some(Action::Resize { width, height }),
        _ => None,
    }
}
