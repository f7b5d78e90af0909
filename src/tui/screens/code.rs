//! The second-factor prompt: a 6-digit code from the authenticator app, or a backup code.

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::common;
use crate::services::auth::PendingLogin;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::sanitize::inert;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

#[derive(Debug)]
pub struct Code {
    pub pending: PendingLogin,
    pub code: Field,
    pub note: Option<Note>,
    pub waiting: Option<Ticket>,
}

pub enum Intent {
    Nothing,
    Cancel,
    Submit(Secret),
}

impl Code {
    pub fn new(pending: PendingLogin) -> Code {
        Code {
            pending,
            // A backup code with its dashes is 19 characters; allow some spaces.
            code: Field::new("Code", 24),
            note: None,
            waiting: None,
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting.is_some() {
            return Intent::Nothing;
        }
        if command == Some(Command::Back) {
            return Intent::Cancel;
        }
        let missing = "Enter the code your authenticator app shows, or a backup code.";
        match common::field_key(&mut self.code, &mut self.note, key, command, missing) {
            Some(code) => Intent::Submit(code),
            None => Intent::Nothing,
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.waiting.is_none() {
            self.note = self.code.paste(text).err().map(Note::Error);
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, theme: &Theme, ticks: u64) {
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
                Line::styled(format!("Signing in as {}", inert(&self.pending.user.email)), theme.title),
                Line::from("Enter the 6-digit code from your authenticator app, or one of your backup codes."),
            ])
            .wrap(Wrap { trim: true }),
            intro,
        );
        self.code.render(f, field, self.waiting.is_none(), theme);
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Checking the code…",
            "Enter: continue   Esc: start over",
            ticks,
            theme,
        );
        common::note(f, note, self.note.as_ref(), theme);
    }
}
