//! A streaming ELF probe: fed a file's bytes in order as they pass the content hasher (never a second read), it
//! finds the bytes of the file's debug sections, what `strip --strip-debug` removes.
//!
//! The 64-byte file header names where the section header table lies (`e_shoff`). The section-name string
//! table (`.shstrtab`) usually lies just before that table, where linkers write it last, so the probe keeps a
//! window of [`NAMES_WINDOW`] bytes before the table along with the table itself (at most [`TABLE_MAX`] bytes);
//! when the names come after the table instead, it captures them as they pass. A section is debug data when its
//! name says so (`.debug_*`, `.zdebug_*`, `.stab*`, `.gnu.debuglto_*`). When the names could not be had (the
//! name table lay too far before the table, or was too large), the probe falls back on types and flags: every
//! non-allocated `PROGBITS` section counts (debug sections are exactly that, as are the few bytes of `.comment`
//! and `.gnu_debuglink`), and [`ElfInfo::by_name`] says so.
//!
//! Every field is read from untrusted bytes: offsets and sizes are checked, nothing indexes out of bounds, and
//! the memory held is bounded whatever the header claims.

/// What the probe found in one ELF file with debug sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ElfInfo {
    /// Bytes `strip --strip-debug` would save, as the section table tells them: the debug sections' contents,
    /// their section headers and (told by name) their names. strip also drops the few symbols that name those
    /// sections from `.symtab` (24 bytes each in ELF64) and alignment padding, which the table does not show:
    /// the real saving is this plus a few dozen bytes per debug section.
    pub debug_bytes: u64,
    /// How many sections are debug data.
    pub debug_sections: u32,
    /// The sections were told by their names; `false`: by type and flags, the names being out of reach.
    pub by_name: bool,
}

/// The largest section header table captured (4096 sections of ELF64).
pub const TABLE_MAX: u64 = 256 << 10;
/// How many bytes before the section header table are kept, hoping they hold the section names.
pub const NAMES_WINDOW: u64 = 64 << 10;

const HEADER: usize = 64;
const SHT_PROGBITS: u32 = 1;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Elf32,
    Elf64,
}

/// What the file header says.
#[derive(Debug, Clone, Copy)]
struct Layout {
    class: Class,
    big_endian: bool,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
    shstrndx: u64,
}

impl Layout {
    fn table_len(&self) -> u64 {
        self.shentsize * self.shnum
    }

    fn u16(&self, b: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    }

    fn u32(&self, b: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    }

    fn u64(&self, b: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// A word: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, b: &[u8], at32: usize, at64: usize) -> Option<u64> {
        match self.class {
            Class::Elf32 => self.u32(b, at32),
            Class::Elf64 => self.u64(b, at64),
        }
    }

    /// Parses the file header; `None` for anything but an ELF file with a usable section header table.
    fn parse(h: &[u8]) -> Option<Layout> {
        if h.get(..4)? != b"\x7fELF" {
            return None;
        }
        let class = match h.get(4)? {
            1 => Class::Elf32,
            2 => Class::Elf64,
            _ => return None,
        };
        let big_endian = match h.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let mut l = Layout {
            class,
            big_endian,
            shoff: 0,
            shentsize: 0,
            shnum: 0,
            shstrndx: 0,
        };
        let (shoff, rest) = match class {
            Class::Elf32 => (l.u32(h, 0x20)?, 0x2e),
            Class::Elf64 => (l.u64(h, 0x28)?, 0x3a),
        };
        l.shoff = shoff;
        l.shentsize = l.u16(h, rest)?;
        l.shnum = l.u16(h, rest + 2)?;
        l.shstrndx = l.u16(h, rest + 4)?;
        let entsize = match class {
            Class::Elf32 => 40,
            Class::Elf64 => 64,
        };
        // No table, an extended section count (e_shnum 0 with the count in section 0: beyond 65279 sections)
        // or an odd entry size: nothing to read.
        let usable = l.shoff != 0
            && l.shnum != 0
            && l.shentsize == entsize
            && l.table_len() <= TABLE_MAX
            && l.shoff.checked_add(l.table_len()).is_some();
        usable.then_some(l)
    }
}

