//! `layerscope IMAGE --html FILE`: the self-contained page, run on the committed demo image (planted secrets must
//! not appear, nothing is fetched), on an image whose file names are markup, and on an image with many files
//! (the page stays small). tests/html_browser.rs opens such pages in a real browser.

mod common;

use common::*;
use serde_json::Value;

const DEMO: &str = "assets/demo.tar";

const DEMO_SECRETS: [&str; 4] = [
    "sk_live_1cQSDwDCG8pkhqRqlRvdEzNJ",
    "glpat-AXPX6LYbMJGeCI8m6XEH",
    "jvWDm38YOh9Mjvcn",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABFwAAAAdzc2gtcn",
];

const DATA_OPEN: &str = "<script type=\"application/json\" id=\"layerscope-data\">";

fn html_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let mut all = vec!["--html", page.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&page).unwrap()
}

/// The JSON block of a page.
fn data_of(page: &str) -> Value {
    let start = page.find(DATA_OPEN).expect("data block") + DATA_OPEN.len();
    let end = start + page[start..].find("</script>").expect("end of data block");
    serde_json::from_str(&page[start..end]).unwrap()
}

fn json_report(image: &str) -> Value {
    json_of(&["--json", "-", image])
}

#[test]
fn html_page_is_self_contained_and_shows_no_planted_secret() {
    let page = html_of(&[DEMO]);
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Nothing to fetch: no external script, style, image or frame, and a policy that forbids any.
    for fetch in ["src=", "<link", "<iframe", "url(", "@import"] {
        assert!(!page.contains(fetch), "{fetch} in the page");
    }
    assert!(page.contains("content=\"default-src 'none'; style-src 'sha256-"));
    for secret in DEMO_SECRETS {
        assert!(!page.contains(secret), "{secret} leaked into the page");
    }
    let data = data_of(&page);
    let report = json_report(DEMO);
    // The treemap's bytes are the final filesystem's: the image size less the waste.
    let root = &data["nodes"][0];
    let size = report["image"]["size_bytes"].as_u64().unwrap();
    let wasted = report["waste"]["wasted_bytes"].as_u64().unwrap();
    assert_eq!(root[3].as_u64().unwrap(), size - wasted);
    assert_eq!(data["layers"].as_array().unwrap().len(), 7);
    assert_eq!(
        data["layers"][2]["instruction"],
        "COPY file:85fe3414cdd9 /home/ci/.ssh/id_rsa"
    );
    assert!(!data["advice"].as_array().unwrap().is_empty());
    assert!(!data["secrets"].as_array().unwrap().is_empty());
    // Each node names the layer that wrote it: assets.bin came with the .netrc step (layer 3).
    let assets = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n[1] == "assets.bin")
        .expect("assets.bin listed");
    assert_eq!(assets[4], 3);
    assert_eq!(assets[3], 524_288);
}

/// A file named like markup stays text: the data block cannot be closed, no element is created by a name.
#[test]
fn a_file_named_like_markup_cannot_inject_into_the_page() {
    let dir = tempfile::tempdir().unwrap();
    // A name cannot hold `/`; the history carries a `</script>`.
    let name: &'static str = "app/<img src=x onerror=alert(1)>&amp;<!--.txt";
    let mut img = Img::new(
        "evil:1",
        vec![layer(&[file(name, b"0123456789"), file("app/b", b"x")])],
    );
    img.history = vec![(
        "/bin/sh -c echo '</script><script>alert(2)</script>'".to_string(),
        false,
    )];
    let archive = write_file(dir.path(), "evil.tar", &tar_files(&docker_legacy(&[img])));
    let page = html_of(&["--no-secrets", &archive]);
    assert!(!page.contains("<img"), "markup from a name in the page");
    assert!(!page.contains("alert(2)</script>"));
    // Exactly the page's own two script blocks close.
    assert_eq!(page.matches("</script>").count(), 2);
    let data = data_of(&page);
    let names: Vec<&str> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[1].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"<img src=x onerror=alert(1)>&amp;<!--.txt"),
        "{names:?}"
    );
    assert_eq!(
        data["layers"][0]["instruction"],
        "RUN echo '</script><script>alert(2)</script>'"
    );
    assert!(data["secrets"].is_null());
}

/// Past the entry budget, small entries are folded per directory and layer: the page stays small, and its
/// bytes still add up.
#[test]
fn a_page_for_many_files_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let mut layers = Vec::new();
    let mut total = 0u64;
    for l in 0..2 {
        let mut b = tar::Builder::new(Vec::new());
        for i in 0..20_000u64 {
            let data = vec![b'x'; (i % 40) as usize + if i == 7 { 5000 } else { 0 }];
            total += data.len() as u64;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            let path = format!(
                "usr/share/layer{l}/dir{:03}/a-long-file-name-to-weigh-on-the-page-{i:06}.txt",
                i % 300
            );
            b.append_data(&mut h, path, &data[..]).unwrap();
        }
        layers.push(b.into_inner().unwrap());
    }
    let archive = write_file(
        dir.path(),
        "many.tar",
        &tar_files(&docker_legacy(&[Img::new("many:1", layers)])),
    );
    let page = html_of(&["--no-secrets", &archive]);
    // Unfolded, 40,000 names of 45 bytes and more would weigh 2 MB alone.
    assert!(page.len() < 1_000_000, "page of {} bytes", page.len());
    let data = data_of(&page);
    assert_eq!(data["folded"], true);
    let nodes = data["nodes"].as_array().unwrap();
    // At most the budget of listed entries, and one folded node per listed directory.
    assert!(nodes.len() <= 11_000, "{} nodes", nodes.len());
    assert_eq!(nodes[0][3].as_u64().unwrap(), total);
    // The large files are still listed one by one; the small ones are counted in folded nodes.
    assert!(
        nodes
            .iter()
            .any(|n| n[1] == "a-long-file-name-to-weigh-on-the-page-000007.txt")
    );
    let folded: u64 = nodes
        .iter()
        .filter(|n| n[2] == "a")
        .map(|n| n[5].as_u64().unwrap())
        .sum();
    assert!(folded > 29_000, "{folded} entries folded");
}
