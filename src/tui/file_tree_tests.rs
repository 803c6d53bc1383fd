//! Unit tests of the file tree pane state on the synthetic fixture: modes, filters, hidden kinds, sorting,
//! incremental expand/collapse (always equal to a full rebuild), selection kept across layer switches, and the
//! cached, incrementally filtered rows always equal to a plain walk of the tree.

use std::sync::Arc;

use super::file_tree::{FileTree, PathFilter, TreeOptions};
use super::fixture;
use crate::layer::{EntryKind, LayerEntry, LayerScan};
use crate::tree::{ChangeKind, ImageTree, NodeId, ROOT, TreeView};

fn listing(ft: &FileTree) -> Vec<String> {
    ft.visible()
        .iter()
        .map(|f| {
            let row = &ft.rows()[*f as usize];
            // A path of the other image's only: `R`, as the diff column shows it.
            let marker = match row.only_in_a() {
                Some(_) => "R",
                None => crate::tui::theme::marker(row.change),
            };
            format!(
                "{marker}{}",
                crate::path::display_absolute(&ft.raw_path(row.node))
            )
        })
        .collect()
}

#[test]
fn whole_image_lists_removed_paths_marked() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let ft = FileTree::new(&a.tree, Some(1), 2, TreeOptions::default());
    let rows = listing(&ft);
    assert!(rows.contains(&"-/tmp/cache.img".to_string()), "{rows:?}");
    assert!(rows.contains(&"~/srv/app/app.conf".to_string()), "{rows:?}");
    assert!(rows.contains(&" /etc/passwd".to_string()), "{rows:?}");
}

#[test]
fn changes_only_keeps_directories_as_context() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let options = TreeOptions {
        changes_only: true,
        ..TreeOptions::default()
    };
    let ft = FileTree::new(&a.tree, Some(1), 2, options);
    assert_eq!(
        listing(&ft),
        [
            " /home",
            " /home/ci",
            "-/home/ci/.netrc",
            " /srv",
            " /srv/app",
            "~/srv/app/app.conf",
            " /tmp",
            "-/tmp/cache.img"
        ]
    );
}

#[test]
fn filter_and_hidden_kinds_narrow_the_rows() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut options = TreeOptions {
        filter: Some(PathFilter::new("app\\.conf").unwrap()),
        ..TreeOptions::default()
    };
    let ft = FileTree::new(&a.tree, Some(1), 2, options.clone());
    assert_eq!(
        listing(&ft),
        [
            " /srv",
            " /srv/app",
            "~/srv/app/app.conf",
            " /srv/app/app.conf.bak"
        ]
    );
    options.filter = None;
    options.hidden.unmodified = true;
    options.hidden.removed = true;
    let ft = FileTree::new(&a.tree, Some(1), 2, options);
    assert_eq!(listing(&ft), [" /srv", " /srv/app", "~/srv/app/app.conf"]);
}

#[test]
fn sort_by_size_puts_the_largest_first() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let options = TreeOptions {
        sort_by_size: true,
        ..TreeOptions::default()
    };
    let ft = FileTree::new(&a.tree, None, 0, options);
    let top: Vec<String> = listing(&ft)
        .into_iter()
        .filter(|p| p.matches('/').count() == 1)
        .collect();
    assert_eq!(top, ["+/usr", "+/bin", "+/etc"]);
}

#[test]
fn incremental_collapse_and_expand_match_a_full_rebuild() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = FileTree::new(&a.tree, Some(0), 1, TreeOptions::default());
    let all = listing(&ft);
    // Collapse every directory from the bottom up, then expand them from the top down.
    for v in (0..ft.visible().len()).rev() {
        ft.set_collapsed(v, true);
        let patched = listing(&ft);
        ft.rebuild();
        assert_eq!(listing(&ft), patched);
    }
    assert_eq!(
        listing(&ft),
        [" /bin", " /etc", "+/home", "+/srv", "+/tmp", " /usr"]
    );
    let mut v = 0;
    while v < ft.visible().len() {
        ft.set_collapsed(v, false);
        v += 1;
    }
    assert_eq!(listing(&ft), all);
}

