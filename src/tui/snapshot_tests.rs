//! Rendering snapshots (ratatui's TestBackend, text only) of every pane, mode and overlay on the synthetic
//! fixture, at 120x40, at 80x24, narrow and too small. Review changes with `cargo insta review`.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

use super::app::{Action, App, Effect, Pane};
use super::effects::Outcome;
use super::fixture;
use super::keymap::Command as C;

/// The outcome of the job the app started last.
fn answer(app: &mut App, outcome: Outcome) -> Effect {
    let id = app.last_job;
    app.update(Action::Done { id, outcome })
}

fn render(app: &App) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    terminal.draw(|f| super::view::draw(f, app)).unwrap();
    terminal.backend().clone()
}

macro_rules! scenario {
    ($name:ident, $w:expr, $h:expr, |$app:ident| $body:block) => {
        #[test]
        fn $name() {
            let image = fixture::image();
            let analysis = fixture::analysis(&image);
            #[allow(unused_mut)]
            let mut $app = App::new(&image, &analysis, false, Rect::new(0, 0, $w, $h));
            $body
            insta::assert_snapshot!(render(&$app));
        }
    };
}

fn cmd(app: &mut App, c: C) {
    app.update(Action::Command(c));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Action::Char(c));
    }
}

scenario!(start_first_layer_whole_image, 120, 40, |app| {});

scenario!(last_layer_whole_image_shows_removed_files, 120, 40, |app| {
    cmd(&mut app, C::Last);
});

scenario!(layer_changes_only, 120, 40, |app| {
    cmd(&mut app, C::Down);
    cmd(&mut app, C::ModeLayer);
});

scenario!(range_of_layers, 120, 40, |app| {
    cmd(&mut app, C::CompareFrom);
    cmd(&mut app, C::Last);
});

scenario!(
    tree_focused_collapsed_sorted_without_attributes,
    120,
    40,
    |app| {
        cmd(&mut app, C::Last);
        cmd(&mut app, C::SwitchPane);
        cmd(&mut app, C::SwitchPane);
        cmd(&mut app, C::ToggleSortSize);
        cmd(&mut app, C::ToggleAttributes);
        cmd(&mut app, C::Down);
        cmd(&mut app, C::Collapse);
        cmd(&mut app, C::ToggleUnmodified);
    }
);

scenario!(filter_prompt_with_a_bad_regex, 120, 40, |app| {
    app.focus = Pane::Tree;
    cmd(&mut app, C::Filter);
    typed(&mut app, "conf(");
});

#[test]
fn a_reopened_prompt_shows_the_old_text_selected() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 80, 24));
    app.focus = Pane::Tree;
    cmd(&mut app, C::Filter);
    typed(&mut app, "etc");
    app.update(Action::Submit);
    cmd(&mut app, C::Filter);
    let buf = render(&app).buffer().clone();
    let row = app.size.height - 1;
    let line: String = (0..20).map(|x| buf[(x, row)].symbol()).collect();
    assert_eq!(line, "filter (regex): etc ");
    let reversed = |x: u16| buf[(x, row)].modifier.contains(Modifier::REVERSED);
    assert!((16..19).all(reversed) && !reversed(15) && !reversed(19));
}

scenario!(help_overlay, 120, 40, |app| {
    cmd(&mut app, C::Help);
});

scenario!(wasted_files_overlay, 120, 40, |app| {
    cmd(&mut app, C::Wasted);
    cmd(&mut app, C::Down);
});

scenario!(secrets_overlay, 120, 40, |app| {
    cmd(&mut app, C::Secrets);
});

/// The secrets overlay of a noisy image: the gate's count with the low-confidence number beside it, sorted by
/// severity, confidence and layer, low-confidence findings hidden, then listed after `a`.
#[test]
fn secrets_overlay_sorted_with_low_confidence_hidden_then_shown() {
    let image = fixture::image();
    let analysis = fixture::noisy_analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 120, 30));
    cmd(&mut app, C::Secrets);
    let hidden = render(&app).to_string();
    cmd(&mut app, C::ToggleLowConfidence);
    let shown = render(&app).to_string();
    insta::assert_snapshot!(format!("{hidden}\n{shown}"));
}

scenario!(viewer_text, 120, 40, |app| {
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "app.conf");
    app.update(Action::Submit);
    cmd(&mut app, C::ViewFile);
    answer(
        &mut app,
        Outcome::FileRead(Ok(b"port=9090\nworkers=4\n".to_vec())),
    );
});

scenario!(viewer_hexdump, 120, 40, |app| {
    app.focus = Pane::Tree;
    cmd(&mut app, C::Down);
    cmd(&mut app, C::ViewFile);
    let bytes: Vec<u8> = (0..40u8).collect();
    answer(&mut app, Outcome::FileRead(Ok(bytes)));
});

scenario!(viewer_reading_then_extraction_reading, 80, 24, |app| {
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "app.conf");
    app.update(Action::Submit);
    cmd(&mut app, C::ViewFile);
    insta::assert_snapshot!("viewer_reading", render(&app));
    cmd(&mut app, C::Close);
    cmd(&mut app, C::Extract);
    typed(&mut app, "/tmp/app.conf");
    app.update(Action::Submit);
});

