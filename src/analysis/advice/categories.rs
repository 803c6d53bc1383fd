//! Path rules, as data: package-manager caches, `.git` directories, editor/OS junk and build toolchains. A
//! finding's bytes are those of its paths in the final image plus their wasted versions in earlier layers: what
//! the image loses when the paths are never written.

use std::collections::HashMap;
use std::sync::LazyLock;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

use super::{Advice, Context, PathTally, Rule, Severity, plural, size};
use crate::layer::EntryKind;
use crate::path;
use crate::tree::State;

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

/// Every category's globs in one set; glob index -> category index.
struct Matcher {
    set: GlobSet,
    category_of: Vec<usize>,
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let mut builder = GlobSetBuilder::new();
    let mut category_of = Vec::new();
    for (index, category) in CATEGORIES.iter().enumerate() {
        for pattern in category.globs {
            // The patterns are constants (a test checks that each one compiles).
            if let Ok(glob) = GlobBuilder::new(pattern).literal_separator(true).build() {
                builder.add(glob);
                category_of.push(index);
            }
        }
    }
    Matcher {
        set: builder.build().unwrap_or_else(|_| GlobSet::empty()),
        category_of,
    }
});

/// The first category (in claim order) matching a relative path.
fn category_of(rel: &[u8]) -> Option<usize> {
    use std::os::unix::ffi::OsStrExt;
    let candidate = Candidate::new(std::path::Path::new(std::ffi::OsStr::from_bytes(rel)));
    let matcher = &*MATCHER;
    matcher
        .set
        .matches_candidate(&candidate)
        .into_iter()
        .map(|glob| matcher.category_of[glob])
        .min()
}

/// `rel` cut after its first component named `name` (`srv/app/.git/objects/x` -> `srv/app/.git`).
fn rolled_up(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut end = 0;
    for part in rel.split(|b| *b == b'/') {
        end += part.len();
        if part == name {
            return rel[..end].to_vec();
        }
        end += 1;
    }
    rel.to_vec()
}

pub(super) fn advise(cx: &mut Context<'_>) -> Vec<Advice> {
    let tree = cx.tree;
    let mut tallies: HashMap<usize, PathTally> = HashMap::new();
    for node in 1..tree.node_count() as u32 {
        let final_file = cx
            .top
            .and_then(|top| tree.state_at(node, Some(top)))
            .and_then(|event| match event.state {
                State::Present { entry: Some(i) } => {
                    let entry = tree.entry(event.layer, i);
                    (entry.kind == EntryKind::File && entry.size > 0)
                        .then_some((event.layer, entry.size))
                }
                _ => None,
            });
        let wasted = cx.wasted.get(&node).copied();
        if final_file.is_none() && wasted.is_none() {
            continue;
        }
        let rel = tree.path(node);
        let Some(index) = category_of(&rel) else {
            continue;
        };
        let category = &CATEGORIES[index];
        let tally = tallies.entry(index).or_default();
        let shown = match category.roll_up {
            Some(name) => path::display_absolute(&rolled_up(&rel, name)),
            None => tree.display_path(node),
        };
        let mut bytes = 0;
        if let Some((layer, size)) = final_file {
            bytes += size;
            tally.layers.insert(layer);
        }
        if let Some(file) = wasted {
            bytes += file.wasted_bytes;
            tally.layers.extend(file.layers.iter().copied());
        }
        tally.add(shown, bytes);
        cx.claimed.insert(node);
    }
    let mut out: Vec<Advice> = tallies
        .into_iter()
        .map(|(index, tally)| finding(cx, &CATEGORIES[index], &tally))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

fn finding(cx: &Context<'_>, category: &Category, tally: &PathTally) -> Advice {
    let (paths, path_count) = tally.top();
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
        assert_eq!(MATCHER.category_of.len(), count);
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
    fn roll_up_cuts_after_the_named_directory() {
        assert_eq!(
            rolled_up(b"srv/app/.git/objects/x", b".git"),
            b"srv/app/.git"
        );
        assert_eq!(rolled_up(b".git/HEAD", b".git"), b".git");
        assert_eq!(rolled_up(b"a/b", b".git"), b"a/b");
    }
}
