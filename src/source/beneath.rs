//! Reading files inside a directory the user named (an OCI layout, an unpacked `docker save`, an engine store)
//! so that nothing outside it is ever read through it. The kernel enforces the confinement: `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` resolves every component relative to the directory's handle and
//! refuses `..`, absolute symlinks and symlinks that climb above it. Where the kernel has no `openat2`
//! (before 5.6, or a seccomp filter answering ENOSYS or EPERM) the same rule is applied one component at a
//! time with `O_NOFOLLOW`, reading each symlink and resolving it ourselves. A symlink whose target stays inside keeps
//! working (legacy `docker save` links `<id>/layer.tar -> ../<other>/layer.tar`); an absolute target is refused,
//! not re-rooted.
//!
//! Only regular files are opened: the open itself is non-blocking (a FIFO never blocks it), then the handle is
//! checked with `fstat`, so a FIFO, a device or a directory is refused before a byte is read.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

/// Symlinks followed in one path before giving up, as the kernel does (`MAXSYMLINKS`).
const MAX_HOPS: usize = 40;

/// Set once `openat2` answered ENOSYS: later opens go straight to the component walk.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// A directory whose files are opened without ever leaving it.
#[derive(Debug)]
pub(crate) struct Beneath {
    dir: OwnedFd,
}

fn outside() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "refused: a symlink or `..` leading outside the directory",
    )
}

fn not_regular(kind: FileType) -> io::Error {
    let what = match kind {
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        _ => "not a regular file",
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("refused: {what}, not a regular file"),
    )
}

impl Beneath {
    /// Opens the directory itself. The path is the user's choice, so it may be or pass through a symlink.
    pub(crate) fn open(path: &Path) -> io::Result<Beneath> {
        let dir = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Beneath { dir })
    }

    /// The directory at `rel` inside this one, itself confined.
    pub(crate) fn directory(&self, rel: &[u8]) -> io::Result<Beneath> {
        Ok(Beneath {
            dir: self.open_within(rel, true)?,
        })
    }

    /// Reads the regular file at `rel`, refusing it when it holds more than `limit` bytes. The limit applies to
    /// the bytes actually read (at most `limit + 1`), never to what the file's metadata claims.
    pub(crate) fn read_limited(&self, rel: &[u8], limit: u64) -> io::Result<Vec<u8>> {
        read_at_most(self.file(rel)?, limit)
    }

    /// Opens the regular file at `rel` (a relative, `/`-separated path, any bytes) inside the directory.
    pub(crate) fn file(&self, rel: &[u8]) -> io::Result<File> {
        let fd = self.open_within(rel, false)?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
        if kind != FileType::RegularFile {
            return Err(not_regular(kind));
        }
        // O_NONBLOCK means nothing for a regular file's reads on Linux; cleared anyway so the handle is plain.
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK)?;
        Ok(File::from(fd))
    }

    fn open_within(&self, rel: &[u8], directory: bool) -> io::Result<OwnedFd> {
        let flags = OFlags::RDONLY
            | OFlags::CLOEXEC
            | OFlags::NOCTTY
            | if directory {
                OFlags::DIRECTORY
            } else {
                OFlags::NONBLOCK
            };
        if rel.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"));
        }
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            match rustix::fs::openat2(
                &self.dir,
                rel,
                flags,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => return Ok(fd),
                Err(rustix::io::Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
                // Older seccomp profiles answer EPERM for system calls they do not know; the walk is as safe.
                Err(rustix::io::Errno::PERM) => {}
                Err(rustix::io::Errno::XDEV) => return Err(outside()),
                Err(e) => return Err(e.into()),
            }
        }
        open_by_components(self.dir.as_fd(), rel, flags)
    }
}

/// Reads all of `reader`, failing when it holds more than `limit` bytes; reads at most `limit + 1` bytes.
pub(crate) fn read_at_most(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("more than {limit} bytes, too large for image metadata"),
        ));
    }
    Ok(data)
}

/// The same confinement as `RESOLVE_BENEATH`, without `openat2`: each component is opened with `O_NOFOLLOW`
/// relative to the one before; a symlink met on the way is read and its target walked the same way; `..` pops
/// a directory and may not pop the root; an absolute target is refused.
fn open_by_components(root: BorrowedFd<'_>, rel: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    let mut pending: VecDeque<Vec<u8>> = components(rel).collect();
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut hops = 0;
    while let Some(name) = pending.pop_front() {
        if name == b".." {
            stack.pop().ok_or_else(outside)?;
            continue;
        }
        let here = stack.last().map_or(root, |d| d.as_fd());
        let last = pending.is_empty();
        let these = if last {
            flags | OFlags::NOFOLLOW
        } else {
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY | OFlags::NOFOLLOW
        };
        match rustix::fs::openat(here, name.as_slice(), these, Mode::empty()) {
            Ok(fd) if last => return Ok(fd),
            Ok(fd) => stack.push(fd),
            Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                let target = match rustix::fs::readlinkat(here, name.as_slice(), Vec::new()) {
                    Ok(t) => t.into_bytes(),
                    Err(_) => return Err(e.into()), // not a symlink: the first error stands
                };
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(rustix::io::Errno::LOOP.into());
                }
                if target.starts_with(b"/") {
                    return Err(outside());
                }
                for part in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(part);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The path named the directory itself (`a/..`).
    match stack.pop() {
        Some(dir) if flags.contains(OFlags::DIRECTORY) => Ok(dir),
        _ => Err(not_regular(FileType::Directory)),
    }
}

/// `root/a/b/...` when each of `parts` below `root` is a real directory, not a symlink (the root itself is the
/// user's choice). For walking a store's layer directory by path, which the walk itself must not leave either
/// (`follow_root_links(false)`).
pub(crate) fn real_directory(root: &Path, parts: &[&str]) -> io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    for part in parts {
        if part.is_empty() || *part == "." || *part == ".." || part.contains('/') {
            return Err(outside());
        }
        path.push(part);
        let meta = path.symlink_metadata()?;
        if meta.file_type().is_symlink() {
            return Err(outside());
        }
        if !meta.is_dir() {
            return Err(not_regular_dir());
        }
    }
    Ok(path)
}

