//! Where images come from. Every format sits behind [`ImageSource`]: it yields an [`Image`] (config, manifest
//! facts and each layer scanned once). Archives and layouts all go through a [`catalog::Catalog`] and one format
//! resolver ([`layout`]); engine stores implement [`ImageSource`] directly; a registry is a lazy catalog.

mod bbolt;
mod beneath;
mod catalog;
mod containerd;
mod engine_api;
mod layout;
mod overlay;
mod reference;
mod registry;
mod resolve;
mod stores;
mod stream;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::image::{Image, ImageMeta, Layer, Verification, map_history};
use crate::layer::{
    self, ContentInspector, Copied, CopyError, LayerScan, Progress, ScanError, ScanOptions,
};
use crate::limits::Limits;
use crate::oci::Digest;
use catalog::{Catalog, DirCatalog, TarCatalog};
pub use containerd::{ContainerdOptions, ContainerdStore, Target as ContainerdTarget};
pub use layout::{Selection, normalize_reference, reference_matches};
pub use reference::Reference;
#[doc(hidden)]
pub use registry::parse_responses as parse_registry_responses;
pub use registry::{
    Credential, DEFAULT_CACHE_MAX, DEFAULT_JOBS, RegistryOptions, RegistrySource, clean_cache,
    default_cache_dir,
};
pub use resolve::{Opened, SourceKind, SourceOptions, open_source};
use stream::StreamCatalog;

/// What to read and how.
#[derive(Clone, Default)]
pub struct LoadOptions {
    pub selection: Selection,
    /// Keep the bytes of every version of the file at this path (normalised, relative), for `cat`.
    pub capture: Option<Vec<u8>>,
    /// Looks at file contents during the one pass over each layer (secret scanning).
    pub inspector: Option<Arc<dyn ContentInspector + Send>>,
    /// Bounds on the work the input may cause.
    pub limits: Limits,
    /// Layers already read (the other image of a diff), by the diff_id their bytes hashed to: a layer of an
    /// archive or layout whose config declares one of these diff_ids is taken from here, not read again.
    pub known_layers: Option<Arc<HashMap<String, Arc<LayerScan>>>>,
    /// When not verifying, do not hash the layers either (`--no-verify`): their `LayerScan::diff_id` and
    /// `blob_digest` stay empty. Verifying hashes them whatever this says.
    pub skip_digests: bool,
}

impl LoadOptions {
    /// The per-layer scan settings these options ask for.
    pub(crate) fn scan_options<'a>(&'a self, progress: &'a dyn Progress) -> ScanOptions<'a> {
        ScanOptions {
            capture: self.capture.as_deref(),
            progress,
            inspector: self
                .inspector
                .as_deref()
                .map(|i| i as &dyn ContentInspector),
            limits: self.limits,
            digests: self.selection.verify || !self.skip_digests,
        }
    }
}

/// A layer blob's short name for progress displays (image-derived: escape it before showing it): `sha256:` and 12 hex digits of a digest, else the key's last component.
pub fn blob_short_name(key: &str) -> String {
    let mut parts = key.rsplit('/');
    let last = parts.next().unwrap_or(key);
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex(last) {
        let algorithm = parts.next().unwrap_or("sha256");
        return format!("{algorithm}:{}", &last[..12]);
    }
    match parts.next() {
        // `docker save`: `<hex>/layer.tar`.
        Some(dir) if hex(dir) => dir[..12].to_string(),
        _ => last.to_string(),
    }
}

/// Anything that can produce an image.
pub trait ImageSource {
    /// Reads the image: its facts and every layer, scanned once, bottom to top.
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage>;
}

/// What a load reports: the bytes of every layer blob ([`Progress`], which the layer scan reports), and the
/// image itself as it takes shape, so a viewer can show it while it loads. Lives here, above the image model
/// and the layer scan, because it speaks of both.
pub trait LoadProgress: Progress {
    /// The image is resolved, before any layer is read: its facts, history and layer list, every layer's
    /// `scan` still empty. Said once by every source.
    fn image_resolved(&self, _image: &Image) {}
    /// Layer `index` (of the image [`LoadProgress::image_resolved`] gave) is scanned; not verified yet. Said
    /// once per layer, by every source, in any order and from any thread (a blob backing several layers is
    /// said for each of them).
    fn layer_scanned(&self, _index: usize, _scan: &Arc<LayerScan>) {}
}

impl LoadProgress for crate::layer::NoProgress {}

/// A loaded image plus what is needed to read a file's bytes again later.
pub struct LoadedImage {
    pub image: Image,
    reader: Box<dyn EntryReader>,
}