#[test]
fn collapsing_moves_a_hidden_cursor_to_the_directory() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = FileTree::new(&a.tree, Some(0), 1, TreeOptions::default());
    let all = listing(&ft).len();
    let etc = listing(&ft).iter().position(|p| p == " /etc").unwrap();
    ft.move_to(etc + 2);
    assert!(ft.set_collapsed(etc, true));
    assert_eq!(ft.cursor, etc);
    ft.toggle_collapse_all();
    assert_eq!(listing(&ft).len(), 6);
    ft.toggle_collapse_all();
    assert_eq!(listing(&ft).len(), all);
}

#[test]
fn selection_follows_the_path_across_layers() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = FileTree::new(&a.tree, Some(0), 1, TreeOptions::default());
    let conf = listing(&ft)
        .iter()
        .position(|p| p.ends_with("/srv/app/app.conf"))
        .unwrap();
    ft.move_to(conf);
    ft.set_range(Some(1), 2);
    let row = ft.selected_row().unwrap();
    assert_eq!(
        a.tree.display_path(row.tree_node().unwrap()),
        "/srv/app/app.conf"
    );
    assert_eq!(row.change, ChangeKind::Modified);
    // Gone at layer 0: the nearest listed ancestor is selected instead.
    ft.set_range(None, 0);
    assert_eq!(ft.cursor, 0);
}

#[test]
fn reveal_expands_collapsed_ancestors() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = FileTree::new(&a.tree, Some(1), 2, TreeOptions::default());
    ft.toggle_collapse_all();
    let node = a.tree.lookup(b"/home/ci/.netrc").unwrap();
    assert!(ft.reveal(node));
    assert_eq!(ft.selected_node(), Some(node));
    assert_eq!(ft.guides(ft.visible()[ft.cursor]), "│       └── ");
}

#[test]
fn sizes_are_directory_totals_and_zero_once_deleted() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let ft = FileTree::new(&a.tree, Some(1), 2, TreeOptions::default());
    let size = |path: &str| {
        let node = a.tree.lookup(path.as_bytes()).unwrap();
        let row = ft
            .rows()
            .iter()
            .find(|r| r.tree_node() == Some(node))
            .unwrap();
        ft.size_of(row)
    };
    assert_eq!(size("/srv/app"), 3020);
    assert_eq!(size("/srv/app/app.conf.bak"), 10);
    assert_eq!(size("/tmp/cache.img"), 4000);
    assert_eq!(size("/tmp"), 0);
}

/// A deterministic xorshift generator: the property tests below replay the same sequences every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Six layers over a few hundred paths in nested directories, mixed-case names, with files rewritten, whiteouts,
/// an opaque directory and a directory replaced by a file: every change kind, at several depths.
fn generated_tree() -> ImageTree {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let names = ["a", "Bin", "lib", "x.conf", "pkg01", "d3", "Readme", "pk"];
    let layers: Vec<Arc<LayerScan>> = (0..6)
        .map(|l| {
            let mut scan = LayerScan::default();
            for f in 0..60 {
                let depth = 1 + rng.below(4);
                let mut path: Vec<String> = (0..depth)
                    .map(|_| names[rng.below(names.len())].to_string())
                    .collect();
                path.push(format!("f{l}{f}"));
                let file = rng.below(4) != 0;
                scan.entries.push(LayerEntry {
                    path: path.join("/").into_bytes().into(),
                    kind: if file {
                        EntryKind::File
                    } else {
                        EntryKind::Dir
                    },
                    size: rng.below(5000) as u64,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                    link_target: None,
                    digest: None,
                });
            }
            if l > 0 {
                for _ in 0..4 {
                    let name = names[rng.below(names.len())];
                    scan.whiteouts.push(
                        format!("{name}/{}", names[rng.below(8)])
                            .into_bytes()
                            .into(),
                    );
                }
                scan.opaques
                    .push(names[rng.below(names.len())].as_bytes().into());
            }
            if l == 3 {
                // A directory of the lower layers becomes a file.
                scan.entries.push(LayerEntry {
                    path: b"lib/pk".to_vec().into(),
                    kind: EntryKind::File,
                    size: 7,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                    link_target: None,
                    digest: None,
                });
            }
            Arc::new(scan)
        })
        .collect();
    ImageTree::build(&layers)
}

/// A row as a fresh walk of the tree lists it.
type Expected = (NodeId, u32, u32, u16, ChangeKind, bool, bool);

