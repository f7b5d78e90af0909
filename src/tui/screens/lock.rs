//! The idle lock: everything hidden until the password is entered again; three wrong tries log out.

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::common;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::sanitize::inert;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

/// Wrong passwords allowed at the lock before the session ends.
pub const MAX_TRIES: u8 = 3;

#[derive(Debug)]
pub struct LockScreen {
    pub password: Field,
    pub wrong: u8,
    pub note: Option<Note>,
    pub waiting: Option<Ticket>,
    pub idle_minutes: u64,
}

pub enum Intent {
    Nothing,
    Unlock(Secret),
}

impl LockScreen {
    pub fn new(idle_minutes: u64) -> LockScreen {
        LockScreen {
            password: Field::new("Password", 128).masked(),
            wrong: 0,
            note: None,
            waiting: None,
            idle_minutes,
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting.is_some() {
            return Intent::Nothing;
        }
        let missing = "Enter your password to continue.";
        match common::field_key(&mut self.password, &mut self.note, key, command, missing) {
            Some(password) => Intent::Unlock(password),
            None => Intent::Nothing,
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.waiting.is_none() {
            self.note = self.password.paste(text).err().map(Note::Error);
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, who: &str, theme: &Theme, ticks: u64) {
        let [_, intro, _, field, hint, note] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(2),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Session locked", theme.title),
                Line::from(format!(
                    "Locked after {} minutes without activity, or by request. {} may continue with their password.",
                    self.idle_minutes,
                    inert(who)
                )),
            ])
            .wrap(ratatui::widgets::Wrap { trim: true }),
            intro,
        );
        self.password
            .render(f, field, self.waiting.is_none(), theme);
        let left = MAX_TRIES - self.wrong;
        let hint_text = format!("Enter: unlock   ({left} tries before logout)");
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Checking…",
            &hint_text,
            ticks,
            theme,
        );
        common::note(f, note, self.note.as_ref(), theme);
    }
}
