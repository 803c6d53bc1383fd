//! The HTML report (`layerscope IMAGE --html FILE`): one self-contained page with a zoomable treemap of the final
//! filesystem coloured by the layer that wrote each byte, the layers with their instructions, the waste, the
//! advice, the secrets (redacted) and an expandable file tree.
//!
//! The page fetches nothing: its CSS and JS (assets/html/) are inlined, and a Content-Security-Policy allows only
//! those two blocks (by hash), so neither the page nor anything in it can load or send anything. The data rides in
//! a `<script type="application/json">` block that the JS reads and shows with `textContent` only. Every image
//! string in it is masked by the analysis's redactor and escaped ([`crate::escape`]), and the JSON escapes `<`,
//! `>` and `&`, so a file named `</script><img onerror=...>` stays text.
//!
//! The tree is bounded: up to [`NODE_BUDGET`] entries every entry is listed; past it, the largest entries are
//! (largest first, from the root down) and the rest of each directory is folded into one node
//! (`37 smaller entries`, with the bytes per layer), so the page stays small and opens at once on images with 100k entries.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analysis::Analysis;
use crate::analysis::advice::Advice;
use crate::image::Image;
use crate::secrets::SecretFinding;
use crate::tree::{ImageTree, NodeId, ROOT, State, Version};

/// Entries listed one by one; past this many, the smallest are folded together.
pub const NODE_BUDGET: usize = 10_000;
/// Wasted files, advice findings and secret findings the page lists (the rest are counted).
const TOP_WASTE: usize = 200;
const TOP_ADVICE: usize = 100;
const TOP_SECRETS: usize = 500;

const TEMPLATE: &str = include_str!("../../assets/html/report.html");
const STYLE: &str = include_str!("../../assets/html/report.css");
const SCRIPT: &str = include_str!("../../assets/html/report.js");

/// A node of the page's tree: `[parent, name, kind, bytes, layer, entries, split]` (see [`PageData::nodes`]).
type NodeRow = (i64, String, &'static str, u64, i64, u64, Vec<(u32, u64)>);

/// The page's data (`layerscope.html/v1`), read by assets/html/report.js.
#[derive(Debug, Serialize)]
struct PageData {
    schema: &'static str,
    image: ImageInfo,
    layers: Vec<LayerInfo>,
    /// The final filesystem in pre-order, root first: `[parent, name, kind, bytes, layer, entries, split]`, where
    /// kind is `d` directory, `f` file, `l` symlink, `h` hardlink, `o` other, `a` the folded small entries of a
    /// directory; layer is the layer that wrote the node's bytes (-1 for the root; for a folded node, the layer
    /// that wrote most of them); entries counts what a node stands for (1, or the folded); split is a folded
    /// node's `[layer, bytes]` pairs (empty for the others).
    nodes: Vec<NodeRow>,
    /// Whether small entries were folded.
    folded: bool,
    waste: Vec<WasteInfo>,
    waste_count: usize,
    advice: Vec<Advice>,
    /// `None` when no secret scan ran.
    secrets: Option<Vec<SecretFinding>>,
    secret_count: usize,
}

#[derive(Debug, Serialize)]
struct ImageInfo {
    name: String,
    source: String,
    platform: String,
    config_digest: String,
    size_bytes: u64,
    wasted_bytes: u64,
    efficiency: f64,
    user_wasted_ratio: f64,
    base_layers: usize,
    overflowed: Vec<String>,
}

#[derive(Debug, Serialize)]
struct LayerInfo {
    index: usize,
    size_bytes: u64,
    added: u64,
    modified: u64,
    deleted: u64,
    instruction: String,
    instructions: Vec<String>,
}

#[derive(Debug, Serialize)]
struct WasteInfo {
    path: String,
    bytes: u64,
    layers: Vec<u32>,
    reason: &'static str,
}

/// The page for one image; `secrets_scanned` says whether the findings list means anything.
pub fn page(image: &Image, analysis: &Analysis, secrets_scanned: bool) -> String {
    let data = page_data(image, analysis, secrets_scanned);
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_string());
    render(&script_safe(&json))
}

/// JSON that cannot end its `<script>` block or open markup: `<`, `>` and `&` (only ever inside strings) as
/// `\u` escapes, and the two line separators JavaScript once refused.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn csp_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The template with its style, script, policy and data; the data goes in last, so nothing in it is read as a
/// placeholder.
fn render(data: &str) -> String {
    let policy = format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    );
    TEMPLATE
        .replacen("{{CSP}}", &policy, 1)
        .replacen("{{STYLE}}", STYLE, 1)
        .replacen("{{SCRIPT}}", SCRIPT, 1)
        .replacen("{{DATA}}", data, 1)
}

