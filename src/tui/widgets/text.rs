//! Measuring, wrapping and clipping text as it will be shown: after `sanitize::inert`, so a
//! control character is measured as its visible mark. Everything here works on a slice at a time,
//! so a caller can wrap only the rows it is about to draw.

use ratatui::text::Span;

use crate::tui::sanitize::{inert, needs_escape};

/// Columns `c` takes once made inert: a control picture for C0/DEL, `<U+XXXX>` for C1 and BIDI
/// controls, else its terminal width.
pub fn shown_width(c: char) -> usize {
    match c {
        ' '..='~' => 1,
        '\u{0}'..='\u{1F}' | '\u{7F}' => 1,
        c if needs_escape(c) => format!("<U+{:04X}>", c as u32).len(),
        c => {
            let mut buf = [0u8; 4];
            Span::raw(&*c.encode_utf8(&mut buf)).width()
        }
    }
}

/// Columns `s` takes once made inert.
pub fn shown_width_str(s: &str) -> usize {
    s.chars().map(shown_width).sum()
}

/// Where the row that starts at byte `start` of `s` ends (exclusive) when rows are `width` columns:
/// after the last space that fits, or hard at the width when a word is longer than a row. A row
/// always takes at least one character.
pub fn row_end(s: &str, start: usize, width: usize) -> usize {
    let width = width.max(1);
    let mut used = 0;
    let mut last_space = None;
    for (i, c) in s[start..].char_indices() {
        let w = shown_width(c);
        if used + w > width && i > 0 {
            return start + last_space.unwrap_or(i);
        }
        used += w;
        if c == ' ' {
            last_space = Some(i + 1);
        }
    }
    s.len()
}

/// The byte offsets where each row of `s` starts at `width` (at least one row, `[0]`).
pub fn row_starts(s: &str, width: usize) -> Vec<usize> {
    let mut starts = vec![0];
    let mut start = 0;
    loop {
        let end = row_end(s, start, width);
        if end >= s.len() {
            return starts;
        }
        starts.push(end);
        start = end;
    }
}

/// `s` made inert and cut to `width` columns, with `…` when something was cut. Only the part that
/// can show is looked at, so a huge value costs no more than a short one.
pub fn clip(s: &str, width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    // How much of `out` still leaves a column for the ellipsis.
    let mut room = 0;
    for c in s.chars() {
        let w = shown_width(c);
        if used + w > width {
            out.truncate(room);
            out.push('…');
            return out;
        }
        used += w;
        out.push_str(&inert(c.encode_utf8(&mut [0u8; 4])));
        if used < width {
            room = out.len();
        }
    }
    out
}

/// `s` made inert and padded with spaces (or clipped) to exactly `width` columns.
pub fn fit(s: &str, width: usize) -> String {
    let mut out = clip(s, width);
    let used = shown_width_str(&out);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_inert_form() {
        assert_eq!(shown_width('a'), 1);
        assert_eq!(shown_width('\u{1b}'), 1);
        assert_eq!(shown_width('\u{9b}'), 8);
        assert_eq!(shown_width('\u{202e}'), 8);
        assert_eq!(shown_width('漢'), 2);
        assert_eq!(
            shown_width_str(&inert("a\u{9b}b")),
            shown_width_str("a\u{9b}b")
        );
    }

    #[test]
    fn rows_break_after_spaces_or_hard_at_the_width() {
        let s = "one two three";
        assert_eq!(row_starts(s, 8), [0, 8]);
        assert_eq!(&s[..row_end(s, 0, 8)], "one two ");
        let long = "x".repeat(25);
        assert_eq!(row_starts(&long, 10), [0, 10, 20]);
        assert_eq!(row_starts("", 10), [0]);
        // A wide character never splits, and a row always makes progress.
        assert_eq!(row_starts("漢漢漢", 3), [0, 3, 6]);
        assert_eq!(row_starts("漢", 1), [0]);
    }

    #[test]
    fn clipping_is_inert_and_marks_the_cut() {
        assert_eq!(clip("Alice Anderson", 20), "Alice Anderson");
        assert_eq!(clip("Alice Anderson", 6), "Alice…");
        assert_eq!(clip("\u{1b}]0;x\u{7}", 10), "␛]0;x␇");
        assert_eq!(fit("ab", 4), "ab  ");
        assert!(shown_width_str(&clip("a\u{202e}bcdefgh", 6)) <= 6);
    }
}
