//! Where images come from. Every format sits behind [`ImageSource`]: it yields an [`Image`] (config, manifest
//! facts and each layer scanned once). Archives and layouts all go through a [`catalog::Catalog`] and one format
//! resolver ([`layout`]); engine stores will implement [`ImageSource`] directly.

mod catalog;
mod engine_api;
mod layout;
mod overlay;
mod resolve;
mod stores;
mod stream;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::compression::{self, Compression};
use crate::error::{Error, Result};
use crate::image::{Image, ImageMeta, Layer, map_history};
use crate::layer::{self, ContentInspector, LayerScan, Progress, ScanError, ScanOptions};
use catalog::{Catalog, DirCatalog, TarCatalog};
pub use layout::{Selection, normalize_reference, reference_matches};
pub use resolve::{Opened, SourceKind, open_source};
use stream::StreamCatalog;

/// What to read and how.
#[derive(Clone, Default)]
pub struct LoadOptions {
    pub selection: Selection,
    /// Keep the bytes of every version of the file at this path (normalised, relative), for `cat`.
    pub capture: Option<Vec<u8>>,
    /// Looks at file contents during the one pass over each layer (secret scanning).
    pub inspector: Option<Arc<dyn ContentInspector + Send>>,
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
        }
    }
}

/// Anything that can produce an image.
pub trait ImageSource {
    /// Reads the image: its facts and every layer, scanned once, bottom to top.
    fn load(&self, opts: &LoadOptions, progress: &dyn Progress) -> Result<LoadedImage>;
}

/// A loaded image plus what is needed to read a file's bytes again later.
pub struct LoadedImage {
    pub image: Image,
    reader: Box<dyn EntryBytes>,
}

/// Reads the bytes of one entry of one layer again, from wherever the layer lives.
pub(crate) trait EntryBytes: Send + Sync {
    fn entry_bytes(&self, image: &Image, layer: usize, entry: u32) -> Result<Vec<u8>>;
}

/// Layers that are blobs in a catalog: re-read the blob up to the entry.
struct CatalogEntries(Box<dyn Catalog + Send>);

impl EntryBytes for CatalogEntries {
    fn entry_bytes(&self, image: &Image, layer: usize, entry: u32) -> Result<Vec<u8>> {
        let l = &image.layers[layer];
        let reader = match self.0.reopen(&l.blob_path) {
            Some(r) => r?,
            None => {
                return Err(Error::Usage(format!(
                    "{}: this entry was not captured and a stream cannot be read twice; save the image to a file",
                    image.meta.source
                )));
            }
        };
        layer::read_entry_bytes(reader, entry).map_err(|e| Error::Layer {
            index: layer,
            path: l.blob_path.clone(),
            detail: e.0,
        })
    }
}

/// Layers that are directories (engine stores): read the file in place.
pub(crate) struct DirEntries(pub Vec<PathBuf>);

impl EntryBytes for DirEntries {
    fn entry_bytes(&self, image: &Image, layer: usize, entry: u32) -> Result<Vec<u8>> {
        let e = &image.layers[layer].scan.entries[entry as usize];
        let path = self.0[layer].join(std::ffi::OsStr::from_bytes(&e.path));
        std::fs::read(&path).map_err(|err| Error::io(path.display().to_string(), err))
    }
}

impl LoadedImage {
    /// The bytes of entry `entry` of layer `layer`, from the capture made while loading or by reading the blob
    /// again when the source allows it.
    pub fn entry_bytes(&self, layer: usize, entry: u32) -> Result<Vec<u8>> {
        let l = self
            .image
            .layers
            .get(layer)
            .ok_or_else(|| Error::Usage(format!("no layer {layer}")))?;
        if let Some((_, data)) = l.scan.captured.iter().find(|(i, _)| *i == entry) {
            return Ok(data.clone());
        }
        self.reader.entry_bytes(&self.image, layer, entry)
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
            return Ok(Box::new(DirCatalog::new(&self.name, path)));
        }
        let mut file = File::open(path).map_err(|e| Error::io(&self.name, e))?;
        let mut head = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(&self.name, e))?;
        if Compression::sniff(&head) == Compression::None && compression::looks_like_tar(&head) {
            return Ok(Box::new(TarCatalog::index(&self.name, path)?));
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
    let (_, mut decoded) = compression::decoder(buffered).map_err(|e| Error::io(name, e))?;
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
    fn load(&self, opts: &LoadOptions, progress: &dyn Progress) -> Result<LoadedImage> {
        let catalog = self.catalog(opts, progress)?;
        load_catalog(&self.name, catalog, opts, progress)
    }
}

/// Resolves the image in a catalog, scans its layers (each unique blob once, in parallel) and verifies them.
pub(crate) fn load_catalog(
    name: &str,
    catalog: Box<dyn Catalog + Send>,
    opts: &LoadOptions,
    progress: &dyn Progress,
) -> Result<LoadedImage> {
    {
        let resolved = layout::resolve(catalog.as_ref(), &opts.selection)?;
        let scan = opts.scan_options(progress);
        // One blob may back several layers (Docker 25+ dedups the empty layer): scan each once, in parallel.
        let mut keys: Vec<&str> = resolved.layers.iter().map(|l| l.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let total: Option<u64> = keys.iter().map(|k| catalog.size_of(k)).sum();
        progress.begin(keys.len(), total);
        let scans: HashMap<&str, Result<Arc<LayerScan>, ScanError>> = keys
            .par_iter()
            .map(|k| (*k, catalog.scan(k, scan)))
            .collect();
        let histories = map_history(&resolved.config.history, resolved.layers.len());
        let diff_ids = &resolved.config.rootfs.diff_ids;
        let verify = opts.selection.verify;
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
        let mut layers = Vec::with_capacity(resolved.layers.len());
        for ((index, lref), history) in resolved.layers.iter().enumerate().zip(histories) {
            let scan = match &scans[lref.key.as_str()] {
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
            if verify {
                if let Some(expected) = lref.digest.as_deref().filter(|d| d.starts_with("sha256:"))
                    && expected != scan.blob_digest
                {
                    return Err(Error::DigestMismatch {
                        path: format!("{name}: layer {index} ({})", lref.key),
                        actual: scan.blob_digest.clone(),
                        expected: expected.to_string(),
                    });
                }
                if let Some(expected) = declared.as_deref().filter(|d| d.starts_with("sha256:"))
                    && expected != scan.diff_id
                {
                    return Err(Error::DiffIdMismatch {
                        index,
                        path: lref.key.clone(),
                        actual: scan.diff_id.clone(),
                        expected: expected.to_string(),
                    });
                }
            }
            layers.push(Layer {
                index,
                blob_path: lref.key.clone(),
                media_type: lref.media_type.clone(),
                diff_id: declared.unwrap_or_else(|| scan.diff_id.clone()),
                history,
                scan,
            });
        }
        let meta = ImageMeta {
            source: name.to_string(),
            format: resolved.format,
            layout: resolved.layout,
            archive_compression: catalog.archive_compression(),
            reference: resolved.reference,
            platform: resolved.platform,
            config_digest: resolved.config_digest,
            manifest_digest: resolved.manifest_digest,
            config: resolved.config,
        };
        Ok(LoadedImage {
            image: Image { meta, layers },
            reader: Box::new(CatalogEntries(catalog)),
        })
    }
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
