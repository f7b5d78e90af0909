//! What the record browser and the grant list share: rows a page at a time through keyset cursors
//! (PgDn follows the page's `next`, PgUp goes back through a stack of the cursors before it), a
//! selection, and a `/` filter line applied once typing pauses (one query for a burst of keys). Each
//! list says how its filter is read and how a page is asked for (`Listing`); a page that comes back
//! for a request no longer awaited is dropped.

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use crate::services::ServiceError;
use crate::tui::keymap::Command;
use crate::tui::msg::Ticket;
use crate::tui::screens::common;
use crate::tui::screens::records::{Cx, Look};
use crate::tui::state::Note;
use crate::tui::widgets::field::Field;

/// How long typing in the filter pauses before the list is asked for.
pub const FILTER_PAUSE: Duration = Duration::from_millis(250);

/// The commands of a list while its filter line has the focus.
pub const FILTERING: &[Command] = &[
    Command::Submit,
    Command::Back,
    Command::Up,
    Command::Down,
    Command::PageDown,
    Command::PageUp,
];

/// One kind of paged list: its rows, where a page ends, its filter, and how a page is asked for.
pub trait Listing {
    type Row;
    type Cursor: Copy + PartialEq + std::fmt::Debug;
    type Filter: Clone + PartialEq + Default;

    /// Reads the filter line; a word it does not understand is named in one sentence.
    fn parse(text: &str) -> Result<Self::Filter, ServiceError>;

    /// Asks the runner for the page after `after` under `filter`.
    fn ask(filter: &Self::Filter, after: Option<Self::Cursor>, cx: &mut Cx) -> Ticket;
}

/// What a page request came back with: the rows and where the next page starts, or why not.
pub type PageResult<L> =
    Result<(Vec<<L as Listing>::Row>, Option<<L as Listing>::Cursor>), ServiceError>;

/// How a list's table looks: its title, what it says while loading or empty, and its columns.
pub struct Columns<'a, const N: usize> {
    pub title: String,
    pub loading: &'a str,
    pub empty: String,
    pub widths: [Constraint; N],
    pub header: [&'a str; N],
}

/// A page request on its way.
struct Loading<L: Listing> {
    ticket: Ticket,
    after: Option<L::Cursor>,
    earlier: Vec<Option<L::Cursor>>,
    filter: L::Filter,
    keep_selection: bool,
}

pub struct Paged<L: Listing> {
    pub rows: Vec<L::Row>,
    pub selected: usize,
    /// Where the page after this one starts.
    pub next: Option<L::Cursor>,
    /// The cursor each earlier page was loaded with (None: the first page).
    pub earlier: Vec<Option<L::Cursor>>,
    /// The cursor this page was loaded with.
    pub after: Option<L::Cursor>,
    pub filter_field: Field,
    pub filtering: bool,
    /// The filter of the rows on show.
    pub filter: L::Filter,
    loading: Option<Loading<L>>,
    /// When the filter line last changed, while its list has not been asked for yet.
    filter_typed: Option<Instant>,
    pub loaded: bool,
    pub note: Option<Note>,
}

/// Rows and what was typed in the filter stay out of `Debug`.
impl<L: Listing> std::fmt::Debug for Paged<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paged")
            .field("rows", &self.rows.len())
            .field("selected", &self.selected)
            .field("page", &self.page_number())
            .field("next", &self.next)
            .field("filtering", &self.filtering)
            .field("filter_field", &self.filter_field)
            .field("loading", &self.loading.as_ref().map(|l| l.ticket))
            .field("filter_typed", &self.filter_typed)
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

impl<L: Listing> Default for Paged<L> {
    fn default() -> Self {
        Paged::new()
    }
}

impl<L: Listing> Paged<L> {
    pub fn new() -> Paged<L> {
        Paged {
            rows: Vec::new(),
            selected: 0,
            next: None,
            earlier: Vec::new(),
            after: None,
            filter_field: Field::new("Filter", 200),
            filtering: false,
            filter: L::Filter::default(),
            loading: None,
            filter_typed: None,
            loaded: false,
            note: None,
        }
    }

    pub fn page_number(&self) -> usize {
        self.earlier.len() + 1
    }

    pub fn busy(&self) -> bool {
        self.loading.is_some()
    }

    pub fn awaits(&self, ticket: Ticket) -> bool {
        self.loading.as_ref().is_some_and(|l| l.ticket == ticket)
    }

