//! The image model: config, platform, history and the Dockerfile instruction behind each layer. No I/O.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::compression::Compression;
use crate::layer::LayerScan;

/// `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `linux/amd64` or `linux/arm/v7`.
    pub fn parse(text: &str) -> Option<Platform> {
        let mut parts = text.split('/');
        let os = parts.next().filter(|s| !s.is_empty())?;
        let architecture = parts.next().filter(|s| !s.is_empty())?;
        let variant = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        if parts.next().is_some() {
            return None;
        }
        Some(Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant,
        })
    }

    /// linux/<the architecture this program runs on>, in OCI's names.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Whether `self` (what the user asked for) accepts `other` (what an image offers).
    /// A request without a variant accepts any variant.
    pub fn accepts(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }

    /// Build attestations are listed with platform unknown/unknown.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" || self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One `history[]` item of an image config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HistoryItem {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// The fields of an image config we use; the whole document stays available as `raw`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, deserialize_with = "null_as_default")]
    pub history: Vec<HistoryItem>,
    #[serde(skip)]
    pub raw: serde_json::Value,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        let raw: serde_json::Value = serde_json::from_slice(bytes)?;
        let mut config: ImageConfig = serde_json::from_value(raw.clone())?;
        config.raw = raw;
        Ok(config)
    }

    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// The history that belongs to one layer: the step that made it and the empty steps (ENV, WORKDIR, CMD...) that
/// followed it before the next layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerHistory {
    /// The raw `created_by` of the step that made the layer.
    pub created_by: String,
    /// That step as a person wrote it in a Dockerfile.
    pub instruction: String,
    /// Every step attached to this layer, in build order, as a person wrote them.
    pub instructions: Vec<String>,
    pub created: Option<String>,
    pub comment: Option<String>,
}

impl LayerHistory {
    /// The steps attached to the layer other than the one that made it (the empty ENV, WORKDIR, CMD... steps).
    pub fn extra_instructions(&self) -> impl Iterator<Item = &String> {
        let main = self
            .instructions
            .iter()
            .position(|i| !self.instruction.is_empty() && *i == self.instruction);
        self.instructions
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != main)
            .map(|(_, s)| s)
    }
}

/// Maps config history to layers: non-empty steps to layers in order; empty steps to the layer before them
/// (leading empty steps to the first layer). Missing or inconsistent history leaves layers without instructions
/// or puts surplus steps on the last layer; it never fails.
pub fn map_history(history: &[HistoryItem], layer_count: usize) -> Vec<LayerHistory> {
    let mut layers = vec![LayerHistory::default(); layer_count];
    if layer_count == 0 {
        return layers;
    }
    let mut next = 0usize;
    let mut pending: Vec<String> = Vec::new();
    for item in history {
        let text = step_text(item);
        if item.empty_layer {
            match next.checked_sub(1) {
                Some(current) => layers[current].instructions.push(text),
                None => pending.push(text),
            }
            continue;
        }
        if next >= layer_count {
            layers[layer_count - 1].instructions.push(text);
            continue;
        }
        let layer = &mut layers[next];
        layer.instructions.append(&mut pending);
        layer.instructions.push(text.clone());
        layer.instruction = text;
        layer.created_by = item.created_by.clone().unwrap_or_default();
        layer.created = item.created.clone();
        layer.comment = item.comment.clone();
        next += 1;
    }
    if !pending.is_empty() {
        let mut rest = std::mem::take(&mut layers[0].instructions);
        pending.append(&mut rest);
        layers[0].instructions = pending;
    }
    layers
}

fn step_text(item: &HistoryItem) -> String {
    match item.created_by.as_deref().map(str::trim) {
        Some(by) if !by.is_empty() => clean_instruction(by),
        _ => item.comment.clone().unwrap_or_default().trim().to_string(),
    }
}

const SHELLS: [&str; 4] = [
    "/bin/sh -c ",
    "/bin/bash -c ",
    "/bin/bash -o pipefail -c ",
    "cmd /S /C ",
];

/// Rebuilds the Dockerfile instruction from a history `created_by`: drops the `/bin/sh -c`, `#(nop)`, the
/// `|N KEY=value` build-arg prefix and BuildKit's `# buildkit` suffix.
pub fn clean_instruction(created_by: &str) -> String {
    let mut s = created_by.trim();
    s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    let mut keyword_run = false;
    if let Some(rest) = s.strip_prefix("RUN ") {
        s = rest.trim_start();
        keyword_run = true;
    }
    if s.starts_with('|') {
        s = strip_build_args(s);
    }
    for shell in SHELLS {
        if let Some(rest) = s.strip_prefix(shell) {
            let rest = rest.trim_start();
            if let Some(nop) = rest.strip_prefix("#(nop)") {
                return tidy_nop(nop.trim());
            }
            return format!("RUN {rest}");
        }
    }
    if keyword_run {
        return format!("RUN {s}");
    }
    s.to_string()
}

