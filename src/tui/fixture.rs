//! A small synthetic image for the explorer's tests, made in code (deterministic: fixed mtimes, no clock):
//! a base layer, a layer built with a secret build argument adding an app, a cache, a .netrc and a hardlink,
//! and a cleanup layer deleting the cache and the .netrc and rewriting the config.

use std::sync::Arc;

use crate::analysis::{self, Analysis};
use crate::image::{
    Format, HistoryItem, Image, ImageConfig, ImageMeta, Layer, Platform, map_history,
};
use crate::layer::{ScanOptions, scan_blob};
use crate::secrets::{Confidence, Location, SecretFinding, Severity, Status};

pub enum E {
    Dir(&'static str),
    File(&'static str, Vec<u8>),
    Link(&'static str, &'static str),
    Hard(&'static str, &'static str),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{p}/"), &[][..]).unwrap();
            }
            E::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                if p.ends_with(".netrc") {
                    h.set_uid(1000);
                    h.set_gid(1000);
                    h.set_mode(0o600);
                }
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            E::Link(p, t) | E::Hard(p, t) => {
                let kind = match e {
                    E::Link(..) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                };
                h.set_entry_type(kind);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn step(by: &str, empty: bool) -> HistoryItem {
    HistoryItem {
        created_by: Some(by.into()),
        created: (!empty).then(|| "2026-01-01T00:00:00Z".into()),
        empty_layer: empty,
        ..HistoryItem::default()
    }
}

pub fn layers() -> Vec<Vec<E>> {
    let binary: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 256) as u8).collect();
    vec![
        vec![
            E::Dir("bin"),
            E::File("bin/sh", binary),
            E::Link("bin/ash", "sh"),
            E::Dir("etc"),
            E::File("etc/hosts", b"127.0.0.1 localhost\n".to_vec()),
            E::File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n".to_vec()),
            E::File("usr/lib/libc.so", vec![7u8; 5000]),
        ],
        vec![
            E::File("srv/app/app.conf", b"port=8080\n".to_vec()),
            E::Hard("srv/app/app.conf.bak", "srv/app/app.conf"),
            E::File("srv/app/big.bin", vec![1u8; 3000]),
            E::File("tmp/cache.img", vec![0u8; 4000]),
            E::File(
                "home/ci/.netrc",
                b"machine x login ci password hunter2hunter2\n".to_vec(),
            ),
        ],
        vec![
            E::File("tmp/.wh.cache.img", Vec::new()),
            E::File("home/ci/.wh..netrc", Vec::new()),
            E::File("srv/app/app.conf", b"port=9090\nworkers=4\n".to_vec()),
        ],
    ]
}

pub fn image() -> Image {
    image_of(layers(), history())
}

fn history() -> Vec<HistoryItem> {
    vec![
        step(
            "/bin/sh -c #(nop) ADD file:0123456789abcdef0123 in / ",
            false,
        ),
        step(
            "|1 TOKEN=glpat-AXPX6LYbMJGeCI8m6XEH /bin/sh -c make install && cp cache /tmp/cache.img",
            false,
        ),
        step("/bin/sh -c #(nop)  ENV APP_ENV=production", true),
        step(
            "/bin/sh -c rm /tmp/cache.img /home/ci/.netrc && echo port=9090 > /srv/app/app.conf",
            false,
        ),
        step("/bin/sh -c #(nop) WORKDIR /srv/app", true),
        step("/bin/sh -c #(nop)  CMD [\"cat\" \"app.conf\"]", true),
    ]
}

/// A build step as long as real ones get, ending in a word a test can look for.
pub const LONG_INSTRUCTION: &str = "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends \
     ca-certificates curl git make && make install PREFIX=/srv/app && cp cache /tmp/cache.img && \
     rm -rf /var/lib/apt/lists/* && echo the-very-end";

/// The fixture image with [`LONG_INSTRUCTION`] as the step of layer 1.
pub fn long_instruction_image() -> Image {
    let mut history = history();
    history[1] = step(LONG_INSTRUCTION, false);
    image_of(layers(), history)
}

/// Text an image may carry to take over a terminal: an OSC title change, a colour, a cursor move and a
/// right-to-left override that shows `exe.txt` as `txt.exe`.
pub const HOSTILE: &str = "\u{1b}]0;owned\u{7}\u{1b}[31mred\u{1b}[2J\u{202e}exe.txt";

/// An image whose names, history, reference and platform carry [`HOSTILE`] text, with a secret finding
/// quoting it too.
pub fn hostile_image() -> Image {
    let name: &'static str = Box::leak(format!("srv/{HOSTILE}").into_boxed_str());
    let link: &'static str = Box::leak(format!("srv/link{HOSTILE}").into_boxed_str());
    let layers = vec![
        vec![E::File(name, format!("line {HOSTILE}\n").into_bytes())],
        vec![E::Link(link, name)],
    ];
    let history = vec![
        step(&format!("/bin/sh -c echo {HOSTILE} > /{name}"), false),
        step(&format!("/bin/sh -c #(nop)  LABEL x={HOSTILE}"), true),
        step(&format!("/bin/sh -c ln -s {HOSTILE} /srv/link"), false),
    ];
    let mut image = image_of(layers, history);
    image.meta.reference = Some(format!("evil:{HOSTILE}"));
    image
}

/// The analysis of [`hostile_image`], with a finding whose rule, path and match quote [`HOSTILE`].
pub fn hostile_analysis(image: &Image) -> Analysis {
    let mut a = analysis::analyze(image, 1);
    a.secrets.push(SecretFinding {
        rule: format!("rule{HOSTILE}"),
        description: HOSTILE.into(),
        severity: Severity::High,
        confidence: Confidence::High,
        location: Location::File,
        layer: Some(0),
        path: Some(format!("/srv/{HOSTILE}")),
        line: Some(1),
        status: Status::Visible,
        removed_in: None,
        instruction: Some(HOSTILE.into()),
        redacted: format!("m{HOSTILE}"),
        fingerprint: "f".into(),
    });
    a
}

fn image_of(specs: Vec<Vec<E>>, history: Vec<HistoryItem>) -> Image {
    let histories = map_history(&history, specs.len());
    let layers = specs
        .iter()
        .zip(histories)
        .enumerate()
        .map(|(index, (spec, history))| {
            let scan = scan_blob(&tar_of(spec)[..], ScanOptions::default()).unwrap();
            Layer {
                index,
                blob_path: format!("{index}/layer.tar"),
                media_type: None,
                diff_id: scan.diff_id.clone(),
                history,
                scan: Arc::new(scan),
            }
        })
        .collect();
    Image {
        meta: ImageMeta {
            source: "fixture.tar".into(),
            format: Format::DockerArchive,
            layout: "legacy",
            archive_compression: None,
            reference: Some("fixture:1".into()),
            platform: Platform::parse("linux/amd64").unwrap(),
            config_digest: "sha256:00".into(),
            manifest_digest: None,
            config: ImageConfig::default(),
            verification: Default::default(),
        },
        layers,
    }
}

/// The analysis, with one secret finding (as the scanner would report the .netrc).
pub fn analysis(image: &Image) -> Analysis {
    let mut a = analysis::analyze(image, 1);
    a.secrets.push(SecretFinding {
        rule: "netrc-password".into(),
        description: "password in a .netrc".into(),
        severity: Severity::High,
        confidence: Confidence::High,
        location: Location::File,
        layer: Some(1),
        path: Some("/home/ci/.netrc".into()),
        line: Some(1),
        status: Status::Removed,
        removed_in: Some(2),
        instruction: None,
        redacted: "hunt**********".into(),
        fingerprint: "f".into(),
    });
    a
}

/// [`analysis`] with more findings, as a real image has them: a critical one, a medium one, and low-confidence
/// hits in a `node_modules` tree and a test directory, out of order.
pub fn noisy_analysis(image: &Image) -> Analysis {
    let mut a = analysis(image);
    let finding = |rule: &str, severity, confidence, layer: u32, path: &str| SecretFinding {
        rule: rule.into(),
        description: rule.into(),
        severity,
        confidence,
        location: Location::File,
        layer: Some(layer),
        path: Some(path.into()),
        line: Some(1),
        status: Status::Visible,
        removed_in: None,
        instruction: None,
        redacted: "AKIA************".into(),
        fingerprint: rule.into(),
    };
    a.secrets.extend([
        finding(
            "aws-access-key",
            Severity::High,
            Confidence::Low,
            0,
            "/usr/lib/node_modules/aws-sdk/README.md",
        ),
        finding(
            "generic-secret",
            Severity::Medium,
            Confidence::High,
            1,
            "/srv/app/app.conf",
        ),
        finding(
            "private-key",
            Severity::Critical,
            Confidence::Low,
            1,
            "/usr/lib/python3/site-packages/tests/key.pem",
        ),
        finding(
            "aws-access-key",
            Severity::Critical,
            Confidence::High,
            2,
            "/srv/app/.env",
        ),
    ]);
    a
}

/// [`analysis`] with its advice computed (and masked) as the CLI does.
pub fn advised_analysis(image: &Image) -> Analysis {
    let mut a = analysis(image);
    analysis::advice::attach(image, &mut a);
    a
}

/// An earlier build of [`image`], to diff it against: the same base layer (shared), then a layer of its own
/// with `bin/ash` linked elsewhere, `big.bin` with other bytes, an `old.txt` and a tree `/opt/tool` the later
/// build dropped and the `.netrc` it deleted; `app.conf` already as the later build leaves it.
pub fn before_image() -> Image {
    let base = layers().into_iter().next().unwrap_or_default();
    let own = vec![
        E::Link("bin/ash", "busybox"),
        E::File("srv/app/app.conf", b"port=9090\nworkers=4\n".to_vec()),
        E::File("srv/app/big.bin", vec![2u8; 3000]),
        E::File("srv/app/old.txt", b"old\n".to_vec()),
        E::File("opt/tool/bin/run", vec![9u8; 100]),
        E::File("opt/tool/share/README", b"the tool\n".to_vec()),
        E::File(
            "home/ci/.netrc",
            b"machine x login ci password hunter2hunter2\n".to_vec(),
        ),
    ];
    let history = vec![
        step(
            "/bin/sh -c #(nop) ADD file:0123456789abcdef0123 in / ",
            false,
        ),
        step("/bin/sh -c make install", false),
    ];
    let mut image = image_of(vec![base, own], history);
    image.meta.reference = Some("fixture:0".into());
    image
}

/// The marks of `after` (B, analysed as `analysis`) against [`before_image`] (A), as `diff A B` makes them.
pub fn diff_marks(after: &Image, analysis: &Analysis) -> crate::tui::diff_marks::DiffMarks {
    use crate::analysis::diff::{DiffOptions, Side, diff};
    let before = before_image();
    let before_analysis = analysis::analyze(&before, 1);
    let result = diff(
        Side {
            image: &before,
            analysis: &before_analysis,
        },
        Side {
            image: after,
            analysis,
        },
        &DiffOptions {
            top_directories: 10,
            secrets: false,
        },
    );
    crate::tui::diff_marks::DiffMarks::new(&result, &analysis.tree)
}
