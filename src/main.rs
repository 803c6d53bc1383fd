//! `layerscope`: arguments -> run -> exit code (0 ok / rules passed, 1 a CI rule failed, 2 bad input or usage).

mod cli;

use clap::Parser;

fn main() {
    let args = cli::args::Cli::parse();
    let code = match cli::run::run(args) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote names, tags and history from the image: never raw on a terminal.
            eprintln!("layerscope: {}", layerscope::escape::escape(&e.to_string()));
            2
        }
    };
    std::process::exit(code);
}
