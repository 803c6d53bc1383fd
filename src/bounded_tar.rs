//! A reader placed under `tar::Archive` that follows the tar framing itself, so that the extension members the
//! tar crate reads whole into memory are refused before it allocates for them.
//!
//! The `tar` crate (0.4) reads a GNU long name (`L`), a GNU long link (`K`) and a PAX record set (`x`) whole,
//! whatever size its header claims, and has no setting to bound that: a 3 MB gzip claiming a 6 GB long name
//! costs 6 GB of memory. Two ways out were possible:
//!
//! - iterate raw entries (`Entries::raw(true)`) and read `L`/`K`/`x` members ourselves, with a bound. In raw
//!   mode the crate neither applies a PAX `size` record to the framing of the member that follows (it skips the
//!   header's own size field instead, so a file over 8 GiB written with a PAX size is misread from there on) nor
//!   reads GNU sparse maps. Redoing both around the crate means re-implementing its framing above it anyway.
//! - this one: a reader below the crate that mirrors the crate's framing exactly (512-byte headers, octal and
//!   base-256 size fields parsed by the crate's own `Header`, sizes rounded to 512, a PAX `size` overriding the
//!   next member's size exactly where the crate applies it, the extension blocks of old-GNU sparse members) and
//!   fails with a clear error when an extension member or a sparse map is larger than the limit. The crate keeps
//!   all its parsing; this reader only looks. Where the two could disagree (a checksum mismatch, an unparsable
//!   size, the end-of-archive block) the crate stops reading, and so this reader stops looking and passes the
//!   rest through.

use std::io::{self, Read, Seek, SeekFrom};

use crate::limits::{Limit, LimitExceeded, Limits};

const BLOCK: usize = 512;

/// The one way to read a tar: through [`BoundedTar`], within `limits` (clippy.toml forbids `Archive::new`
/// elsewhere).
#[allow(clippy::disallowed_methods)]
pub fn archive<R: Read>(reader: R, limits: &Limits) -> tar::Archive<BoundedTar<R>> {
    tar::Archive::new(BoundedTar::new(reader, limits.header_bytes))
}

/// Follows the tar framing of `inner`, refusing extension members larger than `max` bytes.
pub struct BoundedTar<R> {
    inner: R,
    max: u64,
    /// Bytes read so far: the position the tar crate counts (it seeks relative to it).
    pos: u64,
    state: State,
    /// A header or sparse-extension block, collected whole before it is examined, then handed on.
    block: [u8; BLOCK],
    filled: usize,
    served: usize,
    /// After a PAX `x` member the crate recognised: the `size` record it holds, if any, which sets the size of
    /// the next member that is not itself an extension.
    pax: Option<Option<u64>>,
}

enum State {
    /// Collecting the next header.
    Header,
    /// Collecting the extension blocks of a GNU sparse member; `data` bytes of data follow them; `map` bytes of
    /// map were read so far.
    SparseMap { data: u64, map: u64 },
    /// Passing `left` bytes of member data and padding on. A PAX member's records are kept (`size` of them) to
    /// read its `size` record.
    Data {
        left: u64,
        records: Option<(Vec<u8>, u64)>,
    },
    /// Past the end of the archive, or past something the tar crate rejects: everything passes unexamined.
    Through,
}

impl<R: Read> BoundedTar<R> {
    pub fn new(inner: R, max: u64) -> Self {
        BoundedTar {
            inner,
            max,
            pos: 0,
            state: State::Header,
            block: [0; BLOCK],
            filled: 0,
            served: 0,
            pax: None,
        }
    }

