//! Every rule on hand-made layers, with exact byte counts.

use std::sync::Arc;

use super::*;
use crate::analysis::analyze;
use crate::image::{Format, ImageConfig, ImageMeta, Layer, LayerHistory, Platform};
use crate::layer::{EntryKind, LayerEntry, LayerScan};
use crate::secrets::{Confidence, Location, SecretFinding, Status};

/// One layer: its instruction and its scan.
struct L {
    instruction: &'static str,
    scan: LayerScan,
}

fn run(instruction: &'static str) -> L {
    L {
        instruction,
        scan: LayerScan::default(),
    }
}

impl L {
    fn entry(mut self, path: &str, kind: EntryKind, size: u64, mode: u32) -> L {
        let link = (kind == EntryKind::Hardlink || kind == EntryKind::Symlink)
            .then(|| b"target".to_vec().into_boxed_slice());
        self.scan.entries.push(LayerEntry {
            path: crate::path::normalize(path.as_bytes()).into_boxed_slice(),
            kind,
            size,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            link_target: link,
            digest: None,
        });
        self
    }
    fn file(self, path: &str, size: u64) -> L {
        self.entry(path, EntryKind::File, size, 0o644)
    }
    fn mode(self, path: &str, kind: EntryKind, mode: u32) -> L {
        self.entry(path, kind, 0, mode)
    }
    fn hardlink(mut self, path: &str, target: &str) -> L {
        self = self.entry(path, EntryKind::Hardlink, 0, 0o644);
        if let Some(e) = self.scan.entries.last_mut() {
            e.link_target = Some(target.as_bytes().into());
        }
        self
    }
    /// A regular file of `size` bytes whose content is named by `content` (same name, same digest), owned by
    /// `uid` with `mode`.
    fn content(mut self, path: &str, size: u64, content: &str, uid: u64, mode: u32) -> L {
        self = self.entry(path, EntryKind::File, size, mode);
        if let Some(e) = self.scan.entries.last_mut() {
            e.digest = Some(crate::file_digest::FileDigest::of(content.as_bytes()));
            e.uid = uid;
            e.gid = uid;
        }
        self
    }
    /// Marks the last entry an ELF binary whose debug sections hold `debug_bytes`.
    fn elf(mut self, debug_bytes: u64, by_name: bool) -> L {
        let index = self.scan.entries.len() as u32 - 1;
        let info = crate::elf::ElfInfo {
            debug_bytes,
            debug_sections: 3,
            by_name,
        };
        self.scan.elf.push((index, info));
        self
    }
    fn whiteout(mut self, path: &str) -> L {
        self.scan.whiteouts.push(path.as_bytes().into());
        self
    }
}

/// An image of `layers` whose config says `user` (`None`: no `User` key at all).
fn image(layers: Vec<L>, user: Option<&str>) -> Image {
    let raw = match user {
        Some(u) => serde_json::json!({"config": {"User": u}}),
        None => serde_json::json!({"config": {}}),
    };
    Image {
        meta: ImageMeta {
            source: "test".into(),
            format: Format::DockerArchive,
            layout: "legacy",
            archive_compression: None,
            reference: None,
            platform: Platform::host(),
            config_digest: "sha256:00".into(),
            manifest_digest: None,
            config: ImageConfig {
                raw,
                ..ImageConfig::default()
            },
            verification: Default::default(),
        },
        layers: layers
            .into_iter()
            .enumerate()
            .map(|(index, l)| Layer {
                index,
                blob_path: String::new(),
                media_type: None,
                diff_id: String::new(),
                history: LayerHistory {
                    instruction: l.instruction.into(),
                    ..LayerHistory::default()
                },
                scan: Arc::new(l.scan),
            })
            .collect(),
    }
}

fn advise_on(layers: Vec<L>) -> (Vec<Advice>, Analysis) {
    let img = image(layers, Some("app"));
    let analysis = analyze(&img, 1);
    (advise(&img, &analysis), analysis)
}

fn find<'a>(advice: &'a [Advice], key: &str) -> &'a Advice {
    advice
        .iter()
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", keys(advice)))
}

fn keys(advice: &[Advice]) -> Vec<&str> {
    advice.iter().map(|a| a.key.as_str()).collect()
}

