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

use std::convert::Infallible;
use std::fs::File;
use std::io::{IsTerminal, Stdout, stdin, stdout};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEvent, KeyEventKind, MouseButton,
    MouseEventKind,
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

use super::app::{Action, App, Carried, Effect};
use super::effects::{Job, JobId};
use super::keymap::{self, Command, Context};
use super::loading::{Arrival, Partial};
use super::loading::{LoadReporter, Loaded, Loading};
use super::worker::{self, Message, Outbox, Worker};
use crate::source::LoadProgress;
use crate::{Error, Result};

/// Events handled before the next frame at most, so a flood of input still shows progress.
const INPUT_BUDGET: usize = 256;

/// Keys typed while loading that are kept for the explorer, at most.
const QUEUED_KEYS: usize = 4096;

/// How long quitting waits for a cancelled extraction to remove its partial file.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

const TTY: Token = Token(0);
const SIGNALS: Token = Token(1);
const WAKE: Token = Token(2);

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

/// Waits for the inbox (input, jobs, the load), signals and the terminal hanging up, all at once.
struct Wait {
    poll: Poll,
    events: Events,
    signals: Signals,
    /// Keeps `/dev/tty` open while it is polled.
    _tty: Tty,
    inbox: Receiver<Message>,
    outbox: Outbox,
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
        let (outbox, inbox) = worker::inbox(Waker::new(poll.registry(), WAKE).map_err(io)?);
        let input = outbox.clone();
        std::thread::Builder::new()
            .name("terminal input".into())
            .spawn(move || {
                loop {
                    let event = event::read();
                    let failed = event.is_err();
                    if !input.send(Message::Input(event)) || failed {
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
            inbox,
            outbox,
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

    /// The next message already sent, if any (the loop holds a sender: the inbox never disconnects).
    fn next(&self) -> Option<Message> {
        self.inbox.try_recv().ok()
    }
}

/// What handling one message decides: the loop goes on, the process exits with a code, or the loop ends with a
/// value (the loading view's: the loaded image).
enum Flow<T> {
    Continue,
    Exit(i32),
    Done(T),
}

type Term = Terminal<CrosstermBackend<Stdout>>;

/// The loop the loading view and the explorer share: draw when something changed, sleep in the one poll, then
/// handle at most [`INPUT_BUDGET`] messages before the next frame, so a flood of input still shows progress.
/// Returns the value a handler ended the loop with, or the code to exit with (a handler's, or a stop's).
fn pump<S, T>(
    wait: &mut Wait,
    terminal: &mut Term,
    state: &mut S,
    draw: impl Fn(&mut ratatui::Frame, &S),
    mut handle: impl FnMut(&mut S, Message) -> Result<Flow<T>>,
) -> Result<std::result::Result<T, i32>> {
    let mut dirty = true;
    let mut backlog = false;
    loop {
        if dirty {
            if let Err(e) = terminal.draw(|frame| draw(frame, state)) {
                return gone_or(wait, io(e)).map(Err);
            }
            dirty = false;
        }
        if let Some(stop) = wait.wait(backlog.then_some(Duration::ZERO))? {
            return Ok(Err(stop.code()));
        }
        backlog = false;
        for handled in 0.. {
            if handled == INPUT_BUDGET {
                backlog = true;
                break;
            }
            let Some(message) = wait.next() else {
                break;
            };
            dirty = true;
            match handle(state, message)? {
                Flow::Continue => {}
                Flow::Exit(code) => return Ok(Err(code)),
                Flow::Done(value) => return Ok(Ok(value)),
            }
        }
    }
}

/// Runs the explorer until the user quits; the exit code (0, or 128 + the signal that ended it; 129 when the
/// terminal went away). `load` reads and analyses the image `source` on a thread of its own, reporting to the
/// loading view, which is on screen at once; as soon as the bottom layer is scanned the explorer opens on the
/// partial model (`partial.rs`), each newer one swapped in keeping the explorer's state, then the full one.
/// Keys typed before the explorer opens are applied then, and q quits at once (the process ends, and the load
/// with it).
pub fn run<F>(source: &str, load: F, color: bool) -> Result<i32>
where
    F: FnOnce(&dyn LoadProgress) -> Result<Loaded> + Send + 'static,
{
    let mut wait = Wait::new()?;
    let arrivals = super::partial::start(wait.outbox.clone()).map_err(io)?;
    start_load(load, arrivals, wait.outbox.clone())?;
    let _session = Session::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(io)?;
    terminal.clear().map_err(io)?;
    let loading = Loading {
        source: source.to_string(),
        ..Loading::default()
    };
    let mut state = (loading, Vec::new());
    let ended = pump(
        &mut wait,
        &mut terminal,
        &mut state,
        |frame, (loading, _)| super::view::loading::draw(frame, loading, color),
        |(loading, queued), message| {
            Ok(match message {
                Message::Input(event) => match event.map_err(io)? {
                    Event::Key(key) if key.kind != KeyEventKind::Release && quits(key) => {
                        Flow::Exit(0)
                    }
                    event => {
                        hold(queued, event);
                        loading.queued = queued.len();
                        Flow::Continue
                    }
                },
                Message::Loading(report) => {
                    loading.report = report;
                    Flow::Continue
                }
                Message::Partial(model) => Flow::Done(Next::Partial(model)),
                Message::Loaded(result) => Flow::Done(Next::Full(Box::new((*result)?))),
                Message::Done(_) => Flow::Continue,
            })
        },
    )?;
    let mut next = match ended {
        Ok(next) => next,
        Err(code) => return Ok(code),
    };
    let (loading, queued) = state;
    let mut held = Held {
        loading,
        queued,
        carried: None,
        jobs: Pending(Vec::new()),
    };
    let loaded = loop {
        match newest(&wait, next, &mut held)? {
            Next::Full(loaded) => break *loaded,
            Next::Partial(model) => {
                next = match explore_partial(&mut wait, &mut terminal, &model, &mut held, color)? {
                    Ok(next) => next,
                    Err(code) => return Ok(code),
                };
            }
        }
    };
    explore(&mut wait, &mut terminal, loaded, held, color)
}

/// Keeps a key typed while no explorer is there to take it, for the explorer to come (at most [`QUEUED_KEYS`]);
/// other events go: the explorer reads the terminal's size when it starts.
fn hold(queued: &mut Vec<Event>, event: Event) {
    if matches!(event, Event::Key(_)) && queued.len() < QUEUED_KEYS {
        queued.push(event);
    }
}

/// What ends a loading stage: a newer partial model, or the full one.
enum Next {
    Partial(Arc<Partial>),
    Full(Box<Loaded>),
}

/// The newest model among the messages already waiting: an explorer built on a model already superseded
/// would only delay the newer one. Keys waiting meanwhile are kept for the explorer, in order.
fn newest(wait: &Wait, mut next: Next, held: &mut Held) -> Result<Next> {
    while matches!(next, Next::Partial(_)) {
        let Some(message) = wait.next() else {
            break;
        };
        match message {
            Message::Input(event) => hold(&mut held.queued, event.map_err(io)?),
            Message::Loading(report) => held.loading.report = report,
            Message::Partial(model) => next = Next::Partial(model),
            Message::Loaded(result) => next = Next::Full(Box::new((*result)?)),
            Message::Done(_) => {}
        }
    }
    Ok(next)
}

/// What the explorer keeps from one model to the next while the image loads.
struct Held {
    loading: Loading,
    /// Keys typed before the explorer opened, applied to the first model explored.
    queued: Vec<Event>,
    carried: Option<Carried>,
    /// Jobs asked for while no model could run them (viewing or extracting a file), started once loaded.
    jobs: Pending,
}

/// Runs jobs: the worker once the image is loaded, a queue before.
trait Jobs {
    fn start(&mut self, id: JobId, job: Job);
    fn cancel(&mut self, id: JobId);
}

impl Jobs for Worker {
    fn start(&mut self, id: JobId, job: Job) {
        Worker::start(self, id, job);
    }
    fn cancel(&mut self, id: JobId) {
        Worker::cancel(self, id);
    }
}

/// Jobs asked for while loading, in order (the worker replaces each lane's unfinished job by the next).
struct Pending(Vec<(JobId, Job)>);

impl Jobs for Pending {
    fn start(&mut self, id: JobId, job: Job) {
        self.0.push((id, job));
    }
    fn cancel(&mut self, id: JobId) {
        self.0.retain(|(pending, _)| *pending != id);
    }
}

/// Reads and analyses the image on a thread of its own; its reports and its end go to the inbox, the resolved
/// image and each scanned layer to the partial model's builder (`arrivals`).
fn start_load<F>(load: F, arrivals: Sender<Arrival>, outbox: Outbox) -> Result<()>
where
    F: FnOnce(&dyn LoadProgress) -> Result<Loaded> + Send + 'static,
{
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let reports = outbox.clone();
            let progress = LoadReporter::new(move |report| {
                reports.send(Message::Loading(report));
            })
            .with_arrivals(arrivals);
            // A panic is reported (and the terminal restored) by the session's hook; the explorer then ends.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(&progress)))
                .unwrap_or_else(|_| {
                    Err(Error::io(
                        "loading",
                        std::io::Error::other("the load stopped unexpectedly"),
                    ))
                });
            // The builder stops with the load: no partial model after the full one.
            drop(progress);
            outbox.send(Message::Loaded(Box::new(result)));
        })
        .map(|_| ())
        .map_err(io)
}

/// Keys that quit while the image loads (no prompt can be open yet).
fn quits(key: KeyEvent) -> bool {
    keymap::lookup(&[Context::Global], keymap::normalize(key)) == Some(Command::Quit)
}

/// A draw that failed because the terminal has just gone away is a stop, not an error.
fn gone_or(wait: &mut Wait, error: Error) -> Result<i32> {
    match wait.wait(Some(Duration::ZERO))? {
        Some(stop) => Ok(stop.code()),
        None => Err(error),
    }
}

/// The explorer on one partial model, until a newer model comes (or the user quits).
fn explore_partial(
    wait: &mut Wait,
    terminal: &mut Term,
    model: &Partial,
    held: &mut Held,
    color: bool,
) -> Result<std::result::Result<Next, i32>> {
    let size = terminal.size().map_err(io)?;
    let mut app = App::new(
        &model.image,
        &model.analysis,
        color,
        Rect::new(0, 0, size.width, size.height),
    );
    app.loading = Some(std::mem::take(&mut held.loading));
    if let Some(carried) = held.carried.take() {
        app.restore(carried);
    }
    for event in std::mem::take(&mut held.queued) {
        if let Flow::Exit(code) = input(&mut app, &mut held.jobs, Ok(event))? {
            return Ok(Err(code));
        }
    }
    let jobs = &mut held.jobs;
    let ended = pump(
        wait,
        terminal,
        &mut app,
        |frame, app| super::view::draw(frame, app),
        |app, message| {
            Ok(match message {
                Message::Input(event) => match input(app, jobs, event)? {
                    Flow::Exit(code) => Flow::Exit(code),
                    _ => Flow::Continue,
                },
                Message::Done(action) => match act(app, jobs, action) {
                    Flow::Exit(code) => Flow::Exit(code),
                    _ => Flow::Continue,
                },
                Message::Loading(report) => {
                    if let Some(loading) = &mut app.loading {
                        loading.report = report;
                    }
                    Flow::Continue
                }
                Message::Partial(model) => Flow::Done(Next::Partial(model)),
                Message::Loaded(result) => Flow::Done(Next::Full(Box::new((*result)?))),
            })
        },
    )?;
    held.loading = app.loading.take().unwrap_or_default();
    held.carried = Some(app.carry());
    Ok(ended)
}

/// The explorer proper, once the image is loaded: the state of the partial explorer (or the keys typed while
/// loading) first, then the loop.
fn explore(
    wait: &mut Wait,
    terminal: &mut Term,
    loaded: Loaded,
    held: Held,
    color: bool,
) -> Result<i32> {
    let Loaded {
        image,
        analysis,
        note,
        diff,
    } = loaded;
    let image = Arc::new(image);
    let mut worker = Worker::new(image.clone(), wait.outbox.clone())?;
    let size = terminal.size().map_err(io)?;
    let mut app = App::new(
        &image.image,
        &analysis,
        color,
        Rect::new(0, 0, size.width, size.height),
    );
    if let Some(carried) = held.carried {
        app.restore(carried);
    }
    if app.status.is_none() {
        app.status = note;
    }
    if let Some(marks) = diff {
        app.mark_against(marks);
    }
    for (id, job) in held.jobs.0 {
        worker.start(id, job);
    }
    let result = (|| {
        for event in held.queued {
            if let Flow::Exit(code) = input(&mut app, &mut worker, Ok(event))? {
                return Ok(code);
            }
        }
        explore_loop(wait, terminal, &mut app, &mut worker)
    })();
    worker.shutdown(SHUTDOWN_GRACE);
    result
}

fn explore_loop(
    wait: &mut Wait,
    terminal: &mut Term,
    app: &mut App,
    worker: &mut Worker,
) -> Result<i32> {
    let ended = pump(
        wait,
        terminal,
        app,
        |frame, app| super::view::draw(frame, app),
        |app, message| {
            Ok(match message {
                Message::Input(event) => input(app, worker, event)?,
                Message::Done(action) => act(app, worker, action),
                Message::Loading(_) | Message::Partial(_) | Message::Loaded(_) => Flow::Continue,
            })
        },
    )?;
    match ended {
        Ok(never) => match never {},
        Err(code) => Ok(code),
    }
}

fn input(
    app: &mut App,
    jobs: &mut dyn Jobs,
    event: std::io::Result<Event>,
) -> Result<Flow<Infallible>> {
    Ok(match to_action(app, event.map_err(io)?) {
        Some(action) => act(app, jobs, action),
        None => Flow::Continue,
    })
}

/// Updates the app and hands the effect to the jobs' runner.
fn act(app: &mut App, jobs: &mut dyn Jobs, action: Action) -> Flow<Infallible> {
    match app.update(action) {
        Effect::None => {}
        Effect::Quit => return Flow::Exit(0),
        Effect::Run { id, job } => jobs.start(id, job),
        Effect::Cancel(id) => jobs.cancel(id),
    }
    Flow::Continue
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

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    /// Between two partial models too, keys wait for the explorer in order and at most QUEUED_KEYS of them;
    /// mouse and resize events are not replayed.
    #[test]
    fn keys_typed_between_models_are_held_in_order_and_bounded() {
        let key = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        let mut queued = Vec::new();
        hold(&mut queued, key('a'));
        hold(&mut queued, Event::Resize(80, 24));
        hold(&mut queued, key('b'));
        assert_eq!(queued, [key('a'), key('b')]);
        for _ in 0..2 * QUEUED_KEYS {
            hold(&mut queued, key('x'));
        }
        assert_eq!(queued.len(), QUEUED_KEYS);
    }
}
