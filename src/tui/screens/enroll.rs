//! Enrolling an authenticator: a QR code to scan, the secret as text and the otpauth URI for typing,
//! then a code that proves the app has it. Nothing is stored before that code is right.

use std::sync::Arc;

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::common;
use crate::services::auth::PendingLogin;
use crate::services::mfa::Enrollment;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::sanitize::inert;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::{field::Field, qr};

/// Why the enrollment happens.
#[derive(Debug)]
pub enum EnrollFor {
    /// The role requires MFA and this login has no device yet: nothing else before it.
    Login(PendingLogin),
    /// A logged-in user adds a device; the password (and a current code, when they already have a
    /// device) were asked first and travel with the new code.
    Account {
        password: Secret,
        current_code: Option<Secret>,
    },
}

/// The enrollment once its secret exists.
pub struct Ready {
    pub enrollment: Arc<Enrollment>,
    pub qr: Vec<String>,
    pub secret: Secret,
    pub uri: Secret,
}

/// The QR code is the secret drawn: `Debug` leaves it out.
impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ready")
            .field("enrollment", &self.enrollment)
            .field("qr_rows", &self.qr.len())
            .finish_non_exhaustive()
    }
}

impl Ready {
    pub fn new(enrollment: Enrollment) -> Result<Ready, String> {
        let uri = enrollment.uri().map_err(|e| e.to_string())?;
        let qr = qr::render(&uri).ok_or("the authenticator link is too long for a QR code")?;
        Ok(Ready {
            secret: Secret::from(enrollment.secret_text()),
            enrollment: Arc::new(enrollment),
            qr,
            uri: Secret::from(uri),
        })
    }
}

#[derive(Debug)]
pub struct Enroll {
    pub purpose: EnrollFor,
    pub ready: Option<Ready>,
    /// The ticket of the secret being prepared, then of the code being checked.
    pub waiting: Option<Ticket>,
    pub code: Field,
    pub note: Option<Note>,
    pub role_label: &'static str,
}

pub enum Intent {
    Nothing,
    Cancel,
    Confirm(Secret),
}

impl Enroll {
    pub fn new(purpose: EnrollFor, preparing: Ticket, role_label: &'static str) -> Enroll {
        Enroll {
            purpose,
            ready: None,
            waiting: Some(preparing),
            code: Field::new("Code", 8),
            note: None,
            role_label,
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        // While the code is being checked even Esc waits: the answer may carry a session or backup codes.
        let checking = self.waiting.is_some() && self.ready.is_some();
        match command {
            _ if checking => Intent::Nothing,
            Some(Command::Back) => Intent::Cancel,
            _ if self.waiting.is_some() || self.ready.is_none() => Intent::Nothing,
            _ => {
                let missing = "Enter the 6-digit code the app shows after scanning.";
                match common::field_key(&mut self.code, &mut self.note, key, command, missing) {
                    Some(code) => Intent::Confirm(code),
                    None => Intent::Nothing,
                }
            }
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.waiting.is_none() {
            self.note = self.code.paste(text).err().map(Note::Error);
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, theme: &Theme, ticks: u64) {
        let Some(ready) = &self.ready else {
            common::busy(
                f,
                area,
                "Preparing a new authenticator secret…",
                ticks,
                theme,
            );
            return;
        };
        let qr_width = ready.qr.first().map(|r| r.chars().count()).unwrap_or(0) as u16;
        let [qr_area, _, text_area] = Layout::horizontal([
            Constraint::Length(qr_width),
            Constraint::Length(2),
            Constraint::Min(20),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(
                ready
                    .qr
                    .iter()
                    .map(|r| Line::from(r.as_str()))
                    .collect::<Vec<_>>(),
            ),
            qr_area,
        );

        let why = match self.purpose {
            EnrollFor::Login(_) => {
                format!("{} accounts must use two-factor sign-in.", self.role_label)
            }
            EnrollFor::Account { .. } => "Add an authenticator to your account.".to_string(),
        };
        let [intro, secret, uri, field, hint, note] = Layout::vertical([
            Constraint::Length(6),
            Constraint::Length(3),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(3),
        ])
        .areas(text_area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(why, theme.title),
                Line::from("Scan the code with an authenticator app, or type the secret below. Then enter the code it shows."),
            ])
            .wrap(Wrap { trim: true }),
            intro,
        );
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Secret:", theme.muted),
                Line::from(ready.secret.as_str()),
            ])
            .wrap(Wrap { trim: false }),
            secret,
        );
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Link:", theme.muted),
                Line::from(inert(&ready.uri).into_owned()),
            ])
            .wrap(Wrap { trim: false }),
            uri,
        );
        self.code.render(f, field, self.waiting.is_none(), theme);
        common::hint_or_busy(
            f,
            hint,
            self.waiting.is_some(),
            "Checking the code…",
            "Enter: confirm   Esc: cancel",
            ticks,
            theme,
        );
        common::note(f, note, self.note.as_ref(), theme);
    }
}
