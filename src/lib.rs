//! layerscope: what is really inside a container image, layer by layer.
//!
//! Data flows one way: [`source`] reads an image from any format into an [`image::Image`] (each layer scanned
//! once, in parallel), [`tree`] applies the layers into one arena tree with per-path histories, [`analysis`]
//! derives change counts and wasted space, [`report`] renders results, and [`ci`] turns them into pass/fail.
//! The library never prints and never touches a terminal.

pub mod analysis;
pub mod ci;
pub mod compression;
pub mod error;
pub mod image;
pub mod layer;
pub mod path;
pub mod report;
pub mod secrets;
pub mod source;
pub mod tree;

pub use error::{Error, Result};
