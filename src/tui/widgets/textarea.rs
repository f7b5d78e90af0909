//! A multi-line text area: arrows, Home/End, PgUp/PgDn, Enter for a new line, Backspace/Delete,
//! paste. Lines are not wrapped: the view scrolls sideways to the cursor and draws only the rows and
//! columns on show, so a 1 MB text edits and draws as fast as a short one. What is drawn goes
//! through `sanitize::inert`; a paste with control characters (other than new lines and tabs) is
//! refused whole.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{shown_width, shown_width_str};
use crate::tui::sanitize::inert;
use crate::tui::theme::Theme;

#[derive(Clone)]
pub struct TextArea {
    pub label: &'static str,
    lines: Vec<String>,
    /// The cursor: a line, and a character (not byte) index in it.
    row: usize,
    col: usize,
    /// The first row and the first character column on show.
    top: usize,
    left: usize,
    /// Bytes of the whole text (lines joined with `\n`), against `max_bytes`.
    bytes: usize,
    max_bytes: usize,
    edited: bool,
}

/// A record's description is not for logs: `Debug` gives its size and the cursor only.
impl std::fmt::Debug for TextArea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextArea")
            .field("label", &self.label)
            .field("lines", &self.lines.len())
            .field("bytes", &self.bytes)
            .field("cursor", &(self.row, self.col))
            .field("edited", &self.edited)
            .finish_non_exhaustive()
    }
}

fn byte_at(line: &str, col: usize) -> usize {
    line.char_indices()
        .nth(col)
        .map(|(i, _)| i)
        .unwrap_or(line.len())
}

fn char_len(line: &str) -> usize {
    line.chars().count()
}

impl TextArea {
    pub fn new(label: &'static str, max_bytes: usize) -> TextArea {
        TextArea {
            label,
            lines: vec![String::new()],
            row: 0,
            col: 0,
            top: 0,
            left: 0,
            bytes: 0,
            max_bytes,
            edited: false,
        }
    }

