//! The Admin tab (`4`, admins only): the clinic's users and their live sessions, two lists switched
//! with `s` (or Tab), each a page at a time with a `/` filter. From a user: create, deactivate and
//! reactivate, change the role, reset the password, unlock, reset two-factor, their sessions, end
//! them all; from a session: end it, or all of its user's. Every action is first stated in a
//! confirm modal naming the person (No has the focus); only Yes sends the one short request, and the
//! lists are read again when it lands. A temporary password is shown once, in a box of its own.

pub mod act;
pub mod form;
pub mod handover;
pub mod rows;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::services::ServiceError;
use crate::services::admin::{AdminUser, Cursor, LiveSession, SessionFilter, UserFilter};
use crate::services::users::Role;
use crate::tui::keymap::Command;
use crate::tui::msg::{AdminResult, AdminWork, Ticket};
use crate::tui::screens::paged::{FILTERING, Listing, Paged};
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::modal::{self, Answer};

use act::{Act, Target};
use form::{Intent, NewUserForm, Pick, RolePick};
use handover::Handover;

/// Whether `role` has the Admin tab.
pub fn may_open(role: Role) -> bool {
    role == Role::Admin
}

/// The clinic's users for `Paged`: newest first, under a [`UserFilter`].
pub struct Users;

impl Listing for Users {
    type Row = AdminUser;
    type Cursor = Cursor;
    type Filter = UserFilter;

    fn parse(text: &str) -> Result<UserFilter, ServiceError> {
        UserFilter::parse(text)
    }

    fn ask(filter: &UserFilter, after: Option<Cursor>, cx: &mut Cx) -> Ticket {
        cx.admin_work(AdminWork::Users {
            filter: filter.clone(),
            after,
        })
    }
}

/// The live sessions for `Paged`: newest first, under a [`SessionFilter`].
pub struct Sessions;

impl Listing for Sessions {
    type Row = LiveSession;
    type Cursor = Cursor;
    type Filter = SessionFilter;

    fn parse(text: &str) -> Result<SessionFilter, ServiceError> {
        SessionFilter::parse(text)
    }

    fn ask(filter: &SessionFilter, after: Option<Cursor>, cx: &mut Cx) -> Ticket {
        cx.admin_work(AdminWork::Sessions {
            filter: filter.clone(),
            after,
        })
    }
}

/// Which list is on show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Showing {
    Users,
    Sessions,
}

/// What is open over the lists.
#[derive(Debug)]
pub enum Overlay {
    NewUser(Box<NewUserForm>),
    Role(RolePick),
    /// An action stated, waiting for Yes (the flag: whether Yes has the focus).
    Confirm(Act, bool),
    Handover(Handover),
}

/// The whole Admin tab.
#[derive(Debug)]
pub struct AdminTab {
    pub showing: Showing,
    pub users: Paged<Users>,
    pub sessions: Paged<Sessions>,
    /// When the users on show were read: a lockout is judged against it.
    pub users_read_at: Option<DateTime<Utc>>,
    pub overlay: Option<Overlay>,
    /// The action on its way, and its ticket.
    acting: Option<(Ticket, Act)>,
}

const USERS: &[Command] = &[
    Command::Up,
    Command::Down,
    Command::First,
    Command::Last,
    Command::PageDown,
    Command::PageUp,
    Command::Submit,
    Command::Filter,
    Command::SwitchList,
    Command::NewUser,
    Command::Deactivate,
    Command::Reactivate,
    Command::ChangeRole,
    Command::ResetPassword,
    Command::UnlockUser,
    Command::ResetMfa,
    Command::EndSessions,
    Command::Refresh,
    Command::TabRecords,
    Command::TabGrants,
    Command::TabAudit,
    Command::TabAccount,
    Command::Back,
    Command::Quit,
];

const SESSIONS: &[Command] = &[
    Command::Up,
    Command::Down,
    Command::First,
    Command::Last,
    Command::PageDown,
    Command::PageUp,
    Command::Submit,
    Command::Filter,
    Command::SwitchList,
    Command::EndSession,
    Command::EndSessions,
    Command::Refresh,
    Command::TabRecords,
    Command::TabGrants,
    Command::TabAudit,
    Command::TabAccount,
    Command::Back,
    Command::Quit,
];

