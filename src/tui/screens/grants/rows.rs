//! Laying a form out row by row.

use ratatui::layout::Rect;

/// Hands out the rows of an area from the top, keeping the last four for the note and the hint.
pub struct Rows {
    area: Rect,
    next: u16,
}

impl Rows {
    pub fn new(area: Rect) -> Rows {
        Rows { area, next: area.y }
    }

    /// Rows still free above the note and hint.
    pub fn left(&self) -> u16 {
        (self.area.y + self.area.height)
            .saturating_sub(4)
            .saturating_sub(self.next)
    }

    /// The next `n` rows (fewer, or none, when the area is full).
    pub fn take(&mut self, n: u16) -> Rect {
        let n = n.min(self.left());
        let r = Rect::new(self.area.x, self.next, self.area.width, n);
        self.next += n;
        r
    }

    /// The note (three rows: a refusal may name a grant in full) and the hint (one) at the bottom.
    pub fn bottom(&self) -> [Rect; 2] {
        let bottom = self.area.y + self.area.height;
        let x = self.area.x;
        let w = self.area.width;
        [
            Rect::new(x, bottom.saturating_sub(4), w, 3.min(self.area.height)),
            Rect::new(x, bottom.saturating_sub(1), w, 1.min(self.area.height)),
        ]
    }
}
