//! Secrets planted the ways people leak them — in a RUN layer and deleted later, in a COPY layer and
//! overwritten, under a directory that is later removed, in ENV and in a build ARG — are each found with the
//! right layer, status, removal layer and instruction, in every format; and never printed in clear.

mod common;

use common::*;
use serde_json::Value;

const AWS_ID: &str = "AKIAZ7VRSQ5TJN2UE4OK";
const AWS_SECRET: &str = "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";
const GITHUB: &str = "ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8";
const SLACK: &str = "xoxb-123456789012-1234567890123-Zx9Vb7Nm1Qw5Er8Ty2Ui4Op";
const STRIPE: &str = "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ";
const DB_PASS: &str = "S3cr3tPassw0rd";
const ALL: [&str; 6] = [AWS_ID, AWS_SECRET, GITHUB, SLACK, STRIPE, DB_PASS];

fn leaky() -> Img {
    let creds =
        format!("[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n");
    let slack = format!("{{\"slack\": \"{SLACK}\"}}\n");
    let env = format!("APP=1\nSTRIPE_SECRET_KEY={STRIPE}\n");
    let fixture = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestfixturekeymaterial\n";
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let layers = vec![
        layer(&[
            Ent::Dir("root"),
            Ent::Dir("usr"),
            file(
                "usr/lib/node_modules/pkg/test/fixture.pem",
                fixture.as_bytes(),
            ),
            file(
                "bin/tool",
                b"\x7fELF\x00\x00ghp_R7cK2mVx9Lq4Tz8Wn3Bp6Yd1Hf5Js0Ga2Ue8",
            ),
        ]),
        layer(&[
            Ent::Dir("root/.aws"),
            file("root/.aws/credentials", creds.as_bytes()),
        ]),
        layer(&[Ent::Dir("app"), file("app/config.json", slack.as_bytes())]),
        layer(&[Ent::Whiteout("root/.aws"), file("app/config.json", b"{}\n")]),
        layer(&[file("app/.env", leak(env).as_bytes())]),
    ];
    let mut img = Img::new("leaky:1", layers);
    img.history = vec![
        (
            "/bin/sh -c #(nop) ADD file:0123456789abcdef0123 in / ".into(),
            false,
        ),
        (
            format!("|1 DEPLOY_TOKEN={GITHUB} /bin/sh -c aws configure import"),
            false,
        ),
        (
            "/bin/sh -c #(nop) COPY file:abcdef0123456789abcd in /app/config.json ".into(),
            false,
        ),
        (
            format!(
                "|1 DEPLOY_TOKEN={GITHUB} /bin/sh -c rm -rf /root/.aws && echo {{}} > /app/config.json"
            ),
            false,
        ),
        (
            format!("/bin/sh -c #(nop)  ENV DATABASE_URL=postgres://app:{DB_PASS}@db/app"),
            true,
        ),
        (
            "/bin/sh -c #(nop) COPY file:fedcba9876543210fedc in /app/.env ".into(),
            false,
        ),
    ];
    img
}

/// The image's config with an ENV holding a database URL.
fn with_env(img: &Img) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&img.config()).unwrap();
    v["config"]["Env"] = serde_json::json!([
        "PATH=/bin",
        format!("DATABASE_URL=postgres://app:{DB_PASS}@db/app")
    ]);
    serde_json::to_vec(&v).unwrap()
}