/// Copies the bytes of one entry of one layer again, from wherever the layer lives.
pub(crate) trait EntryReader: Send + Sync {
    fn copy_entry(
        &self,
        image: &Image,
        layer: usize,
        entry: u32,
        out: &mut dyn Write,
        limit: Option<u64>,
        cancel: &AtomicBool,
    ) -> Result<Copied, CopyError<Error>>;
}

/// Fails every read and write once `cancel` is set: a re-read nobody waits for any more stops at its next
/// chunk, whether it is still skipping the entries before the one asked for or already copying it.
struct Cancellable<'c, T> {
    inner: T,
    cancel: &'c AtomicBool,
}

impl<T> Cancellable<'_, T> {
    fn check(&self) -> std::io::Result<()> {
        match self.cancel.load(Ordering::Relaxed) {
            true => Err(std::io::Error::other("cancelled")),
            false => Ok(()),
        }
    }
}

impl<T: Read> Read for Cancellable<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.check()?;
        self.inner.read(buf)
    }
}

impl<T: Write> Write for Cancellable<'_, T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.check()?;
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Layers that are blobs in a catalog: re-read the blob up to the entry, within the limits they were read with.
struct CatalogEntries(Box<dyn Catalog + Send>, Limits);

impl EntryReader for CatalogEntries {
    fn copy_entry(
        &self,
        image: &Image,
        layer: usize,
        entry: u32,
        out: &mut dyn Write,
        limit: Option<u64>,
        cancel: &AtomicBool,
    ) -> Result<Copied, CopyError<Error>> {
        let l = &image.layers[layer];
        let reader = match self.0.reopen(&l.blob_path) {
            Some(r) => r.map_err(CopyError::Read)?,
            None => {
                let e = &l.scan.entries[entry as usize];
                let why = if e.size > layer::CAPTURE_LIMIT {
                    format!(
                        "holds {} bytes, more than the {} MiB kept from",
                        e.size,
                        layer::CAPTURE_LIMIT >> 20
                    )
                } else {
                    "was not kept while reading".to_string()
                };
                return Err(CopyError::Read(Error::Usage(format!(
                    "{}: {} {why} a stream, which cannot be read twice; save the image to a file and read that",
                    image.meta.source,
                    crate::path::display_absolute(&e.path),
                ))));
            }
        };
        let reader = Cancellable {
            inner: reader,
            cancel,
        };
        layer::copy_entry(reader, entry, out, limit, self.1).map_err(|e| {
            e.map_read(|e| Error::Layer {
                index: layer,
                path: l.blob_path.clone(),
                detail: e.0,
            })
        })
    }
}

/// Layers that are directories (engine stores): read the file in place, never leaving the layer directory.
pub(crate) struct DirEntries(pub Vec<beneath::Beneath>);

impl EntryReader for DirEntries {
    fn copy_entry(
        &self,
        image: &Image,
        layer: usize,
        entry: u32,
        out: &mut dyn Write,
        limit: Option<u64>,
        // Reading the file and writing it alternate: the cancellable writer stops the copy.
        _cancel: &AtomicBool,
    ) -> Result<Copied, CopyError<Error>> {
        let l = &image.layers[layer];
        let e = &l.scan.entries[entry as usize];
        let shown = || format!("{}/{}", l.blob_path, crate::path::display(&e.path));
        let file = self.0[layer]
            .file(&e.path)
            .map_err(|err| CopyError::Read(Error::io(shown(), err)))?;
        layer::copy_limited(&mut file.take(e.size), out, limit)
            .map_err(|err| err.map_read(|err| Error::io(shown(), err)))
    }
}

impl LoadedImage {
    /// This image's layer scans by diff_id, for [`LoadOptions::known_layers`] when loading another image: the
    /// diff_id each layer's config declares (verified unless the load skipped verification; with `--no-verify`
    /// no diff_id is computed, and the declared one is what both images are matched by anyway).
    pub fn layers_by_diff_id(&self) -> HashMap<String, Arc<LayerScan>> {
        self.image
            .layers
            .iter()
            .filter(|l| !l.diff_id.is_empty())
            .map(|l| (l.diff_id.clone(), l.scan.clone()))
            .collect()
    }

    /// Copies the bytes of entry `entry` of layer `layer` to `out` as they are read (at most `limit` bytes when
    /// given): from the capture made while loading, or by reading the layer again when the source allows it.
    pub fn copy_entry(
        &self,
        layer: usize,
        entry: u32,
        out: &mut dyn Write,
        limit: Option<u64>,
    ) -> Result<Copied, CopyError<Error>> {
        self.copy_entry_cancellable(layer, entry, out, limit, &AtomicBool::new(false))
    }

