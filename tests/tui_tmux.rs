//! End to end: the real binary's explorer driven inside tmux (send-keys, capture-pane) on a real Docker-built
//! image. The layers pane shows the instructions, moving to a layer shows the files it added, a filter and the
//! help overlay work, `q` exits 0 and leaves the terminal as it was (main screen back, cooked mode); SIGTERM,
//! SIGHUP and the terminal going away end it promptly. Fed through a FIFO, the loading view is on screen before
//! the image arrives: keys typed then apply once it is loaded, `q` quits at once.
//!
//! Skips when tmux is missing, unless LAYERSCOPE_REQUIRE_ENGINES=1 (CI), where it fails instead.

#[path = "common/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tmux::{Tmux, start, tmux_available};

#[test]
fn explorer_in_tmux() {
    if !tmux_available() {
        return;
    }
    let t = start("keys");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    let line = format!(
        "'{}' '{}'; echo EXIT=$? > '{}'",
        env!("CARGO_BIN_EXE_layerscope"),
        fixture.display(),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);

    // The layers pane: every instruction as written, empty steps under their layer, build args masked.
    // A capture can land mid-frame: wait for every part, not just the first one drawn.
    let expected = [
        "Layers (7)",
        "RUN mkdir -p /srv/app/stati",
        "RUN printf 'machine api.exa",
        "RUN dd if=/dev/zero of=/tmp",
        "└ WORKDIR /srv/app",
        "└ CMD [\"cat\" \"app.conf\"]",
        "Files · image at layer 0",
    ];
    let screen = t.wait("the whole layers pane", |s| {
        expected.iter().all(|e| s.contains(e))
    });
    assert!(
        !screen.contains("AXPX6LYb"),
        "a build argument in clear:\n{screen}"
    );

    // Layer 3, only its changes: the .netrc and assets.bin it added.
    t.keys(&["Down", "Down", "Down", "C-l"]);
    let screen = t.wait("layer 3's changes", |s| {
        s.contains("Files · layer 3 changes")
            && s.contains(".netrc")
            && s.contains("assets.bin")
            && s.contains("Layer 3 ")
    });
    assert!(
        screen.contains(".netrc") && screen.contains("assets.bin"),
        "{screen}"
    );
    assert!(screen.contains("Layer 3 "), "{screen}");
    // Layer 4: the build cache it added, and the .ssh directory it deleted (marked).
    t.keys(&["Down"]);
    let screen = t.wait("layer 4's changes", |s| {
        s.contains("Files · layer 4 changes")
            && s.contains("id_rsa")
            && s.contains("build-cache.img")
    });
    assert!(
        screen.contains("+ -rw-r--r--") && screen.contains("build-cache.img"),
        "{screen}"
    );
    assert!(
        screen.contains("- -rw-------") && screen.contains("id_rsa"),
        "{screen}"
    );
    assert!(!screen.contains("── assets.bin"), "{screen}");

    // A filter, typed in the tree pane.
    t.keys(&["Tab", "Tab", "f"]);
    t.text("ssh");
    t.keys(&["Enter"]);
    let screen = t.wait("the filter", |s| {
        s.contains("filter /ssh/") && s.contains("└── id_rsa")
    });
    assert!(
        screen.contains("└── id_rsa") && !screen.contains("── build-cache.img"),
        "{screen}"
    );

    // The help overlay lists the keys; Esc closes it.
    t.keys(&["?"]);
    let screen = t.wait("the help", |s| {
        s.contains("Keys (? or Esc closes") && s.contains("collapse all")
    });
    assert!(
        screen.contains("ctrl+space") && screen.contains("collapse all"),
        "{screen}"
    );
    t.keys(&["Escape"]);
    t.wait("the help to close", |s| {
        !s.contains("Keys (? or Esc closes")
    });

    // q quits with 0, back on the shell's screen in cooked mode.
    t.keys(&["q"]);
    let start = Instant::now();
    while !t.exit_file().exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = std::fs::read_to_string(t.exit_file()).unwrap_or_default();
    assert_eq!(code.trim(), "EXIT=0", "screen:\n{}", t.screen());
    t.text("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo -e -icanon -e -echo");
    t.keys(&["Enter"]);
    let screen = t.wait("stty", |s| s.lines().any(|l| l == "icanon"));
    assert!(
        !screen.contains("Layers (7)"),
        "the UI is still on screen:\n{screen}"
    );
    assert!(screen.lines().any(|l| l == "echo"), "{screen}");
    // The command line typed before the UI started is visible again: the primary screen is back (the prompt
    // itself may have been printed after the keys were sent, so it is not looked for).
    assert!(
        screen.contains("echo EXIT=$?"),
        "the shell's screen is back:\n{screen}"
    );
}