/// Every format, with the ENV config swapped in (and the digests that name it fixed up).
fn archives(dir: &std::path::Path) -> Vec<(String, String)> {
    let img = leaky();
    let old = img.config();
    let new = with_env(&img);
    let (old_hex, new_hex) = (
        hexof(&sha256(&old)).to_string(),
        hexof(&sha256(&new)).to_string(),
    );
    let fix = |files: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        // Replace the config, then every manifest that names it, then every index naming those manifests.
        let mut renames: Vec<(String, String)> = vec![(old_hex.clone(), new_hex.clone())];
        let mut files: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .map(|(n, d)| {
                if d == old {
                    (n.replace(&old_hex, &new_hex), new.clone())
                } else {
                    (n, d)
                }
            })
            .collect();
        for _ in 0..3 {
            let mut next = Vec::new();
            for (name, data) in files.iter_mut() {
                let text = String::from_utf8_lossy(data).into_owned();
                if !text.starts_with('{') && !text.starts_with('[') {
                    continue;
                }
                let mut t = text.clone();
                for (a, b) in &renames {
                    t = t.replace(a.as_str(), b.as_str()).replace(
                        &format!("\"size\":{}", old.len()),
                        &format!("\"size\":{}", new.len()),
                    );
                }
                if t != text {
                    let old_digest = hexof(&sha256(data)).to_string();
                    *data = t.into_bytes();
                    let new_digest = hexof(&sha256(data)).to_string();
                    if name.ends_with(&old_digest) {
                        *name = name.replace(&old_digest, &new_digest);
                        next.push((old_digest, new_digest));
                    }
                }
            }
            renames = next;
        }
        files
    };
    let legacy = tar_files(&fix(docker_legacy(std::slice::from_ref(&img))));
    let oci_dir = dir.join("oci");
    write_dir(
        &fix(oci_layout(std::slice::from_ref(&img), Comp::Gzip)),
        &oci_dir,
    );
    vec![
        (
            "docker legacy".into(),
            write_file(dir, "legacy.tar", &legacy),
        ),
        (
            "docker 25".into(),
            write_file(dir, "d25.tar", &tar_files(&fix(docker25(&img)))),
        ),
        (
            "oci dir gzip".into(),
            oci_dir.to_string_lossy().into_owned(),
        ),
        (
            "oci archive zstd".into(),
            write_file(
                dir,
                "oci.tar",
                &tar_files(&fix(oci_layout(std::slice::from_ref(&img), Comp::Zstd))),
            ),
        ),
        (
            "legacy, gzip stream".into(),
            write_file(dir, "legacy.tgz", &compress(&legacy, Comp::Gzip)),
        ),
    ]
}

fn find<'a>(findings: &'a [Value], rule: &str, location: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["rule"] == rule && f["location"] == location)
        .unwrap_or_else(|| panic!("no {rule} in {location}: {findings:#?}"))
}

#[test]
fn each_leak_is_found_with_where_it_came_and_went_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in archives(dir.path()) {
        let r = json_of(&["--json", "-", &path]);
        let findings = r["secrets"].as_array().unwrap().clone();

        // RUN layer, under a directory a later layer removes.
        let aws = find(&findings, "aws-access-key-id", "file");
        assert_eq!(aws["layer"], 1, "{name}");
        assert_eq!(aws["path"], "/root/.aws/credentials", "{name}");
        assert_eq!(aws["line"], 2, "{name}");
        assert_eq!(aws["status"], "removed", "{name}");
        assert_eq!(aws["removed_in"], 3, "{name}");
        assert_eq!(aws["instruction"], "RUN aws configure import", "{name}");
        assert_eq!(
            find(&findings, "aws-secret-access-key", "file")["status"],
            "removed"
        );

        // COPY layer, overwritten by content that no longer holds it.
        let slack = find(&findings, "slack-token", "file");
        assert_eq!(slack["layer"], 2, "{name}");
        assert_eq!(slack["status"], "overwritten", "{name}");
        assert_eq!(slack["removed_in"], 3, "{name}");
        assert_eq!(
            slack["instruction"], "COPY file:abcdef012345 /app/config.json",
            "{name}"
        );

        // Still in the final image.
        let stripe = find(&findings, "stripe-secret-key", "file");
        assert_eq!(
            (stripe["layer"].clone(), stripe["status"].clone()),
            (4.into(), "visible".into()),
            "{name}"
        );
        assert!(stripe["removed_in"].is_null());

        // Build ARG in history: reported once, where it first appears.
        let arg = find(&findings, "github-pat", "history");
        assert_eq!(arg["layer"], 1, "{name}");
        assert_eq!(arg["status"], "visible");
        assert!(arg["path"].is_null());

        // ENV in the config.
        let env = find(&findings, "database-url", "config");
        assert_eq!(env["path"], "Env[1]", "{name}");
        assert!(env["layer"].is_null());
        assert!(
            env["instruction"]
                .as_str()
                .unwrap()
                .starts_with("ENV DATABASE_URL=postgres://app:")
        );

        // A test fixture inside node_modules is reported with low confidence, not hidden; binaries are skipped.
        let fixture = find(&findings, "private-key-rsa", "file");
        assert_eq!(fixture["confidence"], "low");
        assert!(
            !findings.iter().any(|f| f["path"] == "/bin/tool"),
            "{name}: binary scanned"
        );

        for f in &findings {
            let fp = f["fingerprint"].as_str().unwrap();
            assert_eq!(fp.len(), 32);
            for field in [
                "rule",
                "description",
                "severity",
                "location",
                "status",
                "match",
            ] {
                assert!(!f[field].is_null(), "{name}: {field} missing in {f}");
            }
        }
    }
}

