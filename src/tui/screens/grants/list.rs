//! The grant list: soonest expiry first, a page of `PAGE_SIZE` at a time with a `/` filter (the
//! paging and the filter line are `Paged`'s), and a detail pane for the selected grant. Active
//! grants are shown unless the filter names another status.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::change::ChangeForm;
use super::form::GrantForm;
use super::{Nav, Page};
use crate::services::ServiceError;
use crate::services::grants::{
    AccessLevel, Cursor, Grant, GrantFilter, GrantStatus, GrantView, PAGE_SIZE, StatusFilter,
};
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::paged::{Columns, FILTERING, Listing, Paged};
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::text::clip;

/// The grants list for `Paged`: by expiry, filtered by status, names and days to expiry.
pub struct Grants;

impl Listing for Grants {
    type Row = Grant;
    type Cursor = Cursor;
    type Filter = GrantFilter;

    fn parse(text: &str) -> Result<GrantFilter, ServiceError> {
        GrantFilter::parse(text)
    }

    fn ask(filter: &GrantFilter, after: Option<Cursor>, cx: &mut Cx) -> Ticket {
        cx.grant_work(GrantWork::List {
            filter: filter.clone(),
            after,
        })
    }
}

#[derive(Debug)]
pub struct GrantList {
    pub view: GrantView,
    pub list: Paged<Grants>,
}

impl GrantList {
    pub fn new(view: GrantView) -> GrantList {
        GrantList {
            view,
            list: Paged::new(),
        }
    }

    pub fn typing(&self) -> bool {
        self.list.filtering
    }

    pub fn busy(&self) -> bool {
        self.list.busy()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.list.awaits(ticket)
    }