/// The rows of the file tree pane, computed the plain way, as the oracle: recursively over the tree, a path is
/// listed when it matches the options and the filter itself or when a path below it is listed.
fn expected_rows(
    tree: &ImageTree,
    from: Option<u32>,
    to: u32,
    options: &TreeOptions,
) -> Vec<Expected> {
    fn walk(
        view: &TreeView,
        options: &TreeOptions,
        node: NodeId,
        parent: u32,
        depth: u16,
        out: &mut Vec<Expected>,
    ) {
        let tree = view.tree();
        let mut children = tree.children(node).to_vec();
        if options.sort_by_size {
            children.sort_by_key(|c| std::cmp::Reverse(view.size(*c)));
        }
        for child in children {
            let Some(change) = view.change(child) else {
                continue;
            };
            let mut path = b"/".to_vec();
            path.extend_from_slice(&tree.path(child));
            let own = !options.hidden.hides(change)
                && (!options.changes_only || change != ChangeKind::Unmodified)
                && options.filter.as_ref().is_none_or(|f| f.is_match(&path));
            let at = out.len();
            out.push((child, parent, 0, depth, change, view.is_dir(child), false));
            walk(view, options, child, at as u32, depth + 1, out);
            if !own && out.len() == at + 1 {
                out.pop();
            } else {
                out[at].2 = out.len() as u32;
            }
        }
    }
    let view = TreeView::between(tree, from, to);
    let mut out = Vec::new();
    walk(&view, options, ROOT, u32::MAX, 0, &mut out);
    for i in 0..out.len() {
        let end = out[i].2 as usize;
        out[i].6 = end >= out.len() || out[end].1 != out[i].1;
    }
    out
}

fn actual_rows(ft: &FileTree) -> Vec<Expected> {
    ft.rows()
        .iter()
        .map(|r| {
            (
                r.tree_node().unwrap(),
                r.parent,
                r.end,
                r.depth,
                r.change,
                r.is_dir,
                r.last,
            )
        })
        .collect()
}

/// Typing and erasing filters (regex syntax included: repetitions, alternations, classes, capitals, invalid
/// texts), switching layers and modes, hiding kinds and sorting, in random order: after every step the cached,
/// incrementally filtered rows equal the plain walk's.
#[test]
fn cached_and_incremental_rows_equal_a_fresh_walk() {
    replay_random_keys(&generated_tree());
}

/// A base layer of 400 paths, then 30 layers that each add, rewrite and delete a few (a file, a directory, an
/// opaque marker): a layer switch touches few nodes, so views and rows are made from the previous layer's.
fn slowly_changing_tree() -> ImageTree {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let names = ["a", "Bin", "lib", "x.conf", "pkg01", "d3", "Readme", "pk"];
    let path = |rng: &mut Rng, leaf: String| {
        let depth = 1 + rng.below(3);
        let mut parts: Vec<String> = (0..depth)
            .map(|_| names[rng.below(names.len())].to_string())
            .collect();
        parts.push(leaf);
        parts.join("/")
    };
    let layers: Vec<Arc<LayerScan>> = (0..31)
        .map(|l| {
            let mut scan = LayerScan::default();
            for f in 0..if l == 0 { 400 } else { 6 } {
                let p = path(&mut rng, format!("f{}", f % 40));
                let file = rng.below(5) != 0;
                scan.entries.push(LayerEntry {
                    path: p.into_bytes().into(),
                    kind: if file {
                        EntryKind::File
                    } else {
                        EntryKind::Dir
                    },
                    size: rng.below(5000) as u64,
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: 0,
                    link_target: None,
                    digest: None,
                });
            }
            if l > 0 {
                let leaf = format!("f{}", rng.below(40));
                let p = path(&mut rng, leaf);
                scan.whiteouts.push(p.into_bytes().into());
                if l % 7 == 0 {
                    let dir = format!("{}/{}", names[rng.below(8)], names[rng.below(8)]);
                    scan.opaques.push(dir.into_bytes().into());
                }
            }
            Arc::new(scan)
        })
        .collect();
    ImageTree::build(&layers)
}

/// The same random keys where a layer switch makes the view and rows from the previous layer's.
#[test]
fn rows_made_from_the_previous_layer_equal_a_fresh_walk() {
    let tree = slowly_changing_tree();
    assert!(tree.node_count() > 300);
    replay_random_keys(&tree);
}

