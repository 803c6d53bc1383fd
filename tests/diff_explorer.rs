//! `layerscope diff A B` and the terminal: with stdout on a terminal it opens the explorer on B, every path
//! and layer marked against A (driven in tmux); anywhere else, or with `--text`, it prints the text report as
//! before. The tmux test skips when tmux is missing, unless LAYERSCOPE_REQUIRE_ENGINES=1 (CI).

mod common;
#[path = "common/tmux.rs"]
mod tmux;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use layerscope::analysis::{self, diff};
use layerscope::layer::NoProgress;
use layerscope::report::text::Paint;
use layerscope::source::{self, LoadOptions};

/// A and B share their base layer; B's own layer changes a file's bytes, adds one, and A's own file and its
/// directory tree `/opt/tool` are gone.
fn write_pair(dir: &Path) -> (String, String) {
    let base = layer(&[Ent::Dir("etc"), file("etc/os", b"linux")]);
    let a = Img::new(
        "app:1",
        vec![
            base.clone(),
            layer(&[
                file("app/conf", b"x=1"),
                file("app/old.txt", b"old"),
                file("opt/tool/run", &[1; 50]),
            ]),
        ],
    );
    let b = Img::new(
        "app:2",
        vec![
            base,
            layer(&[file("app/conf", b"x=2"), file("app/new.bin", &[7; 300])]),
        ],
    );
    (
        write_file(dir, "a.tar", &tar_files(&docker_legacy(&[a]))),
        write_file(dir, "b.tar", &tar_files(&docker_legacy(&[b]))),
    )
}

/// The text report as the library renders it, for the same two images.
fn library_text(a: &str, b: &str) -> String {
    let load = |p: &str| {
        source::open(p)
            .unwrap()
            .load(&LoadOptions::default(), &NoProgress)
            .unwrap()
    };
    let (a, b) = (load(a), load(b));
    let (aa, ba) = (
        analysis::analyze(&a.image, 1),
        analysis::analyze(&b.image, 1),
    );
    let result = diff::diff(
        diff::Side {
            image: &a.image,
            analysis: &aa,
        },
        diff::Side {
            image: &b.image,
            analysis: &ba,
        },
        &diff::DiffOptions {
            top_directories: 10,
            secrets: false,
        },
    );
    layerscope::report::diff::text(&result, Paint { color: false }, 50)
}

#[test]
fn off_a_terminal_diff_prints_the_text_report_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path());
    let piped = run(&["diff", &a, &b, "--no-secrets"]);
    assert_eq!(
        piped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let text = String::from_utf8(piped.stdout).unwrap();
    assert_eq!(text, library_text(&a, &b));
    assert!(
        text.contains("Layers  1 shared, 1 added, 1 removed"),
        "{text}"
    );
    let forced = run(&["diff", "--text", &a, &b, "--no-secrets"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(String::from_utf8(forced.stdout).unwrap(), text);
}

#[test]
fn on_a_terminal_diff_opens_the_explorer_on_b_marked_against_a() {
    if !tmux::tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path());
    let t = tmux::start("diff");
    let exit = dir.path().join("exit");
    let line = format!(
        "'{}' diff --no-secrets '{a}' '{b}'; echo EXIT=$? > '{}'",
        env!("CARGO_BIN_EXE_layerscope"),
        exit.display()
    );
    t.text(&line);
    t.keys(&["Enter"]);
    // B's layers: the base shared with A, its own one new; the tree at B's last layer with the diff column.
    let screen = t.wait("the marked explorer", |s| {
        s.contains("=1 +1 -1 vs app:1") && s.contains("Δ A1 R4 C1 M0") && s.contains("new.bin")
    });
    assert!(screen.contains("A -rw-r--r--"), "{screen}");
    assert!(screen.contains("C -rw-r--r--"), "{screen}");
    // A's removed file and A's removed directory tree: rows of their own, marked R.
    let only_in_a = |s: &str, name: &str| {
        s.lines()
            .any(|l| l.contains("R only in A") && l.contains(name))
    };
    for name in ["old.txt", "opt/", "tool/", "run"] {
        assert!(only_in_a(&screen, name), "{name}:\n{screen}");
    }
    t.keys(&["d"]);
    let screen = t.wait("only the differences", |s| s.contains("Δ only A1 R4 C1 M0"));
    assert!(
        only_in_a(&screen, "old.txt") && only_in_a(&screen, "run"),
        "{screen}"
    );
    assert!(
        !screen.contains("etc/"),
        "nothing in /etc differs:\n{screen}"
    );
    t.keys(&["q"]);
    let start = Instant::now();
    while !exit.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let code = std::fs::read_to_string(&exit).unwrap_or_default();
    assert_eq!(code.trim(), "EXIT=0");

    // --text: the report, on the terminal too.
    let line = format!(
        "clear; '{}' diff --text --no-secrets '{a}' '{b}'",
        env!("CARGO_BIN_EXE_layerscope")
    );
    t.text(&line);
    t.keys(&["Enter"]);
    t.wait("the text report", |s| {
        s.contains("Layers  1 shared, 1 added, 1 removed")
    });
}
