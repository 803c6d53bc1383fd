//! A tmux server of a test's own: a session `e2e` of 120x40 running `sh` without CI in its environment (CI turns
//! on --ci), keys sent, the screen captured and waited for. Shared by the tests that drive the real binary in a
//! terminal.
// Each test crate that includes this uses only some of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
    pub dir: tempfile::TempDir,
}

impl Tmux {
    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "e2e", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn text(&self, text: &str) {
        let out = self.cmd(&["send-keys", "-t", "e2e", "-l", text]);
        assert!(out.status.success());
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after 20 s.
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn exit_file(&self) -> PathBuf {
        self.dir.path().join("exit")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

pub fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("LAYERSCOPE_REQUIRE_ENGINES").is_some() {
            panic!("tmux is required (LAYERSCOPE_REQUIRE_ENGINES is set) but was not found");
        }
        eprintln!("skipping: tmux not found (apt-get install tmux)");
    }
    found
}

pub fn start(name: &str) -> Tmux {
    let t = Tmux {
        socket: format!("layerscope-e2e-{}-{name}", std::process::id()),
        dir: tempfile::tempdir().unwrap(),
    };
    let out = t.cmd(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        "env",
        "-u",
        "CI",
        "PS1=$ ",
        "TERM=tmux-256color",
        "sh",
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
    t.cmd(&["set-option", "-g", "escape-time", "10"]);
    t
}