fn paths(a: &Advice) -> Vec<(&str, u64)> {
    a.paths.iter().map(|p| (p.path.as_str(), p.bytes)).collect()
}

fn layer_indices(a: &Advice) -> Vec<u32> {
    a.layers.iter().map(|l| l.index).collect()
}

const BASE: &str = "ADD file:0123456789ab /";

#[test]
fn same_run_delete_groups_wasted_versions_by_layer_pair() {
    let (advice, analysis) = advise_on(vec![
        run(BASE).file("etc/os-release", 100),
        run("RUN make && cp out /tmp/a")
            .file("tmp/a", 1000)
            .file("tmp/b", 500)
            .file("opt/x", 300),
        run("RUN rm /tmp/a /tmp/b")
            .whiteout("tmp/a")
            .whiteout("tmp/b"),
        run("RUN echo y > /opt/x").file("opt/x", 100),
    ]);
    assert_eq!(
        keys(&advice),
        ["same-run-delete:1>2", "same-run-delete:1>3"]
    );
    let deleted = find(&advice, "same-run-delete:1>2");
    assert_eq!(deleted.id, Rule::SameRunDelete);
    assert_eq!(deleted.reclaimable_bytes, 1500);
    assert_eq!(paths(deleted), [("/tmp/a", 1000), ("/tmp/b", 500)]);
    assert_eq!(deleted.path_count, 2);
    assert_eq!(
        deleted.layers,
        [
            AdviceLayer {
                index: 1,
                instruction: "RUN make && cp out /tmp/a".into()
            },
            AdviceLayer {
                index: 2,
                instruction: "RUN rm /tmp/a /tmp/b".into()
            },
        ]
    );
    assert_eq!(
        deleted.message,
        "2 files (1.50 kB) written by layer 1 and deleted by layer 2"
    );
    assert!(deleted.fix.contains("same RUN"), "{}", deleted.fix);
    assert_eq!(deleted.severity, Severity::Info);
    let overwritten = find(&advice, "same-run-delete:1>3");
    assert_eq!(overwritten.reclaimable_bytes, 300);
    assert!(overwritten.message.ends_with("overwritten by layer 3"));
    // Without path rules in play, the findings split the waste report exactly.
    let total: u64 = advice.iter().map(|a| a.reclaimable_bytes).sum();
    assert_eq!(total, analysis.waste.wasted_bytes);
}

#[test]
fn files_hidden_under_a_deleted_directory_count_for_the_pair() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN build")
            .file("build/obj/a.o", 2_000_000)
            .file("build/obj/b.o", 3_000_000),
        run("RUN rm -rf /build").whiteout("build"),
    ]);
    let a = find(&advice, "same-run-delete:1>2");
    assert_eq!(a.reclaimable_bytes, 5_000_000);
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(
        paths(a),
        [("/build/obj/b.o", 3_000_000), ("/build/obj/a.o", 2_000_000)]
    );
}

#[test]
fn a_copy_deleted_later_is_told_to_stay_out_of_the_copy() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("COPY . /app").file("app/data.bin", 40),
        run("RUN rm /app/data.bin").whiteout("app/data.bin"),
    ]);
    let a = find(&advice, "same-run-delete:1>2");
    assert!(a.fix.contains(".dockerignore"), "{}", a.fix);
}

#[test]
fn deleting_base_image_files_is_its_own_finding() {
    let (advice, _) = advise_on(vec![
        run(BASE).file("usr/share/doc/big", 2000),
        run("RUN rm -rf /usr/share/doc").whiteout("usr/share/doc"),
    ]);
    assert_eq!(keys(&advice), ["base-image-delete:0>1"]);
    let a = &advice[0];
    assert_eq!(a.id, Rule::BaseImageDelete);
    assert_eq!((a.reclaimable_bytes, a.severity), (2000, Severity::Info));
    assert!(a.fix.contains("base image"));
}

