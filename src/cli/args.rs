//! Every command-line flag, in one place, with its documentation.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "layerscope",
    version,
    about = "See what is really inside a container image, layer by layer",
    long_about = "See what is really inside a container image, layer by layer: what each Dockerfile \
                  instruction added, modified and deleted, the merged file tree at any layer, and the exact \
                  space wasted by files that later layers deleted or overwrote.\n\n\
                  IMAGE is a docker save archive (Docker <= 24 or 25+), an OCI layout directory or tar, \
                  optionally gzip- or zstd-compressed, - for stdin, or an image in a local engine (nginx:latest, \
                  docker-daemon:IMG, containers-storage:IMG, oci:DIR:REF, oci-archive:PATH:REF).",
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 success / CI rules passed, 1 a CI rule failed, 2 bad input or usage."
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
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
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
    /// Where IMAGE lives: auto (a path, else the local engines), docker (Engine API), docker-store (read
    /// /var/lib/docker in place), podman, containers-storage, podman-save, containerd (its content store in
    /// place), docker-archive, oci, oci-archive
    #[arg(long, value_name = "SOURCE", default_value = "auto")]
    pub source: String,
    /// Docker's data root, for the docker-store source
    #[arg(long, value_name = "DIR")]
    pub docker_root: Option<PathBuf>,
    /// containerd's root, for the containerd source [default: /var/lib/containerd]
    #[arg(long, value_name = "DIR")]
    pub containerd_root: Option<PathBuf>,
    /// containerd namespace to read [default: the first of moby, k8s.io, default holding the image]
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
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
    #[arg(long, value_name = "SIZE")]
    pub secrets_max_file_bytes: Option<String>,
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The image: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// JSON array instead of a table
    #[arg(long)]
    pub json: bool,
    /// Read rules and allowlists from FILE instead of ./.layerscope.toml
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The image to analyse: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Write the JSON report (schema layerscope.report/v1) to FILE, or - for stdout
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Evaluate the CI rules, print the result, exit 1 if a rule fails
    #[arg(long)]
    pub ci: bool,
    /// How many bottom layers form the base image (for the user waste ratio)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub base_layers: usize,
    /// CI rule: fail when wasted bytes exceed SIZE (20MB, 1.5GiB, plain bytes, or "disabled")
    #[arg(long, value_name = "SIZE")]
    pub max_wasted_bytes: Option<String>,
    /// CI rule: fail when wasted bytes / image size exceeds RATIO (0..1 or NN%, or "disabled")
    #[arg(long, value_name = "RATIO")]
    pub max_wasted_ratio: Option<String>,
    /// CI rule: fail when efficiency is below RATIO (0..1 or NN%, or "disabled")
    #[arg(long, value_name = "RATIO")]
    pub min_efficiency: Option<String>,
    /// CI rule: fail when wasted bytes / size of the layers above the base exceeds RATIO
    #[arg(long, value_name = "RATIO")]
    pub max_user_wasted_ratio: Option<String>,
    /// CI rule: which secret findings fail the build: any (also deleted ones, the default), visible, none
    #[arg(long, value_name = "POLICY")]
    pub fail_on_secrets: Option<String>,
    /// Read CI rules from FILE (.layerscope.toml format, or dive's .dive-ci YAML) instead of the working directory's
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Skip the secret scan
    #[arg(long)]
    pub no_secrets: bool,
    #[command(flatten)]
    pub secrets: SecretArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The image: archive, OCI layout directory, or - for stdin
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Layer index [default: the top layer]
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Only that layer's changes (added, modified, deleted), deleted entries included
    #[arg(long)]
    pub changes: bool,
    /// JSON array instead of text
    #[arg(long)]
    pub json: bool,
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
