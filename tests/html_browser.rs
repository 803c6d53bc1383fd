//! The HTML report in a real browser: Debian's chromium, headless, driven through chromedriver (started here on
//! a free 127.0.0.1 port, stopped when the test ends) with the fantoccini WebDriver client. The page renders
//! treemap rectangles, logs no console error, drills into a directory on click and back out through the
//! breadcrumb, shows no planted secret, and a file named like markup creates no element. Without chromium or
//! chromedriver the test skips with a message, unless LAYERSCOPE_REQUIRE_ENGINES=1 (as in CI), where it fails.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const DEMO: &str = "assets/demo.tar";

const DEMO_SECRETS: [&str; 4] = [
    "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ",
    "glpat-AXPX6LYbMJGeCI8m6XEH",
    "jvWDm38YOh9Mjvcn",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABFwAAAAdzc2gtcn",
];

/// A chromedriver of our own, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    /// Stops chromedriver and the browsers it started: they share its process group.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip(msg: &str) -> Option<Driver> {
    if std::env::var("LAYERSCOPE_REQUIRE_ENGINES").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

impl Driver {
    fn start() -> Option<Driver> {
        if !installed("chromium") || !installed("chromedriver") {
            return skip(
                "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)",
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver { child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }
}

/// chromedriver's browser log (`goog:loggingPrefs`), which W3C WebDriver has no command for.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The console messages at level SEVERE (errors, uncaught exceptions, refused loads) since the last call.
async fn console_errors(client: &Client) -> Vec<String> {
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].to_string())
        .collect()
}

async fn eval(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

fn write_page(dir: &Path, name: &str, args: &[&str]) -> String {
    let page = dir.join(name);
    let mut all = vec!["--html", page.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("file://{}", page.display())
}

async fn check_demo(client: &Client, url: &str) {
    client.goto(url).await.unwrap();
    let rects = client
        .find_all(Locator::Css("#treemap .tm-rect"))
        .await
        .unwrap();
    assert!(rects.len() > 3, "{} treemap rectangles", rects.len());
    let errors = console_errors(client).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_eq!(
        eval(
            client,
            "return document.getElementById('render-error').hidden"
        )
        .await,
        true
    );
    let crumb = |c: &Client| {
        let c = c.clone();
        async move {
            c.find(Locator::Css("#breadcrumb .current"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(crumb(client).await.starts_with('/'));
    // The biggest top-level directory (srv, holding the app) drills down on click.
    let dir = client
        .find(Locator::Css("#treemap > .tm-dir"))
        .await
        .unwrap();
    let name = dir.attr("title").await.unwrap().unwrap_or_default();
    let before = eval(
        client,
        "return document.querySelectorAll('#treemap .tm-rect').length",
    )
    .await;
    dir.click().await.unwrap();
    // The breadcrumb names the directory (or, for a directory holding one directory only, that one below it).
    let inside = crumb(client).await;
    let trail = eval(
        client,
        "return document.getElementById('breadcrumb').textContent",
    )
    .await;
    let first_line = name.lines().next().unwrap_or_default().to_string();
    let last = first_line.rsplit('/').next().unwrap_or_default();
    assert!(!inside.starts_with("/ ") && !last.is_empty(), "{inside:?}");
    assert!(
        trail.as_str().unwrap().contains(last),
        "breadcrumb {trail} after clicking {first_line:?}"
    );
    let after = eval(
        client,
        "return document.querySelectorAll('#treemap .tm-rect').length",
    )
    .await;
    let titles = eval(
        client,
        "return Array.from(document.querySelectorAll('#treemap > .tm-rect')).map(e => e.title.split('\\n')[0])",
    )
    .await;
    assert_ne!(before, after);
    for t in titles.as_array().unwrap() {
        assert!(
            t.as_str().unwrap().starts_with(&first_line),
            "{t} outside {first_line}"
        );
    }
    // The breadcrumb's root goes back up.
    client
        .find(Locator::Css("#breadcrumb button.crumb"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(crumb(client).await.starts_with("/ "));
    // The file tree opens a directory on click.
    let summaries_before = eval(
        client,
        "return document.querySelectorAll('#filetree .leaf, #filetree summary').length",
    )
    .await;
    client
        .find(Locator::Css("#filetree > details > details > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The children are built on the `toggle` event, which the browser fires after the click returns.
    let start = Instant::now();
    loop {
        let now = eval(
            client,
            "return document.querySelectorAll('#filetree .leaf, #filetree summary').length",
        )
        .await;
        if now != summaries_before {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the file tree did not open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let source = client.source().await.unwrap();
    for secret in DEMO_SECRETS {
        assert!(!source.contains(secret), "{secret} in the page source");
    }
    let errors = console_errors(client).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

async fn check_hostile(client: &Client, url: &str) {
    client.goto(url).await.unwrap();
    let pwned = eval(
        client,
        "return [document.querySelectorAll('img').length, document.title, window.pwned === undefined]",
    )
    .await;
    assert_eq!(pwned[0], 0, "an image element was created: {pwned}");
    assert_eq!(pwned[2], true, "a script from the image ran: {pwned}");
    assert!(pwned[1].as_str().unwrap().starts_with("layerscope: evil"));
    // The name is shown, as text.
    let names = eval(
        client,
        "return Array.from(document.querySelectorAll('#treemap .tm-rect')).map(e => e.title).join('|')",
    )
    .await;
    assert!(
        names
            .as_str()
            .unwrap()
            .contains("<img src=x onerror=window.pwned=1>"),
        "{names}"
    );
    let errors = console_errors(client).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

#[test]
fn report_renders_drills_down_and_shows_no_secret_in_chromium() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = write_page(dir.path(), "demo.html", &[DEMO]);
    let name: &'static str = "app/<img src=x onerror=window.pwned=1>";
    let mut img = Img::new("evil:1", vec![layer(&[file(name, b"0123456789")])]);
    img.history = vec![(
        "/bin/sh -c echo '</script><script>window.pwned=2</script>'".to_string(),
        false,
    )];
    let archive = write_file(dir.path(), "evil.tar", &tar_files(&docker_legacy(&[img])));
    let hostile = write_page(dir.path(), "evil.html", &["--no-secrets", &archive]);
    let profile = tempfile::tempdir().unwrap();
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display())],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities.as_object().unwrap().clone());
        let client = builder
            .connect(&format!("http://127.0.0.1:{}/", driver.port))
            .await
            .unwrap();
        // The checks run apart, so that the browser is closed whatever they do.
        let checks = tokio::spawn({
            let client = client.clone();
            async move {
                check_demo(&client, &demo).await;
                check_hostile(&client, &hostile).await;
            }
        });
        let result = tokio::time::timeout(Duration::from_secs(50), checks).await;
        let _ = client.close().await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(failed)) => std::panic::resume_unwind(failed.into_panic()),
            Err(_) => panic!("the browser test took over 50 s"),
        }
    });
}
