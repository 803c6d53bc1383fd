//! Advice from the binary: the summary section, the JSON `advice` array and the SARIF results, with exact bytes,
//! on an image generated in code (and the same advice whatever format the image is saved in).

mod common;

use common::*;
use serde_json::{Value, json};

/// Base; apt lists and build objects; the objects deleted by the next RUN; a COPY bringing a .git directory.
fn image() -> Img {
    let mut img = Img::new(
        "advice:1",
        vec![
            layer(&[file("etc/os-release", &[b'o'; 1000])]),
            layer(&[
                file("var/lib/apt/lists/deb_main", &[b'l'; 6000]),
                file("usr/bin/tool", &[b't'; 100]),
                file("tmp/build.o", &[b'b'; 3000]),
                file("tmp/obj/a.o", &[b'a'; 2000]),
            ]),
            layer(&[Ent::Whiteout("tmp/build.o"), Ent::Whiteout("tmp/obj")]),
            layer(&[
                file("app/main.py", &[b'm'; 50]),
                file("app/.git/HEAD", &[b'h'; 30]),
                file("app/.git/objects/pack/p.pack", &[b'p'; 4000]),
            ]),
        ],
    );
    img.history = [
        "/bin/sh -c #(nop) ADD file:0123456789abcdef0123 in / ",
        "/bin/sh -c apt-get update && make",
        "/bin/sh -c rm -rf /tmp/build.o /tmp/obj",
        "/bin/sh -c #(nop) COPY dir:0123456789abcdef0123 in /app ",
    ]
    .iter()
    .map(|s| (s.to_string(), false))
    .collect();
    img
}

fn archive(dir: &std::path::Path) -> String {
    write_file(dir, "advice.tar", &tar_files(&docker_legacy(&[image()])))
}

fn by_key<'a>(advice: &'a Value, key: &str) -> &'a Value {
    advice
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {advice:#}"))
}

#[test]
fn json_advice_has_exact_bytes_layers_paths_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(dir.path());
    let report = json_of(&["--json", "-", &path]);
    let advice = &report["advice"];
    let keys: Vec<&str> = advice
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "runs-as-root",
            "git-directory:git",
            "package-cache:apt",
            "same-run-delete:1>2",
        ]
    );
    let same_run = by_key(advice, "same-run-delete:1>2");
    assert_eq!(same_run["id"], "same-run-delete");
    assert_eq!(same_run["severity"], "info");
    assert_eq!(same_run["reclaimable_bytes"], 5000);
    assert_eq!(
        same_run["layers"],
        json!([
            {"index": 1, "instruction": "RUN apt-get update && make"},
            {"index": 2, "instruction": "RUN rm -rf /tmp/build.o /tmp/obj"},
        ])
    );
    assert_eq!(
        same_run["paths"],
        json!([{"path": "/tmp/build.o", "bytes": 3000}, {"path": "/tmp/obj/a.o", "bytes": 2000}])
    );
    assert_eq!(same_run["path_count"], 2);
    assert!(
        same_run["fix"].as_str().unwrap().contains("same RUN"),
        "{same_run}"
    );
    // The same-RUN finding holds exactly the image's waste (nothing else is wasted here).
    assert_eq!(report["waste"]["wasted_bytes"], 5000);

    let apt = by_key(advice, "package-cache:apt");
    assert_eq!(apt["reclaimable_bytes"], 6000);
    assert_eq!(apt["layers"][0]["index"], 1);
    let git = by_key(advice, "git-directory:git");
    assert_eq!(git["reclaimable_bytes"], 4030);
    assert_eq!(git["severity"], "low");
    assert_eq!(git["paths"], json!([{"path": "/app/.git", "bytes": 4030}]));
    let root = by_key(advice, "runs-as-root");
    assert_eq!(root["severity"], "medium");
    assert_eq!(root["reclaimable_bytes"], 0);
    assert!(root.get("secrets").is_none(), "empty lists are left out");
}

