//! Every command-line flag, in one place, with its documentation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use layerscope::analysis::advice::Severity;
use layerscope::analysis::diff::SizeLimit;
use layerscope::ci::{FailOn, Setting};
use layerscope::limits::Limits;
use layerscope::source::SourceKind;
use layerscope::units;

#[derive(Debug, Parser)]
#[command(
    name = "layerscope",
    version,
    about = "See what is really inside a container image, layer by layer",
    long_about = "See what is really inside a container image, layer by layer: what each Dockerfile \
                  instruction added, modified and deleted, the merged file tree at any layer, and the exact \
                  space wasted by files that later layers deleted or overwrote.\n\n\
                  IMAGE is a docker save archive (Docker <= 24 or 25+), an OCI layout directory or tar, \
                  optionally gzip- or zstd-compressed, - for stdin, or an image reference (nginx:latest), looked up in \
                  the local engines, then its registry. Prefixes choose: registry://REF (the registry only), \
                  docker://REF and podman://REF (that engine, then the registry), docker-daemon:IMG, \
                  containers-storage:IMG, oci:DIR:REF, oci-archive:PATH:REF.",
    args_conflicts_with_subcommands = true,
    after_help = "--json takes the same form on every command: --json alone (or --json -) writes to stdout, \
                  --json FILE (or --json=FILE) to FILE. Put it after IMAGE, or use --json=FILE before it.\n\n\
                  Exit codes: 0 success / CI rules passed (also when stdout is closed early, as by | head), \
                  1 a CI rule failed, 2 bad input or usage."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub analyze: AnalyzeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the merged file tree at a layer, or only that layer's changes
    Ls(LsArgs),
    /// Write a file's bytes as they were at a layer (also versions that later layers deleted)
    Cat(CatArgs),
    /// List the secrets found in every layer, the config and the history (also those deleted later)
    Secrets(SecretsArgs),
    /// Manage the registry blob cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Compare two images: size, layers, directories, files, config and secrets from A to B
    Diff(DiffArgs),
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove every cached registry blob
    Clean,
}

/// How to find the image inside what IMAGE names.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Which image of a multi-image archive (a tag like app:1, or an image ID prefix)
    #[arg(long = "image", value_name = "REF")]
    pub image_ref: Option<String>,
    /// Platform of a multi-platform image, os/arch[/variant] [default: linux/<host arch>]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Skip checking layer and blob digests against the manifest and config
    #[arg(long)]
    pub no_verify: bool,
    /// Where IMAGE lives
    #[arg(long, value_name = "SOURCE", value_enum, default_value_t = SourceArg::Auto)]
    pub source: SourceArg,
    /// Docker's data root, for the docker-store source
    #[arg(long, value_name = "DIR")]
    pub docker_root: Option<PathBuf>,
    /// containerd's root, for the containerd source [default: /var/lib/containerd]
    #[arg(long, value_name = "DIR")]
    pub containerd_root: Option<PathBuf>,
    /// containerd namespace to read [default: the first of moby, k8s.io, default holding the image]
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Refuse a tar long name, long link, PAX header or sparse map larger than SIZE [default: 1MiB]
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub max_header_bytes: Option<u64>,
    /// Keep at most SIZE of manifests, configs and names in memory while reading a stream [default: 256MiB]
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub max_metadata_bytes: Option<u64>,
    /// Read at most N members of a streamed archive (stdin, .tar.gz, .tar.zst) [default: 100000]
    #[arg(long, value_name = "N")]
    pub max_archive_members: Option<u64>,
    /// Refuse gzip or zstd data that expands more than N times its compressed size (counting at least 1 MiB
    /// compressed) [default: 2000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_expansion_ratio: Option<u64>,
    /// Refuse a layer entry whose path is longer than SIZE (Linux's PATH_MAX) [default: 4KiB]
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub max_path_bytes: Option<u64>,
}

impl SourceArgs {
    /// The limits these flags set, the others at their defaults.
    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        Limits {
            header_bytes: self.max_header_bytes.unwrap_or(default.header_bytes),
            metadata_bytes: self.max_metadata_bytes.unwrap_or(default.metadata_bytes),
            archive_members: self.max_archive_members.unwrap_or(default.archive_members),
            expansion_ratio: self.max_expansion_ratio.unwrap_or(default.expansion_ratio),
            path_bytes: self.max_path_bytes.unwrap_or(default.path_bytes),
        }
    }
}

