//! `elf-debug`: ELF binaries of the final image that carry debug sections, with the bytes `strip --strip-debug`
//! would save, read from their section tables while the layers streamed (`crate::elf`). Versions that never
//! reach the final image are left out: their bytes are waste, which other findings already count.

use std::collections::HashMap;

use super::{Advice, Context, PathTally, Place, Rule, Severity, plural, size};
use crate::layer::EntryKind;
use crate::tree::{NodeId, State};

pub(super) fn advise(cx: &mut Context<'_>) -> Option<Advice> {
    let tree = cx.tree;
    let top = cx.top?;
    let mut tally = PathTally::default();
    let mut files = 0usize;
    let mut by_type = false;
    // Each layer's ELF table, looked up by entry index.
    let mut tables: HashMap<u32, &[(u32, crate::elf::ElfInfo)]> = HashMap::new();
    for node in 1..tree.node_count() as NodeId {
        if cx.is_claimed(node) {
            continue;
        }
        let Some(event) = tree.state_at(node, Some(top)) else {
            continue;
        };
        let State::Present { entry: Some(i) } = event.state else {
            continue;
        };
        if tree.entry(event.layer, i).kind != EntryKind::File {
            continue;
        }
        let table = *tables
            .entry(event.layer)
            .or_insert_with(|| &tree.scan(event.layer as usize).elf[..]);
        let Ok(at) = table.binary_search_by_key(&i, |(entry, _)| *entry) else {
            continue;
        };
        let info = table[at].1;
        files += 1;
        by_type |= !info.by_name;
        tally.add(Place::Node(node), info.debug_bytes);
        tally.layers.insert(event.layer);
        cx.claim(node);
    }
    if files == 0 {
        return None;
    }
    let (paths, path_count) = tally.top(tree);
    let how = if by_type {
        " (some told by section type and flags: their section names were out of reach)"
    } else {
        ""
    };
    Some(Advice {
        id: Rule::ElfDebug,
        key: Rule::ElfDebug.id().to_string(),
        severity: Severity::for_bytes(tally.bytes),
        message: format!(
            "{} with debug sections ({} that strip --strip-debug removes){how}",
            plural(files, "ELF file"),
            size(tally.bytes)
        ),
        reclaimable_bytes: tally.bytes,
        layers: cx.layers(&tally.layers),
        paths,
        path_count,
        fix: "strip the binaries where they are built (`strip --strip-debug`, `install -s`, Cargo's `strip = \"debuginfo\"`), or COPY stripped ones from a builder stage".into(),
        secrets: Vec::new(),
    })
}
