//! `App::update` for slow work: the ids of the jobs it starts (viewer reads, extraction), and their outcomes,
//! taken only from the job still waited for; an answer to a replaced or cancelled request is ignored.

use std::path::PathBuf;

use super::app::{App, Effect, Extraction, Overlay, PromptKind};
use super::content::Content;
use super::effects::{Job, JobId, Outcome};

impl App<'_> {
    /// A new job's id.
    pub(super) fn next_job(&mut self) -> JobId {
        self.last_job += 1;
        self.last_job
    }

    /// The read the open viewer waits for.
    pub(super) fn viewer_reading(&self) -> Option<JobId> {
        match &self.overlay {
            Some(Overlay::Viewer(v)) => v.reading,
            _ => None,
        }
    }

    /// Starts writing a file version to `to` (replacing an extraction under way).
    pub(super) fn start_extraction(
        &mut self,
        layer: usize,
        entry: u32,
        to: PathBuf,
        overwrite: bool,
    ) -> Effect {
        let id = self.next_job();
        let job = Job::Extract {
            layer,
            entry,
            to,
            overwrite,
        };
        self.extracting = Some(Extraction {
            id,
            job: job.clone(),
        });
        Effect::Run { id, job }
    }

    /// The status line: a message, else the extraction under way.
    pub fn status_line(&self) -> Option<String> {
        if let Some(status) = &self.status {
            return Some(status.clone());
        }
        match &self.extracting {
            Some(Extraction {
                job: Job::Extract { to, .. },
                ..
            }) => Some(format!("reading… extracting to {}", to.display())),
            _ => None,
        }
    }

    /// A job's outcome, taken only from the job still waited for (an older one was replaced or cancelled).
    pub(super) fn done(&mut self, id: JobId, outcome: Outcome) {
        match outcome {
            Outcome::FileRead(_) | Outcome::FileHead(_) if self.viewer_reading() != Some(id) => {}
            Outcome::FileRead(result) => {
                let content = match result {
                    Ok(bytes) => self.shown_bytes(&bytes),
                    Err(e) => Content::Error(e),
                };
                if let Some(Overlay::Viewer(v)) = &mut self.overlay {
                    v.content = content;
                    v.reading = None;
                }
            }
            Outcome::FileHead(bytes) => {
                let content = self.shown_bytes(&bytes);
                if let Some(Overlay::Viewer(v)) = &mut self.overlay {
                    let shown = crate::report::text::size(bytes.len() as u64);
                    v.title.push_str(&format!(" · only the first {shown}"));
                    v.content = content;
                    v.reading = None;
                }
            }
            Outcome::Extracted(_) | Outcome::ExtractExists(_)
                if self.extracting.as_ref().map(|x| x.id) != Some(id) => {}
            Outcome::Extracted(result) => {
                self.extracting = None;
                self.status = Some(result.unwrap_or_else(|e| e));
            }
            Outcome::ExtractExists(to) => {
                if let Some(Extraction {
                    job: Job::Extract { layer, entry, .. },
                    ..
                }) = self.extracting.take()
                {
                    self.open_prompt(PromptKind::Overwrite { layer, entry, to }, String::new());
                }
            }
        }
    }

    /// A file's bytes as the viewer shows them: masked like every other view (`--show-secrets` reveals).
    fn shown_bytes(&self, bytes: &[u8]) -> Content {
        Content::from_bytes(self.analysis.redactor.mask_bytes(bytes).into_owned())
    }
}
