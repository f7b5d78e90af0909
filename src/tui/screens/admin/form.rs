//! Creating a user (email, first and last name, role) and choosing a user's new role. The role
//! starts unchosen on the new-user form, so no account becomes an admin by a stray Enter. What is
//! wrong is said in one sentence before anything is asked of the database; then the confirm modal
//! states the account, and only Yes sends it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::act::{Account, Act, Target};
use crate::services::users::{Role, check_email};
use crate::tui::keymap::Command;
use crate::tui::screens::common;
use crate::tui::screens::records::Look;
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::modal::{self, Answer, centered};

/// The form's stops, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Email,
    First,
    Last,
    Role,
}

const ORDER: [Focus; 4] = [Focus::Email, Focus::First, Focus::Last, Focus::Role];

/// What a key on the form asks of the tab.
pub enum Intent {
    Stay,
    Cancel,
    /// Yes was said to this account.
    Create(Act),
}

#[derive(Debug)]
pub struct NewUserForm {
    pub email: Field,
    pub first: Field,
    pub last: Field,
    pub role: Option<Role>,
    pub focus: Focus,
    /// The confirm modal, when up: the account it states and whether Yes has the focus.
    pub confirm: Option<(Act, bool)>,
    /// The account is on its way to the database.
    pub waiting: bool,
    pub note: Option<Note>,
}

impl NewUserForm {
    pub fn new() -> NewUserForm {
        NewUserForm {
            email: Field::new("Email", 254),
            first: Field::new("First name", 100),
            last: Field::new("Last name", 100),
            role: None,
            focus: Focus::Email,
            confirm: None,
            waiting: false,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.confirm.is_none() && !self.waiting && self.focus != Focus::Role
    }

    pub fn commands(&self) -> &'static [Command] {
        &[
            Command::NextField,
            Command::PrevField,
            Command::Submit,
            Command::Back,
        ]
    }

    fn field(&mut self) -> Option<&mut Field> {
        match self.focus {
            Focus::Email => Some(&mut self.email),
            Focus::First => Some(&mut self.first),
            Focus::Last => Some(&mut self.last),
            Focus::Role => None,
        }
    }

    fn step(&mut self, by: isize) {
        let at = ORDER.iter().position(|f| *f == self.focus).unwrap_or(0) as isize;
        let n = ORDER.len() as isize;
        self.focus = ORDER[((at + by).rem_euclid(n)) as usize];
    }

    /// ←/→ (or Space) move through the roles; the first press chooses the first.
    fn turn_role(&mut self, by: isize) {
        let n = Role::ALL.len() as isize;
        let next = match self
            .role
            .and_then(|r| Role::ALL.iter().position(|x| *x == r))
        {
            Some(at) => (at as isize + by).rem_euclid(n),
            None if by < 0 => n - 1,
            None => 0,
        };
        self.role = Some(Role::ALL[next as usize]);
    }

