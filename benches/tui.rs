//! Keypress-to-frame benchmark of the interactive explorer: `App::update` plus a full draw into ratatui's
//! TestBackend (120x40), on generated images built in memory (no archive, no engine: the UI never reads file
//! contents, so the entries carry their sizes only).
//!
//! `cargo bench --bench tui` measures, for each image, the median (p50) and 99th percentile of each kind of key:
//! switching layers down and up (whole-image and layer-changes modes, sweeping every layer), arrows and page down
//! in the tree, collapsing and expanding a directory, each keystroke of a filter and each backspace, and a
//! search; and, without a frame, a layer's view swept alone and a layer switch's view and rows (made from the
//! previous layer's). Images: LAYERSCOPE_BENCH_FILES files (default 80000) over 24 layers and 2 GB of declared content, like
//! `benches/load.rs`'s layout; and 120,000 files over 120 layers; or the list in LAYERSCOPE_BENCH_IMAGES
//! (`120000x120,80000x24`). Samples per scenario: LAYERSCOPE_BENCH_SAMPLES (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use layerscope::analysis::{self, Analysis};
use layerscope::image::{
    Format, HistoryItem, Image, ImageConfig, ImageMeta, Layer, Platform, map_history,
};
use layerscope::layer::{EntryKind, LayerEntry, LayerScan};
use layerscope::tree::{LayerTouches, TreeView};
use layerscope::tui::app::{Action, App, Pane};
use layerscope::tui::file_tree::PathFilter;
use layerscope::tui::keymap::Command;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The file layout of `benches/load.rs` (400 packages x 50 directories; every fifth layer deletes a tenth of the
/// layer below), with declared sizes summing to `total_bytes`.
fn scans(files: u64, layers: u64, total_bytes: u64) -> Vec<LayerScan> {
    let per_layer = files / layers;
    let avg = total_bytes / files.max(1);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..layers)
        .map(|l| {
            let mut scan = LayerScan::default();
            for f in 0..per_layer {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let dir = format!("usr/share/pkg{:03}/d{:02}", (l * 7 + f / 500) % 400, f % 50);
                let size = if f % 100 == 0 {
                    avg * 40
                } else {
                    seed % (avg * 6 / 5) + 1
                };
                scan.entries.push(LayerEntry {
                    path: format!("{dir}/l{l}f{f}.bin").into_bytes().into(),
                    kind: EntryKind::File,
                    size,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                    link_target: None,
                    digest: None,
                });
                if l % 5 == 4 && f % 10 == 0 {
                    let victim = format!(
                        "usr/share/pkg{:03}/d{:02}/l{}f{f}.bin",
                        ((l - 1) * 7 + f / 500) % 400,
                        f % 50,
                        l - 1
                    );
                    scan.whiteouts.push(victim.into_bytes().into());
                }
            }
            scan.diff_id = format!("sha256:{l:064x}");
            scan
        })
        .collect()
}

fn image(scans: Vec<LayerScan>) -> Image {
    let history: Vec<HistoryItem> = (0..scans.len())
        .map(|i| HistoryItem {
            created_by: Some(format!("/bin/sh -c make step-{i} && rm -rf /tmp/build-{i}")),
            ..HistoryItem::default()
        })
        .collect();
    let histories = map_history(&history, scans.len());
    Image {
        meta: ImageMeta {
            source: "bench".into(),
            format: Format::DockerArchive,
            layout: "legacy",
            archive_compression: None,
            reference: None,
            platform: Platform::parse("linux/amd64").unwrap(),
            config_digest: String::new(),
            manifest_digest: None,
            config: ImageConfig::default(),
            verification: Default::default(),
        },
        layers: scans
            .into_iter()
            .zip(histories)
            .enumerate()
            .map(|(index, (scan, history))| Layer {
                index,
                blob_path: String::new(),
                media_type: None,
                diff_id: scan.diff_id.clone(),
                history,
                scan: Arc::new(scan),
            })
            .collect(),
    }
}

