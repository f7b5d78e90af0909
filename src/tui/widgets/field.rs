//! A one-line text field over tui-input: a length limit, no control characters, optional masking.
//! Input that breaks a rule is refused whole with a sentence saying why; the value stays as it was.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;
use zeroize::Zeroize;

use crate::tui::sanitize::inert;
use crate::tui::secret::Secret;
use crate::tui::theme::Theme;

#[derive(Clone)]
pub struct Field {
    pub label: &'static str,
    input: Input,
    masked: bool,
    max_chars: usize,
}

/// What a field holds may be a password or a patient's details: `Debug` tells its length only.
impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("label", &self.label)
            .field("chars", &self.input.value().chars().count())
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

impl Field {
    pub fn new(label: &'static str, max_chars: usize) -> Field {
        Field {
            label,
            input: Input::default(),
            masked: false,
            max_chars,
        }
    }

    pub fn masked(mut self) -> Field {
        self.masked = true;
        self
    }

    pub fn with_value(mut self, value: &str) -> Field {
        self.input = Input::new(
            value
                .chars()
                .filter(|c| !c.is_control())
                .take(self.max_chars)
                .collect(),
        );
        self
    }

    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// Nothing entered. Spaces count as nothing except in a masked field: a password of spaces is
    /// still a password.
    pub fn is_blank(&self) -> bool {
        if self.masked {
            self.value().is_empty()
        } else {
            self.value().trim().is_empty()
        }
    }

    /// Empties the field, wiping what it held (passwords pass through here).
    pub fn clear(&mut self) {
        let mut old = std::mem::take(&mut self.input).value_and_reset();
        old.zeroize();
    }

    /// Takes the value out, leaving the field empty.
    pub fn take(&mut self) -> Secret {
        let value = Secret::new(self.input.value().to_string());
        self.clear();
        value
    }

    fn check_insert(&self, text: &str) -> Result<(), String> {
        if text.chars().any(char::is_control) {
            return Err(format!(
                "The {} field does not take control characters.",
                self.label.to_lowercase()
            ));
        }
        let total = self.input.value().chars().count() + text.chars().count();
        if total > self.max_chars {
            return Err(format!(
                "The {} field takes at most {} characters; {} would not fit.",
                self.label.to_lowercase(),
                self.max_chars,
                if text.chars().count() > 1 {
                    "that paste"
                } else {
                    "another one"
                }
            ));
        }
        Ok(())
    }

    /// Edits with a key (characters, Backspace, Delete, arrows, Home/End, Ctrl-W/U…).
    pub fn key(&mut self, key: KeyEvent) -> Result<(), String> {
        if let KeyCode::Char(c) = key.code
            && !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            self.check_insert(c.encode_utf8(&mut [0; 4]))?;
        }
        self.input.handle_event(&Event::Key(key));
        Ok(())
    }

    /// Inserts pasted text at the cursor, all or nothing.
    pub fn paste(&mut self, text: &str) -> Result<(), String> {
        let text = text.trim_end_matches(['\r', '\n']);
        self.check_insert(text)?;
        for c in text.chars() {
            self.input.handle(tui_input::InputRequest::InsertChar(c));
        }
        Ok(())
    }

    /// Draws `label: value` on one line; the focused field gets a marker and the terminal cursor.
    pub fn render(&self, f: &mut Frame, area: Rect, focused: bool, theme: &Theme) {
        let label = format!("{} {}: ", if focused { "▶" } else { " " }, self.label);
        let label_width = label.chars().count() as u16;
        let width = area.width.saturating_sub(label_width).max(1) as usize;
        let scroll = self.input.visual_scroll(width.saturating_sub(1));
        let shown: String = if self.masked {
            "•".repeat(self.input.value().chars().count())
        } else {
            inert(self.input.value()).into_owned()
        };
        let visible: String = shown.chars().skip(scroll).take(width).collect();
        let padding = " ".repeat(width.saturating_sub(unicode_width(&visible)));
        let line = Line::from(vec![
            Span::styled(label, if focused { theme.focus } else { theme.base }),
            Span::styled(format!("{visible}{padding}"), theme.field),
        ]);
        f.render_widget(Paragraph::new(line), area);
        if focused {
            let cursor = self.input.visual_cursor().saturating_sub(scroll) as u16;
            f.set_cursor_position((area.x + label_width + cursor.min(width as u16), area.y));
        }
    }
}

fn unicode_width(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(field: &mut Field, text: &str) -> Result<(), String> {
        for c in text.chars() {
            field.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))?;
        }
        Ok(())
    }

    #[test]
    fn limits_and_control_characters_are_refused_whole() {
        let mut f = Field::new("Email", 10);
        typed(&mut f, "abc").unwrap();
        let e = f.paste(&"x".repeat(10_240)).unwrap_err();
        assert_eq!(
            e,
            "The email field takes at most 10 characters; that paste would not fit."
        );
        assert_eq!(f.value(), "abc");
        assert!(
            f.paste("a\x1b[2Jb")
                .unwrap_err()
                .contains("control characters")
        );
        assert_eq!(f.value(), "abc");
        f.paste("漢字é\n").unwrap();
        assert_eq!(f.value(), "abc漢字é");
        typed(&mut f, "1234").unwrap();
        assert!(typed(&mut f, "5").is_err());
        f.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE))
            .unwrap();
        assert_eq!(f.value(), "abc漢字é123");
        assert_eq!(&*f.take(), "abc漢字é123");
        assert_eq!(f.value(), "");
    }
}
