//! Unit tests of `App::update`: pure state transitions, no terminal.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use super::app::{Action, App, Effect, Mode, Overlay, Pane, PromptKind};
use super::effects::{Job, Outcome};
use super::fixture;
use super::keymap::Command as C;
use crate::analysis::Analysis;
use crate::image::Image;

fn app<'a>(image: &'a Image, analysis: &'a Analysis) -> App<'a> {
    App::new(image, analysis, false, Rect::new(0, 0, 120, 40))
}

/// Selects the first row named like `name`.
fn find(app: &mut App, name: &str) {
    cmd(app, C::Search);
    typed(app, name);
    app.update(Action::Submit);
}

/// Opens the viewer on the first file named like `name` at the last layer, the read answered with `outcome`.
fn view_at_last_layer(app: &mut App, name: &str, outcome: Outcome) {
    cmd(app, C::Last);
    app.focus = Pane::Tree;
    find(app, name);
    cmd(app, C::ViewFile);
    answer(app, outcome);
}

/// The effect that starts `job` as the app's last job.
fn run(app: &App, job: Job) -> Effect {
    Effect::Run {
        id: app.last_job,
        job,
    }
}

/// The outcome of the job the app started last.
fn answer(app: &mut App, outcome: Outcome) -> Effect {
    let id = app.last_job;
    app.update(Action::Done { id, outcome })
}

fn cmd(app: &mut App, c: C) -> Effect {
    app.update(Action::Command(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Action::Char(c));
    }
}

fn selected_path(app: &App) -> String {
    let node = app.tree.selected_node().unwrap();
    app.analysis.tree.display_path(node)
}

#[test]
fn starts_on_the_first_layer_with_layers_focused() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let app = app(&image, &analysis);
    assert_eq!(
        (app.focus, app.layer, app.mode),
        (Pane::Layers, 0, Mode::Image)
    );
    assert_eq!(app.range(), (None, 0, false));
}

#[test]
fn arrows_home_and_end_move_between_layers() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Down);
    assert_eq!((app.layer, app.tree.to()), (1, 1));
    cmd(&mut app, C::Last);
    assert_eq!(app.layer, 2);
    cmd(&mut app, C::Down);
    assert_eq!(app.layer, 2);
    cmd(&mut app, C::First);
    assert_eq!(app.layer, 0);
    cmd(&mut app, C::Up);
    assert_eq!(app.layer, 0);
}

#[test]
fn modes_change_the_range_and_listing() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Last);
    cmd(&mut app, C::ModeLayer);
    assert_eq!(app.range(), (Some(1), 2, true));
    assert!(app.tree.visible().len() < 10);
    cmd(&mut app, C::Up);
    cmd(&mut app, C::CompareFrom);
    cmd(&mut app, C::Down);
    assert_eq!(app.mode, Mode::Range { from: 1 });
    assert_eq!(app.range(), (Some(0), 2, true));
    cmd(&mut app, C::CycleMode);
    assert_eq!(app.mode, Mode::Image);
}

#[test]
fn tab_cycles_panes_and_q_quits() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::SwitchPane);
    assert_eq!(app.focus, Pane::Image);
    cmd(&mut app, C::SwitchPane);
    assert_eq!(app.focus, Pane::Tree);
    cmd(&mut app, C::SwitchPane);
    assert_eq!(app.focus, Pane::Layers);
    assert_eq!(cmd(&mut app, C::Quit), Effect::Quit);
}

#[test]
fn keys_map_through_the_table_per_focus() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    let ctrl_a = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL);
    assert_eq!(
        app.action_for_key(ctrl_a),
        Some(Action::Command(C::ModeImage))
    );
    app.focus = Pane::Tree;
    assert_eq!(
        app.action_for_key(ctrl_a),
        Some(Action::Command(C::ToggleAdded))
    );
    cmd(&mut app, C::Filter);
    let f = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    assert_eq!(app.action_for_key(f), Some(Action::Char('q')));
}

