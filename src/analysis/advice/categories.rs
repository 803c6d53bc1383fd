//! Path rules, as data: package-manager caches, `.git` directories, editor/OS junk and build toolchains. A
//! finding's bytes are those of its paths in the final image plus their wasted versions in earlier layers: what
//! the image loses when the paths are never written.

use std::collections::HashMap;
use std::sync::LazyLock;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

use super::{Advice, Context, PathTally, Place, Rule, Severity, plural, size};
use crate::layer::EntryKind;
use crate::tree::{ImageTree, NodeId, ROOT, State, Version};

/// One kind of path a rule reports. Globs match the path in the image without its leading `/`.
struct Category {
    rule: Rule,
    /// The finding's key within its rule (`package-cache:apt`).
    group: &'static str,
    /// What the paths are, for the message.
    what: &'static str,
    globs: &'static [&'static str],
    fix: &'static str,
    /// List the paths rolled up to the directory of this name (one `.git` per repository), not file by file.
    roll_up: Option<&'static [u8]>,
    /// The lowest severity, whatever the bytes.
    floor: Severity,
}

const fn cache(
    group: &'static str,
    what: &'static str,
    globs: &'static [&'static str],
    fix: &'static str,
) -> Category {
    Category {
        rule: Rule::PackageCache,
        group,
        what,
        globs,
        fix,
        roll_up: None,
        floor: Severity::Info,
    }
}

const fn toolchain(
    group: &'static str,
    what: &'static str,
    globs: &'static [&'static str],
) -> Category {
    Category {
        rule: Rule::BuildToolchain,
        group,
        what,
        globs,
        fix: "use a multi-stage build: compile in a builder stage and COPY --from it only what runs",
        roll_up: None,
        floor: Severity::Low,
    }
}

