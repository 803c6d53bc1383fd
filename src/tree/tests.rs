//! Layer-semantics cases, each built from hand-made layer scans.

use std::sync::Arc;

use super::*;
use crate::analysis::waste::{report, wasted_files};
use crate::layer::{EntryKind, LayerEntry, LayerScan};

#[derive(Default)]
struct L {
    scan: LayerScan,
}

impl L {
    fn new() -> L {
        L::default()
    }
    fn add(mut self, path: &str, kind: EntryKind, size: u64, link: Option<&str>) -> L {
        self.scan.entries.push(LayerEntry {
            path: crate::path::normalize(path.as_bytes()).into_boxed_slice(),
            kind,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: link.map(|l| l.as_bytes().to_vec().into_boxed_slice()),
            digest: None,
        });
        self
    }
    fn dir(self, path: &str) -> L {
        self.add(path, EntryKind::Dir, 0, None)
    }
    fn file(self, path: &str, size: u64) -> L {
        self.add(path, EntryKind::File, size, None)
    }
    fn link(self, path: &str, target: &str) -> L {
        self.add(path, EntryKind::Hardlink, 0, Some(target))
    }
    fn symlink(self, path: &str, target: &str) -> L {
        self.add(path, EntryKind::Symlink, 0, Some(target))
    }
    fn whiteout(mut self, path: &str) -> L {
        self.scan.whiteouts.push(path.as_bytes().into());
        self
    }
    fn opaque(mut self, dir: &str) -> L {
        self.scan.opaques.push(dir.as_bytes().into());
        self
    }
}

fn build(layers: Vec<L>) -> ImageTree {
    let scans: Vec<Arc<LayerScan>> = layers.into_iter().map(|l| Arc::new(l.scan)).collect();
    ImageTree::build(&scans)
}

fn counts(tree: &ImageTree, layer: usize) -> (u64, u64, u64) {
    let c = tree.counts(layer);
    (c.added, c.modified, c.deleted)
}

fn top_paths(tree: &ImageTree) -> Vec<String> {
    let top = tree.layer_count() as u32 - 1;
    TreeView::at_layer(tree, top)
        .merged(false)
        .into_iter()
        .map(|e| e.path)
        .collect()
}

fn waste(tree: &ImageTree) -> Vec<(String, u64, Vec<u32>, GoneReason)> {
    wasted_files(tree)
        .into_iter()
        .map(|f| (f.path, f.wasted_bytes, f.layers, f.reason))
        .collect()
}

#[test]
fn added_modified_and_deleted_follow_the_definitions() {
    let tree = build(vec![
        L::new().dir("etc").file("etc/a", 10).file("etc/b", 20),
        L::new()
            .dir("etc")
            .file("etc/a", 11)
            .file("etc/c", 5)
            .whiteout("etc/b"),
    ]);
    assert_eq!(counts(&tree, 0), (3, 0, 0));
    // etc listed again over a directory: neither added nor modified.
    assert_eq!(counts(&tree, 1), (1, 1, 1));
    assert_eq!(top_paths(&tree), vec!["/etc", "/etc/a", "/etc/c"]);
}

#[test]
fn whiteout_deletes_a_directory_and_everything_below_it() {
    let tree = build(vec![
        L::new()
            .dir("d")
            .dir("d/sub")
            .file("d/sub/f", 100)
            .file("d/g", 50),
        L::new().whiteout("d"),
    ]);
    // Only the named path counts; its descendants are not counted again.
    assert_eq!(counts(&tree, 1), (0, 0, 1));
    assert!(top_paths(&tree).is_empty());
    assert_eq!(
        waste(&tree),
        vec![
            ("/d/sub/f".into(), 100, vec![0], GoneReason::Hidden),
            ("/d/g".into(), 50, vec![0], GoneReason::Hidden),
        ]
    );
}

#[test]
fn whiteout_of_a_missing_path_changes_nothing() {
    let tree = build(vec![
        L::new().file("a", 1),
        L::new().whiteout("nothing/here"),
    ]);
    assert_eq!(counts(&tree, 1), (0, 0, 0));
}