const ASKING: &[Command] = &[
    Command::NextField,
    Command::PrevField,
    Command::Submit,
    Command::Back,
];

const PICKING: &[Command] = &[
    Command::Up,
    Command::Down,
    Command::First,
    Command::Last,
    Command::Submit,
    Command::Back,
];

impl AdminTab {
    /// The tab on its users, the first page on its way (the sessions are read when first shown).
    pub fn open(cx: &mut Cx) -> AdminTab {
        let mut users = Paged::new();
        users.reload(cx);
        AdminTab {
            showing: Showing::Users,
            users,
            sessions: Paged::new(),
            users_read_at: None,
            overlay: None,
            acting: None,
        }
    }

    /// A temporary password is on show: it must be acknowledged before anything else.
    pub fn holds_secret(&self) -> bool {
        matches!(self.overlay, Some(Overlay::Handover(_)))
    }

    /// The console locks: a temporary password on show is wiped, not kept behind the lock screen
    /// (the admin resets it again if it was not handed over).
    pub fn drop_secret(&mut self) {
        if self.holds_secret() {
            self.overlay = None;
        }
    }

    pub fn typing(&self) -> bool {
        match &self.overlay {
            Some(Overlay::NewUser(form)) => form.typing(),
            Some(_) => false,
            None => self.filtering(),
        }
    }

    fn filtering(&self) -> bool {
        match self.showing {
            Showing::Users => self.users.filtering,
            Showing::Sessions => self.sessions.filtering,
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        match &self.overlay {
            Some(Overlay::NewUser(form)) if form.confirm.is_none() => form.commands(),
            Some(Overlay::NewUser(_) | Overlay::Confirm(..)) => ASKING,
            Some(Overlay::Role(_)) => PICKING,
            Some(Overlay::Handover(_)) => &[Command::Submit],
            None if self.filtering() => FILTERING,
            None if self.showing == Showing::Users => USERS,
            None => SESSIONS,
        }
    }

    pub fn title(&self) -> &'static str {
        match (&self.overlay, self.showing) {
            (Some(Overlay::NewUser(_)), _) => "Create a user",
            (Some(Overlay::Handover(_)), _) => "Temporary password",
            (_, Showing::Users) => "Users",
            (_, Showing::Sessions) => "Live sessions",
        }
    }

    pub fn busy(&self) -> bool {
        self.users.busy() || self.sessions.busy() || self.acting.is_some()
    }

    pub fn show_note(&mut self, note: Note) {
        match &mut self.overlay {
            Some(Overlay::NewUser(form)) => form.note = Some(note),
            _ => self.list_note(note),
        }
    }

    fn list_note(&mut self, note: Note) {
        match self.showing {
            Showing::Users => self.users.note = Some(note),
            Showing::Sessions => self.sessions.note = Some(note),
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        match &mut self.overlay {
            Some(Overlay::NewUser(form)) => form.paste(text),
            Some(_) => {}
            None => match self.showing {
                Showing::Users => self.users.paste(text, cx),
                Showing::Sessions => self.sessions.paste(text, cx),
            },
        }
    }

    pub fn tick(&mut self, cx: &mut Cx) {
        self.users.tick(cx);
        self.sessions.tick(cx);
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        if self.overlay.is_some() {
            self.overlay_key(key, command, cx);
            return;
        }
        let list_took = match self.showing {
            Showing::Users => self.users.key(key, command, cx),
            Showing::Sessions => self.sessions.key(key, command, cx),
        };
        if list_took {
            return;
        }
        match command {
            Some(Command::Quit) => cx.leave = true,
            Some(Command::SwitchList | Command::NextField) => self.switch(cx),
            Some(c) => match self.showing {
                Showing::Users => self.user_command(c, cx),
                Showing::Sessions => self.session_command(c, cx),
            },
            None => {}
        }
    }

    fn overlay_key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        match &mut self.overlay {
            None => {}
            Some(Overlay::Handover(_)) => {
                if matches!(command, Some(Command::Submit | Command::Back)) {
                    // Dropping the box wipes the password.
                    self.overlay = None;
                }
            }
            Some(Overlay::Confirm(_, yes)) => match modal::answer(yes, key, command) {
                Answer::Undecided => {}
                Answer::No => self.overlay = None,
                Answer::Yes => {
                    if let Some(Overlay::Confirm(act, _)) = self.overlay.take() {
                        self.send(act, cx);
                    }
                }
            },
            Some(Overlay::Role(pick)) => match pick.key(command) {
                Pick::Stay => {}
                Pick::Cancel => self.overlay = None,
                Pick::Same => {
                    let note = format!(
                        "{} already has the role {}.",
                        pick.who.name,
                        pick.from.label()
                    );
                    self.overlay = None;
                    self.list_note(Note::Info(note));
                }
                Pick::Chosen(act) => self.overlay = Some(Overlay::Confirm(act, false)),
            },
            Some(Overlay::NewUser(form)) => match form.key(key, command) {
                Intent::Stay => {}
                Intent::Cancel => self.overlay = None,
                Intent::Create(act) => self.send(act, cx),
            },
        }
    }

