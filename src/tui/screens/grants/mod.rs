//! The Grants tab (`2`): who may see which patient's records. Records staff see and manage every
//! grant, patients the grants on their own records, physicians and nurses the grants they hold
//! (read-only). The list stays at the bottom; a new grant, a new expiry or a revocation opens a form
//! over it, and every change is first stated in a confirm modal. Only after Yes does the one short
//! transaction run — nothing is held open while a person reads.

pub mod change;
pub mod detail;
pub mod form;
pub mod list;
pub mod rows;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::services::grants::{Grant, GrantView};
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::modal::{self, Answer};

use change::ChangeForm;
use form::GrantForm;
use list::GrantList;

/// Where a page sends the person after a key or a result.
pub enum Nav {
    Stay,
    Back,
    Open(Page),
    /// A change landed: back to the list, reloaded, with what happened.
    Changed {
        grant: Box<Grant>,
        note: String,
    },
    Quit,
}

/// A form opened over the list.
#[derive(Debug)]
pub enum Page {
    New(Box<GrantForm>),
    Change(Box<ChangeForm>),
}

macro_rules! each_page {
    ($page:expr, $p:ident => $body:expr) => {
        match $page {
            Page::New($p) => $body,
            Page::Change($p) => $body,
        }
    };
}

impl Page {
    fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
        each_page!(self, p => p.key(key, command, cx))
    }

    fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) -> Nav {
        each_page!(self, p => p.done(ticket, result, cx))
    }

    fn awaits(&self, ticket: Ticket) -> bool {
        each_page!(self, p => p.awaits(ticket))
    }

    fn busy(&self) -> bool {
        each_page!(self, p => p.busy())
    }

    fn typing(&self) -> bool {
        each_page!(self, p => p.typing())
    }

    fn commands(&self) -> &'static [Command] {
        each_page!(self, p => p.commands())
    }

    fn title(&self) -> &'static str {
        each_page!(self, p => p.title())
    }

    fn paste(&mut self, text: &str, cx: &mut Cx) {
        each_page!(self, p => p.paste(text, cx))
    }

    fn set_note(&mut self, note: Note) {
        each_page!(self, p => p.note = Some(note))
    }

    fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        each_page!(self, p => p.view(f, area, look))
    }
}

/// The whole Grants tab.
#[derive(Debug)]
pub struct GrantsTab {
    pub view: GrantView,
    /// How many days ahead an expiry may be set (`HSC_GRANT_MAX_DAYS`).
    pub max_days: u32,
    pub grants: GrantList,
    pub page: Option<Page>,
}

impl GrantsTab {
    /// The tab, with its first page on the way.
    pub fn open(view: GrantView, max_days: u32, cx: &mut Cx) -> GrantsTab {
        let mut grants = GrantList::new(view);
        grants.reload(cx);
        GrantsTab {
            view,
            max_days,
            grants,
            page: None,
        }
    }

    pub fn typing(&self) -> bool {
        match &self.page {
            Some(p) => p.typing(),
            None => self.grants.typing(),
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        match &self.page {
            Some(p) => p.commands(),
            None => self.grants.commands(),
        }
    }

    pub fn title(&self) -> &'static str {
        match &self.page {
            Some(p) => p.title(),
            None => "Grants",
        }
    }

    pub fn busy(&self) -> bool {
        self.grants.busy() || self.page.as_ref().is_some_and(Page::busy)
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        let nav = match &mut self.page {
            Some(p) => p.key(key, command, cx),
            None => self.grants.key(key, command, self.max_days, cx),
        };
        self.go(nav, cx);
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        match &mut self.page {
            Some(p) => p.paste(text, cx),
            None => self.grants.paste(text, cx),
        }
    }

    pub fn show_note(&mut self, note: Note) {
        match &mut self.page {
            Some(p) => p.set_note(note),
            None => self.grants.list.note = Some(note),
        }
    }

    /// Hands a result to whoever waits for `ticket`; one nobody waits for is dropped.
    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) {
        if self.grants.awaits(ticket) {
            self.grants.done(ticket, result, cx);
            return;
        }
        if let Some(p) = self.page.as_mut().filter(|p| p.awaits(ticket)) {
            let nav = p.done(ticket, result, cx);
            self.go(nav, cx);
        }
    }

    /// The heartbeat: a filter or a name typed and paused on is searched.
    pub fn tick(&mut self, cx: &mut Cx) {
        self.grants.tick(cx);
        if let Some(Page::New(form)) = &mut self.page {
            form.tick(cx);
        }
    }

    fn go(&mut self, nav: Nav, cx: &mut Cx) {
        match nav {
            Nav::Stay => {}
            Nav::Quit => cx.leave = true,
            Nav::Back => self.page = None,
            Nav::Open(page) => self.page = Some(page),
            Nav::Changed { grant, note } => {
                self.page = None;
                self.grants.changed(*grant, note, cx);
            }
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        match &self.page {
            Some(p) => p.view(f, area, look),
            None => self.grants.view(f, area, look),
        }
    }
}

/// The confirm modal every change passes through: the sentences saying exactly what will change,
/// and the request that makes the change. Its answer starts on No, so Enter alone goes back.
pub struct Confirm {
    pub yes: bool,
    lines: Vec<String>,
    work: GrantWork,
}

/// The sentences quote names and reasons: `Debug` shows the request only.
impl std::fmt::Debug for Confirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirm")
            .field("yes", &self.yes)
            .field("work", &self.work)
            .finish_non_exhaustive()
    }
}

impl Confirm {
    pub fn new(lines: Vec<String>, work: GrantWork) -> Confirm {
        Confirm {
            yes: false,
            lines,
            work,
        }
    }

    fn key(&mut self, key: KeyEvent, command: Option<Command>) -> Answer {
        modal::answer(&mut self.yes, key, command)
    }

    /// Draws the modal over `area`; its sentences are made inert here.
    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look, title: &str, yes: &str) {
        let lines = self
            .lines
            .iter()
            .map(|l| Line::from(crate::tui::sanitize::inert(l).into_owned()))
            .collect();
        modal::ask(
            f,
            area,
            title,
            lines,
            ("No, go back", yes),
            self.yes,
            look.theme,
        );
    }
}

/// Passes a key to a form's confirm modal, if one is up (true: it took the key). Yes sends the
/// change — `waiting` then holds its ticket — and No closes the modal; neither leaves a transaction
/// open while the person reads.
pub fn confirm_key(
    confirm: &mut Option<Confirm>,
    waiting: &mut Option<Ticket>,
    key: KeyEvent,
    command: Option<Command>,
    cx: &mut Cx,
) -> bool {
    let Some(modal) = confirm else {
        return false;
    };
    match modal.key(key, command) {
        Answer::Undecided => {}
        Answer::No => *confirm = None,
        Answer::Yes => {
            if let Some(modal) = confirm.take() {
                *waiting = Some(cx.grant_work(modal.work));
            }
        }
    }
    true
}

/// The commands a page answers to while its confirm modal is up.
pub const CONFIRMING: &[Command] = &[
    Command::NextField,
    Command::PrevField,
    Command::Submit,
    Command::Back,
];