#[test]
fn tree_keys_fold_hide_and_sort() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    let all = app.tree.visible().len();
    assert_eq!(selected_path(&app), "/bin");
    cmd(&mut app, C::Collapse);
    assert_eq!(app.tree.visible().len(), all - 2);
    cmd(&mut app, C::Expand);
    assert_eq!(app.tree.visible().len(), all);
    cmd(&mut app, C::ToggleDir);
    assert_eq!(app.tree.visible().len(), all - 2);
    cmd(&mut app, C::ToggleDir);
    cmd(&mut app, C::Down);
    cmd(&mut app, C::Collapse);
    assert_eq!(
        selected_path(&app),
        "/bin",
        "left on a file goes to its directory"
    );
    cmd(&mut app, C::ToggleAdded);
    assert!(app.tree.visible().is_empty());
    cmd(&mut app, C::ToggleAdded);
    cmd(&mut app, C::ToggleSortSize);
    assert_eq!(selected_path(&app), "/bin");
    cmd(&mut app, C::First);
    assert_eq!(selected_path(&app), "/usr");
    cmd(&mut app, C::ToggleCollapseAll);
    assert_eq!(app.tree.visible().len(), 3);
    cmd(&mut app, C::ToggleAttributes);
    assert!(!app.tree.attributes);
}

#[test]
fn filter_applies_while_typing_and_esc_restores() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Filter);
    typed(&mut app, "passwd");
    assert_eq!(app.tree.visible().len(), 2);
    app.update(Action::Submit);
    assert!(app.prompt.is_none());
    assert_eq!(app.filter_text, "passwd");
    cmd(&mut app, C::Filter);
    typed(&mut app, "(");
    assert!(app.prompt.as_ref().unwrap().error.is_some());
    assert_eq!(
        app.tree.visible().len(),
        2,
        "a bad regex keeps the last good filter"
    );
    cmd(&mut app, C::Close);
    assert_eq!(app.filter_text, "passwd");
    cmd(&mut app, C::Filter);
    for _ in 0..6 {
        app.update(Action::Backspace);
    }
    app.update(Action::Submit);
    assert!(app.filter_text.is_empty());
    assert!(app.tree.visible().len() > 2);
}

#[test]
fn ctrl_f_in_the_layers_pane_filters_the_tree_as_in_dive() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    let ctrl_f = KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL);
    let action = app.action_for_key(ctrl_f).unwrap();
    app.update(action);
    assert_eq!(app.focus, Pane::Tree);
    assert!(matches!(
        app.prompt.as_ref().map(|p| &p.kind),
        Some(PromptKind::Filter { .. })
    ));
    typed(&mut app, "passwd");
    assert_eq!(app.tree.visible().len(), 2);
}

#[test]
fn reopened_prompts_select_the_old_text_so_typing_replaces_it() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Filter);
    typed(&mut app, "passwd");
    app.update(Action::Submit);
    cmd(&mut app, C::Filter);
    let prompt = app.prompt.as_ref().unwrap();
    assert_eq!((prompt.input.as_str(), prompt.selected), ("passwd", true));
    typed(&mut app, "hosts");
    assert_eq!(app.prompt.as_ref().unwrap().input, "hosts");
    assert_eq!(app.filter_text, "hosts");
    app.update(Action::Submit);
    cmd(&mut app, C::Filter);
    app.update(Action::Backspace);
    assert_eq!(
        app.prompt.as_ref().unwrap().input,
        "",
        "Backspace clears it"
    );
    assert!(app.filter_text.is_empty());
    cmd(&mut app, C::Close);
    assert_eq!(app.filter_text, "hosts", "Esc keeps the filter as it was");

    cmd(&mut app, C::Search);
    typed(&mut app, "passwd");
    app.update(Action::Submit);
    cmd(&mut app, C::Search);
    typed(&mut app, "hosts");
    assert_eq!(app.search, "hosts");
}