    /// Sends an action the admin said Yes to.
    fn send(&mut self, act: Act, cx: &mut Cx) {
        let ticket = cx.admin_work(act.work());
        self.acting = Some((ticket, act));
    }

    /// Users ⇄ sessions; the sessions are read the first time they are shown.
    fn switch(&mut self, cx: &mut Cx) {
        self.showing = match self.showing {
            Showing::Users => Showing::Sessions,
            Showing::Sessions => Showing::Users,
        };
        if self.showing == Showing::Sessions && !self.sessions.loaded && !self.sessions.busy() {
            self.sessions.reload(cx);
        }
    }

    /// Opens `overlay` unless an action is still on its way.
    fn offer(&mut self, overlay: Overlay) {
        if self.acting.is_some() {
            self.list_note(Note::Info(
                "Still waiting for the last change; try again in a moment.".into(),
            ));
        } else {
            self.users.note = None;
            self.sessions.note = None;
            self.overlay = Some(overlay);
        }
    }

    fn user_command(&mut self, command: Command, cx: &mut Cx) {
        if command == Command::NewUser {
            self.offer(Overlay::NewUser(Box::default()));
            return;
        }
        let Some(user) = self.users.selected_row() else {
            if is_user_action(command) {
                self.users.note = Some(Note::Info("Select a user first.".into()));
            }
            return;
        };
        let who = Target::of_user(user);
        let mine = user.id == cx.session.user.id;
        let refusal = |text: String| Some(Note::Info(text));
        let (overlay, note) = match command {
            Command::Submit => {
                let text = format!("user:{}", user.id);
                self.showing = Showing::Sessions;
                self.sessions.filter_to(&text, cx);
                return;
            }
            Command::Deactivate if mine => (
                None,
                refusal("You cannot deactivate your own account; another admin can.".into()),
            ),
            Command::Deactivate if !user.is_active => {
                (None, refusal(format!("{} is already inactive.", who.name)))
            }
            Command::Deactivate => (Some(Overlay::Confirm(Act::Deactivate(who), false)), None),
            Command::Reactivate if user.is_active => {
                (None, refusal(format!("{} is already active.", who.name)))
            }
            Command::Reactivate => (Some(Overlay::Confirm(Act::Reactivate(who), false)), None),
            Command::ChangeRole if mine => (
                None,
                refusal("You cannot change your own role; another admin can.".into()),
            ),
            Command::ChangeRole => (Some(Overlay::Role(RolePick::new(who, user.role))), None),
            Command::ResetPassword => {
                (Some(Overlay::Confirm(Act::ResetPassword(who), false)), None)
            }
            Command::UnlockUser if !self.users_read_at.is_some_and(|now| user.locked(now)) => {
                (None, refusal(format!("{} is not locked out.", who.name)))
            }
            Command::UnlockUser => {
                let until = user.locked_until;
                (
                    Some(Overlay::Confirm(Act::Unlock { who, until }, false)),
                    None,
                )
            }
            Command::ResetMfa => (Some(Overlay::Confirm(Act::ResetMfa(who), false)), None),
            Command::EndSessions if user.active_sessions == 0 => {
                (None, refusal(format!("{} has no live session.", who.name)))
            }
            Command::EndSessions => (Some(Overlay::Confirm(Act::EndSessions(who), false)), None),
            _ => (None, None),
        };
        if let Some(note) = note {
            self.users.note = Some(note);
        }
        if let Some(overlay) = overlay {
            self.offer(overlay);
        }
    }