/// `|2 A=1 B=two /bin/sh -c ...` -> `/bin/sh -c ...`. Values may hold spaces, so look for the shell first.
fn strip_build_args(s: &str) -> &str {
    let digits: String = s[1..].chars().take_while(char::is_ascii_digit).collect();
    let Ok(count) = digits.parse::<usize>() else {
        return s;
    };
    let after = &s[1 + digits.len()..];
    if let Some(pos) = SHELLS.iter().filter_map(|sh| after.find(sh)).min() {
        return &after[pos..];
    }
    let mut rest = after.trim_start();
    for _ in 0..count {
        rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    rest
}

/// `COPY file:3b5c0a1e2f3a...9d in /dst` -> `COPY file:3b5c0a1e2f3a /dst`.
fn tidy_nop(s: &str) -> String {
    for keyword in ["COPY ", "ADD "] {
        if let Some(rest) = s.strip_prefix(keyword)
            && let Some((source, dest)) = rest.split_once(" in ")
        {
            let source = match source.split_once(':') {
                Some((kind, hash))
                    if hash.len() > 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    format!("{kind}:{}", &hash[..12])
                }
                _ => source.to_string(),
            };
            return format!("{keyword}{source} {}", dest.trim());
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Which archive layout an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    DockerArchive,
    OciLayout,
    OciArchive,
    /// Docker's overlay2 store, read in place.
    DockerStore,
    /// containers-storage (podman), read in place.
    ContainersStorage,
    /// A registry, over its HTTP API.
    Registry,
    /// containerd's content store, read in place.
    Containerd,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::DockerArchive => "docker-archive",
            Format::OciLayout => "oci-layout",
            Format::OciArchive => "oci-archive",
            Format::DockerStore => "docker-store",
            Format::ContainersStorage => "containers-storage",
            Format::Registry => "registry",
            Format::Containerd => "containerd",
        }
    }
}

/// Facts about an image, independent of its layers' contents.
#[derive(Debug, Clone)]
pub struct ImageMeta {
    /// What the user named: a path, or `-` for stdin.
    pub source: String,
    pub format: Format,
    /// `legacy` (Docker <= 24 save) or `oci` (an OCI layout, incl. Docker 25+ saves).
    pub layout: &'static str,
    /// Compression of the whole archive (`app.tar.gz`), if any.
    pub archive_compression: Option<Compression>,
    pub reference: Option<String>,
    pub platform: Platform,
    pub config_digest: String,
    pub manifest_digest: Option<String>,
    pub config: ImageConfig,
    /// The integrity checks this load left out (`--no-verify`).
    pub verification: Verification,
}

/// Integrity checks left out of a load, named for the user (`--no-verify`); empty when every check was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    /// What was not checked, in a few words (`layer digests`).
    pub skipped: Vec<&'static str>,
}

impl Verification {
    /// What `--no-verify` leaves out where nothing checks the content on its own: the digests of the manifest,
    /// the config and every layer blob, and each layer's diff_id; no layer is hashed at all.
    pub fn unverified() -> Verification {
        Verification {
            skipped: vec!["manifest and config digests", "layer digests", "diff_ids"],
        }
    }

    /// Only the config's diff_ids left unchecked: the rest is checked whatever the user asked (a registry's
    /// content) or there is nothing else to check (an engine's store read in place).
    pub fn diff_ids_unchecked() -> Verification {
        Verification {
            skipped: vec!["diff_ids"],
        }
    }
}

/// One layer of a loaded image.
#[derive(Debug, Clone)]
pub struct Layer {
    pub index: usize,
    /// Where its blob lives in the source (`blobs/sha256/...`, `<id>/layer.tar`).
    pub blob_path: String,
    pub media_type: Option<String>,
    /// The diff_id the config declares (or, without one, the computed one).
    pub diff_id: String,
    pub history: LayerHistory,
    pub scan: Arc<LayerScan>,
}

