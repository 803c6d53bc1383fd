//! `layerscope`: arguments -> run -> exit code (0 ok / rules passed, 1 a CI rule failed, 2 bad input or usage).

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() {
    let code = match cli::args::Cli::try_parse() {
        Ok(args) => cli::output::exit_code(cli::run::run(args)),
        Err(e) => cli::output::usage_exit_code(&e),
    };
    std::process::exit(code);
}
