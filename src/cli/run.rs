//! The commands: wiring from parsed arguments to the library, and from results to output and exit codes.

use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::CommandFactory;
use layerscope::analysis::diff::{self, DiffOptions, Side};
use layerscope::analysis::{self, Analysis};
use layerscope::ci::{self, Setting, Thresholds};
use layerscope::config::Config;
use layerscope::image::Platform;
use layerscope::report::{self, json, text};
use layerscope::source::{self, LoadOptions, LoadedImage, Selection};
use layerscope::tree::{State, TreeView};
use layerscope::{Error, Result, path};

use super::args::{
    AnalyzeArgs, CacheCommand, CatArgs, Cli, Command, DiffArgs, LsArgs, RegistryArgs, SecretArgs,
    SecretsArgs, SourceArgs,
};
use super::output::{self, paint};
use super::progress::StderrProgress;
use super::scan::Scan;
use layerscope::layer::ContentInspector;
use std::sync::Arc;

/// Layers already read, by the diff_id their bytes hashed to.
type KnownLayers = std::collections::HashMap<String, Arc<layerscope::layer::LayerScan>>;

/// Exit code for a failed CI rule.
pub const EXIT_RULE_FAILED: i32 = 1;

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Command::Ls(args)) => ls(args),
        Some(Command::Cat(args)) => cat(args),
        Some(Command::Secrets(args)) => secrets(args),
        Some(Command::Cache(CacheCommand::Clean)) => clean_cache(),
        Some(Command::Diff(args)) => diff(args),
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "layerscope", &mut script);
            output::print(&String::from_utf8_lossy(&script))?;
            Ok(0)
        }
        None => analyze(cli.analyze),
    }
}

/// The IMAGE argument. `--json` takes an optional FILE, so in `--json app.tar` clap reads app.tar as the FILE:
/// say so rather than only that IMAGE is missing.
fn image_arg(image: Option<String>, json: Option<&Path>, example: &str) -> Result<String> {
    match (image, json) {
        (Some(image), _) => Ok(image),
        (None, Some(taken)) if !output::is_stdout(taken) => Err(Error::Usage(format!(
            "--json took {} as its FILE, leaving no IMAGE; put IMAGE first (`{example} --json`), or write \
             `--json - IMAGE` (stdout) or `--json=FILE IMAGE`",
            taken.display()
        ))),
        (None, _) => Err(Error::Usage(format!(
            "no IMAGE given; try `{example}` or `layerscope --help`"
        ))),
    }
}

pub fn load(
    image: &str,
    args: &SourceArgs,
    capture: Option<Vec<u8>>,
    inspector: Option<Arc<dyn ContentInspector + Send>>,
) -> Result<LoadedImage> {
    load_with(image, args, capture, inspector, None)
}

/// [`load`], taking the layers in `known` (by diff_id) instead of reading them again.
fn load_with(
    image: &str,
    args: &SourceArgs,
    capture: Option<Vec<u8>>,
    inspector: Option<Arc<dyn ContentInspector + Send>>,
    known_layers: Option<Arc<KnownLayers>>,
) -> Result<LoadedImage> {
    let progress = StderrProgress::new();
    let result = load_reporting(image, args, capture, inspector, known_layers, &progress);
    progress.finish();
    let (loaded, note) = result?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(loaded)
}

/// Opens and loads the image, reporting to `progress`; the loaded image and a note naming the source that
/// served it, when that was not the user's path.
fn load_reporting(
    image: &str,
    args: &SourceArgs,
    capture: Option<Vec<u8>>,
    inspector: Option<Arc<dyn ContentInspector + Send>>,
    known_layers: Option<Arc<KnownLayers>>,
    progress: &dyn layerscope::source::LoadProgress,
) -> Result<(LoadedImage, Option<String>)> {
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).ok_or_else(|| {
            Error::Usage(format!(
                "--platform {p:?}: expected os/arch or os/arch/variant, e.g. linux/arm64"
            ))
        })?),
        None => None,
    };
    let kind = args.source.kind();
    let source_options = source::SourceOptions {
        docker_root: args.docker_root.clone(),
        registry: registry_options(&args.registry)?,
        containerd: source::ContainerdOptions {
            root: args.containerd_root.clone(),
            namespace: args.namespace.clone(),
        },
    };
    let opened = source::open_source(image, kind, &source_options)?;
    let opts = LoadOptions {
        selection: Selection {
            image: args.image_ref.clone().or(opened.image_ref.clone()),
            platform,
            verify: !args.no_verify,
        },
        capture,
        inspector,
        limits: args.limits(),
        known_layers,
        skip_digests: args.no_verify,
    };
    let loaded = opened.source.load(&opts, progress)?;
    // A containerd namespace comes from the store's metadata.
    let note = opened.description.map(|description| {
        let description = layerscope::escape::escape(&description);
        format!("note: read {image} from {description}")
    });
    Ok((loaded, note))
}