/// `--source`: every place an image can come from, as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// A path if IMAGE exists, else the local engines, else the registry
    Auto,
    /// The Docker Engine API
    Docker,
    /// Docker's data root (/var/lib/docker), read in place
    DockerStore,
    /// containers-storage in place, else `podman image save`
    Podman,
    /// podman's containers-storage, read in place
    ContainersStorage,
    /// `podman image save`, streamed
    PodmanSave,
    /// containerd's content store, read in place
    Containerd,
    /// The image's registry, always
    Registry,
    /// A docker save archive
    DockerArchive,
    /// An OCI layout directory
    Oci,
    /// An OCI layout tar
    OciArchive,
}

impl SourceArg {
    pub fn kind(self) -> SourceKind {
        match self {
            SourceArg::Auto => SourceKind::Auto,
            SourceArg::Registry => SourceKind::Registry,
            SourceArg::Docker => SourceKind::Docker,
            SourceArg::DockerStore => SourceKind::DockerStore,
            SourceArg::Podman => SourceKind::Podman,
            SourceArg::ContainersStorage => SourceKind::ContainersStorage,
            SourceArg::PodmanSave => SourceKind::PodmanSave,
            SourceArg::Containerd => SourceKind::Containerd,
            SourceArg::DockerArchive | SourceArg::Oci | SourceArg::OciArchive => {
                SourceKind::Archive
            }
        }
    }
}

/// `--fail-on-secrets`: which findings fail the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Any high-confidence finding, also one a later layer deleted (it still ships)
    Any,
    /// Only high-confidence findings still in the final image
    Visible,
    /// No finding fails the build
    #[value(alias = "disabled")]
    None,
}

impl From<FailOnArg> for FailOn {
    fn from(arg: FailOnArg) -> FailOn {
        match arg {
            FailOnArg::Any => FailOn::Any,
            FailOnArg::Visible => FailOn::Visible,
            FailOnArg::None => FailOn::None,
        }
    }
}

/// `--fail-on-advice`: the lowest advice severity that fails the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdviceSeverityArg {
    Info,
    Low,
    Medium,
    High,
    /// No advice fails the build
    #[value(alias = "disabled")]
    None,
}

impl From<AdviceSeverityArg> for Setting<Severity> {
    fn from(arg: AdviceSeverityArg) -> Setting<Severity> {
        match arg {
            AdviceSeverityArg::Info => Setting::Value(Severity::Info),
            AdviceSeverityArg::Low => Setting::Value(Severity::Low),
            AdviceSeverityArg::Medium => Setting::Value(Severity::Medium),
            AdviceSeverityArg::High => Setting::Value(Severity::High),
            AdviceSeverityArg::None => Setting::Disabled,
        }
    }
}

fn size_setting(text: &str) -> Result<Setting<u64>, String> {
    Setting::parse(text, units::parse_size)
}

fn fraction_setting(text: &str) -> Result<Setting<f64>, String> {
    Setting::parse(text, units::parse_fraction)
}

fn ratio_setting(text: &str) -> Result<Setting<f64>, String> {
    Setting::parse(text, units::parse_ratio)
}

/// How to reach a registry.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Registry")]
pub struct RegistryArgs {
    /// Registry credentials (without :PASSWORD, give --password-stdin). Default: Docker's config.json (and its
    /// credential helpers), then podman's auth.json
    #[arg(long, value_name = "USER[:PASSWORD]")]
    pub creds: Option<String>,
    /// Read the registry password for --creds USER from stdin (one line)
    #[arg(long)]
    pub password_stdin: bool,
    /// Allow plain HTTP and unverified TLS for this registry (host or host:port; repeatable). Loopback
    /// addresses may use plain HTTP without it
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// Verify registry TLS certificates; --tls-verify=false also allows plain HTTP to any registry
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// Trust the CA certificates in this PEM file too (in addition to the system's)
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Layers downloaded at once from a registry
    #[arg(long, value_name = "N", default_value_t = layerscope::source::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Use the registry blob cache ($XDG_CACHE_HOME/layerscope, default ~/.cache/layerscope); on by default,
    /// except with --ci
    #[arg(long, overrides_with = "no_cache")]
    pub cache: bool,
    /// Neither read nor write the registry blob cache
    #[arg(long)]
    pub no_cache: bool,
}