#[test]
fn package_caches_count_final_and_wasted_versions_once() {
    let (advice, analysis) = advise_on(vec![
        run(BASE),
        run("RUN apt-get update && apt-get install -y curl")
            .file("var/lib/apt/lists/deb_main", 4000)
            .file("var/cache/apt/pkgcache.bin", 1000)
            .file("usr/bin/curl", 200),
        run("RUN apt-get update").file("var/lib/apt/lists/deb_main", 4500),
        run("RUN pip install x").file("root/.cache/pip/http/ab", 700),
        run("RUN rm -rf /root/.cache").whiteout("root/.cache"),
    ]);
    // The pip cache deleted in a later layer is a package cache, not a same-RUN delete: one finding per byte.
    assert_eq!(keys(&advice), ["package-cache:apt", "package-cache:pip"]);
    let apt = find(&advice, "package-cache:apt");
    assert_eq!(apt.id, Rule::PackageCache);
    assert_eq!(apt.reclaimable_bytes, 4500 + 4000 + 1000);
    assert_eq!(
        paths(apt),
        [
            ("/var/lib/apt/lists/deb_main", 8500),
            ("/var/cache/apt/pkgcache.bin", 1000)
        ]
    );
    assert_eq!(layer_indices(apt), [1, 2]);
    assert!(apt.fix.contains("/var/lib/apt/lists"));
    let pip = find(&advice, "package-cache:pip");
    assert_eq!(pip.reclaimable_bytes, 700);
    assert_eq!(layer_indices(pip), [3]);
    assert!(pip.fix.contains("--no-cache-dir"));
    assert_eq!(analysis.waste.wasted_bytes, 4000 + 700);
}

#[test]
fn a_hardlinked_cache_file_counts_once() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN apk add curl")
            .file("var/cache/apk/APKINDEX.tar.gz", 100)
            .hardlink("var/cache/apk/copy.tar.gz", "var/cache/apk/APKINDEX.tar.gz"),
    ]);
    let apk = find(&advice, "package-cache:apk");
    assert_eq!((apk.reclaimable_bytes, apk.path_count), (100, 1));
}

#[test]
fn a_cache_file_kept_alive_by_a_hardlink_outside_the_cache_saves_nothing() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN pip install x && ln /root/.cache/pip/wheel.whl /opt/wheel.whl")
            .file("root/.cache/pip/wheel.whl", 900)
            .file("root/.cache/pip/other", 100)
            .hardlink("opt/wheel.whl", "root/.cache/pip/wheel.whl"),
    ]);
    let pip = find(&advice, "package-cache:pip");
    assert_eq!(pip.reclaimable_bytes, 100);
    assert_eq!(
        paths(pip),
        [
            ("/root/.cache/pip/other", 100),
            ("/root/.cache/pip/wheel.whl", 0)
        ]
    );
}

#[test]
fn git_directories_are_listed_per_repository() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("COPY . /srv/app")
            .file("srv/app/.git/objects/pack/p.pack", 3000)
            .file("srv/app/.git/HEAD", 20)
            .file("srv/app/main.py", 50),
        run("RUN git clone x /opt/lib").file("opt/lib/.git/config", 10),
    ]);
    assert_eq!(keys(&advice), ["git-directory:git"]);
    let git = &advice[0];
    assert_eq!(git.reclaimable_bytes, 3030);
    assert_eq!(paths(git), [("/srv/app/.git", 3020), ("/opt/lib/.git", 10)]);
    assert_eq!(git.path_count, 2);
    assert_eq!(git.severity, Severity::Low);
    assert!(git.fix.contains(".dockerignore"));
}

#[test]
fn editor_and_os_junk_is_found() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("COPY . /app")
            .file("app/.DS_Store", 6148)
            .file("app/src/.main.py.swp", 12288)
            .file("app/src/main.py", 10),
    ]);
    let junk = find(&advice, "os-junk:junk");
    assert_eq!(junk.reclaimable_bytes, 6148 + 12288);
    assert_eq!(junk.path_count, 2);
}

#[test]
fn build_toolchains_in_the_final_image_call_for_a_multi_stage_build() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN apt-get install -y build-essential")
            .file("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 30_000_000)
            .file("usr/bin/gcc-12", 1_000_000)
            .file("usr/include/stdio.h", 1000)
            .file("usr/lib/x86_64-linux-gnu/libc.so.6", 2_000_000),
    ]);
    assert_eq!(
        keys(&advice),
        ["build-toolchain:gcc", "build-toolchain:dev-files"]
    );
    let gcc = find(&advice, "build-toolchain:gcc");
    assert_eq!(gcc.id, Rule::BuildToolchain);
    assert_eq!(
        (gcc.reclaimable_bytes, gcc.severity),
        (31_000_000, Severity::Medium)
    );
    assert!(gcc.fix.contains("multi-stage"));
    let dev = find(&advice, "build-toolchain:dev-files");
    assert_eq!((dev.reclaimable_bytes, dev.severity), (1000, Severity::Low));
}

