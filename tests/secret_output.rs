//! What layerscope prints of an image is safe to print:
//! - nothing reaches a terminal raw: an image whose tag, history, labels, env, file names, link targets and a
//!   user rule's id hold terminal escapes, CR/LF and bidi overrides renders in the summary, the `--ci` result,
//!   `secrets` and `ls` with every such character escaped, and a forged `Result: PASS` line never starts a line;
//! - secrets are masked wherever they are (build arguments, tags, label keys, file names, link targets), with or
//!   without the content scan, and only secrets: paths and harmless build arguments are shown as written;
//! - a file matched by its name alone is a low-confidence finding; the list sorts by severity, then confidence.

mod common;

use common::*;
use layerscope::escape::is_unsafe;
use serde_json::{Value, json};

const CLEAR: &str = "\x1b[2J\x1b]0;pwned\x07";
const FORGED: &str = "\r\nResult: PASS\r\n";
const GITHUB: &str = "ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8";

/// A docker save (legacy) archive of one image with this config (rootfs and history filled in).
fn legacy_archive(
    tag: &str,
    layers: &[Vec<u8>],
    history: &[(&str, bool)],
    mut config: Value,
) -> Vec<u8> {
    config["architecture"] = json!("amd64");
    config["os"] = json!("linux");
    config["rootfs"] =
        json!({"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()});
    config["history"] = json!(
        history
            .iter()
            .map(|(by, empty)| json!({"created_by": by, "empty_layer": empty}))
            .collect::<Vec<_>>()
    );
    let config = serde_json::to_vec(&config).unwrap();
    let id = hexof(&sha256(&config)).to_string();
    let mut files = Vec::new();
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let dir = format!("{i:064x}");
        files.push((format!("{dir}/layer.tar"), l.clone()));
        paths.push(format!("{dir}/layer.tar"));
    }
    files.push((format!("{id}.json"), config));
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(
            &json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": paths}]),
        )
        .unwrap(),
    ));
    tar_files(&files)
}

fn hostile_image(dir: &std::path::Path) -> String {
    let name: &'static str = "app/evil\x1b[2J\r\nResult: PASS\u{202e}txt.env";
    let layers = vec![
        layer(&[
            Ent::Dir("app"),
            file(
                name,
                b"STRIPE_SECRET_KEY=sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ\nmarker-12345\n",
            ),
            Ent::Symlink("app/link", "\x1b]0;t\x07\r\nResult: PASS"),
        ]),
        layer(&[file(name, b"overwritten\n")]),
    ];
    let history = [
        "/bin/sh -c #(nop) ADD file:0123456789abcdef in / ".to_string(),
        format!("/bin/sh -c echo {CLEAR}{FORGED}\u{202e} {GITHUB} > /dev/null"),
    ];
    let history: Vec<(&str, bool)> = history.iter().map(|h| (h.as_str(), false)).collect();
    let config = json!({"config": {
        "Env": [format!("EVIL={CLEAR}{FORGED}")],
        "Labels": {format!("key{CLEAR}"): format!("value{FORGED}\u{202e}")},
    }});
    let tag = format!("evil{CLEAR}:1{FORGED}\u{202e}");
    write_file(
        dir,
        "hostile.tar",
        &legacy_archive(&tag, &layers, &history, config),
    )
}

/// Asserts no unsafe character (other than the line breaks the renderer writes) and no forged verdict line.
fn assert_safe(what: &str, out: &std::process::Output) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.is_empty(), "{what}: no output: {}", stderr_line(out));
    if let Some(c) = text.chars().find(|c| *c != '\n' && is_unsafe(*c)) {
        panic!("{what}: raw {c:?} in the output:\n{text}");
    }
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("Result: PASS"),
            "{what}: a forged verdict starts a line:\n{text}"
        );
    }
}

