//! A read-only, scrollable document of wrapped lines: a record's metadata and description, a
//! comparison. The text is split into lines once, when it arrives; wrapping happens only for the
//! rows being drawn or stepped over, so a 1 MB description or a 5,000-character line costs no more
//! to draw than a short one. Every piece of text goes through `sanitize::inert` before it is drawn.

use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{fit, row_end, row_starts};
use crate::tui::sanitize::inert;
use crate::tui::theme::Theme;

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Heading,
    Muted,
    Removed,
    Added,
}

impl Kind {
    fn style(self, theme: &Theme) -> Style {
        match self {
            Kind::Plain => theme.base,
            Kind::Heading => theme.title,
            Kind::Muted => theme.muted,
            Kind::Removed => theme.removed,
            Kind::Added => theme.added,
        }
    }
}

#[derive(Clone)]
struct DocLine {
    /// Where the line's text is in `Document::text`.
    range: Range<usize>,
    /// Shown before the first row (already inert and exactly `indent` columns); later rows get spaces.
    prefix: String,
    indent: usize,
    kind: Kind,
    prefix_kind: Kind,
    /// The prefix is drawn on every row (a diff's sign), not only the first.
    repeat: bool,
}

/// The first row on show: a line, and where in it the row starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub start: usize,
}

#[derive(Clone, Default)]
pub struct Document {
    text: String,
    lines: Vec<DocLine>,
}