    pub fn commands(&self) -> &'static [Command] {
        // A read-only list leaves out the three commands that change grants.
        const LIST: &[Command] = &[
            Command::Up,
            Command::Down,
            Command::First,
            Command::Last,
            Command::PageDown,
            Command::PageUp,
            Command::Filter,
            Command::NewGrant,
            Command::ChangeExpiry,
            Command::Revoke,
            Command::Refresh,
            Command::TabRecords,
            Command::TabAudit,
            Command::TabAdmin,
            Command::TabAccount,
            Command::Back,
            Command::Quit,
        ];
        const READ_ONLY_LIST: &[Command] = &[
            Command::Up,
            Command::Down,
            Command::First,
            Command::Last,
            Command::PageDown,
            Command::PageUp,
            Command::Filter,
            Command::Refresh,
            Command::TabRecords,
            Command::TabAudit,
            Command::TabAdmin,
            Command::TabAccount,
            Command::Back,
            Command::Quit,
        ];
        match (self.list.filtering, self.view.manages()) {
            (true, _) => FILTERING,
            (false, true) => LIST,
            (false, false) => READ_ONLY_LIST,
        }
    }

    /// Loads the page on show again.
    pub fn reload(&mut self, cx: &mut Cx) {
        self.list.reload(cx);
    }

    /// A change landed: the list is read again, and says what happened.
    pub fn changed(&mut self, grant: Grant, note: String, cx: &mut Cx) {
        self.list.reload(cx);
        // Until the page comes back, the changed grant shows as it now stands.
        if let Some(row) = self.list.rows.iter_mut().find(|r| r.id == grant.id) {
            *row = grant;
        }
        self.list.note = Some(Note::Info(note));
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        max_days: u32,
        cx: &mut Cx,
    ) -> Nav {
        if self.list.key(key, command, cx) {
            return Nav::Stay;
        }
        match command {
            Some(Command::Quit) => return Nav::Quit,
            Some(Command::NewGrant) => {
                if self.view.manages() {
                    return Nav::Open(Page::New(Box::new(GrantForm::new(self.view, max_days, cx))));
                }
                self.list.note = Some(Note::Error(READ_ONLY.into()));
            }
            Some(Command::ChangeExpiry) => match self.changeable() {
                Ok(g) if g.is_emergency => {
                    self.list.note = Some(Note::Error(
                        "Emergency access keeps its hour; revoke it to end it sooner.".into(),
                    ));
                }
                Ok(g) => {
                    let form = ChangeForm::expiry(g.clone(), max_days);
                    return Nav::Open(Page::Change(Box::new(form)));
                }
                Err(e) => self.list.note = Some(Note::Error(e)),
            },
            Some(Command::Revoke) => match self.changeable() {
                Ok(g) => return Nav::Open(Page::Change(Box::new(ChangeForm::revoke(g.clone())))),
                Err(e) => self.list.note = Some(Note::Error(e)),
            },
            _ => {}
        }
        Nav::Stay
    }

    /// The selected grant, if this person may change it and it can still change.
    fn changeable(&self) -> Result<&Grant, String> {
        if !self.view.manages() {
            return Err(READ_ONLY.into());
        }
        let grant = self
            .list
            .selected_row()
            .ok_or_else(|| "Select a grant first.".to_string())?;
        match grant.status {
            GrantStatus::Active => Ok(grant),
            GrantStatus::Revoked => {
                Err("This grant was revoked; it cannot change any more.".into())
            }
            GrantStatus::Expired => {
                Err("This grant has expired; create a new grant instead.".into())
            }
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        self.list.paste(text, cx);
    }

    pub fn tick(&mut self, cx: &mut Cx) {
        self.list.tick(cx);
    }

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) {
        if let GrantResult::Page(result) = result {
            self.list
                .done(ticket, result.map(|page| (page.grants, page.next)), cx);
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [top, table, detail, note, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(super::detail::pane_height(self.list.selected_row())),
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
            let line = format!(
                "{}, soonest expiry first · {} filter: all, expired, revoked, emergency, expiring:30, patient:NAME, grantee:NAME",
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
        self.table(f, table, look);
        super::detail::pane(f, detail, self.list.selected_row(), look);
        common::note(f, note, self.list.note.as_ref(), theme);
        let mut items = Vec::new();
        if self.view.manages() {
            items.extend([
                (Command::NewGrant, "new grant"),
                (Command::ChangeExpiry, "expiry"),
                (Command::Revoke, "revoke"),
            ]);
        }
        items.extend([
            (Command::Filter, "filter"),
            (Command::PageDown, "next page"),
            (Command::PageUp, "previous"),
        ]);
        look.hint_line(f, hint, &look.hints(&items));
    }

    /// "Active grants on your records", "Revoked grants you hold (read-only)".
    fn heading(&self) -> String {
        let status = match self.list.filter.status {
            StatusFilter::Active => "Active",
            StatusFilter::Expired => "Expired",
            StatusFilter::Revoked => "Revoked",
            StatusFilter::Emergency => "Emergency",
            StatusFilter::All => "All",
        };
        let whose = match self.view {
            GrantView::All => "",
            GrantView::OwnRecords => " on your records",
            GrantView::Incoming => " you hold (read-only)",
        };
        format!("{status} grants{whose}")
    }

    fn table(&self, f: &mut Frame, area: Rect, look: &Look) {
        let empty = if self.list.filter == GrantFilter::default() {
            match self.view {
                GrantView::Incoming => "You hold no active grants.",
                GrantView::OwnRecords => "No one holds an active grant on your records.",
                GrantView::All => "No active grants.",
            }
        } else {
            "No grants match the filter."
        };
        let columns = Columns {
            title: format!(" Grants · up to {PAGE_SIZE} a page "),
            loading: "Loading grants…",
            empty: empty.to_string(),
            widths: [
                Constraint::Length(16),
                Constraint::Length(7),
                Constraint::Length(16),
                Constraint::Length(16),
                Constraint::Length(4),
                Constraint::Min(10),
            ],
            header: [
                "Expires (UTC)",
                "Status",
                "Patient",
                "Grantee",
                "Acc",
                "Scope",
            ],
        };
        self.list.table(f, area, look, columns, |g, w| {
            let scope = match (&g.records, g.is_emergency) {
                (_, true) => "EMERGENCY, all".to_string(),
                (None, false) => "all records".to_string(),
                (Some(r), false) if r.len() == 1 => "1 record".to_string(),
                (Some(r), false) => format!("{} records", r.len()),
            };
            [
                g.expires_at.format("%Y-%m-%d %H:%M").to_string(),
                g.status.label().to_string(),
                clip(&g.patient.name, w[2]),
                clip(&g.grantee.name, w[3]),
                level_short(g.level).to_string(),
                clip(&scope, w[5]),
            ]
        });
    }
}

const READ_ONLY: &str = "You see the grants you hold; records staff and the patient change them.";

fn level_short(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Read => "R",
        AccessLevel::ReadWrite => "RW",
    }
}