    /// Reads until the block is full or the input ends.
    fn collect_block(&mut self) -> io::Result<()> {
        while self.filled < BLOCK {
            match self.inner.read(&mut self.block[self.filled..]) {
                Ok(0) => break,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.served = 0;
        Ok(())
    }

    /// Decides what follows the header in `block`.
    fn examine_header(&mut self) -> io::Result<()> {
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(&self.block);
        let bytes = header.as_bytes();
        if bytes.iter().all(|&b| b == 0) {
            self.state = State::Through; // the end of the archive: the crate reads no further
            return Ok(());
        }
        // The crate's own checksum test; it stops at a mismatch.
        let checksum = |bytes: &[u8]| {
            bytes[..148]
                .iter()
                .chain(&bytes[156..])
                .fold(8 * 32, |a, &b| a + u32::from(b))
        };
        let mut sum = checksum(bytes);
        // A size field of NULs only (some writers leave it so for members without data) means 0 to GNU tar and
        // Go's archive/tar, but the crate cannot parse it and stops. A header with a good checksum gets a size
        // of 0 and its checksum again here, before the crate sees it.
        if bytes[124..136].iter().all(|&b| b == 0) && header.cksum().ok() == Some(sum) {
            header.set_size(0);
            header.set_cksum();
            self.block.copy_from_slice(header.as_bytes());
            sum = checksum(header.as_bytes());
        }
        let Some(mut size) = header
            .cksum()
            .ok()
            .filter(|&c| c == sum)
            .and_then(|_| header.entry_size().ok())
        else {
            self.state = State::Through;
            return Ok(());
        };
        let kind = header.entry_type();
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if extension && size > self.max {
            let what = match kind.as_byte() {
                b'L' => "a GNU long name",
                b'K' => "a GNU long link name",
                b'x' => "a PAX extended header",
                _ => "a PAX global header",
            };
            return Err(self.exceeded(format!("{what} of {size} bytes")));
        }
        // The crate reads `L`, `K` and `x` members as extensions only in a ustar or GNU header, and goes on to
        // the next header; any other member ends its search and is what the extensions describe.
        let recognised = header.as_gnu().is_some() || header.as_ustar().is_some();
        let consumed = recognised
            && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if !consumed
            && let Some(pax) = self.pax.take()
            && !extension
        {
            size = pax.unwrap_or(size);
        }
        let Some(padded) = size
            .checked_add(BLOCK as u64 - 1)
            .map(|s| s & !(BLOCK as u64 - 1))
        else {
            self.state = State::Through; // the crate fails with "size overflow"
            return Ok(());
        };
        if kind.is_gnu_sparse() && header.as_gnu().is_some_and(|g| g.is_extended()) {
            self.state = State::SparseMap {
                data: padded,
                map: 0,
            };
            return Ok(());
        }
        let records = (recognised && kind.is_pax_local_extensions())
            .then(|| (Vec::with_capacity(size.min(64 * 1024) as usize), size));
        self.state = State::Data {
            left: padded,
            records,
        };
        Ok(())
    }

    /// After one block of a sparse map: another block, or the member's data.
    fn examine_sparse_block(&mut self, data: u64, map: u64) -> io::Result<()> {
        let map = map + BLOCK as u64;
        if map > self.max {
            return Err(self.exceeded(format!("a GNU sparse map of more than {map} bytes")));
        }
        let mut ext = tar::GnuExtSparseHeader::new();
        ext.as_mut_bytes().copy_from_slice(&self.block);
        self.state = if ext.is_extended() {
            State::SparseMap { data, map }
        } else {
            State::Data {
                left: data,
                records: None,
            }
        };
        Ok(())
    }

    fn exceeded(&self, what: String) -> io::Error {
        LimitExceeded::new(Limit::HeaderBytes, what, format!("{} bytes", self.max)).into_io()
    }

    /// Prepares what comes next once the current block or member is done.
    fn advance(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Header => {
                self.collect_block()?;
                if self.filled < BLOCK {
                    self.state = State::Through; // the input ends: the crate reports it
                    return Ok(());
                }
                self.examine_header()
            }
            State::SparseMap { data, map } => {
                let (data, map) = (*data, *map);
                self.collect_block()?;
                if self.filled < BLOCK {
                    self.state = State::Through;
                    return Ok(());
                }
                self.examine_sparse_block(data, map)
            }
            State::Data { left: 0, records } => {
                if let Some((records, _)) = records.take() {
                    self.pax = Some(pax_size(&records));
                }
                self.state = State::Header;
                Ok(())
            }
            State::Data { .. } | State::Through => Ok(()),
        }
    }
}

/// The crate's reading of a PAX `size` record: the first `size` key, if its value is a number; a malformed
/// record set ends the search.
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
}

impl<R: Read> Read for BoundedTar<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.served < self.filled {
                let n = buf.len().min(self.filled - self.served);
                buf[..n].copy_from_slice(&self.block[self.served..self.served + n]);
                self.served += n;
                if self.served == self.filled {
                    self.filled = 0;
                    self.served = 0;
                }
                self.pos += n as u64;
                return Ok(n);
            }
            match &mut self.state {
                State::Through => {
                    let n = self.inner.read(buf)?;
                    self.pos += n as u64;
                    return Ok(n);
                }
                State::Data { left, records } if *left > 0 => {
                    let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Ok(0); // the input ends inside a member: the crate reports it
                    }
                    if let Some((kept, size)) = records {
                        let room = usize::try_from(*size)
                            .unwrap_or(usize::MAX)
                            .saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    *left -= n as u64;
                    self.pos += n as u64;
                    return Ok(n);
                }
                _ => self.advance()?,
            }
        }
    }
}