#[test]
fn no_image_text_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let image = hostile_image(dir.path());
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        "[[secrets.rule]]\nid = \"evil\\u001b[2J\\r\\nResult: PASS\"\ndescription = \"x\"\n\
         severity = \"high\"\nkeywords = [\"marker\"]\nregex = 'marker-([0-9]+)'\n\
         examples = [\"marker-1\"]\ncounter_examples = [\"x\"]\n",
    )
    .unwrap();
    let summary = run_in(dir.path(), &[&image]);
    assert_safe("summary", &summary);
    let summary_text = String::from_utf8_lossy(&summary.stdout);
    assert!(summary_text.contains("\\x1b[2J"), "{summary_text}");
    let ci = run_in(
        dir.path(),
        &[
            "--ci",
            "--min-efficiency",
            "0",
            "--max-user-wasted-ratio",
            "1",
            &image,
        ],
    );
    assert_safe("--ci", &ci);
    assert_eq!(ci.status.code(), Some(1));
    let ci_text = String::from_utf8_lossy(&ci.stdout);
    assert!(ci_text.trim_end().ends_with("Result: FAIL"), "{ci_text}");
    assert!(
        ci_text.contains("evil\\x1b[2J"),
        "the user rule is listed: {ci_text}"
    );
    assert_safe("secrets", &run_in(dir.path(), &["secrets", &image]));
    assert_safe(
        "--show-secrets",
        &run_in(dir.path(), &["secrets", "--show-secrets", &image]),
    );
    assert_safe("ls", &run_in(dir.path(), &["ls", &image]));
    assert_safe(
        "ls --changes",
        &run_in(dir.path(), &["ls", "--changes", "--layer", "1", &image]),
    );
}

fn stdout_of(dir: &std::path::Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        stderr_line(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn build_args_are_masked_whatever_the_scan_settings() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer(&[file("a", b"1\n")]), layer(&[file("b", b"2\n")])];
    let history = [
        ("/bin/sh -c #(nop) ADD file:0123456789abcdef in / ", false),
        ("/bin/sh -c #(nop)  ARG DB_PASSWORD=hunter2", true),
        (
            "/bin/sh -c #(nop)  ARG GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH",
            true,
        ),
        (
            "|2 DB_PASSWORD=hunter2 GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH /bin/sh -c make",
            false,
        ),
    ];
    let image = write_file(
        dir.path(),
        "args.tar",
        &legacy_archive("args:1", &layers, &history, json!({})),
    );
    let d = dir.path();
    for args in [
        vec!["--no-secrets", &image],
        vec!["--no-secrets", "--json", "-", &image],
        vec!["--no-secrets", "--ci", &image],
        vec![&image],
        vec!["--json", "-", &image],
        vec!["secrets", &image],
    ] {
        let text = stdout_of(d, &args);
        assert!(!text.contains("hunter2"), "{args:?}: {text}");
        assert!(!text.contains("AXPX6LYb"), "{args:?}: {text}");
        if !args.contains(&"--ci") && !args.contains(&"secrets") {
            assert!(text.contains("DB_PASSWORD=*******"), "{args:?}: {text}");
        }
    }
    for args in [
        vec!["--show-secrets", "--json", "-", &image],
        vec!["--no-secrets", "--show-secrets", "--json", "-", &image],
    ] {
        let text = stdout_of(d, &args);
        assert!(
            text.contains("DB_PASSWORD=hunter2 GITLAB_TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH"),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn only_the_secret_is_masked_not_the_path_or_harmless_build_args() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![
        layer(&[
            Ent::Dir("root"),
            file("root/.git-credentials", b"cleared\n"),
        ]),
        layer(&[file("b", b"2\n")]),
    ];
    let history = [
        ("/bin/sh -c echo 'cleared' > /root/.git-credentials", false),
        ("/bin/sh -c #(nop)  ARG KEYBOARD_LAYOUT=us", true),
        (
            "|4 KEYBOARD_LAYOUT=us AUTHOR_NAME=Jane Doe PASSWORD_MIN_LENGTH=12 DB_PASSWORD=hunter2 /bin/sh -c make",
            false,
        ),
    ];
    let image = write_file(
        dir.path(),
        "creds.tar",
        &legacy_archive("creds:1", &layers, &history, json!({})),
    );
    let d = dir.path();
    let summary = stdout_of(d, &[&image]);
    assert!(
        summary.contains("RUN echo 'cleared' > /root/.git-credentials"),
        "{summary}"
    );
    assert!(summary.contains("ARG KEYBOARD_LAYOUT=us"), "{summary}");
    let report: Value = serde_json::from_str(&stdout_of(d, &["--json", "-", &image])).unwrap();
    assert_eq!(
        report["layers"][1]["created_by"],
        "|4 KEYBOARD_LAYOUT=us AUTHOR_NAME=Jane Doe PASSWORD_MIN_LENGTH=12 DB_PASSWORD=******* /bin/sh -c make"
    );
    assert_eq!(
        report["layers"][0]["instruction"],
        "RUN echo 'cleared' > /root/.git-credentials"
    );
    let finding = &report["secrets"][0];
    assert_eq!(finding["rule"], "git-credentials-file");
    assert_eq!(finding["path"], "/root/.git-credentials");
    assert_eq!(finding["match"], "/root/.git-credentials");
    let listed = stdout_of(d, &["secrets", &image]);
    assert!(
        listed.contains("/root/.git-credentials  visible"),
        "{listed}"
    );
}

#[test]
fn a_file_matched_by_name_alone_is_low_confidence_unless_its_format_is_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer(&[
        Ent::Dir("app"),
        file("app/.env", b"APP_ENV=production\n"),
        file("app/id_rsa", b"not a key\n"),
        file("app/readme.p12", b"see the wiki\n"),
        file(
            "app/server.jks",
            b"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x01",
        ),
        file(
            "app/client.p12",
            b"\x30\x82\x0a\x51\x02\x01\x03\x30\x82\x0a\x17\x06\x09",
        ),
    ])];
    let history = [(
        "/bin/sh -c #(nop) COPY dir:0123456789abcdef in /app ",
        false,
    )];
    let image = write_file(
        dir.path(),
        "names.tar",
        &legacy_archive("names:1", &layers, &history, json!({})),
    );
    let d = dir.path();
    let findings: Vec<Value> =
        serde_json::from_str(&stdout_of(d, &["secrets", "--json", "-", &image])).unwrap();
    let confidence = |path: &str| {
        findings
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("no finding at {path}: {findings:#?}"))["confidence"]
            .clone()
    };
    assert_eq!(confidence("/app/.env"), "low");
    assert_eq!(confidence("/app/id_rsa"), "low");
    assert_eq!(confidence("/app/readme.p12"), "low");
    assert_eq!(confidence("/app/server.jks"), "high");
    assert_eq!(confidence("/app/client.p12"), "high");

    // Without the keystores, nothing counts: the gate passes.
    let layers = vec![layer(&[
        Ent::Dir("app"),
        file("app/.env", b"APP_ENV=production\n"),
        file("app/id_rsa", b"not a key\n"),
    ])];
    let image = write_file(
        dir.path(),
        "plain.tar",
        &legacy_archive("plain:1", &layers, &history, json!({})),
    );
    let ci = run_in(
        d,
        &[
            "--ci",
            "--min-efficiency",
            "disabled",
            "--max-user-wasted-ratio",
            "disabled",
            &image,
        ],
    );
    assert_eq!(
        ci.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ci.stdout)
    );
}