#[test]
fn search_moves_and_reveals_with_next_and_previous() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    cmd(&mut app, C::ToggleCollapseAll);
    cmd(&mut app, C::Search);
    typed(&mut app, "app.conf");
    assert_eq!(selected_path(&app), "/srv/app/app.conf");
    app.update(Action::Submit);
    cmd(&mut app, C::SearchNext);
    assert_eq!(selected_path(&app), "/srv/app/app.conf.bak");
    cmd(&mut app, C::SearchNext);
    assert_eq!(selected_path(&app), "/srv/app/app.conf");
    cmd(&mut app, C::SearchPrev);
    assert_eq!(selected_path(&app), "/srv/app/app.conf.bak");
    assert!(app.status.is_some());
}

#[test]
fn wasted_and_secret_lists_jump_to_the_file_at_its_layer() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Wasted);
    assert!(matches!(app.overlay, Some(Overlay::Wasted(_))));
    cmd(&mut app, C::Select);
    assert!(app.overlay.is_none());
    assert_eq!((app.layer, app.focus), (1, Pane::Tree));
    assert_eq!(selected_path(&app), "/tmp/cache.img");
    cmd(&mut app, C::Secrets);
    cmd(&mut app, C::Select);
    assert_eq!(app.layer, 1);
    assert_eq!(selected_path(&app), "/home/ci/.netrc");
}

#[test]
fn a_jump_clears_a_filter_that_hides_the_target() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    app.apply_filter("passwd").unwrap();
    cmd(&mut app, C::Secrets);
    cmd(&mut app, C::Select);
    assert_eq!(selected_path(&app), "/home/ci/.netrc");
    assert!(app.filter_text.is_empty());
}

#[test]
fn viewing_a_deleted_file_reads_the_version_before() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "cache.img");
    app.update(Action::Submit);
    let effect = cmd(&mut app, C::ViewFile);
    assert_eq!(effect, run(&app, Job::ReadFile { layer: 1, entry: 3 }));
    answer(&mut app, Outcome::FileRead(Ok(b"hello\n".to_vec())));
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    assert!(v.title.contains("deleted in layer 2"), "{}", v.title);
    assert_eq!(v.content.line(0), "hello");
    cmd(&mut app, C::Close);
    assert!(app.overlay.is_none());
}

#[test]
fn a_hardlink_views_the_bytes_it_shares_and_a_directory_explains() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Down);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "conf.bak");
    app.update(Action::Submit);
    let effect = cmd(&mut app, C::ViewFile);
    assert_eq!(effect, run(&app, Job::ReadFile { layer: 1, entry: 0 }));
    cmd(&mut app, C::Close);
    cmd(&mut app, C::First);
    assert_eq!(cmd(&mut app, C::ViewFile), Effect::None);
    assert!(app.status.as_deref().unwrap().contains("a directory"));
}

#[test]
fn extract_asks_a_path_then_confirmation_to_overwrite() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "passwd");
    app.update(Action::Submit);
    cmd(&mut app, C::Extract);
    assert!(matches!(
        app.prompt.as_ref().unwrap().kind,
        PromptKind::Extract { .. }
    ));
    typed(&mut app, "/tmp/out");
    let to = PathBuf::from("/tmp/out");
    let effect = app.update(Action::Submit);
    let entry = 5;
    let extract = |overwrite| Job::Extract {
        layer: 0,
        entry,
        to: to.clone(),
        overwrite,
    };
    assert_eq!(effect, run(&app, extract(false)));
    assert_eq!(
        app.status_line().as_deref(),
        Some("reading… extracting to /tmp/out")
    );
    answer(&mut app, Outcome::ExtractExists(to.clone()));
    assert_eq!(app.update(Action::Char('n')), Effect::None);
    assert!(app.prompt.is_none());
    cmd(&mut app, C::Extract);
    typed(&mut app, "/tmp/out");
    app.update(Action::Submit);
    // The cursor moves while the extraction runs: the overwrite question is about the file asked for.
    cmd(&mut app, C::Down);
    answer(&mut app, Outcome::ExtractExists(to.clone()));
    let effect = app.update(Action::Char('y'));
    assert_eq!(effect, run(&app, extract(true)));
    answer(
        &mut app,
        Outcome::Extracted(Ok("wrote 30 bytes to /tmp/out".into())),
    );
    assert_eq!(app.status.as_deref(), Some("wrote 30 bytes to /tmp/out"));
}

