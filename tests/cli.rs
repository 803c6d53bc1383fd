//! The command line: CI gating and its config files, clean output streams, dive's spellings, listings, cat,
//! completions.

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
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("layerscope {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

/// 3000 bytes in the base layer deleted by a 1000-byte user layer: user waste 3000 / 1000 = 3.0 (300 %).
fn base_waste(dir: &std::path::Path) -> String {
    let img = Img::new(
        "b:1",
        vec![
            layer(&[Ent::Dir("opt"), file("opt/sdk.bin", &[0u8; 3000])]),
            layer(&[Ent::Whiteout("opt/sdk.bin"), file("app", &[b'a'; 1000])]),
        ],
    );
    write_file(dir, "b.tar", &tar_files(&docker_legacy(&[img])))
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs with stdout a pipe whose reader is gone before anything is written (as `| head` after its lines).
fn with_stdout_closed(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut child = std_bin()
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for args in [
        vec![path.as_str(), "--json", "-"],
        vec![path.as_str(), "--json"],
        vec![
            path.as_str(),
            "--ci",
            "--min-efficiency",
            "0.2",
            "--max-user-wasted-ratio",
            "2",
        ],
        vec!["ls", path.as_str(), "--json"],
        vec!["secrets", path.as_str(), "--sarif", "-"],
        vec!["secrets", path.as_str()],
        vec!["ls", path.as_str()],
        vec![path.as_str(), "--markdown", "-"],
        vec!["diff", path.as_str(), path.as_str()],
        vec!["diff", "--json", "-", path.as_str(), path.as_str()],
        vec!["diff", "--markdown", "-", path.as_str(), path.as_str()],
        vec!["completions", "bash"],
        vec!["--help"],
    ] {
        let out = with_stdout_closed(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        assert_eq!(stderr_of(&out), "", "{args:?}");
    }
    // A failed rule is decided before printing: the reader leaving does not turn it into a pass.
    let out = with_stdout_closed(dir.path(), &[&path, "--ci"]);
    assert_eq!(
        (out.status.code(), stderr_of(&out)),
        (Some(1), String::new())
    );
}

#[test]
fn machine_output_on_stdout_is_alone_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for args in [
        vec!["--ci", "--json", "-", &path],
        vec!["--ci", &path, "--json"],
        vec!["--ci", "--sarif", "-", &path],
        vec!["--ci", "--write-baseline", "-", &path],
        vec!["--sarif", "-", &path],
        vec!["secrets", "--sarif", "-", &path],
        vec!["secrets", &path, "--json"],
        vec!["ls", &path, "--json"],
        vec!["diff", "--json", "-", &path, &path],
    ] {
        let out = in_dir(dir.path(), &args);
        assert!(
            out.status.code() != Some(2),
            "{args:?}: {}",
            stderr_of(&out)
        );
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out.stdout);
        assert!(
            parsed.is_ok(),
            "{args:?}: stdout is not only JSON: {}",
            stdout_of(&out)
        );
        if args.contains(&"--ci") {
            assert!(
                stderr_of(&out).contains("Result: FAIL"),
                "{args:?}: CI text on stderr"
            );
        }
    }
}

/// Markdown on stdout is alone there too: the CI verdict and the progress go to stderr.
#[test]
fn markdown_on_stdout_is_alone_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for args in [
        vec!["--ci", "--markdown", "-", &path],
        vec!["diff", "--markdown", "-", &path, &path],
    ] {
        let out = in_dir(dir.path(), &args);
        assert!(
            out.status.code() != Some(2),
            "{args:?}: {}",
            stderr_of(&out)
        );
        let text = stdout_of(&out);
        assert!(
            text.starts_with('#'),
            "{args:?}: not Markdown first: {text}"
        );
        assert!(
            !text.contains("Result:"),
            "{args:?}: CI text on stdout: {text}"
        );
    }
}

#[test]
fn two_outputs_on_stdout_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    assert_bad_input(
        &in_dir(dir.path(), &["--json", "-", "--sarif", "-", &path]),
        "--json and --sarif",
    );
    assert_bad_input(
        &in_dir(
            dir.path(),
            &["secrets", &path, "--write-baseline", "-", "--json"],
        ),
        "--json and --write-baseline",
    );
}