#[test]
fn opaque_marker_hides_lower_children_wherever_it_sits() {
    let mut upper = L::new().dir("srv").file("srv/new", 3).file("srv/keep", 4);
    // The marker comes after the entries in the tar; it still applies first.
    upper = upper.opaque("srv");
    let tree = build(vec![
        L::new()
            .dir("srv")
            .file("srv/old", 10)
            .dir("srv/x")
            .file("srv/x/y", 7)
            .file("srv/keep", 1),
        upper,
    ]);
    // new added; keep re-created (modified, not deleted); old and x hidden (deleted); x/y not counted again.
    assert_eq!(counts(&tree, 1), (1, 1, 2));
    assert_eq!(top_paths(&tree), vec!["/srv", "/srv/keep", "/srv/new"]);
    let w = waste(&tree);
    assert_eq!(w.len(), 3);
    assert!(w.contains(&("/srv/old".into(), 10, vec![0], GoneReason::Hidden)));
    assert!(w.contains(&("/srv/x/y".into(), 7, vec![0], GoneReason::Hidden)));
    assert!(w.contains(&("/srv/keep".into(), 1, vec![0], GoneReason::Hidden)));
}

#[test]
fn opaque_marker_at_the_root_hides_everything_below() {
    let tree = build(vec![
        L::new().file("a", 5).file("b", 6),
        L::new().opaque("").file("c", 1),
    ]);
    assert_eq!(counts(&tree, 1), (1, 0, 2));
    assert_eq!(top_paths(&tree), vec!["/c"]);
}

#[test]
fn whiteouts_affect_lower_layers_only() {
    let tree = build(vec![
        L::new().file("a", 5),
        // The same layer writes b and names it in a whiteout: b stays; a goes.
        L::new().file("b", 2).whiteout("b").whiteout("a"),
    ]);
    assert_eq!(top_paths(&tree), vec!["/b"]);
    assert_eq!(counts(&tree, 1), (1, 0, 1));
}

#[test]
fn directory_replaced_by_a_file_hides_its_contents() {
    let tree = build(vec![
        L::new().dir("d").file("d/f", 30),
        L::new().file("d", 4),
    ]);
    assert_eq!(counts(&tree, 1), (0, 1, 0));
    assert_eq!(top_paths(&tree), vec!["/d"]);
    assert_eq!(
        waste(&tree),
        vec![("/d/f".into(), 30, vec![0], GoneReason::Hidden)]
    );
}

#[test]
fn file_replaced_by_a_directory_is_modified_and_overwritten() {
    let tree = build(vec![
        L::new().file("p", 9),
        L::new().dir("p").file("p/q", 1),
    ]);
    assert_eq!(counts(&tree, 1), (1, 1, 0));
    assert_eq!(
        waste(&tree),
        vec![("/p".into(), 9, vec![0], GoneReason::Overwritten)]
    );
}

#[test]
fn overwritten_versions_count_once_and_the_kept_copy_never() {
    let tree = build(vec![
        L::new().file("f", 100),
        L::new().file("f", 200),
        L::new().file("f", 300),
    ]);
    let w = wasted_files(&tree);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].wasted_bytes, 300);
    assert_eq!(w[0].layers, vec![0, 1]);
    assert_eq!(w[0].versions[0].removed_in, 1);
    let r = report(w, &[100, 200, 300], 1);
    assert_eq!(r.wasted_bytes, 300);
    assert!((r.efficiency - 0.5).abs() < 1e-9);
    assert!((r.user_wasted_ratio - 0.6).abs() < 1e-9);
}

#[test]
fn hardlinked_content_counts_once_and_survives_its_first_name() {
    let tree = build(vec![
        L::new().file("a", 40).link("b", "a"),
        L::new().whiteout("a"),
    ]);
    // b still shows the bytes, so they are not wasted.
    assert!(wasted_files(&tree).is_empty());
    let view = TreeView::at_layer(&tree, 1);
    let rows = view.merged(false);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].path, "/b");
    assert_eq!(rows[0].size, 40);
    assert_eq!(rows[0].link_target.as_deref(), Some("/a"));
    // Directory sizes count linked content once.
    assert_eq!(TreeView::at_layer(&tree, 0).size(ROOT), 40);
}

#[test]
fn hardlink_to_a_lower_layer_file_is_resolved() {
    let tree = build(vec![
        L::new().file("x", 8),
        L::new().link("y", "x"),
        L::new().whiteout("x"),
    ]);
    assert!(wasted_files(&tree).is_empty());
}

#[test]
fn symlinks_are_kept_and_never_followed() {
    let tree = build(vec![
        L::new()
            .dir("usr")
            .dir("usr/lib")
            .file("usr/lib/z", 3)
            .symlink("lib", "usr/lib")
            .symlink("dangling", "/nowhere"),
        // A whiteout through the symlink's name deletes nothing under usr/lib.
        L::new().whiteout("lib/z"),
    ]);
    assert_eq!(counts(&tree, 1), (0, 0, 0));
    let rows = TreeView::at_layer(&tree, 1).merged(false);
    let dangling = rows.iter().find(|r| r.path == "/dangling").unwrap();
    assert_eq!(dangling.link_target.as_deref(), Some("/nowhere"));
    assert!(rows.iter().any(|r| r.path == "/usr/lib/z"));
}

