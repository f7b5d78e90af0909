//! A QR code drawn with half-block characters, two modules per text row, with a light border one
//! module wide so it scans on dark and light terminals alike. Light modules are drawn as full
//! blocks (`█`), dark ones as spaces: on a terminal with a dark background that is the printed look.

use qrcode::{Color, EcLevel, QrCode};

/// The rendered rows, or None when the data does not fit any QR version.
pub fn render(data: &str) -> Option<Vec<String>> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    // One light module of border on every side.
    let size = width + 2;
    let dark = |x: usize, y: usize| -> bool {
        if x == 0 || y == 0 || x > width || y > width {
            return false;
        }
        colors[(y - 1) * width + (x - 1)] == Color::Dark
    };
    let mut rows = Vec::with_capacity(size.div_ceil(2));
    for y in (0..size).step_by(2) {
        let row: String = (0..size)
            .map(|x| {
                let top_light = !dark(x, y);
                let bottom_light = y + 1 >= size || !dark(x, y + 1);
                match (top_light, bottom_light) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                }
            })
            .collect();
        rows.push(row);
    }
    Some(rows)
}

/// Reads the modules back out of rendered rows: true where a module is dark.
pub fn modules(rows: &[String]) -> Vec<Vec<bool>> {
    let mut grid = Vec::new();
    for row in rows {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in row.chars() {
            let (t, b) = match c {
                '█' => (false, false),
                '▀' => (false, true),
                '▄' => (true, false),
                _ => (true, true),
            };
            top.push(t);
            bottom.push(b);
        }
        grid.push(top);
        grid.push(bottom);
    }
    grid
}
