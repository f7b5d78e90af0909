//! The login screen: email, then password (masked), Enter.

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::common;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

#[derive(Debug)]
pub struct Login {
    pub email: Field,
    pub password: Field,
    pub focus: usize,
    pub note: Option<Note>,
    pub waiting: Option<Ticket>,
}

/// What a key on the login screen asks for.
pub enum Intent {
    Nothing,
    SignIn { email: String, password: Secret },
}

impl Login {
    pub fn new(note: Option<Note>) -> Login {
        Login {
            email: Field::new("Email", 254),
            password: Field::new("Password", 128).masked(),
            focus: 0,
            note,
            waiting: None,
        }
    }

    fn focused(&mut self) -> &mut Field {
        if self.focus == 0 {
            &mut self.email
        } else {
            &mut self.password
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting.is_some() {
            return Intent::Nothing;
        }
        match command {
            Some(Command::NextField | Command::Down | Command::PrevField | Command::Up) => {
                self.focus = 1 - self.focus;
                Intent::Nothing
            }
            Some(Command::Submit) => {
                if self.email.value().trim().is_empty() {
                    self.focus = 0;
                    self.note = Some(Note::Error("Enter your email address.".into()));
                    Intent::Nothing
                } else if self.focus == 0 {
                    // Enter in the email field moves on, as people expect of a two-field form.
                    self.focus = 1;
                    Intent::Nothing
                } else if self.password.value().is_empty() {
                    self.note = Some(Note::Error("Enter your password.".into()));
                    Intent::Nothing
                } else {
                    self.note = None;
                    Intent::SignIn {
                        email: self.email.value().trim().to_string(),
                        password: self.password.take(),
                    }
                }
            }
            _ => {
                let result = self.focused().key(key);
                self.note = result.err().map(Note::Error);
                Intent::Nothing
            }
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.waiting.is_none() {
            let result = self.focused().paste(text);
            self.note = result.err().map(Note::Error);
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, theme: &Theme, ticks: u64) {
        let [_, intro, _, email, password, _, hint, note] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(2),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Healthy Stellar Console", theme.title),
                Line::from("Sign in with your clinic email and password."),
            ]),
            intro,
        );
        self.email
            .render(f, email, self.focus == 0 && self.waiting.is_none(), theme);
        self.password.render(
            f,
            password,
            self.focus == 1 && self.waiting.is_none(),
            theme,
        );
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Signing in…",
            "Tab: next field   Enter: sign in",
            ticks,
            theme,
        );
        common::note(f, note, self.note.as_ref(), theme);
    }
}
