//! The fuzzed entry points: each function takes the fuzzer's bytes, feeds them to the library the way a hostile
//! image or config file would reach it, and ignores errors (only a panic, a hang or runaway memory is a bug).
//! The fuzz targets call these, and `tests/fuzz_regressions.rs` includes this file to replay every committed
//! crash input with the stable toolchain.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use layerscope::layer::{self, ContentInspector, NoProgress, ScanOptions};
use layerscope::secrets::SecretScanner;
use layerscope::secrets::rules::Ruleset;
use layerscope::source::{ArchiveSource, ContainerdStore, ImageSource, LoadOptions, Selection};
use sha2::{Digest, Sha256};

/// The built-in secret rules, compiled once per process (compiling them costs more than most inputs).
fn scanner() -> Option<&'static Arc<SecretScanner>> {
    static SCANNER: OnceLock<Option<Arc<SecretScanner>>> = OnceLock::new();
    SCANNER
        .get_or_init(|| {
            Ruleset::builtin()
                .ok()
                .map(|r| Arc::new(SecretScanner::new(r, 1 << 20)))
        })
        .as_ref()
}

/// A whole image file: the first byte picks how the rest is stored (bits 0-1: as is, gzip- or zstd-compressed,
/// so the streamed reader sees well-formed compression around fuzzed tar bytes), whether digests are verified
/// (bit 2) and whether the secret scanner runs (bit 3).
pub fn archive(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let stored: Cow<[u8]> = match mode & 3 {
        1 => Cow::Owned(gzip(body)),
        2 => match zstd::encode_all(body, 1) {
            Ok(z) => Cow::Owned(z),
            Err(_) => return,
        },
        _ => Cow::Borrowed(body),
    };
    load_archive(&stored, mode & 4 != 0, mode & 8 != 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Loads `bytes` as an image archive file, then builds what every command builds from it and the `ls` listing.
fn load_archive(bytes: &[u8], verify: bool, inspect: bool) {
    let Ok(mut file) = tempfile::Builder::new()
        .prefix("layerscope-fuzz")
        .suffix(".tar")
        .tempfile()
    else {
        return;
    };
    if file.write_all(bytes).and_then(|_| file.flush()).is_err() {
        return;
    }
    let name = file.path().to_string_lossy().into_owned();
    let opts = LoadOptions {
        selection: Selection {
            verify,
            ..Selection::default()
        },
        capture: None,
        inspector: if inspect {
            scanner().map(|s| s.clone() as Arc<dyn ContentInspector + Send>)
        } else {
            None
        },
        limits: layerscope::limits::Limits::default(),
        ..LoadOptions::default()
    };
    let Ok(loaded) = ArchiveSource::new(&name).load(&opts, &NoProgress) else {
        return;
    };
    let analysis = layerscope::analysis::analyze(&loaded.image, 0);
    // What `ls` prints: the merged tree at the top layer.
    if let Some(top) = analysis.tree.layer_count().checked_sub(1)
        && let Ok(top) = u32::try_from(top)
    {
        let _ = layerscope::tree::TreeView::at_layer(&analysis.tree, top).merged(false);
    }
    // Re-reading an entry takes the catalog's random-access path (a fresh reader on the stored blob).
    if let Some((i, l)) = loaded
        .image
        .layers
        .iter()
        .enumerate()
        .find(|(_, l)| !l.scan.entries.is_empty())
    {
        let _ = loaded.entry_prefix(i, (l.scan.entries.len() - 1) as u32, 1 << 20);
    }
    drop(analysis);
}

/// One layer blob (tar, gzip or zstd by magic), scanned with the secret scanner on and one path captured, then
/// read again up to its last entry and built into a tree.
pub fn layer(data: &[u8]) {
    let opts = ScanOptions {
        capture: Some(b"etc/passwd"),
        inspector: scanner().map(|s| s.as_ref() as &dyn ContentInspector),
        ..ScanOptions::default()
    };
    let Ok(scan) = layer::scan_blob(data, opts) else {
        return;
    };
    if let Some(last) = scan.entries.len().checked_sub(1) {
        let _ = layer::copy_entry(
            data,
            last as u32,
            &mut std::io::sink(),
            Some(1 << 20),
            layerscope::limits::Limits::default(),
        );
    }
    let tree = layerscope::tree::ImageTree::build(&[Arc::new(scan)]);
    let _ = layerscope::analysis::waste::wasted_files(&tree);
}

/// A small layer tar (one file) that a member written as `@LAYER@` stands for.
fn small_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    let _ = b.append_data(&mut h, "etc/hello", &b"hello"[..]);
    b.into_inner().unwrap_or_default()
}

/// Members a `manifests` input can name (as many as placeholder slots).
const MAX_MEMBERS: usize = 36;

/// Manifests, indexes and configs. The input is `mode NUL name NUL content NUL name NUL content ...`: the members
/// of an archive built in memory (mode bit 0: verify, bit 1: gzip the archive). In a content, `@Dn@` stands
/// for the sha256 hex of member n's content and `@Sn@` for its size (n in `0-9A-Z`), so the fuzzer can keep the
/// digest links of a real layout intact; `@LAYER@` as a whole content is a small valid layer and `@LINK@target`
/// makes the member a symlink. The whole input is also parsed as an image config.
pub fn manifests(data: &[u8]) {
    let _ = layerscope::image::ImageConfig::parse(data);
    let mut parts = data.split(|&b| b == 0);
    let mode = parts.next().and_then(|m| m.first().copied()).unwrap_or(0);
    let mut names = Vec::new();
    let mut contents = Vec::new();
    while let (Some(name), Some(content)) = (parts.next(), parts.next()) {
        names.push(name.to_vec());
        contents.push(if content == b"@LAYER@" {
            small_layer()
        } else {
            content.to_vec()
        });
        if names.len() == MAX_MEMBERS {
            break;
        }
    }
    link_digests(&mut names, &mut contents);
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in names.iter().zip(&contents) {
        let mut h = tar::Header::new_gnu();
        if h.set_path(Path::new(&*String::from_utf8_lossy(name)))
            .is_err()
        {
            continue;
        }
        h.set_mode(0o644);
        let body: &[u8] = match content.strip_prefix(b"@LINK@") {
            Some(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                if h.set_link_name(Path::new(&*String::from_utf8_lossy(target)))
                    .is_err()
                {
                    continue;
                }
                &[]
            }
            None => content,
        };
        h.set_size(body.len() as u64);
        h.set_cksum();
        if b.append(&h, body).is_err() {
            return;
        }
    }
    let Ok(tar) = b.into_inner() else {
        return;
    };
    let stored = if mode & 2 != 0 { gzip(&tar) } else { tar };
    load_archive(&stored, mode & 1 != 0, false);
}

/// A member number in a placeholder: `0`-`9`, then `A`-`Z`.
fn slot(c: u8) -> Option<usize> {
    match c {
        b'0'..=b'9' => Some(usize::from(c - b'0')),
        b'A'..=b'Z' => Some(usize::from(c - b'A') + 10),
        _ => None,
    }
}

/// Whether a content still holds a placeholder.
fn pending(c: &[u8]) -> bool {
    c.windows(4).any(|w| {
        w[0] == b'@' && matches!(w[1], b'D' | b'S') && slot(w[2]).is_some() && w[3] == b'@'
    })
}

/// Member n's sha256 hex and size, when its content is settled.
type Known = Vec<Option<(String, usize)>>;

/// Replaces the placeholders of members already settled; whether anything changed.
fn substitute(c: &mut Vec<u8>, known: &Known) -> bool {
    let mut out = Vec::with_capacity(c.len() + 64);
    let mut changed = false;
    let mut i = 0;
    while i < c.len() {
        let w = &c[i..c.len().min(i + 4)];
        let target = (w.len() == 4 && w[0] == b'@' && w[3] == b'@')
            .then(|| slot(w[2]))
            .flatten()
            .and_then(|n| known.get(n).cloned().flatten());
        match (w.get(1), target) {
            (Some(b'D'), Some((hex, _))) => out.extend_from_slice(hex.as_bytes()),
            (Some(b'S'), Some((_, size))) => out.extend_from_slice(size.to_string().as_bytes()),
            _ => {
                out.push(c[i]);
                i += 1;
                continue;
            }
        }
        i += 4;
        changed = true;
    }
    *c = out;
    changed
}

/// Replaces `@Dn@`/`@Sn@` in contents by member n's digest/size once member n has no placeholders left (a few
/// rounds settle index -> nested indexes -> manifest -> config/layers), then in names (`blobs/sha256/@D3@`).
fn link_digests(names: &mut [Vec<u8>], contents: &mut [Vec<u8>]) {
    let known = |contents: &[Vec<u8>]| -> Known {
        contents
            .iter()
            .map(|c| (!pending(c)).then(|| (hex::encode(Sha256::digest(c)), c.len())))
            .collect()
    };
    for _ in 0..MAX_MEMBERS {
        let settled = known(contents);
        let mut changed = false;
        for c in contents.iter_mut().filter(|c| pending(c)) {
            changed |= substitute(c, &settled);
        }
        if !changed {
            break;
        }
    }
    let settled = known(contents);
    for n in names.iter_mut() {
        substitute(n, &settled);
    }
}

/// A `.layerscope.toml` (first byte even) or a `.dive-ci` (odd), read the way `--config` and the automatic
/// lookup read them.
pub fn config_file(data: &[u8]) {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join(if kind & 1 == 0 {
        ".layerscope.toml"
    } else {
        ".dive-ci"
    });
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let _ = layerscope::config::Config::load(Some(&path), dir.path());
}

/// A file for the secret scanner: `path NUL content` (no NUL: the whole input is the content of `/x`).
pub fn secrets(data: &[u8]) {
    let Some(scanner) = scanner() else {
        return;
    };
    let (path, content) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"x"[..], data),
    };
    let _ = scanner.scan_text(content);
    let mut hits = Vec::new();
    scanner.inspect(path, content, &mut hits);
}

/// containerd's metadata database: the input is a `meta.db` (bbolt pages), placed in a containerd root with an
/// empty content store. An image is looked up by a name the seeds hold, by a name none holds (every image of
/// every namespace is compared), and by an image ID prefix (every target digest is read); then the message
/// listing what the store holds is built.
pub fn containerd(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let bolt = dir.path().join("io.containerd.metadata.v1.bolt");
    let content = dir.path().join("io.containerd.content.v1.content");
    if std::fs::create_dir_all(&bolt)
        .and_then(|_| std::fs::create_dir_all(&content))
        .and_then(|_| std::fs::write(bolt.join("meta.db"), data))
        .is_err()
    {
        return;
    }
    for reference in [
        "layerscope-demo:1",
        "absent/image:tag",
        "sha256:000000000000",
    ] {
        let store = ContainerdStore {
            root: dir.path().to_path_buf(),
            namespace: None,
            reference: reference.into(),
        };
        let _ = store.load(&LoadOptions::default(), &NoProgress);
        let _ = store.not_found();
    }
}

/// What a registry sends: see `layerscope::source::parse_registry_responses` for the input's fields.
pub fn registry(data: &[u8]) {
    layerscope::source::parse_registry_responses(data);
}