impl<R: Read + Seek> Seek for BoundedTar<R> {
    /// The tar crate only ever skips forward over member data (`SeekFrom::Current` with a positive offset) and
    /// takes the returned position as its own.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Current(offset) = to else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a tar is only skipped forward",
            ));
        };
        let mut skip = u64::try_from(offset).map_err(|_| {
            io::Error::new(io::ErrorKind::Unsupported, "a tar is only skipped forward")
        })?;
        while skip > 0 {
            let drained = self.served == self.filled;
            match &mut self.state {
                State::Data {
                    left,
                    records: None,
                } if drained && *left > 0 => {
                    let n = skip.min(*left);
                    self.inner.seek(SeekFrom::Current(n as i64))?;
                    *left -= n;
                    self.pos += n;
                    skip -= n;
                }
                State::Through if drained => {
                    self.inner.seek(SeekFrom::Current(skip as i64))?;
                    self.pos += skip;
                    skip = 0;
                }
                _ => {
                    let mut scratch = [0u8; BLOCK];
                    let want = usize::try_from(skip).unwrap_or(BLOCK).min(BLOCK);
                    let n = self.read(&mut scratch[..want])?;
                    if n == 0 {
                        break;
                    }
                    skip -= n as u64;
                }
            }
        }
        Ok(self.pos)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // these tests build archives with limits of their own
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A GNU header of type `kind` claiming `size` bytes, with `data` after it (padded), then two end blocks.
    fn member(kind: u8, name: &str, size: u64, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    fn end(mut tar: Vec<u8>) -> Vec<u8> {
        tar.extend_from_slice(&[0; 2 * BLOCK]);
        tar
    }

    fn paths(tar: &[u8], max: u64, seek: bool) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        if seek {
            let mut archive = tar::Archive::new(BoundedTar::new(Cursor::new(tar), max));
            for entry in archive.entries_with_seek()? {
                let entry = entry?;
                out.push((
                    String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                    entry.size(),
                ));
            }
        } else {
            let mut archive = tar::Archive::new(BoundedTar::new(tar, max));
            for entry in archive.entries()? {
                let mut entry = entry?;
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                assert_eq!(data.len() as u64, entry.size());
                out.push((
                    String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                    entry.size(),
                ));
            }
        }
        Ok(out)
    }

    fn limit_error(result: io::Result<Vec<(String, u64)>>) -> String {
        let error = result.unwrap_err();
        let limit = LimitExceeded::from_io(&error).expect("a limit error");
        assert_eq!(limit.limit, Limit::HeaderBytes);
        error.to_string()
    }

    /// A member whose size field is all NUL (a directory, as some writers make them) reads as size 0, and the
    /// members after it are read; the crate alone refuses the header.
    #[test]
    fn a_size_field_of_nuls_is_a_size_of_0() {
        let mut dir = member(b'5', "etc/", 0, b"");
        dir[124..136].fill(0);
        let mut h = tar::Header::new_gnu();
        h.as_mut_bytes().copy_from_slice(&dir[..BLOCK]);
        h.set_cksum();
        dir[..BLOCK].copy_from_slice(h.as_bytes());
        let mut tar = dir;
        tar.extend(member(b'0', "etc/hosts", 5, b"hosts"));
        let tar = end(tar);
        let crate_alone = tar::Archive::new(Cursor::new(&tar))
            .entries()
            .unwrap()
            .map(|e| e.map(|_| ()))
            .collect::<io::Result<Vec<_>>>();
        assert!(crate_alone.is_err(), "the crate reads it itself now");
        for seek in [false, true] {
            assert_eq!(
                paths(&tar, 1 << 20, seek).unwrap(),
                [("etc/".to_string(), 0), ("etc/hosts".to_string(), 5)]
            );
        }
    }

    /// A long name claiming far more than it holds is refused at its header, before the crate allocates.
    #[test]
    fn an_oversized_long_name_is_refused() {
        let tar = end(member(b'L', "././@LongLink", 6 << 30, b"a"));
        for seek in [false, true] {
            let message = limit_error(paths(&tar, 1 << 20, seek));
            assert!(
                message.contains("GNU long name of 6442450944 bytes"),
                "{message}"
            );
            assert!(message.contains("--max-header-bytes"), "{message}");
        }
    }

    #[test]
    fn oversized_long_links_and_pax_headers_are_refused() {
        for (kind, what) in [
            (b'K', "long link"),
            (b'x', "PAX extended"),
            (b'g', "PAX global"),
        ] {
            let tar = end(member(kind, "ext", 4096, &[b'a'; 4096]));
            assert!(limit_error(paths(&tar, 4095, false)).contains(what));
        }
    }

    /// Names and records within the limit read as before, whatever the limit.
    #[test]
    fn extensions_within_the_limit_pass() {
        let long = "d/".repeat(300) + "file";
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let records = b"17 path=pax/name\n";
        b.append(
            tar::Header::from_byte_slice(&member(b'x', "pax", 17, b"")[..BLOCK]),
            &records[..],
        )
        .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path("short").unwrap();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"xy"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        for seek in [false, true] {
            assert_eq!(
                paths(&tar, 1024, seek).unwrap(),
                [(long.clone(), 3), ("pax/name".to_string(), 2)]
            );
        }
        assert!(limit_error(paths(&tar, 500, false)).contains("long name of 605"));
    }

    /// A PAX `size` record sets the size of the member after it (its header's field says otherwise): the
    /// framing must follow it, or every member after would be misread.
    #[test]
    fn a_pax_size_sets_the_next_members_framing() {
        let records = b"12 size=700\n";
        let mut tar = member(b'x', "pax", records.len() as u64, records);
        tar.extend(member(b'0', "big", 0, &[7u8; 700]));
        // The real size is 700; the header says 0. A long name follows, which must be seen as a header.
        tar.extend(member(b'L', "././@LongLink", 5000, &[b'n'; 5000]));
        tar.extend(member(b'0', "after", 1, b"z"));
        let tar = end(tar);
        for seek in [false, true] {
            let message = limit_error(paths(&tar, 4096, seek));
            assert!(message.contains("long name of 5000"), "{message}");
            let read = paths(&tar, 8192, seek).unwrap();
            assert_eq!(read[0], ("big".to_string(), 700));
            assert_eq!(read[1].1, 1);
        }
    }

    /// Sizes over 8 GiB are written base-256; the framing reads them as the crate does.
    #[test]
    fn base_256_sizes_are_followed() {
        let mut h = tar::Header::new_gnu();
        h.set_path("huge").unwrap();
        h.set_size(1 << 40);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        assert_eq!(h.as_bytes()[124] & 0x80, 0x80);
        let mut tar = h.as_bytes().to_vec();
        tar.extend_from_slice(&[0; 4096]);
        let mut archive = tar::Archive::new(BoundedTar::new(&tar[..], 1024));
        let mut entries = archive.entries().unwrap();
        assert_eq!(entries.next().unwrap().unwrap().size(), 1 << 40);
        // Reading on hits the end of the input inside the member, not a header.
        assert!(entries.next().is_none_or(|e| e.is_err()));
    }

    /// An old-GNU sparse member with extension blocks: the blocks are framing, the data follows them.
    #[test]
    fn sparse_extension_blocks_are_followed_and_bounded() {
        let segments = 30u64; // 4 in the header, 21 in the first extension block, 5 in the second
        let mut full = tar::Header::new_gnu();
        let header = full.as_gnu_mut().unwrap();
        let mut ext = vec![
            tar::GnuExtSparseHeader::new(),
            tar::GnuExtSparseHeader::new(),
        ];
        for i in 0..segments {
            let (offset, length) = (i * 1024, 512);
            let slot = match i {
                0..4 => &mut header.sparse[i as usize],
                4..25 => &mut ext[0].sparse[i as usize - 4],
                _ => &mut ext[1].sparse[i as usize - 25],
            };
            slot.set_offset(offset);
            slot.set_length(length);
        }
        header.set_is_extended(true);
        ext[0].set_is_extended(true);
        header.set_real_size(segments * 1024 - 512);
        let header = header.as_header_mut();
        header.set_path("sparse").unwrap();
        header.set_entry_type(tar::EntryType::GNUSparse);
        header.set_size(segments * 512);
        header.set_mode(0o644);
        header.set_cksum();
        let mut tar = header.as_bytes().to_vec();
        for block in &mut ext {
            tar.extend_from_slice(block.as_mut_bytes());
        }
        tar.extend(vec![1u8; segments as usize * 512]);
        tar.extend(member(b'L', "././@LongLink", 5000, &[b'n'; 5000]));
        tar.extend(member(b'0', "after", 1, b"z"));
        let tar = end(tar);
        for seek in [false, true] {
            assert!(limit_error(paths(&tar, 4096, seek)).contains("long name of 5000"));
            let read = paths(&tar, 8192, seek).unwrap();
            assert_eq!(read[0], ("sparse".to_string(), segments * 1024 - 512));
            assert_eq!(read[1].1, 1);
        }
        assert!(limit_error(paths(&tar, 1000, false)).contains("sparse map"));
    }
}