#[test]
fn a_rule_that_did_not_run_is_skipped_not_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let out = in_dir(
        dir.path(),
        &[
            "--ci",
            "--no-secrets",
            "--min-efficiency",
            "0",
            "--json",
            "r.json",
            &path,
        ],
    );
    let text = stdout_of(&out);
    assert!(text.contains("SKIP  fail-on-secrets"), "{text}");
    assert!(text.contains("no secret scan ran"), "{text}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    let rule = r["ci"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "fail-on-secrets")
        .unwrap()
        .clone();
    assert_eq!(rule["status"], "skip");
}

#[test]
fn flags_that_cannot_apply_are_refused_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for flag in ["--sarif", "--write-baseline", "--baseline"] {
        assert_bad_input(
            &in_dir(dir.path(), &["--no-secrets", flag, "x.json", &path]),
            "--no-secrets",
        );
    }
    assert_bad_input(
        &in_dir(
            dir.path(),
            &["--no-secrets", "--fail-on-secrets", "any", "--ci", &path],
        ),
        "--no-secrets",
    );
    // Rule flags without --ci: a warning (the same line may gate in CI, where CI=true turns --ci on).
    let out = in_dir(dir.path(), &["--min-efficiency", "0.99", &path]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr_of(&out);
    assert!(
        err.contains("warning: --min-efficiency only applies with --ci"),
        "{err}"
    );
    assert!(
        stdout_of(&out).contains("Efficiency"),
        "the summary still prints"
    );
}

/// diff's flags that shape a report it is not writing: `--text` beside `--json`/`--markdown` (the text report is
/// not printed then) is refused; `--limit` with only JSON (which lists everything) is warned about.
#[test]
fn diff_flags_that_cannot_apply_are_refused_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for output in ["--json", "--markdown"] {
        let out = in_dir(dir.path(), &["diff", "--text", output, "x", &path, &path]);
        assert_eq!(out.status.code(), Some(2), "{output}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("--text"), "{}", stderr_of(&out));
    }
    let out = in_dir(
        dir.path(),
        &["diff", "--limit", "3", "--json", "-", &path, &path],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("warning: --limit only applies to the text and Markdown"),
        "{}",
        stderr_of(&out)
    );
    let out = in_dir(dir.path(), &["diff", "--limit", "3", &path, &path]);
    assert_eq!(
        (out.status.code(), stderr_of(&out)),
        (Some(0), String::new())
    );
}

#[test]
fn user_waste_ratio_thresholds_may_exceed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = base_waste(dir.path());
    let ci = |limit: &str| {
        in_dir(
            dir.path(),
            &[
                "--ci",
                "--min-efficiency",
                "0",
                "--max-user-wasted-ratio",
                limit,
                &path,
            ],
        )
    };
    let over = ci("150%");
    assert_eq!(over.status.code(), Some(1), "{}", stderr_of(&over));
    assert!(stdout_of(&over).contains("actual 3.0000 vs threshold 1.5000"));
    assert_eq!(ci("4").status.code(), Some(0));
    assert_eq!(ci("400%").status.code(), Some(0));
    // Efficiency can never exceed 1: a threshold above it is a mistake.
    assert_bad_input(
        &in_dir(dir.path(), &["--ci", "--min-efficiency", "150%", &path]),
        "--min-efficiency",
    );
}

#[test]
fn ci_output_names_the_config_files_it_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let out = in_dir(dir.path(), &["--ci", &path]);
    assert!(
        stdout_of(&out).contains("Config: no file"),
        "{}",
        stdout_of(&out)
    );
    std::fs::write(
        dir.path().join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[ci]\nmin-efficiency = 0.2\n",
    )
    .unwrap();
    let text = stdout_of(&in_dir(dir.path(), &["--ci", &path]));
    assert!(
        text.contains("Config: .dive-ci, .layerscope.toml"),
        "{text}"
    );
    let text = stdout_of(&in_dir(
        dir.path(),
        &["--ci", "--config", ".dive-ci", &path],
    ));
    assert!(text.contains("Config: .dive-ci ("), "{text}");
}

#[test]
fn unknown_dive_ci_keys_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    std::fs::write(
        dir.path().join(".dive-ci"),
        "rules:\n  lowestEfficency: 0.1\n",
    )
    .unwrap();
    assert_bad_input(&in_dir(dir.path(), &["--ci", &path]), "lowestEfficency");
    std::fs::write(dir.path().join(".dive-ci"), "").unwrap();
    std::fs::write(dir.path().join(".layerscope.toml"), "[cii]\n").unwrap();
    assert_bad_input(&in_dir(dir.path(), &["--ci", &path]), "cii");
}

