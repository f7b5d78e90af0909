//! The record browser: newest first, a page of `PAGE_SIZE` rows at a time through keyset cursors
//! (PgDn follows the page's `next`, PgUp goes back through a stack of the cursors before it), and a
//! `/` filter applied as it is typed, once typing pauses. Staff who see metadata only get "—" for
//! the title. A filtered page may come back empty with a `next`: the service stopped at its scan
//! budget, and PgDn searches on from there.

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::detail::Detail;
use super::history::History;
use super::picker::Picker;
use super::{Cx, Look, Nav, Page};
use crate::services::records::{Access, Cursor, Filter, PAGE_SIZE};
use crate::tui::keymap::Command;
use crate::tui::msg::{RecordResult, RecordWork, Ticket};
use crate::tui::screens::common;
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;
use crate::tui::widgets::text::clip;

/// One row of the browser: the service's summary (no title for metadata-only staff).
pub use crate::services::records::RecordSummary as RecordRow;

/// One page of rows, and where the next one starts.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordPage {
    pub rows: Vec<RecordRow>,
    pub next: Option<Cursor>,
}

/// Titles and names stay out of `Debug`.
impl std::fmt::Debug for RecordPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordPage")
            .field("rows", &self.rows.len())
            .field("next", &self.next)
            .finish()
    }
}

/// How long typing in the filter pauses before the list is asked for.
pub const FILTER_PAUSE: Duration = Duration::from_millis(250);

/// A page request on its way.
struct Loading {
    ticket: Ticket,
    after: Option<Cursor>,
    earlier: Vec<Option<Cursor>>,
    filter: Filter,
    keep_selection: bool,
}

pub struct Browser {
    pub rows: Vec<RecordRow>,
    pub selected: usize,
    /// Where the page after this one starts.
    pub next: Option<Cursor>,
    /// The cursor each earlier page was loaded with (None: the first page).
    pub earlier: Vec<Option<Cursor>>,
    /// The cursor this page was loaded with.
    pub after: Option<Cursor>,
    pub filter_field: Field,
    pub filtering: bool,
    /// The filter of the rows on show.
    pub filter: Filter,
    loading: Option<Loading>,
    /// When the filter line last changed, while its list has not been asked for yet.
    filter_typed: Option<Instant>,
    pub loaded: bool,
    pub note: Option<Note>,
}