/// In claim order: a path belongs to the first category that matches it.
const CATEGORIES: &[Category] = &[
    cache(
        "apt",
        "apt package lists and archives",
        &["var/lib/apt/lists/**", "var/cache/apt/**"],
        "end the RUN that runs apt-get install with `&& rm -rf /var/lib/apt/lists/* /var/cache/apt/*` (or use RUN --mount=type=cache)",
    ),
    cache(
        "apk",
        "apk package cache",
        &["var/cache/apk/**"],
        "use `apk add --no-cache`",
    ),
    cache(
        "dnf",
        "dnf/yum package cache",
        &[
            "var/cache/dnf/**",
            "var/cache/yum/**",
            "var/cache/libdnf5/**",
        ],
        "end the RUN that installs with `&& dnf clean all` (`yum clean all`)",
    ),
    cache(
        "zypper",
        "zypper package cache",
        &["var/cache/zypp/**"],
        "end the RUN that installs with `&& zypper clean --all`",
    ),
    cache(
        "pip",
        "pip cache",
        &["**/.cache/pip/**"],
        "use `pip install --no-cache-dir` (or ENV PIP_NO_CACHE_DIR=1)",
    ),
    cache(
        "npm",
        "npm cache",
        &["**/.npm/_cacache/**"],
        "end the RUN that installs with `&& npm cache clean --force` (or RUN --mount=type=cache,target=/root/.npm)",
    ),
    cache(
        "yarn",
        "yarn cache",
        &["**/.cache/yarn/**", "**/.yarn/berry/cache/**"],
        "end the RUN that installs with `&& yarn cache clean` (or RUN --mount=type=cache)",
    ),
    cache(
        "pnpm",
        "pnpm store",
        &[
            "**/.local/share/pnpm/store/**",
            "**/.pnpm-store/**",
            "**/.cache/pnpm/**",
        ],
        "end the RUN that installs with `&& pnpm store prune` (or RUN --mount=type=cache on the store)",
    ),
    cache(
        "go",
        "Go build and module download caches",
        &["**/.cache/go-build/**", "**/go/pkg/mod/cache/**"],
        "use a multi-stage build, or RUN --mount=type=cache,target=/root/.cache/go-build",
    ),
    cache(
        "maven",
        "Maven repository",
        &["**/.m2/repository/**"],
        "use a multi-stage build (or RUN --mount=type=cache,target=/root/.m2)",
    ),
    cache(
        "gradle",
        "Gradle caches",
        &["**/.gradle/caches/**", "**/.gradle/wrapper/dists/**"],
        "use a multi-stage build (or RUN --mount=type=cache,target=/root/.gradle)",
    ),
    cache(
        "cargo",
        "Cargo registry and git caches",
        &[
            "**/.cargo/registry/**",
            "**/.cargo/git/**",
            "usr/local/cargo/registry/**",
            "usr/local/cargo/git/**",
        ],
        "use a multi-stage build (or RUN --mount=type=cache,target=/usr/local/cargo/registry)",
    ),
    cache(
        "composer",
        "Composer cache",
        &["**/.composer/cache/**", "**/.cache/composer/**"],
        "use `composer install --no-cache` (or `composer clear-cache` in the same RUN)",
    ),
    Category {
        rule: Rule::GitDirectory,
        group: "git",
        what: ".git directories",
        globs: &["**/.git/**"],
        fix: "add `.git` to .dockerignore (or COPY only what the build needs)",
        roll_up: Some(b".git"),
        floor: Severity::Low,
    },
    Category {
        rule: Rule::OsJunk,
        group: "junk",
        what: "editor and OS junk files",
        globs: &[
            "**/.DS_Store",
            "**/Thumbs.db",
            "**/desktop.ini",
            "**/*.swp",
            "**/*.swo",
            "**/*~",
            "**/._*",
            "**/__MACOSX/**",
            "**/.idea/**",
            "**/.vscode/**",
        ],
        fix: "add them to .dockerignore (`**/.DS_Store`, `**/*.swp`, `**/*~`, `.idea`, `.vscode`, `__MACOSX`)",
        roll_up: None,
        floor: Severity::Info,
    },
    toolchain(
        "gcc",
        "GCC compilers",
        &[
            "usr/lib/gcc/**",
            "usr/libexec/gcc/**",
            "usr/bin/gcc*",
            "usr/bin/g++*",
            "usr/bin/c++",
            "usr/bin/cpp*",
            "usr/bin/*-linux-gnu-gcc*",
            "usr/bin/*-linux-gnu-g++*",
            "usr/bin/*-linux-gnu-cpp*",
        ],
    ),
    toolchain(
        "llvm",
        "Clang/LLVM",
        &["usr/lib/llvm-*/**", "usr/lib/llvm/**", "usr/bin/clang*"],
    ),
    toolchain(
        "binutils",
        "binutils (assembler, linkers)",
        &[
            "usr/bin/as",
            "usr/bin/ld",
            "usr/bin/ld.*",
            "usr/bin/*-linux-gnu-as",
            "usr/bin/*-linux-gnu-ld*",
        ],
    ),
    toolchain(
        "dev-files",
        "C headers and static libraries",
        &[
            "usr/include/**",
            "usr/local/include/**",
            "usr/lib/**/*.a",
            "usr/local/lib/**/*.a",
        ],
    ),
    toolchain("go", "the Go toolchain", &["usr/local/go/**"]),
    toolchain(
        "rust",
        "the Rust toolchain",
        &["usr/local/rustup/**", "**/.rustup/**"],
    ),
];

/// The categories' globs in two sets: those ending in `/**` (matched once per directory, without the `/**`: what
/// lies below a matching directory inherits its category) and the others (matched per file). Matching
/// directories instead of every file below them is what keeps the walk fast on images with many files.
struct Matcher {
    dirs: GlobSet,
    dir_category: Vec<usize>,
    files: GlobSet,
    file_category: Vec<usize>,
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let (mut dirs, mut files) = (GlobSetBuilder::new(), GlobSetBuilder::new());
    let (mut dir_category, mut file_category) = (Vec::new(), Vec::new());
    for (index, category) in CATEGORIES.iter().enumerate() {
        for pattern in category.globs {
            let (set, categories, pattern) = match pattern.strip_suffix("/**") {
                Some(dir) => (&mut dirs, &mut dir_category, dir),
                None => (&mut files, &mut file_category, *pattern),
            };
            // The patterns are constants (a test checks that each one compiles).
            if let Ok(glob) = GlobBuilder::new(pattern).literal_separator(true).build() {
                set.add(glob);
                categories.push(index);
            }
        }
    }
    Matcher {
        dirs: dirs.build().unwrap_or_else(|_| GlobSet::empty()),
        dir_category,
        files: files.build().unwrap_or_else(|_| GlobSet::empty()),
        file_category,
    }
});

