//! The grant list: soonest expiry first, a page of `PAGE_SIZE` at a time through keyset cursors
//! (PgDn follows the page's `next`, PgUp goes back through the cursors before it), a `/` filter
//! applied once typing pauses, and a detail pane for the selected grant. Active grants are shown
//! unless the filter names another status.

use std::time::Instant;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::change::{ExpiryForm, RevokeForm};
use super::form::GrantForm;
use super::{Nav, Page};
use crate::services::grants::{
    AccessLevel, Cursor, Grant, GrantFilter, GrantStatus, GrantView, PAGE_SIZE, StatusFilter,
};
use crate::tui::keymap::Command;
use crate::tui::msg::{GrantResult, GrantWork, Ticket};
use crate::tui::screens::common;
use crate::tui::screens::records::browser::FILTER_PAUSE;
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::text::clip;

/// A page request on its way.
struct Loading {
    ticket: Ticket,
    after: Option<Cursor>,
    earlier: Vec<Option<Cursor>>,
    filter: GrantFilter,
    keep_selection: bool,
}

pub struct GrantList {
    pub view: GrantView,
    pub rows: Vec<Grant>,
    pub selected: usize,
    pub next: Option<Cursor>,
    pub earlier: Vec<Option<Cursor>>,
    pub after: Option<Cursor>,
    pub filter_field: Field,
    pub filtering: bool,
    pub filter: GrantFilter,
    loading: Option<Loading>,
    filter_typed: Option<Instant>,
    pub loaded: bool,
    pub note: Option<Note>,
}