fn replay_random_keys(tree: &ImageTree) {
    let alphabet: Vec<char> = "pkg01d3aBrx./*+?|()[]{}, \\AeE".chars().collect();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut ft = FileTree::new(tree, None, 0, TreeOptions::default());
        let mut text = String::new();
        for step in 0..400 {
            match rng.below(20) {
                0..=9 => text.push(alphabet[rng.below(alphabet.len())]),
                10..=13 => {
                    text.pop();
                }
                14 => text.clear(),
                15 | 16 => {
                    // Half the switches to a neighbouring layer, as arrow keys do.
                    let last = tree.layer_count() as u32 - 1;
                    let to = match rng.below(2) {
                        0 => rng.below(tree.layer_count()) as u32,
                        _ if rng.below(2) == 0 => (ft.to() + 1).min(last),
                        _ => ft.to().saturating_sub(1),
                    };
                    let from = match rng.below(3) {
                        0 => to.checked_sub(1),
                        1 => None,
                        _ => Some(rng.below(to as usize + 1) as u32).filter(|f| *f < to),
                    };
                    ft.set_range(from, to);
                }
                17 => ft.options.changes_only = !ft.options.changes_only,
                18 => {
                    let h = &mut ft.options.hidden;
                    match rng.below(4) {
                        0 => h.added = !h.added,
                        1 => h.removed = !h.removed,
                        2 => h.modified = !h.modified,
                        _ => h.unmodified = !h.unmodified,
                    }
                }
                _ => ft.options.sort_by_size = !ft.options.sort_by_size,
            }
            // As the explorer does: an invalid regex leaves the previous filter in place.
            if text.is_empty() {
                ft.options.filter = None;
            } else if let Ok(filter) = PathFilter::new(&text) {
                ft.options.filter = Some(filter);
            }
            ft.rebuild();
            let expected = expected_rows(tree, ft.from(), ft.to(), &ft.options);
            assert_eq!(
                actual_rows(&ft),
                expected,
                "seed {seed}, step {step}, filter {:?}, range {:?}..{}",
                ft.options.filter.as_ref().map(|f| f.text()),
                ft.from(),
                ft.to()
            );
            let fresh = FileTree::new(tree, ft.from(), ft.to(), ft.options.clone());
            assert_eq!(actual_rows(&fresh), expected);
        }
    }
}

/// The typing session the benchmark replays, on the generated tree: every prefix of a filter, then every
/// backspace, switching layer in between.
#[test]
fn typing_and_erasing_a_filter_equals_a_fresh_walk_at_every_key() {
    let tree = generated_tree();
    let mut ft = FileTree::new(&tree, Some(1), 2, TreeOptions::default());
    let text = "pk.*d3/F";
    let prefixes: Vec<&str> = (1..=text.len()).map(|n| &text[..n]).collect();
    for layer in [2u32, 5, 2] {
        ft.set_range(layer.checked_sub(1), layer);
        for prefix in prefixes.iter().chain(prefixes.iter().rev()) {
            ft.options.filter = Some(PathFilter::new(prefix).unwrap());
            ft.rebuild();
            assert_eq!(
                actual_rows(&ft),
                expected_rows(&tree, ft.from(), ft.to(), &ft.options),
                "layer {layer}, filter {prefix:?}"
            );
        }
    }
}

#[test]
fn a_filter_narrows_another_only_by_concatenation() {
    let f = |t: &str| PathFilter::new(t).unwrap();
    assert!(f("pkg").narrows(&f("pk")));
    assert!(f("pk.*d3").narrows(&f("pk.*d")));
    assert!(f("(a|b)c").narrows(&f("(a|b)")));
    // A capital makes the filter case-sensitive: narrower still.
    assert!(f("pkG").narrows(&f("pk")));
    assert!(!f("pk").narrows(&f("pk")));
    assert!(!f("pk").narrows(&f("pkg")));
    assert!(!f("a*").narrows(&f("a")));
    assert!(!f("a+").narrows(&f("a")));
    assert!(!f("a?").narrows(&f("a")));
    assert!(!f("a{0,2}").narrows(&f("a")));
    assert!(!f("a|b").narrows(&f("a")));
    assert!(!f("ab|c").narrows(&f("a")));
    // Under the `x` flag spaces are skipped: `a *` repeats `a`.
    assert!(!f("(?x)a *").narrows(&f("(?x)a")));
}