fn page_data(image: &Image, analysis: &Analysis, secrets_scanned: bool) -> PageData {
    let mask = |raw: &str| crate::escape::escape(&analysis.redactor.mask(raw)).into_owned();
    let meta = &image.meta;
    let w = &analysis.waste;
    let (nodes, folded) = FinalTree::new(&analysis.tree).nodes(&mask);
    PageData {
        schema: "layerscope.html/v1",
        image: ImageInfo {
            name: mask(meta.reference.as_deref().unwrap_or(&meta.config_digest)),
            source: mask(&meta.source),
            platform: mask(&meta.platform.to_string()),
            config_digest: mask(&meta.config_digest),
            size_bytes: analysis.size_bytes,
            wasted_bytes: w.wasted_bytes,
            efficiency: w.efficiency,
            user_wasted_ratio: w.user_wasted_ratio,
            base_layers: analysis.base_layers,
            overflowed: analysis.overflowed.clone(),
        },
        layers: image
            .layers
            .iter()
            .zip(&analysis.layers)
            .map(|(l, s)| LayerInfo {
                index: l.index,
                size_bytes: s.size_bytes,
                added: s.counts.added,
                modified: s.counts.modified,
                deleted: s.counts.deleted,
                instruction: mask(&l.history.instruction),
                instructions: l.history.instructions.iter().map(|i| mask(i)).collect(),
            })
            .collect(),
        nodes,
        folded,
        waste: w
            .files
            .iter()
            .take(TOP_WASTE)
            .map(|f| WasteInfo {
                path: mask(&f.path),
                bytes: f.wasted_bytes,
                layers: f.layers.clone(),
                reason: f.reason.name(),
            })
            .collect(),
        waste_count: w.files.len(),
        advice: analysis
            .advice
            .iter()
            .take(TOP_ADVICE)
            .map(|a| masked_advice(a, &mask))
            .collect(),
        secrets: secrets_scanned.then(|| {
            analysis
                .secrets
                .iter()
                .take(TOP_SECRETS)
                .map(|f| masked_finding(f, &mask))
                .collect()
        }),
        secret_count: analysis.secrets.len(),
    }
}

fn masked_advice(a: &Advice, mask: &impl Fn(&str) -> String) -> Advice {
    let mut a = a.clone();
    a.message = mask(&a.message);
    a.fix = mask(&a.fix);
    a.key = mask(&a.key);
    for l in &mut a.layers {
        l.instruction = mask(&l.instruction);
    }
    for p in &mut a.paths {
        p.path = mask(&p.path);
    }
    a
}

fn masked_finding(f: &SecretFinding, mask: &impl Fn(&str) -> String) -> SecretFinding {
    let mut f = f.clone();
    f.rule = mask(&f.rule);
    f.description = mask(&f.description);
    f.path = f.path.as_deref().map(mask);
    f.instruction = f.instruction.as_deref().map(mask);
    f.redacted = mask(&f.redacted);
    f
}

/// The final filesystem's present nodes with their total bytes (each file version counted once, as
/// `size_bytes` counts it: a hardlink adds nothing) and the layer that wrote each node.
struct FinalTree<'a> {
    tree: &'a ImageTree,
    top: Option<u32>,
    /// Per node: total bytes below it (itself for a file), and the layer that wrote it.
    bytes: Vec<u64>,
    layer: Vec<u32>,
    /// Present children per node, largest first.
    children: Vec<Vec<NodeId>>,
}

impl<'a> FinalTree<'a> {
    fn new(tree: &'a ImageTree) -> FinalTree<'a> {
        let top = tree.layer_count().checked_sub(1).map(|l| l as u32);
        let count = tree.node_count();
        let mut t = FinalTree {
            tree,
            top,
            bytes: vec![0; count],
            layer: vec![0; count],
            children: vec![Vec::new(); count],
        };
        if top.is_none() {
            return t;
        }
        // Pre-order, parents before children; sums are then taken in reverse.
        let mut order = vec![ROOT];
        let mut seen: HashSet<Version> = HashSet::new();
        let mut i = 0;
        while i < order.len() {
            let node = order[i];
            i += 1;
            for &c in tree.children(node) {
                let Some(event) = tree.state_at(c, top) else {
                    continue;
                };
                if !matches!(event.state, State::Present { .. }) {
                    continue;
                }
                t.layer[c as usize] = event.layer;
                if let Some(version) = tree.version_of(&event) {
                    t.layer[c as usize] = version.0;
                    if seen.insert(version) {
                        t.bytes[c as usize] = tree.entry(version.0, version.1).size;
                    }
                }
                t.children[node as usize].push(c);
                order.push(c);
            }
        }
        for &node in order.iter().rev() {
            let below = t.children[node as usize]
                .iter()
                .fold(0u64, |b, &c| b.saturating_add(t.bytes[c as usize]));
            t.bytes[node as usize] = t.bytes[node as usize].saturating_add(below);
            let bytes = &t.bytes;
            t.children[node as usize].sort_by(|a, b| bytes[*b as usize].cmp(&bytes[*a as usize]));
        }
        t
    }

    fn kind(&self, node: NodeId) -> &'static str {
        use crate::layer::EntryKind;
        let Some(event) = self.tree.state_at(node, self.top) else {
            return "o";
        };
        if self.tree.is_dir_event(&event) {
            return "d";
        }
        match self.tree.event_entry(&event).map(|e| e.kind) {
            Some(EntryKind::File) => "f",
            Some(EntryKind::Symlink) => "l",
            Some(EntryKind::Hardlink) => "h",
            _ => "o",
        }
    }

