//! The command-line interface: argument definitions, progress display, output streams and command wiring. A
//! thin layer over the library.

pub mod args;
pub mod output;
mod progress;
pub mod run;
mod scan;
