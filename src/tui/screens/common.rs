//! Pieces every form screen draws the same way.

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::keymap::Command;
use crate::tui::sanitize::inert;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

/// Braille spinner frames, advanced by the heartbeat.
const SPINNER: [char; 8] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧'];

pub fn spinner(ticks: u64) -> char {
    SPINNER[(ticks % SPINNER.len() as u64) as usize]
}

/// The note line: errors say so in words, not only in colour. Notes may quote names from the
/// database (a conflict names who saved first), so they are made inert too.
pub fn note(f: &mut Frame, area: Rect, note: Option<&Note>, theme: &Theme) {
    let line = match note {
        Some(Note::Error(text)) => Line::from(vec![
            Span::styled("Error: ", theme.error),
            Span::styled(inert(text).into_owned(), theme.error),
        ]),
        Some(Note::Info(text)) => Line::from(Span::styled(inert(text).into_owned(), theme.info)),
        None => Line::default(),
    };
    f.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
}

/// "⠋ Signing in…" while work is under way.
pub fn busy(f: &mut Frame, area: Rect, what: &str, ticks: u64, theme: &Theme) {
    f.render_widget(
        Paragraph::new(Span::styled(
            format!("{} {what}", spinner(ticks)),
            theme.muted,
        )),
        area,
    );
}

/// A one-field form's keys: Enter hands over the value (or says what is `missing`), any other key
/// edits the field. A refused edit leaves its sentence in `note`.
pub fn field_key(
    field: &mut Field,
    note: &mut Option<Note>,
    key: KeyEvent,
    command: Option<Command>,
    missing: &str,
) -> Option<Secret> {
    if command == Some(Command::Submit) {
        if field.is_blank() {
            *note = Some(Note::Error(missing.to_string()));
            return None;
        }
        *note = None;
        return Some(field.take());
    }
    *note = field.key(key).err().map(Note::Error);
    None
}

/// The line under a form: the spinner with `busy` while work is under way, else the key `hint`.
pub fn hint_or_busy(
    f: &mut Frame,
    area: Rect,
    waiting: bool,
    busy_text: &str,
    hint: &str,
    ticks: u64,
    theme: &Theme,
) {
    if waiting {
        busy(f, area, busy_text, ticks, theme);
    } else {
        f.render_widget(
            Paragraph::new(Line::styled(hint.to_string(), theme.muted)),
            area,
        );
    }
}