/// One section header, as far as the probe cares.
#[derive(Debug, Clone, Copy)]
struct Section {
    name: u64,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
}

/// A byte range of the file being captured into a buffer as it passes.
#[derive(Debug, Default)]
struct Capture {
    start: u64,
    end: u64,
    buf: Vec<u8>,
}

impl Capture {
    fn new(start: u64, end: u64) -> Capture {
        Capture {
            start,
            end,
            buf: Vec::new(),
        }
    }

    /// Copies what of `bytes` (at file offset `at`) falls in the range and is not here yet; bytes come in
    /// order, so the buffer only ever grows by appending.
    fn take(&mut self, at: u64, bytes: &[u8]) {
        let next = self.start + self.buf.len() as u64;
        let end = at.saturating_add(bytes.len() as u64).min(self.end);
        if at > next || end <= next {
            return;
        }
        let (lo, hi) = ((next - at) as usize, (end - at) as usize);
        if let Some(part) = bytes.get(lo..hi) {
            self.buf.extend_from_slice(part);
        }
    }

    fn complete(&self) -> bool {
        self.start + self.buf.len() as u64 == self.end
    }

    /// The captured bytes of `[start, end)`, if all of them are here.
    fn slice(&self, start: u64, end: u64) -> Option<&[u8]> {
        if start < self.start || end > self.start + self.buf.len() as u64 || start > end {
            return None;
        }
        self.buf
            .get((start - self.start) as usize..(end - self.start) as usize)
    }
}

#[derive(Debug, Default)]
enum State {
    /// Collecting the file header.
    #[default]
    Header,
    /// Capturing the window before the table and the table itself.
    Table { layout: Layout, capture: Capture },
    /// The table is here; capturing the names that come after it.
    Names {
        layout: Layout,
        table: Vec<u8>,
        /// `None`: the names lie out of reach.
        names: Option<Capture>,
    },
    /// Nothing more to learn from this file (not ELF, no usable table, or done).
    Off,
}

/// Follows one file's bytes at a time; [`ElfProbe::reset`] starts the next file.
#[derive(Debug, Default)]
pub(crate) struct ElfProbe {
    state: State,
    header: Vec<u8>,
    offset: u64,
    /// What [`ElfProbe::finish`] found in the last file.
    found: Option<ElfInfo>,
}

impl ElfProbe {
    pub(crate) fn reset(&mut self) {
        self.state = State::Header;
        self.header.clear();
        self.offset = 0;
        self.found = None;
    }

    /// What the last finished file held (`None` before `finish`, or when it is no ELF file with debug data).
    pub(crate) fn found(&self) -> Option<ElfInfo> {
        self.found
    }

    /// The file's next bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let at = self.offset;
        self.offset = self.offset.saturating_add(bytes.len() as u64);
        if matches!(self.state, State::Off) || bytes.is_empty() {
            return;
        }
        if let State::Header = self.state {
            let want = HEADER - self.header.len();
            self.header
                .extend_from_slice(&bytes[..want.min(bytes.len())]);
            if self.header.len() >= 4 && &self.header[..4] != b"\x7fELF" {
                self.state = State::Off;
                return;
            }
            if self.header.len() < HEADER {
                return;
            }
            let Some(layout) = Layout::parse(&self.header) else {
                self.state = State::Off;
                return;
            };
            let mut capture = Capture::new(
                layout.shoff.saturating_sub(NAMES_WINDOW),
                layout.shoff + layout.table_len(),
            );
            // The header's own bytes may fall in the window of a small file.
            capture.take(0, &self.header);
            self.state = State::Table { layout, capture };
        }
        match &mut self.state {
            State::Table { layout, capture } => {
                capture.take(at, bytes);
                if capture.complete() {
                    let layout = *layout;
                    let capture = std::mem::take(capture);
                    self.state = after_table(layout, capture);
                    if let State::Names {
                        names: Some(names), ..
                    } = &mut self.state
                    {
                        names.take(at, bytes);
                    }
                }
            }
            State::Names {
                names: Some(names), ..
            } => names.take(at, bytes),
            State::Names { names: None, .. } => {}
            State::Header | State::Off => {}
        }
    }

    /// The file ended: its debug sections, if it is an ELF file that has some.
    pub(crate) fn finish(&mut self) -> Option<ElfInfo> {
        let info = match std::mem::take(&mut self.state) {
            State::Names {
                layout,
                table,
                names,
            } => {
                let names = names.as_ref().filter(|n| n.complete()).map(|n| &n.buf[..]);
                debug_info(&layout, &table, names)
            }
            _ => None,
        };
        self.state = State::Off;
        self.found = info;
        info
    }
}

