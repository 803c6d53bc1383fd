//! The command line: CI gating and its config files, listings, cat, completions.

mod common;

use common::*;

/// 1000 bytes kept, 3000 bytes deleted later: efficiency 0.25, user waste 3000/3000 = 1.0.
fn wasteful(dir: &std::path::Path) -> String {
    let img = Img::new(
        "w:1",
        vec![
            layer(&[Ent::Dir("etc"), file("etc/os", &[b'o'; 1000])]),
            layer(&[Ent::Dir("tmp"), file("tmp/cache.bin", &[0u8; 3000])]),
            layer(&[Ent::Dir("tmp"), Ent::Whiteout("tmp/cache.bin")]),
        ],
    );
    write_file(dir, "w.tar", &tar_files(&docker_legacy(&[img])))
}

fn in_dir(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin().current_dir(dir).args(args).output().unwrap()
}

#[test]
fn ci_passes_and_fails_on_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let pass = in_dir(
        dir.path(),
        &[
            "--ci",
            "--min-efficiency",
            "0.2",
            "--max-user-wasted-ratio",
            "disabled",
            &path,
        ],
    );
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stdout)
    );
    let text = String::from_utf8_lossy(&pass.stdout);
    assert!(text.contains("PASS  min-efficiency"), "{text}");
    assert!(text.contains("SKIP  max-user-wasted-ratio"), "{text}");
    assert!(
        text.contains("/tmp/cache.bin"),
        "top wasted files are listed: {text}"
    );
    assert!(text.contains("Result: PASS"));

    let fail = in_dir(dir.path(), &["--ci", "--max-wasted-bytes", "2kB", &path]);
    assert_eq!(fail.status.code(), Some(1));
    let text = String::from_utf8_lossy(&fail.stdout);
    assert!(text.contains("FAIL  max-wasted-bytes"), "{text}");
    assert!(text.contains("actual 3 kB vs threshold 2 kB"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when not a terminal");

    // Defaults (dive's): min-efficiency 0.9 fails at 0.25.
    assert_eq!(in_dir(dir.path(), &["--ci", &path]).status.code(), Some(1));
}

#[test]
fn ci_reads_layerscope_toml_then_dive_ci_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    std::fs::write(
        dir.path().join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.2\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    assert_eq!(in_dir(dir.path(), &["--ci", &path]).status.code(), Some(0));

    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[ci]\nmax-wasted-bytes = \"1KB\"\n",
    )
    .unwrap();
    assert_eq!(in_dir(dir.path(), &["--ci", &path]).status.code(), Some(1));
    assert_eq!(
        in_dir(
            dir.path(),
            &["--ci", "--max-wasted-bytes", "disabled", &path]
        )
        .status
        .code(),
        Some(0)
    );

    let other = dir.path().join("strict.toml");
    std::fs::write(&other, "[ci]\nmin-efficiency = 0.99\n").unwrap();
    let out = in_dir(
        dir.path(),
        &["--ci", "--config", other.to_str().unwrap(), &path],
    );
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(&other, "[ci]\nmin-efficiency = \"very\"\n").unwrap();
    assert_bad_input(
        &in_dir(
            dir.path(),
            &["--ci", "--config", other.to_str().unwrap(), &path],
        ),
        "strict.toml",
    );
}

#[test]
fn ci_result_is_in_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let out = in_dir(
        dir.path(),
        &["--ci", "--json", "-", "--max-wasted-ratio", "0.5", &path],
    );
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["ci"]["passed"], false);
    let rules = r["ci"]["rules"].as_array().unwrap();
    let ratio = rules
        .iter()
        .find(|x| x["name"] == "max-wasted-ratio")
        .unwrap();
    assert_eq!(ratio["status"], "fail");
    assert_eq!(ratio["threshold"], 0.5);
    assert_eq!(ratio["actual"], 0.75);
    // The readable result goes to stderr when stdout carries JSON.
    assert!(String::from_utf8_lossy(&out.stderr).contains("Result: FAIL"));

    let file = dir.path().join("r.json");
    let out = in_dir(dir.path(), &["--json", file.to_str().unwrap(), &path]);
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(r.get("ci").is_none());
    assert_eq!(r["waste"]["wasted_bytes"], 3000);
}

#[test]
fn summary_is_printed_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[&wasteful(dir.path())]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Efficiency  25.0 %"), "{text}");
    assert!(text.contains("RUN step 1"), "{text}");
}

#[test]
fn ls_lists_the_tree_at_a_layer_and_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let at1 = json_of(&["ls", &path, "--layer", "1", "--json"]);
    let paths: Vec<&str> = at1
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["/etc", "/etc/os", "/tmp", "/tmp/cache.bin"]);
    let cache = &at1[3];
    assert_eq!(cache["type"], "file");
    assert_eq!(cache["size"], 3000);
    assert_eq!(cache["mode"], 0o644);
    assert_eq!(cache["uid"], 0);
    assert_eq!(cache["change"], "added");
    assert_eq!(cache["layer"], 1);
    assert_eq!(at1[1]["change"], "unmodified");
    assert_eq!(at1[0]["size"], 1000, "directories show their total");

    let changes = json_of(&["ls", &path, "--layer", "2", "--changes", "--json"]);
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["path"], "/tmp/cache.bin");
    assert_eq!(changes[0]["change"], "deleted");

    let top = run(&["ls", &path]);
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(text.contains("-rw-r--r--"), "{text}");
    assert!(!text.contains("cache.bin"), "{text}");
}

#[test]
fn cat_shows_any_version_including_deleted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new(
        "c:1",
        vec![
            layer(&[file("conf", b"v1\n")]),
            layer(&[file("conf", b"v2\n"), file("secret", b"hunter2\n")]),
            layer(&[Ent::Whiteout("secret")]),
        ],
    );
    for (name, files) in [
        ("c.tar", docker_legacy(std::slice::from_ref(&img))),
        ("c.oci", oci_layout(&[img], Comp::Zstd)),
    ] {
        let path = write_file(dir.path(), name, &tar_files(&files));
        assert_eq!(run(&["cat", &path, "/conf"]).stdout, b"v2\n");
        assert_eq!(run(&["cat", &path, "conf", "--layer", "0"]).stdout, b"v1\n");
        let deleted = run(&["cat", &path, "/secret"]);
        assert_eq!(deleted.stdout, b"hunter2\n");
        assert!(String::from_utf8_lossy(&deleted.stderr).contains("not in the final image"));
        assert_bad_input(
            &run(&["cat", &path, "/secret", "--layer", "2"]),
            "not present at layer 2",
        );
        assert_bad_input(&run(&["cat", &path, "/"]), "not /");
    }
    // From a stream, the capture made while reading serves the same bytes.
    let gz = compress(
        &std::fs::read(dir.path().join("c.tar")).unwrap(),
        Comp::Gzip,
    );
    let path = write_file(dir.path(), "c.tgz", &gz);
    assert_eq!(run(&["cat", &path, "/secret"]).stdout, b"hunter2\n");
}

#[test]
fn completions_and_version() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("layerscope"));
    let out = run(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("layerscope "));
}