#[test]
fn mouse_clicks_select_and_the_wheel_scrolls() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    let areas = app.areas();
    let layer2_line = areas.layers.y + 1 + app.layer_lines[2] as u16;
    app.update(Action::Click {
        column: 2,
        row: layer2_line,
    });
    assert_eq!(app.layer, 2);
    app.update(Action::Click {
        column: areas.tree.x + 5,
        row: areas.tree.y + 4,
    });
    assert_eq!((app.focus, app.tree.cursor), (Pane::Tree, 2));
    app.update(Action::Scroll {
        column: 2,
        row: areas.layers.y + 2,
        down: false,
    });
    assert_eq!(app.layer, 1);
}

#[test]
fn help_toggles_and_resize_keeps_the_cursor_on_screen() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Help);
    assert!(matches!(app.overlay, Some(Overlay::Help { .. })));
    cmd(&mut app, C::Down);
    cmd(&mut app, C::Help);
    assert!(app.overlay.is_none());
    app.focus = Pane::Tree;
    cmd(&mut app, C::Last);
    app.update(Action::Resize {
        width: 80,
        height: 12,
    });
    assert!(app.tree.cursor >= app.tree.top && app.tree.cursor < app.tree.top + app.tree.page);
}

#[test]
fn the_tree_page_follows_the_layout_as_the_details_come_and_go() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = App::new(&image, &analysis, false, Rect::new(0, 0, 60, 20));
    let with_details = app.tree.page;
    assert_eq!(with_details, app.areas().tree_rows());
    cmd(&mut app, C::SwitchPane);
    cmd(&mut app, C::SwitchPane);
    assert_eq!(app.focus, Pane::Tree);
    assert!(app.areas().details.is_empty());
    assert_eq!(app.tree.page, app.areas().tree_rows());
    assert!(app.tree.page > with_details);
}

/// The rule, confidence and layer of each secret listed.
fn listed(app: &App) -> Vec<(String, bool, Option<u32>)> {
    app.secrets
        .iter(&app.analysis.secrets)
        .map(|s| {
            let low = s.confidence == crate::secrets::Confidence::Low;
            (s.rule.clone(), low, s.layer)
        })
        .collect()
}

#[test]
fn secrets_list_by_severity_confidence_and_layer_and_low_confidence_waits_for_a() {
    let image = fixture::image();
    let analysis = fixture::noisy_analysis(&image);
    let mut app = app(&image, &analysis);
    let gate = crate::ci::evaluate(&analysis, &crate::ci::Thresholds::defaults());
    let gate_count = gate
        .rules
        .iter()
        .find(|r| r.name == "fail-on-secrets")
        .map(|r| r.actual as usize);
    assert_eq!(Some(app.secrets.counted), gate_count);
    assert_eq!((app.secrets.counted, app.secrets.low), (3, 2));
    let s = |rule: &str, low, layer| (rule.to_string(), low, Some(layer));
    assert_eq!(
        listed(&app),
        [
            s("aws-access-key", false, 2),
            s("netrc-password", false, 1),
            s("generic-secret", false, 1),
        ],
        "low-confidence findings are hidden at first"
    );
    cmd(&mut app, C::Secrets);
    cmd(&mut app, C::Last);
    let a = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE);
    let toggle = app.action_for_key(a).unwrap();
    assert_eq!(toggle, Action::Command(C::ToggleLowConfidence));
    app.update(toggle.clone());
    assert_eq!(
        listed(&app),
        [
            s("aws-access-key", false, 2),
            s("private-key", true, 1),
            s("netrc-password", false, 1),
            s("aws-access-key", true, 0),
            s("generic-secret", false, 1),
        ]
    );
    app.update(toggle);
    assert_eq!(app.secrets.len(), 3);
    assert!(matches!(app.overlay, Some(Overlay::Secrets(c)) if c.selected == 2));
    cmd(&mut app, C::Select);
    assert_eq!(
        selected_path(&app),
        "/srv/app/app.conf",
        "Enter follows the listed order"
    );
}

