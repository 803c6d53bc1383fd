//! A read-only reader of bbolt database files (the format of containerd's `meta.db`), made to read a file that a
//! running writer holds locked. bbolt's own readers take a shared `flock`, which waits for as long as containerd
//! runs; this reader takes no lock and relies on the format instead. A commit writes its pages copy-on-write to
//! free pages and then the meta page of its transaction id (alternating between pages 0 and 1, with a checksum),
//! and a page still reachable from the newest meta is only rewritten by a commit two transactions later. So a
//! read picks the valid meta with the highest txid, walks from its root, and is consistent if no commit
//! happened meanwhile (the newest txid is unchanged after the walk); otherwise it is read again. Every offset is
//! checked against the page it points into, so a damaged file gives an error, never a panic.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const BUCKET_LEAF: u32 = 0x01;
/// A bucket's header in its parent's value: root page id and sequence.
const BUCKET_HEADER: usize = 16;
/// Deeper trees do not exist (a bbolt tree of 2^64 keys is far shallower); deeper means a damaged file.
const MAX_DEPTH: usize = 64;
/// Pages bbolt may write: page size 4 KiB to 64 KiB, in powers of two.
const PAGE_SIZES: [u64; 5] = [4096, 8192, 16384, 32768, 65536];
/// Reads attempted before giving up on a database that commits faster than it can be read.
const ATTEMPTS: u32 = 20;
/// Pages one snapshot may read per page of the file (and at least [`MIN_READS`]): a lookup reads each page
/// a few times, a walk once; a damaged file whose buckets share pages would otherwise make the work grow with the
/// square of its size.
const READS_PER_PAGE: u64 = 64;
const MIN_READS: u64 = 4096;

/// What can go wrong reading a bbolt file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BoltError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a bbolt database (no valid meta page)")]
    NotBolt,
    #[error("damaged database: page {page}: {detail}")]
    Damaged { page: u64, detail: String },
    #[error("the database changed during each of {ATTEMPTS} reads")]
    Busy,
    /// A record that is not what its reader expects (a caller's check, not the file's format).
    #[error("{0}")]
    Record(String),
}

fn damaged(page: u64, detail: impl Into<String>) -> BoltError {
    BoltError::Damaged {
        page,
        detail: detail.into(),
    }
}

/// FNV-1a, 64 bits: the checksum of a meta page.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// The fields of a meta page this reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    page_size: u64,
    root: u64,
    /// The high water mark: every page id in use is below it.
    pages: u64,
    txid: u64,
}

/// A meta page, if it is one and its checksum holds (a meta being written at this moment fails it).
fn parse_meta(page: &[u8], id: u64) -> Option<Meta> {
    let m = PAGE_HEADER;
    let valid = u64_at(page, 0)? == id
        && u16_at(page, 8)? == META_PAGE
        && u32_at(page, m)? == MAGIC
        && u32_at(page, m + 4)? == VERSION
        && u64_at(page, m + 56)? == fnv1a64(page.get(m..m + 56)?);
    let meta = Meta {
        page_size: u64::from(u32_at(page, m + 8)?),
        root: u64_at(page, m + 16)?,
        pages: u64_at(page, m + 40)?,
        txid: u64_at(page, m + 48)?,
    };
    (valid && PAGE_SIZES.contains(&meta.page_size) && meta.root < meta.pages).then_some(meta)
}

/// A bbolt file opened for reading, without a lock.
pub(crate) struct Bolt {
    file: File,
}

impl Bolt {
    pub(crate) fn open(path: &Path) -> Result<Bolt, BoltError> {
        Ok(Bolt {
            file: File::open(path)?,
        })
    }

