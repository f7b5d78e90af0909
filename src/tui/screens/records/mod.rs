//! The Records tab: the browser at the bottom, and the pages opened from it stacked on top (a
//! record, its editor, its history, a comparison, the patient picker, break-glass). Esc pops a
//! page. The tab lives beside the screen on show, so switching to Account and back, or the idle
//! lock, leaves an open draft exactly as it was; results keep arriving for it by ticket.
//!
//! Pages ask for database work through `Cx::work`, which hands out the ticket the result will carry.
//! Everything here is as pure as the rest of `update`: no I/O, no clock but `Cx::now`.

pub mod break_glass;
pub mod browser;
pub mod detail;
pub mod diff;
pub mod editor;
pub mod history;
pub mod picker;

use std::time::Instant;

use chrono::NaiveDate;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::services::ServiceError;
use crate::services::records::{Access, EmergencyGrant, Saved};
use crate::services::sessions::Session;
use crate::tui::keymap::{Command, Keymap};
use crate::tui::msg::{AdminWork, AuditWork, Effect, GrantWork, RecordResult, RecordWork, Ticket};
use crate::tui::state::{Note, Tickets};
use crate::tui::theme::Theme;
use crate::tui::widgets::text::clip;

use break_glass::BreakGlass;
use browser::Browser;
use detail::Detail;
use diff::DiffView;
use editor::Editor;
use history::History;
use picker::Picker;

/// What a page needs from the console while it handles a key, a result or a tick.
pub struct Cx<'a> {
    pub session: &'a Session,
    tickets: &'a mut Tickets,
    pub now: Instant,
    /// Today's date, when the console knows it (a new record's default date).
    pub today: Option<NaiveDate>,
    /// Today's date in UTC (grants expire at the end of a UTC day).
    pub utc_today: Option<NaiveDate>,
    /// The area the tab draws in, so pages know how many rows a page is.
    pub body: Rect,
    pub effects: Vec<Effect>,
    /// Whether the database answered the work just handled (None: nothing was heard from it).
    pub answered: Option<bool>,
    pub leave: bool,
}

impl<'a> Cx<'a> {
    pub fn new(
        session: &'a Session,
        tickets: &'a mut Tickets,
        now: Instant,
        (today, utc_today): (Option<NaiveDate>, Option<NaiveDate>),
        body: Rect,
    ) -> Cx<'a> {
        Cx {
            session,
            tickets,
            now,
            today,
            utc_today,
            body,
            effects: Vec::new(),
            answered: None,
            leave: false,
        }
    }

    /// Asks the runner for `work`; the answer will carry the returned ticket.
    pub fn work(&mut self, work: RecordWork) -> Ticket {
        let ticket = self.tickets.issue();
        self.effects.push(Effect::Records {
            ticket,
            session: self.session.clone(),
            work,
        });
        ticket
    }

    /// Asks the runner for access-grant `work` (the Grants tab); the answer carries the ticket.
    pub fn audit_work(&mut self, work: AuditWork) -> Ticket {
        let ticket = self.tickets.issue();
        self.effects.push(Effect::Audit {
            ticket,
            session: self.session.clone(),
            work,
        });
        ticket
    }

    /// Asks the runner for administrative `work` (the Admin tab); the answer carries the ticket.
    pub fn admin_work(&mut self, work: AdminWork) -> Ticket {
        let ticket = self.tickets.issue();
        self.effects.push(Effect::Admin {
            ticket,
            session: self.session.clone(),
            work,
        });
        ticket
    }

    pub fn grant_work(&mut self, work: GrantWork) -> Ticket {
        let ticket = self.tickets.issue();
        self.effects.push(Effect::Grants {
            ticket,
            session: self.session.clone(),
            work,
        });
        ticket
    }

    /// A change id for a new save: unique to this session and moment (a fresh ticket goes into
    /// it), derived rather than drawn at random so `update` stays pure. An editor makes one when it
    /// opens and another whenever a save attempt has ended other than by an outage.
    pub fn change_id(&mut self) -> Uuid {
        let ticket = self.tickets.issue();
        let mut hash = Sha256::new();
        hash.update(b"hsc record change\0");
        hash.update(self.session.id.as_bytes());
        hash.update(self.session.user.id.as_bytes());
        hash.update(ticket.0.to_be_bytes());
        let digest = hash.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// The one sentence a failure is shown as; notes whether the database answered at all.
    pub fn sentence(&mut self, e: &ServiceError) -> String {
        if e.is_unavailable() {
            self.answered = Some(false);
            "The database is not answering; nothing was changed. Try again in a moment.".into()
        } else {
            self.answered = Some(true);
            e.to_string()
        }
    }

    /// Notes that the database answered.
    pub fn heard(&mut self) {
        self.answered = Some(true);
    }
}

