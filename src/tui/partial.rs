//! The explorer's model while the image loads: the image as resolved, and the merged tree of the lowest layers
//! whose scans (and those of every layer below) are complete. A thread of its own applies the layers in order
//! to one [`TreeBuilder`] as they arrive (in any order) and sends a [`Partial`] to the UI loop when the
//! explorable layers grew, at most every [`SNAPSHOT_EVERY`]: a snapshot is a copy of the tree built so far, and
//! the whole tree is built once, whatever the number of layers. The thread ends when every layer is applied
//! (the full model is then only the analysis away: no copy of the whole tree competes with it) or when the
//! load ends (its sender, held by the load's progress, goes away); the full model replaces the last partial one.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use super::loading::{Arrival, Partial};
use super::worker::{Message, Outbox};
use crate::image::Image;
use crate::layer::LayerScan;
use crate::tree::TreeBuilder;

/// The shortest time between two partial models (each costs a copy of the tree and the UI a rebuild of rows).
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(200);

/// Starts the builder; what it is sent becomes [`Message::Partial`]s in `outbox`.
pub fn start(outbox: Outbox) -> std::io::Result<Sender<Arrival>> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("partial tree".into())
        .spawn(move || build(&rx, &outbox))?;
    Ok(tx)
}

/// Layers waiting for those below them, and the tree of those applied.
struct Prefix {
    image: Image,
    waiting: Vec<Option<Arc<LayerScan>>>,
    builder: TreeBuilder,
}

impl Prefix {
    /// Takes layer `index`; applies every layer now complete from the bottom up. Whether the tree grew.
    fn arrive(&mut self, index: usize, scan: Arc<LayerScan>) -> bool {
        let Some(slot) = self.waiting.get_mut(index) else {
            return false;
        };
        *slot = Some(scan);
        let before = self.builder.layer_count();
        while let Some(scan) = self
            .waiting
            .get_mut(self.builder.layer_count())
            .and_then(Option::take)
        {
            self.image.layers[self.builder.layer_count()].scan = scan.clone();
            self.builder.push(scan);
        }
        self.builder.layer_count() > before
    }
}

