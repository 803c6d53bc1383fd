//! Loading progress on stderr (layers and bytes done, rate, ETA, and the bytes of each layer in flight), shown
//! only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use layerscope::escape::escape;
use layerscope::layer::Progress;
use layerscope::report::text::size;
use layerscope::source::LoadProgress;

/// A layer being read: its short name, stored size (when known) and bytes read so far.
struct InFlight {
    key: String,
    name: String,
    total: Option<u64>,
    read: u64,
}

pub struct StderrProgress {
    enabled: bool,
    started: Instant,
    layers: AtomicUsize,
    done: AtomicUsize,
    total: AtomicU64,
    bytes: AtomicU64,
    in_flight: Mutex<Vec<InFlight>>,
    last_draw: Mutex<Instant>,
}

/// What one progress line shows.
struct Snapshot<'a> {
    done: usize,
    layers: usize,
    bytes: u64,
    total: u64,
    secs: f64,
    in_flight: &'a [InFlight],
}

/// A layer's short name, escaped; the usual algorithm is left out (the line is short).
fn short_name(key: &str) -> String {
    let name = layerscope::source::blob_short_name(key);
    escape(name.strip_prefix("sha256:").unwrap_or(&name)).into_owned()
}

/// The progress line, at most `width` characters (a wrapped line could not be redrawn in place).
fn format_line(s: &Snapshot<'_>, width: usize) -> String {
    let rate = s.bytes as f64 / s.secs.max(0.001);
    let mut line = format!("reading layers {}/{}  {}", s.done, s.layers, size(s.bytes));
    if s.total > 0 {
        line.push_str(&format!(" of {}", size(s.total)));
    }
    line.push_str(&format!("  {}/s", size(rate as u64)));
    if s.total > s.bytes && rate > 0.0 {
        line.push_str(&format!("  ETA {:.0}s", (s.total - s.bytes) as f64 / rate));
    }
    for (i, layer) in s.in_flight.iter().enumerate() {
        let mut part = format!("  {} {}", layer.name, size(layer.read));
        if let Some(total) = layer.total.filter(|t| *t > 0) {
            part.push_str(&format!("/{}", size(total)));
        }
        let rest = s.in_flight.len() - i - 1;
        let more = if rest > 0 {
            format!("  +{rest}")
        } else {
            String::new()
        };
        if line.chars().count() + part.chars().count() + more.chars().count() > width {
            line.push_str(&format!("  +{}", rest + 1));
            break;
        }
        line.push_str(&part);
    }
    line.chars().take(width).collect()
}

impl StderrProgress {
    pub fn new() -> StderrProgress {
        StderrProgress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            layers: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            in_flight: Mutex::new(Vec::new()),
            last_draw: Mutex::new(Instant::now()),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, Vec<InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn draw(&self, force: bool) {
        if !self.enabled {
            return;
        }
        if let Ok(mut last) = self.last_draw.lock() {
            if !force && last.elapsed() < Duration::from_millis(100) {
                return;
            }
            *last = Instant::now();
        }
        // One column short of the terminal's width (a pty may report 0 columns: then 80).
        let width = crossterm::terminal::size()
            .ok()
            .filter(|(w, _)| *w > 0)
            .map_or(79, |(w, _)| usize::from(w.max(20)) - 1);
        let line = {
            let in_flight = self.in_flight();
            format_line(
                &Snapshot {
                    done: self.done.load(Ordering::Relaxed),
                    layers: self.layers.load(Ordering::Relaxed),
                    bytes: self.bytes.load(Ordering::Relaxed),
                    total: self.total.load(Ordering::Relaxed),
                    secs: self.started.elapsed().as_secs_f64(),
                    in_flight: &in_flight,
                },
                width,
            )
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    /// Clears the progress line.
    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// The CLI shows bytes only; the image as it takes shape is the explorer's.
impl LoadProgress for StderrProgress {}

impl Progress for StderrProgress {
    fn begin(&self, layers: usize, bytes: Option<u64>) {
        self.layers.store(layers, Ordering::Relaxed);
        self.total.store(bytes.unwrap_or(0), Ordering::Relaxed);
        self.draw(true);
    }

    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.draw(false);
    }

    fn layer_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let layers = self.layers.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        if done > layers {
            self.layers.store(done, Ordering::Relaxed);
        }
        self.draw(true);
    }

    fn layer_started(&self, layer: &str, bytes: Option<u64>) {
        if self.enabled {
            self.in_flight().push(InFlight {
                key: layer.to_string(),
                name: short_name(layer),
                total: bytes,
                read: 0,
            });
        }
    }

    fn layer_advance(&self, layer: &str, bytes: u64) {
        if self.enabled
            && let Some(l) = self.in_flight().iter_mut().find(|l| l.key == layer)
        {
            l.read += bytes;
        }
    }

    fn layer_finished(&self, layer: &str) {
        if self.enabled {
            self.in_flight().retain(|l| l.key != layer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(key: &str, total: Option<u64>, read: u64) -> InFlight {
        InFlight {
            key: key.into(),
            name: short_name(key),
            total,
            read,
        }
    }

    #[test]
    fn the_line_lists_layers_in_flight_and_fits_the_width() {
        let a = format!("blobs/sha256/{}", "a1".repeat(32));
        let b = format!("blobs/sha256/{}", "b2".repeat(32));
        let c = "0123456789abcdef0123456789abcdef/layer.tar";
        let in_flight = [
            layer(&a, Some(30_000_000), 12_000_000),
            layer(&b, None, 3_100_000),
            layer(c, Some(8_000_000), 0),
        ];
        let snapshot = Snapshot {
            done: 3,
            layers: 24,
            bytes: 100_000_000,
            total: 300_000_000,
            secs: 2.0,
            in_flight: &in_flight,
        };
        let line = format_line(&snapshot, 200);
        assert!(
            line.starts_with("reading layers 3/24  100 MB of 300 MB  50 MB/s  ETA 4s  "),
            "{line}"
        );
        assert!(line.contains("a1a1a1a1a1a1 12 MB/30 MB"), "{line}");
        assert!(line.contains("b2b2b2b2b2b2 3.10 MB  "), "{line}");
        assert!(line.ends_with("layer.tar 0 B/8 MB"), "{line}");

        let narrow = format_line(&snapshot, 90);
        assert!(narrow.chars().count() <= 90, "{narrow}");
        assert!(narrow.contains("a1a1a1a1a1a1 12 MB/30 MB  +2"), "{narrow}");
        assert!(!narrow.contains("b2b2"), "{narrow}");
        let tiny = format_line(&snapshot, 20);
        assert_eq!(tiny.chars().count(), 20);
    }

    #[test]
    fn layer_names_from_archives_are_escaped() {
        assert_eq!(short_name("evil\x1b[2J/layer.tar"), "layer.tar");
        assert!(!short_name("x/\x1b[31mred").contains('\x1b'));
    }

    #[test]
    fn nothing_is_tracked_when_stderr_is_not_a_terminal() {
        let p = StderrProgress {
            enabled: false,
            ..StderrProgress::new()
        };
        p.layer_started("blobs/sha256/aa", Some(3));
        p.layer_advance("blobs/sha256/aa", 2);
        assert!(p.in_flight().is_empty());
    }
}
