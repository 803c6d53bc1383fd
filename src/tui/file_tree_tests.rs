//! Unit tests of the file tree pane state on the synthetic fixture: modes, filters, hidden kinds, sorting,
//! incremental expand/collapse (always equal to a full rebuild) and selection kept across layer switches.

use super::file_tree::{FileTree, TreeOptions};
use super::fixture;
use crate::tree::ChangeKind;

fn listing(ft: &FileTree) -> Vec<String> {
    let tree = ft.view().tree();
    ft.visible()
        .iter()
        .map(|f| {
            let row = &ft.rows()[*f as usize];
            format!(
                "{}{}",
                crate::tui::theme::marker(row.change),
                tree.display_path(row.node)
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
        filter: Some(regex::bytes::Regex::new("app\\.conf").unwrap()),
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
    assert_eq!(a.tree.display_path(row.node), "/srv/app/app.conf");
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
        let row = ft.rows().iter().find(|r| r.node == node).unwrap();
        ft.size_of(row)
    };
    assert_eq!(size("/srv/app"), 3020);
    assert_eq!(size("/srv/app/app.conf.bak"), 10);
    assert_eq!(size("/tmp/cache.img"), 4000);
    assert_eq!(size("/tmp"), 0);
}