#[test]
fn loading_view_with_layers_in_flight() {
    use super::loading::{BlobRead, LoadReport, Loading};
    let blob = |n: char, total, read, finished| BlobRead {
        key: format!("blobs/sha256/{}", n.to_string().repeat(64)),
        total: Some(total),
        read,
        finished,
    };
    let loading = Loading {
        source: "registry://ghcr.io/org/app:1.4\x1b[2J".into(),
        report: LoadReport {
            layers: 4,
            total: Some(2_000_000_000),
            bytes: 730_000_000,
            done: 1,
            blobs: vec![
                blob('a', 30_000_000, 30_000_000, true),
                blob('b', 1_200_000_000, 600_000_000, false),
                blob('c', 700_000_000, 100_000_000, false),
            ],
            ..LoadReport::default()
        },
        queued: 3,
    };
    let mut terminal = Terminal::new(TestBackend::new(80, 12)).unwrap();
    terminal
        .draw(|f| super::view::loading::draw(f, &loading, false))
        .unwrap();
    insta::assert_snapshot!(terminal.backend().clone());
}

scenario!(image_details_focused, 120, 40, |app| {
    cmd(&mut app, C::SwitchPane);
    cmd(&mut app, C::Down);
});

scenario!(small_80x24, 80, 24, |app| {
    cmd(&mut app, C::Down);
});

scenario!(narrow_60x20, 60, 20, |app| {
    cmd(&mut app, C::Last);
});

scenario!(too_small, 18, 5, |app| {});

/// The layer details of layer 1 (its long instruction) at a size, after `keys`; the whole instruction shows.
fn long_instruction(width: u16, height: u16, keys: &[C]) -> String {
    let image = fixture::long_instruction_image();
    let analysis = fixture::analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, width, height));
    for k in keys {
        cmd(&mut app, *k);
    }
    let backend = render(&app);
    let details = app.areas().details;
    let buf = backend.buffer();
    let shown: Vec<String> = (details.y + 1..details.y + details.height - 1)
        .map(|y| {
            (details.x + 1..details.x + details.width - 1)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect();
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let expected = words(&fixture::LONG_INSTRUCTION.replace("/bin/sh -c ", "RUN "));
    let joined = words(&shown.join(" "));
    assert!(
        joined.windows(expected.len()).any(|w| w == expected),
        "the instruction is not shown whole at {width}x{height}:\n{backend}"
    );
    backend.to_string()
}

#[test]
fn a_long_instruction_is_wrapped_whole_at_80x24() {
    insta::assert_snapshot!(long_instruction(80, 24, &[C::Down]));
}

#[test]
fn a_long_instruction_is_wrapped_whole_at_60x20() {
    insta::assert_snapshot!(long_instruction(60, 20, &[C::Down]));
}

#[test]
fn colours_mark_changes_and_no_color_keeps_only_markers() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    for color in [true, false] {
        let mut app = App::new(&image, &analysis, color, Rect::new(0, 0, 120, 40));
        cmd(&mut app, C::Last);
        let buf = render(&app).buffer().clone();
        let area = app.areas().tree;
        let cells: Vec<_> = (area.y..area.y + area.height)
            .flat_map(|y| (area.x..area.x + area.width).map(move |x| (x, y)))
            .map(|(x, y)| buf[(x, y)].clone())
            .collect();
        let has = |c: Color| cells.iter().any(|cell| cell.fg == c);
        assert_eq!(has(Color::Red) && has(Color::Yellow), color);
        if !color {
            assert!(
                cells
                    .iter()
                    .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
            );
        }
        let layers = app.areas().layers;
        let selected = &buf[(layers.x + 3, layers.y + 1 + app.layer_lines[2] as u16)];
        assert!(selected.modifier.contains(Modifier::REVERSED));
    }
}

#[test]
fn build_argument_values_are_never_drawn() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 200, 60));
    cmd(&mut app, C::Down);
    let text = render(&app).to_string();
    assert!(text.contains("TOKEN=glpa"), "{text}");
    assert!(!text.contains("AXPX6"), "{text}");
}

/// Every cell of a frame is free of control and bidi characters, and the hostile text shows escaped.
fn assert_escaped(app: &App, what: &str) {
    let backend = render(app);
    for cell in backend.buffer().content() {
        assert!(
            !cell.symbol().chars().any(crate::escape::is_unsafe),
            "{what}: a raw {:?} reached the terminal",
            cell.symbol()
        );
    }
    let text = backend.to_string();
    assert!(
        !text.contains('\u{fffd}'),
        "{what}: a string skipped escaping (the last-resort scrub caught it):\n{text}"
    );
    assert!(
        text.contains("\\x1b]0;owned") || text.contains("\\x1b[31m"),
        "{what}: the hostile text is not shown escaped:\n{text}"
    );
}

