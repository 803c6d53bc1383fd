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