/// Names and what was typed in the filter stay out of `Debug`.
impl std::fmt::Debug for GrantList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantList")
            .field("view", &self.view)
            .field("rows", &self.rows.len())
            .field("selected", &self.selected)
            .field("page", &(self.earlier.len() + 1))
            .field("next", &self.next)
            .field("filtering", &self.filtering)
            .field("loading", &self.loading.as_ref().map(|l| l.ticket))
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl GrantList {
    pub fn new(view: GrantView) -> GrantList {
        GrantList {
            view,
            rows: Vec::new(),
            selected: 0,
            next: None,
            earlier: Vec::new(),
            after: None,
            filter_field: Field::new("Filter", 200),
            filtering: false,
            filter: GrantFilter::default(),
            loading: None,
            filter_typed: None,
            loaded: false,
            note: None,
        }
    }

    pub fn typing(&self) -> bool {
        self.filtering
    }

    pub fn busy(&self) -> bool {
        self.loading.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.loading.as_ref().is_some_and(|l| l.ticket == ticket)
    }

    pub fn commands(&self) -> &'static [Command] {
        if self.filtering {
            return &[
                Command::Submit,
                Command::Back,
                Command::Up,
                Command::Down,
                Command::PageDown,
                Command::PageUp,
            ];
        }
        if self.view.manages() {
            &[
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
                Command::TabAccount,
                Command::Back,
                Command::Quit,
            ]
        } else {
            &[
                Command::Up,
                Command::Down,
                Command::First,
                Command::Last,
                Command::PageDown,
                Command::PageUp,
                Command::Filter,
                Command::Refresh,
                Command::TabRecords,
                Command::TabAccount,
                Command::Back,
                Command::Quit,
            ]
        }
    }

    fn load(
        &mut self,
        after: Option<Cursor>,
        earlier: Vec<Option<Cursor>>,
        filter: GrantFilter,
        keep: bool,
        cx: &mut Cx,
    ) {
        let ticket = cx.grant_work(GrantWork::List {
            filter: filter.clone(),
            after,
        });
        self.loading = Some(Loading {
            ticket,
            after,
            earlier,
            filter,
            keep_selection: keep,
        });
    }

    /// Loads the page on show again.
    pub fn reload(&mut self, cx: &mut Cx) {
        self.load(
            self.after,
            self.earlier.clone(),
            self.filter.clone(),
            true,
            cx,
        );
    }

    /// A change landed: the list is read again, and says what happened.
    pub fn changed(&mut self, grant: Grant, note: String, cx: &mut Cx) {
        self.reload(cx);
        // Until the page comes back, the changed grant shows as it now stands.
        if let Some(row) = self.rows.iter_mut().find(|r| r.id == grant.id) {
            *row = grant;
        }
        self.note = Some(Note::Info(note));
    }

    pub fn selected_grant(&self) -> Option<&Grant> {
        self.rows.get(self.selected)
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        max_days: u32,
        cx: &mut Cx,
    ) -> Nav {
        if self.filtering {
            self.filter_key(key, command, cx);
            return Nav::Stay;
        }
        let last = self.rows.len().saturating_sub(1);
        match command {
            Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Command::Down) => self.selected = (self.selected + 1).min(last),
            Some(Command::First) => self.selected = 0,
            Some(Command::Last) => self.selected = last,
            Some(Command::PageDown) => self.page_down(cx),
            Some(Command::PageUp) => self.page_up(cx),
            Some(Command::Filter) => {
                self.filtering = true;
                self.note = None;
            }
            Some(Command::Back) if !self.filter_field.value().is_empty() => {
                self.filter_field.clear();
                self.apply_filter(cx);
            }
            Some(Command::Refresh) => self.reload(cx),
            Some(Command::Quit) => return Nav::Quit,
            Some(Command::NewGrant) => {
                if self.view.manages() {
                    return Nav::Open(Page::New(Box::new(GrantForm::new(self.view, max_days, cx))));
                }
                self.note = Some(Note::Error(READ_ONLY.into()));
            }
            Some(Command::ChangeExpiry) => match self.changeable() {
                Ok(g) if g.is_emergency => {
                    self.note = Some(Note::Error(
                        "Emergency access keeps its hour; revoke it to end it sooner.".into(),
                    ));
                }
                Ok(g) => {
                    return Nav::Open(Page::Expiry(Box::new(ExpiryForm::new(
                        g.clone(),
                        cx.today,
                        max_days,
                    ))));
                }
                Err(e) => self.note = Some(Note::Error(e)),
            },
            Some(Command::Revoke) => match self.changeable() {
                Ok(g) => return Nav::Open(Page::Revoke(Box::new(RevokeForm::new(g.clone())))),
                Err(e) => self.note = Some(Note::Error(e)),
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
            .selected_grant()
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

    fn page_down(&mut self, cx: &mut Cx) {
        if self.filter_typed.is_some() {
            self.apply_filter(cx);
            return;
        }
        match self.next {
            Some(next) => {
                let mut earlier = self.earlier.clone();
                earlier.push(self.after);
                self.load(Some(next), earlier, self.filter.clone(), false, cx);
            }
            None => self.note = Some(Note::Info("This is the last page.".into())),
        }
    }

    fn page_up(&mut self, cx: &mut Cx) {
        let mut earlier = self.earlier.clone();
        match earlier.pop() {
            Some(after) => self.load(after, earlier, self.filter.clone(), false, cx),
            None => {
                self.selected = 0;
                self.note = Some(Note::Info("This is the first page.".into()));
            }
        }
    }

    fn filter_key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) {
        match command {
            Some(Command::PageDown) => self.page_down(cx),
            Some(Command::PageUp) => self.page_up(cx),
            Some(Command::Back) => {
                self.filtering = false;
                self.filter_field.clear();
                self.apply_filter(cx);
            }
            Some(Command::Submit) => {
                self.filtering = false;
                if self.filter_typed.is_some() {
                    self.apply_filter(cx);
                }
            }
            Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Command::Down) => {
                self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1));
            }
            _ => {
                let before = self.filter_field.value().to_string();
                match self.filter_field.key(key) {
                    Err(e) => self.note = Some(Note::Error(e)),
                    Ok(()) if self.filter_field.value() != before => {
                        self.filter_typed = Some(cx.now)
                    }
                    Ok(()) => {}
                }
            }
        }
    }

    pub fn paste(&mut self, text: &str, cx: &mut Cx) {
        if !self.filtering {
            return;
        }
        match self.filter_field.paste(text) {
            Ok(()) => self.filter_typed = Some(cx.now),
            Err(e) => self.note = Some(Note::Error(e)),
        }
    }

    /// Once typing in the filter has paused, the list is asked for.
    pub fn tick(&mut self, cx: &mut Cx) {
        if self
            .filter_typed
            .is_some_and(|at| cx.now.saturating_duration_since(at) >= FILTER_PAUSE)
        {
            self.apply_filter(cx);
        }
    }

    fn apply_filter(&mut self, cx: &mut Cx) {
        self.filter_typed = None;
        match GrantFilter::parse(self.filter_field.value()) {
            Ok(filter) => {
                self.note = None;
                if filter == self.filter && self.loading.is_none() {
                    return;
                }
                self.load(None, Vec::new(), filter, false, cx);
            }
            Err(e) => {
                self.loading = None;
                self.note = Some(Note::Error(e.to_string()));
            }
        }
    }

    pub fn done(&mut self, ticket: Ticket, result: GrantResult, cx: &mut Cx) {
        let Some(loading) = self.loading.take_if(|l| l.ticket == ticket) else {
            return;
        };
        let GrantResult::Page(result) = result else {
            return;
        };
        match result {
            Ok(page) => {
                cx.heard();
                self.rows = page.grants;
                self.next = page.next;
                self.after = loading.after;
                self.earlier = loading.earlier;
                self.filter = loading.filter;
                self.loaded = true;
                self.selected = if loading.keep_selection {
                    self.selected.min(self.rows.len().saturating_sub(1))
                } else {
                    0
                };
                if matches!(self.note, Some(Note::Error(_))) {
                    self.note = None;
                }
            }
            Err(e) => self.note = Some(Note::Error(cx.sentence(&e))),
        }
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [top, table, detail, note, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(4),
            Constraint::Length(7),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        let [text, status] =
            Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
        if self.filtering || !self.filter_field.value().is_empty() {
            self.filter_field.render(f, text, self.filtering, theme);
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
        let page = self.earlier.len() + 1;
        let status_text = if self.loading.is_some() {
            format!("{} loading… · page {page}", common::spinner(look.ticks))
        } else {
            format!("page {page} · {} shown", self.rows.len())
        };
        f.render_widget(
            Paragraph::new(Line::styled(status_text, theme.muted)).right_aligned(),
            status,
        );
        self.table(f, table, look);
        super::detail::pane(f, detail, self.selected_grant(), look);
        common::note(f, note, self.note.as_ref(), theme);
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
        let status = match self.filter.status {
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
        let theme = look.theme;
        let block = Block::default()
            .borders(Borders::TOP)
            .title(format!(" Grants · up to {PAGE_SIZE} a page "));
        let inner = block.inner(area);
        f.render_widget(block, area);
        if !self.loaded {
            common::busy(f, inner, "Loading grants…", look.ticks, theme);
            return;
        }
        if self.rows.is_empty() {
            let text = if self.filter == GrantFilter::default() {
                match self.view {
                    GrantView::Incoming => "You hold no active grants.",
                    GrantView::OwnRecords => "No one holds an active grant on your records.",
                    GrantView::All => "No active grants.",
                }
            } else {
                "No grants match the filter."
            };
            f.render_widget(Paragraph::new(Span::styled(text, theme.muted)), inner);
            return;
        }
        let widths = [
            Constraint::Length(16),
            Constraint::Length(7),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(4),
            Constraint::Min(10),
        ];
        let columns = Layout::horizontal(widths).spacing(1).split(Rect::new(
            0,
            0,
            inner.width.saturating_sub(2),
            1,
        ));
        let w = |i: usize| usize::from(columns[i].width);
        let rows = self.rows.iter().map(|g| {
            let scope = match (&g.records, g.is_emergency) {
                (_, true) => "EMERGENCY, all".to_string(),
                (None, false) => "all records".to_string(),
                (Some(r), false) if r.len() == 1 => "1 record".to_string(),
                (Some(r), false) => format!("{} records", r.len()),
            };
            Row::new(vec![
                Cell::from(g.expires_at.format("%Y-%m-%d %H:%M").to_string()),
                Cell::from(g.status.label()),
                Cell::from(clip(&g.patient.name, w(2))),
                Cell::from(clip(&g.grantee.name, w(3))),
                Cell::from(level_short(g.level)),
                Cell::from(clip(&scope, w(5))),
            ])
        });
        let header = Row::new(vec![
            "Expires (UTC)",
            "Status",
            "Patient",
            "Grantee",
            "Acc",
            "Scope",
        ])
        .style(theme.muted);
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .row_highlight_style(theme.selected)
            .highlight_symbol("▶ ")
            .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
        let mut state = TableState::default().with_selected(Some(self.selected));
        f.render_stateful_widget(table, inner, &mut state);
    }
}

const READ_ONLY: &str = "You see the grants you hold; records staff and the patient change them.";

fn level_short(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Read => "R",
        AccessLevel::ReadWrite => "RW",
    }
}