    /// [`LoadedImage::copy_entry`], stopping with an error at the next chunk read or written once `cancel` is
    /// set (the explorer's read replaced by a newer request): the layer is not read to the end for nothing.
    pub fn copy_entry_cancellable(
        &self,
        layer: usize,
        entry: u32,
        out: &mut dyn Write,
        limit: Option<u64>,
        cancel: &AtomicBool,
    ) -> Result<Copied, CopyError<Error>> {
        let mut out = Cancellable { inner: out, cancel };
        let l = self
            .image
            .layers
            .get(layer)
            .ok_or_else(|| CopyError::Read(Error::Usage(format!("no layer {layer}"))))?;
        if l.scan.entries.get(entry as usize).is_none() {
            return Err(CopyError::Read(Error::Usage(format!(
                "no entry {entry} in layer {layer}"
            ))));
        }
        if let Some((_, data)) = l.scan.captured.iter().find(|(i, _)| *i == entry) {
            return layer::copy_limited(&mut &data[..], &mut out, limit)
                .map_err(|e| e.map_read(|e| Error::io("capture", e)));
        }
        self.reader
            .copy_entry(&self.image, layer, entry, &mut out, limit, cancel)
    }

    /// The first `limit` bytes of an entry (for showing it), and whether the entry holds more.
    pub fn entry_prefix(&self, layer: usize, entry: u32, limit: u64) -> Result<(Vec<u8>, bool)> {
        let mut bytes = Vec::new();
        match self.copy_entry(layer, entry, &mut bytes, Some(limit)) {
            Ok(copied) => Ok((bytes, copied.truncated)),
            Err(CopyError::Read(e)) => Err(e),
            Err(CopyError::Write(e)) => Err(Error::io("memory", e)),
        }
    }
}

/// A catalog that reads its one layer again through a function: a slow or blocking layer, in tests.
#[cfg(test)]
pub(crate) struct Reopen(pub Box<dyn Fn() -> Box<dyn Read + Send> + Send + Sync>);

#[cfg(test)]
impl Reopen {
    /// `image`, its layers read again through this.
    pub(crate) fn loaded(self, image: Image) -> LoadedImage {
        LoadedImage {
            image,
            reader: Box::new(CatalogEntries(Box::new(self), Limits::default())),
        }
    }
}

#[cfg(test)]
impl Catalog for Reopen {
    fn origin(&self) -> &str {
        "test"
    }
    fn contains(&self, _: &str) -> bool {
        true
    }
    fn size_of(&self, _: &str) -> Option<u64> {
        None
    }
    fn read_meta(&self, key: &str) -> Result<Vec<u8>> {
        Err(Error::Usage(format!("no {key}")))
    }
    fn scan(&self, key: &str, _: ScanOptions<'_>) -> Result<Arc<LayerScan>, ScanError> {
        Err(ScanError(format!("no {key}")))
    }
    fn reopen(&self, _: &str) -> Option<Result<Box<dyn Read + Send + '_>>> {
        Some(Ok((self.0)()))
    }
    fn sample_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Records what a load reports through [`LoadProgress::image_resolved`] and [`LoadProgress::layer_scanned`], in tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct ScanRecorder {
    /// The layer count of each image resolved, and whether any of its scans was filled already.
    resolved: std::sync::Mutex<Vec<(usize, bool)>>,
    /// (layer, scan) in the order reported, and whether the image was resolved by then.
    scanned: std::sync::Mutex<Vec<(usize, Arc<LayerScan>, bool)>>,
}

#[cfg(test)]
impl Progress for ScanRecorder {}

#[cfg(test)]
impl LoadProgress for ScanRecorder {
    fn image_resolved(&self, image: &Image) {
        let filled = image.layers.iter().any(|l| !l.scan.entries.is_empty());
        self.resolved
            .lock()
            .unwrap()
            .push((image.layers.len(), filled));
    }
    fn layer_scanned(&self, index: usize, scan: &Arc<LayerScan>) {
        let resolved = !self.resolved.lock().unwrap().is_empty();
        self.scanned
            .lock()
            .unwrap()
            .push((index, scan.clone(), resolved));
    }
}

#[cfg(test)]
impl ScanRecorder {
    /// The image was resolved once, empty, before any layer; then every layer was reported exactly once (in
    /// any order), with the very scan the loaded image holds.
    pub(crate) fn check(&self, image: &Image) {
        assert_eq!(
            *self.resolved.lock().unwrap(),
            vec![(image.layers.len(), false)]
        );
        let mut scanned = self.scanned.lock().unwrap().clone();
        scanned.sort_by_key(|(index, _, _)| *index);
        let indices: Vec<usize> = scanned.iter().map(|(i, _, _)| *i).collect();
        assert_eq!(indices, (0..image.layers.len()).collect::<Vec<_>>());
        for (index, scan, resolved) in scanned {
            assert!(resolved, "layer {index} reported before the image");
            assert!(
                Arc::ptr_eq(&scan, &image.layers[index].scan),
                "layer {index}"
            );
        }
    }
}