fn build(rx: &Receiver<Arrival>, outbox: &Outbox) {
    let mut prefix: Option<Prefix> = None;
    let mut last: Option<Instant> = None;
    let mut grown = false;
    loop {
        let wait = match (grown, last) {
            (true, Some(at)) => Some(SNAPSHOT_EVERY.saturating_sub(at.elapsed())),
            (true, None) => Some(Duration::ZERO),
            (false, _) => None,
        };
        let arrival = match wait {
            Some(wait) => rx.recv_timeout(wait),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match arrival {
            Ok(Arrival::Image(image)) => {
                prefix = Some(Prefix {
                    waiting: vec![None; image.layers.len()],
                    image: *image,
                    builder: TreeBuilder::new(0),
                });
            }
            Ok(Arrival::Layer(index, scan)) => {
                if let Some(p) = &mut prefix {
                    grown |= p.arrive(index, scan);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The load is over: the full model follows.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let due = last.is_none_or(|at| at.elapsed() >= SNAPSHOT_EVERY);
        // Every layer read: the full model is only the analysis away, and a copy of the whole tree now would
        // compete with it for the cores.
        let complete = prefix
            .as_ref()
            .is_some_and(|p| p.builder.layer_count() == p.waiting.len());
        if complete {
            return;
        }
        if let Some(p) = prefix.as_ref().filter(|_| grown && due) {
            let partial = Partial::new(p.image.clone(), p.builder.snapshot());
            if !outbox.send(Message::Partial(Arc::new(partial))) {
                return;
            }
            last = Some(Instant::now());
            grown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;

    use super::*;
    use crate::tui::app::{Action, App, Overlay, Pane};
    use crate::tui::fixture;
    use crate::tui::keymap::Command as C;
    use crate::tui::loading::{BlobRead, LoadReport, Loading};

    /// The fixture image as resolved: every layer's scan empty.
    fn skeleton(image: &Image) -> Image {
        let mut skeleton = image.clone();
        for layer in &mut skeleton.layers {
            layer.scan = Arc::default();
        }
        skeleton
    }

    /// The builder's state after layers `arrived` came, in that order.
    fn prefix_after(image: &Image, arrived: &[usize]) -> (Prefix, Vec<bool>) {
        let mut prefix = Prefix {
            image: skeleton(image),
            waiting: vec![None; image.layers.len()],
            builder: TreeBuilder::new(0),
        };
        let grew = arrived
            .iter()
            .map(|i| prefix.arrive(*i, image.layers[*i].scan.clone()))
            .collect();
        (prefix, grew)
    }

    /// Layers 0 and 1 explorable; layer 2 a third read.
    fn loading(image: &Image) -> Loading {
        let key = |i: usize| image.layers[i].blob_path.clone();
        Loading {
            source: "app.tar".into(),
            report: LoadReport {
                layers: 3,
                total: Some(3000),
                bytes: 2100,
                done: 2,
                blobs: vec![BlobRead {
                    key: key(2),
                    total: Some(1500),
                    read: 500,
                    finished: false,
                }],
                layer_blobs: (0..3).map(key).collect(),
                scanned: vec![true, true, false],
            },
            queued: 0,
        }
    }

    fn partial_app<'a>(model: &'a Partial, image: &Image) -> App<'a> {
        let mut app = App::new(
            &model.image,
            &model.analysis,
            false,
            Rect::new(0, 0, 120, 40),
        );
        app.loading = Some(loading(image));
        app
    }

    fn cmd(app: &mut App, c: C) {
        app.update(Action::Command(c));
    }

    #[test]
    fn layers_become_explorable_only_when_every_layer_below_has_arrived() {
        let image = fixture::image();
        let (prefix, grew) = prefix_after(&image, &[2, 1, 0]);
        assert_eq!(grew, [false, false, true]);
        assert_eq!(prefix.builder.layer_count(), 3);
        let (prefix, grew) = prefix_after(&image, &[0, 2]);
        assert_eq!(grew, [true, false]);
        assert_eq!(prefix.builder.layer_count(), 1);
        // Layer 2 waits for layer 1; the model says layer 0 alone is explorable.
        let model = Partial::new(prefix.image.clone(), prefix.builder.snapshot());
        assert_eq!(model.explorable(), 1);
        assert_eq!(model.analysis.layers.len(), 1);
        assert!(model.analysis.waste.files.is_empty());
        // A layer index past the image is ignored.
        let (mut prefix, _) = prefix_after(&image, &[]);
        assert!(!prefix.arrive(7, image.layers[0].scan.clone()));
    }

    #[test]
    fn the_swap_to_the_full_model_keeps_layer_cursor_collapsed_dirs_filter_and_overlay() {
        let image = fixture::image();
        let (prefix, _) = prefix_after(&image, &[0, 1]);
        let model = Partial::new(prefix.image.clone(), prefix.builder.snapshot());
        let mut app = partial_app(&model, &image);
        assert_eq!(app.layer_count(), 3);
        cmd(&mut app, C::Down);
        assert_eq!((app.layer, app.tree.to()), (1, 1));
        // The filter, a collapsed directory and the cursor on a file of layer 1.
        cmd(&mut app, C::Filter);
        for c in "srv".chars() {
            app.update(Action::Char(c));
        }
        app.update(Action::Submit);
        let rows = |app: &App| -> Vec<String> {
            app.tree
                .visible()
                .iter()
                .map(|r| {
                    let row = app.tree.rows()[*r as usize];
                    row.tree_node()
                        .map(|node| app.analysis.tree.display_path(node))
                        .unwrap_or_default()
                })
                .collect()
        };
        assert_eq!(app.focus, Pane::Tree);
        let at = rows(&app)
            .iter()
            .position(|p| p == "/srv/app/big.bin")
            .unwrap();
        app.tree.move_to(at);
        let home = rows(&app).iter().position(|p| p == "/srv/app").unwrap();
        assert!(app.tree.set_collapsed(home, true));
        app.tree.move_to(home);
        let before = rows(&app);
        cmd(&mut app, C::Wasted);
        // Layer 2 still loading: selecting it keeps the tree, and the tree pane says so.
        let carried = app.carry();
        let full = fixture::analysis(&image);
        let mut app = App::new(&image, &full, false, Rect::new(0, 0, 120, 40));
        app.restore(carried);
        assert_eq!((app.layer, app.focus, app.tree.to()), (1, Pane::Tree, 1));
        assert_eq!(app.filter_text, "srv");
        assert_eq!(rows(&app), before);
        assert_eq!(
            app.tree.selected_node().map(|n| full.tree.display_path(n)),
            Some("/srv/app".to_string())
        );
        assert!(matches!(app.overlay, Some(Overlay::Wasted(_))));
    }

    #[test]
    fn a_layer_still_loading_can_be_selected_and_explored_once_it_arrives() {
        let image = fixture::image();
        let (prefix, _) = prefix_after(&image, &[0, 1]);
        let model = Partial::new(prefix.image.clone(), prefix.builder.snapshot());
        let mut app = partial_app(&model, &image);
        cmd(&mut app, C::Last);
        assert_eq!(app.layer, 2);
        assert!(!app.explorable());
        assert_eq!(app.tree.to(), 0, "the tree keeps the last explorable range");
        cmd(&mut app, C::SwitchPane);
        cmd(&mut app, C::SwitchPane);
        assert_eq!(app.focus, Pane::Tree);
        cmd(&mut app, C::Down);
        assert_eq!(app.status.as_deref(), Some("layer 2 is still loading"));
        // The next model holds layer 2: the tree follows the selection.
        let carried = app.carry();
        let (prefix, _) = prefix_after(&image, &[0, 1, 2]);
        let model = Partial::new(prefix.image.clone(), prefix.builder.snapshot());
        let mut app = partial_app(&model, &image);
        app.restore(carried);
        assert!(app.explorable());
        assert_eq!((app.layer, app.tree.to()), (2, 2));
    }

    #[test]
    fn the_partial_explorer_shows_progress_for_layers_still_loading() {
        let image = fixture::image();
        let (prefix, _) = prefix_after(&image, &[0, 1]);
        let model = Partial::new(prefix.image.clone(), prefix.builder.snapshot());
        let mut app = partial_app(&model, &image);
        cmd(&mut app, C::Last);
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal.draw(|f| crate::tui::view::draw(f, &app)).unwrap();
        insta::assert_snapshot!(terminal.backend());
    }
}