/// What drawing a page needs besides the page.
pub struct Look<'a> {
    pub theme: &'a Theme,
    pub keys: &'a Keymap,
    pub ticks: u64,
    pub access: Access,
    /// Today's date in UTC as the loop last read it (how far away a grant's expiry is).
    pub utc_today: Option<NaiveDate>,
}

impl Look<'_> {
    /// "Enter open · e edit · …" from the live keymap.
    pub fn hints(&self, items: &[(Command, &str)]) -> String {
        items
            .iter()
            .map(|(c, what)| format!("{} {what}", self.keys.key(*c)))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The hint line at the bottom of a page, cut to the width.
    pub fn hint_line(&self, f: &mut Frame, area: Rect, text: &str) {
        f.render_widget(
            Paragraph::new(Line::styled(
                clip(text, usize::from(area.width)),
                self.theme.muted,
            )),
            area,
        );
    }
}

/// Where a page sends the person after a key or a result.
pub enum Nav {
    Stay,
    Back,
    Push(Page),
    Replace(Page),
    /// A save landed: the editor closes and the record shows its new version.
    Saved {
        saved: Saved,
        created: bool,
    },
    /// Break-glass opened access: back to the browser, reloaded.
    Emergency(EmergencyGrant),
    Quit,
}

/// A page opened from the browser.
#[derive(Debug)]
pub enum Page {
    Detail(Detail),
    Editor(Box<Editor>),
    History(History),
    Diff(DiffView),
    Picker(Picker),
    BreakGlass(BreakGlass),
}

macro_rules! each_page {
    ($page:expr, $p:ident => $body:expr) => {
        match $page {
            Page::Detail($p) => $body,
            Page::Editor($p) => $body,
            Page::History($p) => $body,
            Page::Diff($p) => $body,
            Page::Picker($p) => $body,
            Page::BreakGlass($p) => $body,
        }
    };
}

impl Page {
    fn key(&mut self, key: KeyEvent, command: Option<Command>, access: Access, cx: &mut Cx) -> Nav {
        each_page!(self, p => p.key(key, command, access, cx))
    }