#[test]
fn nothing_from_the_image_reaches_the_terminal_raw() {
    let image = fixture::hostile_image();
    let analysis = fixture::hostile_analysis(&image);
    for (w, h) in [(200, 50), (80, 24)] {
        let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, w, h));
        assert_escaped(&app, "the layers and the details of layer 0");
        cmd(&mut app, C::Last);
        assert_escaped(&app, "the last layer and its link");
        cmd(&mut app, C::SwitchPane);
        assert_escaped(&app, "the image details");
        cmd(&mut app, C::Secrets);
        assert_escaped(&app, "the secrets overlay");
        cmd(&mut app, C::Select);
        assert!(app.status.is_some());
        assert_escaped(&app, "the status after a jump");
        cmd(&mut app, C::First);
        cmd(&mut app, C::ModeLayer);
        app.focus = Pane::Tree;
        cmd(&mut app, C::Down);
        cmd(&mut app, C::Down);
        cmd(&mut app, C::ViewFile);
        answer(
            &mut app,
            Outcome::FileRead(Ok(format!("line {}\n", fixture::HOSTILE).into_bytes())),
        );
        assert_escaped(&app, "the viewer");
    }
}

/// The advice overlay (the fixture's findings: secrets, runs as root, a same-run delete), the same-run delete
/// selected and shown whole below the list: its layers, instructions (build arguments masked), paths and fix.
#[test]
fn advice_overlay_lists_findings_and_shows_the_selected_one_whole() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 120, 40));
    cmd(&mut app, C::Advice);
    cmd(&mut app, C::Last);
    let shown = render(&app).to_string();
    assert!(
        !shown.contains("AXPX6LYbMJGeCI8m6XEH"),
        "a build argument showed"
    );
    insta::assert_snapshot!(shown);
}

/// The selected file's content digest: whole in the tree's bottom border when it fits, shortened when not,
/// and always whole in the viewer's.
#[test]
fn the_selected_files_digest_shows_in_the_tree_and_whole_in_the_viewer() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let digest = crate::file_digest::FileDigest::of(b"127.0.0.1 localhost\n").to_string();
    for (width, whole) in [(160, true), (80, false)] {
        let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, width, 24));
        app.focus = Pane::Tree;
        cmd(&mut app, C::Search);
        typed(&mut app, "hosts");
        app.update(Action::Submit);
        let screen = render(&app).to_string();
        assert_eq!(screen.contains(&digest), whole, "{screen}");
        assert!(screen.contains(&digest[..20]), "{screen}");
        cmd(&mut app, C::ViewFile);
        let screen = render(&app).to_string();
        assert!(screen.contains(&digest), "{screen}");
    }
}

/// `diff A B` on a terminal: B's tree with the diff column (A added, C content, M metadata, R removed, • a
/// difference inside, a count of removed paths B's tree lacks) and the layers marked shared (=) or new (+);
/// then only the differences (d).
#[test]
fn diff_marks_the_tree_and_the_layers_then_lists_only_differences() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 120, 30));
    app.mark_against(fixture::diff_marks(&image, &analysis));
    let all = render(&app).to_string();
    cmd(&mut app, C::DiffOnly);
    app.status = None;
    let only = render(&app).to_string();
    insta::assert_snapshot!(format!("{all}\n{only}"));
}

#[test]
fn advice_and_diff_marks_show_image_text_escaped() {
    use crate::analysis::advice::{Advice, AdviceLayer, AdvicePath, Rule, Severity};
    let hostile = fixture::HOSTILE.to_string();
    let image = fixture::hostile_image();
    let mut analysis = fixture::hostile_analysis(&image);
    crate::analysis::advice::attach(&image, &mut analysis);
    analysis.advice.insert(
        0,
        Advice {
            id: Rule::OsJunk,
            key: format!("os-junk:{hostile}"),
            severity: Severity::High,
            message: hostile.clone(),
            reclaimable_bytes: 5,
            layers: vec![AdviceLayer {
                index: 0,
                instruction: hostile.clone(),
            }],
            paths: vec![AdvicePath {
                path: format!("/srv/{hostile}"),
                bytes: 5,
                same_as: None,
            }],
            path_count: 2,
            fix: hostile.clone(),
            secrets: Vec::new(),
        },
    );
    for (w, h) in [(200, 50), (80, 24)] {
        let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, w, h));
        cmd(&mut app, C::Advice);
        assert_escaped(&app, "the advice overlay");
        cmd(&mut app, C::Select);
        assert_eq!(app.layer, 0);
        assert_escaped(&app, "the tree after an advice jump");
        let mut marks = super::diff_marks::DiffMarks::default();
        marks.against = hostile.clone();
        app.mark_against(marks);
        assert_escaped(
            &app,
            "the layers marked against an image named by the image",
        );
    }
}

/// The advice overlay and the diff marks at 80x24: the selected finding below a short list, the diff column
/// beside the tree's attributes.
#[test]
fn advice_and_diff_marks_fit_80x24() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 80, 24));
    cmd(&mut app, C::Advice);
    cmd(&mut app, C::Last);
    let advice = render(&app).to_string();
    cmd(&mut app, C::Close);
    app.mark_against(fixture::diff_marks(&image, &analysis));
    app.focus = Pane::Tree;
    let marked = render(&app).to_string();
    insta::assert_snapshot!(format!("{advice}\n{marked}"));
}