#[test]
fn the_viewer_masks_secrets_like_every_other_view() {
    let secret = "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ";
    let image = fixture::image();
    let viewed = |redactor: crate::secrets::Redactor| {
        let mut analysis = fixture::analysis(&image);
        analysis.redactor = redactor;
        let mut app = app(&image, &analysis);
        view_at_last_layer(
            &mut app,
            "cache.img",
            Outcome::FileRead(Ok(format!("KEY={secret}\n").into_bytes())),
        );
        match &app.overlay {
            Some(Overlay::Viewer(v)) => v.content.line(0),
            _ => panic!("no viewer"),
        }
    };
    let shown = viewed(crate::secrets::Redactor::new([secret.to_string()]));
    assert!(!shown.contains("1cQSDw"), "{shown}");
    assert!(shown.starts_with("KEY=sk_l"), "{shown}");
    // --show-secrets reveals.
    assert!(viewed(crate::secrets::Redactor::reveal()).contains(secret));
}

#[test]
fn the_advice_overlay_lists_findings_in_the_summary_order() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    assert!(!analysis.advice.is_empty());
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Advice);
    assert!(matches!(app.overlay, Some(Overlay::Advice(_))));
    assert_eq!(app.list_len(false), analysis.advice.len());
    let ids: Vec<&str> = analysis.advice.iter().map(|a| a.id.id()).collect();
    let summary = crate::report::text::summary(
        &image,
        &analysis,
        crate::report::text::Paint { color: false },
    );
    let mut at = 0;
    for id in &ids {
        let found = summary[at..].find(id);
        assert!(
            found.is_some(),
            "{id} missing or out of order in the summary"
        );
        at += found.unwrap_or(0) + id.len();
    }
    cmd(&mut app, C::Close);
    assert!(app.overlay.is_none());
}

#[test]
fn enter_on_advice_jumps_to_its_first_path_at_the_layer_that_wrote_it() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let i = analysis
        .advice
        .iter()
        .position(|a| !a.paths.is_empty() && !a.layers.is_empty())
        .expect("a finding with paths");
    let finding = &analysis.advice[i];
    let mut app = app(&image, &analysis);
    // A filter that hides the path and a collapsed tree: the jump reveals the path anyway.
    app.focus = Pane::Tree;
    cmd(&mut app, C::Filter);
    typed(&mut app, "etc");
    app.update(Action::Submit);
    cmd(&mut app, C::ToggleCollapseAll);
    cmd(&mut app, C::Advice);
    for _ in 0..i {
        cmd(&mut app, C::Down);
    }
    assert_eq!(cmd(&mut app, C::Select), Effect::None);
    assert!(app.overlay.is_none());
    assert_eq!(app.focus, Pane::Tree);
    assert_eq!(selected_path(&app), finding.paths[0].path);
    let node = app.tree.selected_node().unwrap();
    let first = finding
        .layers
        .iter()
        .find(|l| app.analysis.tree.present_at(node, Some(l.index)))
        .unwrap();
    assert_eq!(app.layer, first.index as usize);
    assert!(app.status.as_deref().unwrap().contains(finding.id.id()));
}

#[test]
fn enter_on_advice_without_paths_or_layers_says_so_and_stays() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let i = analysis
        .advice
        .iter()
        .position(|a| a.paths.is_empty() && a.layers.is_empty())
        .expect("runs-as-root has neither");
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Advice);
    for _ in 0..i {
        cmd(&mut app, C::Down);
    }
    cmd(&mut app, C::Select);
    assert!(matches!(app.overlay, Some(Overlay::Advice(_))));
    let rule = analysis.advice[i].id.id();
    assert_eq!(
        app.status.as_deref(),
        Some(format!("{rule}: no path or layer to show").as_str())
    );
}