#[test]
fn secrets_in_names_tags_and_label_keys_are_found_and_masked_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![
        layer(&[
            Ent::Dir("app"),
            file(
                "app/ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8.txt",
                b"hello\n",
            ),
            Ent::Symlink("app/link", "/run/glpat-AXPX6LYbMJGeCI8m6XEH"),
        ]),
        layer(&[file(
            "app/ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8.txt",
            b"changed\n",
        )]),
    ];
    let history = [
        (
            "/bin/sh -c #(nop) COPY dir:0123456789abcdef in /app ",
            false,
        ),
        ("/bin/sh -c date > /app/stamp", false),
    ];
    let config =
        json!({"config": {"Labels": {"com.example.sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ": "x"}}});
    let image = write_file(
        dir.path(),
        "named.tar",
        &legacy_archive(
            "app:xoxb-123456789012-1234567890123-Zx9Vb7Nm1Qw5Er8Ty2Ui4Op",
            &layers,
            &history,
            config,
        ),
    );
    let d = dir.path();
    let cores = [
        "R7cK2mVx9Lq4",
        "AXPX6LYbMJ",
        "Zx9Vb7Nm1Qw5Er8",
        "1cQSDwDCG8",
    ];
    for args in [
        vec![image.as_str()],
        vec!["--json", "-", &image],
        vec!["--ci", &image],
        vec!["--no-secrets", &image],
        vec!["--no-secrets", "--json", "-", &image],
        vec!["secrets", &image],
        vec!["secrets", "--json", "-", &image],
        vec!["secrets", "--sarif", "-", &image],
        vec!["ls", &image],
        vec!["ls", "--json", "-", &image],
        vec!["ls", "--changes", "--layer", "1", &image],
    ] {
        let text = stdout_of(d, &args);
        for core in cores {
            assert!(!text.contains(core), "{args:?} shows {core}: {text}");
        }
    }
    let findings: Vec<Value> =
        serde_json::from_str(&stdout_of(d, &["secrets", "--json", "-", &image])).unwrap();
    let rule_at = |rule: &str| -> Value {
        let f = findings
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule}: {findings:#?}"));
        json!([f["location"], f["path"]])
    };
    assert_eq!(
        rule_at("github-pat"),
        json!(["file", "/app/ghp_************************.txt"])
    );
    assert_eq!(rule_at("gitlab-pat"), json!(["file", "/app/link"]));
    assert_eq!(rule_at("slack-token"), json!(["config", "tag"]));
    assert_eq!(
        rule_at("stripe-secret-key"),
        json!(["config", "Labels.com.example.sk_l************************"])
    );
    let shown = stdout_of(d, &["secrets", "--show-secrets", "--json", "-", &image]);
    for core in cores {
        assert!(shown.contains(core), "--show-secrets hides {core}: {shown}");
    }
    let shown = stdout_of(d, &["--show-secrets", "--json", "-", &image]);
    assert!(
        shown.contains("/app/ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8.txt"),
        "{shown}"
    );
}