#[test]
fn root_is_no_user_an_empty_user_root_or_uid_0() {
    for (user, root) in [
        (None, true),
        (Some(""), true),
        (Some("root"), true),
        (Some("0"), true),
        (Some("0:0"), true),
        (Some("root:app"), true),
        (Some("app"), false),
        (Some("1000:1000"), false),
        (Some("10"), false),
    ] {
        let img = image(vec![run(BASE)], user);
        let advice = advise(&img, &analyze(&img, 1));
        let found = advice.iter().any(|a| a.id == Rule::RunsAsRoot);
        assert_eq!(found, root, "{user:?}");
    }
    let img = image(Vec::new(), None);
    let advice = advise(&img, &analyze(&img, 1));
    assert_eq!(keys(&advice), ["runs-as-root"]);
    assert_eq!(
        advice[0].message,
        "the image runs as root (no USER instruction)"
    );
    assert_eq!(advice[0].severity, Severity::Medium);
}

#[test]
fn setuid_and_world_writable_entries_of_the_final_image() {
    let (advice, _) = advise_on(vec![
        run(BASE)
            .entry("usr/bin/su", EntryKind::File, 60, 0o4755)
            .entry("usr/bin/wall", EntryKind::File, 30, 0o2755)
            .entry("usr/bin/old", EntryKind::File, 10, 0o4755)
            .mode("tmp", EntryKind::Dir, 0o1777)
            .mode("usr/bin/sh", EntryKind::Symlink, 0o777),
        run("RUN setup")
            .whiteout("usr/bin/old")
            .mode("data", EntryKind::Dir, 0o777)
            .entry("data/log", EntryKind::File, 5, 0o666),
    ]);
    assert_eq!(
        keys(&advice),
        ["world-writable", "setuid-file", "base-image-delete:0>1"]
    );
    let setuid = find(&advice, "setuid-file");
    assert_eq!(paths(setuid), [("/usr/bin/su", 60), ("/usr/bin/wall", 30)]);
    assert_eq!(
        (setuid.severity, setuid.reclaimable_bytes),
        (Severity::Low, 0)
    );
    assert_eq!(layer_indices(setuid), [0]);
    let writable = find(&advice, "world-writable");
    assert_eq!(paths(writable), [("/data/log", 5), ("/data", 0)]);
    assert_eq!(layer_indices(writable), [1]);
    assert_eq!(writable.severity, Severity::Medium);
}

fn secret(path: &str, layer: u32, confidence: Confidence, fingerprint: &str) -> SecretFinding {
    SecretFinding {
        rule: "netrc-password".into(),
        description: "password in a .netrc".into(),
        severity: crate::secrets::Severity::High,
        confidence,
        location: Location::File,
        layer: Some(layer),
        path: Some(path.into()),
        line: Some(1),
        status: Status::Removed,
        removed_in: Some(2),
        instruction: None,
        redacted: "hunt****".into(),
        fingerprint: fingerprint.into(),
    }
}

#[test]
fn high_confidence_secrets_link_to_their_findings() {
    let img = image(
        vec![
            run(BASE),
            run("COPY netrc /root/.netrc").file("root/.netrc", 42),
            run("RUN rm /root/.netrc").whiteout("root/.netrc"),
        ],
        Some("app"),
    );
    let mut analysis = analyze(&img, 1);
    analysis.secrets = vec![
        secret("/root/.netrc", 1, Confidence::High, "f1"),
        secret("/usr/share/doc/x", 0, Confidence::Low, "f2"),
    ];
    let advice = advise(&img, &analysis);
    let s = find(&advice, "secrets");
    assert_eq!(s.severity, Severity::High);
    assert_eq!(s.secrets, ["f1"]);
    assert_eq!(paths(s), [("/root/.netrc", 42)]);
    assert_eq!(layer_indices(s), [1]);
    assert_eq!(
        s.message,
        "1 secret in the image (1 of them removed or overwritten later, yet still in their layer)"
    );
    // The secret file's bytes are waste too, reported once, by the layout rule.
    assert_eq!(find(&advice, "same-run-delete:1>2").reclaimable_bytes, 42);
    assert_eq!(advice[0].key, "secrets", "most severe first");
}

