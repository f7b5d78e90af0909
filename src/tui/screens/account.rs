//! The account screen: who is signed in, the session, and the authenticator devices — list, add,
//! rename, remove (removal asks for the password and a current code).

use crate::tui::secret::Secret;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use uuid::Uuid;

use super::common;
use crate::services::mfa::Device;
use crate::services::sessions::Session;
use crate::tui::keymap::{Command, Keymap};
use crate::tui::msg::Ticket;
use crate::tui::sanitize::inert;
use crate::tui::state::Note;
use crate::tui::theme::Theme;
use crate::tui::widgets::field::Field;

#[derive(Debug)]
pub enum Mode {
    List,
    Rename(Field),
    Remove {
        password: Field,
        code: Field,
        focus: usize,
    },
    /// Before adding a device: the password, and a current code when a device exists.
    Confirm {
        password: Field,
        code: Field,
        focus: usize,
    },
}

#[derive(Debug)]
pub struct Account {
    pub devices: Vec<Device>,
    pub backup_left: i64,
    pub selected: usize,
    pub mode: Mode,
    pub note: Option<Note>,
    pub waiting: Option<Ticket>,
    pub loaded: bool,
}

pub enum Intent {
    Nothing,
    Reload,
    AddDevice {
        password: Secret,
        current_code: Option<Secret>,
    },
    Rename {
        device: Uuid,
        name: String,
    },
    Remove {
        device: Uuid,
        password: Secret,
        code: Secret,
    },
    /// Choose a new password (the password screen opens).
    ChangePassword,
    Quit,
}

impl Account {
    pub fn new() -> Account {
        Account {
            devices: Vec::new(),
            backup_left: 0,
            selected: 0,
            mode: Mode::List,
            note: None,
            waiting: None,
            loaded: false,
        }
    }

    pub fn typing(&self) -> bool {
        !matches!(self.mode, Mode::List)
    }

    fn selected_device(&self) -> Option<&Device> {
        self.devices.get(self.selected)
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting.is_some() {
            return Intent::Nothing;
        }
        match &mut self.mode {
            Mode::List => self.list_key(command),
            Mode::Rename(field) => match command {
                Some(Command::Back) => {
                    self.mode = Mode::List;
                    self.note = None;
                    Intent::Nothing
                }
                Some(Command::Submit) => {
                    let name = field.value().trim().to_string();
                    match self.selected_device() {
                        Some(d) => Intent::Rename { device: d.id, name },
                        None => Intent::Nothing,
                    }
                }
                _ => {
                    self.note = field.key(key).err().map(Note::Error);
                    Intent::Nothing
                }
            },
            Mode::Confirm {
                password,
                code,
                focus,
            } => {
                let needs_code = !self.devices.is_empty();
                match command {
                    Some(Command::Back) => {
                        self.mode = Mode::List;
                        self.note = None;
                        Intent::Nothing
                    }
                    Some(Command::NextField | Command::PrevField | Command::Up | Command::Down)
                        if needs_code =>
                    {
                        *focus = 1 - *focus;
                        Intent::Nothing
                    }
                    Some(Command::Submit) if needs_code && *focus == 0 => {
                        *focus = 1;
                        Intent::Nothing
                    }
                    Some(Command::Submit) => {
                        if password.value().is_empty()
                            || (needs_code && code.value().trim().is_empty())
                        {
                            self.note = Some(Note::Error(if needs_code {
                                "Enter your password and a current code to add a device.".into()
                            } else {
                                "Enter your password to add a device.".into()
                            }));
                            return Intent::Nothing;
                        }
                        let password = password.take();
                        let current_code = needs_code.then(|| code.take());
                        self.mode = Mode::List;
                        Intent::AddDevice {
                            password,
                            current_code,
                        }
                    }
                    _ => {
                        let field = if *focus == 0 { password } else { code };
                        self.note = field.key(key).err().map(Note::Error);
                        Intent::Nothing
                    }
                }
            }
            Mode::Remove {
                password,
                code,
                focus,
            } => match command {
                Some(Command::Back) => {
                    self.mode = Mode::List;
                    self.note = None;
                    Intent::Nothing
                }
                Some(Command::NextField | Command::PrevField | Command::Up | Command::Down) => {
                    *focus = 1 - *focus;
                    Intent::Nothing
                }
                Some(Command::Submit) if *focus == 0 => {
                    *focus = 1;
                    Intent::Nothing
                }
                Some(Command::Submit) => {
                    if password.value().is_empty() || code.value().trim().is_empty() {
                        self.note = Some(Note::Error(
                            "Enter your password and a current code to remove the device.".into(),
                        ));
                        return Intent::Nothing;
                    }
                    let (password, code) = (password.take(), code.take());
                    match self.selected_device() {
                        Some(d) => Intent::Remove {
                            device: d.id,
                            password,
                            code,
                        },
                        None => Intent::Nothing,
                    }
                }
                _ => {
                    let field = if *focus == 0 { password } else { code };
                    self.note = field.key(key).err().map(Note::Error);
                    Intent::Nothing
                }
            },
        }
    }

