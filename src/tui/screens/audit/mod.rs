//! The Audit tab (`3`): the audit trail as the reader may see it — admins every event, records staff
//! the events about records, a patient who looked at their records and when (with the reason given
//! for any break-glass access). Newest first, a page at a time, with a `/` filter; while the first
//! page is on show new events appear as they are sealed (the live tail, polled every second). From
//! an event: its full detail, the events of its user, patient or record, an admin's "reviewed"
//! mark, and an export of the filtered events to a file.

pub mod detail;
pub mod export;
pub mod rows;

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use crate::services::ServiceError;
use crate::services::audit::filter::AuditFilter;
use crate::services::audit::query::{AuditEvent, Cursor, PAGE_SIZE};
use crate::services::users::Role;
use crate::tui::keymap::Command;
use crate::tui::msg::{AuditResult, AuditWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::paged::{FILTERING, Listing, Paged};
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::text::clip;

use detail::Detail;
use export::ExportForm;

/// How often the live tail asks for new events.
pub const TAIL_EVERY: Duration = Duration::from_secs(1);

/// The audit trail for `Paged`: newest first, under an [`AuditFilter`].
pub struct Events;

impl Listing for Events {
    type Row = AuditEvent;
    type Cursor = Cursor;
    type Filter = AuditFilter;

    fn parse(text: &str) -> Result<AuditFilter, ServiceError> {
        AuditFilter::parse(text)
    }

    fn ask(filter: &AuditFilter, after: Option<Cursor>, cx: &mut Cx) -> Ticket {
        cx.audit_work(AuditWork::List {
            filter: filter.clone(),
            after,
        })
    }
}

/// A page opened over the list.
#[derive(Debug)]
pub enum Page {
    Detail(Detail),
    Export(Box<ExportForm>),
}

/// A poll of the live tail on its way, and the filter it was asked for.
#[derive(Debug)]
struct Polling {
    ticket: Ticket,
    filter: AuditFilter,
}

/// The whole Audit tab.
#[derive(Debug)]
pub struct AuditTab {
    pub role: Role,
    /// Where exports go.
    exports: std::path::PathBuf,
    pub list: Paged<Events>,
    /// The chain's last sequence number when the list or the tail was last read.
    head: Option<i64>,
    /// Whether new events are followed while the first page is on show.
    pub follow: bool,
    polling: Option<Polling>,
    last_poll: Option<Instant>,
    /// A "reviewed" mark on its way: its ticket and the event's sequence number.
    reviewing: Option<(Ticket, i64)>,
    pub page: Option<Page>,
}

impl AuditTab {
    /// The tab, with its first page on the way.
    pub fn open(role: Role, exports: std::path::PathBuf, cx: &mut Cx) -> AuditTab {
        let mut list = Paged::new();
        list.reload(cx);
        AuditTab {
            role,
            exports,
            list,
            head: None,
            follow: true,
            polling: None,
            last_poll: None,
            reviewing: None,
            page: None,
        }
    }

    /// Whether this reader is a patient (their view is an accounting of who looked at their records).
    pub fn patient_view(&self) -> bool {
        self.role == Role::Patient
    }

    pub fn typing(&self) -> bool {
        match &self.page {
            Some(Page::Export(form)) => form.typing(),
            Some(Page::Detail(_)) => false,
            None => self.list.filtering,
        }
    }

    pub fn commands(&self) -> &'static [Command] {
        const LIST: &[Command] = &[
            Command::Up,
            Command::Down,
            Command::First,
            Command::Last,
            Command::PageDown,
            Command::PageUp,
            Command::Submit,
            Command::Filter,
            Command::Follow,
            Command::ByUser,
            Command::ByPatient,
            Command::ByResource,
            Command::Reviewed,
            Command::Export,
            Command::Refresh,
            Command::TabRecords,
            Command::TabGrants,
            Command::TabAdmin,
            Command::TabAccount,
            Command::Back,
            Command::Quit,
        ];
        match &self.page {
            Some(Page::Detail(_)) => detail::COMMANDS,
            Some(Page::Export(form)) => form.commands(),
            None if self.list.filtering => FILTERING,
            None => LIST,
        }
    }

    pub fn title(&self) -> &'static str {
        match &self.page {
            Some(Page::Detail(_)) => "Audit event",
            Some(Page::Export(_)) => "Export audit events",
            None if self.patient_view() => "Who looked at your records",
            None => "Audit trail",
        }
    }

    pub fn busy(&self) -> bool {
        self.list.busy()
            || self.reviewing.is_some()
            || matches!(&self.page, Some(Page::Export(f)) if f.busy())
    }

    pub fn show_note(&mut self, note: Note) {
        match &mut self.page {
            Some(Page::Export(form)) => form.note = Some(note),
            _ => self.list.note = Some(note),
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        match &mut self.page {
            Some(Page::Export(form)) => form.paste(text),
            Some(Page::Detail(_)) => {}
            None => self.list.paste(text, cx),
        }
    }

    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        match &mut self.page {
            Some(Page::Export(form)) => {
                if form.key(key, command, cx) {
                    self.page = None;
                }
                return;
            }
            Some(Page::Detail(d)) => {
                match command {
                    Some(Command::Back | Command::Quit | Command::Submit) => self.page = None,
                    Some(Command::Up) => d.scroll = d.scroll.saturating_sub(1),
                    Some(Command::Down) => d.scroll = d.scroll.saturating_add(1),
                    Some(Command::PageUp) => d.scroll = d.scroll.saturating_sub(10),
                    Some(Command::PageDown) => d.scroll = d.scroll.saturating_add(10),
                    Some(Command::First) => d.scroll = 0,
                    Some(
                        c @ (Command::ByUser
                        | Command::ByPatient
                        | Command::ByResource
                        | Command::Reviewed),
                    ) if self.event_command(c, cx) => self.page = None,
                    _ => {}
                }
                return;
            }
            None => {}
        }
        if self.list.key(key, command, cx) {
            return;
        }
        match command {
            Some(Command::Quit) => cx.leave = true,
            Some(Command::Submit) => match self.list.selected_row() {
                Some(_) => self.page = Some(Page::Detail(Detail::default())),
                None => self.list.note = Some(Note::Info("There is no event to open.".into())),
            },
            Some(Command::Follow) => {
                self.follow = !self.follow;
                self.list.note = Some(Note::Info(
                    if self.follow {
                        "Following: new events appear at the top while the first page is on show."
                    } else {
                        "No longer following new events; F5 reads the list again."
                    }
                    .into(),
                ));
            }
            Some(Command::Export) => {
                let form = ExportForm::new(
                    self.list.filter.clone(),
                    self.describe_filter(),
                    self.exports.clone(),
                    cx,
                );
                self.page = Some(Page::Export(Box::new(form)));
            }
            Some(c) => {
                self.event_command(c, cx);
            }
            None => {}
        }
    }

    /// The commands about the selected event: the events of its user, patient or record, and the
    /// "reviewed" mark. True when the command did something (the detail page then closes).
    fn event_command(&mut self, command: Command, cx: &mut Cx) -> bool {
        let Some(event) = self.list.selected_row() else {
            self.list.note = Some(Note::Info("Select an event first.".into()));
            return false;
        };
        let (jump, missing) = match command {
            Command::ByUser => (
                event.user.as_ref().map(|u| format!("user:{}", u.id)),
                "This event names no user.",
            ),
            Command::ByPatient => (
                event.patient.as_ref().map(|p| format!("patient:{}", p.id)),
                "This event is about no patient.",
            ),
            Command::ByResource => (
                event.resource_id.map(|id| format!("resource:{id}")),
                "This event names no record or other resource.",
            ),
            Command::Reviewed => return self.mark_reviewed(cx),
            _ => return false,
        };
        match jump {
            Some(text) => {
                self.list.filter_to(&text, cx);
                true
            }
            None => {
                self.list.note = Some(Note::Info(missing.into()));
                false
            }
        }
    }

    fn mark_reviewed(&mut self, cx: &mut Cx) -> bool {
        if self.role != Role::Admin {
            self.list.note = Some(Note::Error("Only admins mark events reviewed.".into()));
            return false;
        }
        let Some(event) = self.list.selected_row() else {
            return false;
        };
        if let Some(review) = &event.review {
            let by = review.by.name.as_deref().unwrap_or("someone");
            self.list.note = Some(Note::Info(format!(
                "Event {} was already marked reviewed by {by}.",
                event.seq
            )));
            return false;
        }
        if self.reviewing.is_some() {
            return false;
        }
        let seq = event.seq;
        let ticket = cx.audit_work(AuditWork::Review { seq });
        self.reviewing = Some((ticket, seq));
        true
    }

    /// The filter on show, as the export form states it.
    fn describe_filter(&self) -> String {
        let text = self.list.filter_field.value().trim();
        if self.list.filter == AuditFilter::default() || text.is_empty() {
            "every event you may see".into()
        } else {
            format!("the events matching \"{text}\"")
        }
    }

    /// The heartbeat: a filter typed and paused on is applied, and the live tail polls.
    pub fn tick(&mut self, cx: &mut Cx) {
        self.list.tick(cx);
        let due = self
            .last_poll
            .is_none_or(|at| cx.now.saturating_duration_since(at) >= TAIL_EVERY);
        let Some(head) = self.head else {
            return;
        };
        if self.follow
            && due
            && self.polling.is_none()
            && self.page.is_none()
            && !self.list.filtering
            && self.list.at_first_page()
        {
            self.last_poll = Some(cx.now);
            let filter = self.list.filter.clone();
            let ticket = cx.audit_work(AuditWork::Newer {
                filter: filter.clone(),
                after_seq: head,
            });
            self.polling = Some(Polling { ticket, filter });
        }
    }

    /// Hands a result to whoever waits for `ticket`; one nobody waits for is dropped.
    pub fn done(&mut self, ticket: Ticket, result: AuditResult, cx: &mut Cx) {
        match result {
            AuditResult::Page(result) if self.list.awaits(ticket) => {
                if let Ok(page) = &result {
                    self.head = Some(page.head);
                    self.last_poll = Some(cx.now);
                }
                self.list
                    .done(ticket, result.map(|page| (page.events, page.next)), cx);
            }
            AuditResult::Newer(result) => {
                let Some(polling) = self.polling.take_if(|p| p.ticket == ticket) else {
                    return;
                };
                match result {
                    Ok((events, head)) => {
                        cx.heard();
                        // A poll for a filter no longer on show, or overtaken by a page, is dropped.
                        if polling.filter == self.list.filter && self.list.at_first_page() {
                            self.head = Some(head);
                            self.arrived(events);
                        }
                    }
                    Err(e) => self.list.note = Some(Note::Error(cx.sentence(&e))),
                }
            }
            AuditResult::Reviewed { seq, result } => {
                if self.reviewing.take_if(|(t, _)| *t == ticket).is_none() {
                    return;
                }
                match result {
                    Ok(review) => {
                        cx.heard();
                        if let Some(e) = self.list.rows.iter_mut().find(|e| e.seq == seq) {
                            e.review = Some(review);
                        }
                        self.list.note = Some(Note::Info(format!("Event {seq} marked reviewed.")));
                    }
                    Err(e) => self.list.note = Some(Note::Error(cx.sentence(&e))),
                }
            }
            AuditResult::Exported(result) => {
                if let Some(Page::Export(form)) = &mut self.page
                    && form.awaits(ticket)
                    && let Some(note) = form.done(result, cx)
                {
                    self.page = None;
                    self.list.note = Some(note);
                }
            }
            AuditResult::Page(_) => {}
        }
    }

    /// New events from the tail (oldest first) go on top; the page keeps its size, and the
    /// selection stays on the event it was on unless it was on the newest.
    fn arrived(&mut self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        let n = events.len();
        let rows = &mut self.list.rows;
        let mut fresh: Vec<AuditEvent> = events.into_iter().rev().collect();
        fresh.append(rows);
        *rows = fresh;
        if self.list.selected > 0 {
            self.list.selected += n;
        }
        if rows.len() > PAGE_SIZE {
            rows.truncate(PAGE_SIZE);
            self.list.next = rows.last().map(AuditEvent::cursor);
        }
        self.list.selected = self.list.selected.min(rows.len().saturating_sub(1));
        self.list.note = Some(Note::Info(if n == 1 {
            "1 new event.".into()
        } else {
            format!("{n} new events.")
        }));
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        match &self.page {
            Some(Page::Detail(d)) => {
                if let Some(event) = self.list.selected_row() {
                    d.view(f, area, event, self, look);
                }
            }
            Some(Page::Export(form)) => form.view(f, area, look),
            None => self.list_view(f, area, look),
        }
    }

    fn list_view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [top, table, pane, note, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(detail::PANE_HEIGHT),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        let [text, status] =
            Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
        if self.list.filtering || !self.list.filter_field.value().is_empty() {
            self.list
                .filter_field
                .render(f, text, self.list.filtering, theme);
        } else {
            let live = if self.follow && self.list.at_first_page() {
                "live"
            } else {
                "paused"
            };
            let line = format!(
                "{}, newest first · {live} · {} filter: since:24h user:NAME patient:NAME action:RECORD_VIEW severity:high outcome:denied resource:ID",
                self.heading(),
                look.keys.key(Command::Filter)
            );
            f.render_widget(
                Paragraph::new(Span::styled(
                    clip(&line, usize::from(text.width)),
                    theme.muted,
                )),
                text,
            );
        }
        self.list.status(f, status, look);
        rows::table(self, f, table, look);
        detail::pane(f, pane, self.list.selected_row(), self.patient_view(), look);
        common::note(f, note, self.list.note.as_ref(), theme);
        let mut items = vec![
            (Command::Submit, "open"),
            (Command::Filter, "filter"),
            (Command::ByUser, "by user"),
        ];
        if !self.patient_view() {
            items.push((Command::ByPatient, "by patient"));
        }
        items.push((Command::ByResource, "by record"));
        if self.role == Role::Admin {
            items.push((Command::Reviewed, "reviewed"));
        }
        items.extend([
            (Command::Export, "export"),
            (Command::Follow, "live on/off"),
            (Command::PageDown, "older"),
        ]);
        look.hint_line(f, hint, &look.hints(&items));
    }

    fn heading(&self) -> &'static str {
        match self.role {
            Role::Patient => "Who looked at your records",
            Role::MedicalRecords => "Events about records",
            _ => "Every event",
        }
    }
}