#[test]
fn the_selected_file_has_the_content_digest_of_its_version_at_the_layer() {
    use crate::file_digest::FileDigest;
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Search);
    typed(&mut app, "app.conf");
    app.update(Action::Submit);
    assert_eq!(app.selected_digest(), None, "layer 0 has no /srv");
    cmd(&mut app, C::SwitchPane);
    cmd(&mut app, C::Down);
    app.focus = Pane::Tree;
    app.search_step(true, true);
    assert_eq!(selected_path(&app), "/srv/app/app.conf");
    assert_eq!(app.selected_digest(), Some(FileDigest::of(b"port=8080\n")));
    // The hardlink shares its target's bytes, hence its digest.
    cmd(&mut app, C::Down);
    assert_eq!(selected_path(&app), "/srv/app/app.conf.bak");
    assert_eq!(app.selected_digest(), Some(FileDigest::of(b"port=8080\n")));
    app.focus = Pane::Layers;
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    cmd(&mut app, C::Up);
    assert_eq!(selected_path(&app), "/srv/app/app.conf");
    assert_eq!(
        app.selected_digest(),
        Some(FileDigest::of(b"port=9090\nworkers=4\n"))
    );
    cmd(&mut app, C::ViewFile);
    match &app.overlay {
        Some(Overlay::Viewer(v)) => assert_eq!(v.digest, app.selected_digest()),
        _ => panic!("no viewer"),
    }
}

#[test]
fn a_diff_opens_on_the_last_layer_and_d_lists_only_the_differences() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::DiffOnly);
    assert!(
        app.status
            .as_deref()
            .unwrap()
            .contains("layerscope diff A B")
    );
    assert!(app.tree.options.only.is_none());

    app.mark_against(fixture::diff_marks(&image, &analysis));
    assert_eq!((app.layer, app.mode), (2, Mode::Image));
    let all = app.tree.visible().len();
    cmd(&mut app, C::DiffOnly);
    let listed: Vec<String> = app
        .tree
        .visible()
        .iter()
        .map(|r| {
            let node = app.tree.rows()[*r as usize].node;
            crate::path::display_absolute(&app.tree.raw_path(node))
        })
        .collect();
    assert_eq!(
        listed,
        [
            "/bin",
            "/bin/ash",
            "/home",
            "/home/ci",
            "/home/ci/.netrc",
            "/opt",
            "/opt/tool",
            "/opt/tool/bin",
            "/opt/tool/bin/run",
            "/opt/tool/share",
            "/opt/tool/share/README",
            "/srv",
            "/srv/app",
            "/srv/app/app.conf.bak",
            "/srv/app/big.bin",
            "/srv/app/old.txt",
            "/tmp"
        ]
    );
    cmd(&mut app, C::DiffOnly);
    assert_eq!(app.tree.visible().len(), all);
}

#[test]
fn a_jump_to_a_path_that_does_not_differ_lists_every_path_again() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let mut app = app(&image, &analysis);
    app.mark_against(fixture::diff_marks(&image, &analysis));
    cmd(&mut app, C::DiffOnly);
    cmd(&mut app, C::Wasted);
    let i = analysis
        .waste
        .files
        .iter()
        .position(|f| f.path == "/tmp/cache.img")
        .unwrap();
    for _ in 0..i {
        cmd(&mut app, C::Down);
    }
    cmd(&mut app, C::Select);
    assert_eq!(selected_path(&app), "/tmp/cache.img");
    assert!(app.tree.options.only.is_none());
}

#[test]
fn the_advice_overlay_has_its_own_keys() {
    let image = fixture::image();
    let analysis = fixture::advised_analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Advice);
    let a = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE);
    assert_eq!(app.action_for_key(a), None, "a is the secrets lists' key");
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(app.action_for_key(enter), Some(Action::Command(C::Select)));
    let footer = super::keymap::footer(&app.contexts());
    assert!(footer.contains(&("Enter", "jump")));
    assert!(!footer.iter().any(|(_, word)| *word == "all secrets"));
}

#[test]
fn the_viewer_masks_secrets_in_the_head_of_a_long_file_too() {
    let secret = "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ";
    let image = fixture::image();
    let mut analysis = fixture::analysis(&image);
    analysis.redactor = crate::secrets::Redactor::new([secret.to_string()]);
    let mut app = app(&image, &analysis);
    view_at_last_layer(
        &mut app,
        "cache.img",
        Outcome::FileHead(format!("KEY={secret}\n").into_bytes()),
    );
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    let shown = v.content.line(0);
    assert!(!shown.contains("1cQSDw"), "{shown}");
    assert!(v.title.contains("only the first"), "{}", v.title);
}