    fn session_command(&mut self, command: Command, cx: &mut Cx) {
        let Some(session) = self.sessions.selected_row() else {
            if matches!(
                command,
                Command::EndSession | Command::EndSessions | Command::Submit
            ) {
                self.sessions.note = Some(Note::Info("Select a session first.".into()));
            }
            return;
        };
        let who = Target::of_session(session);
        match command {
            Command::Submit => {
                // To the user behind the session, found by their email.
                let text = session.email.clone();
                self.showing = Showing::Users;
                self.users.filter_to(&text, cx);
            }
            Command::EndSession if session.id == cx.session.id => {
                self.sessions.note = Some(Note::Info(
                    "This is your own session: log out with q instead.".into(),
                ));
            }
            Command::EndSession => {
                let act = Act::EndSession {
                    session: session.id,
                    who,
                    source: session.source.clone(),
                    started: session.started_at,
                };
                self.offer(Overlay::Confirm(act, false));
            }
            Command::EndSessions => self.offer(Overlay::Confirm(Act::EndSessions(who), false)),
            _ => {}
        }
    }

    /// Hands a result to whoever waits for `ticket`; one nobody waits for is dropped.
    pub fn done(&mut self, ticket: Ticket, result: AdminResult, cx: &mut Cx) {
        match result {
            AdminResult::Users(result) if self.users.awaits(ticket) => {
                if let Ok(page) = &result {
                    self.users_read_at = Some(page.read_at);
                }
                self.users
                    .done(ticket, result.map(|p| (p.rows, p.next)), cx);
            }
            AdminResult::Sessions(result) if self.sessions.awaits(ticket) => {
                self.sessions
                    .done(ticket, result.map(|p| (p.rows, p.next)), cx);
            }
            AdminResult::Acted(result) => {
                let Some((_, act)) = self.acting.take_if(|(t, _)| *t == ticket) else {
                    return;
                };
                self.landed(act, result, cx);
            }
            AdminResult::Users(_) | AdminResult::Sessions(_) => {}
        }
    }

    /// An action came back: its note (or its one-sentence refusal), the temporary password when one
    /// came, and both lists read again.
    fn landed(
        &mut self,
        act: Act,
        result: Result<crate::tui::msg::Acted, ServiceError>,
        cx: &mut Cx,
    ) {
        match result {
            Ok(acted) => {
                cx.heard();
                let (note, handover) = act.landed(acted);
                self.overlay = handover.map(Overlay::Handover);
                self.list_note(Note::Info(note));
                self.users.reload(cx);
                if self.sessions.loaded || self.sessions.busy() {
                    self.sessions.reload(cx);
                }
            }
            Err(e) => {
                let sentence = cx.sentence(&e);
                match &mut self.overlay {
                    // The form stays, with what was typed, so the one wrong thing can be fixed.
                    Some(Overlay::NewUser(form)) => {
                        form.waiting = false;
                        form.note = Some(Note::Error(sentence));
                    }
                    _ => self.list_note(Note::Error(sentence)),
                }
            }
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        if let Some(Overlay::NewUser(form)) = &self.overlay {
            form.view(f, area, look);
            return;
        }
        rows::list(self, f, area, look);
        match &self.overlay {
            Some(Overlay::Confirm(act, yes)) => form::confirm_view(f, area, look, act, *yes),
            Some(Overlay::Role(pick)) => pick.view(f, area, look),
            Some(Overlay::Handover(h)) => h.view(f, area, look),
            _ => {}
        }
    }
}

/// The commands that act on the selected user.
fn is_user_action(c: Command) -> bool {
    matches!(
        c,
        Command::Submit
            | Command::Deactivate
            | Command::Reactivate
            | Command::ChangeRole
            | Command::ResetPassword
            | Command::UnlockUser
            | Command::ResetMfa
            | Command::EndSessions
    )
}