/// An image archive or layout named by a path, or read from stdin (`-`).
pub struct ArchiveSource {
    name: String,
    path: Option<PathBuf>,
}

impl ArchiveSource {
    /// `-` reads stdin.
    pub fn new(name: &str) -> ArchiveSource {
        ArchiveSource {
            name: name.to_string(),
            path: (name != "-").then(|| PathBuf::from(name)),
        }
    }

    fn catalog(
        &self,
        opts: &LoadOptions,
        progress: &dyn Progress,
    ) -> Result<Box<dyn Catalog + Send>> {
        let scan = opts.scan_options(progress);
        let Some(path) = &self.path else {
            return stream_catalog(&self.name, std::io::stdin(), scan);
        };
        let meta = std::fs::metadata(path).map_err(|e| Error::io(&self.name, e))?;
        if meta.is_dir() {
            return Ok(Box::new(DirCatalog::new(&self.name, path)?));
        }
        let mut file = File::open(path).map_err(|e| Error::io(&self.name, e))?;
        let mut head = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(&self.name, e))?;
        if Compression::sniff(&head) == Compression::None && compression::looks_like_tar(&head) {
            return Ok(Box::new(TarCatalog::index(&self.name, path, &opts.limits)?));
        }
        let file = File::open(path).map_err(|e| Error::io(&self.name, e))?;
        stream_catalog(&self.name, file, scan)
    }
}

fn stream_catalog(
    name: &str,
    reader: impl Read + Send,
    scan: ScanOptions<'_>,
) -> Result<Box<dyn Catalog + Send>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered
        .fill_buf()
        .map_err(|e| Error::io(name, e))?
        .to_vec();
    let outer = Compression::sniff(&head);
    let (_, mut decoded) = compression::decoder(buffered, scan.limits.expansion_ratio)
        .map_err(|e| Error::io(name, e))?;
    let mut inner = BufReader::with_capacity(256 * 1024, &mut decoded);
    let inner_head = match inner.fill_buf() {
        Ok(h) => h.to_vec(),
        Err(e) => {
            return Err(Error::UnknownFormat {
                path: name.to_string(),
                found: format!("unreadable {} data: {e}", outer.name()),
            });
        }
    };
    if !compression::looks_like_tar(&inner_head) {
        return Err(Error::UnknownFormat {
            path: name.to_string(),
            found: describe_content(&head, &inner_head, outer),
        });
    }
    let compression = (outer != Compression::None).then_some(outer);
    Ok(Box::new(StreamCatalog::read(
        name,
        inner,
        compression,
        scan,
    )?))
}

/// Says in a few words what a file that is not an image seems to be.
fn describe_content(head: &[u8], inner: &[u8], outer: Compression) -> String {
    if outer != Compression::None {
        return format!("{}-compressed data that is not a tar", outer.name());
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]);
    let trimmed = text.trim_start();
    match head {
        [] => "an empty file".into(),
        [0x7f, b'E', b'L', b'F', ..] => "an ELF executable".into(),
        [b'P', b'K', 3, 4, ..] => "a zip archive".into(),
        _ if trimmed.starts_with('{') || trimmed.starts_with('[') => "a JSON document".into(),
        _ if inner.len() < 512 && !inner.is_empty() => {
            format!("{} bytes, too short for a tar", inner.len())
        }
        _ => "data that is neither a tar, gzip nor zstd".into(),
    }
}

impl ImageSource for ArchiveSource {
    fn load(&self, opts: &LoadOptions, progress: &dyn LoadProgress) -> Result<LoadedImage> {
        let catalog = self.catalog(opts, progress)?;
        load_catalog(&self.name, catalog, opts, progress)
    }
}