fn not_regular_dir() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "refused: not a directory")
}

fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A directory `root/` holding `data/real`, `data/inner -> real`, `up/link -> ../data/real`, links out,
    /// and a FIFO; `outside` sits beside it.
    fn sample() -> (tempfile::TempDir, std::path::PathBuf) {
        let top = tempfile::tempdir().unwrap();
        std::fs::write(top.path().join("outside"), b"host secret").unwrap();
        let root = top.path().join("root");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(root.join("up")).unwrap();
        std::fs::write(root.join("data/real"), b"inside").unwrap();
        symlink("real", root.join("data/inner")).unwrap();
        symlink("../data/real", root.join("up/link")).unwrap();
        symlink("../data", root.join("up/dirlink")).unwrap();
        symlink("../outside", root.join("escape")).unwrap();
        symlink("../../outside", root.join("data/escape")).unwrap();
        symlink(top.path().join("outside"), root.join("absolute")).unwrap();
        symlink("/dev/zero", root.join("zero")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        (top, root)
    }

    fn read(dir: &Beneath, rel: &str) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        dir.file(rel.as_bytes())?.read_to_end(&mut data)?;
        Ok(data)
    }

    fn read_by_components(root: &Path, rel: &str) -> io::Result<Vec<u8>> {
        let dir = Beneath::open(root)?;
        let fd = open_by_components(
            dir.dir.as_fd(),
            rel.as_bytes(),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        )?;
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
        if kind != FileType::RegularFile {
            return Err(not_regular(kind));
        }
        let mut data = Vec::new();
        File::from(fd).read_to_end(&mut data)?;
        Ok(data)
    }

    #[test]
    fn links_inside_the_directory_are_followed() {
        let (_top, root) = sample();
        let dir = Beneath::open(&root).unwrap();
        for rel in ["data/real", "data/inner", "up/link", "up/dirlink/real"] {
            assert_eq!(read(&dir, rel).unwrap(), b"inside", "{rel}");
            assert_eq!(read_by_components(&root, rel).unwrap(), b"inside", "{rel}");
        }
    }

    #[test]
    fn nothing_outside_the_directory_is_opened() {
        let (_top, root) = sample();
        let dir = Beneath::open(&root).unwrap();
        for rel in [
            "escape",
            "data/escape",
            "absolute",
            "zero",
            "../outside",
            "data/../../outside",
            "loop",
        ] {
            let err = read(&dir, rel).unwrap_err();
            assert!(
                err.to_string().contains("outside the directory")
                    || err.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()),
                "{rel}: {err}"
            );
            assert!(read_by_components(&root, rel).is_err(), "{rel}");
        }
    }

    #[test]
    fn fifos_and_directories_are_refused_without_blocking() {
        let (_top, root) = sample();
        let dir = Beneath::open(&root).unwrap();
        for rel in ["fifo", "data"] {
            let err = read(&dir, rel).unwrap_err();
            assert!(
                err.to_string().contains("not a regular file"),
                "{rel}: {err}"
            );
            let err = read_by_components(&root, rel).unwrap_err();
            assert!(
                err.to_string().contains("not a regular file"),
                "{rel}: {err}"
            );
        }
    }

    #[test]
    fn the_root_may_itself_be_a_symlink() {
        let (top, root) = sample();
        let alias = top.path().join("alias");
        symlink(&root, &alias).unwrap();
        assert_eq!(
            read(&Beneath::open(&alias).unwrap(), "up/link").unwrap(),
            b"inside"
        );
    }

    #[test]
    fn the_size_limit_counts_bytes_read() {
        assert_eq!(read_at_most(&b"12345"[..], 5).unwrap(), b"12345");
        assert!(read_at_most(&b"123456"[..], 5).is_err());
        // An endless reader stops one byte past the limit.
        assert!(read_at_most(io::repeat(0), 1 << 20).is_err());
    }

    #[test]
    fn real_directories_refuse_symlinked_components() {
        let (_top, root) = sample();
        assert!(real_directory(&root, &["data"]).is_ok());
        assert!(real_directory(&root, &["up", "dirlink"]).is_err());
        assert!(real_directory(&root, &[".."]).is_err());
        assert!(real_directory(&root, &["data", "real"]).is_err());
    }
}