/// The text is a record's: `Debug` gives its size only.
impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("lines", &self.lines.len())
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl Document {
    pub fn new() -> Document {
        Document::default()
    }

    /// Adds `text` (split at newlines; a `\r` before a newline is part of the line break) in `kind`.
    pub fn push(&mut self, text: &str, kind: Kind) {
        self.push_with(text, kind, "", 0, kind);
    }

    /// Adds `text` with `prefix` before its first row, in a column `indent` wide (a key beside its value).
    pub fn push_with(
        &mut self,
        text: &str,
        kind: Kind,
        prefix: &str,
        indent: usize,
        prefix_kind: Kind,
    ) {
        self.push_lines(text, kind, prefix, indent, prefix_kind, false);
    }

    /// Adds `text` with `sign` before every row of it, so a wrapped diff line keeps its `-`/`+`.
    pub fn push_signed(&mut self, text: &str, kind: Kind, sign: &str) {
        let indent = sign.chars().count() + 1;
        self.push_lines(text, kind, sign, indent, kind, true);
    }

    fn push_lines(
        &mut self,
        text: &str,
        kind: Kind,
        prefix: &str,
        indent: usize,
        prefix_kind: Kind,
        repeat: bool,
    ) {
        // One column is kept free between a key and its value.
        let first_prefix = if indent == 0 {
            String::new()
        } else {
            format!("{} ", fit(prefix, indent - 1))
        };
        for (i, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let start = self.text.len();
            self.text.push_str(line);
            self.lines.push(DocLine {
                range: start..self.text.len(),
                prefix: if i == 0 || repeat {
                    first_prefix.clone()
                } else {
                    " ".repeat(indent)
                },
                indent,
                kind,
                prefix_kind,
                repeat,
            });
        }
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    fn line_text(&self, line: usize) -> &str {
        &self.text[self.lines[line].range.clone()]
    }

    fn text_width(&self, line: usize, width: usize) -> usize {
        width.saturating_sub(self.lines[line].indent).max(1)
    }

    fn starts(&self, line: usize, width: usize) -> Vec<usize> {
        row_starts(self.line_text(line), self.text_width(line, width))
    }

    fn next_row(&self, pos: Pos, width: usize) -> Option<Pos> {
        let text = self.line_text(pos.line);
        let end = row_end(text, pos.start, self.text_width(pos.line, width));
        if end < text.len() {
            Some(Pos {
                line: pos.line,
                start: end,
            })
        } else if pos.line + 1 < self.lines.len() {
            Some(Pos {
                line: pos.line + 1,
                start: 0,
            })
        } else {
            None
        }
    }

    /// The top row that puts the last row at the bottom of a `height`-row window.
    pub fn bottom(&self, width: usize, height: usize) -> Pos {
        let mut need = height.max(1);
        let mut line = self.lines.len();
        while line > 0 {
            line -= 1;
            let starts = self.starts(line, width);
            if starts.len() >= need {
                return Pos {
                    line,
                    start: starts[starts.len() - need],
                };
            }
            need -= starts.len();
        }
        Pos::default()
    }

    /// `n` rows further down, no further than `bottom`.
    pub fn down(&self, pos: Pos, width: usize, height: usize, n: usize) -> Pos {
        if self.lines.is_empty() {
            return Pos::default();
        }
        let bottom = self.bottom(width, height);
        let mut p = pos;
        for _ in 0..n {
            if p >= bottom {
                return bottom;
            }
            match self.next_row(p, width) {
                Some(q) => p = q,
                None => break,
            }
        }
        p.min(bottom)
    }

    /// `n` rows further up. Each line stepped through is wrapped once.
    pub fn up(&self, pos: Pos, width: usize, n: usize) -> Pos {
        if self.lines.is_empty() {
            return Pos::default();
        }
        let mut line = pos.line.min(self.lines.len() - 1);
        let mut starts = self.starts(line, width);
        let mut index = match starts.binary_search(&pos.start) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let mut left = n;
        while left > 0 {
            if index > 0 {
                let step = index.min(left);
                index -= step;
                left -= step;
            } else if line > 0 {
                line -= 1;
                starts = self.starts(line, width);
                index = starts.len() - 1;
                left -= 1;
            } else {
                break;
            }
        }
        Pos {
            line,
            start: starts[index],
        }
    }

    /// Draws the rows from `top` that fit `area`; nothing else is wrapped.
    pub fn render(&self, f: &mut Frame, area: Rect, top: Pos, theme: &Theme) {
        let width = usize::from(area.width);
        let mut rows: Vec<Line> = Vec::with_capacity(usize::from(area.height));
        let mut pos = Some(top).filter(|p| p.line < self.lines.len());
        while let Some(p) = pos {
            if rows.len() >= usize::from(area.height) {
                break;
            }
            let line = &self.lines[p.line];
            let text = self.line_text(p.line);
            let start = p.start.min(text.len());
            let end = row_end(text, start, self.text_width(p.line, width));
            let prefix = if start == 0 || line.repeat {
                line.prefix.clone()
            } else {
                " ".repeat(line.indent)
            };
            rows.push(Line::from(vec![
                Span::styled(prefix, line.prefix_kind.style(theme)),
                Span::styled(
                    inert(&text[start..end]).into_owned(),
                    line.kind.style(theme),
                ),
            ]));
            pos = self.next_row(
                Pos {
                    line: p.line,
                    start,
                },
                width,
            );
        }
        f.render_widget(Paragraph::new(rows), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_wraps_only_what_it_steps_over() {
        let mut d = Document::new();
        d.push("short", Kind::Plain);
        d.push(&"x".repeat(50), Kind::Plain);
        d.push("a\r\nb", Kind::Plain);
        assert_eq!(d.line_count(), 4);
        // 1 + 5 + 1 + 1 rows at width 10.
        let p = d.down(Pos::default(), 10, 3, 1);
        assert_eq!(p, Pos { line: 1, start: 0 });
        let p = d.down(p, 10, 3, 2);
        assert_eq!(p, Pos { line: 1, start: 20 });
        assert_eq!(d.bottom(10, 3), Pos { line: 1, start: 40 });
        assert_eq!(d.down(p, 10, 3, 100), d.bottom(10, 3));
        assert_eq!(d.up(d.bottom(10, 3), 10, 4), Pos { line: 1, start: 0 });
        assert_eq!(d.up(d.bottom(10, 3), 10, 5), Pos::default());
        assert_eq!(d.up(Pos { line: 1, start: 0 }, 10, 1), Pos::default());
        assert_eq!(d.up(Pos::default(), 10, 1), Pos::default());
    }

    #[test]
    fn a_prefix_sits_beside_the_first_row_only() {
        let mut d = Document::new();
        d.push_with("one two three four", Kind::Plain, "key", 6, Kind::Heading);
        assert_eq!(d.starts(0, 16), [0, 8]);
        assert_eq!(d.lines[0].prefix, "key   ");
    }
}
