//! Where each pane sits for a terminal size: shared by drawing and by `update` (page sizes, mouse hits), so
//! both always agree. Wide: layers, layer details and image details on the left, the tree on the right. Below
//! 70 columns: layers (or image details, when focused) above the tree. Below 20x6: nothing but a notice.

use ratatui::layout::Rect;

use super::app::{App, Pane};

/// Lines of the image details pane above its list (sizes, efficiency, ratio, list title).
pub const IMAGE_SUMMARY_LINES: u16 = 4;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Areas {
    pub layers: Rect,
    pub details: Rect,
    pub image: Rect,
    pub tree: Rect,
    pub footer: Rect,
    pub overlay: Rect,
    pub too_small: bool,
}

impl Areas {
    pub fn of(size: Rect, app: &App) -> Areas {
        if size.width < 20 || size.height < 6 {
            return Areas {
                too_small: true,
                ..Areas::default()
            };
        }
        let main = Rect::new(size.x, size.y, size.width, size.height - 1);
        let footer = Rect::new(size.x, size.y + size.height - 1, size.width, 1);
        let overlay = centered(main, 92, 90);
        if size.width < 70 {
            let top_h = (main.height * 2 / 5).max(3);
            let top = Rect::new(main.x, main.y, main.width, top_h);
            let tree = Rect::new(main.x, main.y + top_h, main.width, main.height - top_h);
            let (layers, image) = match app.focus {
                Pane::Image => (Rect::default(), top),
                _ => (top, Rect::default()),
            };
            return Areas {
                layers,
                details: Rect::default(),
                image,
                tree,
                footer,
                overlay,
                too_small: false,
            };
        }
        let left_w = (main.width * 45 / 100).clamp(30, 80);
        let h = main.height;
        let layers_h = (h * 45 / 100).max(4);
        let details_h = (h * 28 / 100).max(3).min(h - layers_h);
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
            footer,
            overlay,
            too_small: false,
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
            .saturating_sub(2 + IMAGE_SUMMARY_LINES)
            .max(1) as usize
    }

    pub fn image_row_at(&self, y: u16) -> Option<usize> {
        let first = self.image.y + 1 + IMAGE_SUMMARY_LINES;
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
