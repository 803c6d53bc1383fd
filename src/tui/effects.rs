//! The explorer's only I/O besides the terminal: reading a file version's bytes for the viewer and writing them
//! where the user asked (`x`). Both re-read the layer blob up to the entry (synchronous: a blob of a few hundred
//! MB takes well under a second, and the viewer shows "reading…" meanwhile).

use std::io::Write;

use super::app::{Action, Effect};
use crate::source::LoadedImage;

/// Performs an effect; the action to feed back to `App::update`, if any.
pub fn perform(loaded: &LoadedImage, effect: &Effect) -> Option<Action> {
    match effect {
        Effect::None | Effect::Quit => None,
        Effect::ReadFile { layer, entry } => Some(Action::FileRead(
            loaded
                .entry_bytes(*layer, *entry)
                .map_err(|e| e.to_string()),
        )),
        Effect::Extract {
            layer,
            entry,
            to,
            overwrite,
        } => {
            if !overwrite && to.symlink_metadata().is_ok() {
                return Some(Action::ExtractExists(to.clone()));
            }
            let result = loaded
                .entry_bytes(*layer, *entry)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    let mut options = std::fs::OpenOptions::new();
                    options.write(true);
                    if *overwrite {
                        options.create(true).truncate(true);
                    } else {
                        options.create_new(true);
                    }
                    options
                        .open(to)
                        .and_then(|mut f| f.write_all(&bytes))
                        .map(|_| format!("wrote {} bytes to {}", bytes.len(), to.display()))
                        .map_err(|e| format!("{}: {e}", to.display()))
                });
            match result {
                Err(e) if !overwrite && to.symlink_metadata().is_ok() && e.contains("exists") => {
                    Some(Action::ExtractExists(to.clone()))
                }
                other => Some(Action::Extracted(other)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::NoProgress;
    use crate::source::{self, LoadOptions};

    fn demo() -> LoadedImage {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/real/docker-legacy.tar"
        );
        source::open(path)
            .and_then(|s| s.load(&LoadOptions::default(), &NoProgress))
            .unwrap()
    }

    fn netrc(loaded: &LoadedImage) -> (usize, u32) {
        let layer = &loaded.image.layers[3];
        let i = layer
            .scan
            .entries
            .iter()
            .position(|e| &*e.path == b"home/ci/.netrc")
            .unwrap();
        (3, i as u32)
    }

    #[test]
    fn extract_refuses_to_overwrite_unless_confirmed() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("netrc");
        let write = |overwrite| Effect::Extract {
            layer,
            entry,
            to: to.clone(),
            overwrite,
        };
        let first = perform(&loaded, &write(false));
        assert!(matches!(first, Some(Action::Extracted(Ok(_)))), "{first:?}");
        assert!(
            std::fs::read(&to)
                .unwrap()
                .starts_with(b"machine api.example.com")
        );
        std::fs::write(&to, b"mine").unwrap();
        assert_eq!(
            perform(&loaded, &write(false)),
            Some(Action::ExtractExists(to.clone()))
        );
        assert_eq!(std::fs::read(&to).unwrap(), b"mine");
        assert!(matches!(
            perform(&loaded, &write(true)),
            Some(Action::Extracted(Ok(_)))
        ));
        assert!(std::fs::read(&to).unwrap().starts_with(b"machine"));
    }

    #[test]
    fn read_file_returns_a_deleted_version() {
        let loaded = demo();
        let (layer, entry) = netrc(&loaded);
        match perform(&loaded, &Effect::ReadFile { layer, entry }) {
            Some(Action::FileRead(Ok(bytes))) => assert!(bytes.starts_with(b"machine")),
            other => panic!("{other:?}"),
        }
    }
}
