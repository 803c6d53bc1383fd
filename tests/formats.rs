//! One image, saved in every supported format, gives identical reports and trees; the numbers match what the
//! layer rules say they must be.

mod common;

use common::*;
use serde_json::Value;

/// Four layers exercising deletes, a deleted directory, an opaque directory, an overwrite kept alive by a
/// hardlink, and a directory replaced by a file.
fn story() -> Img {
    let l0 = layer(&[
        Ent::Dir("etc"),
        file("etc/passwd", &[b'p'; 100]),
        Ent::Dir("bin"),
        file("bin/sh", &[b's'; 1000]),
        Ent::Dir("usr"),
        Ent::Dir("usr/lib"),
        file("usr/lib/libc", &[b'c'; 500]),
        Ent::Symlink("lib", "usr/lib"),
        Ent::Dir("tmp"),
        Ent::Dir("tmp/cache"),
        file("tmp/cache/x", &[b'x'; 50]),
    ]);
    let l1 = layer(&[
        Ent::Dir("app"),
        file("app/big.bin", &[0u8; 5000]),
        file("app/config", b"port=8080\n"),
        Ent::Dir("app/static"),
        file("app/static/index.html", &[b'h'; 20]),
        Ent::Dir("secret"),
        file("secret/id_rsa", &[b'k'; 300]),
        Ent::Hardlink("app/config.bak", "app/config"),
    ]);
    let l2 = layer(&[
        Ent::Dir("app"),
        Ent::Whiteout("app/big.bin"),
        file("app/config", b"port=9090\nx\n"),
        Ent::Whiteout("secret"),
    ]);
    let l3 = layer(&[
        Ent::Dir("app"),
        Ent::Dir("app/static"),
        file("app/static/index.html", &[b'H'; 25]),
        file("app/static/new.css", &[b'c'; 7]),
        Ent::Opaque("app/static"),
        file("tmp/cache", b"now"),
    ]);
    let mut img = Img::new("story:1", vec![l0, l1, l2, l3]);
    img.history = vec![
        (
            "/bin/sh -c #(nop) ADD file:0123456789abcdef0123 in / ".into(),
            false,
        ),
        ("/bin/sh -c #(nop)  ENV A=1".into(), true),
        ("|1 TOKEN=abc /bin/sh -c make app".into(), false),
        ("/bin/sh -c rm -rf /app/big.bin /secret".into(), false),
        ("RUN /bin/sh -c rebuild static # buildkit".into(), false),
        ("WORKDIR /app".into(), true),
    ];
    img
}

fn formats(dir: &std::path::Path) -> Vec<(String, String)> {
    let img = story();
    let legacy = tar_files(&docker_legacy(std::slice::from_ref(&img)));
    let oci_gzip = oci_layout(std::slice::from_ref(&img), Comp::Gzip);
    let oci_zstd = oci_layout(std::slice::from_ref(&img), Comp::Zstd);
    let oci_dir = dir.join("oci-dir");
    write_dir(&oci_gzip, &oci_dir);
    vec![
        (
            "docker legacy".into(),
            write_file(dir, "legacy.tar", &legacy),
        ),
        (
            "docker legacy, gzip".into(),
            write_file(dir, "legacy.tar.gz", &compress(&legacy, Comp::Gzip)),
        ),
        (
            "docker legacy, zstd".into(),
            write_file(dir, "legacy.bin", &compress(&legacy, Comp::Zstd)),
        ),
        (
            "docker 25".into(),
            write_file(dir, "d25.tar", &tar_files(&docker25(&img))),
        ),
        (
            "oci dir, gzip layers".into(),
            oci_dir.to_string_lossy().into_owned(),
        ),
        (
            "oci archive, zstd layers".into(),
            write_file(dir, "oci-zstd.tar", &tar_files(&oci_zstd)),
        ),
        (
            "oci archive in gzip, gzip layers".into(),
            write_file(dir, "oci.tgz", &compress(&tar_files(&oci_gzip), Comp::Gzip)),
        ),
    ]
}

