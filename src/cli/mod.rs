//! The command-line interface: argument definitions, progress display and command wiring. A thin layer over
//! the library.

pub mod args;
mod progress;
pub mod run;
mod scan;
