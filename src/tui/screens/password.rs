//! "Choose a new password": the current password, the new one, and the new one again — masked like
//! the login's. After sign-in with a temporary password (or one an admin flagged) it comes before
//! any tab and Esc logs out; from the Account screen it is a choice and Esc goes back. Two new
//! passwords that differ are caught here; everything else (the current one wrong, the new one weak
//! or unchanged) is the service's one sentence.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::common;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::secret::Secret;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

#[derive(Debug)]
pub struct PasswordChange {
    /// Required before anything else (true), or chosen from the Account screen.
    pub forced: bool,
    pub current: Field,
    pub new: Field,
    pub repeat: Field,
    pub focus: usize,
    pub note: Option<Note>,
    pub waiting: Option<Ticket>,
}

/// What a key on the screen asks for.
pub enum Intent {
    Nothing,
    /// Esc: log out (forced) or back to the account.
    Leave,
    Change {
        current: Secret,
        new: Secret,
    },
}

impl PasswordChange {
    pub fn new(forced: bool) -> PasswordChange {
        PasswordChange {
            forced,
            current: Field::new("Current password", 128).masked(),
            new: Field::new("New password", 128).masked(),
            repeat: Field::new("New password again", 128).masked(),
            focus: 0,
            note: None,
            waiting: None,
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        &[
            Command::NextField,
            Command::PrevField,
            Command::Submit,
            Command::Back,
        ]
    }

    fn focused(&mut self) -> &mut Field {
        match self.focus {
            0 => &mut self.current,
            1 => &mut self.new,
            _ => &mut self.repeat,
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting.is_some() {
            return Intent::Nothing;
        }
        match command {
            Some(Command::Back) => Intent::Leave,
            Some(Command::NextField | Command::Down) => {
                self.focus = (self.focus + 1) % 3;
                Intent::Nothing
            }
            Some(Command::PrevField | Command::Up) => {
                self.focus = (self.focus + 2) % 3;
                Intent::Nothing
            }
            Some(Command::Submit) => self.submit(),
            _ => {
                let result = self.focused().key(key);
                self.note = result.err().map(Note::Error);
                Intent::Nothing
            }
        }
    }

    /// Enter moves on through the fields; on the last one (or with all three filled) it asks for the change.
    fn submit(&mut self) -> Intent {
        let blank = [&self.current, &self.new, &self.repeat]
            .iter()
            .position(|f| f.is_blank());
        match blank {
            Some(at) if at > self.focus => {
                self.focus = at;
                return Intent::Nothing;
            }
            Some(at) => {
                self.focus = at;
                self.note = Some(Note::Error(
                    match at {
                        0 => "Enter your current password.",
                        1 => "Enter the new password.",
                        _ => "Enter the new password a second time.",
                    }
                    .into(),
                ));
                return Intent::Nothing;
            }
            None => {}
        }
        if self.new.value() != self.repeat.value() {
            self.repeat.clear();
            self.focus = 2;
            self.note = Some(Note::Error(
                "The two new passwords are not the same; type the new one again.".into(),
            ));
            return Intent::Nothing;
        }
        self.note = None;
        self.repeat.clear();
        Intent::Change {
            current: self.current.take(),
            new: self.new.take(),
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.waiting.is_none() {
            let result = self.focused().paste(text);
            self.note = result.err().map(Note::Error);
        }
    }

    /// The change was refused: the fields start again from the current password.
    pub fn refused(&mut self, note: Note) {
        self.current.clear();
        self.new.clear();
        self.repeat.clear();
        self.focus = 0;
        self.note = Some(note);
    }

    pub fn view(&self, f: &mut Frame, area: Rect, theme: &Theme, ticks: u64) {
        let [_, intro, _, current, new, repeat, _, hint, note] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(2),
        ])
        .areas(area);
        let why = if self.forced {
            "Your password was set for you (a new account or a reset). Choose your own before you continue."
        } else {
            "Other sessions of yours end when the password changes."
        };
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Choose a new password", theme.title),
                Line::from(why),
            ])
            .wrap(Wrap { trim: true }),
            intro,
        );
        let live = self.waiting.is_none();
        self.current
            .render(f, current, live && self.focus == 0, theme);
        self.new.render(f, new, live && self.focus == 1, theme);
        self.repeat
            .render(f, repeat, live && self.focus == 2, theme);
        let hint_text = if self.forced {
            "Tab: next field   Enter: change the password   Esc: log out"
        } else {
            "Tab: next field   Enter: change the password   Esc: back"
        };
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Changing the password…",
            hint_text,
            ticks,
            theme,
        );
        common::note(f, note, self.note.as_ref(), theme);
    }
}
