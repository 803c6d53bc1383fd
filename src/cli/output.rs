//! Where command results go. Machine-readable outputs (`--json`, `--sarif`, `--write-baseline`, `ls --json`)
//! go to a file or, for `-`, to stdout, which then carries nothing else: notes and the human-readable text move
//! to stderr. A closed stdout (`| head`) is not an error: the command stops writing and exits quietly, 0 (or 1
//! for a CI rule that failed, decided before printing). That rule lives here, in `exit_code` and `with_code`.

use std::io::{ErrorKind, IsTerminal, Write};
use std::path::Path;

use layerscope::report::text;
use layerscope::{Error, Result};

/// The name stdout goes by in targets and in errors.
const STDOUT: &str = "stdout";

/// Whether a target names stdout.
pub fn is_stdout(target: &Path) -> bool {
    target == Path::new("-")
}

/// Checks that at most one machine-readable output goes to stdout, so it can be parsed.
pub fn one_on_stdout(targets: &[(&str, Option<&Path>)]) -> Result<()> {
    let on_stdout: Vec<&str> = targets
        .iter()
        .filter(|(_, t)| t.is_some_and(is_stdout))
        .map(|(flag, _)| *flag)
        .collect();
    if on_stdout.len() > 1 {
        return Err(Error::Usage(format!(
            "only one output can go to stdout (-), but {} do; send the others to files",
            on_stdout.join(" and ")
        )));
    }
    Ok(())
}

/// Writes `content` and a newline to `target` (`-` for stdout).
pub fn write_to(target: &Path, content: &str) -> Result<()> {
    if is_stdout(target) {
        print(&format!("{content}\n"))
    } else {
        std::fs::write(target, format!("{content}\n"))
            .map_err(|e| Error::io(target.display().to_string(), e))
    }
}

/// Writes `content` to stdout. A closed stdout comes back as an error that `exit_code` turns into a quiet 0.
pub fn print(content: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(content.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::io(STDOUT, e))
}

/// Writes human-readable text to stdout, or to stderr when stdout carries a machine-readable output.
pub fn human(content: &str, stdout_taken: bool) -> Result<()> {
    if stdout_taken {
        eprint!("{content}");
        Ok(())
    } else {
        print(content)
    }
}

/// Colour only on a terminal and without `NO_COLOR`.
pub fn paint() -> text::Paint {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    text::Paint {
        color: !no_color && std::io::stdout().is_terminal(),
    }
}

fn is_closed_stdout(e: &Error) -> bool {
    matches!(e, Error::Io { path, source } if path == STDOUT && source.kind() == ErrorKind::BrokenPipe)
}

/// `code` once `written` is done: a stdout closed under it does not change what the command decided (a failed
/// CI rule still exits 1 when the reader left early).
pub fn with_code(written: Result<()>, code: i32) -> Result<i32> {
    match written {
        Err(e) if is_closed_stdout(&e) => Ok(code),
        other => other.map(|()| code),
    }
}

/// The process exit code for a command's result: its own code, 0 when stdout was closed under it, else the
/// error on one line of stderr and 2.
pub fn exit_code(result: Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(Error::Io { path, source })
            if path == STDOUT && source.kind() == ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(e) => {
            // Errors quote names, tags and history from the image: never raw on a terminal.
            eprintln!("layerscope: {}", layerscope::escape::escape(&e.to_string()));
            2
        }
    }
}

/// The exit code for what argument parsing stopped on: help and version on stdout and 0 (a closed stdout
/// too), a usage error on one line of stderr and 2, like every other error.
pub fn usage_exit_code(e: &clap::Error) -> i32 {
    if !e.use_stderr() {
        // Help or version: printed to stdout; a reader that went away early is fine.
        let _ = e.print();
        return 0;
    }
    let rendered = e.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let line = parts.join("; ");
    eprintln!(
        "layerscope: {}",
        line.strip_prefix("error: ").unwrap_or(&line)
    );
    2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_exits_0_and_other_errors_2() {
        let closed = Error::io(STDOUT, std::io::Error::from(ErrorKind::BrokenPipe));
        assert_eq!(exit_code(Err(closed)), 0);
        let file = Error::io("out.json", std::io::Error::from(ErrorKind::BrokenPipe));
        assert_eq!(exit_code(Err(file)), 2);
        assert_eq!(exit_code(Ok(1)), 1);
        let closed = Error::io(STDOUT, std::io::Error::from(ErrorKind::BrokenPipe));
        assert_eq!(with_code(Err(closed), 1).unwrap(), 1);
    }

    #[test]
    fn two_outputs_on_stdout_are_refused() {
        let dash = Path::new("-");
        let file = Path::new("r.json");
        assert!(one_on_stdout(&[("--json", Some(dash)), ("--sarif", Some(file))]).is_ok());
        let err = one_on_stdout(&[("--json", Some(dash)), ("--sarif", Some(dash))]);
        assert!(
            err.err()
                .unwrap()
                .to_string()
                .contains("--json and --sarif")
        );
    }
}