    /// Starts with `text` (as stored: it may hold anything; it is drawn inert).
    pub fn with_text(mut self, text: &str) -> TextArea {
        self.lines = text.split('\n').map(str::to_string).collect();
        self.bytes = text.len();
        self
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Whether anything was typed, deleted or pasted since it was made.
    pub fn edited(&self) -> bool {
        self.edited
    }

    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    fn line_len(&self) -> usize {
        char_len(&self.lines[self.row])
    }

    fn too_big(&self, adding: usize) -> Result<(), String> {
        if self.bytes + adding > self.max_bytes {
            return Err(format!(
                "The {} takes at most {} KiB; that would not fit.",
                self.label.to_lowercase(),
                self.max_bytes / 1024
            ));
        }
        Ok(())
    }

    fn insert_str(&mut self, text: &str) {
        let line = &mut self.lines[self.row];
        let at = byte_at(line, self.col);
        let tail = line.split_off(at);
        let mut parts = text.split('\n');
        let first = parts.next().unwrap_or("");
        line.push_str(first);
        let mut added: Vec<String> = parts.map(str::to_string).collect();
        if added.is_empty() {
            self.col += char_len(first);
            line.push_str(&tail);
        } else {
            let last = added.len() - 1;
            self.col = char_len(&added[last]);
            added[last].push_str(&tail);
            let at = self.row + 1;
            self.row += added.len();
            self.lines.splice(at..at, added);
        }
        self.bytes += text.len();
        self.edited = true;
    }

    /// Edits with a key; `page` is how many rows PgUp/PgDn move. A refused key leaves a sentence.
    pub fn key(&mut self, key: KeyEvent, page: usize) -> Result<(), String> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                if c.is_control() {
                    return Err(format!(
                        "The {} does not take control characters.",
                        self.label.to_lowercase()
                    ));
                }
                self.too_big(c.len_utf8())?;
                self.insert_str(c.encode_utf8(&mut [0u8; 4]));
            }
            KeyCode::Enter => {
                self.too_big(1)?;
                self.insert_str("\n");
            }
            KeyCode::Backspace => {
                if self.col > 0 {
                    let line = &mut self.lines[self.row];
                    let at = byte_at(line, self.col - 1);
                    let gone = line.remove(at);
                    self.bytes -= gone.len_utf8();
                    self.col -= 1;
                    self.edited = true;
                } else if self.row > 0 {
                    let line = self.lines.remove(self.row);
                    self.row -= 1;
                    self.col = self.line_len();
                    self.lines[self.row].push_str(&line);
                    self.bytes -= 1;
                    self.edited = true;
                }
            }
            KeyCode::Delete => {
                if self.col < self.line_len() {
                    let line = &mut self.lines[self.row];
                    let at = byte_at(line, self.col);
                    let gone = line.remove(at);
                    self.bytes -= gone.len_utf8();
                    self.edited = true;
                } else if self.row + 1 < self.lines.len() {
                    let next = self.lines.remove(self.row + 1);
                    self.lines[self.row].push_str(&next);
                    self.bytes -= 1;
                    self.edited = true;
                }
            }
            KeyCode::Left => {
                if self.col > 0 {
                    self.col -= 1;
                } else if self.row > 0 {
                    self.row -= 1;
                    self.col = self.line_len();
                }
            }
            KeyCode::Right => {
                if self.col < self.line_len() {
                    self.col += 1;
                } else if self.row + 1 < self.lines.len() {
                    self.row += 1;
                    self.col = 0;
                }
            }
            KeyCode::Up => self.move_rows(-1),
            KeyCode::Down => self.move_rows(1),
            KeyCode::PageUp => self.move_rows(-(page.max(1) as isize)),
            KeyCode::PageDown => self.move_rows(page.max(1) as isize),
            KeyCode::Home if ctrl => (self.row, self.col) = (0, 0),
            KeyCode::End if ctrl => {
                self.row = self.lines.len() - 1;
                self.col = self.line_len();
            }
            KeyCode::Home => self.col = 0,
            KeyCode::End => self.col = self.line_len(),
            _ => {}
        }
        Ok(())
    }

    fn move_rows(&mut self, by: isize) {
        let last = self.lines.len() - 1;
        self.row = self.row.saturating_add_signed(by).min(last);
        self.col = self.col.min(self.line_len());
    }

    /// Inserts pasted text at the cursor, all or nothing. Line ends become new lines, tabs four spaces.
    pub fn paste(&mut self, text: &str) -> Result<(), String> {
        let text = text
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\t', "    ");
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(format!(
                "The {} does not take control characters; nothing was pasted.",
                self.label.to_lowercase()
            ));
        }
        self.too_big(text.len())?;
        self.insert_str(&text);
        Ok(())
    }

    /// Moves the window so the cursor is inside a `width`×`height` area.
    pub fn scroll_to_cursor(&mut self, width: usize, height: usize) {
        let height = height.max(1);
        if self.row < self.top {
            self.top = self.row;
        } else if self.row >= self.top + height {
            self.top = self.row + 1 - height;
        }
        if self.col < self.left {
            self.left = self.col;
            return;
        }
        // Keep a column for the cursor itself.
        let room = width.saturating_sub(1);
        let widths: Vec<usize> = self.lines[self.row]
            .chars()
            .skip(self.left)
            .take(self.col - self.left)
            .map(shown_width)
            .collect();
        let mut used: usize = widths.iter().sum();
        let mut i = 0;
        while used > room && i < widths.len() {
            used -= widths[i];
            i += 1;
        }
        self.left += i;
    }

    /// Draws the rows and columns on show; the focused area gets the terminal cursor.
    pub fn render(&self, f: &mut Frame, area: Rect, focused: bool, theme: &Theme) {
        let width = usize::from(area.width);
        let rows: Vec<Line> = self
            .lines
            .iter()
            .skip(self.top)
            .take(usize::from(area.height))
            .map(|line| {
                let mut used = 0;
                let mut rest = line.chars().skip(self.left);
                let mut shown = String::new();
                let mut more = false;
                for c in rest.by_ref() {
                    used += shown_width(c);
                    if used > width {
                        more = true;
                        break;
                    }
                    shown.push(c);
                }
                if !more {
                    return Line::styled(inert(&shown).into_owned(), theme.base);
                }
                // The line goes on past the edge: say so in the last column.
                let mut shown: String = inert(&shown).into_owned();
                while shown_width_str(&shown) + 1 > width && shown.pop().is_some() {}
                Line::from(vec![
                    Span::styled(shown, theme.base),
                    Span::styled("›", theme.muted),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(rows), area);
        if focused && self.row >= self.top {
            let x: usize = self.lines[self.row]
                .chars()
                .skip(self.left)
                .take(self.col.saturating_sub(self.left))
                .map(shown_width)
                .sum();
            let y = self.row - self.top;
            if y < usize::from(area.height) {
                f.set_cursor_position((
                    area.x + x.min(width.saturating_sub(1)) as u16,
                    area.y + y as u16,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(t: &mut TextArea, text: &str) {
        for c in text.chars() {
            let k = if c == '\n' {
                key(KeyCode::Enter)
            } else {
                key(KeyCode::Char(c))
            };
            t.key(k, 10).unwrap();
        }
    }

    #[test]
    fn typing_new_lines_and_deleting_across_them() {
        let mut t = TextArea::new("Description", 1024);
        typed(&mut t, "ab\ncd");
        assert_eq!(t.text(), "ab\ncd");
        assert_eq!(t.cursor(), (1, 2));
        t.key(key(KeyCode::Home), 10).unwrap();
        t.key(key(KeyCode::Backspace), 10).unwrap();
        assert_eq!(t.text(), "abcd");
        assert_eq!(t.cursor(), (0, 2));
        t.key(key(KeyCode::Delete), 10).unwrap();
        assert_eq!(t.text(), "abd");
        t.key(key(KeyCode::End), 10).unwrap();
        typed(&mut t, "漢");
        t.key(key(KeyCode::Left), 10).unwrap();
        t.key(key(KeyCode::Backspace), 10).unwrap();
        assert_eq!(t.text(), "ab漢");
        assert!(t.edited());
        assert_eq!(t.bytes, t.text().len());
    }

    #[test]
    fn paste_is_all_or_nothing_and_keeps_to_the_limit() {
        let mut t = TextArea::new("Description", 16).with_text("x");
        t.key(key(KeyCode::End), 10).unwrap();
        t.paste("1\r\n2\t3").unwrap();
        assert_eq!(t.text(), "x1\n2    3");
        assert_eq!(t.cursor(), (1, 6));
        assert!(
            t.paste("\u{1b}[2J")
                .unwrap_err()
                .contains("control characters")
        );
        assert!(t.paste(&"y".repeat(20)).unwrap_err().contains("at most"));
        assert_eq!(t.text(), "x1\n2    3");
        assert_eq!(t.bytes, t.text().len());
    }

    #[test]
    fn a_megabyte_edits_and_scrolls_without_rewrapping() {
        let big = "line of text\n".repeat(80_000);
        let mut t = TextArea::new("Description", 2 << 20).with_text(&big);
        t.key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL), 10)
            .unwrap();
        t.scroll_to_cursor(40, 10);
        assert_eq!(t.top, t.line_count() - 10);
        t.key(key(KeyCode::PageUp), 10).unwrap();
        typed(&mut t, "z");
        assert!(t.text().len() == big.len() + 1);
    }
}
