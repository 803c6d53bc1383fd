//! The terminal side of the explorer: raw mode, alternate screen and mouse capture on the way in; restored on
//! every way out (quit, error, panic, SIGTERM/SIGHUP/SIGINT, the terminal going away).
//!
//! The loop sleeps until something happens and redraws only then: no timer. One `mio` poll waits at once for
//! input (read by a thread of its own, see below), for the signals (through signal-hook's self-pipe, no unsafe
//! handler) and for the terminal hanging up. Pending input is drained before each frame so held keys never
//! queue up.
//!
//! Why input has a thread: crossterm 0.28's reader loops forever, without returning, once the terminal is gone
//! (a read of 0 bytes or EIO is retried at once), so a loop that polls crossterm cannot notice an ssh drop
//! or even a SIGTERM. Here only the input thread can get caught in that loop; the main thread sees the hangup
//! on its own poll of the terminal, restores what it can and ends the process, input thread included.

use std::fs::File;
use std::io::{IsTerminal, Stdout, stdin, stdout};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseButton, MouseEventKind,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::app::{Action, App, Effect};
use super::diff_marks::DiffMarks;
use super::effects;
use crate::analysis::Analysis;
use crate::source::LoadedImage;
use crate::{Error, Result};

/// Events handled before the next frame at most, so a flood of input still shows progress.
const INPUT_BUDGET: usize = 256;

const TTY: Token = Token(0);
const SIGNALS: Token = Token(1);
const INPUT: Token = Token(2);

fn io(e: std::io::Error) -> Error {
    Error::io("terminal", e)
}

/// Puts the terminal back as it was; safe to call more than once, and harmless when the terminal is gone.
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
struct Session;

impl Session {
    fn enter() -> Result<Session> {
        // Built first, so that a failure half-way still restores everything through Drop.
        let session = Session;
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
    }
}

/// The terminal the input comes from: stdin when it is one, else `/dev/tty` (crossterm reads the same).
enum Tty {
    Stdin,
    DevTty(File),
}

impl Tty {
    fn open() -> Result<Tty> {
        if stdin().is_terminal() {
            return Ok(Tty::Stdin);
        }
        File::open("/dev/tty")
            .map(Tty::DevTty)
            .map_err(|e| Error::io("/dev/tty", e))
    }

    fn fd(&self) -> RawFd {
        match self {
            Tty::Stdin => stdin().as_raw_fd(),
            Tty::DevTty(f) => f.as_raw_fd(),
        }
    }
}

/// Why the explorer stops without the user quitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Signal(i32),
    TerminalGone,
}

impl Stop {
    /// The exit code: 128 + the signal, a hangup counting as SIGHUP.
    fn code(self) -> i32 {
        128 + match self {
            Stop::Signal(sig) => sig,
            Stop::TerminalGone => SIGHUP,
        }
    }
}

/// Waits for input, signals and the terminal hanging up, all at once.
struct Wait {
    poll: Poll,
    events: Events,
    signals: Signals,
    /// Keeps `/dev/tty` open while it is polled.
    _tty: Tty,
    input: Receiver<std::io::Result<Event>>,
}

impl Wait {
    fn new() -> Result<Wait> {
        let poll = Poll::new().map_err(io)?;
        let tty = Tty::open()?;
        poll.registry()
            .register(&mut SourceFd(&tty.fd()), TTY, Interest::READABLE)
            .map_err(io)?;
        let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT]).map_err(io)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(io)?;
        let waker = Arc::new(Waker::new(poll.registry(), INPUT).map_err(io)?);
        let (send, input) = mpsc::channel();
        std::thread::Builder::new()
            .name("terminal input".into())
            .spawn(move || {
                loop {
                    let event = event::read();
                    let failed = event.is_err();
                    if send.send(event).is_err() || waker.wake().is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(io)?;
        Ok(Wait {
            poll,
            events: Events::with_capacity(8),
            signals,
            _tty: tty,
            input,
        })
    }

    /// Sleeps until something happens (at most `timeout`); a reason to stop, if one came.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>> {
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            return match e.kind() {
                std::io::ErrorKind::Interrupted => Ok(None),
                _ => Err(io(e)),
            };
        }
        for event in &self.events {
            match event.token() {
                SIGNALS => {
                    if let Some(sig) = self.signals.pending().next() {
                        return Ok(Some(Stop::Signal(sig)));
                    }
                }
                TTY if event.is_read_closed() || event.is_error() => {
                    return Ok(Some(Stop::TerminalGone));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The next input event already read, if any.
    fn next_input(&self) -> Result<Option<Event>> {
        match self.input.try_recv() {
            Ok(event) => event.map(Some).map_err(io),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the input reader stopped",
            ))),
        }
    }
}

/// Runs the explorer until the user quits; the exit code (0, or 128 + the signal that ended it; 129 when the
/// terminal went away).
/// With `diff`, this image is B of `layerscope diff A B`, its paths and layers marked against A.
pub fn run(
    loaded: &LoadedImage,
    analysis: &Analysis,
    color: bool,
    diff: Option<DiffMarks>,
) -> Result<i32> {
    let mut wait = Wait::new()?;
    let _session = Session::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(io)?;
    terminal.clear().map_err(io)?;
    let size = terminal.size().map_err(io)?;
    let mut app = App::new(
        &loaded.image,
        analysis,
        color,
        Rect::new(0, 0, size.width, size.height),
    );
    if let Some(marks) = diff {
        app.mark_against(marks);
    }
    let mut dirty = true;
    let mut backlog = false;
    loop {
        if dirty {
            if let Err(e) = draw(&mut terminal, &app) {
                // A write fails when the terminal has just gone away: say so, rather than fail.
                return match wait.wait(Some(Duration::ZERO))? {
                    Some(stop) => Ok(stop.code()),
                    None => Err(e),
                };
            }
            dirty = false;
        }
        let timeout = backlog.then_some(Duration::ZERO);
        if let Some(stop) = wait.wait(timeout)? {
            return Ok(stop.code());
        }
        backlog = false;
        for handled in 0.. {
            if handled == INPUT_BUDGET {
                backlog = true;
                break;
            }
            let Some(event) = wait.next_input()? else {
                break;
            };
            let Some(action) = to_action(&app, event) else {
                continue;
            };
            dirty = true;
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