/// Resolves the image in a catalog, scans its layers (each unique blob once, in parallel) and verifies them.
pub(crate) fn load_catalog(
    name: &str,
    catalog: Box<dyn Catalog + Send>,
    opts: &LoadOptions,
    progress: &dyn LoadProgress,
) -> Result<LoadedImage> {
    {
        let resolved = layout::resolve(catalog.as_ref(), &opts.selection)?;
        let diff_ids = &resolved.config.rootfs.diff_ids;
        let verify = opts.selection.verify;
        if verify {
            // Refuse digests that cannot be checked before reading any layer.
            for (index, lref) in resolved.layers.iter().enumerate() {
                if let Some(d) = &lref.digest {
                    layout::check_verifiable(&format!("{name}: layer {index} ({})", lref.key), d)?;
                }
                declared_digest(name, index, lref, diff_ids.get(index).map(String::as_str))?;
            }
        }
        if verify && diff_ids.len() != resolved.layers.len() {
            return Err(Error::invalid(
                name,
                format!(
                    "the config lists {} diff_ids but the manifest {} layers (--no-verify reads it anyway)",
                    diff_ids.len(),
                    resolved.layers.len()
                ),
            ));
        }
        let scan = opts.scan_options(progress);
        // A layer already read elsewhere is not read again; its bytes hashed to this very diff_id there.
        let known = |index: usize| -> Option<Arc<LayerScan>> {
            opts.known_layers
                .as_ref()?
                .get(diff_ids.get(index)?)
                .cloned()
        };
        // One blob may back several layers (Docker 25+ dedups the empty layer): scan each once, in parallel.
        let mut keys: Vec<&str> = resolved
            .layers
            .iter()
            .enumerate()
            .filter(|(index, _)| known(*index).is_none())
            .map(|(_, l)| l.key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let total: Option<u64> = keys.iter().map(|k| catalog.size_of(k)).sum();
        progress.begin(keys.len(), total);
        // The image as known before any layer is read; each layer's scan fills in as it completes.
        let histories = map_history(&resolved.config.history, resolved.layers.len());
        let skeleton = Image {
            meta: ImageMeta {
                source: name.to_string(),
                format: resolved.format,
                layout: resolved.layout,
                archive_compression: catalog.archive_compression(),
                reference: resolved.reference.clone(),
                platform: resolved.platform.clone(),
                config_digest: resolved.config_digest.to_string(),
                manifest_digest: resolved.manifest_digest.as_ref().map(|d| d.to_string()),
                config: resolved.config.clone(),
                verification: match (verify, catalog.checks_content()) {
                    (true, _) => Verification::default(),
                    (false, true) => Verification::diff_ids_unchecked(),
                    (false, false) => Verification::unverified(),
                },
            },
            layers: resolved
                .layers
                .iter()
                .enumerate()
                .zip(histories)
                .map(|((index, lref), history)| Layer {
                    index,
                    blob_path: lref.key.clone(),
                    media_type: lref.media_type.as_ref().map(ToString::to_string),
                    diff_id: diff_ids.get(index).cloned().unwrap_or_default(),
                    history,
                    scan: Arc::default(),
                })
                .collect(),
        };
        progress.image_resolved(&skeleton);
        let mut indices: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, lref) in resolved.layers.iter().enumerate() {
            match known(index) {
                Some(scan) => progress.layer_scanned(index, &scan),
                None => indices.entry(lref.key.as_str()).or_default().push(index),
            }
        }
        let scans: HashMap<&str, Result<Arc<LayerScan>, ScanError>> = keys
            .par_iter()
            .map(|k| {
                let named = layer::LayerProgress::start(progress, k, catalog.size_of(k));
                let scan = ScanOptions {
                    progress: &named,
                    ..scan
                };
                let result = catalog.scan(k, scan);
                if let Ok(scan) = &result {
                    for index in indices.get(k).into_iter().flatten() {
                        progress.layer_scanned(*index, scan);
                    }
                }
                (*k, result)
            })
            .collect();
        let mut layers = Vec::with_capacity(resolved.layers.len());
        for ((index, lref), mut layer) in resolved.layers.iter().enumerate().zip(skeleton.layers) {
            let known = known(index);
            let scan = match known
                .as_ref()
                .map_or_else(|| scans[lref.key.as_str()].as_ref(), Ok)
            {
                Ok(scan) => scan.clone(),
                Err(_) if !catalog.contains(&lref.key) => {
                    return Err(Error::Missing {
                        archive: name.to_string(),
                        path: lref.key.clone(),
                        hint: format!(
                            " (layer {index}){}",
                            if lref.foreign {
                                ": a foreign layer, fulfilled elsewhere"
                            } else {
                                ""
                            }
                        ),
                    });
                }
                Err(e) => {
                    return Err(Error::Layer {
                        index,
                        path: lref.key.clone(),
                        detail: e.0.clone(),
                    });
                }
            };
            let declared = diff_ids.get(index).cloned();
            if verify && known.is_none() {
                verify_layer(name, index, lref, declared.as_deref(), &scan)?;
            }
            if declared.is_none() {
                layer.diff_id = scan.diff_id.clone();
            }
            layer.scan = scan;
            layers.push(layer);
        }
        let meta = skeleton.meta;
        Ok(LoadedImage {
            image: Image { meta, layers },
            reader: Box::new(CatalogEntries(catalog, opts.limits)),
        })
    }
}