    pub fn paste(&mut self, text: &str) {
        if !self.typing() {
            return;
        }
        if let Some(field) = self.field() {
            let result = field.paste(text);
            self.note = result.err().map(Note::Error);
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Intent {
        if self.waiting {
            return Intent::Stay;
        }
        if let Some((act, yes)) = &mut self.confirm {
            match modal::answer(yes, key, command) {
                Answer::Undecided => {}
                Answer::No => self.confirm = None,
                Answer::Yes => {
                    let act = act.clone();
                    self.confirm = None;
                    self.waiting = true;
                    return Intent::Create(act);
                }
            }
            return Intent::Stay;
        }
        match command {
            Some(Command::Back) => return Intent::Cancel,
            Some(Command::NextField | Command::Down) => self.step(1),
            Some(Command::PrevField | Command::Up) => self.step(-1),
            Some(Command::Submit) => self.submit(),
            _ if self.focus == Focus::Role => match key.code {
                KeyCode::Left => self.turn_role(-1),
                KeyCode::Right | KeyCode::Char(' ') => self.turn_role(1),
                _ => {}
            },
            _ => {
                if let Some(field) = self.field() {
                    let result = field.key(key);
                    self.note = result.err().map(Note::Error);
                }
            }
        }
        Intent::Stay
    }

    /// Enter: a field that is missing or wrong is named (and gets the focus), else the confirm modal.
    fn submit(&mut self) {
        match self.problem() {
            Some((focus, problem)) => {
                self.focus = focus;
                self.note = Some(Note::Error(problem));
            }
            None => {
                self.note = None;
                if let Some(role) = self.role {
                    let account = Account {
                        email: self.email.value().trim().to_string(),
                        first_name: self.first.value().trim().to_string(),
                        last_name: self.last.value().trim().to_string(),
                        role,
                    };
                    self.confirm = Some((Act::Create(account), false));
                }
            }
        }
    }

    fn problem(&self) -> Option<(Focus, String)> {
        let email = self.email.value().trim();
        if email.is_empty() {
            return Some((Focus::Email, "Enter the new user's email address.".into()));
        }
        if let Err(e) = check_email(email) {
            return Some((Focus::Email, e.to_string()));
        }
        if self.first.is_blank() {
            return Some((Focus::First, "Enter the new user's first name.".into()));
        }
        if self.last.is_blank() {
            return Some((Focus::Last, "Enter the new user's last name.".into()));
        }
        if self.role.is_none() {
            return Some((Focus::Role, "Choose the role with ← and →.".into()));
        }
        None
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [intro, _, email, first, last, role, _, note, hint] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(vec![
                Line::styled("Create a user", theme.title),
                Line::from(
                    "They get a temporary password, shown to you once, and must change it at their first sign-in.",
                ),
            ])
            .wrap(Wrap { trim: true }),
            intro,
        );
        let live = self.confirm.is_none() && !self.waiting;
        self.email
            .render(f, email, live && self.focus == Focus::Email, theme);
        self.first
            .render(f, first, live && self.focus == Focus::First, theme);
        self.last
            .render(f, last, live && self.focus == Focus::Last, theme);
        let on_role = live && self.focus == Focus::Role;
        let mut spans = vec![Span::styled(
            format!("{} Role: ", if on_role { "▶" } else { " " }),
            if on_role { theme.focus } else { theme.base },
        )];
        for r in Role::ALL {
            if Some(r) == self.role {
                spans.push(Span::styled(format!("[{}]", r.label()), theme.selected));
            } else {
                spans.push(Span::raw(format!(" {} ", r.label())));
            }
        }
        f.render_widget(Paragraph::new(Line::from(spans)), role);
        if self.waiting {
            common::busy(f, note, "Creating the account…", look.ticks, theme);
        } else {
            common::note(f, note, self.note.as_ref(), theme);
        }
        let hints = look.hints(&[
            (Command::NextField, "next field"),
            (Command::Submit, "create"),
            (Command::Back, "cancel"),
        ]);
        look.hint_line(f, hint, &format!("{hints} · ←/→ role"));
        if let Some((act, yes)) = &self.confirm {
            confirm_view(f, area, look, act, *yes);
        }
    }
}

impl Default for NewUserForm {
    fn default() -> Self {
        NewUserForm::new()
    }
}

/// The confirm modal of an action: its sentences (made inert here) and No/Yes.
pub fn confirm_view(f: &mut Frame, area: Rect, look: &Look, act: &Act, yes: bool) {
    let (title, yes_label) = act.title();
    let lines = act
        .lines()
        .iter()
        .map(|l| Line::from(crate::tui::sanitize::inert(l).into_owned()))
        .collect();
    modal::ask(
        f,
        area,
        title,
        lines,
        ("No, go back", yes_label),
        yes,
        look.theme,
    );
}

/// Choosing a user's new role from the six; their present one is marked.
#[derive(Debug)]
pub struct RolePick {
    pub who: Target,
    pub from: Role,
    pub cursor: usize,
}

/// What a key on the role chooser asks of the tab.
pub enum Pick {
    Stay,
    Cancel,
    /// The role chosen is the one they have.
    Same,
    Chosen(Act),
}

impl RolePick {
    pub fn new(who: Target, from: Role) -> RolePick {
        let cursor = Role::ALL.iter().position(|r| *r == from).unwrap_or(0);
        RolePick { who, from, cursor }
    }

    pub fn key(&mut self, command: Option<Command>) -> Pick {
        let last = Role::ALL.len() - 1;
        match command {
            Some(Command::Up | Command::PrevField) => self.cursor = self.cursor.saturating_sub(1),
            Some(Command::Down | Command::NextField) => self.cursor = (self.cursor + 1).min(last),
            Some(Command::First) => self.cursor = 0,
            Some(Command::Last) => self.cursor = last,
            Some(Command::Back) => return Pick::Cancel,
            Some(Command::Submit) => {
                let to = Role::ALL[self.cursor.min(last)];
                if to == self.from {
                    return Pick::Same;
                }
                return Pick::Chosen(Act::ChangeRole {
                    who: self.who.clone(),
                    from: self.from,
                    to,
                });
            }
            _ => {}
        }
        Pick::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let r = centered(area, 64, Role::ALL.len() as u16 + 6);
        f.render_widget(Clear, r);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(" Change a role ")
            .style(theme.base);
        let inner = block.inner(r);
        f.render_widget(block, r);
        let text = Rect::new(
            inner.x + 1,
            inner.y,
            inner.width.saturating_sub(2),
            inner.height,
        );
        let [question, choices] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(text);
        f.render_widget(
            Paragraph::new(
                crate::tui::sanitize::inert(&format!("New role for {}:", self.who.named()))
                    .into_owned(),
            )
            .wrap(Wrap { trim: true }),
            question,
        );
        let mut lines = Vec::new();
        for (i, role) in Role::ALL.iter().enumerate() {
            let marker = if i == self.cursor { "▶ " } else { "  " };
            let now = if *role == self.from { "  (now)" } else { "" };
            let text = format!("{marker}{}{now}", role.label());
            lines.push(if i == self.cursor {
                Line::styled(text, theme.selected)
            } else {
                Line::from(text)
            });
        }
        lines.push(Line::styled(
            look.hints(&[(Command::Submit, "choose"), (Command::Back, "cancel")]),
            theme.muted,
        ));
        f.render_widget(Paragraph::new(lines), choices);
    }
}