#[test]
fn ignores_name_a_rule_or_one_finding() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN a").file("a/1", 10).file("b/1", 20_000_000),
        run("RUN b").whiteout("a"),
        run("RUN c").whiteout("b"),
    ]);
    assert_eq!(
        keys(&advice),
        ["same-run-delete:1>3", "same-run-delete:1>2"]
    );
    assert_eq!(at_least(&advice, Severity::Medium), 1);
    assert_eq!(at_least(&advice, Severity::Info), 2);
    let left = without_ignored(advice.clone(), &["same-run-delete:1>3".into()]);
    assert_eq!(keys(&left), ["same-run-delete:1>2"]);
    assert!(without_ignored(advice, &["same-run-delete".into()]).is_empty());
}

#[test]
fn a_chown_that_stores_the_same_bytes_again_is_a_chown_rewrite() {
    let (advice, analysis) = advise_on(vec![
        run(BASE).content("etc/base.conf", 700, "base", 0, 0o644),
        run("COPY app /app")
            .content("app/a.bin", 3000, "a", 0, 0o644)
            .content("app/b.bin", 2000, "b", 0, 0o644)
            .content("app/c.txt", 100, "c", 0, 0o644),
        run("RUN chown -R 1000 /app && echo new > /app/c.txt && chown 7 /etc/base.conf")
            .content("app/a.bin", 3000, "a", 1000, 0o644)
            .content("app/b.bin", 2000, "b", 1000, 0o755)
            // New content: an ordinary overwrite, left to the layout rule.
            .content("app/c.txt", 100, "c2", 1000, 0o644)
            .content("etc/base.conf", 700, "base", 7, 0o644),
        // The same bytes and metadata again: not a metadata rewrite.
        run("RUN cp -p").content("app/a.bin", 3000, "a", 1000, 0o644),
    ]);
    let chown = find(&advice, "chown-rewrite:1>2");
    assert_eq!(chown.id, Rule::ChownRewrite);
    assert_eq!(chown.reclaimable_bytes, 5000);
    assert_eq!(paths(chown), [("/app/a.bin", 3000), ("/app/b.bin", 2000)]);
    assert_eq!(layer_indices(chown), [1, 2]);
    assert!(
        chown.message.contains("owner and mode"),
        "{}",
        chown.message
    );
    assert!(chown.fix.contains("COPY --chown/--chmod"), "{}", chown.fix);
    let base = find(&advice, "chown-rewrite:0>2");
    assert_eq!(
        (base.reclaimable_bytes, base.severity),
        (700, Severity::Info)
    );
    assert_eq!(find(&advice, "same-run-delete:1>2").reclaimable_bytes, 100);
    assert_eq!(find(&advice, "same-run-delete:2>3").reclaimable_bytes, 3000);
    // Every wasted byte is in exactly one finding.
    let total: u64 = advice.iter().map(|a| a.reclaimable_bytes).sum();
    assert_eq!(total, analysis.waste.wasted_bytes);
}

#[test]
fn a_chown_in_a_run_is_told_to_go_in_the_writing_run() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN make install").content("opt/tool", 9000, "t", 0, 0o644),
        run("RUN chmod +x /opt/tool").content("opt/tool", 9000, "t", 0, 0o755),
    ]);
    let a = find(&advice, "chown-rewrite:1>2");
    assert!(a.message.ends_with("only a new mode"), "{}", a.message);
    assert!(a.fix.contains("same RUN"), "{}", a.fix);
}