/// Titles, names and what was typed in the filter stay out of `Debug`.
impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("rows", &self.rows.len())
            .field("selected", &self.selected)
            .field("page", &(self.earlier.len() + 1))
            .field("next", &self.next)
            .field("filtering", &self.filtering)
            .field("filter_field", &self.filter_field)
            .field("loading", &self.loading.as_ref().map(|l| l.ticket))
            .field("filter_typed", &self.filter_typed)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            rows: Vec::new(),
            selected: 0,
            next: None,
            earlier: Vec::new(),
            after: None,
            filter_field: Field::new("Filter", 200),
            filtering: false,
            filter: Filter::default(),
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
            &[
                Command::Submit,
                Command::Back,
                Command::Up,
                Command::Down,
                Command::PageDown,
                Command::PageUp,
            ]
        } else {
            &[
                Command::Up,
                Command::Down,
                Command::First,
                Command::Last,
                Command::PageDown,
                Command::PageUp,
                Command::Submit,
                Command::Filter,
                Command::Edit,
                Command::NewRecord,
                Command::History,
                Command::BreakGlass,
                Command::Refresh,
                Command::TabGrants,
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
        filter: Filter,
        keep: bool,
        cx: &mut Cx,
    ) {
        let ticket = cx.work(RecordWork::List {
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

    /// Loads the page on show again (after a save, a break-glass, or F5).
    pub fn reload(&mut self, cx: &mut Cx) {
        self.load(
            self.after,
            self.earlier.clone(),
            self.filter.clone(),
            true,
            cx,
        );
    }

    fn selected_row(&self) -> Option<&RecordRow> {
        self.rows.get(self.selected)
    }

    pub fn key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        access: Access,
        cx: &mut Cx,
    ) -> Nav {
        if self.filtering {
            return self.filter_key(key, command, cx);
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
            Some(Command::Submit) => {
                if let Some(row) = self.selected_row() {
                    return Nav::Push(Page::Detail(Detail::open(row.id, cx)));
                }
            }
            Some(Command::Edit) => {
                if !access.write {
                    self.note = Some(Note::Error("Your role does not edit records.".into()));
                } else if let Some(row) = self.selected_row() {
                    let mut d = Detail::open(row.id, cx);
                    d.edit_when_loaded = true;
                    return Nav::Push(Page::Detail(d));
                }
            }
            Some(Command::History) => {
                if !access.content {
                    self.note = Some(Note::Error(
                        "Your role sees records' index cards only, not their versions.".into(),
                    ));
                } else if let Some(row) = self.selected_row() {
                    return Nav::Push(Page::History(History::open(row.id, cx)));
                }
            }
            Some(Command::NewRecord) => {
                if access.write {
                    return Nav::Push(Page::Picker(Picker::for_new_record(cx)));
                }
                self.note = Some(Note::Error("Your role does not add records.".into()));
            }
            Some(Command::BreakGlass) => {
                if access.break_glass {
                    return Nav::Push(Page::Picker(Picker::for_emergency()));
                }
                self.note = Some(Note::Error(
                    "Only physicians and nurses may use emergency access.".into(),
                ));
            }
            _ => {}
        }
        Nav::Stay
    }

    /// The page after this one (for a filter, the search goes on from where the last one stopped).
    fn page_down(&mut self, cx: &mut Cx) {
        if self.filter_typed.is_some() {
            // The filter line changed: its first page comes before any next one.
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

    fn filter_key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> Nav {
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
        Nav::Stay
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

    /// The heartbeat: once typing in the filter has paused for `FILTER_PAUSE`, the list is asked
    /// for (one query for a burst of keys, not one per key).
    pub fn tick(&mut self, cx: &mut Cx) {
        if self
            .filter_typed
            .is_some_and(|at| cx.now.saturating_duration_since(at) >= FILTER_PAUSE)
        {
            self.apply_filter(cx);
        }
    }

    /// Starts the list for what the filter line says now; a filter that does not parse is said
    /// in one sentence and the rows on show stay as they are.
    fn apply_filter(&mut self, cx: &mut Cx) {
        self.filter_typed = None;
        match Filter::parse(self.filter_field.value()) {
            Ok(filter) => {
                self.note = None;
                if filter == self.filter && self.loading.is_none() {
                    return;
                }
                self.load(None, Vec::new(), filter, false, cx);
            }
            Err(e) => {
                // A page for an earlier filter is no longer wanted either.
                self.loading = None;
                self.note = Some(Note::Error(e.to_string()));
            }
        }
    }

    pub fn done(&mut self, ticket: Ticket, result: RecordResult, cx: &mut Cx) -> Nav {
        let Some(loading) = self.loading.take_if(|l| l.ticket == ticket) else {
            return Nav::Stay;
        };
        let RecordResult::Page(result) = result else {
            return Nav::Stay;
        };
        match result {
            Ok(page) => {
                cx.heard();
                self.rows = page.rows;
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
        Nav::Stay
    }

    pub fn view(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let [top, table, note, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(2),
            Constraint::Length(1),
        ])
        .areas(area);
        if self.filtering || !self.filter_field.value().is_empty() {
            let [field, status] =
                Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
            self.filter_field.render(f, field, self.filtering, theme);
            self.status(f, status, look);
        } else {
            let [text, status] =
                Layout::horizontal([Constraint::Min(20), Constraint::Length(22)]).areas(top);
            let text_line = format!(
                "Newest first · {} to filter by name, type, title or date (2024-02, 2024-01..2024-03)",
                look.keys.key(Command::Filter)
            );
            f.render_widget(
                Paragraph::new(Span::styled(
                    clip(&text_line, usize::from(text.width)),
                    theme.muted,
                )),
                text,
            );
            self.status(f, status, look);
        }
        self.table(f, table, look);
        common::note(f, note, self.note.as_ref(), theme);
        let mut items = vec![(Command::Submit, "open")];
        if look.access.write {
            items.push((Command::Edit, "edit"));
            items.push((Command::NewRecord, "new"));
        }
        if look.access.content {
            items.push((Command::History, "history"));
        }
        items.push((Command::Filter, "filter"));
        if look.access.break_glass {
            items.push((Command::BreakGlass, "break-glass"));
        }
        items.push((Command::PageDown, "next page"));
        items.push((Command::PageUp, "previous"));
        look.hint_line(f, hint, &look.hints(&items));
    }

    fn status(&self, f: &mut Frame, area: Rect, look: &Look) {
        let page = self.earlier.len() + 1;
        let text = if self.loading.is_some() {
            format!("{} loading… · page {page}", common::spinner(look.ticks))
        } else {
            format!("page {page} · {} shown", self.rows.len())
        };
        f.render_widget(
            Paragraph::new(Line::styled(text, look.theme.muted)).right_aligned(),
            area,
        );
    }

    fn table(&self, f: &mut Frame, area: Rect, look: &Look) {
        let theme = look.theme;
        let block = Block::default()
            .borders(Borders::TOP)
            .title(format!(" Records · up to {PAGE_SIZE} a page "));
        let inner = block.inner(area);
        f.render_widget(block, area);
        if !self.loaded {
            common::busy(f, inner, "Loading records…", look.ticks, theme);
            return;
        }
        if self.rows.is_empty() {
            let text = if self.next.is_some() {
                // The service looked through as many rows as one page may cost, and found none.
                format!(
                    "No match in the records searched so far — {} searches further.",
                    look.keys.key(Command::PageDown)
                )
            } else if self.filter.is_empty() {
                "No records to show.".to_string()
            } else {
                "No records match the filter.".to_string()
            };
            f.render_widget(Paragraph::new(Span::styled(text, theme.muted)), inner);
            return;
        }
        let widths = [
            Constraint::Length(10),
            Constraint::Length(15),
            Constraint::Length(12),
            Constraint::Min(16),
            Constraint::Length(13),
            Constraint::Length(3),
        ];
        let columns = Layout::horizontal(widths).spacing(1).split(Rect::new(
            0,
            0,
            inner.width.saturating_sub(2),
            1,
        ));
        let w = |i: usize| usize::from(columns[i].width);
        let rows = self.rows.iter().map(|r| {
            let title = match &r.title {
                Some(t) => clip(t, w(3)),
                None => "—".to_string(),
            };
            Row::new(vec![
                Cell::from(r.record_date.to_string()),
                Cell::from(clip(&r.patient.name, w(1))),
                Cell::from(clip(r.record_type.label(), w(2))),
                Cell::from(title),
                Cell::from(clip(&r.provider.name, w(4))),
                Cell::from(format!("v{}", r.version)),
            ])
        });
        let header = Row::new(vec!["Date", "Patient", "Type", "Title", "Provider", "Ver"])
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
