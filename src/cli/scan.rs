//! Secret-scan wiring for the commands: the scanner built from the configured settings and flags, handed to the
//! loader (so scanning shares the one pass over each layer), findings applied to the analysis with redaction,
//! and the baseline and SARIF outputs.

use std::sync::Arc;

use layerscope::analysis::Analysis;
use layerscope::image::Image;
use layerscope::layer::ContentInspector;
use layerscope::report::sarif;
use layerscope::secrets::{self, SecretScanner, SecretSettings, settings::baseline_json};
use layerscope::source::LoadedImage;
use layerscope::{Error, Result};

use super::args::SecretArgs;
use super::output;

/// A scanner ready for loading, from the config file and flags.
pub struct Scan {
    pub scanner: Arc<SecretScanner>,
    pub settings: SecretSettings,
    pub args: SecretArgs,
}

impl Scan {
    /// `settings` come from the configuration files (`config::Config`); the flags go over them.
    pub fn prepare(args: &SecretArgs, mut settings: SecretSettings) -> Result<Scan> {
        if let Some(size) = args.secrets_max_file_bytes {
            settings.max_file_bytes = size;
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

    /// Collects the findings and the redactor every output applies into the analysis (a redactor that masks
    /// nothing with `--show-secrets`); writes the baseline file asked for.
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
            // Also masked in the model, for any view that shows history without the analysis's redactor.
            secrets::redact_history(&mut loaded.image, &report.redactor);
        }
        analysis.secrets = report.findings;
        analysis.redactor = report.redactor;
        if let Some(path) = &self.args.write_baseline {
            output::write_to(path, &baseline_json(&analysis.secrets))?;
        }
        Ok(())
    }

    /// Writes the SARIF file asked for: the findings and the advice (so call it once the advice is known).
    pub fn write_sarif(&self, image: &Image, analysis: &Analysis) -> Result<()> {
        match &self.args.sarif {
            Some(path) => output::write_to(
                path,
                &sarif::to_string(image, analysis, self.scanner.rules()),
            ),
            None => Ok(()),
        }
    }

    /// The outputs this scan writes, for the check that only one goes to stdout.
    pub fn targets(args: &SecretArgs) -> [(&'static str, Option<&std::path::Path>); 2] {
        [
            ("--sarif", args.sarif.as_deref()),
            ("--write-baseline", args.write_baseline.as_deref()),
        ]
    }
}