/// Whether the environment says this is a CI run (`CI=true`, as CI services set it): dive turns its gate on then.
fn ci_from_env() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    })
}

fn registry_options(args: &RegistryArgs) -> Result<source::RegistryOptions> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::io("stdin", e))?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    } else {
        None
    };
    let credential = match &args.creds {
        Some(text) => Some(source::Credential::from_flag(text, password).map_err(Error::Usage)?),
        None if password.is_some() => {
            return Err(Error::Usage("--password-stdin needs --creds USER".into()));
        }
        None => None,
    };
    if args.jobs == 0 {
        return Err(Error::Usage("--jobs must be at least 1".into()));
    }
    Ok(source::RegistryOptions {
        insecure_registries: args.insecure_registry.clone(),
        tls_verify: args.tls_verify,
        ca_file: args.registry_ca.clone(),
        credential,
        jobs: args.jobs,
        backoff: None,
        metadata_timeout: None,
        cache: if args.no_cache {
            None
        } else {
            source::default_cache_dir()
        },
        cache_max: source::DEFAULT_CACHE_MAX,
    })
}

fn clean_cache() -> Result<i32> {
    let Some(dir) = source::default_cache_dir() else {
        return Err(Error::Usage(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set".into(),
        ));
    };
    let freed = source::clean_cache(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    output::print(&format!(
        "removed {} of cached blobs from {}\n",
        layerscope::report::text::size(freed),
        dir.display()
    ))?;
    Ok(0)
}

/// Rules from flags over the config file(s) over the defaults.
fn thresholds(args: &AnalyzeArgs, files: Thresholds) -> Thresholds {
    let flags = Thresholds {
        max_wasted_bytes: args.max_wasted_bytes.unwrap_or_default(),
        max_wasted_ratio: args.max_wasted_ratio.unwrap_or_default(),
        min_efficiency: args.min_efficiency.unwrap_or_default(),
        max_user_wasted_ratio: args.max_user_wasted_ratio.unwrap_or_default(),
        fail_on_secrets: args
            .fail_on_secrets
            .map_or(Setting::Unset, |p| Setting::Value(p.into())),
        fail_on_advice: args.fail_on_advice.map_or(Setting::Unset, Setting::from),
    };
    flags.over(files).over(Thresholds::defaults())
}

/// Rule flags given without `--ci` would do nothing: say so (a warning, not an error, so that one command line
/// serves both a laptop and a CI job where CI=true turns the gate on).
fn warn_rules_without_ci(args: &AnalyzeArgs) {
    let given: Vec<&str> = [
        ("--max-wasted-bytes", args.max_wasted_bytes.is_some()),
        ("--max-wasted-ratio", args.max_wasted_ratio.is_some()),
        ("--min-efficiency", args.min_efficiency.is_some()),
        (
            "--max-user-wasted-ratio",
            args.max_user_wasted_ratio.is_some(),
        ),
        ("--fail-on-secrets", args.fail_on_secrets.is_some()),
        ("--fail-on-advice", args.fail_on_advice.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, set)| set.then_some(flag))
    .collect();
    if !given.is_empty() {
        eprintln!(
            "warning: {} only appl{} with --ci (or CI=true in the environment); ignored",
            given.join(", "),
            if given.len() == 1 { "ies" } else { "y" }
        );
    }
}

/// The line that says which configuration files the rules came from.
fn config_line(files: &[std::path::PathBuf]) -> String {
    if files.is_empty() {
        "Config: no file (built-in defaults and flags)\n".to_string()
    } else {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!("Config: {} (flags override)\n", names.join(", "))
    }
}

/// Checks that at most one machine-readable output (`--json`, `--sarif`, `--write-baseline`, and `reports`:
/// `--markdown`, `--html`) goes to stdout; whether one does (the human-readable text moves to stderr then).
fn machine_outputs(
    json: Option<&Path>,
    reports: &[(&'static str, Option<&Path>)],
    secrets: &super::args::SecretArgs,
) -> Result<bool> {
    let mut targets = vec![("--json", json)];
    targets.extend_from_slice(reports);
    targets.extend(Scan::targets(secrets));
    output::one_on_stdout(&targets)?;
    Ok(targets
        .iter()
        .any(|(_, t)| t.is_some_and(output::is_stdout)))
}

/// What follows the analysis of every command that scans: the findings and their redactor (or none with
/// `--show-secrets` and no scan), then the advice, which links the findings, less what the config file
/// ignores, then the SARIF, which lists both.
fn finish(
    scan: Option<&Scan>,
    show_secrets: bool,
    ignore: &[String],
    loaded: &mut LoadedImage,
    analysis: &mut Analysis,
) -> Result<()> {
    reveal_or_scan(scan, show_secrets, loaded, analysis)?;
    attach_advice(ignore, loaded, analysis);
    match scan {
        Some(scan) => scan.write_sarif(&loaded.image, analysis),
        None => Ok(()),
    }
}

/// The secret findings and their redactor, or none with `--show-secrets` and no scan.
fn reveal_or_scan(
    scan: Option<&Scan>,
    show_secrets: bool,
    loaded: &mut LoadedImage,
    analysis: &mut Analysis,
) -> Result<()> {
    match scan {
        Some(scan) => scan.apply(loaded, analysis)?,
        None if show_secrets => analysis.redactor = layerscope::secrets::Redactor::reveal(),
        None => {}
    }
    Ok(())
}

/// The advice, without the findings the config file's `[advice] ignore` names (ignored advice is shown nowhere
/// and counts for no gate).
fn attach_advice(ignore: &[String], loaded: &LoadedImage, analysis: &mut Analysis) {
    analysis::advice::attach(&loaded.image, analysis);
    analysis.advice =
        analysis::advice::without_ignored(std::mem::take(&mut analysis.advice), ignore);
}

fn analyze(args: AnalyzeArgs) -> Result<i32> {
    let image = image_arg(
        args.image.clone(),
        args.json.as_deref(),
        "layerscope app.tar",
    )?;
    let reports = [
        ("--markdown", args.markdown.as_deref()),
        ("--html", args.html.as_deref()),
    ];
    let stdout_taken = machine_outputs(args.json.as_deref(), &reports, &args.secrets)?;
    let ci = args.ci || ci_from_env();
    if !ci {
        warn_rules_without_ci(&args);
    }
    // Read the configuration first (its advice ignores apply to every output): a bad flag or config file
    // should not cost a full image read.
    let config = Config::load(args.config.as_deref(), Path::new(""))?;
    let rules = ci.then(|| thresholds(&args, config.ci));
    let scan = if args.no_secrets {
        None
    } else {
        Some(Scan::prepare(&args.secrets, config.secrets)?)
    };
    // A CI run reads a registry without the blob cache unless --cache asks for it.
    let mut source_args = args.source.clone();
    if ci && !source_args.registry.cache {
        source_args.registry.no_cache = true;
    }
    let p = paint();
    let machine_output = reports.iter().any(|(_, t)| t.is_some()) || args.json.is_some();
    if rules.is_none() && !machine_output && !stdout_taken && std::io::stdout().is_terminal() {
        // The explorer is on screen at once and shows the load's progress; it loads on a thread of its own.
        let (base_layers, show_secrets) = (args.base_layers, args.secrets.show_secrets);
        let name = image.clone();
        return layerscope::tui::run(
            &name,
            move |progress| {
                let inspector = scan.as_ref().map(Scan::inspector);
                let (mut loaded, note) =
                    load_reporting(&image, &source_args, None, inspector, None, progress)?;
                let mut analysis = analysis::analyze(&loaded.image, base_layers);
                finish(
                    scan.as_ref(),
                    show_secrets,
                    &config.advice_ignore,
                    &mut loaded,
                    &mut analysis,
                )?;
                Ok(layerscope::tui::Loaded {
                    image: loaded,
                    analysis,
                    note,
                    diff: None,
                })
            },
            p.color,
        );
    }
    let mut loaded = load(
        &image,
        &source_args,
        None,
        scan.as_ref().map(Scan::inspector),
    )?;
    let mut analysis = analysis::analyze(&loaded.image, args.base_layers);
    finish(
        scan.as_ref(),
        args.secrets.show_secrets,
        &config.advice_ignore,
        &mut loaded,
        &mut analysis,
    )?;
    let mut outcome = rules.map(|t| ci::evaluate(&analysis, &t));
    if let (Some(outcome), None) = (&mut outcome, &scan) {
        // No scan ran: no finding was counted, so the rule can neither pass nor fail.
        outcome.skip("fail-on-secrets");
    }
    if let Some(target) = &args.json {
        let mut report = json::report(&loaded.image, &analysis, outcome.as_ref());
        if scan.is_some() {
            report.secrets = Some(&analysis.secrets);
        }
        output::write_to(target, &json::to_string(&report))?;
    }
    if let Some(target) = &args.markdown {
        let markdown = report::markdown::report(&loaded.image, &analysis, outcome.as_ref());
        output::write_to(target, &markdown)?;
    }
    if let Some(target) = &args.html {
        let page = report::html::page(&loaded.image, &analysis, scan.is_some());
        output::write_to(target, &page)?;
    }
    match &outcome {
        Some(outcome) => {
            let rendered = text::ci(&loaded.image, &analysis, outcome, p);
            let code = if outcome.passed { 0 } else { EXIT_RULE_FAILED };
            output::with_code(
                output::human(
                    &format!("{}{rendered}", config_line(&config.files)),
                    stdout_taken,
                ),
                code,
            )
        }
        None if !machine_output => {
            output::human(&text::summary(&loaded.image, &analysis, p), stdout_taken)?;
            Ok(0)
        }
        None => Ok(0),
    }
}

/// `layerscope secrets IMAGE`: the findings alone.
fn secrets(args: SecretsArgs) -> Result<i32> {
    let image = image_arg(
        args.image.clone(),
        args.json.as_deref(),
        "layerscope secrets app.tar",
    )?;
    let stdout_taken = machine_outputs(args.json.as_deref(), &[], &args.secrets)?;
    let config = Config::load(args.config.as_deref(), Path::new(""))?;
    let scan = Scan::prepare(&args.secrets, config.secrets)?;
    let mut loaded = load(&image, &args.source, None, Some(scan.inspector()))?;
    let mut analysis = analysis::analyze(&loaded.image, 1);
    finish(
        Some(&scan),
        false,
        &config.advice_ignore,
        &mut loaded,
        &mut analysis,
    )?;
    match &args.json {
        Some(target) => {
            let json = serde_json::to_string_pretty(&analysis.secrets)
                .map_err(|e| Error::Usage(e.to_string()))?;
            output::write_to(target, &json)?;
        }
        None => output::human(&text::secrets_table(&analysis, paint()), stdout_taken)?,
    }
    Ok(0)
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
    let image = image_arg(
        args.image.clone(),
        args.json.as_deref(),
        "layerscope ls app.tar",
    )?;
    let loaded = load(&image, &args.source, None, None)?;
    let mut analysis = analysis::analyze(&loaded.image, 1);
    if args.show_secrets {
        analysis.redactor = layerscope::secrets::Redactor::reveal();
    }
    let layer = check_layer(&analysis, args.layer)?;
    let view = TreeView::at_layer(&analysis.tree, layer);
    let rows = if args.changes {
        view.layer_changes()
    } else {
        view.merged(false)
    };
    if let Some(target) = &args.json {
        output::write_to(target, &json::listing(&rows, &analysis.redactor))?;
    } else {
        let p = paint();
        let mut out = String::new();
        for row in &rows {
            out.push_str(&text::listing_line(row, &analysis.redactor, p));
            out.push('\n');
        }
        output::print(&out)?;
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
            Some(kind) if kind.is_special() => kind.phrase().into(),
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

/// `layerscope diff A B`: what changed from A to B; with `--max-size-increase`, a CI gate on B's growth.
/// Lines per list in the diff's text and Markdown unless `--limit` says otherwise.
const DIFF_LIMIT: usize = 50;

fn diff(args: DiffArgs) -> Result<i32> {
    let (Some(a), Some(b)) = (args.a.clone(), args.b.clone()) else {
        let taken = args.json.as_deref().filter(|t| !output::is_stdout(t));
        return Err(Error::Usage(match taken {
            Some(t) => format!(
                "--json took {} as its FILE, leaving one image; put both images first \
                 (`layerscope diff A B --json`), or write `--json=FILE A B`",
                t.display()
            ),
            None => "diff needs two images; try `layerscope diff app-1.tar app-2.tar`".into(),
        }));
    };
    let targets = [
        ("--json", args.json.as_deref()),
        ("--markdown", args.markdown.as_deref()),
    ];
    output::one_on_stdout(&targets)?;
    let stdout_taken = targets
        .iter()
        .any(|(_, t)| t.is_some_and(output::is_stdout));
    if args.limit.is_some() && args.json.is_some() && args.markdown.is_none() {
        eprintln!(
            "warning: --limit only applies to the text and Markdown reports (JSON lists everything); ignored"
        );
    }
    let limit = args.limit.unwrap_or(DIFF_LIMIT);
    // The config file's advice ignores apply to both images.
    let config = Config::load(args.config.as_deref(), Path::new(""))?;
    let ignore = config.advice_ignore;
    let scan = if args.no_secrets {
        None
    } else {
        let flags = SecretArgs {
            show_secrets: args.show_secrets,
            baseline: None,
            write_baseline: None,
            sarif: None,
            secrets_max_file_bytes: None,
        };
        Some(Scan::prepare(&flags, config.secrets)?)
    };
    let mut sides: Vec<(LoadedImage, Analysis)> = Vec::with_capacity(2);
    for name in [&a, &b] {
        // B's layers that A holds too (same diff_id) are taken from A, not read again.
        let known = sides
            .first()
            .map(|(loaded, _)| Arc::new(loaded.layers_by_diff_id()));
        let inspector = scan.as_ref().map(Scan::inspector);
        let mut loaded = load_with(name, &args.source, None, inspector, known)?;
        let mut analysis = analysis::analyze(&loaded.image, 1);
        reveal_or_scan(scan.as_ref(), args.show_secrets, &mut loaded, &mut analysis)?;
        attach_advice(&ignore, &loaded, &mut analysis);
        sides.push((loaded, analysis));
    }
    let side = |i: usize| Side {
        image: &sides[i].0.image,
        analysis: &sides[i].1,
    };
    let options = DiffOptions {
        top_directories: args.top,
        secrets: scan.is_some(),
    };
    let result = diff::diff(side(0), side(1), &options);
    let asked_for_output =
        args.json.is_some() || args.markdown.is_some() || args.max_size_increase.is_some();
    if !asked_for_output && !args.text && std::io::stdout().is_terminal() {
        // The explorer on B, every path marked against A from the comparison just made.
        let marks = layerscope::tui::diff_marks::DiffMarks::new(&result, &sides[1].1.tree);
        let Some((image, analysis)) = sides.pop() else {
            return Ok(0);
        };
        // Both images are read already: the explorer opens on B at once.
        return layerscope::tui::run(
            &b,
            move |_| {
                Ok(layerscope::tui::Loaded {
                    image,
                    analysis,
                    note: None,
                    diff: Some(marks),
                })
            },
            paint().color,
        );
    }
    if let Some(target) = &args.json {
        output::write_to(target, &report::diff::json(&result))?;
    }
    if let Some(target) = &args.markdown {
        output::write_to(target, &report::diff::markdown(&result, limit))?;
    }
    let mut human = String::new();
    if args.json.is_none() && args.markdown.is_none() {
        human.push_str(&report::diff::text(&result, paint(), limit));
    }
    let mut code = 0;
    if let Some(limit) = &args.max_size_increase {
        let exceeded = limit.exceeded(&result.size);
        human.push_str(&report::diff::size_gate(&result, limit, exceeded));
        if exceeded {
            code = EXIT_RULE_FAILED;
        }
    }
    output::with_code(output::human(&human, stdout_taken), code)
}