struct Bench<'a> {
    app: App<'a>,
    terminal: Terminal<TestBackend>,
}

impl Bench<'_> {
    /// Time of one update + one frame.
    fn step(&mut self, action: Action) -> Duration {
        let start = Instant::now();
        self.app.update(action);
        let app = &self.app;
        self.terminal
            .draw(|f| layerscope::tui::view::draw(f, app))
            .unwrap();
        start.elapsed()
    }
}

/// Median and 99th percentile of each kind of key, printed as one table per image.
#[derive(Default)]
struct Report {
    rows: Vec<(String, Vec<Duration>)>,
}

impl Report {
    fn add(&mut self, name: impl Into<String>, times: Vec<Duration>) {
        self.rows.push((name.into(), times));
    }

    fn print(self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        for (name, mut times) in self.rows {
            times.sort();
            let n = times.len();
            let at = |q: usize| times[(n * q / 100).min(n - 1)];
            println!(
                "  {name:<38} n {n:>4}   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
                ms(at(50)),
                ms(at(99)),
                ms(times[n - 1])
            );
        }
    }
}

/// Walks the layer list down to the last layer and back up `rounds` times, timing down and up apart.
fn layer_sweeps(b: &mut Bench, last: usize, samples: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (mut down, mut up) = (Vec::new(), Vec::new());
    while down.len() < samples || up.len() < samples {
        for _ in 0..last {
            down.push(b.step(Action::Command(Command::Down)));
        }
        for _ in 0..last {
            up.push(b.step(Action::Command(Command::Up)));
        }
    }
    (down, up)
}

const FILTER: &str = "pkg01.*d3";