/// The first category (in claim order) of the globs in `set` matching a relative path.
fn first_match(set: &GlobSet, categories: &[usize], rel: &[u8]) -> Option<usize> {
    use std::os::unix::ffi::OsStrExt;
    let candidate = Candidate::new(std::path::Path::new(std::ffi::OsStr::from_bytes(rel)));
    set.matches_candidate(&candidate)
        .into_iter()
        .map(|glob| categories[glob])
        .min()
}

/// The earlier (in claim order) of two categories.
fn earlier(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The ancestor of `node` (or `node`) named `name` nearest the root (`srv/app/.git/objects/x` -> `srv/app/.git`);
/// `node` when there is none.
fn topmost_named(tree: &ImageTree, node: NodeId, name: &[u8]) -> NodeId {
    let mut found = node;
    let mut n = node;
    while n != ROOT {
        if tree.name(n) == name {
            found = n;
        }
        n = tree.parent(n);
    }
    found
}

/// What a node shows in the final image, when that is bytes: a regular file, or a hardlink to one.
enum Shown {
    File { version: Version, size: u64 },
    Link(Version),
}

fn shown_at_top(cx: &Context<'_>, node: NodeId) -> Option<Shown> {
    let tree = cx.tree;
    let event = tree.state_at(node, Some(cx.top?))?;
    let State::Present { entry: Some(i) } = event.state else {
        return None;
    };
    let entry = tree.entry(event.layer, i);
    match entry.kind {
        EntryKind::File if entry.size > 0 => Some(Shown::File {
            version: (event.layer, i),
            size: entry.size,
        }),
        EntryKind::Hardlink => tree.version_of(&event).map(Shown::Link),
        _ => None,
    }
}

pub(super) fn advise(cx: &mut Context<'_>) -> Vec<Advice> {
    let tree = cx.tree;
    let matcher = &*MATCHER;
    let mut tallies: HashMap<usize, PathTally> = HashMap::new();
    // Final-image files counted, and the hardlinks of the final image with their category: a file that a
    // hardlink outside its category keeps alive saves nothing when its path goes.
    let mut counted: HashMap<Version, (usize, Place, u64)> = HashMap::new();
    let mut links: Vec<(Version, Option<usize>)> = Vec::new();
    // Depth first, the path built as we go: (node, length of the parent's path, the parent's category).
    let mut path: Vec<u8> = Vec::new();
    let mut stack: Vec<(NodeId, usize, Option<usize>)> =
        tree.children(ROOT).iter().map(|c| (*c, 0, None)).collect();
    while let Some((node, parent_len, inherited)) = stack.pop() {
        path.truncate(parent_len);
        if parent_len > 0 {
            path.push(b'/');
        }
        path.extend_from_slice(tree.name(node));
        let children = tree.children(node);
        if !children.is_empty() {
            let below = earlier(
                inherited,
                first_match(&matcher.dirs, &matcher.dir_category, &path),
            );
            stack.extend(children.iter().map(|c| (*c, path.len(), below)));
        }
        let shown = shown_at_top(cx, node);
        let wasted = cx.wasted(node);
        if shown.is_none() && wasted.is_none() {
            continue;
        }
        let category = earlier(
            inherited,
            first_match(&matcher.files, &matcher.file_category, &path),
        );
        let last_file = match shown {
            Some(Shown::File { version, size }) => Some((version, size)),
            Some(Shown::Link(version)) => {
                links.push((version, category));
                None
            }
            None => None,
        };
        let Some(index) = category.filter(|_| last_file.is_some() || wasted.is_some()) else {
            continue;
        };
        let category = &CATEGORIES[index];
        let tally = tallies.entry(index).or_default();
        let place = match category.roll_up {
            Some(name) => Place::Node(topmost_named(tree, node, name)),
            None => Place::Node(node),
        };
        let mut bytes = 0u64;
        if let Some((version, size)) = last_file {
            bytes = bytes.saturating_add(size);
            tally.layers.insert(version.0);
            counted.insert(version, (index, place.clone(), size));
        }
        if let Some(file) = wasted {
            bytes = bytes.saturating_add(file.wasted_bytes);
            tally.layers.extend(file.layers.iter().copied());
        }
        tally.add(place, bytes);
        cx.claim(node);
    }
    for (version, link_category) in links {
        if let Some((index, place, size)) = counted.remove(&version) {
            if link_category == Some(index) {
                counted.insert(version, (index, place, size));
            } else if let Some(tally) = tallies.get_mut(&index) {
                tally.take(&place, size);
            }
        }
    }
    let mut out: Vec<Advice> = tallies
        .into_iter()
        .map(|(index, tally)| finding(cx, &CATEGORIES[index], &tally))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn finding(cx: &Context<'_>, category: &Category, tally: &PathTally) -> Advice {
    let (paths, path_count) = tally.top(cx.tree);
    let noun = if category.roll_up.is_some() {
        "path"
    } else {
        "file"
    };
    Advice {
        id: category.rule,
        key: format!("{}:{}", category.rule.id(), category.group),
        severity: Severity::for_bytes(tally.bytes).max(category.floor),
        message: format!(
            "{}: {} ({})",
            category.what,
            plural(path_count, noun),
            size(tally.bytes)
        ),
        reclaimable_bytes: tally.bytes,
        layers: cx.layers(&tally.layers),
        paths,
        path_count,
        fix: category.fix.to_string(),
        secrets: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for category in CATEGORIES {
            for pattern in category.globs {
                assert!(
                    GlobBuilder::new(pattern)
                        .literal_separator(true)
                        .build()
                        .is_ok(),
                    "{pattern}"
                );
            }
        }
        let count: usize = CATEGORIES.iter().map(|c| c.globs.len()).sum();
        assert_eq!(
            MATCHER.dir_category.len() + MATCHER.file_category.len(),
            count
        );
    }

    /// A path's category as the walk finds it: its file match or a match of one of its directories.
    fn category_of(rel: &[u8]) -> Option<usize> {
        let m = &*MATCHER;
        let mut found = first_match(&m.files, &m.file_category, rel);
        for (i, b) in rel.iter().enumerate() {
            if *b == b'/' {
                found = earlier(found, first_match(&m.dirs, &m.dir_category, &rel[..i]));
            }
        }
        found
    }

    #[test]
    fn paths_fall_in_the_first_matching_category() {
        let group = |p: &str| category_of(p.as_bytes()).map(|i| CATEGORIES[i].group);
        assert_eq!(group("var/lib/apt/lists/deb.debian.org_dists"), Some("apt"));
        assert_eq!(group("root/.cache/pip/http/a/b"), Some("pip"));
        assert_eq!(group("home/app/.npm/_cacache/index-v5/x"), Some("npm"));
        assert_eq!(group("usr/local/share/.cache/yarn/v6/x"), Some("yarn"));
        assert_eq!(group("root/.cache/go-build/ab/cd"), Some("go"));
        assert_eq!(group("srv/app/.git/objects/pack/p.pack"), Some("git"));
        assert_eq!(group("srv/app/.DS_Store"), Some("junk"));
        assert_eq!(group("usr/lib/gcc/x86_64-linux-gnu/12/cc1"), Some("gcc"));
        assert_eq!(group("usr/bin/gcc-12"), Some("gcc"));
        assert_eq!(group("usr/include/stdio.h"), Some("dev-files"));
        assert_eq!(group("usr/lib/x86_64-linux-gnu/libc.a"), Some("dev-files"));
        assert_eq!(group("usr/local/go/bin/go"), Some("go"));
        // `*` does not cross directories; runtime files are left alone.
        assert_eq!(group("usr/bin/local/gcc"), None);
        assert_eq!(group("usr/lib/x86_64-linux-gnu/libgcc_s.so.1"), None);
        assert_eq!(group("var/lib/apt/extended_states.txt"), None);
        assert_eq!(group("srv/app/.gitignore"), None);
    }

    #[test]
    fn roll_up_finds_the_named_directory_nearest_the_root() {
        use crate::layer::{LayerEntry, LayerScan};
        let entry = |p: &str| LayerEntry {
            path: p.as_bytes().into(),
            kind: EntryKind::File,
            size: 1,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: None,
            digest: None,
        };
        let scan = LayerScan {
            entries: vec![entry("srv/app/.git/modules/.git/x"), entry("a/b")],
            ..LayerScan::default()
        };
        let tree = ImageTree::build(&[std::sync::Arc::new(scan)]);
        let node = |p: &str| tree.lookup(p.as_bytes()).unwrap();
        let git = topmost_named(&tree, node("srv/app/.git/modules/.git/x"), b".git");
        assert_eq!(git, node("srv/app/.git"));
        assert_eq!(topmost_named(&tree, node("a/b"), b".git"), node("a/b"));
    }
}
