//! Secret-scan wiring for the commands: settings from `.layerscope.toml` and flags, the scanner handed to the
//! loader (so scanning shares the one pass over each layer), findings applied to the analysis with redaction,
//! and the baseline, SARIF and `secrets` command outputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use layerscope::analysis::{self, Analysis};
use layerscope::layer::ContentInspector;
use layerscope::report::{sarif, text};
use layerscope::secrets::{self, SecretScanner, SecretSettings, settings::baseline_json};
use layerscope::source::LoadedImage;
use layerscope::{Error, Result};

use super::args::{SecretArgs, SecretsArgs};
use super::run::{load, paint, print, write_out};

/// The `.layerscope.toml` in force: `--config FILE` when it is TOML, else the working directory's.
pub fn toml_config(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let yaml =
                name.ends_with(".dive-ci") || name.ends_with(".yaml") || name.ends_with(".yml");
            (!yaml).then(|| p.to_path_buf())
        }
        None => Some(PathBuf::from(".layerscope.toml")).filter(|p| p.is_file()),
    }
}

/// A scanner ready for loading, from the config file and flags.
pub struct Scan {
    pub scanner: Arc<SecretScanner>,
    pub settings: SecretSettings,
    pub args: SecretArgs,
}

impl Scan {
    pub fn prepare(args: &SecretArgs, config: Option<&Path>) -> Result<Scan> {
        let mut settings = match toml_config(config) {
            Some(path) => SecretSettings::from_toml(&path)?,
            None => SecretSettings::default(),
        };
        if let Some(size) = &args.secrets_max_file_bytes {
            settings.max_file_bytes = layerscope::ci::parse_size(size)
                .map_err(|e| Error::Usage(format!("--secrets-max-file-bytes: {e}")))?;
        }
        if let Some(baseline) = &args.baseline {
            settings.load_baseline(baseline)?;
        }
        let rules = settings
            .ruleset()
            .map_err(|e| Error::Usage(format!("secret rules: {e}")))?;
        Ok(Scan {
            scanner: Arc::new(SecretScanner::new(rules, settings.max_file_bytes)),
            settings,
            args: args.clone(),
        })
    }

    pub fn inspector(&self) -> Arc<dyn ContentInspector + Send> {
        self.scanner.clone()
    }

    /// Collects the findings into the analysis and redacts the history everyone prints (unless
    /// `--show-secrets`); writes the baseline and SARIF files asked for.
    pub fn apply(&self, loaded: &mut LoadedImage, analysis: &mut Analysis) -> Result<()> {
        let show = self.args.show_secrets;
        let report = secrets::collect(
            &loaded.image,
            &analysis.tree,
            &self.scanner,
            &self.settings,
            show,
        );
        if !show {
            secrets::redact_history(&mut loaded.image, &report.redactor);
        }
        analysis.secrets = report.findings;
        if let Some(path) = &self.args.write_baseline {
            write_out(path, &baseline_json(&analysis.secrets))?;
        }
        if let Some(path) = &self.args.sarif {
            write_out(
                path,
                &sarif::to_string(
                    &loaded.image,
                    &analysis.secrets,
                    self.scanner.rules(),
                    &analysis::advice::advise(&loaded.image, analysis),
                ),
            )?;
        }
        Ok(())
    }
}

/// `layerscope secrets IMAGE`: the findings alone.
pub fn secrets_command(args: SecretsArgs) -> Result<i32> {
    let scan = Scan::prepare(&args.secrets, args.config.as_deref())?;
    let mut loaded = load(&args.image, &args.source, None, Some(scan.inspector()))?;
    let mut analysis = analysis::analyze(&loaded.image, 1);
    scan.apply(&mut loaded, &mut analysis)?;
    if args.json {
        let json = serde_json::to_string_pretty(&analysis.secrets)
            .map_err(|e| Error::Usage(e.to_string()))?;
        print(&format!("{json}\n"))?;
    } else {
        print(&text::secrets_table(&analysis.secrets, paint()))?;
    }
    Ok(0)
}
