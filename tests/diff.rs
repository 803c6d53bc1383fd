//! `layerscope diff A B`: the library comparison on generated images (every kind of difference), and the
//! command (JSON, text, Markdown, the size gate).

mod common;

use std::path::Path;

use common::*;
use layerscope::analysis::diff::{self, DiffOptions, LayerStatus, Side};
use layerscope::analysis::{self, Analysis};
use layerscope::file_digest::FileDigest;
use layerscope::layer::NoProgress;
use layerscope::source::{self, LoadOptions, LoadedImage};

/// A field change: (field, in A, in B).
type Field<'a> = (&'a str, &'a str, &'a str);
/// A config change: (field, key, in A, in B).
type ConfigRow<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

const AWS_ID: &str = "AKIAZ7VRSQ5TJN2UE4OK";
const GITHUB: &str = "ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8";

/// One member of a hand-made layer: path, bytes (`None`: a symlink to `link`), mode, mtime.
struct Member {
    path: &'static str,
    data: Vec<u8>,
    link: Option<&'static str>,
    mode: u32,
    mtime: u64,
}

fn member(path: &'static str, data: &[u8], mode: u32, mtime: u64) -> Member {
    Member {
        path,
        data: data.to_vec(),
        link: None,
        mode,
        mtime,
    }
}

