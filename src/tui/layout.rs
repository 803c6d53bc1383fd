//! Where each pane sits for a terminal size: shared by drawing and by `update` (page sizes, mouse hits), so
//! both always agree. Wide: layers, layer details and image details on the left, the tree on the right. Below
//! 70 columns: layers (or image details, when focused) above the tree, the layer details between them while
//! the layers have the focus. The layer details are as tall as the selected instruction needs (within limits),
//! so it is never cut. Below 20x6: nothing but a notice.
//!
//! Geometry knows the content only through [`Measure`] (the views measure their text for it), so it sits
//! below both the app and the views.

use ratatui::layout::Rect;

/// The pane that has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Layers,
    Image,
    Tree,
}

/// What the geometry needs to know of the content: the focused pane and the heights of the texts that grow
/// with it. Implemented for `App` by the views that draw those texts (`view/measure.rs`).
pub trait Measure {
    fn focus(&self) -> Pane;
    /// Lines the layer details need at `width` columns (borders included) to show the selected instruction
    /// and its counts whole.
    fn details_height(&self, width: u16) -> u16;
    /// Lines of the image details above its list at `width` columns inside the borders.
    fn image_summary_height(&self, width: u16) -> u16;
}

/// Smallest heights (borders included) the panes keep while the layer details grow to show a long instruction.
const LAYERS_MIN: u16 = 5;
const IMAGE_MIN: u16 = 4;
const TREE_MIN: u16 = 5;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub layers: Rect,
    pub details: Rect,
    pub image: Rect,
    pub tree: Rect,
    pub footer: Rect,
    pub overlay: Rect,
    /// Lines of the image details pane above its list (figures, list title); they depend on the width.
    pub image_summary: u16,
    pub too_small: bool,
}

impl Areas {
    pub fn of(size: Rect, app: &impl Measure) -> Areas {
        if size.width < 20 || size.height < 6 {
            return Areas {
                too_small: true,
                ..Areas::default()
            };
        }
        let main = Rect::new(size.x, size.y, size.width, size.height - 1);
        let footer = Rect::new(size.x, size.y + size.height - 1, size.width, 1);
        let overlay = centered(main, 92, 90);
        let mut areas = if size.width < 70 {
            Areas::stacked(main, app)
        } else {
            Areas::side_by_side(main, app)
        };
        areas.footer = footer;
        areas.overlay = overlay;
        if !areas.image.is_empty() {
            areas.image_summary = app.image_summary_height(areas.image.width.saturating_sub(2));
        }
        areas
    }

    /// Below 70 columns: layers (or image details, when focused) above the tree; while the layers pane has the
    /// focus, the selected layer's details between them, as tall as its instruction needs.
    fn stacked(main: Rect, app: &impl Measure) -> Areas {
        let top_h = (main.height * 2 / 5).max(3);
        let top = Rect::new(main.x, main.y, main.width, top_h);
        let room = main.height.saturating_sub(top_h + TREE_MIN);
        let details_h = match app.focus() {
            Pane::Layers => app.details_height(main.width).min(room),
            _ => 0,
        };
        let details_h = if details_h < 3 { 0 } else { details_h };
        let details = Rect::new(main.x, main.y + top_h, main.width, details_h);
        let tree_y = main.y + top_h + details_h;
        let tree = Rect::new(main.x, tree_y, main.width, main.height - top_h - details_h);
        let (layers, image) = match app.focus() {
            Pane::Image => (Rect::default(), top),
            _ => (top, Rect::default()),
        };
        Areas {
            layers,
            details,
            image,
            tree,
            ..Areas::default()
        }
    }

    /// Layers, layer details and image details on the left, the tree on the right. The details grow (taking
    /// from the image pane, then from the layers) until the selected layer's instruction fits.
    fn side_by_side(main: Rect, app: &impl Measure) -> Areas {
        let left_w = (main.width * 45 / 100).clamp(30, 80);
        let h = main.height;
        let layers_default = (h * 45 / 100).max(4);
        let details_default = (h * 28 / 100).max(3).min(h - layers_default);
        let image_default = h - layers_default - details_default;
        let grow = app.details_height(left_w).saturating_sub(details_default);
        let from_image = grow.min(image_default.saturating_sub(IMAGE_MIN));
        let from_layers = (grow - from_image).min(layers_default.saturating_sub(LAYERS_MIN));
        let layers_h = layers_default - from_layers;
        let details_h = details_default + from_image + from_layers;
        let image_h = h - layers_h - details_h;
        let x = main.x;
        let mut y = main.y;
        let mut take = |height: u16| {
            let r = Rect::new(x, y, left_w, height);
            y += height;
            r
        };
        Areas {
            layers: take(layers_h),
            details: take(details_h),
            image: take(image_h),
            tree: Rect::new(x + left_w, main.y, main.width - left_w, h),
            ..Areas::default()
        }
    }

    /// Rows of files the tree pane shows (inside its border, below the column header).
    pub fn tree_rows(&self) -> usize {
        self.tree.height.saturating_sub(3) as usize
    }

    /// The tree row under screen line `y`, if any.
    pub fn tree_row_at(&self, y: u16) -> Option<usize> {
        let first = self.tree.y + 2;
        (y >= first && y < self.tree.y + self.tree.height.saturating_sub(1))
            .then(|| (y - first) as usize)
    }

    /// Rows of the wasted-files / secrets list inside the image details pane.
    pub fn image_list_rows(&self) -> usize {
        self.image
            .height
            .saturating_sub(2 + self.image_summary)
            .max(1) as usize
    }

    pub fn image_row_at(&self, y: u16) -> Option<usize> {
        let first = self.image.y + 1 + self.image_summary;
        (y >= first && y < self.image.y + self.image.height.saturating_sub(1))
            .then(|| (y - first) as usize)
    }

    /// Rows inside an overlay (below its border and title line).
    pub fn overlay_rows(&self) -> usize {
        self.overlay.height.saturating_sub(3).max(1) as usize
    }
}

fn centered(area: Rect, width_pct: u16, height_pct: u16) -> Rect {
    let w = (area.width as u32 * width_pct as u32 / 100) as u16;
    let h = (area.height as u32 * height_pct as u32 / 100) as u16;
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