    /// Reads `len` bytes at `offset`, or fewer at the end of the file.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, BoltError> {
        let mut buf = vec![0; len];
        let mut filled = 0;
        while filled < len {
            let Some(at) = offset.checked_add(filled as u64) else {
                break;
            };
            match self.file.read_at(&mut buf[filled..], at) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// The newest committed meta: page 0 tells the page size (else each size bbolt allows is tried for page 1).
    fn newest_meta(&self) -> Result<Meta, BoltError> {
        let first = parse_meta(&self.read_at(0, 4096)?, 0);
        let sizes: Vec<u64> = match first {
            Some(m) => vec![m.page_size],
            None => PAGE_SIZES.to_vec(),
        };
        let second = sizes.iter().find_map(|&size| {
            let page = self.read_at(size, 4096).ok()?;
            parse_meta(&page, 1).filter(|m| m.page_size == size)
        });
        match (first, second) {
            (Some(a), Some(b)) => Ok(if b.txid > a.txid { b } else { a }),
            (Some(m), None) | (None, Some(m)) => Ok(m),
            (None, None) => Err(BoltError::NotBolt),
        }
    }

    /// Runs `read` on a consistent snapshot of the database: again if a commit happened while it ran.
    pub(crate) fn read<T>(
        &self,
        read: impl Fn(&Tx<'_>) -> Result<T, BoltError>,
    ) -> Result<T, BoltError> {
        for _ in 0..ATTEMPTS {
            let meta = self.newest_meta()?;
            let file_len = self.file.metadata()?.len();
            let tx = Tx {
                bolt: self,
                meta,
                file_len,
                reads: Cell::new(
                    (file_len / meta.page_size)
                        .saturating_mul(READS_PER_PAGE)
                        .max(MIN_READS),
                ),
            };
            let result = read(&tx);
            if self.newest_meta()?.txid == meta.txid {
                return result;
            }
        }
        Err(BoltError::Busy)
    }
}

/// One snapshot of the database: the tree under one meta page.
pub(crate) struct Tx<'a> {
    bolt: &'a Bolt,
    meta: Meta,
    /// No page runs past the end of the file: a damaged overflow count must not size a buffer.
    file_len: u64,
    /// Pages left to read: the work on a snapshot is bounded by the size of its file.
    reads: Cell<u64>,
}

/// A bucket: its root page, or the page stored inline in its parent's value (small buckets).
#[derive(Debug, Clone)]
pub(crate) enum Bucket {
    Page(u64),
    Inline(Vec<u8>),
}

/// A value under a key: plain bytes or a nested bucket.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Bytes(Vec<u8>),
    Bucket(Bucket),
}

/// A page of the tree, with where it came from for messages.
struct Page {
    id: u64,
    data: Vec<u8>,
}

enum Node<'p> {
    /// (first key, child page), in key order.
    Branch(Vec<(&'p [u8], u64)>),
    /// (key, flags, value), in key order.
    Leaf(Vec<(&'p [u8], u32, &'p [u8])>),
}

impl Page {
    fn node(&self) -> Result<Node<'_>, BoltError> {
        let bad = |detail: &str| damaged(self.id, detail);
        let flags = u16_at(&self.data, 8).ok_or_else(|| bad("truncated header"))?;
        let count = usize::from(u16_at(&self.data, 10).ok_or_else(|| bad("truncated header"))?);
        let slice = |at: usize, len: usize| self.data.get(at..at.checked_add(len)?);
        match flags {
            BRANCH_PAGE => (0..count)
                .map(|i| {
                    let at = PAGE_HEADER + i * ELEMENT;
                    let (pos, ksize, child) = (
                        u32_at(&self.data, at),
                        u32_at(&self.data, at + 4),
                        u64_at(&self.data, at + 8),
                    );
                    let (Some(pos), Some(ksize), Some(child)) = (pos, ksize, child) else {
                        return Err(bad("element past the end of the page"));
                    };
                    let key = slice(at + pos as usize, ksize as usize)
                        .ok_or_else(|| bad("key past the end of the page"))?;
                    Ok((key, child))
                })
                .collect::<Result<_, _>>()
                .map(Node::Branch),
            LEAF_PAGE => (0..count)
                .map(|i| {
                    let at = PAGE_HEADER + i * ELEMENT;
                    let fields = [0, 4, 8, 12].map(|o| u32_at(&self.data, at + o));
                    let [Some(flags), Some(pos), Some(ksize), Some(vsize)] = fields else {
                        return Err(bad("element past the end of the page"));
                    };
                    let start = at + pos as usize;
                    let key = slice(start, ksize as usize)
                        .ok_or_else(|| bad("key past the end of the page"))?;
                    let value = slice(start + ksize as usize, vsize as usize)
                        .ok_or_else(|| bad("value past the end of the page"))?;
                    Ok((key, flags, value))
                })
                .collect::<Result<_, _>>()
                .map(Node::Leaf),
            other => Err(bad(&format!("unexpected page type {other:#x}"))),
        }
    }
}

fn value_of(flags: u32, value: &[u8], page: u64) -> Result<Value, BoltError> {
    if flags & BUCKET_LEAF == 0 {
        return Ok(Value::Bytes(value.to_vec()));
    }
    let root = u64_at(value, 0).ok_or_else(|| damaged(page, "truncated bucket header"))?;
    Ok(Value::Bucket(if root == 0 {
        Bucket::Inline(value.get(BUCKET_HEADER..).unwrap_or_default().to_vec())
    } else {
        Bucket::Page(root)
    }))
}