/// Once the table is captured: the names are in the window already, still to come (the caller feeds them the
/// rest of the current chunk), or out of reach.
fn after_table(layout: Layout, capture: Capture) -> State {
    let Some(table) = capture.slice(layout.shoff, layout.shoff + layout.table_len()) else {
        return State::Off;
    };
    let table = table.to_vec();
    let range = section(&layout, &table, layout.shstrndx)
        .and_then(|s| Some((s.offset, s.offset.checked_add(s.size)?)))
        .filter(|(start, end)| end - start <= NAMES_WINDOW);
    let names = range.and_then(|(start, end)| match capture.slice(start, end) {
        Some(bytes) => Some(Capture {
            start,
            end,
            buf: bytes.to_vec(),
        }),
        None if start >= capture.end => Some(Capture::new(start, end)),
        None => None,
    });
    State::Names {
        layout,
        table,
        names,
    }
}

fn section(l: &Layout, table: &[u8], index: u64) -> Option<Section> {
    let at = usize::try_from(index.checked_mul(l.shentsize)?).ok()?;
    let s = table.get(at..at.checked_add(l.shentsize as usize)?)?;
    Some(Section {
        name: l.u32(s, 0)?,
        kind: l.u32(s, 4)? as u32,
        flags: l.word(s, 8, 8)?,
        offset: l.word(s, 16, 24)?,
        size: l.word(s, 20, 32)?,
    })
}

/// Whether a section name is debug data, as `strip --strip-debug` sees it.
fn is_debug_name(name: &[u8]) -> bool {
    name.starts_with(b".debug")
        || name.starts_with(b".zdebug")
        || name.starts_with(b".gnu.debuglto_")
        || name.starts_with(b".stab")
        || name == b".line"
}