/// Secret scanning options shared by the commands that scan.
#[derive(Debug, Clone, Args)]
pub struct SecretArgs {
    /// Show secrets in clear in every output (they are redacted by default)
    #[arg(long)]
    pub show_secrets: bool,
    /// Suppress the findings recorded in FILE (written by --write-baseline)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record the current findings' fingerprints in FILE, to suppress them later with --baseline
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Write the findings as SARIF 2.1.0 to FILE (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Read at most SIZE bytes of each file when scanning [default: 1MiB, or .layerscope.toml's]
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub secrets_max_file_bytes: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The image: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// The findings as a JSON array instead of a table, on stdout (alone, or -) or in FILE
    #[arg(long, short_alias = 'j', value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Read rules and allowlists from FILE instead of ./.layerscope.toml
    #[arg(long, alias = "ci-config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The image to analyse: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Write the JSON report (schema layerscope.report/v1) to stdout (alone, or -) or to FILE
    #[arg(long, short_alias = 'j', value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Write a Markdown summary (verdict, numbers, advice, secrets, layers: for a pull-request comment or a CI
    /// job summary) to FILE (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML page (treemap of the final filesystem by layer, layers, waste, advice,
    /// secrets, file tree) to FILE (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Evaluate the CI rules, print the result, exit 1 if a rule fails (also on when CI=true is in the
    /// environment, as in dive)
    #[arg(long)]
    pub ci: bool,
    /// How many bottom layers form the base image (for the user waste ratio)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub base_layers: usize,
    /// CI rule: fail when wasted bytes exceed SIZE (20MB, 1.5GiB, plain bytes, or "disabled")
    #[arg(long, alias = "highestWastedBytes", value_name = "SIZE", value_parser = size_setting)]
    pub max_wasted_bytes: Option<Setting<u64>>,
    /// CI rule: fail when wasted bytes / image size exceeds RATIO (0..1 or NN%, or "disabled")
    #[arg(long, value_name = "RATIO", value_parser = fraction_setting)]
    pub max_wasted_ratio: Option<Setting<f64>>,
    /// CI rule: fail when efficiency is below RATIO (0..1 or NN%, or "disabled")
    #[arg(long, alias = "lowestEfficiency", value_name = "RATIO", value_parser = fraction_setting)]
    pub min_efficiency: Option<Setting<f64>>,
    /// CI rule: fail when wasted bytes / size of the layers above the base exceeds RATIO (may exceed 1:
    /// 1.5 or 150%; or "disabled")
    #[arg(long, alias = "highestUserWastedPercent", value_name = "RATIO", value_parser = ratio_setting)]
    pub max_user_wasted_ratio: Option<Setting<f64>>,
    /// CI rule: which secret findings fail the build [default: any]
    #[arg(long, value_name = "POLICY", value_enum)]
    pub fail_on_secrets: Option<FailOnArg>,
    /// CI rule: fail when any advice (not ignored in the config file) is at SEVERITY or above
    #[arg(long, value_name = "SEVERITY", value_enum)]
    pub fail_on_advice: Option<AdviceSeverityArg>,
    /// Read CI rules and secret settings from FILE (.layerscope.toml format, or dive's .dive-ci YAML) instead
    /// of the working directory's
    #[arg(long, alias = "ci-config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Skip the secret scan
    #[arg(
        long,
        conflicts_with_all = ["sarif", "baseline", "write_baseline", "secrets_max_file_bytes", "fail_on_secrets"]
    )]
    pub no_secrets: bool,
    #[command(flatten)]
    pub secrets: SecretArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The image: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Layer index [default: the top layer]
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Only that layer's changes (added, modified, deleted), deleted entries included
    #[arg(long)]
    pub changes: bool,
    /// The entries as a JSON array instead of text, on stdout (alone, or -) or in FILE
    #[arg(long, short_alias = 'j', value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Show secrets in clear in names and paths (they are masked by default)
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The image: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The file's path in the image (/etc/passwd)
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Layer index [default: the top layer, or the last layer that held the file if it was deleted]
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The image before: archive, OCI layout directory, or an image in a local engine
    #[arg(value_name = "A")]
    pub a: Option<String>,
    /// The image after
    #[arg(value_name = "B")]
    pub b: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Write the diff as JSON (schema layerscope.diff/v1) to stdout (alone, or -) or to FILE
    #[arg(long, short_alias = 'j', value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Write the diff as Markdown (for a pull-request comment) to FILE (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// CI rule: exit 1 when B is larger than A by more than SIZE (50MB, 1.5GiB, plain bytes) or PCT of A's
    /// size (10%)
    #[arg(long, value_name = "SIZE|PCT", value_parser = SizeLimit::parse)]
    pub max_size_increase: Option<SizeLimit>,
    /// How many directories to list, largest size change first
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print the text report even when stdout is a terminal (where diff otherwise opens the explorer on B)
    #[arg(long, conflicts_with_all = ["json", "markdown"])]
    pub text: bool,
    /// At most N lines per list (layers, files, findings) in text and Markdown (default 50); JSON lists
    /// everything
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Skip the secret scan (no secrets appeared or resolved are reported)
    #[arg(long)]
    pub no_secrets: bool,
    /// Show secrets in clear (they are masked by default)
    #[arg(long)]
    pub show_secrets: bool,
    /// Read secret rules and allowlists from FILE instead of ./.layerscope.toml
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}