/// A config's diff_id for a layer, parsed and checkable (sha256); `None` when the config lists none.
fn declared_digest(
    name: &str,
    index: usize,
    lref: &layout::LayerRef,
    declared: Option<&str>,
) -> Result<Option<Digest>> {
    let Some(text) = declared else {
        return Ok(None);
    };
    let what = format!("{name}: layer {index} ({})", lref.key);
    let digest: Digest = text
        .parse()
        .map_err(|e: crate::oci::DigestError| Error::invalid(&what, format!("diff_id: {e}")))?;
    layout::check_verifiable(&what, &digest)?;
    Ok(Some(digest))
}

/// Checks a scanned layer against its descriptor's digest and the config's diff_id.
fn verify_layer(
    name: &str,
    index: usize,
    lref: &layout::LayerRef,
    declared: Option<&str>,
    scan: &LayerScan,
) -> Result<()> {
    if let Some(expected) = &lref.digest {
        layout::check_verifiable(&format!("{name}: layer {index} ({})", lref.key), expected)?;
        if expected.as_str() != scan.blob_digest {
            return Err(Error::DigestMismatch {
                path: format!("{name}: layer {index} ({})", lref.key),
                actual: scan.blob_digest.clone(),
                expected: expected.to_string(),
            });
        }
    }
    if let Some(expected) = declared_digest(name, index, lref, declared)?
        && expected.as_str() != scan.diff_id
    {
        return Err(Error::DiffIdMismatch {
            index,
            path: lref.key.clone(),
            actual: scan.diff_id.clone(),
            expected: expected.to_string(),
        });
    }
    Ok(())
}