    pub fn selected_row(&self) -> Option<&L::Row> {
        self.rows.get(self.selected)
    }

    fn load(
        &mut self,
        after: Option<L::Cursor>,
        earlier: Vec<Option<L::Cursor>>,
        filter: L::Filter,
        keep_selection: bool,
        cx: &mut Cx,
    ) {
        let ticket = L::ask(&filter, after, cx);
        self.loading = Some(Loading {
            ticket,
            after,
            earlier,
            filter,
            keep_selection,
        });
    }

    /// Loads the page on show again (after a change, or F5).
    pub fn reload(&mut self, cx: &mut Cx) {
        self.load(
            self.after,
            self.earlier.clone(),
            self.filter.clone(),
            true,
            cx,
        );
    }

    /// The keys every list answers the same way: moving, paging, the filter line, reloading. False
    /// when the key is the list's own business.
    pub fn key(&mut self, key: KeyEvent, command: Option<Command>, cx: &mut Cx) -> bool {
        if self.filtering {
            self.filter_key(key, command, cx);
            return true;
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
            _ => return false,
        }
        true
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

    /// Shows the list for `text` as if it had been typed into the filter line (a jump from one
    /// row to the rows related to it).
    pub fn filter_to(&mut self, text: &str, cx: &mut Cx) {
        self.filter_field = Field::new("Filter", 200).with_value(text);
        self.filtering = false;
        self.apply_filter(cx);
    }

    /// Whether the first page of the current filter is on show (and no other is on its way).
    pub fn at_first_page(&self) -> bool {
        self.after.is_none() && self.earlier.is_empty() && self.loading.is_none()
    }

    /// The heartbeat: once typing in the filter has paused for `FILTER_PAUSE`, the list is asked for.
    pub fn tick(&mut self, cx: &mut Cx) {
        if self
            .filter_typed
            .is_some_and(|at| cx.now.saturating_duration_since(at) >= FILTER_PAUSE)
        {
            self.apply_filter(cx);
        }
    }

    /// Starts the list for what the filter line says now; a filter that does not parse is said in
    /// one sentence and the rows on show stay as they are.
    fn apply_filter(&mut self, cx: &mut Cx) {
        self.filter_typed = None;
        match L::parse(self.filter_field.value()) {
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

    /// A page came back for `ticket`: its rows and where the next page starts, or why not.
    pub fn done(&mut self, ticket: Ticket, result: PageResult<L>, cx: &mut Cx) {
        let Some(loading) = self.loading.take_if(|l| l.ticket == ticket) else {
            return;
        };
        match result {
            Ok((rows, next)) => {
                cx.heard();
                self.rows = rows;
                self.next = next;
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

    /// "page 2 · 50 shown", or the spinner while a page is on its way.
    pub fn status(&self, f: &mut Frame, area: Rect, look: &Look) {
        let page = self.page_number();
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

    /// The rows as a table under a rule with `columns.title`, the selected row marked; `cells`
    /// fills a row's columns, given each column's width in characters (for clipping).
    pub fn table<const N: usize>(
        &self,
        f: &mut Frame,
        area: Rect,
        look: &Look,
        columns: Columns<N>,
        cells: impl Fn(&L::Row, &[usize; N]) -> [String; N],
    ) {
        let theme = look.theme;
        let block = Block::default().borders(Borders::TOP).title(columns.title);
        let inner = block.inner(area);
        f.render_widget(block, area);
        if !self.loaded {
            common::busy(f, inner, columns.loading, look.ticks, theme);
            return;
        }
        if self.rows.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled(columns.empty, theme.muted)),
                inner,
            );
            return;
        }
        // The widths the columns get, less the selection marker's two.
        let split = Layout::horizontal(columns.widths)
            .spacing(1)
            .split(Rect::new(0, 0, inner.width.saturating_sub(2), 1));
        let mut widths = [0usize; N];
        for (w, r) in widths.iter_mut().zip(split.iter()) {
            *w = usize::from(r.width);
        }
        let rows = self
            .rows
            .iter()
            .map(|r| Row::new(cells(r, &widths).map(Cell::from)));
        let table = Table::new(rows, columns.widths)
            .header(Row::new(columns.header).style(theme.muted))
            .column_spacing(1)
            .row_highlight_style(theme.selected)
            .highlight_symbol("▶ ")
            .highlight_spacing(HighlightSpacing::Always);
        let mut state = TableState::default().with_selected(Some(self.selected));
        f.render_stateful_widget(table, inner, &mut state);
    }
}