impl Layer {
    /// Sum of the sizes of the regular files in the layer.
    /// Sum of the regular-file sizes the layer's headers claim; `None` when it does not fit in 64 bits (a
    /// sparse entry may claim nearly 2^64 bytes).
    pub fn size_bytes(&self) -> Option<u64> {
        self.scan
            .entries
            .iter()
            .try_fold(0u64, |sum, e| sum.checked_add(e.size))
    }
}

/// An image read from any source: its facts and its scanned layers, bottom to top.
#[derive(Debug, Clone)]
pub struct Image {
    pub meta: ImageMeta,
    pub layers: Vec<Layer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(by: &str, empty: bool) -> HistoryItem {
        HistoryItem {
            created_by: Some(by.into()),
            empty_layer: empty,
            ..HistoryItem::default()
        }
    }

    #[test]
    fn classic_builder_history_is_cleaned() {
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop)  ENV SERVICE=demo"),
            "ENV SERVICE=demo"
        );
        assert_eq!(
            clean_instruction("/bin/sh -c rm -rf /tmp/x"),
            "RUN rm -rf /tmp/x"
        );
        assert_eq!(
            clean_instruction("|1 BUILD_SECRET=glpat-abc /bin/sh -c mkdir -p /srv"),
            "RUN mkdir -p /srv"
        );
        assert_eq!(
            clean_instruction(
                "/bin/sh -c #(nop) COPY file:3b5c0a1e2f3a4b5c6d7e8f90 in /home/ci/.ssh/id_rsa "
            ),
            "COPY file:3b5c0a1e2f3a /home/ci/.ssh/id_rsa"
        );
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop) WORKDIR /srv/app"),
            "WORKDIR /srv/app"
        );
        assert_eq!(
            clean_instruction(r#"/bin/sh -c #(nop)  CMD ["cat" "app.conf"]"#),
            r#"CMD ["cat" "app.conf"]"#
        );
    }

    #[test]
    fn buildkit_history_is_cleaned() {
        assert_eq!(
            clean_instruction("RUN /bin/sh -c apt-get update # buildkit"),
            "RUN apt-get update"
        );
        assert_eq!(
            clean_instruction("RUN |2 A=1 B=with space /bin/sh -c make # buildkit"),
            "RUN make"
        );
        assert_eq!(
            clean_instruction("COPY /src /app # buildkit"),
            "COPY /src /app"
        );
        assert_eq!(clean_instruction("WORKDIR /app"), "WORKDIR /app");
        assert_eq!(clean_instruction("RUN |1 X=y make"), "RUN make");
    }

    #[test]
    fn empty_steps_attach_to_the_layer_they_follow() {
        let history = vec![
            step("/bin/sh -c #(nop) ARG X", true),
            step("/bin/sh -c #(nop) ADD file:abc in / ", false),
            step("/bin/sh -c #(nop)  ENV A=1", true),
            step("/bin/sh -c echo hi > /f", false),
            step("/bin/sh -c #(nop) WORKDIR /app", true),
            step("/bin/sh -c #(nop)  CMD [\"sh\"]", true),
        ];
        let layers = map_history(&history, 2);
        assert_eq!(layers[0].instruction, "ADD file:abc /");
        assert_eq!(
            layers[0].instructions,
            vec!["ARG X", "ADD file:abc /", "ENV A=1"]
        );
        assert_eq!(layers[1].instruction, "RUN echo hi > /f");
        assert_eq!(
            layers[1].instructions,
            vec!["RUN echo hi > /f", "WORKDIR /app", "CMD [\"sh\"]"]
        );
    }

    #[test]
    fn missing_or_surplus_history_is_tolerated() {
        assert_eq!(map_history(&[], 2), vec![LayerHistory::default(); 2]);
        let history = vec![step("/bin/sh -c a", false), step("/bin/sh -c b", false)];
        let one = map_history(&history, 1);
        assert_eq!(one[0].instructions, vec!["RUN a", "RUN b"]);
        let three = map_history(&history, 3);
        assert_eq!(three[2].instruction, "");
        let imported = HistoryItem {
            comment: Some("Imported from -".into()),
            ..HistoryItem::default()
        };
        assert_eq!(
            map_history(&[imported], 1)[0].instruction,
            "Imported from -"
        );
    }

    #[test]
    fn platforms_parse_and_match() {
        let want = Platform::parse("linux/arm64").unwrap();
        let offer = Platform::parse("linux/arm64/v8").unwrap();
        assert!(want.accepts(&offer));
        assert!(!offer.accepts(&Platform::parse("linux/arm64/v7").unwrap()));
        assert_eq!(offer.to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("a/b/c/d").is_none());
    }
}