#[test]
fn identical_content_under_several_paths_keeps_the_lowest_copy() {
    let (advice, _) = advise_on(vec![
        run(BASE).content("usr/lib/libx.so", 50_000, "x", 0, 0o644),
        run("COPY vendor /opt")
            .content("opt/libx.so", 50_000, "x", 0, 0o644)
            .content("opt/b/libx.so", 50_000, "x", 0, 0o644)
            .content("opt/data", 8000, "d", 0, 0o644)
            .hardlink("opt/data.link", "opt/data")
            // Under the floor: small copies are not reported.
            .content("opt/small1", 100, "s", 0, 0o644)
            .content("opt/small2", 100, "s", 0, 0o644),
        run("RUN cp /opt/data /srv/data").content("srv/data", 8000, "d", 0, 0o644),
    ]);
    let a = find(&advice, "duplicate-content");
    assert_eq!(a.id, Rule::DuplicateContent);
    assert_eq!(a.reclaimable_bytes, 108_000);
    assert_eq!(a.path_count, 3);
    let shown: Vec<(&str, u64, Option<&str>)> = a
        .paths
        .iter()
        .map(|p| (p.path.as_str(), p.bytes, p.same_as.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("/opt/b/libx.so", 50_000, Some("/usr/lib/libx.so")),
            ("/opt/libx.so", 50_000, Some("/usr/lib/libx.so")),
            ("/srv/data", 8000, Some("/opt/data")),
        ]
    );
    assert_eq!(layer_indices(a), [0, 1, 2]);
    assert_eq!(
        a.message,
        "3 files (108 kB) repeat the content of 2 other files stored elsewhere in the image"
    );
}

#[test]
fn a_duplicate_inside_a_cache_is_the_cache_finding_alone() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("RUN pip install x")
            .content("root/.cache/pip/http/1", 20_000, "w", 0, 0o644)
            .content("usr/lib/python3/x.whl", 20_000, "w", 0, 0o644),
    ]);
    assert_eq!(find(&advice, "package-cache:pip").reclaimable_bytes, 20_000);
    assert!(advice.iter().all(|a| a.id != Rule::DuplicateContent));
}

#[test]
fn debug_sections_of_final_binaries_are_one_finding() {
    let (advice, _) = advise_on(vec![
        run(BASE)
            .content("usr/bin/base-tool", 90_000, "bt", 0, 0o755)
            .elf(10_000, true),
        run("RUN make")
            .content("usr/local/bin/app", 3_000_000, "app", 0, 0o755)
            .elf(2_000_000, true)
            .content("usr/local/bin/old", 50_000, "old", 0, 0o755)
            .elf(40_000, true)
            // A second copy of the app: duplicate-content takes it whole, its debug bytes are not counted again.
            .content("usr/local/bin/app-copy", 3_000_000, "app", 0, 0o755)
            .elf(2_000_000, true)
            // A compiler's own debug data is the toolchain finding's.
            .content(
                "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
                800_000,
                "cc1",
                0,
                0o755,
            )
            .elf(500_000, false),
        run("RUN rm /usr/local/bin/old").whiteout("usr/local/bin/old"),
    ]);
    let a = find(&advice, "elf-debug");
    assert_eq!(a.id, Rule::ElfDebug);
    assert_eq!(a.reclaimable_bytes, 2_010_000);
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(
        paths(a),
        [
            ("/usr/local/bin/app", 2_000_000),
            ("/usr/bin/base-tool", 10_000)
        ]
    );
    assert_eq!(layer_indices(a), [0, 1]);
    assert_eq!(
        a.message,
        "2 ELF files with debug sections (2.01 MB that strip --strip-debug removes)"
    );
    assert_eq!(
        find(&advice, "duplicate-content").reclaimable_bytes,
        3_000_000
    );
}

#[test]
fn debug_sections_told_by_type_say_so() {
    let (advice, _) = advise_on(vec![
        run(BASE),
        run("COPY app /app")
            .content("app/bin", 9000, "b", 0, 0o755)
            .elf(4000, false),
    ]);
    let a = find(&advice, "elf-debug");
    assert!(a.message.contains("section type"), "{}", a.message);
}

#[test]
fn severities_parse_and_order() {
    assert_eq!("Medium".parse::<Severity>(), Ok(Severity::Medium));
    assert!("severe".parse::<Severity>().is_err());
    assert!(Severity::High > Severity::Medium && Severity::Low > Severity::Info);
    assert_eq!(Severity::for_bytes(999_999), Severity::Info);
    assert_eq!(Severity::for_bytes(1_000_000), Severity::Low);
    assert_eq!(Severity::for_bytes(10_000_000), Severity::Medium);
    assert_eq!(Severity::for_bytes(100_000_000), Severity::High);
    let ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    let serialized: Vec<String> = Rule::ALL
        .iter()
        .map(|r| {
            serde_json::to_value(r)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, serialized);
}