    fn done(&mut self, ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
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

/// The whole Records tab.
#[derive(Debug)]
pub struct RecordsTab {
    pub access: Access,
    pub browser: Browser,
    pub pages: Vec<Page>,
}

impl RecordsTab {
    /// The tab, with its first page on the way.
    pub fn open(access: Access, cx: &mut Cx) -> RecordsTab {
        let mut browser = Browser::new();
        browser.reload(cx);
        RecordsTab {
            access,
            browser,
            pages: Vec::new(),
        }
    }

    pub fn typing(&self) -> bool {
        match self.pages.last() {
            Some(p) => p.typing(),
            None => self.browser.typing(),
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        match self.pages.last() {
            Some(p) => p.commands(),
            None => self.browser.commands(),
        }
    }

    pub fn title(&self) -> &'static str {
        match self.pages.last() {
            Some(p) => p.title(),
            None => "Records",
        }
    }

    /// Waiting for the database anywhere in the tab (the spinner turns).
    pub fn busy(&self) -> bool {
        self.browser.busy() || self.pages.iter().any(Page::busy)
    }

    /// Whether an editor in the stack would lose something if the tab closed now.
    pub fn unsaved_draft(&self) -> bool {
        self.pages
            .iter()
            .any(|p| matches!(p, Page::Editor(e) if e.unsaved()))
    }

    /// The open editor, wherever it is in the stack.
    pub fn editor(&self) -> Option<&Editor> {
        self.pages.iter().find_map(|p| match p {
            Page::Editor(e) => Some(&**e),
            _ => None,
        })
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        let access = self.access;
        let nav = match self.pages.last_mut() {
            Some(p) => p.key(key, command, access, cx),
            None => self.browser.key(key, command, access, cx),
        };
        let top = self.pages.len().checked_sub(1);
        self.go(top, nav, cx);
    }

    /// Puts `note` on the page on show.
    pub fn show_note(&mut self, note: Note) {
        match self.pages.last_mut() {
            Some(p) => p.set_note(note),
            None => self.browser.list.note = Some(note),
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        match self.pages.last_mut() {
            Some(p) => p.paste(text, cx),
            None => self.browser.paste(text, cx),
        }
    }

    /// Hands a result to the page that waits for `ticket`; a result nobody waits for is dropped.
    pub fn done(&mut self, ticket: Ticket, result: RecordResult, cx: &mut Cx) {
        if self.browser.awaits(ticket) {
            let nav = self.browser.done(ticket, result, cx);
            self.go(None, nav, cx);
            return;
        }
        if let Some(i) = self.pages.iter().rposition(|p| p.awaits(ticket)) {
            if let Some(e @ ServiceError::Denied(_)) = result.error() {
                // Refused on a page that was open: access ended (a grant revoked or expired). Every
                // page that shows or holds the record's content closes — the record, an editor's
                // draft, its history or a comparison — and the browser's page is read again.
                let sentence = cx.sentence(e);
                self.pages.clear();
                self.browser.list.note = Some(Note::Error(sentence));
                self.browser.reload(cx);
                return;
            }
            let nav = self.pages[i].done(ticket, result, cx);
            self.go(Some(i), nav, cx);
        }
    }

    /// The heartbeat: a filter typed and paused on is listed; an editor waiting out an outage
    /// tries its save again.
    pub fn tick(&mut self, cx: &mut Cx) {
        self.browser.tick(cx);
        for page in &mut self.pages {
            if let Page::Editor(e) = page {
                e.tick(cx);
            }
        }
    }

    /// Applies `nav` from the page at `from` (None: the browser).
    fn go(&mut self, from: Option<usize>, nav: Nav, cx: &mut Cx) {
        match nav {
            Nav::Stay => {}
            Nav::Quit => cx.leave = true,
            Nav::Back => {
                if let Some(i) = from {
                    self.pages.truncate(i);
                }
            }
            Nav::Push(page) => self.pages.push(page),
            Nav::Replace(page) => {
                if let Some(i) = from {
                    self.pages.truncate(i);
                }
                self.pages.push(page);
            }
            Nav::Saved { saved, created } => {
                if let Some(i) = from {
                    self.pages.truncate(i);
                }
                let note = Note::Info(if created {
                    "Saved: the record was added.".to_string()
                } else {
                    format!("Saved as version {}.", saved.version)
                });
                match self.pages.last_mut() {
                    Some(Page::Detail(d)) if d.record == saved.record && d.is_current() => {
                        d.reload(cx);
                        d.note = Some(note);
                    }
                    _ => {
                        let mut d = Detail::open(saved.record, cx);
                        d.note = Some(note);
                        self.pages.push(Page::Detail(d));
                    }
                }
                self.browser.reload(cx);
            }
            Nav::Emergency(grant) => {
                self.pages.clear();
                self.browser.reload(cx);
                self.browser.list.note = Some(Note::Info(format!(
                    "Emergency access to {}'s records is open until {} UTC. It is recorded and will be reviewed.",
                    grant.patient.name,
                    grant.expires_at.format("%Y-%m-%d %H:%M")
                )));
            }
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        match self.pages.last() {
            // The break-glass question is asked over the browser it was started from.
            Some(Page::BreakGlass(b)) => {
                self.browser.view(f, area, look);
                b.view(f, area, look);
            }
            Some(p) => p.view(f, area, look),
            None => self.browser.view(f, area, look),
        }
    }
}