#[test]
fn a_read_shows_reading_then_its_bytes() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    find(&mut app, "app.conf");
    let Effect::Run { id, .. } = cmd(&mut app, C::ViewFile) else {
        panic!("no read started");
    };
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    assert_eq!(
        (v.reading, v.content.line(0).as_str()),
        (Some(id), "reading…")
    );
    // Keys still work meanwhile.
    cmd(&mut app, C::Down);
    let outcome = Outcome::FileRead(Ok(b"bytes\n".to_vec()));
    assert_eq!(app.update(Action::Done { id, outcome }), Effect::None);
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    assert_eq!((v.reading, v.content.line(0).as_str()), (None, "bytes"));
}

#[test]
fn a_second_read_replaces_the_first_whose_answer_is_then_ignored() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    cmd(&mut app, C::Last);
    app.focus = Pane::Tree;
    find(&mut app, "app.conf");
    let Effect::Run { id: first, .. } = cmd(&mut app, C::ViewFile) else {
        panic!("no read started");
    };
    // Closing the viewer cancels its read.
    assert_eq!(cmd(&mut app, C::Close), Effect::Cancel(first));
    find(&mut app, "passwd");
    let Effect::Run { id: second, .. } = cmd(&mut app, C::ViewFile) else {
        panic!("no read started");
    };
    assert_ne!(first, second);
    let stale = Outcome::FileRead(Ok(b"old\n".to_vec()));
    app.update(Action::Done {
        id: first,
        outcome: stale,
    });
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    assert_eq!(v.content.line(0), "reading…", "a stale answer was shown");
    answer(&mut app, Outcome::FileRead(Ok(b"new\n".to_vec())));
    let Some(Overlay::Viewer(v)) = &app.overlay else {
        panic!("no viewer");
    };
    assert_eq!(v.content.line(0), "new");
}

#[test]
fn a_stale_extraction_outcome_is_ignored() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.focus = Pane::Tree;
    find(&mut app, "passwd");
    cmd(&mut app, C::Extract);
    typed(&mut app, "/tmp/a");
    let Effect::Run { id: first, .. } = app.update(Action::Submit) else {
        panic!("no extraction started");
    };
    cmd(&mut app, C::Extract);
    typed(&mut app, "/tmp/b");
    app.update(Action::Submit);
    let old = Outcome::ExtractExists(PathBuf::from("/tmp/a"));
    app.update(Action::Done {
        id: first,
        outcome: old,
    });
    assert!(app.prompt.is_none(), "asked about a replaced extraction");
    assert_eq!(
        app.status_line().as_deref(),
        Some("reading… extracting to /tmp/b")
    );
    answer(
        &mut app,
        Outcome::Extracted(Ok("wrote 1 bytes to /tmp/b".into())),
    );
    assert_eq!(
        app.status_line().as_deref(),
        Some("wrote 1 bytes to /tmp/b")
    );
    assert!(app.extracting.is_none());
}

#[test]
fn viewing_or_extracting_a_path_only_in_a_is_refused_in_one_line() {
    let image = fixture::image();
    let analysis = fixture::analysis(&image);
    let mut app = app(&image, &analysis);
    app.mark_against(fixture::diff_marks(&image, &analysis));
    app.focus = Pane::Tree;
    find(&mut app, "old.txt");
    let row = *app.tree.selected_row().unwrap();
    assert!(row.only_in_a().is_some());
    assert_eq!(cmd(&mut app, C::ViewFile), Effect::None);
    assert!(app.overlay.is_none());
    let refused = "only in A: /srv/app/old.txt (4 B there); this image (B) lacks it, so there are no bytes to show";
    assert_eq!(app.status.as_deref(), Some(refused));
    app.status = None;
    cmd(&mut app, C::Extract);
    assert!(app.prompt.is_none());
    assert_eq!(app.status.as_deref(), Some(refused));
}
