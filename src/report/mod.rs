//! Renderings of an analysis: the JSON report (`layerscope.report/v1`), the human summary, Markdown and the HTML page, the CI result and
//! file listings. Pure functions from the model to text; colour is a parameter, never detected here.

pub mod diff;
pub mod html;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;