#[test]
fn the_secrets_list_shows_confidence_and_sorts_by_severity_then_confidence_then_layer() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![
        layer(&[file(
            "usr/lib/node_modules/pkg/test/fixture.pem",
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestfixturekeymaterial\n",
        )]),
        layer(&[file(
            "root/.aws/credentials",
            b"aws_access_key_id = AKIAZ7VRSQ5TJN2UE4OK\n",
        )]),
        layer(&[file(
            "app/.env",
            b"STRIPE_SECRET_KEY=sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ\n",
        )]),
    ];
    let history = [
        ("/bin/sh -c #(nop) ADD file:0123456789abcdef in / ", false),
        ("/bin/sh -c aws configure import", false),
        (
            "/bin/sh -c #(nop) COPY file:fedcba9876543210 in /app/.env ",
            false,
        ),
    ];
    let image = write_file(
        dir.path(),
        "sorted.tar",
        &legacy_archive("sorted:1", &layers, &history, json!({})),
    );
    let text = stdout_of(dir.path(), &["secrets", &image]);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            ["critical", "high", "medium", "low"]
                .iter()
                .any(|s| l.trim_start().starts_with(s))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for (row, (columns, rule)) in rows.iter().zip([
        ("critical high L2", "stripe-secret-key"),
        ("critical low  L0", "private-key-rsa"),
        ("high     high L1", "aws-access-key-id"),
    ]) {
        assert!(row.trim_start().starts_with(columns), "{row:?} in {text}");
        assert!(row.contains(rule), "{row:?} in {text}");
    }
}

/// The reports and comparisons a person reads (Markdown on stdout or in a file, the diff's text and Markdown)
/// escape what the image says like every other output; the HTML report also keeps the image's text out of its
/// markup. JSON carries it as it is, in its own escaping.
#[test]
fn image_text_is_escaped_in_markdown_html_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let image = hostile_image(dir.path());
    let plain = write_file(
        dir.path(),
        "plain.tar",
        &legacy_archive(
            "plain:1",
            &[layer(&[file("a", b"1\n")])],
            &[("/bin/sh -c #(nop) ADD file:0 in / ", false)],
            json!({}),
        ),
    );
    let d = dir.path();
    assert_safe("--markdown -", &run_in(d, &["--markdown", "-", &image]));
    assert_safe("diff", &run_in(d, &["diff", &plain, &image]));
    assert_safe(
        "diff --text",
        &run_in(d, &["diff", "--text", &plain, &image]),
    );
    assert_safe(
        "diff --markdown -",
        &run_in(d, &["diff", "--markdown", "-", &plain, &image]),
    );
    let files = run_in(
        d,
        &[
            "--markdown",
            "r.md",
            "--html",
            "r.html",
            "--no-secrets",
            &image,
        ],
    );
    assert!(files.status.success(), "{}", stderr_line(&files));
    for name in ["r.md", "r.html"] {
        let text = std::fs::read_to_string(d.join(name)).unwrap();
        if let Some(c) = text
            .chars()
            .find(|c| !matches!(c, '\n' | '\t') && is_unsafe(*c))
        {
            panic!("{name}: raw {c:?}");
        }
    }
    let json = run_in(d, &["diff", "--json", "-", &plain, &image]);
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value.to_string().contains("\\u001b[2J"), "{value}");
}