/// Going back to a layer (or a view) seen a moment ago gives the same rows and keeps the selection.
#[test]
fn revisiting_a_cached_layer_keeps_rows_and_selection() {
    let tree = generated_tree();
    let mut ft = FileTree::new(&tree, Some(3), 4, TreeOptions::default());
    ft.move_to(ft.visible().len() / 2);
    let before = actual_rows(&ft);
    let selected = ft.selected_node();
    ft.set_range(Some(0), 1);
    ft.set_range(Some(3), 4);
    assert_eq!(actual_rows(&ft), before);
    assert_eq!(ft.selected_node(), selected);
    // More layers than the cache holds, then back: rebuilt, equal.
    for layer in 0..tree.layer_count() as u32 {
        ft.set_range(layer.checked_sub(1), layer);
    }
    ft.set_range(Some(3), 4);
    assert_eq!(actual_rows(&ft), before);
}

/// A literal filter is searched only across the end of each directory's path: texts spanning a `/` (the end of
/// one name, the slash, the start of the next) must still find every path holding them.
#[test]
fn literal_filters_spanning_a_slash_equal_a_fresh_walk() {
    let tree = generated_tree();
    let top = tree.layer_count() as u32 - 1;
    let mut ft = FileTree::new(&tree, top.checked_sub(1), top, TreeOptions::default());
    let rows = expected_rows(&tree, ft.from(), ft.to(), &ft.options);
    let mut tried = 0;
    for (node, parent, ..) in rows.iter().step_by(5) {
        let Some(parent) = rows.get(*parent as usize) else {
            continue;
        };
        let (above, name) = (tree.name(parent.0), tree.name(*node));
        let text = format!(
            "{}/{}",
            String::from_utf8_lossy(&above[above.len().saturating_sub(2)..]),
            String::from_utf8_lossy(&name[..name.len().min(2)])
        );
        if regex::escape(&text) != text {
            continue;
        }
        tried += 1;
        ft.options.filter = Some(PathFilter::new(&text).unwrap());
        ft.rebuild();
        let expected = expected_rows(&tree, ft.from(), ft.to(), &ft.options);
        assert!(!expected.is_empty(), "{text:?}");
        assert_eq!(actual_rows(&ft), expected, "filter {text:?}");
    }
    assert!(tried > 10, "only {tried} texts tried");
}

/// The fixture's B with A's paths B lacks listed (as `layerscope diff A B` sets them), at `from..=to`.
fn marked<'a>(
    a: &'a crate::analysis::Analysis,
    image: &crate::image::Image,
    range: (Option<u32>, u32),
    options: TreeOptions,
) -> FileTree<'a> {
    let marks = fixture::diff_marks(image, a);
    let mut ft = FileTree::new(&a.tree, range.0, range.1, options);
    ft.set_only_in_a(marks.only_in_a());
    ft
}

#[test]
fn paths_only_in_a_are_rows_under_their_nearest_directory_of_b() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let ft = marked(&a, &image, (Some(1), 2), TreeOptions::default());
    let rows = listing(&ft);
    // A's whole /opt tree, the missing directories included, and A's old.txt beside B's files, in name order.
    let at = rows.iter().position(|r| r == "-/home/ci/.netrc").unwrap();
    assert_eq!(
        rows[at..at + 8],
        [
            "-/home/ci/.netrc",
            "R/opt",
            "R/opt/tool",
            "R/opt/tool/bin",
            "R/opt/tool/bin/run",
            "R/opt/tool/share",
            "R/opt/tool/share/README",
            " /srv",
        ]
    );
    let big = rows
        .iter()
        .position(|r| r.ends_with("/srv/app/big.bin"))
        .unwrap();
    assert_eq!(rows[big + 1], "R/srv/app/old.txt");
    // Each path is one row: B's own .netrc, deleted in this layer, stands for A's.
    assert_eq!(rows.iter().filter(|r| r.ends_with("/.netrc")).count(), 1);
    let row = |path: &str| {
        *ft.rows()
            .iter()
            .find(|r| crate::path::display_absolute(&ft.raw_path(r.node)) == path)
            .unwrap()
    };
    let opt = row("/opt");
    assert!(opt.only_in_a().is_some() && opt.is_dir);
    assert_eq!((ft.size_of(&opt), ft.entry_of(&opt).is_none()), (109, true));
    let run = row("/opt/tool/bin/run");
    assert!(!run.is_dir);
    assert_eq!(ft.size_of(&run), 100);
    assert_eq!(ft.event_of(&run), None);
    let at = rows.iter().position(|r| r == "R/opt/tool/bin/run").unwrap();
    assert_eq!(ft.guides(ft.visible()[at]), "│       │   └── ");
}

