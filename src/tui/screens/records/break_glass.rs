//! Break-glass: a clinician opens a patient's records without a grant, in an emergency. First a
//! question whose answer starts on No — Enter alone cancels — warning that the access is tracked,
//! reviewed and lasts one hour; on Yes, the reason (at least ten characters) and the password again.
//! The password is wiped as soon as it is handed over, or when the page closes.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{Cx, Look, Nav};
use crate::services::records::{Access, EMERGENCY_ACCESS_HOURS, MIN_EMERGENCY_REASON, Person};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::modal;
use crate::tui::widgets::text::clip;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The warning; `yes` is whether Yes has the focus (it starts on No).
    Confirm {
        yes: bool,
    },
    Details,
}

pub struct BreakGlass {
    pub patient: Person,
    pub step: Step,
    pub reason: Field,
    pub password: Field,
    pub focus: usize,
    waiting: Option<Ticket>,
    pub note: Option<Note>,
}

/// The patient's name, the reason and the password stay out of `Debug` (the fields print their
/// lengths only).
impl std::fmt::Debug for BreakGlass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakGlass")
            .field("patient", &self.patient.id)
            .field("step", &self.step)
            .field("reason", &self.reason)
            .field("password", &self.password)
            .field("focus", &self.focus)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl Drop for BreakGlass {
    fn drop(&mut self) {
        self.password.clear();
    }
}

impl BreakGlass {
    pub fn new(patient: Person) -> BreakGlass {
        BreakGlass {
            patient,
            step: Step::Confirm { yes: false },
            reason: Field::new("Reason", 500),
            password: Field::new("Your password", 128).masked(),
            focus: 0,
            waiting: None,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.step == Step::Details
    }

    pub fn busy(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.waiting == Some(ticket)
    }

    pub fn title(&self) -> &'static str {
        "Emergency access"
    }

    pub fn commands(&self) -> &'static [Command] {
        match self.step {
            Step::Confirm { .. } => &[Command::NextField, Command::Submit, Command::Back],
            Step::Details => &[
                Command::NextField,
                Command::PrevField,
                Command::Submit,
                Command::Back,
            ],
        }
    }

    pub fn paste(&mut self, text: &str, _cx: &mut Cx) {
        if self.step != Step::Details || self.waiting.is_some() {
            return;
        }
        let field = if self.focus == 0 {
            &mut self.reason
        } else {
            &mut self.password
        };
        self.note = field.paste(text).err().map(Note::Error);
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        _access: Access,
        cx: &mut Cx,
    ) -> Nav {
        if self.waiting.is_some() {
            return Nav::Stay;
        }
        match self.step {
            Step::Confirm { yes } => {
                let toggle = matches!(
                    command,
                    Some(Command::NextField | Command::PrevField | Command::Up | Command::Down)
                ) || matches!(key.code, KeyCode::Left | KeyCode::Right);
                if toggle {
                    self.step = Step::Confirm { yes: !yes };
                } else if command == Some(Command::Back)
                    || (command == Some(Command::Submit) && !yes)
                {
                    return Nav::Back;
                } else if command == Some(Command::Submit) {
                    self.step = Step::Details;
                }
                Nav::Stay
            }
            Step::Details => match command {
                Some(Command::Back) => {
                    self.password.clear();
                    Nav::Back
                }
                Some(Command::NextField | Command::PrevField | Command::Up | Command::Down) => {
                    self.focus = 1 - self.focus;
                    Nav::Stay
                }
                Some(Command::Submit) if self.focus == 0 => {
                    self.focus = 1;
                    Nav::Stay
                }
                Some(Command::Submit) => self.submit(cx),
                _ => {
                    let field = if self.focus == 0 {
                        &mut self.reason
                    } else {
                        &mut self.password
                    };
                    self.note = field.key(key).err().map(Note::Error);
                    Nav::Stay
                }
            },
        }
    }

    fn submit(&mut self, cx: &mut Cx) -> Nav {
        let reason = self.reason.value().trim().to_string();
        if reason.chars().count() < MIN_EMERGENCY_REASON {
            self.focus = 0;
            self.note = Some(Note::Error(format!(
                "Give the emergency reason in at least {MIN_EMERGENCY_REASON} characters."
            )));
            return Nav::Stay;
        }
        if self.password.value().is_empty() {
            self.note = Some(Note::Error("Enter your password to confirm.".into()));
            return Nav::Stay;
        }
        self.note = None;
        self.waiting = Some(cx.work(RecordWork::BreakGlass {
            patient: self.patient.id,
            reason,
            password: self.password.take(),
        }));
        Nav::Stay
    }

    pub fn done(&mut self, _ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        self.waiting = None;
        if let RecordResult::Emergency(result) = result {
            match result {
                Ok(grant) => {
                    cx.heard();
                    return Nav::Emergency(grant);
                }
                Err(e) => {
                    self.focus = 1;
                    self.note = Some(Note::Error(cx.sentence(&e)));
                }
            }
        }
        Nav::Stay
    }

    /// Drawn over the browser.
    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let name = clip(&self.patient.name, 40);
        match self.step {
            Step::Confirm { yes } => modal::ask(
                f,
                area,
                "Emergency access (break-glass)",
                vec![
                    Line::styled(
                        format!("Open {name}'s records without a grant?"),
                        theme.title,
                    ),
                    Line::from(format!(
                        "This access is tracked and reviewed by the records office, and it lasts {EMERGENCY_ACCESS_HOURS} hour. \
                         Use it only when a patient's care cannot wait."
                    )),
                ],
                ("No, cancel", "Yes, continue"),
                yes,
                theme,
            ),
            Step::Details => {
                let r = modal::centered(area, 72, 11);
                f.render_widget(Clear, r);
                let block = Block::default()
                    .borders(Borders::ALL)
                    .title(" Emergency access (break-glass) ")
                    .style(theme.base);
                let inner = block.inner(r);
                f.render_widget(block, r);
                let [intro, reason, password, note, hint] = Layout::vertical([
                    Constraint::Length(3),
                    Constraint::Length(1),
                    Constraint::Length(1),
                    Constraint::Length(3),
                    Constraint::Length(1),
                ])
                .areas(inner);
                f.render_widget(
                    Paragraph::new(format!(
                        "Access to {name}'s records for {EMERGENCY_ACCESS_HOURS} hour. Say why (at least \
                         {MIN_EMERGENCY_REASON} characters) and confirm with your password."
                    ))
                    .wrap(Wrap { trim: true }),
                    intro,
                );
                let editing = self.waiting.is_none();
                self.reason
                    .render(f, reason, editing && self.focus == 0, theme);
                self.password
                    .render(f, password, editing && self.focus == 1, theme);
                common::note(f, note, self.note.as_ref(), theme);
                if self.waiting.is_some() {
                    common::busy(f, hint, "Opening emergency access…", look.ticks, theme);
                } else {
                    look.hint_line(
                        f,
                        hint,
                        &look.hints(&[
                            (Command::NextField, "next field"),
                            (Command::Submit, "open access"),
                            (Command::Back, "cancel"),
                        ]),
                    );
                }
            }
        }
    }
}