#[test]
fn story_numbers_follow_the_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "story.tar",
        &tar_files(&docker_legacy(&[story()])),
    );
    let r = json_of(&["--json", "-", &path]);
    assert_eq!(r["schema"], "layerscope.report/v1");
    assert_eq!(r["image"]["format"], "docker-archive");
    assert_eq!(r["image"]["reference"], "story:1");
    assert_eq!(r["image"]["layer_count"], 4);
    assert_eq!(r["image"]["size_bytes"], 7027);
    let counts: Vec<(u64, u64, u64, u64)> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["added"].as_u64().unwrap(),
                l["modified"].as_u64().unwrap(),
                l["deleted"].as_u64().unwrap(),
                l["size_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (11, 0, 0, 1650),
            (8, 0, 0, 5330),
            (0, 1, 2, 12),
            (1, 2, 0, 35)
        ]
    );
    assert_eq!(r["layers"][0]["instruction"], "ADD file:0123456789ab /");
    assert_eq!(
        r["layers"][0]["instructions"],
        serde_json::json!(["ADD file:0123456789ab /", "ENV A=1"])
    );
    assert_eq!(r["layers"][1]["instruction"], "RUN make app");
    // Build-argument values are secrets too: redacted unless --show-secrets.
    assert_eq!(
        r["layers"][1]["created_by"],
        "|1 TOKEN=*** /bin/sh -c make app"
    );
    let shown = json_of(&["--json", "-", "--show-secrets", &path]);
    assert_eq!(
        shown["layers"][1]["created_by"],
        "|1 TOKEN=abc /bin/sh -c make app"
    );
    assert_eq!(
        r["layers"][3]["instructions"],
        serde_json::json!(["RUN rebuild static", "WORKDIR /app"])
    );
    // Wasted: big.bin (deleted), id_rsa (under a deleted dir), index.html v1 (opaque), tmp/cache/x (dir
    // replaced by a file). app/config v1 lives on through its hardlink config.bak: not wasted.
    let waste = &r["waste"];
    assert_eq!(waste["wasted_bytes"], 5370);
    let eff = waste["efficiency"].as_f64().unwrap();
    assert!((eff - (1.0 - 5370.0 / 7027.0)).abs() < 1e-9);
    let user = waste["user_wasted_ratio"].as_f64().unwrap();
    assert!((user - 5370.0 / (7027.0 - 1650.0)).abs() < 1e-9);
    let files: Vec<(String, u64, String)> = waste["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["wasted_bytes"].as_u64().unwrap(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            ("/app/big.bin".into(), 5000, "deleted".into()),
            ("/secret/id_rsa".into(), 300, "hidden".into()),
            ("/tmp/cache/x".into(), 50, "hidden".into()),
            ("/app/static/index.html".into(), 20, "hidden".into()),
        ]
    );
    assert_eq!(waste["files"][0]["layers"], serde_json::json!([1]));
    assert_eq!(waste["files"][0]["versions"][0]["removed_in"], 2);
}

#[test]
fn every_format_gives_the_same_report_and_tree() {
    let dir = tempfile::tempdir().unwrap();
    let all = formats(dir.path());
    let (first_name, first) = &all[0];
    let expected = comparable(&json_of(&["--json", "-", first]));
    let expected_tree = json_of(&["ls", first, "--json"]);
    for (name, path) in &all[1..] {
        let got = comparable(&json_of(&["--json", "-", path]));
        assert_eq!(got, expected, "{name} differs from {first_name}");
        let tree = json_of(&["ls", path, "--json"]);
        assert_eq!(tree, expected_tree, "{name}: final tree differs");
    }
}

#[test]
fn formats_are_reported_by_structure_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let expect = [
        (
            "docker legacy, zstd",
            "docker-archive",
            Some("zstd"),
            "legacy",
        ),
        ("docker 25", "docker-archive", None, "oci"),
        ("oci dir, gzip layers", "oci-layout", None, "oci"),
        ("oci archive, zstd layers", "oci-archive", None, "oci"),
        (
            "oci archive in gzip, gzip layers",
            "oci-archive",
            Some("gzip"),
            "oci",
        ),
    ];
    let all = formats(dir.path());
    for (name, format, compression, layout) in expect {
        let path = &all.iter().find(|(n, _)| n == name).unwrap().1;
        let r = json_of(&["--json", "-", path]);
        assert_eq!(r["image"]["format"], format, "{name}");
        assert_eq!(r["image"]["layout"], layout, "{name}");
        assert_eq!(
            r["image"]["archive_compression"].as_str(),
            compression,
            "{name}"
        );
    }
}