fn run(label: &str, image: &Image, analysis: &Analysis, samples: usize) {
    let cmd = Action::Command;
    let size = Rect::new(0, 0, 120, 40);
    let start = Instant::now();
    let app = App::new(image, analysis, true, size);
    let open = start.elapsed();
    let mut b = Bench {
        app,
        terminal: Terminal::new(TestBackend::new(120, 40)).unwrap(),
    };
    println!(
        "{label}: {} paths in the tree, {} layers; opening the explorer: {:.1} ms",
        analysis.tree.node_count() - 1,
        image.layers.len(),
        open.as_secs_f64() * 1e3
    );
    let start = Instant::now();
    let touches = LayerTouches::new(&analysis.tree);
    let built = start.elapsed();
    let events = touches.count_between(None, image.layers.len() as u32 - 1);
    println!(
        "  per-layer touched nodes: {events} events ({:.2} MB), built in {:.1} ms",
        (events * 4) as f64 / 1e6,
        built.as_secs_f64() * 1e3
    );
    let mut r = Report::default();
    let last = image.layers.len() - 1;
    // The part of a layer switch that classifies the nodes and sums the directories, without rows or frame.
    let mut views = Vec::new();
    while views.len() < samples {
        for l in 1..=last as u32 {
            let start = Instant::now();
            let view = TreeView::between(&analysis.tree, Some(l - 1), l);
            views.push(start.elapsed());
            std::hint::black_box(view.size(0));
        }
    }
    r.add("(layer view computed, no rows, no frame)", views);
    let mut switches = Vec::new();
    while switches.len() < samples {
        for l in 1..=last as u32 {
            let start = Instant::now();
            b.app.tree.set_range(Some(l - 1), l);
            switches.push(start.elapsed());
        }
    }
    r.add("(layer switch: view and rows, no frame)", switches);
    let (down, up) = layer_sweeps(&mut b, last, samples);
    r.add("layer switch down (whole image)", down);
    r.add("layer switch up (whole image)", up);
    b.step(cmd(Command::ModeLayer));
    let (down, up) = layer_sweeps(&mut b, last, samples);
    r.add("layer switch down (layer changes)", down);
    r.add("layer switch up (layer changes)", up);
    b.step(cmd(Command::ModeImage));
    b.step(cmd(Command::Last));
    b.app.focus = Pane::Tree;
    r.add(
        "tree: arrow down",
        (0..samples).map(|_| b.step(cmd(Command::Down))).collect(),
    );
    r.add(
        "tree: arrow up",
        (0..samples).map(|_| b.step(cmd(Command::Up))).collect(),
    );
    r.add(
        "tree: page down",
        (0..samples)
            .map(|_| b.step(cmd(Command::PageDown)))
            .collect(),
    );
    b.step(cmd(Command::First));
    b.step(cmd(Command::Down));
    b.step(cmd(Command::Down));
    let (mut collapse, mut expand) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        collapse.push(b.step(cmd(Command::ToggleDir)));
        expand.push(b.step(cmd(Command::ToggleDir)));
    }
    r.add("tree: collapse a directory", collapse);
    r.add("tree: expand a directory", expand);
    let times = (0..samples)
        .map(|_| {
            let start = Instant::now();
            b.app.tree.rebuild();
            start.elapsed()
        })
        .collect();
    r.add("(rows rebuilt, no filter, no frame)", times);
    // Filters that never narrow each other: each one a full pass over the cached rows' paths.
    let times = (0..samples)
        .map(|i| {
            let text = if i % 2 == 0 { "p" } else { "q" };
            b.app.tree.options.filter = PathFilter::new(text).ok();
            let start = Instant::now();
            b.app.tree.rebuild();
            start.elapsed()
        })
        .collect();
    b.app.tree.options.filter = None;
    b.app.tree.rebuild();
    r.add("(a new filter's first pass, no frame)", times);
    // Each keystroke of the filter and each backspace apart: the first keys match nearly every path.
    let mut typed = vec![Vec::new(); FILTER.len()];
    let mut erased = vec![Vec::new(); FILTER.len()];
    let rounds = samples.div_ceil(FILTER.len()).max(20);
    for _ in 0..rounds {
        b.step(cmd(Command::Filter));
        for (i, c) in FILTER.chars().enumerate() {
            typed[i].push(b.step(Action::Char(c)));
        }
        for i in (0..FILTER.len()).rev() {
            erased[i].push(b.step(Action::Backspace));
        }
        b.step(Action::Submit);
    }
    let all: Vec<Duration> = typed.iter().chain(&erased).flatten().copied().collect();
    r.add("tree: filter, every key", all);
    for (i, times) in typed.into_iter().enumerate() {
        r.add(format!("  type {:?}", &FILTER[..=i]), times);
    }
    for (i, times) in erased.into_iter().enumerate().rev() {
        r.add(format!("  backspace to {:?}", &FILTER[..i]), times);
    }
    let mut times = Vec::new();
    while times.len() < samples {
        b.step(cmd(Command::Search));
        for c in "l9f12".chars() {
            times.push(b.step(Action::Char(c)));
        }
        b.step(Action::Submit);
        times.push(b.step(cmd(Command::SearchNext)));
    }
    r.add("tree: search typing and n (per key)", times);
    r.print();
}

/// `LAYERSCOPE_BENCH_IMAGES`: the images as FILESxLAYERS, comma-separated.
fn images() -> Vec<(u64, u64)> {
    let files = env_num("LAYERSCOPE_BENCH_FILES", 80_000);
    let default = format!("{files}x24,120000x120");
    let list = std::env::var("LAYERSCOPE_BENCH_IMAGES").unwrap_or(default);
    list.split(',')
        .filter_map(|item| {
            let (f, l) = item.trim().split_once('x')?;
            Some((f.parse().ok()?, l.parse::<u64>().ok()?.max(2)))
        })
        .collect()
}

fn main() {
    let samples = env_num("LAYERSCOPE_BENCH_SAMPLES", 200).max(10) as usize;
    for (files, layers) in images() {
        let img = image(scans(files, layers, 2_000_000_000));
        let a = analysis::analyze(&img, 1);
        run(
            &format!("{files} files, {layers} layers, 2 GB"),
            &img,
            &a,
            samples,
        );
    }
}