    /// The nodes the page lists: all of them within [`NODE_BUDGET`]; past it, the [`NODE_BUDGET`] largest that
    /// hang together from the root (taken largest first, a node's children becoming candidates once it is
    /// taken), so a directory is only opened when it outweighs everything still closed.
    fn listed(&self) -> Vec<bool> {
        let mut listed = vec![false; self.bytes.len()];
        listed[ROOT as usize] = true;
        let mut candidates: BinaryHeap<(u64, Reverse<NodeId>)> = self.children[ROOT as usize]
            .iter()
            .map(|&c| (self.bytes[c as usize], Reverse(c)))
            .collect();
        let mut taken = 0;
        while taken < NODE_BUDGET {
            let Some((_, Reverse(node))) = candidates.pop() else {
                break;
            };
            listed[node as usize] = true;
            taken += 1;
            candidates.extend(
                self.children[node as usize]
                    .iter()
                    .map(|&c| (self.bytes[c as usize], Reverse(c))),
            );
        }
        listed
    }

    /// The flat node list for the page (pre-order, largest first within a directory, then one node for what was
    /// not listed), and whether anything was folded.
    fn nodes(&self, mask: &impl Fn(&str) -> String) -> (Vec<NodeRow>, bool) {
        let listed = self.listed();
        let mut folded = false;
        let root = (
            -1,
            "/".to_string(),
            "d",
            self.bytes[ROOT as usize],
            -1,
            1,
            Vec::new(),
        );
        let mut out: Vec<NodeRow> = vec![root];
        // (node, its index in `out`)
        let mut stack = vec![(ROOT, 0usize)];
        while let Some((node, at)) = stack.pop() {
            let mut small: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
            for &c in &self.children[node as usize] {
                if !listed[c as usize] {
                    self.fold(c, &mut small);
                    continue;
                }
                let name = mask(&crate::path::display(self.tree.name(c)));
                out.push((
                    at as i64,
                    name,
                    self.kind(c),
                    self.bytes[c as usize],
                    i64::from(self.layer[c as usize]),
                    1,
                    Vec::new(),
                ));
                if !self.children[c as usize].is_empty() {
                    stack.push((c, out.len() - 1));
                }
            }
            if small.is_empty() {
                continue;
            }
            folded = true;
            let entries: u64 = small.values().map(|(_, e)| e).sum();
            let bytes = small.values().fold(0u64, |s, (b, _)| s.saturating_add(*b));
            // Coloured by the layer that wrote most of its bytes; the split rides along for the totals.
            let main = small
                .iter()
                .max_by_key(|(layer, (b, _))| (*b, Reverse(**layer)))
                .map_or(0, |(layer, _)| *layer);
            out.push((
                at as i64,
                format!(
                    "{entries} smaller entr{}",
                    if entries == 1 { "y" } else { "ies" }
                ),
                "a",
                bytes,
                i64::from(main),
                entries,
                small.iter().map(|(l, (b, _))| (*l, *b)).collect(),
            ));
        }
        (out, folded)
    }

    /// Adds a node and everything below it to per-layer (bytes, entries) totals.
    fn fold(&self, node: NodeId, into: &mut BTreeMap<u32, (u64, u64)>) {
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            let own = self.bytes[n as usize].saturating_sub(
                self.children[n as usize]
                    .iter()
                    .fold(0u64, |s, c| s.saturating_add(self.bytes[*c as usize])),
            );
            let slot = into.entry(self.layer[n as usize]).or_insert((0, 0));
            slot.0 = slot.0.saturating_add(own);
            slot.1 += 1;
            stack.extend(&self.children[n as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_the_page_cannot_close_its_script_block() {
        let json =
            serde_json::to_string(&["</script><img src=x onerror=alert(1)>&amp;\u{2028}"]).unwrap();
        let safe = script_safe(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: Vec<String> = serde_json::from_str(&safe).unwrap();
        assert_eq!(
            back[0],
            "</script><img src=x onerror=alert(1)>&amp;\u{2028}"
        );
    }

    #[test]
    fn the_policy_allows_exactly_the_inlined_style_and_script() {
        let page = render("{}");
        assert!(page.contains(&csp_hash(SCRIPT)) && page.contains(&csp_hash(STYLE)));
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        assert!(!page.contains("{{"));
    }
}
