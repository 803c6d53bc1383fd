//! The explorer's text measured for the geometry (`layout::Measure`): the layer details and image summary are
//! as tall as the lines their drawing functions make at a width.

use super::{details, image};
use crate::tui::app::App;
use crate::tui::layout::{Measure, Pane};
use crate::tui::theme::Theme;

impl Measure for App<'_> {
    fn focus(&self) -> Pane {
        self.focus
    }

    fn details_height(&self, width: u16) -> u16 {
        let (_, essential) = details::lines(
            self,
            width.saturating_sub(2) as usize,
            Theme { color: false },
        );
        (essential as u16).saturating_add(2)
    }

    fn image_summary_height(&self, width: u16) -> u16 {
        image::summary(self, width as usize, Theme { color: false }).len() as u16
    }
}