#[test]
fn same_path_twice_in_one_layer_counts_once() {
    let tree = build(vec![L::new().file("f", 5).file("f", 6)]);
    assert_eq!(counts(&tree, 0), (1, 0, 0));
    assert_eq!(
        waste(&tree),
        vec![("/f".into(), 5, vec![0], GoneReason::Overwritten)]
    );
}

#[test]
fn implied_parent_directories_exist_but_are_not_counted() {
    let tree = build(vec![L::new().file("a/b/c", 1)]);
    assert_eq!(counts(&tree, 0), (1, 0, 0));
    assert_eq!(top_paths(&tree), vec!["/a", "/a/b", "/a/b/c"]);
}

#[test]
fn deleted_then_recreated_in_a_later_layer_is_added_again() {
    let tree = build(vec![
        L::new().file("f", 1),
        L::new().whiteout("f"),
        L::new().file("f", 2),
    ]);
    assert_eq!(counts(&tree, 2), (1, 0, 0));
    assert_eq!(
        waste(&tree),
        vec![("/f".into(), 1, vec![0], GoneReason::Deleted)]
    );
}

#[test]
fn non_utf8_names_are_shown_escaped() {
    let mut l = L::new();
    l.scan.entries.push(LayerEntry {
        path: b"bad\xffname".to_vec().into_boxed_slice(),
        kind: EntryKind::File,
        size: 1,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
        link_target: None,
        digest: None,
    });
    let tree = build(vec![l.file("-rf", 1).file("with space", 1)]);
    assert_eq!(
        top_paths(&tree),
        vec!["/-rf", "/bad\\xffname", "/with space"]
    );
    assert!(tree.lookup(b"/bad\xffname").is_some());
}

#[test]
fn views_show_layer_changes_and_ranges() {
    let tree = build(vec![
        L::new().dir("d").file("d/a", 1).file("d/b", 2),
        L::new().file("d/a", 3).whiteout("d/b"),
        L::new().file("d/c", 4),
    ]);
    let changes = TreeView::at_layer(&tree, 1).layer_changes();
    let kinds: Vec<(String, ChangeKind)> =
        changes.iter().map(|r| (r.path.clone(), r.change)).collect();
    assert_eq!(
        kinds,
        vec![
            ("/d/a".into(), ChangeKind::Modified),
            ("/d/b".into(), ChangeKind::Deleted)
        ]
    );
    // Compare layer 0 with layer 2.
    let range = TreeView::between(&tree, Some(0), 2);
    let all: Vec<(String, ChangeKind)> = range
        .merged(true)
        .iter()
        .map(|r| (r.path.clone(), r.change))
        .collect();
    assert_eq!(
        all,
        vec![
            ("/d".into(), ChangeKind::Unmodified),
            ("/d/a".into(), ChangeKind::Modified),
            ("/d/b".into(), ChangeKind::Deleted),
            ("/d/c".into(), ChangeKind::Added),
        ]
    );
    assert_eq!(range.size(tree.lookup(b"d").unwrap()), 7);
}

#[test]
fn fate_reports_the_removing_layer() {
    let tree = build(vec![
        L::new().file("s", 9),
        L::new().file("t", 1),
        L::new().whiteout("s"),
    ]);
    let node = tree.lookup(b"s").unwrap();
    let visible = tree.visible_versions();
    assert_eq!(
        tree.fate(node, 0, &visible),
        Fate::Gone {
            reason: GoneReason::Deleted,
            removed_in: 2
        }
    );
}

/// A path with one event holds it in its node, with nothing on the heap: a million files are a million nodes.
#[test]
fn a_path_seen_once_holds_its_event_in_the_node() {
    let tree = build(vec![L::new().file("a/b", 1).file("a/c", 2)]);
    let b = tree.lookup(b"a/b").unwrap();
    let node = &tree.nodes[b as usize];
    assert!(matches!(node.history, History::One(_)));
    assert!(node.children.is_none());
    assert_eq!(std::mem::size_of::<Node>(), 32);
}

/// The inline first event and those spilled after it read back in layer order.
#[test]
fn a_history_spills_past_its_first_event_in_order() {
    let tree = build(vec![
        L::new().file("a", 1),
        L::new().file("a", 2),
        L::new().whiteout("a"),
        L::new().file("a", 3),
    ]);
    let a = tree.lookup(b"a").unwrap();
    let layers: Vec<u32> = tree.history(a).iter().map(|e| e.layer).collect();
    assert_eq!(layers, [0, 1, 2, 3]);
    assert!(matches!(tree.nodes[a as usize].history, History::Many(_)));
    assert_eq!(tree.history(ROOT), &[]);
}