/// Opens what the user named: a file, a directory, or `-` for stdin.
pub fn open(name: &str) -> Result<Box<dyn ImageSource>> {
    if name != "-" && !Path::new(name).exists() {
        return Err(Error::NotFound {
            path: name.to_string(),
            detail: "no such file or directory".into(),
        });
    }
    Ok(Box::new(ArchiveSource::new(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_of_blobs() {
        let hex = "ab".repeat(32);
        assert_eq!(
            blob_short_name(&format!("blobs/sha256/{hex}")),
            "sha256:abababababab"
        );
        assert_eq!(blob_short_name(&format!("{hex}/layer.tar")), "abababababab");
        assert_eq!(blob_short_name("layers/one.tar"), "one.tar");
    }
    use crate::layer::NoProgress;

    const GIB: u64 = 1 << 30;

    /// A numeric tar field: octal when it fits, else GNU base-256.
    fn number(field: &mut [u8], value: u64) {
        let octal = format!("{value:0width$o}", width = field.len() - 1);
        if octal.len() < field.len() {
            field[..octal.len()].copy_from_slice(octal.as_bytes());
            field[octal.len()] = 0;
        } else {
            field.fill(0);
            field[0] = 0x80;
            let at = field.len() - 8;
            field[at..].copy_from_slice(&value.to_be_bytes());
        }
    }

    /// A layer tar holding `big`, a GNU sparse file of `real` bytes that are all holes but its last 5
    /// (`tail!`), and `small`.
    fn sparse_layer(real: u64) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_path("big").unwrap();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_mode(0o644);
        h.set_size(5);
        let gnu = h.as_gnu_mut().unwrap();
        number(&mut gnu.sparse[0].offset, real - 5);
        number(&mut gnu.sparse[0].numbytes, 5);
        number(&mut gnu.realsize, real);
        h.set_cksum();
        b.append(&h, &b"tail!"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "small", &b"small"[..]).unwrap();
        b.into_inner().unwrap()
    }

    /// A legacy `docker save` of one image whose one layer is `layer`: (name, bytes) of each file.
    fn save(layer: &[u8]) -> Vec<(String, Vec<u8>)> {
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(layer).to_string()]},
        }))
        .unwrap();
        let manifest = serde_json::json!([{
            "Config": "config.json", "RepoTags": ["t:1"], "Layers": ["l/layer.tar"]
        }]);
        vec![
            ("config.json".into(), config),
            ("l/layer.tar".into(), layer.to_vec()),
            (
                "manifest.json".into(),
                serde_json::to_vec(&manifest).unwrap(),
            ),
        ]
    }

    fn options(capture: &[u8]) -> LoadOptions {
        LoadOptions {
            selection: Selection {
                verify: true,
                ..Selection::default()
            },
            capture: Some(capture.to_vec()),
            inspector: None,
            limits: Limits::default(),
            known_layers: None,
            skip_digests: false,
        }
    }

    fn load_dir(files: &[(String, Vec<u8>)], capture: &[u8]) -> (tempfile::TempDir, LoadedImage) {
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        let source = ArchiveSource::new(&dir.path().to_string_lossy());
        let loaded = source.load(&options(capture), &NoProgress).unwrap();
        (dir, loaded)
    }

    fn load_stream(files: &[(String, Vec<u8>)], capture: &[u8]) -> LoadedImage {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        let outer = b.into_inner().unwrap();
        let opts = options(capture);
        let catalog = stream_catalog("-", &outer[..], opts.scan_options(&NoProgress)).unwrap();
        load_catalog("-", catalog, &opts, &NoProgress).unwrap()
    }

    fn index_of(loaded: &LoadedImage, path: &[u8]) -> u32 {
        let entries = &loaded.image.layers[0].scan.entries;
        entries.iter().position(|e| &*e.path == path).unwrap() as u32
    }

    /// Counts what is written, keeps nothing.
    struct Counter(u64, Vec<u8>);

    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            // The last few bytes, to check the tail arrived.
            self.1 = buf[buf.len().saturating_sub(5)..].to_vec();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A legacy `docker save` of four layers, the second and fourth the same blob (as Docker dedups the
    /// empty layer), the third much larger than the others.
    fn save_of_four() -> Vec<(String, Vec<u8>)> {
        let layer = |names: &[&str], size: usize| {
            let mut b = tar::Builder::new(Vec::new());
            for name in names {
                let mut h = tar::Header::new_gnu();
                h.set_size(size as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, name, &vec![b'x'; size][..]).unwrap();
            }
            b.into_inner().unwrap()
        };
        let blobs = [
            layer(&["a", "b"], 10),
            layer(&["empty"], 0),
            layer(&["big1", "big2"], 1 << 20),
        ];
        let order = [0, 1, 2, 1];
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": order.iter()
                .map(|b| Digest::sha256_of(&blobs[*b]).to_string()).collect::<Vec<_>>()},
        }))
        .unwrap();
        let manifest = serde_json::json!([{
            "Config": "config.json", "RepoTags": ["t:1"],
            "Layers": order.iter().map(|b| format!("l{b}/layer.tar")).collect::<Vec<_>>(),
        }]);
        let mut files: Vec<(String, Vec<u8>)> = blobs
            .iter()
            .enumerate()
            .map(|(i, blob)| (format!("l{i}/layer.tar"), blob.clone()))
            .collect();
        files.push(("config.json".into(), config));
        files.push((
            "manifest.json".into(),
            serde_json::to_vec(&manifest).unwrap(),
        ));
        files
    }

    fn outer_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn every_source_reports_the_image_then_every_layer_once() {
        let files = save_of_four();
        let opts = options(b"");
        // A directory (a catalog read in place).
        let dir = tempfile::tempdir().unwrap();
        for (name, data) in &files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        let recorder = ScanRecorder::default();
        let source = ArchiveSource::new(&dir.path().to_string_lossy());
        let loaded = source.load(&opts, &recorder).unwrap();
        assert_eq!(loaded.image.layers.len(), 4);
        recorder.check(&loaded.image);
        // A tar file (indexed, blobs read in parallel).
        let tar = dir.path().join("image.tar");
        std::fs::write(&tar, outer_tar(&files)).unwrap();
        let recorder = ScanRecorder::default();
        let loaded = ArchiveSource::new(&tar.to_string_lossy())
            .load(&opts, &recorder)
            .unwrap();
        recorder.check(&loaded.image);
        // A stream (read in order, resolved at its end).
        let recorder = ScanRecorder::default();
        let outer = outer_tar(&files);
        let catalog = stream_catalog("-", &outer[..], opts.scan_options(&recorder)).unwrap();
        let loaded = load_catalog("-", catalog, &opts, &recorder).unwrap();
        recorder.check(&loaded.image);
        // Layers known from another image are reported too, not read again.
        let known: HashMap<String, Arc<LayerScan>> = loaded
            .image
            .layers
            .iter()
            .map(|l| (l.diff_id.clone(), l.scan.clone()))
            .collect();
        let opts = LoadOptions {
            known_layers: Some(Arc::new(known)),
            ..opts
        };
        let recorder = ScanRecorder::default();
        let loaded = ArchiveSource::new(&tar.to_string_lossy())
            .load(&opts, &recorder)
            .unwrap();
        recorder.check(&loaded.image);
    }

    #[test]
    fn a_huge_sparse_entry_is_read_as_a_bounded_prefix() {
        let (_dir, loaded) = load_dir(&save(&sparse_layer(1 << 40)), b"big");
        let big = index_of(&loaded, b"big");
        assert_eq!(
            loaded.image.layers[0].scan.entries[big as usize].size,
            1 << 40
        );
        // Too large to capture; read again from the layer instead.
        assert!(loaded.image.layers[0].scan.captured.is_empty());
        let started = std::time::Instant::now();
        let (head, cut) = loaded.entry_prefix(0, big, 1 << 20).unwrap();
        assert_eq!((head.len(), cut), (1 << 20, true));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let small = index_of(&loaded, b"small");
        assert_eq!(
            loaded.entry_prefix(0, small, 1 << 20).unwrap(),
            (b"small".to_vec(), false)
        );
    }

    #[test]
    fn a_large_sparse_entry_streams_without_being_held() {
        let (_dir, loaded) = load_dir(&save(&sparse_layer(2 * GIB)), b"big");
        let big = index_of(&loaded, b"big");
        let mut out = Counter(0, Vec::new());
        let copied = loaded.copy_entry(0, big, &mut out, None).unwrap();
        assert_eq!((copied.bytes, copied.truncated), (2 * GIB, false));
        assert_eq!((out.0, out.1.as_slice()), (2 * GIB, &b"tail!"[..]));
    }

    /// Serves a layer blob, counting the bytes read; sets `cancel` once more than 1 MiB was read.
    struct Counting {
        blob: Arc<[u8]>,
        at: usize,
        read: Arc<std::sync::atomic::AtomicU64>,
        cancel: Arc<AtomicBool>,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (&self.blob[self.at..]).read(buf)?;
            self.at += n;
            if self.read.fetch_add(n as u64, Ordering::Relaxed) > 1 << 20 {
                self.cancel.store(true, Ordering::Relaxed);
            }
            Ok(n)
        }
    }

    #[test]
    fn a_cancelled_reread_stops_reading_the_layer() {
        // 8 MiB before the entry asked for: cancelled after the first MiB, the read stops there.
        let mut b = tar::Builder::new(Vec::new());
        for (name, size) in [("big", 8 << 20), ("small", 5)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(0o644);
            b.append_data(&mut h, name, std::io::repeat(b'x').take(size))
                .unwrap();
        }
        let blob: Arc<[u8]> = b.into_inner().unwrap().into();
        let (_dir, loaded) = load_dir(&save(&blob), b"");
        let small = index_of(&loaded, b"small");
        let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (blob, r, c) = (blob.clone(), read.clone(), cancel.clone());
        let loaded = Reopen(Box::new(move || {
            Box::new(Counting {
                blob: blob.clone(),
                at: 0,
                read: r.clone(),
                cancel: c.clone(),
            })
        }))
        .loaded(loaded.image);
        let mut out = Vec::new();
        let stopped = loaded.copy_entry_cancellable(0, small, &mut out, None, &cancel);
        assert!(stopped.is_err());
        assert!(
            read.load(Ordering::Relaxed) < 2 << 20,
            "read on after the cancel"
        );
        // Another flag than the one the reader sets: the same read reaches the entry.
        read.store(0, Ordering::Relaxed);
        let copied =
            loaded.copy_entry_cancellable(0, small, &mut out, None, &AtomicBool::new(false));
        assert_eq!((copied.unwrap().bytes, out.as_slice()), (5, &b"xxxxx"[..]));
        assert!(read.load(Ordering::Relaxed) > 8 << 20);
    }

    #[test]
    fn a_cancelled_copy_stops_writing() {
        let (_dir, loaded) = load_dir(&save(&sparse_layer(2 * GIB)), b"big");
        let big = index_of(&loaded, b"big");
        struct CancelAfterFirst<'c>(u64, &'c AtomicBool);
        impl Write for CancelAfterFirst<'_> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len() as u64;
                self.1.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let cancel = AtomicBool::new(false);
        let mut out = CancelAfterFirst(0, &cancel);
        let copied = loaded.copy_entry_cancellable(0, big, &mut out, None, &cancel);
        assert!(copied.is_err());
        assert!(out.0 < GIB, "copied {} bytes after the cancel", out.0);
    }

    #[test]
    fn a_stream_keeps_small_files_and_says_to_save_large_ones() {
        let files = save(&sparse_layer(2 * GIB));
        let loaded = load_stream(&files, b"small");
        let small = index_of(&loaded, b"small");
        assert_eq!(
            loaded.entry_prefix(0, small, 100).unwrap(),
            (b"small".to_vec(), false)
        );
        let loaded = load_stream(&files, b"big");
        assert!(loaded.image.layers[0].scan.captured.is_empty());
        let big = index_of(&loaded, b"big");
        let err = loaded.entry_prefix(0, big, 100).unwrap_err().to_string();
        assert!(err.contains("more than the 128 MiB kept"), "{err}");
        assert!(err.contains("save the image to a file"), "{err}");
        let small = index_of(&loaded, b"small");
        let err = loaded.entry_prefix(0, small, 100).unwrap_err().to_string();
        assert!(err.contains("/small was not kept"), "{err}");
    }
}
