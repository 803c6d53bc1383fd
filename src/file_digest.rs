//! The content identity of a regular file: a BLAKE3 digest of its bytes, computed as they stream past while a
//! layer is read (never in a second pass). Two files are the same content exactly when their digests are equal;
//! BLAKE3 is collision resistant, so an image cannot make two different files look alike (see
//! docs/DECISIONS.md, "File content digests").

use std::fmt;
use std::io::{self, Read};

use crate::elf::{ElfInfo, ElfProbe};

/// The BLAKE3 digest of a file's bytes; shown as `blake3:<64 hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileDigest([u8; 32]);

impl FileDigest {
    /// The digest of `data` (for tests and small in-memory contents).
    pub fn of(data: &[u8]) -> FileDigest {
        FileDigest(*blake3::hash(data).as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for FileDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for FileDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Hashes one file after another with one hasher and one read buffer (nothing allocated per file). The same
/// bytes pass an ELF probe (`crate::elf`), which learns a binary's debug sections on the way.
pub(crate) struct FileHasher {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
    elf: ElfProbe,
}

/// Read size for the bytes nobody else wants: large enough for BLAKE3's SIMD to hash many 1 KiB chunks at once.
const READ_BYTES: usize = 128 * 1024;

impl FileHasher {
    pub(crate) fn new() -> FileHasher {
        FileHasher {
            hasher: blake3::Hasher::new(),
            buf: Vec::new(),
            elf: ElfProbe::default(),
        }
    }

    /// The debug sections of the last file hashed to its end, if it is an ELF file with some.
    pub(crate) fn elf(&self) -> Option<ElfInfo> {
        self.elf.found()
    }

    /// Starts a file: the returned reader hashes every byte read through it; `finish` reads and hashes the rest.
    pub(crate) fn file<R: Read>(&mut self, inner: R) -> Hashed<'_, R> {
        self.hasher.reset();
        self.elf.reset();
        Hashed {
            inner,
            hasher: &mut self.hasher,
            buf: &mut self.buf,
            elf: &mut self.elf,
        }
    }
}

/// A file being read: every byte read through it is hashed.
pub(crate) struct Hashed<'h, R> {
    inner: R,
    hasher: &'h mut blake3::Hasher,
    buf: &'h mut Vec<u8>,
    elf: &'h mut ElfProbe,
}

impl<R: Read> Read for Hashed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.elf.feed(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> Hashed<'_, R> {
    /// Reads what nobody read yet to the end, hashing it, and returns the digest of all the file's bytes.
    pub(crate) fn finish(mut self) -> io::Result<FileDigest> {
        if self.buf.len() < READ_BYTES {
            self.buf.resize(READ_BYTES, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.hasher.update(&self.buf[..n]);
                    self.elf.feed(&self.buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.elf.finish();
        Ok(FileDigest(*self.hasher.finalize().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes read through the reader and bytes left for `finish` hash to the digest of the whole file, and one
    /// hasher serves file after file.
    #[test]
    fn partial_reads_and_the_rest_hash_to_the_whole() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = FileHasher::new();
        for split in [0, 1, 4096, 299_999, 300_000] {
            let mut file = hasher.file(&data[..]);
            let mut head = vec![0u8; split];
            file.read_exact(&mut head).unwrap();
            assert_eq!(file.finish().unwrap(), FileDigest::of(&data), "{split}");
        }
        assert_eq!(hasher.file(&b""[..]).finish().unwrap(), FileDigest::of(b""));
    }

    #[test]
    fn shown_with_its_algorithm() {
        let shown = FileDigest::of(b"abc").to_string();
        // The BLAKE3 test vector for "abc".
        assert_eq!(
            shown,
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(serde_json::to_value(FileDigest::of(b"abc")).unwrap(), shown);
    }
}