/// A layer with modes and mtimes of its own (the common builder writes 0644 and one mtime).
fn layer_of(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_mode(m.mode);
        h.set_mtime(m.mtime);
        h.set_uid(0);
        h.set_gid(0);
        match m.link {
            Some(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, m.path, target).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(m.data.len() as u64);
                b.append_data(&mut h, m.path, &m.data[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// The layer both images start from.
fn base() -> Vec<u8> {
    layer(&[
        Ent::Dir("etc"),
        file("etc/os", &[b'o'; 1000]),
        Ent::Dir("usr/bin"),
        file("usr/bin/tool", b"tool v1"),
        Ent::Dir("app"),
        file("app/run.sh", b"echo hi"),
        Ent::Symlink("app/link", "run.sh"),
        file("app/old.txt", &[b'x'; 500]),
    ])
}

/// A: base + data.bin (2000 x 'a') and conf.
fn image_a(extra: &[Ent]) -> Img {
    let mut top = vec![
        file("app/data.bin", &[b'a'; 2000]),
        file("app/conf", b"x=1"),
    ];
    top.extend_from_slice(extra);
    Img::new("app:1.4", vec![base(), layer(&top)])
}

/// B: base + data.bin with other bytes of the same size, conf rewritten identically (another mtime), run.sh
/// made executable (same bytes), the link retargeted, new.bin added, old.txt deleted.
fn image_b(extra: &[Member]) -> Img {
    let mut top = vec![
        member("app/data.bin", &[b'b'; 2000], 0o644, 1_700_000_000),
        member("app/conf", b"x=1", 0o644, 1_800_000_000),
        member("app/run.sh", b"echo hi", 0o755, 1_700_000_000),
        Member {
            path: "app/link",
            data: Vec::new(),
            link: Some("../usr/bin/tool"),
            mode: 0o777,
            mtime: 1_700_000_000,
        },
        member("app/new.bin", &[b'n'; 3000], 0o644, 1_700_000_000),
        member("app/.wh.old.txt", b"", 0o600, 1_700_000_000),
    ];
    for m in extra {
        top.push(Member {
            data: m.data.clone(),
            ..*m
        });
    }
    Img::new("app:1.5", vec![base(), layer_of(&top)])
}

/// A as a docker save archive, B as an OCI layout directory with gzip layers: any two sources compare.
fn write_pair(dir: &Path, a: Img, b: Img) -> (String, String) {
    let a = write_file(dir, "a.tar", &tar_files(&docker_legacy(&[a])));
    let b_dir = dir.join("b-layout");
    write_dir(&oci_layout(&[b], Comp::Gzip), &b_dir);
    (a, b_dir.to_string_lossy().into_owned())
}

fn load(path: &str) -> LoadedImage {
    source::open(path)
        .unwrap()
        .load(&LoadOptions::default(), &NoProgress)
        .unwrap()
}

fn compare(a: (&LoadedImage, &Analysis), b: (&LoadedImage, &Analysis)) -> diff::ImageDiff {
    diff::diff(
        Side {
            image: &a.0.image,
            analysis: a.1,
        },
        Side {
            image: &b.0.image,
            analysis: b.1,
        },
        &DiffOptions {
            top_directories: 10,
            secrets: false,
        },
    )
}

fn paths<T>(items: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(path).collect()
}

#[test]
fn every_kind_of_file_difference_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let (la, lb) = (load(&a), load(&b));
    let (xa, xb) = (
        analysis::analyze(&la.image, 1),
        analysis::analyze(&lb.image, 1),
    );
    let d = compare((&la, &xa), (&lb, &xb));

    // The base layer is shared although B stores it gzip-compressed; the top layers differ.
    let layers: Vec<(LayerStatus, Option<usize>, Option<usize>)> = d
        .layers
        .iter()
        .map(|l| (l.status, l.a_index, l.b_index))
        .collect();
    assert_eq!(
        layers,
        [
            (LayerStatus::Shared, Some(0), Some(0)),
            (LayerStatus::Added, None, Some(1)),
            (LayerStatus::Removed, Some(1), None),
        ]
    );
    assert_eq!(d.layers[1].delta_bytes, 2000 + 3 + 7 + 3000);
    assert_eq!(d.layers[2].delta_bytes, -(2000 + 3));
    assert_eq!(
        (d.size.a_bytes, d.size.b_bytes, d.size.delta_bytes),
        (1514 + 2003, 1514 + 5010, 3007)
    );

    let f = &d.files;
    assert_eq!(paths(&f.added, |e| &e.path), ["/app/new.bin"]);
    assert_eq!(f.added[0].digest, Some(FileDigest::of(&[b'n'; 3000])));
    assert_eq!(paths(&f.removed, |e| &e.path), ["/app/old.txt"]);
    assert_eq!(f.removed[0].size, 500);
    // Same size, other bytes: caught by the digest. conf was rewritten with the same bytes and another mtime:
    // not a change.
    assert_eq!(paths(&f.content_changed, |c| &c.path), ["/app/data.bin"]);
    let data = &f.content_changed[0];
    assert_eq!(
        (data.a_size, data.b_size, data.delta_bytes),
        (2000, 2000, 0)
    );
    assert_eq!(data.a_digest, Some(FileDigest::of(&[b'a'; 2000])));
    assert_eq!(data.b_digest, Some(FileDigest::of(&[b'b'; 2000])));
    // Same bytes, other mode; a symlink pointing elsewhere.
    let meta: Vec<(&str, Vec<Field<'_>>)> = f
        .metadata_changed
        .iter()
        .map(|m| {
            (
                m.path.as_str(),
                m.changes
                    .iter()
                    .map(|c| (c.field, c.a.as_str(), c.b.as_str()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        meta,
        [
            (
                "/app/link",
                vec![("link_target", "run.sh", "../usr/bin/tool")]
            ),
            ("/app/run.sh", vec![("mode", "0644", "0755")]),
        ]
    );

    // Only /app's total changed: 7 + 500 + 2000 + 3 before, 7 + 2000 + 3 + 3000 after.
    let dirs: Vec<(&str, u64, u64, i64)> = d
        .directories
        .iter()
        .map(|x| (x.path.as_str(), x.a_bytes, x.b_bytes, x.delta_bytes))
        .collect();
    assert_eq!(dirs, [("/app", 2510, 5010, 2500)]);
    assert!(d.config.is_empty(), "{:?}", d.config);
    assert!(d.secrets.is_none());
}

/// Counts the layer blobs a load reads.
#[derive(Default)]
struct Blobs(std::sync::atomic::AtomicUsize);

impl layerscope::layer::Progress for Blobs {
    fn begin(&self, layers: usize, _bytes: Option<u64>) {
        self.0
            .fetch_add(layers, std::sync::atomic::Ordering::Relaxed);
    }
}

impl layerscope::source::LoadProgress for Blobs {}

/// B's layer with a diff_id that A already read is taken from A: B's own blob for it is not read again.
#[test]
fn a_shared_layer_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let la = load(&a);
    let opts = LoadOptions {
        known_layers: Some(std::sync::Arc::new(la.layers_by_diff_id())),
        ..LoadOptions::default()
    };
    let (alone, with_known) = (Blobs::default(), Blobs::default());
    source::open(&b)
        .unwrap()
        .load(&LoadOptions::default(), &alone)
        .unwrap();
    let lb = source::open(&b).unwrap().load(&opts, &with_known).unwrap();
    let read = |p: &Blobs| p.0.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!((read(&alone), read(&with_known)), (2, 1));
    assert!(std::sync::Arc::ptr_eq(
        &la.image.layers[0].scan,
        &lb.image.layers[0].scan
    ));
    // The diff is the same as with both images read whole.
    let (xa, xb) = (
        analysis::analyze(&la.image, 1),
        analysis::analyze(&lb.image, 1),
    );
    let d = compare((&la, &xa), (&lb, &xb));
    assert_eq!(d.layers[0].status, LayerStatus::Shared);
    assert_eq!(d.size.delta_bytes, 3007);
}

/// `diff --no-verify`: no diff_id is computed, yet B's layer is matched to A's by the diff_id both configs
/// declare (as the diff matches layers) and not read again.
#[test]
fn a_shared_layer_is_read_once_without_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let no_verify = LoadOptions {
        skip_digests: true,
        ..LoadOptions::default()
    };
    let la = source::open(&a)
        .unwrap()
        .load(&no_verify, &NoProgress)
        .unwrap();
    assert!(
        la.image.layers[0].scan.diff_id.is_empty(),
        "a diff_id was computed"
    );
    let opts = LoadOptions {
        known_layers: Some(std::sync::Arc::new(la.layers_by_diff_id())),
        ..no_verify.clone()
    };
    let counted = Blobs::default();
    let lb = source::open(&b).unwrap().load(&opts, &counted).unwrap();
    assert_eq!(counted.0.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(std::sync::Arc::ptr_eq(
        &la.image.layers[0].scan,
        &lb.image.layers[0].scan
    ));
}

/// An image compared with itself has no difference at all, and every layer is shared.
#[test]
fn an_image_against_itself_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let (l1, l2) = (load(&a), load(&a));
    let (x1, x2) = (
        analysis::analyze(&l1.image, 1),
        analysis::analyze(&l2.image, 1),
    );
    let d = compare((&l1, &x1), (&l2, &x2));
    assert!(d.layers.iter().all(|l| l.status == LayerStatus::Shared));
    assert_eq!(d.size.delta_bytes, 0);
    let f = &d.files;
    assert!(
        f.added.is_empty()
            && f.removed.is_empty()
            && f.content_changed.is_empty()
            && f.metadata_changed.is_empty()
    );
    assert!(d.directories.is_empty() && d.config.is_empty());
}

/// A file that becomes a symlink changed type: a content change, not a metadata one.
#[test]
fn a_type_change_is_a_content_change() {
    let dir = tempfile::tempdir().unwrap();
    let to_link = Member {
        path: "usr/bin/tool",
        data: Vec::new(),
        link: Some("/bin/busybox"),
        mode: 0o777,
        mtime: 1_700_000_000,
    };
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[to_link]));
    let (la, lb) = (load(&a), load(&b));
    let (xa, xb) = (
        analysis::analyze(&la.image, 1),
        analysis::analyze(&lb.image, 1),
    );
    let d = compare((&la, &xa), (&lb, &xb));
    let tool = d
        .files
        .content_changed
        .iter()
        .find(|c| c.path == "/usr/bin/tool")
        .expect("the type change is listed");
    assert_eq!(
        (
            tool.a_type.name(),
            tool.b_type.name(),
            tool.a_size,
            tool.b_size
        ),
        ("file", "symlink", 7, 0)
    );
    assert!(tool.b_digest.is_none());
}

/// Env, cmd, entrypoint, user, workdir, ports and labels are compared by key; a secret in a value is masked.
#[test]
fn config_changes_are_listed_by_field_and_key_and_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let la = load(&a);
    let mut lb = load(&b);
    lb.image.meta.config.raw["config"] = serde_json::json!({
        "Env": ["PATH=/usr/bin:/bin", format!("GITHUB_TOKEN={GITHUB}")],
        "Cmd": ["app", "--serve"],
        "Entrypoint": ["/init"],
        "User": "app",
        "WorkingDir": "/app",
        "ExposedPorts": {"8080/tcp": {}},
        "Labels": {"version": "1.5"},
    });
    let (xa, xb) = (
        analysis::analyze(&la.image, 1),
        analysis::analyze(&lb.image, 1),
    );
    let d = compare((&la, &xa), (&lb, &xb));
    let rows: Vec<ConfigRow<'_>> = d
        .config
        .iter()
        .map(|c| (c.field, c.key.as_deref(), c.a.as_deref(), c.b.as_deref()))
        .collect();
    let token = rows
        .iter()
        .find(|r| r.1 == Some("GITHUB_TOKEN"))
        .expect("the new variable is listed");
    assert!(
        token
            .3
            .is_some_and(|v| !v.contains(GITHUB) && v.starts_with("ghp_")),
        "{token:?}"
    );
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.1 != Some("GITHUB_TOKEN"))
        .collect();
    assert_eq!(
        rows,
        [
            ("user", None, None, Some("app")),
            ("workdir", None, None, Some("/app")),
            ("entrypoint", None, None, Some("[\"/init\"]")),
            ("cmd", None, Some("[\"sh\"]"), Some("[\"app\",\"--serve\"]")),
            ("env", Some("PATH"), Some("/bin"), Some("/usr/bin:/bin")),
            ("labels", Some("version"), None, Some("1.5")),
            ("ports", Some("8080/tcp"), None, Some("8080/tcp")),
        ]
    );
}

fn run_diff(args: &[&str]) -> std::process::Output {
    bin().arg("diff").args(args).output().unwrap()
}

#[test]
fn diff_json_parses_and_carries_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let out = run_diff(&[&a, &b, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "layerscope.diff/v1");
    assert_eq!(v["a"]["reference"], "app:1.4");
    assert_eq!(v["size"]["delta_bytes"], 3007);
    assert_eq!(v["layers"][0]["status"], "shared");
    assert_eq!(v["files"]["added"][0]["path"], "/app/new.bin");
    assert_eq!(
        v["files"]["added"][0]["digest"],
        FileDigest::of(&[b'n'; 3000]).to_string()
    );
    assert_eq!(v["files"]["content_changed"][0]["path"], "/app/data.bin");
    assert_eq!(
        v["files"]["metadata_changed"][1]["changes"][0],
        serde_json::json!({"field": "mode", "a": "0644", "b": "0755"})
    );
    assert_eq!(v["directories"][0]["path"], "/app");
    // Secrets are scanned by default: none in either image.
    assert_eq!(v["secrets"]["appeared"], serde_json::json!([]));

    // The same into a file; nothing else on stdout.
    let target = dir.path().join("diff.json");
    let out = run_diff(&[&a, &b, &format!("--json={}", target.display())]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(written["schema"], "layerscope.diff/v1");
}

#[test]
fn max_size_increase_fails_only_when_b_grew_more() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    // B is 3007 bytes (85.5 %) larger than A.
    for (limit, code) in [("1kB", 1), ("10kB", 0), ("80%", 1), ("90%", 0)] {
        let out = run_diff(&[&a, &b, "--no-secrets", "--max-size-increase", limit]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{limit}: {text}");
        let verdict = if code == 1 { "FAIL" } else { "PASS" };
        assert!(text.contains("Size increase +3.01 kB (+85.5 %)"), "{text}");
        assert!(text.trim_end().ends_with(verdict), "{limit}: {text}");
    }
    // Shrinking never fails.
    let out = run_diff(&[&b, &a, "--no-secrets", "--max-size-increase", "0"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run_diff(&[&a, &b, "--max-size-increase", "lots"]);
    assert_bad_input(&out, "lots");
}

#[test]
fn text_and_markdown_render_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    let out = run_diff(&[&a, &b, "--no-secrets"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Diff  app:1.4  ->  docker.io/library/app:1.5",
        "Layers  1 shared, 1 added, 1 removed",
        "Where the size went",
        "+2.50 kB  /app",
        "Files  1 added (+3 kB), 1 removed (-500 B), 1 changed (0 B), 2 metadata only",
        "+       3 kB  /app/new.bin",
        "~        0 B  /app/data.bin  (2 kB -> 2 kB)",
        "/app/run.sh  mode 0644 -> 0755",
        "/app/link  link_target run.sh -> ../usr/bin/tool",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(!text.contains("Secrets"), "{text}");

    let out = run_diff(&[&a, &b, "--no-secrets", "--markdown", "-"]);
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "### Image diff: app:1.4 → docker.io/library/app:1.5",
        "#### Layers: 1 shared, 1 added, 1 removed",
        "| added | /app/new.bin | +3 kB |",
        "| changed | /app/data.bin | 0 B (2 kB → 2 kB) |",
        "| metadata | /app/run.sh | mode 0644 → 0755 |",
        "| metadata | /app/link | link_target run.sh → ../usr/bin/tool |",
        "| +2.50 kB | /app | 2.51 kB | 5.01 kB |",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }
    // Two outputs on stdout cannot be parsed.
    let out = run_diff(&[&a, &b, "--markdown", "-", "--json", "-"]);
    assert_bad_input(&out, "stdout");
}

/// A secret only in A is resolved, one only in B appeared; both masked in every output.
#[test]
fn secrets_that_appeared_or_were_resolved_are_reported_masked() {
    let dir = tempfile::tempdir().unwrap();
    let a_secret = format!("[default]\naws_access_key_id = {AWS_ID}\n");
    let b_secret = format!("token: {GITHUB}\n");
    let a_img = image_a(&[Ent::File("app/aws", a_secret.into_bytes())]);
    let b_img = image_b(&[member(
        "app/gh.yml",
        b_secret.as_bytes(),
        0o644,
        1_700_000_000,
    )]);
    let (a, b) = write_pair(dir.path(), a_img, b_img);
    let out = run_diff(&[&a, &b, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(AWS_ID) && !stdout.contains(GITHUB),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = |list: &str| -> Vec<(String, String)> {
        v["secrets"][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["path"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(
        rules("appeared")
            .iter()
            .any(|(r, p)| r.contains("github") && p == "/app/gh.yml"),
        "{stdout}"
    );
    assert!(
        rules("resolved")
            .iter()
            .any(|(r, p)| r.contains("aws") && p == "/app/aws"),
        "{stdout}"
    );
    let out = run_diff(&[&a, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Secrets  "), "{text}");
    assert!(!text.contains(AWS_ID) && !text.contains(GITHUB), "{text}");
}

#[test]
fn diff_needs_two_images() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = write_pair(dir.path(), image_a(&[]), image_b(&[]));
    assert_bad_input(&run_diff(&[&a]), "two images");
    assert_bad_input(
        &run_diff(&[&a, "--json", "out.json"]),
        "--json took out.json",
    );
    assert_bad_input(&run_diff(&[&a, "/nonexistent/b.tar"]), "/nonexistent/b.tar");
}

/// A sparse file has no digest (its holes are not read): the diff cannot show it unchanged, so it is listed as
/// changed, while a file with a digest and the same bytes is not.
#[test]
fn a_file_without_a_digest_counts_as_changed() {
    let dir = tempfile::tempdir().unwrap();
    let shared = layer(&[Ent::Sparse("sparse", 1 << 30), file("plain", b"same")]);
    let a = Img::new("s:1", vec![shared.clone()]);
    let b = Img::new("s:2", vec![shared, layer(&[file("more", b"m")])]);
    let (a, b) = write_pair(dir.path(), a, b);
    let (la, lb) = (load(&a), load(&b));
    let (xa, xb) = (
        analysis::analyze(&la.image, 1),
        analysis::analyze(&lb.image, 1),
    );
    let d = compare((&la, &xa), (&lb, &xb));
    assert_eq!(paths(&d.files.content_changed, |c| &c.path), ["/sparse"]);
    assert_eq!(paths(&d.files.added, |e| &e.path), ["/more"]);
}

/// A: base, a RUN leaving apt lists, junk and an object file, a RUN deleting the object. B: a new layer below
/// them (every index moves up), more apt lists, no junk, and a COPY bringing a `.git` directory.
fn advice_pair(dir: &Path) -> (String, String) {
    let history = |steps: &[&str]| -> Vec<(String, bool)> {
        steps
            .iter()
            .map(|s| (format!("/bin/sh -c {s}"), false))
            .collect()
    };
    let mut a = Img::new(
        "app:1.4",
        vec![
            base(),
            layer(&[
                file("var/lib/apt/lists/main", &[b'l'; 6000]),
                file("srv/.DS_Store", &[b'd'; 700]),
                file("tmp/build.o", &[b'b'; 3000]),
            ]),
            layer(&[Ent::Whiteout("tmp/build.o")]),
        ],
    );
    a.history = history(&["#(nop) ADD file:01 in / ", "make", "rm /tmp/build.o"]);
    let mut b = Img::new(
        "app:1.5",
        vec![
            base(),
            layer(&[file("etc/motd", b"hello")]),
            layer(&[
                file("var/lib/apt/lists/main", &[b'l'; 9000]),
                file("tmp/build.o", &[b'b'; 3000]),
            ]),
            layer(&[Ent::Whiteout("tmp/build.o")]),
            layer(&[file("app/.git/objects/p.pack", &[b'p'; 5000])]),
        ],
    );
    b.history = history(&[
        "#(nop) ADD file:01 in / ",
        "echo hello > /etc/motd",
        "make",
        "rm /tmp/build.o",
        "#(nop) COPY dir:02 in /app ",
    ]);
    write_pair(dir, a, b)
}

#[test]
fn advice_that_appeared_was_resolved_or_changed_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = advice_pair(dir.path());
    let out = run_diff(&[&a, &b, "--json"]);
    assert!(out.status.success(), "{}", stderr_line(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_string())
            .collect()
    };
    let advice = &v["advice"];
    // The same-RUN delete moved from layers 1>2 to 2>3 with the same instructions and bytes: no change.
    assert_eq!(keys(&advice["appeared"]), ["git-directory:git"]);
    assert_eq!(advice["appeared"][0]["reclaimable_bytes"], 5000);
    assert_eq!(keys(&advice["resolved"]), ["os-junk:junk"]);
    assert_eq!(advice["resolved"][0]["reclaimable_bytes"], 700);
    assert_eq!(
        advice["changed"],
        serde_json::json!([{
            "id": "package-cache", "a_key": "package-cache:apt", "b_key": "package-cache:apt",
            "severity": "info", "message": "apt package lists and archives: 1 file (9 kB)",
            "a_bytes": 6000, "b_bytes": 9000, "delta_bytes": 3000
        }])
    );

    let out = run_diff(&[&a, &b, "--no-secrets"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Advice  1 appeared, 1 resolved, 1 changed",
        "  + low    git-directory           5 kB  .git directories: 1 path (5 kB)",
        "  - info   os-junk                700 B  editor and OS junk files: 1 file (700 B)",
        "  ~ info   package-cache          +3 kB  apt package lists and archives: 1 file (9 kB)  (6 kB -> 9 kB)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    let out = run_diff(&[&a, &b, "--no-secrets", "--markdown", "-"]);
    let md = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "#### Advice: 1 appeared, 1 resolved, 1 changed",
        "| appeared | low | `git-directory` | 5 kB | .git directories: 1 path \\(5 kB\\) |",
        "| resolved | info | `os-junk` | 700 B |",
        "| changed | info | `package-cache` | 6 kB → 9 kB (+3 kB) |",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }

    // An ignored rule is in neither image's advice, so in no delta.
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[advice]\nignore = [\"git-directory\"]\n",
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["diff", &a, &b, "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["advice"]["appeared"], serde_json::json!([]));
}
