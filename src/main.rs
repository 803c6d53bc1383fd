//! `layerscope`: arguments -> run -> exit code (0 ok / rules passed, 1 a CI rule failed, 2 bad input or usage).

mod cli;

use clap::Parser;

fn main() {
    let args = cli::args::Cli::parse();
    let code = match cli::run::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("layerscope: {e}");
            2
        }
    };
    std::process::exit(code);
}
