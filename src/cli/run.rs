//! The commands: wiring from parsed arguments to the library, and from results to output and exit codes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::CommandFactory;
use layerscope::analysis::{self, Analysis};
use layerscope::ci::{self, Setting, Thresholds};
use layerscope::image::Platform;
use layerscope::report::{json, text};
use layerscope::source::{self, LoadOptions, LoadedImage, Selection};
use layerscope::tree::{State, TreeView};
use layerscope::{Error, Result, path};

use super::args::{AnalyzeArgs, CatArgs, Cli, Command, LsArgs, SourceArgs};
use super::progress::StderrProgress;
use super::scan::Scan;
use layerscope::layer::ContentInspector;
use std::sync::Arc;

/// Exit code for a failed CI rule.
pub const EXIT_RULE_FAILED: i32 = 1;

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Command::Ls(args)) => ls(args),
        Some(Command::Cat(args)) => cat(args),
        Some(Command::Secrets(args)) => super::scan::secrets_command(args),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "layerscope",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        None => analyze(cli.analyze),
    }
}

pub fn paint() -> text::Paint {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    text::Paint {
        color: !no_color && std::io::stdout().is_terminal(),
    }
}

pub fn load(
    image: &str,
    args: &SourceArgs,
    capture: Option<Vec<u8>>,
    inspector: Option<Arc<dyn ContentInspector + Send>>,
) -> Result<LoadedImage> {
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).ok_or_else(|| {
            Error::Usage(format!(
                "--platform {p:?}: expected os/arch or os/arch/variant, e.g. linux/arm64"
            ))
        })?),
        None => None,
    };
    let kind = source::SourceKind::parse(&args.source).ok_or_else(|| {
        Error::Usage(format!(
            "--source {:?}: expected auto, docker, docker-store, podman, containers-storage, containerd, docker-archive, oci or oci-archive",
            args.source
        ))
    })?;
    let containerd = source::ContainerdOptions {
        root: args.containerd_root.clone(),
        namespace: args.namespace.clone(),
    };
    let opened = source::open_source(image, kind, args.docker_root.as_deref(), &containerd)?;
    let opts = LoadOptions {
        selection: Selection {
            image: args.image_ref.clone().or(opened.image_ref.clone()),
            platform,
            verify: !args.no_verify,
        },
        capture,
        inspector,
    };
    let progress = StderrProgress::new();
    let result = opened.source.load(&opts, &progress);
    progress.finish();
    if let (Ok(_), Some(description)) = (&result, &opened.description) {
        // A containerd namespace comes from the store's metadata.
        let description = layerscope::escape::escape(description);
        eprintln!("note: read {image} from {description}");
    }
    result
}

pub fn write_out(target: &Path, content: &str) -> Result<()> {
    if target == Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(content.as_bytes())
            .and_then(|_| out.write_all(b"\n"))
            .map_err(|e| Error::io("stdout", e))
    } else {
        std::fs::write(target, format!("{content}\n"))
            .map_err(|e| Error::io(target.display().to_string(), e))
    }
}

pub fn print(content: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(content.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| Error::io("stdout", e)),
    }
}

fn setting<T>(
    flag: &Option<String>,
    parse: fn(&str) -> std::result::Result<T, String>,
    name: &str,
) -> Result<Setting<T>> {
    match flag.as_deref() {
        None => Ok(Setting::Unset),
        Some(v) if v.trim().eq_ignore_ascii_case("disabled") => Ok(Setting::Disabled),
        Some(v) => parse(v)
            .map(Setting::Value)
            .map_err(|e| Error::Usage(format!("--{name}: {e}"))),
    }
}

/// Rules from flags over the config file(s) over the defaults.
fn thresholds(args: &AnalyzeArgs) -> Result<Thresholds> {
    let flags = Thresholds {
        max_wasted_bytes: setting(&args.max_wasted_bytes, ci::parse_size, "max-wasted-bytes")?,
        max_wasted_ratio: setting(&args.max_wasted_ratio, ci::parse_ratio, "max-wasted-ratio")?,
        min_efficiency: setting(&args.min_efficiency, ci::parse_ratio, "min-efficiency")?,
        max_user_wasted_ratio: setting(
            &args.max_user_wasted_ratio,
            ci::parse_ratio,
            "max-user-wasted-ratio",
        )?,
        fail_on_secrets: setting(&args.fail_on_secrets, ci::FailOn::parse, "fail-on-secrets")?,
    };
    let mut files = Thresholds::default();
    if let Some(config) = &args.config {
        files = ci::read_config_file(config)?;
    } else {
        if Path::new(".dive-ci").is_file() {
            files = ci::read_dive_ci(Path::new(".dive-ci"))?;
        }
        if Path::new(".layerscope.toml").is_file() {
            files = ci::read_layerscope_toml(Path::new(".layerscope.toml"))?.over(files);
        }
    }
    Ok(flags.over(files).over(Thresholds::defaults()))
}

