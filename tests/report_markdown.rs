//! `layerscope IMAGE --markdown FILE|-`: the single-image Markdown report, run on the committed demo image (its
//! planted secrets must not appear) and on a generated image whose names and history try to format the comment
//! and the terminal.

mod common;

use common::*;

const DEMO: &str = "assets/demo.tar";

/// The secrets planted in the demo image (assets/demo/Dockerfile).
const DEMO_SECRETS: [&str; 4] = [
    "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ",
    "glpat-AXPX6LYbMJGeCI8m6XEH",
    "jvWDm38YOh9Mjvcn",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABFwAAAAdzc2gtcn",
];

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn markdown_report_has_the_numbers_advice_secrets_and_layers() {
    let out = run(&["--markdown", "-", DEMO]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = stdout(&out);
    assert!(md.starts_with("### layerscope: "), "{md}");
    for section in [
        "#### Numbers",
        "#### Advice: ",
        "#### Secrets: ",
        "#### Layers",
    ] {
        assert!(md.contains(section), "no {section} in:\n{md}");
    }
    // The numbers with their definitions, as the README gives them.
    assert!(
        md.contains("| wasted | 3.15 MB | bytes of file versions not visible in the final image")
    );
    assert!(md.contains("| efficiency | 44.3 % | 1 - wasted / size"));
    // Advice with its bytes: the build cache deleted a layer later.
    assert!(md.contains("`same-run-delete` | 3.15 MB |"), "{md}");
    // Layers with their instructions (Markdown syntax escaped).
    assert!(
        md.contains("| 2 | 1.88 kB | 2 | 0 | 0 | COPY file:85fe3414cdd9 /home/ci/.ssh/id\\_rsa |"),
        "{md}"
    );
    for secret in DEMO_SECRETS {
        assert!(!md.contains(secret), "{secret} leaked into:\n{md}");
    }
    // The findings are listed, redacted.
    assert!(md.contains("/srv/app/.env:1"), "{md}");
}

#[test]
fn markdown_with_ci_states_the_verdict_and_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.md");
    let json = dir.path().join("report.json");
    let out = run(&[
        "--ci",
        "--markdown",
        file.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        DEMO,
    ]);
    // The demo image's efficiency (44 %) fails the default rule.
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("Result: FAIL"));
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(md.contains("**CI: ❌ FAIL**"), "{md}");
    assert!(
        md.contains("| min-efficiency | **FAIL** | 0.4433 | 0.9000 |"),
        "{md}"
    );
    assert!(md.contains("| fail-on-secrets | **FAIL** |"), "{md}");
    assert!(json.exists());
    let pass = run(&[
        "--ci",
        "--min-efficiency",
        "0",
        "--max-user-wasted-ratio",
        "disabled",
        "--fail-on-secrets",
        "none",
        "--markdown",
        "-",
        DEMO,
    ]);
    assert_eq!(pass.status.code(), Some(0));
    let md = stdout(&pass);
    assert!(md.contains("**CI: ✅ PASS**"), "{md}");
    // stdout carries the Markdown alone; the CI text went to stderr.
    assert!(!md.contains("Result: PASS"));
    assert!(String::from_utf8_lossy(&pass.stderr).contains("Result: PASS"));
}

#[test]
fn markdown_and_json_cannot_both_take_stdout() {
    let out = run(&["--markdown", "-", "--json", "-", DEMO]);
    assert_bad_input(&out, "--json and --markdown");
}

#[test]
fn image_text_cannot_format_the_comment_or_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let name: &'static str = "app/x|y[z](http://e)<img src=x onerror=alert(1)>\x1b[2J.txt";
    let mut img = Img::new("evil:1", vec![layer(&[file(name, b"data\n")])]);
    img.history = vec![(
        "/bin/sh -c echo `id` **bold** <script>x</script> \x1b]0;t\x07".to_string(),
        false,
    )];
    let archive = write_file(dir.path(), "evil.tar", &tar_files(&docker_legacy(&[img])));
    let out = run(&["--markdown", "-", "--no-secrets", &archive]);
    assert_eq!(out.status.code(), Some(0));
    let md = stdout(&out);
    assert!(!md.contains('\x1b') && !md.contains('\x07'), "{md:?}");
    assert!(!md.contains("<script") && !md.contains("<img"), "{md}");
    assert!(md.contains("&lt;script&gt;x&lt;/script&gt;"), "{md}");
    assert!(md.contains("\\`id\\` \\*\\*bold\\*\\*"), "{md}");
    assert!(md.contains("\\\\x1b\\]0;t\\\\x07"), "{md}");
}