#[test]
fn stdin_reads_plain_and_compressed_archives() {
    let img = story();
    let legacy = tar_files(&docker_legacy(std::slice::from_ref(&img)));
    let oci = compress(
        &tar_files(&oci_layout(std::slice::from_ref(&img), Comp::Zstd)),
        Comp::Gzip,
    );
    let dir = tempfile::tempdir().unwrap();
    let reference = comparable(&json_of(&[
        "--json",
        "-",
        &write_file(dir.path(), "l.tar", &legacy),
    ]));
    for input in [legacy, oci] {
        let out = bin()
            .args(["--json", "-", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_line(&out));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(comparable(&r), reference);
    }
}

#[test]
fn shared_blob_referenced_by_several_layers_is_read_once_and_counted_per_layer() {
    // Docker 25+ saves reference the same empty layer blob more than once.
    let empty = layer(&[]);
    let img = Img::new(
        "dup:1",
        vec![layer(&[file("a", b"1234")]), empty.clone(), empty],
    );
    let dir = tempfile::tempdir().unwrap();
    for files in [
        docker25(&img),
        oci_layout(std::slice::from_ref(&img), Comp::Gzip),
    ] {
        let path = write_file(dir.path(), "dup.tar", &tar_files(&files));
        let r = json_of(&["--json", "-", &path]);
        assert_eq!(r["image"]["layer_count"], 3);
        assert_eq!(r["layers"][1]["diff_id"], r["layers"][2]["diff_id"]);
        assert_eq!(r["image"]["size_bytes"], 4);
    }
}

#[test]
fn long_unicode_and_odd_names_survive() {
    let long = "deep/".repeat(30) + "file with space and ünïcode.txt";
    let long_static: &'static str = Box::leak(long.clone().into_boxed_str());
    let l0 = layer(&[
        file(long_static, b"long"),
        file("-rf", b"dash"),
        Ent::Pax("pax/named/entry.txt".into(), b"pax".to_vec()),
        Ent::RawName(b"bad\xffname".to_vec(), b"bytes".to_vec()),
        Ent::RawName(b"../../etc/passwd".to_vec(), b"root".to_vec()),
        Ent::Symlink("dangling", "/does/not/exist"),
        Ent::Symlink("abs", "/etc/passwd"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        dir.path(),
        "odd.tar",
        &tar_files(&docker_legacy(&[Img::new("odd:1", vec![l0])])),
    );
    let rows = json_of(&["ls", &path, "--json"]);
    let paths: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&format!("/{long}").as_str()), "{paths:?}");
    assert!(paths.contains(&"/-rf"));
    assert!(paths.contains(&"/pax/named/entry.txt"));
    assert!(paths.contains(&"/bad\\xffname"));
    assert!(
        paths.contains(&"/etc/passwd"),
        "../../etc/passwd is shown normalised"
    );
    let dangling = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/dangling")
        .unwrap();
    assert_eq!(dangling["type"], "symlink");
    assert_eq!(dangling["link_target"], "/does/not/exist");
    // Nothing was written outside: the tool never extracts.
    let out = run(&["cat", &path, "/../../etc/passwd"]);
    assert_eq!(out.stdout, b"root");
}

/// FIFOs and devices are told apart in listings (JSON `type`, the permission column's first letter); a PAX
/// global header describes the archive and is no entry; an unknown member type is a regular file.
#[test]
fn special_files_are_told_apart_in_listings() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new(
        "special:1",
        vec![layer(&[
            Ent::Typed("pax_global_header", tar::EntryType::XGlobalHeader),
            Ent::Typed("dev/fifo", tar::EntryType::Fifo),
            Ent::Typed("dev/null", tar::EntryType::Char),
            Ent::Typed("dev/sda", tar::EntryType::Block),
            Ent::Typed("vendor", tar::EntryType::new(b'Z')),
        ])],
    );
    let image = write_file(dir.path(), "special.tar", &tar_files(&docker25(&img)));
    let rows = json_of(&["ls", &image, "--json"]);
    let kinds: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("/dev", "dir"),
            ("/dev/fifo", "fifo"),
            ("/dev/null", "char-device"),
            ("/dev/sda", "block-device"),
            ("/vendor", "file"),
        ]
    );
    let out = run(&["ls", &image]);
    let text = String::from_utf8_lossy(&out.stdout);
    for (name, letter) in [("/dev/fifo", 'p'), ("/dev/null", 'c'), ("/dev/sda", 'b')] {
        let line = text.lines().find(|l| l.ends_with(name)).unwrap();
        assert!(line.contains(&format!(" {letter}rw-r----- ")), "{line}");
    }
}