#[test]
fn paths_only_in_a_are_filtered_sorted_and_collapsed_like_other_rows() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = marked(&a, &image, (Some(1), 2), TreeOptions::default());
    ft.options.filter = Some(PathFilter::new("read").unwrap());
    ft.rebuild();
    assert_eq!(
        listing(&ft),
        [
            "R/opt",
            "R/opt/tool",
            "R/opt/tool/share",
            "R/opt/tool/share/README"
        ]
    );
    // Typing on: narrowed from the previous matches, as for B's paths.
    ft.options.filter = Some(PathFilter::new("readme").unwrap());
    ft.rebuild();
    assert_eq!(listing(&ft).len(), 4);
    ft.options.filter = Some(PathFilter::new("old").unwrap());
    ft.rebuild();
    assert_eq!(listing(&ft), [" /srv", " /srv/app", "R/srv/app/old.txt"]);
    ft.options.filter = None;
    // By size: A's /opt (109 B) after B's /usr (5 kB), /srv (3 kB) and /bin (1.2 kB).
    ft.options.sort_by_size = true;
    ft.rebuild();
    let top: Vec<String> = listing(&ft)
        .into_iter()
        .filter(|r| r[1..].matches('/').count() == 1)
        .collect();
    assert_eq!(top[..4], [" /usr", " /srv", " /bin", "R/opt"]);
    // Collapsing A's directory hides its rows, expanding brings them back.
    ft.options.sort_by_size = false;
    ft.rebuild();
    let before = ft.visible().len();
    let opt = listing(&ft).iter().position(|r| r == "R/opt").unwrap();
    assert!(ft.set_collapsed(opt, true));
    assert_eq!(ft.visible().len(), before - 5);
    assert!(ft.set_collapsed(opt, false));
    assert_eq!(ft.visible().len(), before);
    // Hiding removed paths (ctrl+r) hides them too.
    ft.options.hidden.removed = true;
    ft.rebuild();
    assert!(!listing(&ft).iter().any(|r| r.contains("/opt")));
}

#[test]
fn paths_only_in_a_are_in_every_merged_view_but_no_layer_changes() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    // The base layer's merged view: /srv/app is not there yet, /opt is (under the root).
    let ft = marked(&a, &image, (None, 0), TreeOptions::default());
    let rows = listing(&ft);
    assert!(rows.contains(&"R/opt/tool/bin/run".to_string()), "{rows:?}");
    assert!(!rows.iter().any(|r| r.ends_with("old.txt")), "{rows:?}");
    let ft = marked(&a, &image, (Some(0), 1), TreeOptions::default());
    assert!(listing(&ft).contains(&"R/srv/app/old.txt".to_string()));
    // A layer's changes list what the layer changed, nothing of A's.
    let changes = TreeOptions {
        changes_only: true,
        ..TreeOptions::default()
    };
    let ft = marked(&a, &image, (Some(1), 2), changes);
    assert!(
        !listing(&ft)
            .iter()
            .any(|r| r.contains("/opt") || r.contains("old.txt"))
    );
}

/// The first keys of a filter often match every path (each directory comes along): the rows are the
/// unfiltered ones, shared, not a copy re-linked row by row.
#[test]
fn a_filter_keeping_every_row_shares_the_unfiltered_rows() {
    let image = fixture::image();
    let a = fixture::analysis(&image);
    let mut ft = FileTree::new(&a.tree, Some(1), 2, TreeOptions::default());
    let unfiltered = ft.rows().as_ptr();
    ft.options.filter = Some(PathFilter::new("/").unwrap());
    ft.rebuild();
    assert_eq!(ft.rows().as_ptr(), unfiltered);
    ft.options.filter = Some(PathFilter::new("/srv").unwrap());
    ft.rebuild();
    assert_ne!(ft.rows().as_ptr(), unfiltered);
    assert_eq!(listing(&ft)[0], " /srv");
}