#[test]
fn ci_true_in_the_environment_turns_the_gate_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    let with_ci = |value: &str| {
        bin()
            .current_dir(dir.path())
            .env("CI", value)
            .arg(&path)
            .output()
            .unwrap()
    };
    let gated = with_ci("true");
    assert_eq!(
        gated.status.code(),
        Some(1),
        "dive's default min-efficiency fails"
    );
    assert!(stdout_of(&gated).contains("Result: FAIL"));
    let plain = with_ci("false");
    assert_eq!(plain.status.code(), Some(0));
    assert!(stdout_of(&plain).contains("Efficiency  25.0 %"));
    // The helper keeps CI out of every other test, whatever the environment running them says.
    assert!(run(&[&path]).status.success());
}

#[test]
fn dive_spellings_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    std::fs::write(
        dir.path().join("dive.yaml"),
        "rules:\n  lowestEfficiency: 0.2\n",
    )
    .unwrap();
    let out = in_dir(
        dir.path(),
        &[
            "--ci",
            "--ci-config",
            "dive.yaml",
            "--highestUserWastedPercent",
            "disabled",
            "-j",
            "r.json",
            &path,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(dir.path().join("r.json").is_file());
    let out = in_dir(
        dir.path(),
        &[
            "--ci",
            "--lowestEfficiency",
            "0.2",
            "--highestUserWastedPercent",
            "disabled",
            "--highestWastedBytes",
            "2kB",
            &path,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("FAIL  max-wasted-bytes"));
    // Aliases stay out of the help.
    let help = stdout_of(&run(&["--help"]));
    assert!(
        !help.contains("lowestEfficiency") && !help.contains("ci-config"),
        "{help}"
    );
}

#[test]
fn json_takes_the_same_form_on_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for (cmd, key) in [
        (None, "schema"),
        (Some("ls"), "path"),
        (Some("secrets"), ""),
    ] {
        let mut args: Vec<&str> = cmd.into_iter().collect();
        args.push(&path);
        let mut alone = args.clone();
        alone.push("--json");
        let to_stdout = in_dir(dir.path(), &alone);
        assert!(
            to_stdout.status.success(),
            "{alone:?}: {}",
            stderr_of(&to_stdout)
        );
        let from_stdout: serde_json::Value = serde_json::from_slice(&to_stdout.stdout).unwrap();
        let mut dash = args.clone();
        dash.extend(["--json", "-"]);
        assert_eq!(
            in_dir(dir.path(), &dash).stdout,
            to_stdout.stdout,
            "{dash:?}"
        );
        let mut to_file = args.clone();
        to_file.extend(["--json", "out.json"]);
        let out = in_dir(dir.path(), &to_file);
        assert!(out.status.success(), "{to_file:?}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "{to_file:?}: {}", stdout_of(&out));
        let from_file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
        assert_eq!(from_file, from_stdout, "{to_file:?}");
        if !key.is_empty() {
            assert!(from_stdout.to_string().contains(key));
        }
        // `--json IMAGE`: the optional FILE took IMAGE; the error says how to write it.
        let mut ambiguous: Vec<&str> = cmd.into_iter().collect();
        ambiguous.extend(["--json", &path]);
        assert_bad_input(&in_dir(dir.path(), &ambiguous), "--json - IMAGE");
    }
}

#[test]
fn show_secrets_is_accepted_wherever_content_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = wasteful(dir.path());
    for args in [
        vec![path.as_str(), "--show-secrets"],
        vec!["ls", path.as_str(), "--show-secrets"],
        vec!["secrets", path.as_str(), "--show-secrets"],
    ] {
        let out = in_dir(dir.path(), &args);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
    }
}

#[test]
fn enumerated_flags_share_one_list_in_help_errors_and_completions() {
    let out = run(&["x.tar", "--source", "dockr"]);
    assert_bad_input(&out, "possible values: auto, docker, docker-store");
    assert_bad_input(
        &run(&["x.tar", "--ci", "--fail-on-secrets", "sometimes"]),
        "any, visible, none",
    );
    let help = stdout_of(&run(&["--help"]));
    assert!(help.contains("containers-storage:"), "{help}");
    let bash = stdout_of(&run(&["completions", "bash"]));
    assert!(
        bash.contains("docker-store") && bash.contains("visible"),
        "values complete"
    );
}