fn analyze(args: AnalyzeArgs) -> Result<i32> {
    let Some(image) = args.image.clone() else {
        return Err(Error::Usage(
            "no IMAGE given; try `layerscope app.tar` or `layerscope --help`".into(),
        ));
    };
    // Read the rules first: a bad flag or config file should not cost a full image read.
    let rules = if args.ci {
        Some(thresholds(&args)?)
    } else {
        None
    };
    let scan = if args.no_secrets {
        None
    } else {
        Some(Scan::prepare(&args.secrets, args.config.as_deref())?)
    };
    let mut loaded = load(
        &image,
        &args.source,
        None,
        scan.as_ref().map(Scan::inspector),
    )?;
    let mut analysis = analysis::analyze(&loaded.image, args.base_layers);
    if let Some(scan) = &scan {
        scan.apply(&mut loaded, &mut analysis)?;
    }
    let outcome = rules.map(|t| ci::evaluate(&analysis, &t));
    if let Some(target) = &args.json {
        let mut report = json::report(&loaded.image, &analysis, outcome.as_ref());
        if scan.is_some() {
            report.secrets = Some(&analysis.secrets);
        }
        write_out(target, &json::to_string(&report))?;
    }
    let json_on_stdout = args.json.as_deref() == Some(Path::new("-"));
    match &outcome {
        Some(outcome) => {
            let rendered = text::ci(&loaded.image, &analysis, outcome, paint());
            if json_on_stdout {
                eprint!("{rendered}");
            } else {
                print(&rendered)?;
            }
            Ok(if outcome.passed { 0 } else { EXIT_RULE_FAILED })
        }
        None if args.json.is_none() => {
            if std::io::stdout().is_terminal() {
                return layerscope::tui::run(&loaded, &analysis, paint().color);
            }
            print(&text::summary(&loaded.image, &analysis, paint()))?;
            Ok(0)
        }
        None => Ok(0),
    }
}

fn check_layer(analysis: &Analysis, layer: Option<usize>) -> Result<u32> {
    let count = analysis.layers.len();
    if count == 0 {
        return Err(Error::Usage("the image has no layers".into()));
    }
    match layer {
        Some(n) if n >= count => Err(Error::Usage(format!(
            "--layer {n}: the image has {count} layers (0..={})",
            count - 1
        ))),
        Some(n) => Ok(n as u32),
        None => Ok(count as u32 - 1),
    }
}

fn ls(args: LsArgs) -> Result<i32> {
    let loaded = load(&args.image, &args.source, None, None)?;
    let analysis = analysis::analyze(&loaded.image, 1);
    let layer = check_layer(&analysis, args.layer)?;
    let view = TreeView::at_layer(&analysis.tree, layer);
    let rows = if args.changes {
        view.layer_changes()
    } else {
        view.merged(false)
    };
    if args.json {
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Error::Usage(e.to_string()))?;
        print(&format!("{text}\n"))?;
    } else {
        let p = paint();
        let mut out = String::new();
        for row in &rows {
            out.push_str(&text::listing_line(row, p));
            out.push('\n');
        }
        print(&out)?;
    }
    Ok(0)
}

fn cat(args: CatArgs) -> Result<i32> {
    let wanted = path::normalize(args.path.as_bytes());
    if wanted.is_empty() {
        return Err(Error::Usage("cat needs a file path, not /".into()));
    }
    let loaded = load(&args.image, &args.source, Some(wanted.clone()), None)?;
    let analysis = analysis::analyze(&loaded.image, 1);
    let tree = &analysis.tree;
    let shown = path::display_absolute(&wanted);
    let node = tree
        .lookup(&wanted)
        .filter(|n| *n != layerscope::tree::ROOT)
        .ok_or_else(|| Error::NotFound {
            path: shown.clone(),
            detail: "not in any layer of the image".into(),
        })?;
    let top = check_layer(&analysis, None)?;
    let event = match args.layer {
        Some(n) => {
            let layer = check_layer(&analysis, Some(n))?;
            match tree.state_at(node, Some(layer)) {
                Some(e) if matches!(e.state, State::Present { .. }) => e,
                _ => {
                    let present: Vec<String> = tree
                        .history(node)
                        .iter()
                        .filter(|e| matches!(e.state, State::Present { .. }))
                        .map(|e| e.layer.to_string())
                        .collect();
                    return Err(Error::NotFound {
                        path: shown,
                        detail: format!(
                            "not present at layer {layer}; written in layers {}",
                            present.join(", ")
                        ),
                    });
                }
            }
        }
        None => {
            let last = tree
                .history(node)
                .iter()
                .rev()
                .find(|e| matches!(e.state, State::Present { .. }))
                .copied()
                .ok_or_else(|| Error::NotFound {
                    path: shown.clone(),
                    detail: "never present".into(),
                })?;
            if !tree.present_at(node, Some(top)) {
                eprintln!(
                    "note: {shown} is not in the final image; showing the version from layer {}",
                    last.layer
                );
            }
            last
        }
    };
    let entry = tree.event_entry(&event);
    let Some((layer, index)) = tree.version_of(&event) else {
        let what = match entry.map(|e| e.kind) {
            Some(layerscope::layer::EntryKind::Symlink) => format!(
                "a symlink to {}",
                entry
                    .and_then(|e| e.link_target.as_deref())
                    .map(path::display)
                    .unwrap_or_default()
            ),
            Some(layerscope::layer::EntryKind::Hardlink) => {
                "a hardlink whose target is unknown".into()
            }
            Some(layerscope::layer::EntryKind::Other) => "a device or FIFO".into(),
            _ => "a directory".into(),
        };
        return Err(Error::NotFound {
            path: shown,
            detail: format!("is {what} at layer {}", event.layer),
        });
    };
    // Streamed: a file of any size passes through a small buffer.
    let mut out = std::io::stdout().lock();
    let copied = loaded
        .copy_entry(layer as usize, index, &mut out, None)
        .and_then(|_| out.flush().map_err(layerscope::layer::CopyError::Write));
    match copied {
        Err(layerscope::layer::CopyError::Read(e)) => Err(e),
        Err(layerscope::layer::CopyError::Write(e))
            if e.kind() != std::io::ErrorKind::BrokenPipe =>
        {
            Err(Error::io("stdout", e))
        }
        _ => Ok(0),
    }
}
