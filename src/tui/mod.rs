//! The interactive explorer (`layerscope IMAGE` on a terminal): layers beside their Dockerfile instructions,
//! layer and image details, and the merged file tree at any layer, in ratatui.
//!
//! - [`app`]: the state and `App::update(Action) -> Effect`, pure (no terminal, no I/O), unit-tested.
//! - [`file_tree`]: the tree pane's rows, kept incremental (see there) so 100k+ paths stay instant.
//! - [`keymap`]: every key binding as data; it also feeds the help overlay, the footer and the README.
//! - [`view`]: drawing, functions of `&App`, one file per pane; [`layout`] says where panes sit.
//! - [`secret_list`]: the secrets in listing order, low-confidence ones hidden until asked for.
//! - [`advice_list`]: the advice rows and where Enter on a finding leads.
//! - [`diff_marks`]: for `layerscope diff A B`, B's paths and layers marked against A (kept beside the tree).
//! - [`effects`]: reading and extracting file bytes, asked for by `update` and reported back as actions.
//! - [`partial`]: the model while the image loads (the lower layers explorable), built off the UI thread.
//! - `terminal`: raw mode, alternate screen, mouse, restoring the terminal on exit, panic and signals.
//!
//! The core modules (source, layer, tree, analysis, report, ci, secrets) never import this one.

pub mod advice_list;
pub mod app;
mod app_actions;
mod app_commands;
mod app_jobs;
pub mod content;
pub mod diff_marks;
pub mod effects;
pub mod file_tree;
pub mod keymap;
pub mod layout;
pub mod loading;
pub mod partial;
pub mod secret_list;
mod terminal;
pub mod theme;
pub mod view;
mod worker;

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod file_tree_tests;
#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod snapshot_tests;

pub use app::{Action, App, Effect};
pub use loading::Loaded;
pub use terminal::run;