impl Tx<'_> {
    /// The root bucket, which holds the top-level buckets.
    pub(crate) fn root(&self) -> Bucket {
        Bucket::Page(self.meta.root)
    }

    fn page(&self, bucket_page: &Bucket) -> Result<Page, BoltError> {
        let id = match bucket_page {
            Bucket::Inline(data) => {
                return Ok(Page {
                    id: 0,
                    data: data.clone(),
                });
            }
            Bucket::Page(id) => *id,
        };
        // Pages 0 and 1 are the metas; ids at or above the high water mark are not in this snapshot.
        let size = self.meta.page_size;
        let offset = id.checked_mul(size).filter(|&o| o < self.file_len);
        let Some(offset) = offset.filter(|_| id >= 2 && id < self.meta.pages) else {
            return Err(damaged(id, "page id out of range"));
        };
        let head = self.bolt.read_at(offset, size as usize)?;
        if u64_at(&head, 0) != Some(id) {
            return Err(damaged(id, "the page names another id"));
        }
        let overflow = u64::from(u32_at(&head, 12).unwrap_or(0));
        let Some(left) = self.reads.get().checked_sub(overflow + 1) else {
            return Err(damaged(
                id,
                "more page reads than a database of this size needs (buckets share pages)",
            ));
        };
        self.reads.set(left);
        let end = id
            .saturating_add(overflow)
            .saturating_add(1)
            .saturating_mul(size);
        if id.saturating_add(overflow) >= self.meta.pages || end > self.file_len {
            return Err(damaged(id, "overflow past the last page"));
        }
        let data = if overflow == 0 {
            head
        } else {
            self.bolt
                .read_at(offset, ((overflow + 1) * size) as usize)?
        };
        Ok(Page { id, data })
    }

    /// The value stored under `key` in `bucket`.
    pub(crate) fn get(&self, bucket: &Bucket, key: &[u8]) -> Result<Option<Value>, BoltError> {
        let mut current = bucket.clone();
        for _ in 0..MAX_DEPTH {
            let page = self.page(&current)?;
            match page.node()? {
                Node::Branch(children) => {
                    // The last child whose first key is not above the key (the first child otherwise).
                    let after = children.partition_point(|(first, _)| *first <= key);
                    let Some((_, child)) = children.get(after.saturating_sub(1)) else {
                        return Ok(None);
                    };
                    current = Bucket::Page(*child);
                }
                Node::Leaf(entries) => {
                    return entries
                        .iter()
                        .find(|(k, _, _)| *k == key)
                        .map(|(_, flags, value)| value_of(*flags, value, page.id))
                        .transpose();
                }
            }
        }
        Err(damaged(0, "tree deeper than any bbolt writes"))
    }

    /// The bucket at `path` below the root, if every step exists and is a bucket.
    pub(crate) fn bucket(&self, path: &[&[u8]]) -> Result<Option<Bucket>, BoltError> {
        let mut current = self.root();
        for name in path {
            match self.get(&current, name)? {
                Some(Value::Bucket(b)) => current = b,
                _ => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// Every key of `bucket` with its value, in key order.
    pub(crate) fn entries(&self, bucket: &Bucket) -> Result<Vec<(Vec<u8>, Value)>, BoltError> {
        let mut out = Vec::new();
        // A tree reaches each of its pages once: a page seen again is a loop or pages shared (exponentially many
        // paths through a few pages).
        let mut seen = HashSet::new();
        self.collect(bucket, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    fn collect(
        &self,
        bucket: &Bucket,
        depth: usize,
        seen: &mut HashSet<u64>,
        out: &mut Vec<(Vec<u8>, Value)>,
    ) -> Result<(), BoltError> {
        if let Bucket::Page(id) = bucket
            && !seen.insert(*id)
        {
            return Err(damaged(*id, "the tree reaches this page twice"));
        }
        if depth >= MAX_DEPTH {
            return Err(damaged(0, "tree deeper than any bbolt writes"));
        }
        let page = self.page(bucket)?;
        match page.node()? {
            Node::Branch(children) => {
                for (_, child) in children {
                    self.collect(&Bucket::Page(child), depth + 1, seen, out)?;
                }
            }
            Node::Leaf(entries) => {
                for (key, flags, value) in entries {
                    out.push((key.to_vec(), value_of(flags, value, page.id)?));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes bbolt pages by hand, as bbolt lays them out, so the reader can be tested on shapes a small real
    /// database never has (branch pages, overflow pages, inline buckets, torn metas).
    pub(crate) struct Writer {
        pub page_size: usize,
        pub pages: Vec<Vec<u8>>,
    }

    pub(crate) enum Item {
        Bytes(&'static [u8], Vec<u8>),
        /// A bucket in its own page.
        Bucket(&'static [u8], u64),
        /// A bucket stored inline: its leaf page bytes.
        Inline(&'static [u8], Vec<u8>),
    }

    fn header(id: u64, flags: u16, count: usize, overflow: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(id.to_le_bytes());
        h.extend(flags.to_le_bytes());
        h.extend((count as u16).to_le_bytes());
        h.extend(overflow.to_le_bytes());
        h
    }

    pub(crate) fn leaf(id: u64, items: &[Item]) -> Vec<u8> {
        let mut page = header(id, LEAF_PAGE, items.len(), 0);
        let mut data = Vec::new();
        let base = PAGE_HEADER + items.len() * ELEMENT;
        for (i, item) in items.iter().enumerate() {
            let (flags, key, value) = match item {
                Item::Bytes(k, v) => (0, *k, v.clone()),
                Item::Bucket(k, root) => (BUCKET_LEAF, *k, [root.to_le_bytes(), [0; 8]].concat()),
                Item::Inline(k, p) => (BUCKET_LEAF, *k, [&[0; 16][..], p].concat()),
            };
            let pos = base + data.len() - (PAGE_HEADER + i * ELEMENT);
            for v in [flags, pos as u32, key.len() as u32, value.len() as u32] {
                page.extend(v.to_le_bytes());
            }
            data.extend(key);
            data.extend(value);
        }
        page.extend(data);
        page
    }

    pub(crate) fn branch(id: u64, children: &[(&[u8], u64)]) -> Vec<u8> {
        let mut page = header(id, BRANCH_PAGE, children.len(), 0);
        let mut data: Vec<u8> = Vec::new();
        let base = PAGE_HEADER + children.len() * ELEMENT;
        for (i, (key, child)) in children.iter().enumerate() {
            let pos = base + data.len() - (PAGE_HEADER + i * ELEMENT);
            page.extend((pos as u32).to_le_bytes());
            page.extend((key.len() as u32).to_le_bytes());
            page.extend(child.to_le_bytes());
            data.extend(*key);
        }
        page.extend(data);
        page
    }

    pub(crate) fn meta(id: u64, page_size: u32, root: u64, pages: u64, txid: u64) -> Vec<u8> {
        let mut page = header(id, META_PAGE, 0, 0);
        let mut m = Vec::new();
        for v in [MAGIC, VERSION, page_size, 0] {
            m.extend(v.to_le_bytes());
        }
        for v in [root, 0, u64::MAX, pages, txid] {
            m.extend(v.to_le_bytes());
        }
        m.extend(fnv1a64(&m).to_le_bytes());
        page.extend(m);
        page
    }

    impl Writer {
        pub(crate) fn new(page_size: usize) -> Writer {
            Writer {
                page_size,
                pages: Vec::new(),
            }
        }

        /// Places `page` at its id, padded to the page size (or to whole pages when it overflows).
        pub(crate) fn put(&mut self, id: usize, mut page: Vec<u8>) {
            let pages = page.len().div_ceil(self.page_size).max(1);
            if pages > 1 {
                page[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
            }
            page.resize(pages * self.page_size, 0);
            for (i, chunk) in page.chunks(self.page_size).enumerate() {
                if self.pages.len() <= id + i {
                    self.pages.resize(id + i + 1, vec![0; self.page_size]);
                }
                self.pages[id + i] = chunk.to_vec();
            }
        }

        pub(crate) fn write(&self, path: &Path) {
            std::fs::write(path, self.pages.concat()).unwrap();
        }
    }

    fn open(w: &Writer) -> (tempfile::TempDir, Bolt) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        w.write(&path);
        let bolt = Bolt::open(&path).unwrap();
        (dir, bolt)
    }

    fn bytes(v: Option<Value>) -> Vec<u8> {
        match v {
            Some(Value::Bytes(b)) => b,
            other => panic!("expected bytes, got {other:?}"),
        }
    }

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// The newest meta wins; a meta whose checksum fails (being written) is passed over for the other one.
    #[test]
    fn the_newest_valid_meta_is_read() {
        let mut w = Writer::new(4096);
        w.put(2, leaf(2, &[Item::Bytes(b"k", b"old".to_vec())]));
        w.put(3, leaf(3, &[Item::Bytes(b"k", b"new".to_vec())]));
        w.put(0, meta(0, 4096, 2, 4, 6));
        w.put(1, meta(1, 4096, 3, 4, 7));
        let (_d, bolt) = open(&w);
        let got = bolt.read(|tx| tx.get(&tx.root(), b"k")).unwrap();
        assert_eq!(bytes(got), b"new");

        w.pages[1][40] ^= 1; // a torn meta 1: its checksum no longer holds
        let (_d, bolt) = open(&w);
        let got = bolt.read(|tx| tx.get(&tx.root(), b"k")).unwrap();
        assert_eq!(bytes(got), b"old");
    }

    /// A large page size is found from meta 1 when meta 0 is damaged.
    #[test]
    fn page_size_is_found_when_meta_zero_is_damaged() {
        let mut w = Writer::new(16384);
        w.put(0, vec![0; 16]);
        w.put(1, meta(1, 16384, 2, 3, 9));
        w.put(2, leaf(2, &[Item::Bytes(b"k", b"v".to_vec())]));
        let (_d, bolt) = open(&w);
        assert_eq!(
            bytes(bolt.read(|tx| tx.get(&tx.root(), b"k")).unwrap()),
            b"v"
        );
    }

    /// Branch pages, overflow pages and inline buckets, as a large containerd database has them.
    #[test]
    fn nested_buckets_are_found_through_branches_and_inline_pages() {
        let mut w = Writer::new(4096);
        let big = vec![b'x'; 6000]; // page 4 overflows into page 5
        w.put(0, meta(0, 4096, 2, 9, 4));
        w.put(1, meta(1, 4096, 2, 9, 3));
        w.put(2, leaf(2, &[Item::Bucket(b"v1", 3)]));
        w.put(3, branch(3, &[(b"a", 4), (b"m", 6)]));
        w.put(
            4,
            leaf(
                4,
                &[
                    Item::Bytes(b"a", b"1".to_vec()),
                    Item::Bytes(b"c", big.clone()),
                ],
            ),
        );
        let inner = leaf(0, &[Item::Bytes(b"digest", b"sha256:ab".to_vec())]);
        w.put(
            6,
            leaf(
                6,
                &[Item::Inline(b"m", inner), Item::Bytes(b"z", b"26".to_vec())],
            ),
        );
        let (_d, bolt) = open(&w);
        bolt.read(|tx| {
            let v1 = tx.bucket(&[b"v1"])?.unwrap();
            assert_eq!(bytes(tx.get(&v1, b"a")?), b"1");
            assert!(bytes(tx.get(&v1, b"c")?) == big);
            assert_eq!(bytes(tx.get(&v1, b"z")?), b"26");
            assert!(tx.get(&v1, b"b")?.is_none());
            assert!(tx.get(&v1, b"0")?.is_none());
            let m = tx.bucket(&[b"v1", b"m"])?.unwrap();
            assert_eq!(bytes(tx.get(&m, b"digest")?), b"sha256:ab");
            let keys: Vec<Vec<u8>> = tx.entries(&v1)?.into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, [&b"a"[..], b"c", b"m", b"z"]);
            Ok(())
        })
        .unwrap();
    }

    /// A commit landing while a read runs makes the read start again, on the new snapshot.
    #[test]
    fn a_read_overlapping_a_commit_is_repeated() {
        let mut w = Writer::new(4096);
        w.put(0, meta(0, 4096, 2, 4, 6));
        w.put(1, meta(1, 4096, 2, 4, 5));
        w.put(2, leaf(2, &[Item::Bytes(b"k", b"old".to_vec())]));
        w.put(3, leaf(3, &[Item::Bytes(b"k", b"new".to_vec())]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        w.write(&path);
        let bolt = Bolt::open(&path).unwrap();
        let calls = std::cell::Cell::new(0);
        let got = bolt
            .read(|tx| {
                calls.set(calls.get() + 1);
                let value = tx.get(&tx.root(), b"k");
                if calls.get() == 1 {
                    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    file.write_all_at(&meta(1, 4096, 3, 4, 7), 4096).unwrap();
                }
                value
            })
            .unwrap();
        assert_eq!(calls.get(), 2);
        assert_eq!(bytes(got), b"new");
    }

    /// A child id whose file offset is past 2^64 (under a meta claiming 2^64 pages) is refused before the
    /// offset is computed: it was an arithmetic overflow (a panic in debug builds, a wrapped read in release).
    #[test]
    fn page_ids_past_the_addressable_range_are_errors() {
        let mut w = Writer::new(4096);
        w.put(0, meta(0, 4096, 2, u64::MAX, 1));
        w.put(1, meta(1, 4096, 2, u64::MAX, 0));
        w.put(2, branch(2, &[(b"a", u64::MAX / 4096 + 2)]));
        let (_d, bolt) = open(&w);
        assert!(bolt.read(|tx| tx.get(&tx.root(), b"a")).is_err());
        assert!(bolt.read(|tx| tx.entries(&tx.root())).is_err());
    }

    /// Twenty levels of branches, each listing the next level's one page 200 times, under a meta claiming 2^64
    /// pages: no loop and no level too deep, but 200^20 paths. The walk stops at the first page it meets again
    /// (its budget was the meta's own page count).
    #[test]
    fn a_walk_stops_at_the_first_page_it_meets_again() {
        let mut w = Writer::new(4096);
        w.put(0, meta(0, 4096, 2, u64::MAX, 1));
        w.put(1, meta(1, 4096, 2, u64::MAX, 0));
        for id in 2..22 {
            w.put(id as usize, branch(id, &[(&b"a"[..], id + 1); 200]));
        }
        w.put(22, leaf(22, &[Item::Bytes(b"a", b"1".to_vec())]));
        let (_d, bolt) = open(&w);
        let err = bolt.read(|tx| tx.entries(&tx.root())).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    /// However a caller walks a snapshot, it reads at most 64 pages per page of the file (at least 4096).
    #[test]
    fn a_snapshot_reads_a_bounded_number_of_pages() {
        let mut w = Writer::new(4096);
        w.put(0, meta(0, 4096, 2, 3, 1));
        w.put(1, meta(1, 4096, 2, 3, 0));
        w.put(2, leaf(2, &[Item::Bytes(b"k", b"v".to_vec())]));
        let (_d, bolt) = open(&w);
        let reads = std::cell::Cell::new(0);
        let err = bolt
            .read(|tx| -> Result<(), BoltError> {
                loop {
                    tx.get(&tx.root(), b"k")?;
                    reads.set(reads.get() + 1);
                }
            })
            .unwrap_err();
        assert!(err.to_string().contains("share pages"), "{err}");
        assert_eq!(reads.get(), MIN_READS);
    }

    /// Pages pointing past the end, at themselves, or out of the page give errors, not panics or loops.
    #[test]
    fn damaged_pages_are_errors() {
        let mut w = Writer::new(4096);
        w.put(0, meta(0, 4096, 2, 4, 1));
        w.put(1, meta(1, 4096, 2, 4, 0));
        w.put(2, branch(2, &[(b"a", 2)])); // a branch whose child is itself
        w.put(3, leaf(3, &[]));
        let (_d, bolt) = open(&w);
        assert!(bolt.read(|tx| tx.get(&tx.root(), b"a")).is_err());
        assert!(bolt.read(|tx| tx.entries(&tx.root())).is_err());

        w.put(2, branch(2, &[(b"a", 99)])); // beyond the high water mark
        let (_d, bolt) = open(&w);
        assert!(bolt.read(|tx| tx.get(&tx.root(), b"a")).is_err());

        let mut huge = leaf(2, &[Item::Bytes(b"a", b"1".to_vec())]);
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // an overflow count past the file
        w.put(0, meta(0, 4096, 2, u64::MAX, 1));
        w.put(2, huge);
        let (_d, bolt) = open(&w);
        assert!(bolt.read(|tx| tx.get(&tx.root(), b"a")).is_err());
        w.put(0, meta(0, 4096, 2, 4, 1));

        let mut bad = leaf(2, &[Item::Bytes(b"a", b"1".to_vec())]);
        bad[16 + 12..16 + 16].copy_from_slice(&u32::MAX.to_le_bytes()); // value size past the page
        w.put(2, bad);
        let (_d, bolt) = open(&w);
        assert!(bolt.read(|tx| tx.get(&tx.root(), b"a")).is_err());

        let (_d, bolt) = open(&Writer {
            page_size: 4096,
            pages: vec![vec![7; 4096]; 3],
        });
        assert!(matches!(
            bolt.read(|tx| tx.get(&tx.root(), b"a")),
            Err(BoltError::NotBolt)
        ));
    }
}
