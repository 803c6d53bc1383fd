//! layerscope: what is really inside a container image, layer by layer.
//!
//! Data flows one way: [`source`] reads an image from any format into an [`image::Image`] (each layer scanned
//! once, in parallel), [`tree`] applies the layers into one arena tree with per-path histories, [`analysis`]
//! derives change counts and wasted space, [`report`] renders results, and [`ci`] turns them into pass/fail.
//! The core never prints and never touches a terminal; [`tui`], the interactive explorer, is the one module that
//! does, and no core module imports it.
//!
//! Reading an image is `source::open(path)?.load(&options, &progress)`; the pieces also work alone. Two layers
//! scanned from tar bytes, the second deleting a file of the first, then the merged tree and the waste:
//!
//! ```
//! use std::sync::Arc;
//! use layerscope::layer::{scan_blob, ScanOptions};
//! use layerscope::tree::{ImageTree, TreeView};
//!
//! fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
//!     let mut b = tar::Builder::new(Vec::new());
//!     for (name, data) in files {
//!         let mut h = tar::Header::new_gnu();
//!         h.set_size(data.len() as u64);
//!         h.set_mode(0o644);
//!         b.append_data(&mut h, name, *data).unwrap();
//!     }
//!     b.into_inner().unwrap()
//! }
//! let base = layer(&[("app/big.bin", &[0u8; 1000]), ("app/keep.txt", b"kept")]);
//! let cleanup = layer(&[("app/.wh.big.bin", b"")]);
//! let scans: Vec<_> = [base, cleanup]
//!     .iter()
//!     .map(|t| Arc::new(scan_blob(&t[..], ScanOptions::default()).unwrap()))
//!     .collect();
//! let tree = ImageTree::build(&scans);
//! let top: Vec<String> = TreeView::at_layer(&tree, 1).merged(false).into_iter().map(|e| e.path).collect();
//! assert_eq!(top, ["/app", "/app/keep.txt"]);
//! let wasted = layerscope::analysis::waste::wasted_files(&tree);
//! assert_eq!((wasted[0].path.as_str(), wasted[0].wasted_bytes), ("/app/big.bin", 1000));
//! assert_eq!(tree.counts(1).deleted, 1);
//! ```

#![forbid(unsafe_code)]

pub mod analysis;
pub(crate) mod bounded_tar;
pub mod ci;
pub mod compression;
pub mod config;
pub mod elf;
pub mod error;
pub mod escape;
pub mod file_digest;
pub mod image;
pub mod layer;
pub mod limits;
pub mod oci;
pub mod path;
pub mod report;
pub mod secrets;
pub mod source;
pub mod tree;
pub mod tui;
pub mod units;

pub use error::{Error, Result};