#[test]
fn no_output_shows_a_planted_secret_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = archives(dir.path()).remove(0).1;
    let sarif = dir.path().join("out.sarif");
    let baseline = dir.path().join("baseline.json");
    let outputs: Vec<Vec<u8>> = vec![
        run(&[&path]).stdout,
        run(&["--json", "-", &path]).stdout,
        run(&["--ci", &path]).stdout,
        run(&["secrets", &path]).stdout,
        run(&["secrets", "--json", "-", &path]).stdout,
        run(&["ls", &path, "--json"]).stdout,
        {
            run(&[
                "--json",
                "/dev/null",
                "--sarif",
                sarif.to_str().unwrap(),
                "--write-baseline",
                baseline.to_str().unwrap(),
                &path,
            ]);
            [
                std::fs::read(&sarif).unwrap(),
                std::fs::read(&baseline).unwrap(),
            ]
            .concat()
        },
    ];
    for out in &outputs {
        let text = String::from_utf8_lossy(out);
        assert!(!text.is_empty());
        for secret in ALL {
            assert!(!text.contains(secret), "{secret} printed in clear:\n{text}");
        }
    }
    let shown =
        String::from_utf8_lossy(&run(&["secrets", "--show-secrets", &path]).stdout).into_owned();
    for secret in [AWS_ID, GITHUB, SLACK, STRIPE] {
        assert!(shown.contains(secret), "--show-secrets hides {secret}");
    }
}