/// Names whose hashes collide are still told apart (every name below hashes alike).
#[test]
fn names_with_one_hash_keep_their_own_ids() {
    #[derive(Default)]
    struct Constant;
    impl std::hash::BuildHasher for Constant {
        type Hasher = Same;
        fn build_hasher(&self) -> Same {
            Same
        }
    }
    struct Same;
    impl std::hash::Hasher for Same {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _bytes: &[u8]) {}
    }
    let mut names = Names {
        bytes: Vec::new(),
        ends: vec![0],
    };
    let mut ids = NameIds::<Constant>::default();
    for name in [&b"etc"[..], b"usr", b"bin", b"etc"] {
        if ids.find(&names, name).is_none() {
            let id = names.push(name);
            ids.insert(&names, name, id);
        }
    }
    let found: Vec<Option<u32>> = [&b"etc"[..], b"usr", b"bin", b"lib"]
        .iter()
        .map(|n| ids.find(&names, n))
        .collect();
    assert_eq!(found, [Some(1), Some(2), Some(3), None]);
    assert_eq!((names.get(0), names.get(2)), (&b""[..], &b"usr"[..]));
}

/// The visible versions are one bit per entry, and hold exactly the versions the top layer shows: a file's own,
/// and the one a hardlink shares (even when the path it was written at is gone).
#[test]
fn visible_versions_are_a_bit_per_entry() {
    let tree = build(vec![
        L::new().file("a", 1).file("b", 2).file("c", 3),
        L::new().link("h", "a").file("b", 4),
        L::new().whiteout("a").whiteout("c"),
    ]);
    let visible = tree.visible_versions();
    let all: Vec<Version> = (0..3u32)
        .flat_map(|l| (0..3u32).map(move |i| (l, i)))
        .filter(|v| visible.contains(v))
        .collect();
    assert_eq!(all, [(0, 0), (1, 1)]);
    assert_eq!(visible.len(), 2);
    // One word for each layer with entries (the third has only whiteouts).
    assert_eq!(visible.bits.iter().map(|w| w.len()).sum::<usize>(), 2);
}

/// Everything a tree holds, by node id: path, events, children; then the per-layer counts and hardlinks.
fn dump(tree: &ImageTree) -> Vec<String> {
    let mut out: Vec<String> = (0..tree.node_count() as NodeId)
        .map(|n| {
            format!(
                "{n} {} {:?} {:?}",
                tree.display_path(n),
                tree.history(n),
                tree.children(n)
            )
        })
        .collect();
    out.extend((0..tree.layer_count()).map(|l| format!("{l}: {:?}", tree.counts(l))));
    let mut links: Vec<_> = tree.hardlinks.iter().collect();
    links.sort();
    out.push(format!("{links:?}"));
    out
}

#[test]
fn each_snapshot_of_an_incremental_build_is_the_full_build_of_its_layers() {
    let layers = vec![
        L::new()
            .dir("etc")
            .file("etc/a", 1)
            .file("etc/b", 2)
            .dir("var/cache"),
        L::new()
            .file("var/cache/x", 3)
            .link("etc/hard", "etc/a")
            .file("z", 9),
        L::new().whiteout("etc/b").opaque("var").file("var/new", 4),
        L::new().file("etc", 5).dir("z").file("z/in", 6),
        L::new()
            .dir("etc")
            .file("etc/again", 7)
            .symlink("s", "etc/again"),
    ];
    let scans: Vec<Arc<LayerScan>> = layers.into_iter().map(|l| Arc::new(l.scan)).collect();
    let mut builder = TreeBuilder::new(0);
    let mut snapshots = Vec::new();
    for scan in &scans {
        builder.push(scan.clone());
        snapshots.push(builder.snapshot());
    }
    for (k, snapshot) in snapshots.iter().enumerate() {
        let full = ImageTree::build(&scans[..=k]);
        assert_eq!(dump(snapshot), dump(&full), "layers 0..={k}");
        assert_eq!(snapshot.layer_count(), k + 1);
    }
    // The finished tree is the full build; the ids of every snapshot name the same paths in it.
    let full = builder.finish();
    assert_eq!(dump(&full), dump(&ImageTree::build(&scans)));
    for snapshot in &snapshots {
        for n in 0..snapshot.node_count() as NodeId {
            assert_eq!(snapshot.path(n), full.path(n));
        }
    }
}