    fn list_key(&mut self, command: Option<Command>) -> Intent {
        let last = self.devices.len().saturating_sub(1);
        match command {
            Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Command::Down) => self.selected = (self.selected + 1).min(last),
            Some(Command::First | Command::PageUp) => self.selected = 0,
            Some(Command::Last | Command::PageDown) => self.selected = last,
            Some(Command::Refresh) => return Intent::Reload,
            Some(Command::AddDevice) => {
                self.note = None;
                self.mode = Mode::Confirm {
                    password: Field::new("Password", 128).masked(),
                    code: Field::new("Current code", 24),
                    focus: 0,
                };
            }
            Some(Command::Quit) => return Intent::Quit,
            Some(Command::ChangePassword) => return Intent::ChangePassword,
            Some(Command::Rename) => match self.selected_device().map(|d| d.name.clone()) {
                Some(name) => {
                    self.note = None;
                    self.mode = Mode::Rename(Field::new("New name", 64).with_value(&name));
                }
                None => self.note = Some(Note::Error("There is no device to rename.".into())),
            },
            Some(Command::Remove) => match self.selected_device() {
                Some(_) => {
                    self.note = None;
                    self.mode = Mode::Remove {
                        password: Field::new("Password", 128).masked(),
                        code: Field::new("Code", 24),
                        focus: 0,
                    };
                }
                None => self.note = Some(Note::Error("There is no device to remove.".into())),
            },
            _ => {}
        }
        Intent::Nothing
    }

    pub fn paste(&mut self, text: &str) {
        let result = match &mut self.mode {
            Mode::List => Ok(()),
            Mode::Rename(field) => field.paste(text),
            Mode::Remove {
                password,
                code,
                focus,
            }
            | Mode::Confirm {
                password,
                code,
                focus,
            } => if *focus == 0 { password } else { code }.paste(text),
        };
        self.note = result.err().map(Note::Error);
    }

    pub fn view(
        &self,
        f: &mut Frame,
        area: Rect,
        session: &Session,
        keys: &Keymap,
        theme: &Theme,
        ticks: u64,
    ) {
        let [_, who, devices, form, note] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(4),
            Constraint::Min(5),
            Constraint::Length(3),
            Constraint::Length(2),
        ])
        .areas(area);
        let user = &session.user;
        f.render_widget(
            Paragraph::new(vec![
                Line::styled(inert(&user.display_name()).into_owned(), theme.title),
                Line::from(format!("{} · {}", inert(&user.email), user.role.label())),
                Line::from(format!(
                    "Session ends by {} UTC at the latest",
                    session.expires_at.format("%Y-%m-%d %H:%M")
                )),
                Line::styled(
                    format!(
                        "{} changes your password",
                        keys.key(Command::ChangePassword)
                    ),
                    theme.muted,
                ),
            ]),
            who,
        );
        let title = format!(
            " Authenticator devices · {} backup codes left ",
            self.backup_left
        );
        let block = Block::default().borders(Borders::ALL).title(title);
        let inner = block.inner(devices);
        f.render_widget(block, devices);
        if !self.loaded {
            common::busy(f, inner, "Loading devices…", ticks, theme);
        } else if self.devices.is_empty() {
            f.render_widget(
                Paragraph::new(format!(
                    "No authenticator device. Press {} to set one up.",
                    keys.key(Command::AddDevice)
                )),
                inner,
            );
        } else {
            let mut lines = vec![Line::styled(
                format!(
                    "  {:<28} {:<8} {:<17} {}",
                    "Name", "Primary", "Added", "Last used"
                ),
                theme.muted,
            )];
            for (i, d) in self.devices.iter().enumerate() {
                let marker = if i == self.selected { "▶ " } else { "  " };
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into())
                };
                let name: String = inert(&d.name).chars().take(28).collect();
                let text = format!(
                    "{marker}{name:<28} {:<8} {:<17} {}",
                    if d.is_primary { "yes" } else { "no" },
                    when(d.verified_at),
                    when(d.last_used_at)
                );
                lines.push(Line::styled(
                    text,
                    if i == self.selected {
                        theme.selected
                    } else {
                        theme.base
                    },
                ));
            }
            f.render_widget(Paragraph::new(lines), inner);
        }
        match &self.mode {
            Mode::List if self.waiting.is_some() => common::busy(f, form, "Working…", ticks, theme),
            Mode::List => {}
            Mode::Rename(field) => {
                let [label, input, _] = Layout::vertical([Constraint::Length(1); 3]).areas(form);
                f.render_widget(
                    Paragraph::new(Span::styled(
                        "Rename the selected device (Enter saves, Esc cancels)",
                        theme.muted,
                    )),
                    label,
                );
                field.render(f, input, self.waiting.is_none(), theme);
            }
            Mode::Confirm {
                password,
                code,
                focus,
            } => {
                let [label, p, c] = Layout::vertical([Constraint::Length(1); 3]).areas(form);
                let needs_code = !self.devices.is_empty();
                let text = if needs_code {
                    "Add a device: confirm with your password and a current code (Esc cancels)"
                } else {
                    "Add a device: confirm with your password (Esc cancels)"
                };
                f.render_widget(Paragraph::new(Span::styled(text, theme.muted)), label);
                password.render(f, p, *focus == 0 && self.waiting.is_none(), theme);
                if needs_code {
                    code.render(f, c, *focus == 1 && self.waiting.is_none(), theme);
                }
            }
            Mode::Remove {
                password,
                code,
                focus,
            } => {
                let [label, p, c] = Layout::vertical([Constraint::Length(1); 3]).areas(form);
                f.render_widget(
                    Paragraph::new(Span::styled(
                        "Remove the selected device: confirm with your password and a current code",
                        theme.muted,
                    )),
                    label,
                );
                password.render(f, p, *focus == 0 && self.waiting.is_none(), theme);
                code.render(f, c, *focus == 1 && self.waiting.is_none(), theme);
            }
        }
        common::note(f, note, self.note.as_ref(), theme);
    }
}

impl Default for Account {
    fn default() -> Self {
        Account::new()
    }
}