/// Starts the explorer on the real fixture under `sh`, which writes its pid first; returns that pid.
fn launch(t: &Tmux) -> String {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    let pid_file = t.dir.path().join("pid");
    let line = format!(
        "sh -c 'echo $$ > \"$1\"; exec \"$2\" \"$3\"' sh '{}' '{}' '{}'; echo EXIT=$? > '{}'",
        pid_file.display(),
        env!("CARGO_BIN_EXE_layerscope"),
        fixture.display(),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    t.wait("the explorer", |s| s.contains("Layers (7)"));
    std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string()
}

/// Whether process `pid` still runs (a zombie nobody reaped has ended).
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Waits up to `limit` for process `pid` to end; whether it did.
fn ends_within(pid: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !running(pid)
}

/// Ends `pid` if a failed test left it behind.
fn reap(pid: &str) {
    if running(pid) {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
    }
}

fn signal(pid: &str, sig: &str) {
    let sent = Command::new("kill").args([sig, pid]).status().unwrap();
    assert!(sent.success());
}

fn exit_line(t: &Tmux) -> String {
    let start = Instant::now();
    while !t.exit_file().exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(t.exit_file())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn sigterm_restores_the_terminal() {
    if !tmux_available() {
        return;
    }
    let t = start("sigterm");
    let pid = launch(&t);
    signal(&pid, "-TERM");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended, "SIGTERM did not end the explorer within 2 s");
    assert_eq!(exit_line(&t), "EXIT=143", "screen:\n{}", t.screen());
    let screen = t.screen();
    assert!(
        !screen.contains("Layers (7)"),
        "the UI is still on screen:\n{screen}"
    );
}

#[test]
fn sighup_ends_the_explorer() {
    if !tmux_available() {
        return;
    }
    let t = start("sighup");
    let pid = launch(&t);
    signal(&pid, "-HUP");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended, "SIGHUP did not end the explorer within 2 s");
    assert_eq!(exit_line(&t), "EXIT=129", "screen:\n{}", t.screen());
}

/// An ssh drop or a closed terminal window: the terminal goes away under the explorer, which must end (not
/// spin reading a dead terminal), and must still obey SIGTERM meanwhile.
#[test]
fn the_explorer_ends_when_its_terminal_goes_away() {
    if !tmux_available() {
        return;
    }
    let t = start("hangup");
    let pid = launch(&t);
    let out = t.cmd(&["kill-session", "-t", "e2e"]);
    assert!(out.status.success(), "kill-session: {out:?}");
    let ended = ends_within(&pid, Duration::from_secs(2));
    if !ended {
        signal(&pid, "-TERM");
    }
    let obeyed_sigterm = ended || ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(
        ended,
        "the explorer still runs 2 s after its terminal went away (SIGTERM then {})",
        if obeyed_sigterm {
            "ended it"
        } else {
            "was ignored too"
        }
    );
}

/// Times the main thread of `pid` went to sleep so far.
fn wakeups(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// No redraw timer: an idle explorer sleeps until a key, a resize or a signal comes.
#[test]
fn an_idle_explorer_sleeps() {
    if !tmux_available() {
        return;
    }
    let t = start("idle");
    let pid = launch(&t);
    std::thread::sleep(Duration::from_millis(300));
    let before = wakeups(&pid);
    std::thread::sleep(Duration::from_secs(1));
    let idle = wakeups(&pid) - before;
    t.keys(&["Down"]);
    t.wait("layer 1", |s| s.contains("Files · image at layer 1"));
    signal(&pid, "-TERM");
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    assert!(ended);
    assert!(idle <= 2, "the idle explorer woke {idle} times in 1 s");
}

/// Starts the explorer on stdin (`-`), fed by `cat` from a FIFO the test writes the image into when it wants;
/// returns the explorer's pid and the FIFO.
fn launch_waiting(t: &Tmux) -> (String, PathBuf) {
    let fifo = t.dir.path().join("image");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let pid_file = t.dir.path().join("pid");
    let line = format!(
        "cat '{}' | sh -c 'echo $$ > \"$1\"; exec \"$2\" -' sh '{}' '{}'; echo EXIT=$? > '{}'",
        fifo.display(),
        pid_file.display(),
        env!("CARGO_BIN_EXE_layerscope"),
        t.exit_file().display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    t.wait("the loading view", |s| {
        s.contains("loading -") && s.contains("opening…")
    });
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    (pid, fifo)
}

/// The explorer is on screen before the image has arrived; keys typed meanwhile apply once it is loaded.
#[test]
fn keys_typed_while_loading_apply_once_loaded() {
    if !tmux_available() {
        return;
    }
    let t = start("loading");
    let (pid, fifo) = launch_waiting(&t);
    t.keys(&["Down", "Down", "Down"]);
    t.wait("the keys kept", |s| s.contains("3 keys kept"));
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/docker-legacy.tar");
    std::fs::write(&fifo, std::fs::read(fixture).unwrap()).unwrap();
    let screen = t.wait("layer 3 selected", |s| {
        s.contains("Layers (7)") && s.contains("Layer 3 ") && s.contains("image at layer 3")
    });
    assert!(screen.contains("Layer 3 "), "{screen}");
    t.keys(&["q"]);
    assert_eq!(exit_line(&t), "EXIT=0");
    reap(&pid);
}

/// `q` while the image loads quits at once, whatever the load is waiting for.
#[test]
fn q_while_loading_quits_at_once() {
    if !tmux_available() {
        return;
    }
    let t = start("loading-q");
    let (pid, fifo) = launch_waiting(&t);
    t.keys(&["q"]);
    let ended = ends_within(&pid, Duration::from_secs(2));
    reap(&pid);
    // Lets `cat` end: it waits for a writer.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    assert!(ended, "still loading after q");
    assert_eq!(exit_line(&t), "EXIT=0");
    let screen = t.wait("the shell back", |s| !s.contains("loading -"));
    assert!(!screen.contains("opening…"), "{screen}");
}
