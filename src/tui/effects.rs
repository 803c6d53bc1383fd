//! The explorer's slow work besides the terminal: reading a file version's bytes for the viewer and writing them
//! where the user asked (`x`). `App::update` asks for a [`Job`]; the worker (`worker.rs`) runs it off the UI
//! thread and reports its [`Outcome`] back as an action. Both re-read the layer blob up to the entry (a
//! registry layer from the blob cache, or fetched again) and stop at the next chunk once their cancellation flag
//! is set. Neither holds a whole file in memory: the viewer reads at most [`VIEWER_LIMIT`] bytes, extraction
//! streams into the file.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::layer::CopyError;
use crate::source::LoadedImage;

/// The viewer shows at most this much of a file.
pub const VIEWER_LIMIT: u64 = 1024 * 1024;

/// Names one request, so that the answer to an older one is recognised and ignored.
pub type JobId = u64;

/// Slow work `App::update` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// The bytes of a file version, for the viewer.
    ReadFile { layer: usize, entry: u32 },
    /// A file version written to `to` (replacing what is there only when `overwrite`).
    Extract {
        layer: usize,
        entry: u32,
        to: PathBuf,
        overwrite: bool,
    },
}

/// Jobs of one lane replace each other: a new request cancels the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Viewer,
    Extract,
}

impl Job {
    pub fn lane(&self) -> Lane {
        match self {
            Job::ReadFile { .. } => Lane::Viewer,
            Job::Extract { .. } => Lane::Extract,
        }
    }
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The whole file, or why it could not be read.
    FileRead(Result<Vec<u8>, String>),
    /// The first bytes of a file too long to show whole (see [`VIEWER_LIMIT`]).
    FileHead(Vec<u8>),
    /// What the extraction did: a message, or the error.
    Extracted(Result<String, String>),
    /// The target exists and `overwrite` was not given.
    ExtractExists(PathBuf),
}

/// Runs a job, stopping early (with an outcome nobody will look at) once `cancel` is set.
pub fn perform(loaded: &LoadedImage, job: &Job, cancel: &AtomicBool) -> Outcome {
    match job {
        Job::ReadFile { layer, entry } => {
            let mut bytes = Vec::new();
            match loaded.copy_entry_cancellable(
                *layer,
                *entry,
                &mut bytes,
                Some(VIEWER_LIMIT),
                cancel,
            ) {
                Ok(copied) if copied.truncated => Outcome::FileHead(whole_characters(bytes)),
                Ok(_) => Outcome::FileRead(Ok(bytes)),
                Err(CopyError::Read(e)) => Outcome::FileRead(Err(e.to_string())),
                Err(CopyError::Write(e)) => Outcome::FileRead(Err(e.to_string())),
            }
        }
        Job::Extract {
            layer,
            entry,
            to,
            overwrite,
        } => {
            if !overwrite && to.symlink_metadata().is_ok() {
                return Outcome::ExtractExists(to.clone());
            }
            match extract(loaded, *layer, *entry, to, *overwrite, cancel) {
                Err(e) if !overwrite && e.kind() == io::ErrorKind::AlreadyExists => {
                    Outcome::ExtractExists(to.clone())
                }
                result => Outcome::Extracted(result.map_err(|e| format!("{}: {e}", to.display()))),
            }
        }
    }
}

/// A prefix cut inside a UTF-8 character would make a text file look binary: drop the partial character.
fn whole_characters(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Err(e) = std::str::from_utf8(&bytes)
        && e.error_len().is_none()
    {
        bytes.truncate(e.valid_up_to());
    }
    bytes
}