#[test]
fn advice_is_the_same_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let img = image();
    let legacy = archive(dir.path());
    let docker25 = write_file(dir.path(), "d25.tar", &tar_files(&docker25(&img)));
    let layout = dir.path().join("layout");
    write_dir(&oci_layout(&[img], Comp::Gzip), &layout);
    let advice = |p: &str| json_of(&["--json", "-", p])["advice"].clone();
    let expected = advice(&legacy);
    assert_eq!(advice(&docker25), expected);
    assert_eq!(advice(layout.to_str().unwrap()), expected);
}

#[test]
fn the_summary_lists_the_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(dir.path());
    let out = run(&[&path]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Advice (4 findings, 15.03 kB reclaimable)"),
        "{text}"
    );
    assert!(
        text.contains("  info    same-run-delete          5 kB  2 files (5 kB) written by layer 1 and deleted by layer 2\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "        layers  1 RUN apt-get update && make; 2 RUN rm -rf /tmp/build.o /tmp/obj"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n              3 kB  /tmp/build.o\n"),
        "{text}"
    );
    assert!(
        text.contains("        fix     end the RUN that runs apt-get install with"),
        "{text}"
    );
}

#[test]
fn sarif_carries_advice_as_notes_and_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(dir.path());
    let sarif = dir.path().join("out.sarif");
    let out = run(&[
        "--json",
        "/dev/null",
        "--sarif",
        sarif.to_str().unwrap(),
        &path,
    ]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let run0 = &doc["runs"][0];
    let rule_ids: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "advice/same-run-delete",
        "advice/package-cache",
        "advice/runs-as-root",
    ] {
        assert!(rule_ids.contains(&id), "{id} missing from {rule_ids:?}");
    }
    let results = run0["results"].as_array().unwrap();
    let result = |rule: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("no {rule}"))
    };
    let same_run = result("advice/same-run-delete");
    assert_eq!(same_run["level"], "note");
    assert_eq!(
        same_run["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "tmp/build.o"
    );
    assert_eq!(same_run["properties"]["reclaimable_bytes"], 5000);
    assert_eq!(
        same_run["partialFingerprints"]["layerscopeAdvice/v1"],
        "same-run-delete:1>2"
    );
    let text = same_run["message"]["text"].as_str().unwrap();
    assert!(text.contains("(5000 bytes reclaimable). Fix: "), "{text}");
    let root = result("advice/runs-as-root");
    assert_eq!(root["level"], "warning");
    assert_eq!(
        root["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "image-config.json"
    );
}

// --- the advice gate and the config file's ignores --------------------------------------------------------

/// `--ci` with only the advice gate in play (the waste rules off), in `dir`.
fn gate(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let path = archive(dir);
    let mut args = vec![
        "--ci",
        "--min-efficiency",
        "disabled",
        "--max-user-wasted-ratio",
        "disabled",
    ];
    args.extend_from_slice(extra);
    args.push(&path);
    run_in(dir, &args)
}

#[test]
fn fail_on_advice_fails_at_or_above_its_severity() {
    let dir = tempfile::tempdir().unwrap();
    // runs-as-root is medium, git-directory low, the rest info.
    let out = gate(dir.path(), &["--fail-on-advice", "medium"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "FAIL  fail-on-advice         1 finding(s) at medium or above: runs-as-root\n"
        ),
        "{text}"
    );
    let out = gate(dir.path(), &["--fail-on-advice", "low"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("2 finding(s) at low or above: runs-as-root, git-directory:git"),
        "{text}"
    );
    let out = gate(dir.path(), &["--fail-on-advice", "high"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Not asked: the rule is listed as skipped and fails nothing.
    let out = gate(dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SKIP  fail-on-advice"), "{text}");
    let bad = gate(dir.path(), &["--fail-on-advice", "severe"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_config_file_sets_the_gate_and_ignored_advice_is_shown_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[advice]\nfail-on = \"low\"\nignore = [\"runs-as-root\", \"git-directory:git\"]\n",
    )
    .unwrap();
    // What is left is info: the gate at low passes.
    let out = gate(dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("PASS  fail-on-advice         0 finding(s) at low or above"),
        "{text}"
    );
    // The flag wins over the file.
    let out = gate(dir.path(), &["--fail-on-advice", "info"]);
    assert_eq!(out.status.code(), Some(1));
    // Ignored findings are in no output: JSON, summary.
    let path = archive(dir.path());
    let out = run_in(dir.path(), &["--json", "-", &path]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["package-cache:apt", "same-run-delete:1>2"]);
    let out = run_in(dir.path(), &["--no-secrets", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Advice (2 findings"), "{text}");
    assert!(!text.contains("runs-as-root"), "{text}");
    // A misspelt id is an error naming it, not an ignore that never matches.
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[advice]\nignore = [\"run-as-root\"]\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["--no-secrets", &path]);
    assert_bad_input(&out, "run-as-root");
}

// --- a real binary: the bytes elf-debug reports are what `strip --strip-debug` saves ---------------------------

/// A C program with some types and functions, for debug information of a realistic shape.
const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
struct point { int x, y; const char *name; struct point *next; };
enum colour { RED, GREEN, BLUE };
static int square(int v) { return v * v; }
static struct point make(int x, int y, const char *name) { struct point p = { x, y, name, 0 }; return p; }
int main(int argc, char **argv) {
    struct point p = make(argc, square(argc), argv[0]);
    enum colour c = (enum colour)(argc % 3);
    for (int i = 0; i < argc; i++) printf("%s %d %d %zu\n", argv[i], square(i) + p.y, (int)c, strlen(argv[i]));
    return p.x;
}
"#;

/// Skips a test whose tool is missing, or fails it under LAYERSCOPE_REQUIRE_ENGINES=1 (CI, where the Rust
/// toolchain's linker brings gcc and binutils).
fn skip<T>(why: &str) -> Option<T> {
    if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// Compiles PROGRAM with `gcc -g`, or `None` (skipping) when gcc or strip is not installed.
fn debug_binary(dir: &std::path::Path) -> Option<(Vec<u8>, u64)> {
    use std::process::Command;
    let src = dir.join("app.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let bin = dir.join("app");
    let built = Command::new("gcc")
        .args(["-g", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return skip("gcc is not installed");
    }
    let stripped = dir.join("app.stripped");
    let status = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&stripped)
        .arg(&bin)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        return skip("strip (binutils) is not installed");
    }
    let bytes = std::fs::read(&bin).unwrap();
    let saved = bytes.len() as u64 - std::fs::metadata(&stripped).unwrap().len();
    Some((bytes, saved))
}

#[test]
fn elf_debug_reports_what_strip_debug_saves_on_a_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let Some((binary, saved)) = debug_binary(dir.path()) else {
        return;
    };
    let mut img = Img::new(
        "elf:1",
        vec![
            layer(&[file("etc/os-release", &[b'o'; 100])]),
            layer(&[file("usr/local/bin/app", &binary)]),
        ],
    );
    img.history = [
        "/bin/sh -c #(nop) ADD file:0123 in / ",
        "/bin/sh -c make install",
    ]
    .iter()
    .map(|s| (s.to_string(), false))
    .collect();
    let path = write_file(dir.path(), "elf.tar", &tar_files(&docker_legacy(&[img])));
    let report = json_of(&["--json", "-", &path]);
    let finding = by_key(&report["advice"], "elf-debug");
    let reported = finding["reclaimable_bytes"].as_u64().unwrap();
    assert_eq!(
        finding["paths"][0]["path"], "/usr/local/bin/app",
        "{finding}"
    );
    assert!(
        !finding["message"]
            .as_str()
            .unwrap()
            .contains("section type"),
        "gcc writes the section names just before the section table: {finding}"
    );
    // The section table gives contents, headers and names of the debug sections; strip also drops the symbols
    // naming those sections (24 bytes each) and some alignment: a few dozen bytes per section at most.
    let sections = std::process::Command::new("readelf")
        .args(["-S", "-W"])
        .arg(dir.path().join("app"))
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .matches(" .debug_")
                .count() as u64
        })
        .unwrap_or(8);
    assert!(
        reported <= saved && saved - reported <= 64 * sections.max(1),
        "reported {reported}, strip --strip-debug saves {saved} ({sections} debug sections)"
    );
    // And the stripped binary has none.
    let stripped = std::fs::read(dir.path().join("app.stripped")).unwrap();
    let img = Img::new(
        "elf:2",
        vec![layer(&[file("usr/local/bin/app", &stripped)])],
    );
    let path = write_file(
        dir.path(),
        "stripped.tar",
        &tar_files(&docker_legacy(&[img])),
    );
    let report = json_of(&["--json", "-", &path]);
    assert!(
        report["advice"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != "elf-debug"),
        "{report:#}"
    );
}

// --- real engine: the bytes a layout finding reports are the bytes a rebuild with its fix saves -------------

mod engine {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use super::common::*;
    use serde_json::Value;

    const DOCKER: &str = "/usr/bin/docker";
    const BUSYBOX: &str = "/bin/busybox";
    const BASE: &str = "layerscope-advice-base:1";

    /// Whether a Docker daemon answers and busybox (for the base image) is there; else skip, or fail under
    /// LAYERSCOPE_REQUIRE_ENGINES=1.
    fn docker_ready() -> bool {
        let ok = Path::new(BUSYBOX).is_file()
            && Command::new(DOCKER)
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            let msg = format!("{DOCKER} with a running daemon and {BUSYBOX} are not available");
            if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
                panic!("{msg}");
            }
            eprintln!("skipping: {msg}");
        }
        ok
    }

    fn sh(cmd: &mut Command) -> Vec<u8> {
        let out = cmd.output().expect("docker runs");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// A one-layer busybox base, imported once.
    fn ensure_base() {
        let exists = Command::new(DOCKER)
            .args(["image", "inspect", BASE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if exists {
            return;
        }
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = |name: &str, mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(mode);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, &[][..]).unwrap();
        };
        dir("bin/", 0o755);
        dir("tmp/", 0o1777);
        let busybox = std::fs::read(BUSYBOX).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(busybox.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
        for tool in ["sh", "dd", "rm", "mkdir", "echo", "chown", "chmod"] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            b.append_link(&mut h, format!("bin/{tool}"), "busybox")
                .unwrap();
        }
        let rootfs = b.into_inner().unwrap();
        let mut import = Command::new(DOCKER)
            .args(["import", "-", BASE])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        import.stdin.take().unwrap().write_all(&rootfs).unwrap();
        assert!(import.wait().unwrap().success(), "docker import");
    }

    /// Builds `dockerfile` (legacy builder, no network) with `files` in the context; returns the JSON report
    /// of its `docker save`.
    fn build(dockerfile: &str, files: &[(&str, Vec<u8>)], tag: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            dockerfile.replace("BASE", BASE),
        )
        .unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        sh(Command::new(DOCKER)
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "--network", "none", "-q", "-t", tag])
            .arg(dir.path()));
        let archive = dir.path().join("image.tar");
        sh(Command::new(DOCKER).args(["save", "-o", archive.to_str().unwrap(), tag]));
        let report = json_of(&["--json", "-", archive.to_str().unwrap()]);
        sh(Command::new(DOCKER).args(["image", "rm", "-f", tag]));
        report
    }

    /// Bytes of the layer tars as stored (Docker 20's save: uncompressed).
    fn stored(report: &Value) -> u64 {
        report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["blob_size"].as_u64().unwrap())
            .sum()
    }

    fn advice<'a>(report: &'a Value, key: &str) -> Option<&'a Value> {
        report["advice"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
    }

    /// What the wasteful build ships beyond the fixed one: exactly the finding's file bytes, and in stored bytes
    /// the same plus tar overhead (a header and padding block per file, the extra layer's whiteouts, directory
    /// entries and end-of-archive blocks): under 8 KiB here.
    fn check_saving(wasteful: &Value, fixed: &Value, key: &str) -> u64 {
        let finding = advice(wasteful, key).unwrap_or_else(|| panic!("no {key}: {wasteful:#}"));
        let reclaimable = finding["reclaimable_bytes"].as_u64().unwrap();
        assert!(advice(fixed, key).is_none(), "the fix removes {key}");
        let content = wasteful["image"]["size_bytes"].as_u64().unwrap()
            - fixed["image"]["size_bytes"].as_u64().unwrap();
        assert_eq!(content, reclaimable, "file bytes saved by the fix");
        let saved = stored(wasteful) - stored(fixed);
        assert!(
            saved >= reclaimable && saved - reclaimable <= 8192,
            "stored bytes saved {saved}, reclaimable {reclaimable}"
        );
        reclaimable
    }

    #[test]
    fn a_delete_in_a_later_run_costs_what_the_same_run_delete_saves() {
        if !docker_ready() {
            return;
        }
        ensure_base();
        let make = "dd if=/dev/urandom of=/big.bin bs=1000 count=700 2>/dev/null \
            && mkdir -p /tmp/obj && dd if=/dev/urandom of=/tmp/obj/a.o bs=1000 count=300 2>/dev/null \
            && echo keep > /keep";
        let wasteful = build(
            &format!("FROM BASE\nRUN {make}\nRUN rm -rf /big.bin /tmp/obj\n"),
            &[],
            "layerscope-advice-delete:1",
        );
        let fixed = build(
            &format!("FROM BASE\nRUN {make} && rm -rf /big.bin /tmp/obj\n"),
            &[],
            "layerscope-advice-delete-fixed:1",
        );
        let bytes = check_saving(&wasteful, &fixed, "same-run-delete:1>2");
        assert_eq!(bytes, 1_000_000);
        let finding = advice(&wasteful, "same-run-delete:1>2").unwrap();
        assert_eq!(finding["path_count"], 2);
        assert!(finding["fix"].as_str().unwrap().contains("same RUN"));
    }

    #[test]
    fn a_chown_after_copy_costs_what_copy_chown_saves() {
        if !docker_ready() {
            return;
        }
        ensure_base();
        let noise = |n: usize, seed: u32| -> Vec<u8> {
            (0..n as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
                .collect()
        };
        let files = [
            ("app/data.bin", noise(300_000, 1)),
            ("app/more.bin", noise(200_000, 2)),
        ];
        let wasteful = build(
            "FROM BASE\nCOPY app /app\nRUN chown -R 1000:1000 /app\n",
            &files,
            "layerscope-advice-chown:1",
        );
        let fixed = build(
            "FROM BASE\nCOPY --chown=1000:1000 app /app\n",
            &files,
            "layerscope-advice-chown-fixed:1",
        );
        // The content digests tell the rewrite from an ordinary overwrite: same bytes, new owner.
        let bytes = check_saving(&wasteful, &fixed, "chown-rewrite:1>2");
        assert_eq!(bytes, 500_000);
        assert!(advice(&wasteful, "same-run-delete:1>2").is_none());
        let finding = advice(&wasteful, "chown-rewrite:1>2").unwrap();
        assert_eq!(finding["path_count"], 2);
        assert!(
            finding["message"]
                .as_str()
                .unwrap()
                .contains("only a new owner")
        );
        assert!(finding["fix"].as_str().unwrap().contains("COPY --chown"));
    }
}
