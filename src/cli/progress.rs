//! Loading progress on stderr (layers and bytes done, rate, ETA), shown only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use layerscope::layer::Progress;
use layerscope::report::text::size;

pub struct StderrProgress {
    enabled: bool,
    started: Instant,
    layers: AtomicUsize,
    done: AtomicUsize,
    total: AtomicU64,
    bytes: AtomicU64,
    last_draw: Mutex<Instant>,
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
            last_draw: Mutex::new(Instant::now()),
        }
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
        let bytes = self.bytes.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = bytes as f64 / secs;
        let mut line = format!(
            "reading layers {}/{}  {}",
            self.done.load(Ordering::Relaxed),
            self.layers.load(Ordering::Relaxed),
            size(bytes)
        );
        if total > 0 {
            line.push_str(&format!(" of {}", size(total)));
        }
        line.push_str(&format!("  {}/s", size(rate as u64)));
        if total > bytes && rate > 0.0 {
            line.push_str(&format!("  ETA {:.0}s", (total - bytes) as f64 / rate));
        }
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
}