#[test]
fn ci_fails_on_secrets_by_policy_and_baselines_suppress_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = archives(dir.path()).remove(0).1;
    let ci = |extra: &[&str]| {
        let mut args = vec![
            "--ci",
            "--min-efficiency",
            "disabled",
            "--max-user-wasted-ratio",
            "disabled",
        ];
        args.extend_from_slice(extra);
        args.push(&path);
        run_in(dir.path(), &args)
    };
    let any = ci(&[]);
    assert_eq!(any.status.code(), Some(1));
    let text = String::from_utf8_lossy(&any.stdout);
    assert!(text.contains("FAIL  fail-on-secrets"), "{text}");
    assert!(
        text.contains("/root/.aws/credentials:2  removed in 3"),
        "{text}"
    );
    assert!(text.contains("RUN aws configure import"), "{text}");
    // Every finding is named, the low-confidence ones (not counted) after the others, each with its place.
    let findings = json_of(&["--json", "-", &path])["secrets"]
        .as_array()
        .unwrap()
        .clone();
    for f in &findings {
        let place = f["path"]
            .as_str()
            .unwrap_or(f["location"].as_str().unwrap());
        assert!(
            text.contains(place),
            "{place} missing from the CI text: {text}"
        );
    }
    let low = text
        .find("low-confidence findings")
        .expect("a low-confidence section");
    assert!(
        text[low..].contains("/usr/lib/node_modules/pkg/test/fixture.pem:1  visible"),
        "{text}"
    );
    assert_eq!(ci(&["--fail-on-secrets", "visible"]).status.code(), Some(1));
    assert_eq!(ci(&["--fail-on-secrets", "none"]).status.code(), Some(0));
    assert_bad_input(
        &ci(&["--fail-on-secrets", "sometimes"]),
        "--fail-on-secrets",
    );

    let baseline = dir.path().join("b.json");
    assert!(
        run(&[
            "secrets",
            "--write-baseline",
            baseline.to_str().unwrap(),
            &path
        ])
        .status
        .success()
    );
    assert_eq!(
        ci(&["--baseline", baseline.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let r = json_of(&[
        "--json",
        "-",
        "--baseline",
        baseline.to_str().unwrap(),
        &path,
    ]);
    assert_eq!(r["secrets"].as_array().unwrap().len(), 0);
}

#[test]
fn allowlists_and_user_rules_come_from_layerscope_toml() {
    let dir = tempfile::tempdir().unwrap();
    let path = archives(dir.path()).remove(0).1;
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        r#"
[ci]
fail-on-secrets = "visible"
[secrets]
disabled-rules = ["database-url"]
[secrets.allowlist]
paths = ["app/.env", "**/node_modules/**"]
[[secrets.file]]
id = "app-config"
description = "App config file"
severity = "low"
paths = ["app/config.json"]
"#,
    )
    .unwrap();
    let out = run_in(dir.path(), &["secrets", "--json", "-", &path]);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"database-url"), "{rules:?}");
    assert!(!rules.contains(&"stripe-secret-key"), "{rules:?}");
    assert!(!rules.contains(&"private-key-rsa"), "{rules:?}");
    assert!(rules.contains(&"aws-access-key-id"));
    // The overwritten config version still holds the Slack token (content rule wins); the clean one matches
    // the user's file rule only.
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "app-config" && f["layer"] == 3),
        "{rules:?}"
    );
    // With the visible findings allowlisted, only the history leak is visible: it still fails CI.
    let ci = run_in(dir.path(), &["--ci", "--min-efficiency", "0", &path]);
    assert_eq!(ci.status.code(), Some(1));
}

#[test]
fn sarif_is_valid_2_1_0_with_layers_in_properties() {
    let dir = tempfile::tempdir().unwrap();
    let path = archives(dir.path()).remove(0).1;
    let out = run(&["secrets", "--sarif", "-", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    let sarif_start = text.find("{\n  \"$schema\"").expect("sarif on stdout");
    let doc: Value =
        serde_json::from_str(text[sarif_start..].split("\nSecrets (").next().unwrap()).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run0 = &doc["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "layerscope");
    assert!(run0["tool"]["driver"]["rules"].as_array().unwrap().len() >= 60);
    let aws = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "aws-access-key-id")
        .unwrap();
    assert_eq!(
        aws["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "root/.aws/credentials"
    );
    assert_eq!(
        aws["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert_eq!(aws["properties"]["layer"], 1);
    assert_eq!(aws["properties"]["status"], "removed");
    assert_eq!(aws["level"], "error");
}

/// A user rule that cannot work is bad input: one line naming it, exit 2.
#[test]
fn broken_user_rules_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = archives(dir.path()).remove(0).1;
    let rule = |extra: &str| {
        format!(
            "[[secrets.rule]]\nid = \"acme\"\ndescription = \"ACME token\"\nseverity = \"high\"\nregex = 'acme_[a-z]{{8}}'\n{extra}\n"
        )
    };
    for (extra, needle) in [
        (
            "keywords = [\"acme_\", \"\"]",
            "rule acme: a keyword is empty",
        ),
        ("keywords = []", "rule acme: needs at least one keyword"),
        (
            "keywords = [\"acme_\"]\nwindow = \"page\"",
            "unknown variant `page`",
        ),
    ] {
        std::fs::write(dir.path().join(".layerscope.toml"), rule(extra)).unwrap();
        let out = run_in(dir.path(), &["secrets", &path]);
        assert_bad_input(&out, needle);
    }
    // A one-letter keyword and a word window are fine.
    std::fs::write(
        dir.path().join(".layerscope.toml"),
        rule("keywords = [\"a\"]\nwindow = \"word\""),
    )
    .unwrap();
    let out = run_in(dir.path(), &["secrets", "--json", "-", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