/// Writes an entry's bytes to `to` as they are read, with the entry's permission bits (setuid, setgid and
/// sticky dropped), creating parent directories. Never writes through a symlink: a new file is created
/// exclusively (`O_EXCL` refuses an existing link), and an overwrite writes a new file beside `to` and renames
/// it over `to`, which replaces a link itself, never its target.
fn extract(
    loaded: &LoadedImage,
    layer: usize,
    entry: u32,
    to: &Path,
    overwrite: bool,
    cancel: &AtomicBool,
) -> io::Result<String> {
    let mode = loaded
        .image
        .layers
        .get(layer)
        .and_then(|l| l.scan.entries.get(entry as usize))
        .map_or(0o644, |e| e.mode);
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let target = if overwrite {
        sibling(to)
    } else {
        to.to_path_buf()
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(0o600)
        .open(&target)?;
    let written = write_entry(loaded, layer, entry, &mut file, mode & 0o777, cancel);
    let written = written.and_then(|n| {
        if overwrite {
            std::fs::rename(&target, to)?;
        }
        Ok(n)
    });
    let bytes = match written {
        Ok(n) => n,
        Err(e) => {
            // Only the file this call created is removed.
            let _ = std::fs::remove_file(&target);
            return Err(e);
        }
    };
    let dropped = if mode & 0o7000 != 0 {
        ", setuid/setgid/sticky bits dropped"
    } else {
        ""
    };
    Ok(format!(
        "wrote {bytes} bytes to {} (mode {:04o}{dropped})",
        to.display(),
        mode & 0o777
    ))
}

fn write_entry(
    loaded: &LoadedImage,
    layer: usize,
    entry: u32,
    file: &mut File,
    mode: u32,
    cancel: &AtomicBool,
) -> io::Result<u64> {
    let copied = loaded
        .copy_entry_cancellable(layer, entry, file, None, cancel)
        .map_err(|e| match e {
            CopyError::Read(e) => io::Error::other(e.to_string()),
            CopyError::Write(e) => e,
        })?;
    file.flush()?;
    file.set_permissions(Permissions::from_mode(mode))?;
    Ok(copied.bytes)
}

/// A new name beside `to` for writing before a rename over it.
fn sibling(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    to.with_file_name(format!(".{name}.layerscope-{}.part", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::NoProgress;
    use crate::source::{self, LoadOptions};

    fn run(loaded: &LoadedImage, job: &Job) -> Outcome {
        perform(loaded, job, &AtomicBool::new(false))
    }

    fn demo() -> LoadedImage {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/real/docker-legacy.tar"
        );
        source::open(path)
            .and_then(|s| s.load(&LoadOptions::default(), &NoProgress))
            .unwrap()
    }

    fn netrc(loaded: &LoadedImage) -> (usize, u32) {
        let layer = &loaded.image.layers[3];
        let i = layer
            .scan
            .entries
            .iter()
            .position(|e| &*e.path == b"home/ci/.netrc")
            .unwrap();
        (3, i as u32)
    }

    #[test]
    fn extract_refuses_to_overwrite_unless_confirmed() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("netrc");
        let write = |overwrite| Job::Extract {
            layer,
            entry,
            to: to.clone(),
            overwrite,
        };
        let first = run(&loaded, &write(false));
        assert!(matches!(first, Outcome::Extracted(Ok(_))), "{first:?}");
        assert!(
            std::fs::read(&to)
                .unwrap()
                .starts_with(b"machine api.example.com")
        );
        std::fs::write(&to, b"mine").unwrap();
        assert_eq!(
            run(&loaded, &write(false)),
            Outcome::ExtractExists(to.clone())
        );
        assert_eq!(std::fs::read(&to).unwrap(), b"mine");
        assert!(matches!(
            run(&loaded, &write(true)),
            Outcome::Extracted(Ok(_))
        ));
        assert!(std::fs::read(&to).unwrap().starts_with(b"machine"));
    }

    #[test]
    fn read_file_returns_a_deleted_version() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        match run(&loaded, &Job::ReadFile { layer, entry }) {
            Outcome::FileRead(Ok(bytes)) => assert!(bytes.starts_with(b"machine")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extraction_never_writes_through_a_symlink() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        let to = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &to).unwrap();
        let write = |overwrite| Job::Extract {
            layer,
            entry,
            to: to.clone(),
            overwrite,
        };
        assert_eq!(
            run(&loaded, &write(false)),
            Outcome::ExtractExists(to.clone())
        );
        let done = run(&loaded, &write(true));
        assert!(matches!(done, Outcome::Extracted(Ok(_))), "{done:?}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        assert!(to.symlink_metadata().unwrap().file_type().is_file());
        assert!(std::fs::read(&to).unwrap().starts_with(b"machine"));
        // Nothing left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn extraction_creates_parents_and_keeps_permission_bits_but_setuid() {
        let mut loaded = demo();
        let (layer, entry) = netrc(&loaded);
        let scan = std::sync::Arc::make_mut(&mut loaded.image.layers[layer].scan);
        scan.entries[entry as usize].mode = 0o4751;
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("a/b/netrc");
        let done = run(
            &loaded,
            &Job::Extract {
                layer,
                entry,
                to: to.clone(),
                overwrite: false,
            },
        );
        match done {
            Outcome::Extracted(Ok(message)) => {
                assert!(
                    message.contains("setuid/setgid/sticky bits dropped"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        let mode = to.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o751);
    }

    #[test]
    fn a_prefix_cut_inside_a_character_stays_text() {
        let text = "é".repeat(3).into_bytes();
        assert_eq!(whole_characters(text[..5].to_vec()), "éé".as_bytes());
        assert_eq!(whole_characters(b"\xff\x00ab".to_vec()), b"\xff\x00ab");
    }

    #[test]
    fn the_viewer_is_told_a_long_file_was_cut() {
        let loaded = demo();
        let entries = &loaded.image.layers[0].scan.entries;
        let busybox = entries
            .iter()
            .position(|e| &*e.path == b"bin/busybox")
            .unwrap() as u32;
        assert!(entries[busybox as usize].size > VIEWER_LIMIT);
        match run(
            &loaded,
            &Job::ReadFile {
                layer: 0,
                entry: busybox,
            },
        ) {
            Outcome::FileHead(bytes) => assert_eq!(bytes.len() as u64, VIEWER_LIMIT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_viewer_reads_a_bounded_prefix() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        let (bytes, cut) = loaded.entry_prefix(layer, entry, 7).unwrap();
        assert_eq!((bytes.as_slice(), cut), (&b"machine"[..], true));
    }
}