/// The NUL-terminated name at `offset` of the name table.
fn name_at(names: &[u8], offset: u64) -> Option<&[u8]> {
    let rest = names.get(usize::try_from(offset).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

fn debug_info(l: &Layout, table: &[u8], names: Option<&[u8]>) -> Option<ElfInfo> {
    let mut info = ElfInfo {
        debug_bytes: 0,
        debug_sections: 0,
        by_name: names.is_some(),
    };
    for index in 1..l.shnum {
        let s = section(l, table, index)?;
        // A debug section's name leaves the name table with it.
        let debug = match names {
            Some(names) => name_at(names, s.name)
                .filter(|n| is_debug_name(n))
                .map(|n| n.len() as u64 + 1),
            None => (s.kind == SHT_PROGBITS && s.flags & SHF_ALLOC == 0 && index != l.shstrndx)
                .then_some(0),
        };
        if let Some(name_bytes) = debug {
            let stored = if s.kind == SHT_NOBITS { 0 } else { s.size };
            info.debug_bytes = info
                .debug_bytes
                .saturating_add(stored)
                .saturating_add(l.shentsize)
                .saturating_add(name_bytes);
            info.debug_sections += 1;
        }
    }
    (info.debug_sections > 0).then_some(info)
}

/// An ELF64 file with two debug sections, and what the probe finds in it (for the scanners' tests).
#[cfg(test)]
pub(crate) fn sample() -> (Vec<u8>, ElfInfo) {
    let info = ElfInfo {
        debug_bytes: 1200 + 2 * 64 + 12 + 11,
        debug_sections: 2,
        by_name: true,
    };
    (
        tests::build(true, false, tests::SECTIONS, false).bytes,
        info,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian ELF64 (or big-endian ELF32) file: header, section contents, then the name table and the
    /// section header table, as linkers lay them out (or the table before the names with `names_last`).
    pub(super) struct Built {
        pub(super) bytes: Vec<u8>,
    }

    pub(super) fn build(
        elf64: bool,
        big: bool,
        sections: &[(&str, u32, u64, usize)],
        names_last: bool,
    ) -> Built {
        let ent = if elf64 { 64 } else { 40 };
        let put = |v: &mut Vec<u8>, x: u64, n: usize| {
            let bytes = if big {
                x.to_be_bytes()[8 - n..].to_vec()
            } else {
                x.to_le_bytes()[..n].to_vec()
            };
            v.extend_from_slice(&bytes);
        };
        let mut names = vec![0u8];
        let mut name_offsets = Vec::new();
        for (name, ..) in sections {
            name_offsets.push(names.len() as u64);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let shstrtab_name = names.len() as u64;
        names.extend_from_slice(b".shstrtab\0");
        let mut body = vec![0u8; HEADER];
        let mut offsets = Vec::new();
        for (i, &(_, _, _, size)) in sections.iter().enumerate() {
            offsets.push(body.len() as u64);
            body.extend(std::iter::repeat_n(i as u8 + 1, size));
        }
        let shnum = sections.len() as u64 + 2;
        let table_len = shnum as usize * ent;
        let (names_off, shoff) = if names_last {
            (body.len() + table_len, body.len())
        } else {
            (body.len(), body.len() + names.len())
        };
        let mut table = vec![0u8; ent]; // section 0
        let mut entry = |name: u64, kind: u32, flags: u64, off: u64, size: u64| {
            let mut e = Vec::new();
            put(&mut e, name, 4);
            put(&mut e, kind as u64, 4);
            let w = if elf64 { 8 } else { 4 };
            put(&mut e, flags, w);
            put(&mut e, 0, w); // addr
            put(&mut e, off, w);
            put(&mut e, size, w);
            e.resize(ent, 0);
            table.extend_from_slice(&e);
        };
        for (i, &(_, kind, flags, size)) in sections.iter().enumerate() {
            entry(name_offsets[i], kind, flags, offsets[i], size as u64);
        }
        entry(shstrtab_name, 3, 0, names_off as u64, names.len() as u64);
        if names_last {
            body.extend_from_slice(&table);
            body.extend_from_slice(&names);
        } else {
            body.extend_from_slice(&names);
            body.extend_from_slice(&table);
        }
        let mut h = Vec::new();
        h.extend_from_slice(b"\x7fELF");
        h.push(if elf64 { 2 } else { 1 });
        h.push(if big { 2 } else { 1 });
        h.push(1);
        h.resize(16, 0);
        put(&mut h, 2, 2); // type
        put(&mut h, 62, 2); // machine
        put(&mut h, 1, 4); // version
        let w = if elf64 { 8 } else { 4 };
        put(&mut h, 0, w); // entry
        put(&mut h, 0, w); // phoff
        put(&mut h, shoff as u64, w);
        put(&mut h, 0, 4); // flags
        put(&mut h, if elf64 { 64 } else { 52 }, 2);
        put(&mut h, 0, 2);
        put(&mut h, 0, 2);
        put(&mut h, ent as u64, 2);
        put(&mut h, shnum, 2);
        put(&mut h, shnum - 1, 2);
        body[..h.len()].copy_from_slice(&h);
        Built { bytes: body }
    }

    fn probe(bytes: &[u8], chunk: usize) -> Option<ElfInfo> {
        let mut p = ElfProbe::default();
        p.reset();
        for part in bytes.chunks(chunk.max(1)) {
            p.feed(part);
        }
        p.finish()
    }

    pub(super) const SECTIONS: &[(&str, u32, u64, usize)] = &[
        (".text", SHT_PROGBITS, SHF_ALLOC | 4, 300),
        (".bss", SHT_NOBITS, SHF_ALLOC | 1, 0),
        (".comment", SHT_PROGBITS, 0x30, 20),
        (".debug_info", SHT_PROGBITS, 0, 1000),
        (".debug_str", SHT_PROGBITS, 0x30, 200),
        (".symtab", 2, 0, 96),
    ];

    #[test]
    fn debug_sections_are_found_by_name_in_every_class_endianness_and_chunking() {
        for (elf64, big) in [(true, false), (false, true), (true, true), (false, false)] {
            let ent = if elf64 { 64 } else { 40 };
            let built = build(elf64, big, SECTIONS, false);
            for chunk in [1, 7, 64, 4096, usize::MAX] {
                assert_eq!(
                    probe(&built.bytes, chunk),
                    Some(ElfInfo {
                        debug_bytes: 1200 + 2 * ent + 12 + 11,
                        debug_sections: 2,
                        by_name: true
                    }),
                    "elf64 {elf64} big {big} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn names_after_the_table_are_captured_as_they_pass() {
        let built = build(true, false, SECTIONS, true);
        let info = probe(&built.bytes, 13).unwrap();
        assert!(info.by_name);
        assert_eq!(info.debug_bytes, 1200 + 128 + 12 + 11);
    }

    #[test]
    fn names_out_of_reach_fall_back_on_types_and_flags() {
        // A section larger than the window before the table.
        let mut sections = SECTIONS.to_vec();
        sections.push((".debug_line", SHT_PROGBITS, 0, NAMES_WINDOW as usize + 10));
        let built = build(true, false, &sections, false);
        // The names come right before the table here, so they are read by name.
        assert!(probe(&built.bytes, 4096).unwrap().by_name);
        // Point the name-table index at a section far before the table: names unreachable.
        let mut bytes = built.bytes.clone();
        let shstrndx_at = 0x3e;
        bytes[shstrndx_at] = 4; // .debug_info, at the start of the file
        let info = probe(&bytes, 4096).unwrap();
        assert!(!info.by_name);
        // Non-allocated PROGBITS: .comment, .debug_info (the "name table" now, excluded), .debug_str,
        // .debug_line.
        assert_eq!(info.debug_sections, 3);
        assert_eq!(info.debug_bytes, 20 + 200 + NAMES_WINDOW + 10 + 3 * 64);
    }

    #[test]
    fn files_without_debug_sections_or_not_elf_give_nothing() {
        let built = build(true, false, &SECTIONS[..3], false);
        assert_eq!(probe(&built.bytes, 100), None);
        assert_eq!(probe(b"#!/bin/sh\necho hi\n", 3), None);
        assert_eq!(probe(b"\x7fEL", 1), None);
        assert_eq!(probe(&[], 1), None);
        // Truncated before the end of the table.
        let full = build(true, false, SECTIONS, false).bytes;
        assert_eq!(probe(&full[..full.len() - 1], 100), None);
    }

    #[test]
    fn one_probe_serves_file_after_file() {
        let elf = build(false, false, SECTIONS, false).bytes;
        let mut p = ElfProbe::default();
        for _ in 0..3 {
            p.reset();
            p.feed(&elf);
            assert!(p.finish().is_some());
            p.reset();
            p.feed(b"plain text");
            assert!(p.finish().is_none());
        }
    }

    /// Random bytes, random ELF-looking headers and mutated real-looking files: never a panic, never more
    /// memory than the bounds.
    #[test]
    fn hostile_input_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let good = build(true, false, SECTIONS, false).bytes;
        let good32 = build(false, true, SECTIONS, true).bytes;
        for round in 0..3000 {
            let mut bytes = match round % 3 {
                0 => (0..(next() % 3000) as usize)
                    .map(|_| next() as u8)
                    .collect(),
                1 => good.clone(),
                _ => good32.clone(),
            };
            if round % 3 == 0 && bytes.len() >= 6 {
                bytes[..4].copy_from_slice(b"\x7fELF");
                bytes[4] = 1 + (next() % 2) as u8;
                bytes[5] = 1 + (next() % 2) as u8;
            }
            for _ in 0..(next() % 8) {
                if !bytes.is_empty() {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            let mut p = ElfProbe::default();
            p.reset();
            for part in bytes.chunks(1 + (next() % 500) as usize) {
                p.feed(part);
                if let State::Table { capture, .. } = &p.state {
                    assert!(capture.buf.len() as u64 <= NAMES_WINDOW + TABLE_MAX);
                }
            }
            let _ = p.finish();
        }
    }
}
